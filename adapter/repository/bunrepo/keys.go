package bunrepo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
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
	if err := conn(ctx, r.db).NewSelect().Model(&rows).OrderExpr("created_at ASC, id ASC").Scan(ctx); err != nil {
		return nil, wrapErr(err, "list signing keys")
	}
	keys := make([]domain.SigningKey, len(rows))
	for i, row := range rows {
		keys[i] = row.toDomain()
	}
	return keys, nil
}

// CreateKey inserts k; ErrDuplicate when its kid exists or when k is current and
// another current key of its alg exists. Every instance reloads its keys at once
// (TopicKeys).
func (r *KeyRepository) CreateKey(ctx context.Context, k domain.SigningKey) error {
	row := keyToRow(k)
	return inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := insert(ctx, tx, &row); err != nil {
			return wrapErr(err, "insert %s signing key %q", k.Alg, k.ID)
		}
		return markChanged(ctx, tx, TopicKeys)
	})
}

// RotateKey stores r.Key as the current key of its alg and retires the keys that
// sign now or would later, in one transaction (see usecase.KeyStore). Rotations of
// an alg are serialised (PostgreSQL: an advisory lock; MariaDB: the rows of the alg
// locked for update; SQLite: one writer at a time); should one still lose a race
// (the unique active_alg refuses its insert), it runs again and then sees the
// winner's key: a delayed rotation is refused because that key is pending, an
// immediate one retires it. Every instance reloads its keys at once (TopicKeys): the
// new key is published everywhere within a second.
func (r *KeyRepository) RotateKey(ctx context.Context, rot usecase.KeyRotation) error {
	k := rot.Key
	k.RetiredAt, k.ExpiresAt, k.RevokedAt = nil, nil, nil
	now := rot.Now.UTC()
	if k.ActivatesAt.IsZero() {
		k.ActivatesAt = now
	}
	activates := k.ActivatesAt.UTC()
	immediate := !activates.After(now)
	row := keyToRow(k)
	return r.inAlgTx(ctx, k.Alg, func(ctx context.Context, tx bun.Tx, rows []signingKeyRow) error {
		live := liveKeys(rows, now)
		cur, hasCur := domain.CurrentKey(live, k.Alg)
		if rot.Replaces != "" && (!hasCur || cur.ID != rot.Replaces) {
			return fmt.Errorf("rotate %s key %s: %w", k.Alg, rot.Replaces, domain.ErrKeyRotated)
		}
		if !immediate && hasCur && cur.State(now) == domain.KeyNext {
			return &domain.KeyPendingError{Alg: k.Alg, KID: cur.ID, ActivatesAt: cur.ActivatesAt}
		}
		if err := retireKeys(ctx, tx, live, activates, rot.OldExpiresAt.UTC()); err != nil {
			return err
		}
		if _, err := insert(ctx, tx, &row); err != nil {
			return wrapErr(err, "insert %s signing key %q", k.Alg, k.ID)
		}
		return markChanged(ctx, tx, TopicKeys)
	})
}

// RevokeKey revokes the key rev.KID (see usecase.KeyStore): it stops signing and
// leaves the JWKS of every instance at once (TopicKeys), and never comes back. When
// it signed at rev.Now or was to sign later, rev.Replacement becomes the alg's
// current key, signing from rev.Now, and every other key of the alg that signs now or
// would later is retired, as by an immediate rotation. Revoking a revoked key changes
// nothing and reports it. ErrNotFound for an unknown kid.
func (r *KeyRepository) RevokeKey(ctx context.Context, rev usecase.KeyRevocation) (domain.KeyRevocation, error) {
	now := rev.Now.UTC().Truncate(time.Microsecond) // what every database keeps
	var alg string
	if err := conn(ctx, r.db).NewSelect().Model((*signingKeyRow)(nil)).Column("alg").Where("id = ?", rev.KID).
		Scan(ctx, &alg); err != nil {
		return domain.KeyRevocation{}, wrapErr(err, "find signing key %q", rev.KID)
	}
	var out domain.KeyRevocation
	err := r.inAlgTx(ctx, alg, func(ctx context.Context, tx bun.Tx, rows []signingKeyRow) error {
		out = domain.KeyRevocation{}
		i := slices.IndexFunc(rows, func(row signingKeyRow) bool { return row.ID == rev.KID })
		if i < 0 {
			return fmt.Errorf("revoke signing key %q: %w", rev.KID, domain.ErrNotFound)
		}
		key := rows[i].toDomain()
		if key.Revoked() {
			out = domain.KeyRevocation{Key: key, AlreadyRevoked: true}
			return nil
		}
		replace := key.SignsNowOrLater(now)
		if replace && rev.Replacement == nil {
			return fmt.Errorf("revoke signing key %q: it signs, and no replacement was given", rev.KID)
		}
		// Revoked: retired and expired at once (so housekeeping deletes the row a day
		// later), and marked, so that no later rotation or reading of its times can
		// bring it back.
		retired, expires := now, now
		if key.RetiredAt != nil && key.RetiredAt.Before(retired) {
			retired = *key.RetiredAt
		}
		if _, err := tx.NewUpdate().Model((*signingKeyRow)(nil)).
			Set("revoked_at = ?", now).
			Set("retired_at = ?", retired).
			Set("expires_at = ?", expires).
			Set("active_alg = NULL").
			Where("id = ?", key.ID).
			Exec(ctx); err != nil {
			return wrapErr(err, "revoke %s key %q", alg, key.ID)
		}
		key.RevokedAt, key.RetiredAt, key.ExpiresAt = &now, &retired, &expires
		out.Key = key
		if replace {
			repl := *rev.Replacement
			if repl.Alg != alg {
				return fmt.Errorf("revoke signing key %q: the replacement is %s, want %s", rev.KID, repl.Alg, alg)
			}
			repl.ActivatesAt, repl.RetiredAt, repl.ExpiresAt, repl.RevokedAt = now, nil, nil, nil
			var others []domain.SigningKey
			for _, k := range liveKeys(rows, now) {
				if k.ID != key.ID {
					others = append(others, k)
				}
			}
			if err := retireKeys(ctx, tx, others, now, rev.OldExpiresAt.UTC()); err != nil {
				return err
			}
			row := keyToRow(repl)
			if _, err := insert(ctx, tx, &row); err != nil {
				return wrapErr(err, "insert %s signing key %q", alg, repl.ID)
			}
			out.Replacement = &repl
		}
		return markChanged(ctx, tx, TopicKeys)
	})
	if err != nil {
		return domain.KeyRevocation{}, err
	}
	return out, nil
}

// inAlgTx runs fn in a transaction holding the rows of alg, with rotations and
// revocations of alg serialised (PostgreSQL: an advisory lock; MariaDB: the rows of
// the alg locked for update; SQLite: one writer at a time). Should fn still lose a
// race (the unique active_alg refuses its insert), it runs again and then sees the
// winner's key.
func (r *KeyRepository) inAlgTx(ctx context.Context, alg string, fn func(ctx context.Context, tx bun.Tx, rows []signingKeyRow) error) error {
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
				if _, err := tx.NewRaw("SELECT pg_advisory_xact_lock(hashtext(?))", "gatehouse_key_"+alg).
					Exec(ctx); err != nil {
					return wrapErr(err, "lock %s key rotation", alg)
				}
			}
			var rows []signingKeyRow
			q := tx.NewSelect().Model(&rows).Where("alg = ?", alg)
			if d == dialect.MySQL {
				q = q.For("UPDATE")
			}
			if err := q.Scan(ctx); err != nil {
				return wrapErr(err, "read %s keys", alg)
			}
			return fn(ctx, tx, rows)
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

// liveKeys are the keys of rows that sign at now or would later (neither retired nor
// revoked by now).
func liveKeys(rows []signingKeyRow, now time.Time) []domain.SigningKey {
	var live []domain.SigningKey
	for _, row := range rows {
		if sk := row.toDomain(); sk.SignsNowOrLater(now) {
			live = append(live, sk)
		}
	}
	return live
}

// retireKeys makes keys stop signing at retire (or earlier, when they were to stop
// earlier already) and leave the JWKS at expires (or later, when they were to stay
// longer). Revoked keys are never touched.
func retireKeys(ctx context.Context, tx bun.Tx, keys []domain.SigningKey, retire, expires time.Time) error {
	for _, old := range keys {
		ret, exp := retire, expires
		if old.RetiredAt != nil && old.RetiredAt.Before(ret) {
			ret = *old.RetiredAt
		}
		if old.ExpiresAt != nil && old.ExpiresAt.After(exp) {
			exp = *old.ExpiresAt
		}
		if _, err := tx.NewUpdate().Model((*signingKeyRow)(nil)).
			Set("retired_at = ?", ret).
			Set("expires_at = ?", exp).
			Set("active_alg = NULL").
			Where("id = ?", old.ID).
			Where("revoked_at IS NULL").
			Exec(ctx); err != nil {
			return wrapErr(err, "retire %s key %q", old.Alg, old.ID)
		}
	}
	return nil
}

// maxRotationAttempts bounds RotateKey's rounds: one rotation of an alg commits per
// round, so this many can run at once (eight did, in a test, and five rounds were
// once too few on MariaDB).
const maxRotationAttempts = 32
