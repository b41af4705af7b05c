package batchrepo

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// Tokens is bunrepo's token store with the fast paths the load needs, and the same
// contract (repotest): concurrent reads of refresh tokens and revocation checks share
// one query (readBatcher); on PostgreSQL a family's revocation goes in a pipelined
// batch (pgPipeline), and a refresh is decided on a batched read and written by one
// pipelined statement that succeeds only while the token and its family are as read;
// when they changed meanwhile (a concurrent refresh or revocation), the refresh is
// decided again under the lock, by the repository itself.
type Tokens struct {
	*bunrepo.TokenRepository
	byHash  *readBatcher[string, domain.RefreshToken]
	revoked *readBatcher[revocationKey, bool]
	states  *readBatcher[string, usecase.RefreshState] // PostgreSQL and SQLite
	pipe    *pgPipeline                                // PostgreSQL only
	group   *GroupCommit                               // SQLite's writes
	sqlite  bool
}

var _ usecase.TokenStore = (*Tokens)(nil)

// NewTokens wraps inner, a repository over db whose Writer is group.
func NewTokens(inner *bunrepo.TokenRepository, group *GroupCommit, db *bun.DB) *Tokens {
	t := &Tokens{TokenRepository: inner, group: group, sqlite: db.Dialect().Name() == dialect.SQLite}
	group.Prepare(rotateSQLiteQuery, insertRefreshTokenQuery)
	t.byHash = newReadBatcher("select refresh tokens", func(ctx context.Context, keys []string) (map[string]domain.RefreshToken, error) {
		return inner.RefreshTokensByHash(ctx, hashesOf(keys))
	})
	t.revoked = newReadBatcher("check access token revocation", func(ctx context.Context, keys []revocationKey) (map[revocationKey]bool, error) {
		checks := make([]usecase.RevocationCheck, len(keys))
		for i, k := range keys {
			checks[i] = k.check()
		}
		revoked, err := inner.AccessTokensRevoked(ctx, checks)
		if err != nil {
			return nil, err
		}
		out := make(map[revocationKey]bool, len(keys))
		for i, k := range keys {
			out[k] = revoked[i]
		}
		return out, nil
	})
	if db.Dialect().Name() == dialect.PG {
		t.pipe = newPGPipeline(db)
	}
	if t.pipe != nil || t.sqlite {
		t.states = newReadBatcher("select refresh tokens", func(ctx context.Context, keys []string) (map[string]usecase.RefreshState, error) {
			return inner.RefreshStates(ctx, hashesOf(keys))
		})
	}
	return t
}

func hashesOf(keys []string) [][]byte {
	hashes := make([][]byte, len(keys))
	for i, k := range keys {
		hashes[i] = []byte(k)
	}
	return hashes
}

// RefreshTokenByHash reads through the batcher.
func (t *Tokens) RefreshTokenByHash(ctx context.Context, hash []byte) (domain.RefreshToken, error) {
	rt, found, err := t.byHash.get(ctx, string(hash))
	switch {
	case err != nil:
		return domain.RefreshToken{}, fmt.Errorf("select refresh token: %w", err)
	case !found:
		return domain.RefreshToken{}, fmt.Errorf("select refresh token: %w", domain.ErrNotFound)
	}
	return rt, nil
}

// revocationKey is one AccessTokenRevoked check, comparable so that equal checks
// waiting at one moment share an answer.
type revocationKey struct {
	jti, familyID, subject, clientID string
	issuedAt                         int64 // Unix nanoseconds
}

func (k revocationKey) check() usecase.RevocationCheck {
	return usecase.RevocationCheck{JTI: k.jti, FamilyID: k.familyID, Subject: k.subject, ClientID: k.clientID,
		IssuedAt: time.Unix(0, k.issuedAt)}
}

// AccessTokenRevoked checks through the batcher.
func (t *Tokens) AccessTokenRevoked(ctx context.Context, c usecase.RevocationCheck) (bool, error) {
	revoked, _, err := t.revoked.get(ctx, revocationKey{jti: c.JTI, familyID: c.FamilyID, subject: c.Subject,
		clientID: c.ClientID, issuedAt: c.IssuedAt.UnixNano()})
	return revoked, err
}

// RevokeFamily: on PostgreSQL the repository's two statements, in a pipelined batch;
// each takes its own snapshot, so the second sees the successor of a refresh whose
// family lock the first waited for (the lock order of bunrepo.TokenRepository).
func (t *Tokens) RevokeFamily(ctx context.Context, familyID string, now time.Time) error {
	if t.pipe == nil || bunrepo.InUnitOfWork(ctx) {
		// A unit of work's revocation runs in its transaction, never in a batch.
		return t.TokenRepository.RevokeFamily(ctx, familyID, now)
	}
	_, err := t.pipe.exec(ctx, []byte(familyID),
		pipelineStmt{revokeFamilyPGQuery, []any{familyID, now}},
		pipelineStmt{revokeFamilyTokensPGQuery, []any{now, familyID}})
	if err != nil {
		return bunrepo.WrapErr(err, "revoke token family %q and its refresh tokens", familyID)
	}
	return nil
}

const revokeFamilyPGQuery = "INSERT INTO token_families (id, created_at, revoked_at) VALUES ($1, $2, $2) " +
	"ON CONFLICT (id) DO UPDATE SET revoked_at = COALESCE(token_families.revoked_at, excluded.revoked_at)"

const revokeFamilyTokensPGQuery = "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL"

// UpdateRefreshToken: on PostgreSQL and SQLite, decided on a batched read and written
// only when nothing changed since (rotate); see Tokens. On MariaDB, the repository's.
func (t *Tokens) UpdateRefreshToken(ctx context.Context, hash []byte,
	update func(usecase.RefreshState) (usecase.RefreshChange, error)) error {
	if t.states == nil {
		return t.TokenRepository.UpdateRefreshToken(ctx, hash, update)
	}
	st, found, err := t.states.get(ctx, string(hash))
	switch {
	case err != nil:
		return fmt.Errorf("select refresh token: %w", err)
	case !found:
		return fmt.Errorf("select refresh token: %w", domain.ErrNotFound)
	case st.Token.RotatedAt != nil || st.Token.RevokedAt != nil || st.FamilyRevoked:
		// Only a live token's state can be checked unchanged by rotate.
		return t.TokenRepository.UpdateRefreshToken(ctx, hash, update)
	}
	change, refusal := update(st)
	switch {
	case change.Next == nil && change.RevokeFamily:
		if err := t.RevokeFamily(ctx, st.Token.FamilyID, change.Now); err != nil {
			return err
		}
		return refusal
	case change.Next == nil:
		return refusal
	case change.RevokeFamily || change.Next.FamilyID != st.Token.FamilyID:
		return t.TokenRepository.UpdateRefreshToken(ctx, hash, update)
	}
	rotated, err := t.rotate(ctx, hash, change.Now, *change.Next)
	if err != nil {
		return err
	}
	if rotated {
		return refusal
	}
	// The token or its family changed since it was read: decide again, under the lock.
	return t.TokenRepository.UpdateRefreshToken(ctx, hash, update)
}

// rotate marks the live token with hash rotated at now and stores next, only while the
// token is neither rotated nor revoked and its family is not revoked; false when they
// changed. On PostgreSQL one pipelined statement (rotatePGQuery), on SQLite a write of
// the group commit, whose transaction holds the only write lock.
func (t *Tokens) rotate(ctx context.Context, hash []byte, now time.Time, next domain.RefreshToken) (bool, error) {
	if t.pipe != nil {
		args := append([]any{now, hash}, bunrepo.RefreshTokenValues(next)...)
		n, err := t.pipe.exec(ctx, hash, pipelineStmt{rotatePGQuery, args})
		if err != nil {
			return false, bunrepo.WrapErr(err, "rotate refresh token")
		}
		return n == 1, nil
	}
	rotated := false
	err := t.group.Write(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := t.group.exec(ctx, tx, rotateSQLiteQuery, now, hash, next.FamilyID)
		if err != nil {
			return bunrepo.WrapErr(err, "mark refresh token rotated")
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return err
		}
		if _, err := t.group.exec(ctx, tx, insertRefreshTokenQuery, bunrepo.RefreshTokenValues(next)...); err != nil {
			return bunrepo.WrapErr(err, "insert rotated refresh token")
		}
		rotated = true
		return nil
	})
	return rotated, err
}

// insertRefreshTokenQuery stores a refresh token (bunrepo.RefreshTokenValues).
const insertRefreshTokenQuery = "INSERT INTO refresh_tokens (" + bunrepo.RefreshTokenColumns +
	") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

const rotateSQLiteQuery = "UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ? AND rotated_at IS NULL " +
	"AND revoked_at IS NULL AND NOT EXISTS (SELECT 1 FROM token_families WHERE id = ? AND revoked_at IS NOT NULL)"

// rotatePGQuery marks the token $2 rotated at $1 and inserts its successor ($3…$16,
// bunrepo.RefreshTokenColumns), only while the token is neither rotated nor revoked
// and its family ($4) is not revoked: as the refresh read them. It takes the family's
// lock first (FOR SHARE; the lock order of bunrepo.TokenRepository), so a revocation
// either waits for it and then sees the successor, or makes it wait and then matches
// nothing. It decides nothing of OAuth's: the refresh's rule did, on the read.
const rotatePGQuery = "WITH fam AS (SELECT id FROM token_families WHERE id = $4 AND revoked_at IS NULL FOR SHARE), " +
	"upd AS (UPDATE refresh_tokens SET rotated_at = $1 WHERE hash = $2 AND rotated_at IS NULL AND revoked_at IS NULL " +
	"AND EXISTS (SELECT 1 FROM fam) RETURNING 1) " +
	"INSERT INTO refresh_tokens (" + bunrepo.RefreshTokenColumns + ") " +
	"SELECT $3::bytea, $4, $5, $6, $7, $8, $9::timestamptz, $10, $11, $12::timestamptz, $13::timestamptz, $14, $15, $16 FROM upd"

// Users is bunrepo's user store whose reads by id, on every userinfo call, share one
// query when they come together (readBatcher).
type Users struct {
	*bunrepo.UserRepository
	byID *readBatcher[string, domain.User]
}

var _ usecase.UserStore = (*Users)(nil)

// NewUsers wraps inner.
func NewUsers(inner *bunrepo.UserRepository) *Users {
	return &Users{UserRepository: inner, byID: newReadBatcher("select users", inner.UsersByID)}
}

// UserByID reads through the batcher.
func (u *Users) UserByID(ctx context.Context, id string) (domain.User, error) {
	user, found, err := u.byID.get(ctx, id)
	switch {
	case err != nil:
		return domain.User{}, fmt.Errorf("select user %q: %w", id, err)
	case !found:
		return domain.User{}, fmt.Errorf("select user %q: %w", id, domain.ErrNotFound)
	}
	return user, nil
}
