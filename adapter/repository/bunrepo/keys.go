package bunrepo

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// KeyRepository keeps signing keys. The database refuses a second active key of an
// alg (unique active_alg), so concurrent first starts cannot both create one.
type KeyRepository struct {
	db *bun.DB
}

var _ usecase.KeyStore = (*KeyRepository)(nil)

// NewKeyRepository returns a repository over db.
func NewKeyRepository(db *bun.DB) *KeyRepository { return &KeyRepository{db: db} }

// ListKeys returns every key, oldest first (ties by id).
func (r *KeyRepository) ListKeys(ctx context.Context) ([]domain.SigningKey, error) {
	var rows []signingKeyRow
	if err := r.db.NewSelect().Model(&rows).OrderExpr("created_at ASC, id ASC").Scan(ctx); err != nil {
		return nil, wrapErr(err, "list signing keys")
	}
	keys := make([]domain.SigningKey, len(rows))
	for i, row := range rows {
		keys[i] = row.toDomain()
	}
	return keys, nil
}

// CreateKey inserts k; ErrDuplicate when its kid exists or when k is active and
// another active key of its alg exists.
func (r *KeyRepository) CreateKey(ctx context.Context, k domain.SigningKey) error {
	row := keyToRow(k)
	if _, err := insert(ctx, r.db, &row); err != nil {
		return wrapErr(err, "insert %s signing key %q", k.Alg, k.ID)
	}
	return nil
}

// RotateKey retires every active key of k.Alg (RetiredAt = k.CreatedAt, ExpiresAt =
// oldExpiresAt) and stores k, in one transaction. Concurrent rotations of an alg run
// one after the other and all succeed; the last one's key signs. Should a rotation
// still lose a race (the unique active_alg refuses its insert), it runs again, and
// then retires the winner's key too.
func (r *KeyRepository) RotateKey(ctx context.Context, k domain.SigningKey, oldExpiresAt time.Time) error {
	k.RetiredAt, k.ExpiresAt = nil, nil
	row := keyToRow(k)
	var opts *sql.TxOptions
	if r.db.Dialect().Name() == dialect.MySQL {
		// REPEATABLE READ would take gap locks on active_alg that the INSERT then
		// waits for: concurrent rotations deadlock. READ COMMITTED takes none.
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	var err error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		err = inTx(ctx, r.db, opts, func(ctx context.Context, tx bun.Tx) error {
			if tx.Dialect().Name() == dialect.PG {
				// Serialise rotations of one alg, so the UPDATE below (a new statement,
				// hence a new snapshot) sees the key a concurrent rotation just made.
				if _, err := tx.NewRaw("SELECT pg_advisory_xact_lock(hashtext(?))", "gatehouse_key_"+k.Alg).
					Exec(ctx); err != nil {
					return wrapErr(err, "lock %s key rotation", k.Alg)
				}
			}
			if _, err := tx.NewUpdate().Model((*signingKeyRow)(nil)).
				Set("retired_at = ?", k.CreatedAt).
				Set("expires_at = ?", oldExpiresAt).
				Set("active_alg = NULL").
				Where("active_alg = ?", k.Alg).
				Exec(ctx); err != nil {
				return wrapErr(err, "retire active %s keys", k.Alg)
			}
			if _, err := insert(ctx, tx, &row); err != nil {
				return wrapErr(err, "insert %s signing key %q", k.Alg, k.ID)
			}
			return nil
		})
		if !errors.Is(err, domain.ErrDuplicate) || ctx.Err() != nil {
			return err
		}
	}
	return err
}
