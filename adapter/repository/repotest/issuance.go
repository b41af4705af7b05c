package repotest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// issuance: counts added for an hour add up, also when many instances add at once
// (the database adds, nobody reads then writes); reads start at the hour asked;
// housekeeping deletes hours older than two days.
func (s *suite) issuance(t *testing.T) {
	if s.Issuance == nil {
		t.Skip("no issuance store")
	}
	ctx := context.Background()
	// Hours of their own, far from the other tests' and from now: a year 2000 day.
	base := time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC).Unix()/3600 + int64(time.Now().UnixNano()%1000)*24
	noErr(t, s.Issuance.AddIssued(ctx, map[int64]int64{base: 2, base + 1: 5}))
	noErr(t, s.Issuance.AddIssued(ctx, nil))

	const writers, rounds = 16, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				// Both hours, in either order of the map: no deadlock between writers.
				errs <- s.Issuance.AddIssued(ctx, map[int64]int64{base + 1: 1, base + 2: 3})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		noErr(t, err)
	}
	got, err := s.Issuance.IssuedSince(ctx, base)
	noErr(t, err)
	if got[base] != 2 || got[base+1] != 5+writers*rounds || got[base+2] != 3*writers*rounds {
		t.Fatalf("issued since %d: %v", base, got)
	}
	got, err = s.Issuance.IssuedSince(ctx, base+2)
	noErr(t, err)
	if got[base] != 0 || got[base+1] != 0 || got[base+2] != 3*writers*rounds {
		t.Fatalf("issued since %d: %v", base+2, got)
	}

	if s.Purger == nil {
		return
	}
	// Two days and an hour after base+1: base and base+1 go, base+2 stays.
	_, err = s.Purger.PurgeExpired(ctx, time.Unix((base+1)*3600, 0).Add(49*time.Hour), 500)
	noErr(t, err)
	got, err = s.Issuance.IssuedSince(ctx, base)
	noErr(t, err)
	if got[base] != 0 || got[base+1] != 0 || got[base+2] != 3*writers*rounds {
		t.Fatalf("after housekeeping: %v", got)
	}
}
