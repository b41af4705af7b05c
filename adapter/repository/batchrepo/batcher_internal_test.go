package batchrepo

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A reader runs one query at a time, the callers that arrive meanwhile share the
// next, and every caller gets its own key's value.
func TestReadBatcher_OneQueryAtATime(t *testing.T) {
	var running, most atomic.Int32
	b := newReadBatcher("test read", func(ctx context.Context, keys []int) (map[int]int, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(2 * time.Millisecond) // long enough for callers to pile up
		out := make(map[int]int, len(keys))
		for _, k := range keys {
			out[k] = k * 10
		}
		return out, nil
	})
	const callers = 200
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			v, found, err := b.get(context.Background(), i)
			if err != nil || !found || v != i*10 {
				t.Errorf("key %d: got %d, %v, %v", i, v, found, err)
			}
		})
	}
	wg.Wait()
	if got := most.Load(); got != 1 {
		t.Errorf("%d queries ran at once, want 1", got)
	}
	if q := b.queryCount(); q >= callers {
		t.Errorf("%d queries for %d callers, none shared", q, callers)
	}
}

// A query that panics fails its batch with an error, and the reader goes on serving
// the reads after it.
func TestReadBatcher_SurvivesAPanic(t *testing.T) {
	var calls atomic.Int32
	b := newReadBatcher("test read", func(ctx context.Context, keys []int) (map[int]int, error) {
		if calls.Add(1) == 1 {
			panic("boom")
		}
		return map[int]int{keys[0]: 7}, nil
	})
	if _, _, err := b.get(context.Background(), 1); err == nil {
		t.Fatal("the batch whose query panicked answered without an error")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, found, err := b.get(ctx, 2)
	if err != nil || !found || v != 7 {
		t.Fatalf("after a panic: got %d, %v, %v; want 7 found", v, found, err)
	}
}
