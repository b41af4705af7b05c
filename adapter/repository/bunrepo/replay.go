package bunrepo

import (
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/infrastructure/database"
	"gatehouse/usecase"
)

// ReplayRepository is usecase.ReplayStore over the replay_jtis table (migration
// 20260308000001): DPoP proof jtis and, in their own namespaces, client assertion
// jtis. The primary key is the SHA-256 of namespace and jti together, so one jti in
// two namespaces are two rows, and the database's unique constraint decides races:
// of any number of instances inserting one (namespace, jti), exactly one insert
// succeeds. Rows live until their expiry, then housekeeping deletes them.
type ReplayRepository struct {
	db *bun.DB
}

var _ usecase.ReplayStore = (*ReplayRepository)(nil)

// NewReplayRepository returns a replay store over db.
func NewReplayRepository(db *bun.DB) *ReplayRepository { return &ReplayRepository{db: db} }

// replayKey is the row key of jti in namespace: the namespace cannot run into the
// jti, as the NUL between them appears in neither (namespaces are fixed strings and
// client ids; a jti with a NUL only makes another row).
func replayKey(namespace, jti string) []byte {
	h := sha256.New()
	h.Write([]byte(namespace))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	return h.Sum(nil)
}

// MarkUsed inserts the jti; a unique violation means it was seen before (fresh =
// false). An expired row that housekeeping has not deleted yet still refuses its
// jti: whatever carried it can no longer be valid either.
func (r *ReplayRepository) MarkUsed(ctx context.Context, namespace, jti string, expiresAt time.Time) (bool, error) {
	key := replayKey(namespace, jti)
	exp := expiresAt.UTC().Truncate(time.Microsecond)
	if len(namespace) > 255 {
		namespace = namespace[:255] // informational column; the key holds all of it
	}
	var err error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		_, err = conn(ctx, r.db).NewRaw("INSERT INTO replay_jtis (jti_hash, namespace, expires_at) VALUES (?, ?, ?)",
			key, namespace, exp).Exec(ctx)
		switch {
		case err == nil:
			return true, nil
		case database.IsUniqueViolation(err):
			return false, nil
		case !database.IsRetryable(err) || attempt == maxTxAttempts:
			return false, wrapErr(err, "record jti")
		}
		// InnoDB may pick one of several racing inserts of one key as a deadlock
		// victim; the retry then meets the winner's row.
		select {
		case <-ctx.Done():
			return false, wrapErr(ctx.Err(), "record jti")
		case <-time.After(time.Duration(attempt) * (time.Millisecond + rand.N(5*time.Millisecond))):
		}
	}
	return false, wrapErr(err, "record jti")
}

// replaySchema is the table of migration 20260308000001.
func replaySchema() []tableDef {
	return []tableDef{{
		name: "replay_jtis",
		columns: []column{
			col("jti_hash", typeHash), col("namespace", typeID), col("expires_at", typeTime),
		},
		primaryKey: []string{"jti_hash"},
		indexes:    []index{idx("expires_at")},
	}}
}
