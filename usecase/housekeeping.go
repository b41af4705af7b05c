package usecase

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/domain"
)

// Purger deletes rows that can no longer matter, in batches of at most batch rows per
// statement so a large backlog never holds long locks. It reports what it deleted
// per table.
type Purger interface {
	PurgeExpired(ctx context.Context, now time.Time, batch int) (map[string]int64, error)
	// UnusedClients lists up to limit clients of open dynamic registration that no
	// grant ever used by their deadline, which is before now.
	UnusedClients(ctx context.Context, now time.Time, limit int) ([]string, error)
	// DeleteUnusedClient deletes the client id if it is still such a client;
	// domain.ErrNotFound when it is not (used meanwhile, or gone).
	DeleteUnusedClient(ctx context.Context, id string, now time.Time) error
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
	audit  *Audit
	holder string
}

// HousekeepingLease names the lease of the housekeeping job.
const HousekeepingLease = "housekeeping"

// NewHousekeeping builds the job; holder identifies this instance.
func NewHousekeeping(purger Purger, leases Leases, clock Clock, random Random, audit *Audit) *Housekeeping {
	return &Housekeeping{purger: purger, leases: leases, clock: clock, audit: audit, holder: random.ID()}
}

// housekeepingBatch bounds the rows of one statement (and the clients of one listing),
// so a large backlog never holds long locks.
const housekeepingBatch = 500

// HousekeepingDetail marks an audit event housekeeping recorded ("by"): the server
// acts on its own, so the event has no actor, like a scheduled key rotation.
const HousekeepingDetail = "housekeeping"

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
	deleted, err = h.purger.PurgeExpired(ctx, h.clock.Now(), housekeepingBatch)
	if err != nil {
		return deleted, true, fmt.Errorf("purge expired rows: %w", err)
	}
	n, err := h.deleteUnusedClients(ctx)
	if n > 0 {
		deleted["clients"] += n
	}
	return deleted, true, err
}

// deleteUnusedClients deletes the clients of open dynamic registration never used by
// their deadline, each with its client.deleted event in the same transaction (no
// actor; details by=housekeeping, unused=true), and
// returns how many went. A client used between the listing and its deletion stays,
// and so does no event.
func (h *Housekeeping) deleteUnusedClients(ctx context.Context) (int64, error) {
	var deleted int64
	for {
		now := h.clock.Now()
		ids, err := h.purger.UnusedClients(ctx, now, housekeepingBatch)
		if err != nil {
			return deleted, fmt.Errorf("list unused clients: %w", err)
		}
		for _, id := range ids {
			err := h.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditClientDeleted, Target: id,
				Details: map[string]any{"by": HousekeepingDetail, "unused": true}}, func(ctx context.Context) error {
				return h.purger.DeleteUnusedClient(ctx, id, now)
			})
			switch {
			case errors.Is(err, domain.ErrNotFound):
			case err != nil:
				return deleted, fmt.Errorf("delete unused client %q: %w", id, err)
			default:
				deleted++
			}
		}
		if len(ids) < housekeepingBatch || ctx.Err() != nil {
			return deleted, ctx.Err()
		}
	}
}

// Release gives the lease up (at shutdown), so another instance takes over at once.
func (h *Housekeeping) Release(ctx context.Context) error {
	return h.leases.ReleaseLease(ctx, HousekeepingLease, h.holder)
}
