package usecase

import (
	"context"
	"fmt"
	"sync"
)

// IssuanceStore keeps how many tokens the token endpoint issued per hour, summed over
// every instance that shares the database (the console's chart).
type IssuanceStore interface {
	// AddIssued adds counts (Unix hour → tokens) to what is stored for those hours.
	AddIssued(ctx context.Context, counts map[int64]int64) error
	// IssuedSince returns the stored counts of the hours from fromHour (a Unix hour) on.
	IssuedSince(ctx context.Context, fromHour int64) (map[int64]int64, error)
}

// IssuanceCounter counts the token endpoint's successful answers per hour. Add is a
// mutex and a map increment, nothing on the token endpoint's database path; Flush,
// every few seconds and at shutdown, adds what was counted since to the store, where
// every instance's counts meet, so the chart shows them all and survives a restart.
type IssuanceCounter struct {
	store IssuanceStore
	clock Clock

	mu      sync.Mutex
	pending map[int64]int64 // Unix hour → tokens not yet in the store
}

// NewIssuanceCounter counts into store.
func NewIssuanceCounter(store IssuanceStore, clock Clock) *IssuanceCounter {
	return &IssuanceCounter{store: store, clock: clock, pending: map[int64]int64{}}
}

// Add counts one issuance now. A nil counter counts nothing.
func (c *IssuanceCounter) Add() {
	if c == nil {
		return
	}
	h := c.clock.Now().Unix() / 3600
	c.mu.Lock()
	c.pending[h]++
	c.mu.Unlock()
}

// Flush adds the counts not yet stored to the store. When the store fails they are
// kept for the next Flush (a store that failed after it wrote would count them twice:
// the chart may overstate, never lose, a flush that timed out).
func (c *IssuanceCounter) Flush(ctx context.Context) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	counts := c.pending
	if len(counts) == 0 {
		c.mu.Unlock()
		return nil
	}
	c.pending = map[int64]int64{}
	c.mu.Unlock()
	if err := c.store.AddIssued(ctx, counts); err != nil {
		c.mu.Lock()
		for h, n := range counts {
			c.pending[h] += n
		}
		c.mu.Unlock()
		return fmt.Errorf("store the tokens issued per hour: %w", err)
	}
	return nil
}

// Last24Hours returns the tokens issued in each of the 24 hours up to and including
// the current one, oldest first: every instance's stored counts and this instance's
// not yet stored.
func (c *IssuanceCounter) Last24Hours(ctx context.Context) ([24]int64, error) {
	var counts [24]int64
	if c == nil {
		return counts, nil
	}
	first := c.clock.Now().Unix()/3600 - 23
	stored, err := c.store.IssuedSince(ctx, first)
	if err != nil {
		return counts, fmt.Errorf("read the tokens issued per hour: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range counts {
		counts[k] = stored[first+int64(k)] + c.pending[first+int64(k)]
	}
	return counts, nil
}
