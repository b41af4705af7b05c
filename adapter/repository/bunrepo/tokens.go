package bunrepo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"gatehouse/domain"
	"gatehouse/infrastructure/database"
	"gatehouse/usecase"
)

// TokenRepository stores token families, refresh tokens and the access-token
// deny-list.
//
// Lock order, the same in every transaction that takes both: the family row first,
// then its refresh tokens. Rotation takes a shared lock on the family before it
// updates the old token; revocation takes an exclusive one before it revokes the
// tokens. So a revocation either waits for a rotation to commit (and then sees and
// revokes the new token) or makes it wait (and then refuse): a revoked family never
// keeps a live token.
type TokenRepository struct {
	db      *bun.DB
	gate    *ConnGate
	revoked *readBatcher[revocationKey, bool]
	byHash  *readBatcher[string, refreshTokenRow]
	writes  *groupCommit
	stmts   *preparedStatements
	pipe    *pgPipeline // PostgreSQL's refreshes and revocations (the gate's)
}

var _ usecase.TokenStore = (*TokenRepository)(nil)

// NewTokenRepository returns a repository over db whose hot paths go through gate.
func NewTokenRepository(db *bun.DB, gate *ConnGate) *TokenRepository {
	stmts := newPreparedStatements(db, gate)
	return &TokenRepository{db: db, gate: gate, revoked: newRevocationBatcher(db, stmts),
		byHash: newRefreshTokenBatcher(db, stmts), writes: newGroupCommit(db, gate), stmts: stmts,
		pipe: gate.pipeline()}
}

// newRefreshTokenBatcher answers RefreshTokenByHash for concurrent callers with one
// query per batch (readBatcher), keyed by the hash as a string.
func newRefreshTokenBatcher(db *bun.DB, stmts *preparedStatements) *readBatcher[string, refreshTokenRow] {
	return newReadBatcher(db, "select refresh tokens",
		func(ctx context.Context, hashes []string) (map[string]refreshTokenRow, error) {
			in := make([][]byte, len(hashes))
			for i, h := range hashes {
				in[i] = []byte(h)
			}
			var rows []refreshTokenRow
			var err error
			if db.Dialect().Name() == dialect.PG {
				// Prepared, with the hashes as one array (see revocationsPGQuery).
				err = stmts.scanAll(ctx, &rows, selectRefreshTokensPGQuery, in)
			} else {
				err = db.NewSelect().Model(&rows).Where("hash IN (?)", bun.In(in)).Scan(ctx)
			}
			if err != nil {
				return nil, wrapErr(err, "select refresh tokens")
			}
			byHash := make(map[string]refreshTokenRow, len(rows))
			for _, row := range rows {
				byHash[string(row.Hash)] = row
			}
			return byHash, nil
		})
}

const selectRefreshTokensPGQuery = "SELECT hash, family_id, client_id, user_id, scope, audience, auth_time, nonce, " +
	"session_id, created_at, expires_at, rotated_at, revoked_at, dpop_jkt FROM refresh_tokens WHERE hash = ANY(?::bytea[])"

// CreateFamily inserts the family and, when rt is not nil, its first refresh token, in
// one transaction. ErrDuplicate when the family id exists: RevokeFamily wrote it first
// because the code was replayed while this grant was in flight.
func (r *TokenRepository) CreateFamily(ctx context.Context, f usecase.TokenFamily, rt *domain.RefreshToken) error {
	if rt != nil && rt.FamilyID != f.ID {
		return fmt.Errorf("create token family %q: its first refresh token names family %q", f.ID, rt.FamilyID)
	}
	if rt != nil && r.db.Dialect().Name() == dialect.PG {
		// One prepared statement, one round trip: the family inserted in a CTE, the
		// token by the statement itself; its foreign key is checked at the end of the
		// statement, when the family exists. A duplicate family fails the whole statement.
		args := append(familyArgs(r.stmts, familyToRow(f)), refreshTokenArgs(r.stmts, refreshTokenToRow(*rt))...)
		if _, err := r.stmts.exec(ctx, nil, createFamilyPGQuery, args...); err != nil {
			return wrapErr(err, "insert token family %q and its first refresh token", f.ID)
		}
		return nil
	}
	if r.db.Dialect().Name() == dialect.SQLite {
		if err := r.stmts.warm(ctx, insertFamilyQuery, insertRefreshTokenQuery); err != nil {
			return err
		}
	}
	return r.writes.run(ctx, func(ctx context.Context, tx bun.Tx) error {
		return insertGrant(ctx, &tx, r.stmts, f, rt)
	})
}

// insertGrant stores family f and, when rt is not nil, its first refresh token, inside
// tx: with prepared statements on SQLite (the group commit's hot path), with Bun's
// inserts elsewhere. CreateFamily and CodeRepository.RedeemCode share it.
func insertGrant(ctx context.Context, tx *bun.Tx, stmts *preparedStatements, f usecase.TokenFamily, rt *domain.RefreshToken) error {
	fam := familyToRow(f)
	sqlite := tx.Dialect().Name() == dialect.SQLite
	var err error
	if sqlite {
		_, err = stmts.exec(ctx, tx, insertFamilyQuery, familyArgs(stmts, fam)...)
	} else {
		_, err = insert(ctx, tx, &fam)
	}
	if err != nil {
		return wrapErr(err, "insert token family %q", f.ID)
	}
	if rt == nil {
		return nil
	}
	row := refreshTokenToRow(*rt)
	if sqlite {
		_, err = stmts.exec(ctx, tx, insertRefreshTokenQuery, refreshTokenArgs(stmts, row)...)
	} else {
		_, err = insert(ctx, tx, &row)
	}
	if err != nil {
		return wrapErr(err, "insert refresh token of family %q", f.ID)
	}
	return nil
}

const insertFamilyQuery = "INSERT INTO token_families (id, client_id, user_id, session_id, created_at, expires_at, revoked_at) " +
	"VALUES (?, ?, ?, ?, ?, ?, ?)"

const insertRefreshTokenQuery = "INSERT INTO refresh_tokens (hash, family_id, client_id, user_id, scope, audience, " +
	"auth_time, nonce, session_id, created_at, expires_at, dpop_jkt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// createFamilyPGQuery is insertFamilyQuery and insertRefreshTokenQuery in one statement.
const createFamilyPGQuery = "WITH fam AS (" + insertFamilyQuery + " RETURNING NULL) " + insertRefreshTokenQuery

// insertRefreshToken stores row with a prepared statement (the SQLite hot path).
func (r *TokenRepository) insertRefreshToken(ctx context.Context, tx *bun.Tx, row refreshTokenRow) error {
	_, err := r.stmts.exec(ctx, tx, insertRefreshTokenQuery, refreshTokenArgs(r.stmts, row)...)
	return err
}

// refreshTokenArgs are the values of insertRefreshTokenQuery.
func refreshTokenArgs(p *preparedStatements, row refreshTokenRow) []any {
	return []any{row.Hash, row.FamilyID, row.ClientID, row.UserID, row.Scope, row.Audience,
		p.nullTimeArg(row.AuthTime), row.Nonce, row.SessionID, p.timeArg(row.CreatedAt),
		p.timeArg(row.ExpiresAt), nullString(row.DPoPJKT)}
}

// familyArgs are the values of insertFamilyQuery.
func familyArgs(p *preparedStatements, fam familyRow) []any {
	return []any{fam.ID, nullString(fam.ClientID), nullString(fam.UserID), nullString(fam.SessionID),
		p.timeArg(fam.CreatedAt), p.nullTimeArg(fam.ExpiresAt), p.nullTimeArg(derefTime(fam.RevokedAt))}
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// FamilyRevoked reports whether the family is revoked; an unknown family is not. It
// runs on introspection and userinfo: one primary-key lookup.
func (r *TokenRepository) FamilyRevoked(ctx context.Context, familyID string) (bool, error) {
	revoked, err := r.db.NewSelect().Model((*familyRow)(nil)).
		Where("id = ?", familyID).
		Where("revoked_at IS NOT NULL").
		Exists(ctx)
	if err != nil {
		return false, wrapErr(err, "check revocation of token family %q", familyID)
	}
	return revoked, nil
}

// RevokeFamily marks the family and its refresh tokens revoked. When the family does
// not exist yet, it inserts it, revoked, so that the grant still in flight fails to
// create it (CreateFamily → ErrDuplicate). The insert-or-update is one atomic
// statement (ON CONFLICT / ON DUPLICATE KEY), so it cannot race with CreateFamily.
// The first revocation time is kept.
func (r *TokenRepository) RevokeFamily(ctx context.Context, familyID string, now time.Time) error {
	if r.db.Dialect().Name() == dialect.PG {
		return r.revokeFamilyPG(ctx, familyID, now)
	}
	upsert := "INSERT INTO token_families (id, created_at, revoked_at) VALUES (?, ?, ?) " +
		"ON CONFLICT (id) DO UPDATE SET revoked_at = COALESCE(token_families.revoked_at, excluded.revoked_at)"
	if r.db.Dialect().Name() == dialect.MySQL {
		upsert = "INSERT INTO token_families (id, created_at, revoked_at) VALUES (?, ?, ?) " +
			"ON DUPLICATE KEY UPDATE revoked_at = COALESCE(revoked_at, VALUES(revoked_at))"
	}
	return r.writes.run(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewRaw(upsert, familyID, now, now).Exec(ctx); err != nil {
			return wrapErr(err, "revoke token family %q", familyID)
		}
		if _, err := tx.NewRaw("UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
			now, familyID).Exec(ctx); err != nil {
			return wrapErr(err, "revoke refresh tokens of family %q", familyID)
		}
		return nil
	})
}

// revokeFamilyPG is RevokeFamily on PostgreSQL: its two statements go, one after the
// other, in a batch of the pipeline (pgPipeline), with the refreshes and revocations
// of other callers: no round trip and no commit of its own. Under READ COMMITTED each
// statement takes its own snapshot, so the UPDATE sees the token of a rotation whose
// family lock the upsert waited for, as the second statement of a transaction did
// (the lock order of TokenRepository). Its key in the batch is the family.
func (r *TokenRepository) revokeFamilyPG(ctx context.Context, familyID string, now time.Time) error {
	_, err := r.pipe.exec(ctx, []byte(familyID),
		pipelineStmt{revokeFamilyPGQuery, []any{familyID, now}},
		pipelineStmt{revokeFamilyTokensPGQuery, []any{now, familyID}})
	if err != nil {
		return wrapErr(err, "revoke token family %q and its refresh tokens", familyID)
	}
	return nil
}

const revokeFamilyPGQuery = "INSERT INTO token_families (id, created_at, revoked_at) VALUES ($1, $2, $2) " +
	"ON CONFLICT (id) DO UPDATE SET revoked_at = COALESCE(token_families.revoked_at, excluded.revoked_at)"

const revokeFamilyTokensPGQuery = "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL"

// RevokeUserFamilies revokes every family of a user (password change, disabling,
// deletion) and voids the user's codes and device authorizations.
func (r *TokenRepository) RevokeUserFamilies(ctx context.Context, userID string, now time.Time) error {
	if userID == "" {
		return nil
	}
	return r.revokeFamiliesWhere(ctx, "user_id", userID, now)
}

// RevokeClientFamilies revokes every family of a client (disabling, deletion) and
// voids its codes and device authorizations.
func (r *TokenRepository) RevokeClientFamilies(ctx context.Context, clientID string, now time.Time) error {
	if clientID == "" {
		return nil
	}
	return r.revokeFamiliesWhere(ctx, "client_id", clientID, now)
}

// RevokeSessionFamilies revokes every family started from a browser session (logout)
// and voids the session's codes and device approvals. An empty session id revokes
// nothing: grants without a session (password, device) share that value.
func (r *TokenRepository) RevokeSessionFamilies(ctx context.Context, sessionID string, now time.Time) error {
	if sessionID == "" {
		return nil
	}
	return r.revokeFamiliesWhere(ctx, "session_id", sessionID, now)
}

// voidMargin is how long past its expiry a code or device authorization is still
// voided: the clocks of instances differ, and a redemption may be in flight.
const voidMargin = time.Hour

// revokeFamiliesWhere revokes the families with column = value and their tokens,
// both through the indexes on token_families and refresh_tokens(family_id). First it
// voids the grants not started yet: the unused codes and the device authorizations
// with column = value (indexed by it), whose families are known before they exist,
// get them as revoked placeholders (RevokeFamily), so a redemption in flight either
// is waited for and then revoked, or fails to create its family (ErrDuplicate).
func (r *TokenRepository) revokeFamiliesWhere(ctx context.Context, column, value string, now time.Time) error {
	return r.gate.inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		var ids []string
		if err := tx.NewRaw("SELECT family_id FROM authorization_codes WHERE ? = ? AND used_at IS NULL AND expires_at > ? "+
			"UNION SELECT family_id FROM device_authorizations WHERE ? = ? AND expires_at > ?",
			bun.Ident(column), value, now.Add(-voidMargin), bun.Ident(column), value, now.Add(-voidMargin)).
			Scan(ctx, &ids); err != nil {
			return wrapErr(err, "find the codes and device authorizations by %s", column)
		}
		if err := revokeFamilyIDs(ctx, tx, ids, now); err != nil {
			return err
		}
		if _, err := tx.NewRaw("UPDATE token_families SET revoked_at = ? WHERE ? = ? AND revoked_at IS NULL",
			now, bun.Ident(column), value).Exec(ctx); err != nil {
			return wrapErr(err, "revoke token families by %s", column)
		}
		if _, err := tx.NewRaw("UPDATE refresh_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND family_id IN "+
			"(SELECT id FROM token_families WHERE ? = ?)", now, bun.Ident(column), value).Exec(ctx); err != nil {
			return wrapErr(err, "revoke refresh tokens by %s", column)
		}
		return nil
	})
}

// revokeFamilyIDs revokes the families ids inside tx, inserting revoked placeholders
// for those that do not exist yet (see RevokeFamily), in sorted chunks: two
// revocations lock shared families in one order.
func revokeFamilyIDs(ctx context.Context, tx bun.Tx, ids []string, now time.Time) error {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	const chunk = 500
	for len(ids) > 0 {
		n := min(len(ids), chunk)
		values := make([]string, n)
		args := make([]any, 0, 3*n)
		for i, id := range ids[:n] {
			values[i] = "(?, ?, ?)"
			args = append(args, id, now, now)
		}
		q := "INSERT INTO token_families (id, created_at, revoked_at) VALUES " + strings.Join(values, ", ")
		if tx.Dialect().Name() == dialect.MySQL {
			q += " ON DUPLICATE KEY UPDATE revoked_at = COALESCE(revoked_at, VALUES(revoked_at))"
		} else {
			q += " ON CONFLICT (id) DO UPDATE SET revoked_at = COALESCE(token_families.revoked_at, excluded.revoked_at)"
		}
		if _, err := tx.NewRaw(q, args...).Exec(ctx); err != nil {
			return wrapErr(err, "revoke the families of codes and device authorizations")
		}
		ids = ids[n:]
	}
	return nil
}

// RevokePrincipal stores the principal's deny-list entry, replacing an earlier one.
func (r *TokenRepository) RevokePrincipal(ctx context.Context, p domain.PrincipalRevocation) error {
	q := "INSERT INTO revoked_principals (id, revoked_at, expires_at) VALUES (?, ?, ?) " +
		"ON CONFLICT (id) DO UPDATE SET revoked_at = excluded.revoked_at, expires_at = excluded.expires_at"
	if r.db.Dialect().Name() == dialect.MySQL {
		q = "INSERT INTO revoked_principals (id, revoked_at, expires_at) VALUES (?, ?, ?) " +
			"ON DUPLICATE KEY UPDATE revoked_at = VALUES(revoked_at), expires_at = VALUES(expires_at)"
	}
	if _, err := r.db.NewRaw(q, p.ID, p.RevokedAt, p.ExpiresAt).Exec(ctx); err != nil {
		return wrapErr(err, "revoke the tokens of %q", p.ID)
	}
	return nil
}

// RefreshTokenByHash returns the token; ErrNotFound when there is none. It runs on
// every refresh (but PostgreSQL's, see RotateUsableRefreshToken) and every
// introspection and revocation of a refresh token, so concurrent reads share one query
// (readBatcher). On SQLite the reads then queue for its one connection as one or two
// batches rather than one caller each (database/sql hands a freed connection to a
// random waiter): revocation went from 8,324–8,725/s to 9,220–9,557/s (p99 17–23 to
// 15–17 ms) in alternating load runs; refresh, whose time is mostly its write, stayed
// within the runs' noise.
func (r *TokenRepository) RefreshTokenByHash(ctx context.Context, hash []byte) (domain.RefreshToken, error) {
	row, found, err := r.byHash.get(ctx, string(hash))
	switch {
	case err != nil:
		return domain.RefreshToken{}, fmt.Errorf("select refresh token: %w", err)
	case !found:
		return domain.RefreshToken{}, fmt.Errorf("select refresh token: %w", domain.ErrNotFound)
	}
	return row.toDomain()
}

// RotateRefreshToken marks the old token rotated and stores next, in one transaction,
// only while the old one is active and its family is not revoked. The conditional
// UPDATE decides: of concurrent callers exactly one matches a row (SECURITY S32); the
// others get ErrAlreadyUsed, and ErrNotFound is for a hash that does not exist. next
// must belong to the old token's family (the UPDATE matches on it).
//
// It is the hot path of the refresh grant, so it runs as few statements as the lock
// order allows: on SQLite (BEGIN IMMEDIATE already holds the only write lock) the
// family check is part of the UPDATE, both statements are prepared, and concurrent
// rotations commit together (groupCommit); PostgreSQL runs one prepared statement
// (rotatePG); MariaDB first takes the shared family lock (see TokenRepository). Only a
// failed UPDATE reads more, to tell an unknown token from a used one.
func (r *TokenRepository) RotateRefreshToken(ctx context.Context, oldHash []byte, next domain.RefreshToken, now time.Time) error {
	nextRow := refreshTokenToRow(next)
	if r.db.Dialect().Name() == dialect.PG {
		return r.rotatePG(ctx, oldHash, nextRow, now)
	}
	if r.db.Dialect().Name() == dialect.SQLite {
		if err := r.stmts.warm(ctx, rotateSQLiteQuery, insertRefreshTokenQuery); err != nil {
			return err
		}
		return r.writes.run(ctx, func(ctx context.Context, tx bun.Tx) error {
			t := r.stmts.timeArg(now)
			res, err := r.stmts.exec(ctx, &tx, rotateSQLiteQuery, t, oldHash, next.FamilyID, t, next.FamilyID)
			n, err := rowsAffected(res, err, "mark refresh token rotated")
			if err != nil {
				return err
			}
			if n == 0 {
				return r.rotateFailed(ctx, tx, oldHash, next.FamilyID)
			}
			if err := r.insertRefreshToken(ctx, &tx, nextRow); err != nil {
				return wrapErr(err, "insert rotated refresh token")
			}
			return nil
		})
	}
	// MariaDB: the shared family lock first, then the conditional UPDATE.
	return r.gate.inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		revoked, err := lockFamilyShared(ctx, tx, next.FamilyID)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			return r.rotateFailed(ctx, tx, oldHash, next.FamilyID)
		case err != nil:
			return err
		case revoked:
			return fmt.Errorf("rotate refresh token: family %q is revoked: %w", next.FamilyID, domain.ErrAlreadyUsed)
		}
		res, err := tx.NewRaw("UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ? AND family_id = ? "+
			"AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ?", now, oldHash, next.FamilyID, now).Exec(ctx)
		n, err := rowsAffected(res, err, "mark refresh token rotated")
		if err != nil {
			return err
		}
		if n == 0 {
			return r.rotateFailed(ctx, tx, oldHash, next.FamilyID)
		}
		if _, err := insert(ctx, tx, &nextRow); err != nil {
			return wrapErr(err, "insert rotated refresh token")
		}
		return nil
	})
}

// RotateUsableRefreshToken: see usecase.TokenStore. On PostgreSQL it is one prepared
// statement (rotateUsablePGQuery): a refresh is one round trip instead of two. Every
// part of a statement sees the same snapshot, so the token it returns is the one the
// UPDATE tried; one rotated by a concurrent refresh after that snapshot is returned
// usable and not rotated, as a lost race, not as a replay. Elsewhere it reads, then
// rotates (RefreshTokenByHash, RotateRefreshToken), with the same outcome: on SQLite
// the rotation joins a group commit, which a read inside it could not (the group's
// writes are serialised, so a racing refresh would always find its token rotated).
func (r *TokenRepository) RotateUsableRefreshToken(ctx context.Context, oldHash []byte, rot usecase.RefreshRotation) (domain.RefreshToken, bool, error) {
	if r.db.Dialect().Name() == dialect.PG {
		return r.rotateUsablePG(ctx, oldHash, rot)
	}
	old, err := r.RefreshTokenByHash(ctx, oldHash)
	if err != nil {
		return domain.RefreshToken{}, false, err
	}
	if !old.UsableBy(rot.ClientID, rot.ProofJKT, rot.Now) {
		return old, false, nil
	}
	err = r.RotateRefreshToken(ctx, oldHash, old.Successor(rot.Next), rot.Now)
	switch {
	case errors.Is(err, domain.ErrAlreadyUsed), errors.Is(err, domain.ErrNotFound):
		return old, false, nil
	case err != nil:
		return domain.RefreshToken{}, false, err
	}
	return old, true, nil
}

// rotateUsablePGQuery reads the old token (old), takes the shared family lock (fam,
// the lock order of TokenRepository), rotates the token only when UsableBy holds (upd)
// and inserts its successor with the grant copied from it (ins). The UPDATE's only
// indexable condition is the primary key: client, expiry and binding never change, so
// they are checked on old, and the family through fam, both as one-time filters.
// Given family_id or expires_at too, a generic plan of the prepared statement scanned
// their whole index instead of one row (a refresh on PostgreSQL fell from 1,826/s to
// 1,110/s). rotated_at and revoked_at are checked on the row itself, which a
// concurrent rotation or revocation may have changed since the snapshot.
const rotateUsablePGQuery = "WITH old AS (SELECT hash, family_id, client_id, user_id, scope, audience, auth_time, " +
	"nonce, session_id, created_at, expires_at, rotated_at, revoked_at, dpop_jkt FROM refresh_tokens WHERE hash = $1), " +
	"fam AS (SELECT id FROM token_families WHERE id = (SELECT family_id FROM old) AND revoked_at IS NULL FOR SHARE), " +
	"upd AS (UPDATE refresh_tokens SET rotated_at = $2 WHERE hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL " +
	"AND EXISTS (SELECT 1 FROM fam) " +
	"AND EXISTS (SELECT 1 FROM old WHERE client_id = $3 AND expires_at > $2 AND (dpop_jkt IS NULL OR dpop_jkt = $4)) " +
	"RETURNING family_id, client_id, user_id, scope, audience, auth_time, nonce, session_id), " +
	"ins AS (INSERT INTO refresh_tokens (hash, family_id, client_id, user_id, scope, audience, auth_time, nonce, " +
	"session_id, created_at, expires_at, dpop_jkt) SELECT $5::bytea, family_id, client_id, user_id, scope, audience, " +
	"auth_time, nonce, session_id, $6::timestamptz, $7::timestamptz, $8 FROM upd RETURNING 1) " +
	"SELECT old.*, EXISTS (SELECT 1 FROM ins) AS rotated FROM old"

// rotationRow is a row of rotateUsablePGQuery: the old token as the statement read
// it, and whether it rotated it.
type rotationRow struct {
	refreshTokenRow
	Rotated bool
}

func (r *TokenRepository) rotateUsablePG(ctx context.Context, oldHash []byte, rot usecase.RefreshRotation) (domain.RefreshToken, bool, error) {
	var row rotationRow
	found, err := r.pipe.queryRow(ctx, oldHash, rotateUsablePGQuery, []any{oldHash, rot.Now, rot.ClientID,
		nullString(rot.ProofJKT), rot.Next.Hash, rot.Next.CreatedAt, rot.Next.ExpiresAt, nullString(rot.Next.DPoPJKT)},
		row.scan)
	switch {
	case err != nil:
		return domain.RefreshToken{}, false, wrapErr(err, "rotate refresh token")
	case !found:
		return domain.RefreshToken{}, false, fmt.Errorf("rotate refresh token: %w", domain.ErrNotFound)
	}
	old, err := row.toDomain()
	if err != nil {
		return domain.RefreshToken{}, false, err
	}
	return old, row.Rotated, nil
}

// scan reads a row of rotateUsablePGQuery.
func (row *rotationRow) scan(rows pgx.Rows) error {
	var authTime *time.Time
	var jkt *string
	t := &row.refreshTokenRow
	if err := rows.Scan(&t.Hash, &t.FamilyID, &t.ClientID, &t.UserID, &t.Scope, &t.Audience, &authTime,
		&t.Nonce, &t.SessionID, &t.CreatedAt, &t.ExpiresAt, &t.RotatedAt, &t.RevokedAt, &jkt, &row.Rotated); err != nil {
		return fmt.Errorf("scan rotated refresh token: %w", err)
	}
	t.AuthTime, t.DPoPJKT = derefTime(authTime), derefString(jkt)
	return nil
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// rotateSQLiteQuery is the rotation's decision on SQLite, prepared. BEGIN IMMEDIATE
// already holds the database's only write lock, so the family check is part of it.
const rotateSQLiteQuery = "UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ? AND family_id = ? " +
	"AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ? " +
	"AND NOT EXISTS (SELECT 1 FROM token_families WHERE id = ? AND revoked_at IS NOT NULL)"

// rotatePG is RotateRefreshToken on PostgreSQL in one statement, so one round trip
// (a transaction of four statements took six, and each waits on the network and the
// scheduler). The CTE keeps the lock order: it locks the family FOR SHARE before it
// marks the old token rotated; a concurrent revocation either waits for this statement
// to commit (and then revokes the new token too, its next statement seeing it) or
// makes it wait and then re-reads the family as revoked, matching nothing. The new
// token is inserted only when the UPDATE matched, all in one atomic statement.
func (r *TokenRepository) rotatePG(ctx context.Context, oldHash []byte, next refreshTokenRow, now time.Time) error {
	var authTime, jkt any
	if !next.AuthTime.IsZero() {
		authTime = next.AuthTime
	}
	if next.DPoPJKT != "" {
		jkt = next.DPoPJKT
	}
	res, err := r.stmts.exec(ctx, nil, rotatePGQuery, next.FamilyID, now, oldHash,
		next.Hash, next.ClientID, next.UserID, next.Scope, next.Audience, authTime, next.Nonce,
		next.SessionID, next.CreatedAt, next.ExpiresAt, jkt)
	n, err := rowsAffected(res, err, "rotate refresh token")
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	return r.gate.inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		return r.rotateFailed(ctx, tx, oldHash, next.FamilyID)
	})
}

// rotatePGQuery is rotatePG's statement, prepared (preparedStatements): PostgreSQL
// parses and plans it once per connection instead of on every refresh. As in
// rotateUsablePGQuery, the UPDATE's only indexable condition is the primary key; the
// family and expiry, which never change, are checked on old.
const rotatePGQuery = "WITH old AS (SELECT family_id, expires_at FROM refresh_tokens WHERE hash = $3), " +
	"fam AS (SELECT id FROM token_families WHERE id = $1 AND revoked_at IS NULL FOR SHARE), " +
	"upd AS (UPDATE refresh_tokens SET rotated_at = $2 WHERE hash = $3 AND rotated_at IS NULL AND revoked_at IS NULL " +
	"AND EXISTS (SELECT 1 FROM fam) AND EXISTS (SELECT 1 FROM old WHERE family_id = $1 AND expires_at > $2) " +
	"RETURNING family_id) " +
	"INSERT INTO refresh_tokens (hash, family_id, client_id, user_id, scope, audience, auth_time, nonce, " +
	"session_id, created_at, expires_at, dpop_jkt) " +
	"SELECT $4::bytea, upd.family_id, $5, $6, $7, $8, $9::timestamptz, $10, $11, $12::timestamptz, " +
	"$13::timestamptz, $14 FROM upd"

// rotateFailed explains why a rotation matched no row: ErrNotFound for an unknown
// hash, an error for a new token naming another family, else ErrAlreadyUsed.
func (r *TokenRepository) rotateFailed(ctx context.Context, tx bun.Tx, oldHash []byte, familyID string) error {
	var actual string
	if err := tx.NewSelect().Model((*refreshTokenRow)(nil)).Column("family_id").
		Where("hash = ?", oldHash).Scan(ctx, &actual); err != nil {
		return wrapErr(err, "select refresh token to rotate")
	}
	if actual != familyID {
		return fmt.Errorf("rotate refresh token: the new token names family %q, the old one %q", familyID, actual)
	}
	return fmt.Errorf("rotate refresh token: %w", domain.ErrAlreadyUsed)
}

// lockFamilyShared reads the family's revocation under a shared row lock (see the
// lock order on TokenRepository). SQLite needs none: BEGIN IMMEDIATE already holds
// the database's only write lock.
func lockFamilyShared(ctx context.Context, tx bun.Tx, familyID string) (revoked bool, err error) {
	q := "SELECT revoked_at FROM token_families WHERE id = ?"
	switch tx.Dialect().Name() {
	case dialect.PG:
		q += " FOR SHARE"
	case dialect.MySQL:
		q += " LOCK IN SHARE MODE" // MariaDB 10.11 has no FOR SHARE
	}
	var revokedAt bun.NullTime
	if err := tx.NewRaw(q, familyID).Scan(ctx, &revokedAt); err != nil {
		return false, wrapErr(err, "lock token family %q", familyID)
	}
	return !revokedAt.IsZero(), nil
}

// RevokeAccessToken puts a jti on the deny-list until the token expires. Revoking one
// twice is not an error (RFC 7009 §2.2: revocation is idempotent).
func (r *TokenRepository) RevokeAccessToken(ctx context.Context, t domain.RevokedAccessToken) error {
	row := revokedAccessTokenRow{JTI: t.JTI, ExpiresAt: t.ExpiresAt}
	if _, err := insert(ctx, r.db, &row); err != nil {
		if database.IsUniqueViolation(err) {
			return nil
		}
		return wrapErr(err, "revoke access token")
	}
	return nil
}

// AccessTokenRevoked reports whether the jti is on the deny-list, the family (when
// not empty) is revoked, or the subject or client is revoked as a principal since the
// token was issued. It runs on every introspection and userinfo call, so concurrent
// checks share one query (readBatcher): the primary-key lookups, for all of them, in
// one round trip.
func (r *TokenRepository) AccessTokenRevoked(ctx context.Context, c usecase.RevocationCheck) (bool, error) {
	revoked, _, err := r.revoked.get(ctx, newRevocationKey(c))
	return revoked, err
}
