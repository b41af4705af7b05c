package throttle

import (
	"context"
	"sync"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// Policy says how many failures are free and how long the waits grow; the arithmetic
// is domain.ThrottlePolicy's, shared with the database-backed throttle.
type Policy struct {
	FreeFailures int           // failures allowed before any wait
	BaseDelay    time.Duration // wait after the first failure past FreeFailures
	MaxDelay     time.Duration // the wait never grows past this
	Forget       time.Duration // a key with no failure for this long starts afresh
	MaxKeys      int           // bound on memory: oldest keys are dropped beyond it
}

// Rules is the policy's arithmetic.
func (p Policy) Rules() domain.ThrottlePolicy {
	return domain.ThrottlePolicy{FreeFailures: p.FreeFailures, BaseDelay: p.BaseDelay, MaxDelay: p.MaxDelay, Forget: p.Forget}
}

// PolicyFrom is rules with a bound on the number of keys kept.
func PolicyFrom(rules domain.ThrottlePolicy, maxKeys int) Policy {
	return Policy{FreeFailures: rules.FreeFailures, BaseDelay: rules.BaseDelay, MaxDelay: rules.MaxDelay, Forget: rules.Forget, MaxKeys: maxKeys}
}

// DefaultPolicy: domain.DefaultThrottlePolicy (5 free failures, then 1 s doubling up
// to 5 minutes), at most 100 000 keys.
var DefaultPolicy = PolicyFrom(domain.DefaultThrottlePolicy(), 100_000)

type entry struct {
	failures    int
	lastFailure time.Time
}

// Memory keeps counters in this process. Instances sharing a database should use the
// database-backed throttle instead (GATEHOUSE_THROTTLE_STORE=database, the default
// with PostgreSQL and MariaDB), or an attacker gets each instance's allowance.
type Memory struct {
	policy  domain.ThrottlePolicy
	maxKeys int
	now     func() time.Time
	mu      sync.Mutex
	keys    map[string]*entry
}

var _ usecase.Throttle = (*Memory)(nil)

// NewMemory returns an in-process throttle.
func NewMemory(p Policy, now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{policy: p.Rules(), maxKeys: p.MaxKeys, now: now, keys: map[string]*entry{}}
}

// Check refuses the attempt while the key is locked.
func (m *Memory) Check(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.keys[key]
	if !ok {
		return nil
	}
	return m.policy.Check(e.failures, e.lastFailure, m.now())
}

// Failure counts a failed attempt; past the free failures the key is locked.
func (m *Memory) Failure(_ context.Context, key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e, ok := m.keys[key]
	if !ok || m.policy.Forgotten(e.lastFailure, now) {
		if !ok && len(m.keys) >= m.maxKeys {
			m.sweep(now)
		}
		e = &entry{}
		m.keys[key] = e
	}
	e.failures++
	e.lastFailure = now
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
		if m.policy.Forgotten(e.lastFailure, now) && m.policy.Check(e.failures, e.lastFailure, now) == nil {
			delete(m.keys, k)
		}
	}
	for k := range m.keys {
		if len(m.keys) < m.maxKeys {
			break
		}
		delete(m.keys, k)
	}
}
