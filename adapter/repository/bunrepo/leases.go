package bunrepo

import (
	"context"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// LeaseRepository gives a named background job to one instance at a time, with a
// lease row taken by a conditional UPDATE (or the INSERT that creates it): portable
// to all three databases, and a crashed holder is replaced once its lease lapses.
type LeaseRepository struct {
	db *bun.DB
}

var _ usecase.Leases = (*LeaseRepository)(nil)

// NewLeaseRepository returns a repository over db.
func NewLeaseRepository(db *bun.DB) *LeaseRepository { return &LeaseRepository{db: db} }

// AcquireLease takes or renews the lease; false when another holder has a live one.
func (r *LeaseRepository) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	now = now.UTC()
	res, err := r.db.NewRaw("UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND (holder = ? OR expires_at < ?)",
		holder, now.Add(ttl), name, holder, now).Exec(ctx)
	n, err := rowsAffected(res, err, "renew lease %q", name)
	if err != nil {
		return false, err
	}
	if n == 1 {
		return true, nil
	}
	// No row we could take: either it does not exist yet, or someone else holds it.
	_, err = r.db.NewRaw("INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)", name, holder, now.Add(ttl)).Exec(ctx)
	if err == nil {
		return true, nil
	}
	if werr := wrapErr(err, "insert lease %q", name); errors.Is(werr, domain.ErrDuplicate) {
		return false, nil
	} else {
		return false, werr
	}
}

// ReleaseLease gives up the lease if holder has it.
func (r *LeaseRepository) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := r.db.NewRaw("DELETE FROM leases WHERE name = ? AND holder = ?", name, holder).Exec(ctx)
	if err != nil {
		return wrapErr(err, "release lease %q", name)
	}
	return nil
}

func leasesSchema() []tableDef {
	return []tableDef{{
		name:       "leases",
		columns:    []column{col("name", typeID), col("holder", typeID), col("expires_at", typeTime)},
		primaryKey: []string{"name"},
	}}
}
