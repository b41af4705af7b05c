package usecase

import (
	"context"
	"fmt"
	"time"
)

// Purger deletes rows that can no longer matter, in batches of at most batch rows per
// statement so a large backlog never holds long locks. It reports what it deleted
// per table.
type Purger interface {
	PurgeExpired(ctx context.Context, now time.Time, batch int) (map[string]int64, error)
}

// Leases hand a named job to one instance at a time: AcquireLease succeeds for the
// holder that has it, or for anyone once it lapsed, so a dead holder is replaced
// after ttl.
type Leases interface {
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Housekeeping deletes expired codes, tokens, sessions, requests, deny-list entries
// and throttle counters so tables do not grow without bound (a known pain of other
// servers). When several instances share a database, only the lease holder works.
type Housekeeping struct {
	purger Purger
	leases Leases
	clock  Clock
	holder string
}

// HousekeepingLease names the lease of the housekeeping job.
const HousekeepingLease = "housekeeping"

// NewHousekeeping builds the job; holder identifies this instance.
func NewHousekeeping(purger Purger, leases Leases, clock Clock, random Random) *Housekeeping {
	return &Housekeeping{purger: purger, leases: leases, clock: clock, holder: random.ID()}
}

// Holder is this instance's id in the lease table (random, per process): logged when
// the instance takes the lease, so an operator can tell which instance holds it.
func (h *Housekeeping) Holder() string { return h.holder }

// RunOnce purges if this instance holds (or takes) the lease; ran reports whether it did.
func (h *Housekeeping) RunOnce(ctx context.Context, leaseTTL time.Duration) (deleted map[string]int64, ran bool, err error) {
	ok, err := h.leases.AcquireLease(ctx, HousekeepingLease, h.holder, h.clock.Now(), leaseTTL)
	if err != nil {
		return nil, false, fmt.Errorf("acquire housekeeping lease: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	deleted, err = h.purger.PurgeExpired(ctx, h.clock.Now(), 500)
	if err != nil {
		return deleted, true, fmt.Errorf("purge expired rows: %w", err)
	}
	return deleted, true, nil
}

// Release gives the lease up (at shutdown), so another instance takes over at once.
func (h *Housekeeping) Release(ctx context.Context) error {
	return h.leases.ReleaseLease(ctx, HousekeepingLease, h.holder)
}
