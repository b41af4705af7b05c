package throttle

import (
	"context"
	"sync"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// Policy says how many failures are free and how long the waits grow.
type Policy struct {
	FreeFailures int           // failures allowed before any wait
	BaseDelay    time.Duration // wait after the first failure past FreeFailures
	MaxDelay     time.Duration // the wait never grows past this
	Forget       time.Duration // a key with no failure for this long starts afresh
	MaxKeys      int           // bound on memory: oldest keys are dropped beyond it
}

// DefaultPolicy: 5 free failures, then 1 s doubling up to 5 minutes.
var DefaultPolicy = Policy{FreeFailures: 5, BaseDelay: time.Second, MaxDelay: 5 * time.Minute, Forget: 15 * time.Minute, MaxKeys: 100_000}

type entry struct {
	failures    int
	lastFailure time.Time
	lockedUntil time.Time
}

// Memory keeps counters in this process. Instances sharing a database should use the
// database-backed throttle instead (see the scale-out notes in the README).
type Memory struct {
	policy Policy
	now    func() time.Time
	mu     sync.Mutex
	keys   map[string]*entry
}

var _ usecase.Throttle = (*Memory)(nil)

// NewMemory returns an in-process throttle.
func NewMemory(p Policy, now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{policy: p, now: now, keys: map[string]*entry{}}
}

// Check refuses the attempt while the key is locked.
func (m *Memory) Check(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.keys[key]
	if !ok {
		return nil
	}
	now := m.now()
	if wait := e.lockedUntil.Sub(now); wait > 0 {
		return &domain.ThrottledError{RetryAfter: wait.Round(time.Second) + time.Second}
	}
	return nil
}

// Failure counts a failed attempt and locks the key when past the free failures.
func (m *Memory) Failure(_ context.Context, key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e, ok := m.keys[key]
	if !ok || now.Sub(e.lastFailure) > m.policy.Forget {
		if !ok && len(m.keys) >= m.policy.MaxKeys {
			m.sweep(now)
		}
		e = &entry{}
		m.keys[key] = e
	}
	e.failures++
	e.lastFailure = now
	if over := e.failures - m.policy.FreeFailures; over > 0 {
		d := m.policy.BaseDelay << min(over-1, 30)
		if d > m.policy.MaxDelay || d <= 0 {
			d = m.policy.MaxDelay
		}
		e.lockedUntil = now.Add(d)
	}
}

// Success forgets the key.
func (m *Memory) Success(_ context.Context, key string) {
	m.mu.Lock()
	delete(m.keys, key)
	m.mu.Unlock()
}

// sweep drops forgotten keys, and if that is not enough, arbitrary ones: under a flood
// of distinct keys, memory stays bounded at the price of forgetting some counters.
func (m *Memory) sweep(now time.Time) {
	for k, e := range m.keys {
		if now.Sub(e.lastFailure) > m.policy.Forget && now.After(e.lockedUntil) {
			delete(m.keys, k)
		}
	}
	for k := range m.keys {
		if len(m.keys) < m.policy.MaxKeys {
			break
		}
		delete(m.keys, k)
	}
}
