package batchrepo

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A reader runs at most its limit of queries at once, and every caller still gets
// its own key's value, for the limits the readers use.
func TestReadBatcher_QueriesInFlightStayWithinTheLimit(t *testing.T) {
	for _, limit := range []int{maxRevocationQueries, maxBatchQueries} {
		var running, most atomic.Int32
		b := &readBatcher[int, int]{what: "test read", max: limit, query: func(ctx context.Context, keys []int) (map[int]int, error) {
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
		}}
		const callers = 200
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				v, found, err := b.get(context.Background(), i)
				if err != nil || !found || v != i*10 {
					t.Errorf("limit %d, key %d: got %d, %v, %v", limit, i, v, found, err)
				}
			})
		}
		wg.Wait()
		if got := most.Load(); got > int32(limit) {
			t.Errorf("limit %d: %d queries ran at once", limit, got)
		}
		if q := b.queryCount(); q >= callers {
			t.Errorf("limit %d: %d queries for %d callers, none shared", limit, q, callers)
		}
	}
}
