package bunrepo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// KeyRepository keeps signing keys. The database refuses a second current key of an
// alg (unique active_alg), so concurrent first starts cannot both create one, nor
// concurrent rotations both add one.
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

// CreateKey inserts k; ErrDuplicate when its kid exists or when k is current and
// another current key of its alg exists.
func (r *KeyRepository) CreateKey(ctx context.Context, k domain.SigningKey) error {
	row := keyToRow(k)
	if _, err := insert(ctx, r.db, &row); err != nil {
		return wrapErr(err, "insert %s signing key %q", k.Alg, k.ID)
	}
	return nil
}

// RotateKey stores r.Key as the current key of its alg and retires the keys that
// sign now or would later, in one transaction (see usecase.KeyStore). Rotations of
// an alg are serialised (PostgreSQL: an advisory lock; MariaDB: the rows of the alg
// locked for update; SQLite: one writer at a time); should one still lose a race
// (the unique active_alg refuses its insert), it runs again and then sees the
// winner's key: a delayed rotation is refused because that key is pending, an
// immediate one retires it.
func (r *KeyRepository) RotateKey(ctx context.Context, rot usecase.KeyRotation) error {
	k := rot.Key
	k.RetiredAt, k.ExpiresAt = nil, nil
	now := rot.Now.UTC()
	if k.ActivatesAt.IsZero() {
		k.ActivatesAt = now
	}
	activates := k.ActivatesAt.UTC()
	immediate := !activates.After(now)
	row := keyToRow(k)
	d := r.db.Dialect().Name()
	var opts *sql.TxOptions
	if d == dialect.MySQL {
		// REPEATABLE READ would take gap locks on active_alg that the INSERT then
		// waits for: concurrent rotations deadlock. READ COMMITTED takes none.
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	var err error
	for attempt := 1; attempt <= maxRotationAttempts; attempt++ {
		err = inTx(ctx, r.db, opts, func(ctx context.Context, tx bun.Tx) error {
			if d == dialect.PG {
				// Serialise rotations of one alg, so the SELECT below (a new statement,
				// hence a new snapshot) sees the key a concurrent rotation just made.
				if _, err := tx.NewRaw("SELECT pg_advisory_xact_lock(hashtext(?))", "gatehouse_key_"+k.Alg).
					Exec(ctx); err != nil {
					return wrapErr(err, "lock %s key rotation", k.Alg)
				}
			}
			var rows []signingKeyRow
			q := tx.NewSelect().Model(&rows).Where("alg = ?", k.Alg)
			if d == dialect.MySQL {
				q = q.For("UPDATE")
			}
			if err := q.Scan(ctx); err != nil {
				return wrapErr(err, "read %s keys", k.Alg)
			}
			var live []domain.SigningKey // the keys that sign now or would later
			for _, row := range rows {
				sk := row.toDomain()
				if sk.RetiredAt != nil && !sk.RetiredAt.After(now) {
					continue
				}
				live = append(live, sk)
			}
			cur, hasCur := domain.CurrentKey(live, k.Alg)
			if rot.Replaces != "" && (!hasCur || cur.ID != rot.Replaces) {
				return fmt.Errorf("rotate %s key %s: %w", k.Alg, rot.Replaces, domain.ErrKeyRotated)
			}
			if !immediate && hasCur && cur.State(now) == domain.KeyNext {
				return &domain.KeyPendingError{Alg: k.Alg, KID: cur.ID, ActivatesAt: cur.ActivatesAt}
			}
			for _, old := range live {
				retire, expires := activates, rot.OldExpiresAt.UTC()
				if old.RetiredAt != nil && old.RetiredAt.Before(retire) {
					retire = *old.RetiredAt
				}
				if old.ExpiresAt != nil && old.ExpiresAt.After(expires) {
					expires = *old.ExpiresAt
				}
				if _, err := tx.NewUpdate().Model((*signingKeyRow)(nil)).
					Set("retired_at = ?", retire).
					Set("expires_at = ?", expires).
					Set("active_alg = NULL").
					Where("id = ?", old.ID).
					Exec(ctx); err != nil {
					return wrapErr(err, "retire %s key %q", k.Alg, old.ID)
				}
			}
			if _, err := insert(ctx, tx, &row); err != nil {
				return wrapErr(err, "insert %s signing key %q", k.Alg, k.ID)
			}
			return nil
		})
		if !errors.Is(err, domain.ErrDuplicate) || attempt == maxRotationAttempts {
			return err
		}
		// On MariaDB a rotation can lose again: its locking read, queued behind the
		// winner's lock, returns the rows it had found, not the key the winner inserted.
		// Each round one rotation commits; a short random pause spreads the others.
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Millisecond + rand.N(4*time.Millisecond)):
		}
	}
	return err
}

// maxRotationAttempts bounds RotateKey's rounds: one rotation of an alg commits per
// round, so this many can run at once (eight did, in a test, and five rounds were
// once too few on MariaDB).
const maxRotationAttempts = 32
