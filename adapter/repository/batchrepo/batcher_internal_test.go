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

// The batches that follow a caller's own run on one worker goroutine, which waits
// for more work between bursts and ends once none came for its linger; no read is
// lost in the hand-overs, however they fall against the worker's wait.
func TestReadBatcher_OneWorkerAcrossBursts(t *testing.T) {
	newBatcher := func(linger time.Duration) *readBatcher[int, int] {
		b := newReadBatcher("test read", func(ctx context.Context, keys []int) (map[int]int, error) {
			time.Sleep(200 * time.Microsecond) // long enough for callers to pile up
			out := make(map[int]int, len(keys))
			for _, k := range keys {
				out[k] = k + 1
			}
			return out, nil
		})
		b.linger = linger
		return b
	}
	burst := func(b *readBatcher[int, int], round int) {
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				k := round*1000 + i
				v, found, err := b.get(ctx, k)
				if err != nil || !found || v != k+1 {
					t.Errorf("round %d, key %d: got %d, %v, %v", round, k, v, found, err)
				}
			})
		}
		wg.Wait()
	}
	b := newBatcher(time.Second)
	for round := range 20 {
		burst(b, round)
		time.Sleep(time.Duration(round%4) * 10 * time.Millisecond) // pauses far shorter than the linger
	}
	exists, started := b.workerState()
	if started == 0 || started > 2 {
		t.Fatalf("%d workers started over 20 bursts in quick succession, want 1 (2 at most)", started)
	}
	if q := b.queryCount(); q < 40 {
		t.Fatalf("%d queries: the bursts never needed a worker", q)
	}
	// Idle for longer than the linger: the worker ends.
	deadline := time.Now().Add(10 * time.Second)
	for exists && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		exists, _ = b.workerState()
	}
	if exists {
		t.Fatal("the worker did not end after its linger")
	}
	// Bursts whose pauses straddle a short linger, so that hand-overs meet the worker
	// as its wait ends: every read is answered (a lost one would time out above), and
	// workers come and go.
	b = newBatcher(50 * time.Millisecond)
	for round := 20; round < 60; round++ {
		burst(b, round)
		time.Sleep(time.Duration(40+round%3*10) * time.Millisecond)
	}
	if _, started := b.workerState(); started < 2 {
		t.Errorf("%d workers started with pauses beyond the linger, want several", started)
	}
}
