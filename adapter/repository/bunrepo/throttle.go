package bunrepo

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"gatehouse/domain"
	"gatehouse/infrastructure/database"
	"gatehouse/usecase"
)

// ThrottleRepository is usecase.Throttle over the throttle_counters table (migration
// 20260307000001), so that instances sharing a database share their counters: an
// attacker spreading guesses over N instances gets one allowance, not N.
//
// A row holds only a key's failure count and the time of its last failure; the lock
// is derived from them by domain.ThrottlePolicy, the same arithmetic the in-memory
// throttle uses. A failure is one upsert (ON CONFLICT on PostgreSQL and SQLite, ON
// DUPLICATE KEY UPDATE on MariaDB), so concurrent failures on any number of instances
// are all counted. Keys (usernames, addresses) are stored as their SHA-256, never raw.
type ThrottleRepository struct {
	db     *bun.DB
	policy domain.ThrottlePolicy
	now    func() time.Time
	log    *slog.Logger
}

var _ usecase.Throttle = (*ThrottleRepository)(nil)

// NewThrottleRepository returns a throttle over db with policy; now is the clock
// (time.Now when nil); log receives the failures of Failure and Success, which have
// no caller to return them to.
func NewThrottleRepository(db *bun.DB, policy domain.ThrottlePolicy, now func() time.Time, log *slog.Logger) *ThrottleRepository {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ThrottleRepository{db: db, policy: policy, now: now, log: log}
}

func throttleKeyHash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// instant is now as every backend stores it: UTC, microseconds.
func (r *ThrottleRepository) instant() time.Time { return r.now().UTC().Truncate(time.Microsecond) }

// Check refuses the attempt while the key is locked. It fails closed: when the
// counters cannot be read the answer is an error wrapping domain.ErrUnavailable (a
// 503), never a pass.
func (r *ThrottleRepository) Check(ctx context.Context, key string) error {
	failures, last, found, err := r.counter(ctx, throttleKeyHash(key))
	if err != nil {
		return fmt.Errorf("check throttle: %w: %w", domain.ErrUnavailable, err)
	}
	if !found {
		return nil
	}
	return r.policy.Check(failures, last, r.instant())
}

func (r *ThrottleRepository) counter(ctx context.Context, hash []byte) (failures int, last time.Time, found bool, err error) {
	rows, err := r.db.QueryContext(ctx, "SELECT failures, last_failure_at FROM throttle_counters WHERE key_hash = ?", hash)
	if err != nil {
		return 0, time.Time{}, false, wrapErr(err, "read throttle counter")
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&failures, &last); err != nil {
			return 0, time.Time{}, false, wrapErr(err, "read throttle counter")
		}
		found = true
	}
	if err := rows.Err(); err != nil {
		return 0, time.Time{}, false, wrapErr(err, "read throttle counter")
	}
	return failures, last, found, nil
}

// Failure counts a failed attempt: one atomic upsert that starts the count afresh
// when the last failure is older than the policy's Forget. An error is logged, not
// returned: the attempt already failed, and its answer should not change.
func (r *ThrottleRepository) Failure(ctx context.Context, key string) {
	if err := r.RecordFailure(ctx, key); err != nil {
		r.log.WarnContext(ctx, "throttle: failure not counted", "err", err)
	}
}

// RecordFailure is Failure returning its error (for tests and callers that care).
func (r *ThrottleRepository) RecordFailure(ctx context.Context, key string) error {
	now := r.instant()
	// The row may go once it neither locks nor counts any more (housekeeping).
	expires := now.Add(r.policy.Retention())
	forgetBefore := r.policy.ForgetBefore(now)
	var q string
	switch r.db.Dialect().Name() {
	case dialect.MySQL:
		// Assignments run left to right and see the ones before them: failures must
		// be computed from the old last_failure_at, so it comes first.
		q = "INSERT INTO throttle_counters (key_hash, failures, last_failure_at, expires_at) VALUES (?, 1, ?, ?) " +
			"ON DUPLICATE KEY UPDATE failures = IF(last_failure_at < ?, 1, failures + 1), " +
			"last_failure_at = GREATEST(last_failure_at, ?), expires_at = GREATEST(expires_at, ?)"
	default:
		greatest := "GREATEST"
		if r.db.Dialect().Name() != dialect.PG {
			greatest = "MAX" // SQLite's scalar max
		}
		q = "INSERT INTO throttle_counters (key_hash, failures, last_failure_at, expires_at) VALUES (?, 1, ?, ?) " +
			"ON CONFLICT (key_hash) DO UPDATE SET " +
			"failures = CASE WHEN throttle_counters.last_failure_at < ? THEN 1 ELSE throttle_counters.failures + 1 END, " +
			"last_failure_at = " + greatest + "(throttle_counters.last_failure_at, ?), " +
			"expires_at = " + greatest + "(throttle_counters.expires_at, ?)"
	}
	hash := throttleKeyHash(key)
	var err error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		_, err = r.db.NewRaw(q, hash, now, expires, forgetBefore, now, expires).Exec(ctx)
		// InnoDB may pick a racing upsert of a new key as a deadlock victim; running
		// it again is the documented answer, and it then counts once.
		if err == nil || !database.IsRetryable(err) || attempt == maxTxAttempts {
			break
		}
		select {
		case <-ctx.Done():
			return wrapErr(err, "count throttle failure")
		case <-time.After(time.Duration(attempt) * (time.Millisecond + rand.N(5*time.Millisecond))):
		}
	}
	if err != nil {
		return wrapErr(err, "count throttle failure")
	}
	return nil
}

// Success forgets the key. An error is logged, not returned (the counter then simply
// lives on until it is forgotten).
func (r *ThrottleRepository) Success(ctx context.Context, key string) {
	if _, err := r.db.NewRaw("DELETE FROM throttle_counters WHERE key_hash = ?", throttleKeyHash(key)).Exec(ctx); err != nil {
		r.log.WarnContext(ctx, "throttle: success not recorded", "err", wrapErr(err, "reset throttle counter"))
	}
}

// throttleSchema is migration 20260307000001's table. expires_at is when the row
// stops mattering (its last failure plus the policy's Retention), for housekeeping.
func throttleSchema() []tableDef {
	return []tableDef{{
		name: "throttle_counters",
		columns: []column{
			col("key_hash", typeHash), col("failures", typeInt),
			col("last_failure_at", typeTime), col("expires_at", typeTime),
		},
		primaryKey: []string{"key_hash"},
		indexes:    []index{idx("expires_at")},
	}}
}
