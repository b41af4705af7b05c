package bunrepo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// CodeRepository stores authorization codes by the hash of the code.
type CodeRepository struct {
	db     *bun.DB
	gate   *ConnGate
	writes *groupCommit
	stmts  *preparedStatements
	pipe   *pgPipeline // PostgreSQL's redemptions (the gate's)
}

var _ usecase.CodeStore = (*CodeRepository)(nil)

// NewCodeRepository returns a repository over db whose hot paths go through gate.
func NewCodeRepository(db *bun.DB, gate *ConnGate) *CodeRepository {
	return &CodeRepository{db: db, gate: gate, writes: newGroupCommit(db, gate), stmts: newPreparedStatements(db, gate),
		pipe: gate.pipeline()}
}

// CreateCode inserts c; ErrDuplicate when the hash exists, ErrNotFound when its
// client or user does not.
func (r *CodeRepository) CreateCode(ctx context.Context, c domain.AuthorizationCode) error {
	row := codeToRow(c)
	if _, err := insert(ctx, r.db, &row); err != nil {
		return wrapErr(err, "insert authorization code")
	}
	return nil
}

const (
	// consumeCode is the conditional UPDATE that decides; consumeCodeQuery returns the
	// row too (PostgreSQL, SQLite; MariaDB has no UPDATE … RETURNING).
	consumeCode      = "UPDATE authorization_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL"
	consumeCodeQuery = consumeCode + " RETURNING *"
	selectCodeQuery  = "SELECT * FROM authorization_codes WHERE hash = ?"
)

// ConsumeCode marks the code used. The decision is one conditional UPDATE, so that of
// concurrent callers the database lets exactly one through (SECURITY S15); the code
// is read afterwards, by everyone, so a replay still learns which family to revoke.
// PostgreSQL and SQLite return the row from the UPDATE itself (one statement for the
// winner); MariaDB has no UPDATE … RETURNING and reads it after. Expiry is the
// caller's to judge on the returned code. On SQLite the statements are prepared and
// concurrent redemptions commit together (groupCommit).
func (r *CodeRepository) ConsumeCode(ctx context.Context, hash []byte, now time.Time) (domain.AuthorizationCode, error) {
	var row codeRow
	won := false
	switch r.db.Dialect().Name() {
	case dialect.SQLite:
		if err := r.stmts.warm(ctx, consumeCodeQuery, selectCodeQuery); err != nil {
			return domain.AuthorizationCode{}, err
		}
		err := r.writes.run(ctx, func(ctx context.Context, tx bun.Tx) error {
			var err error
			row, won, err = r.consume(ctx, &tx, hash, now)
			return err
		})
		if err != nil {
			return domain.AuthorizationCode{}, err
		}
	case dialect.PG:
		var err error
		if row, won, err = r.consume(ctx, nil, hash, now); err != nil {
			return domain.AuthorizationCode{}, err
		}
	default:
		res, err := r.db.NewRaw(consumeCode, now, hash).Exec(ctx)
		n, err := rowsAffected(res, err, "consume authorization code")
		if err != nil {
			return domain.AuthorizationCode{}, err
		}
		won = n == 1
		if err := r.db.NewSelect().Model(&row).Where("hash = ?", hash).Scan(ctx); err != nil {
			// When the UPDATE won the code is now burnt without its caller learning it:
			// failing closed is the right side to err on for a single-use credential.
			return domain.AuthorizationCode{}, wrapErr(err, "select authorization code")
		}
	}
	code, err := row.toDomain()
	if err != nil {
		return domain.AuthorizationCode{}, err
	}
	if !won {
		return code, fmt.Errorf("consume authorization code: %w", domain.ErrAlreadyUsed)
	}
	return code, nil
}

// consume runs the conditional UPDATE … RETURNING with prepared statements (inside tx
// when not nil) and, when it matched nothing, reads the code.
func (r *CodeRepository) consume(ctx context.Context, tx *bun.Tx, hash []byte, now time.Time) (codeRow, bool, error) {
	var row codeRow
	err := r.stmts.scanOne(ctx, tx, &row, consumeCodeQuery, r.stmts.timeArg(now), hash)
	switch {
	case err == nil:
		return row, true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return row, false, wrapErr(err, "consume authorization code")
	}
	if err := r.stmts.scanOne(ctx, tx, &row, selectCodeQuery, hash); err != nil {
		return row, false, wrapErr(err, "select authorization code")
	}
	return row, false, nil
}

// RedeemCode: see usecase.CodeStore. On PostgreSQL it is one prepared statement
// (redeemCodePGQuery) in a pipelined batch; on SQLite one write of a group commit; on
// MariaDB one transaction. The conditions of CodeRedemption.Matches are checked on the
// code the UPDATE consumed, so only the redemption that consumed it can start its
// grant. The user is read with the code, not by a query of its own afterwards: a code
// exchange on SQLite went from 5,293–5,404/s to 5,494–5,666/s in alternating load
// runs; PostgreSQL's stayed within the noise, with one query fewer.
func (r *CodeRepository) RedeemCode(ctx context.Context, hash []byte, red usecase.CodeRedemption) (usecase.CodeRedeemed, error) {
	var (
		row    codeRow
		user   *userRow
		won    bool
		issued bool
	)
	switch r.db.Dialect().Name() {
	case dialect.PG:
		var res redeemedRow
		found, err := r.pipe.queryRow(ctx, hash, redeemCodePGQuery, r.redeemPGArgs(hash, red), res.scan)
		switch {
		case err != nil:
			return usecase.CodeRedeemed{}, wrapErr(err, "redeem authorization code")
		case found:
			row, won, issued, user = res.codeRow, true, res.Issued, res.user
		default:
			if err := r.stmts.scanOne(ctx, nil, &row, selectCodeQuery, hash); err != nil {
				return usecase.CodeRedeemed{}, wrapErr(err, "select authorization code")
			}
		}
	case dialect.SQLite:
		if err := r.stmts.warm(ctx, consumeCodeQuery, selectCodeQuery, grantUserQuery, insertFamilyQuery,
			insertRefreshTokenQuery); err != nil {
			return usecase.CodeRedeemed{}, err
		}
		err := r.writes.run(ctx, func(ctx context.Context, tx bun.Tx) error {
			var err error
			if row, won, err = r.consume(ctx, &tx, hash, red.Now); err != nil || !won {
				return err
			}
			user, issued, err = r.startGrant(ctx, &tx, row, red)
			return err
		})
		if err != nil {
			return usecase.CodeRedeemed{}, err
		}
	default:
		err := r.gate.inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
			res, err := tx.NewRaw(consumeCode, red.Now, hash).Exec(ctx)
			n, err := rowsAffected(res, err, "consume authorization code")
			if err != nil {
				return err
			}
			won, issued = n == 1, false
			if err := tx.NewSelect().Model(&row).Where("hash = ?", hash).Scan(ctx); err != nil {
				return wrapErr(err, "select authorization code")
			}
			if !won {
				return nil
			}
			user, issued, err = r.startGrant(ctx, &tx, row, red)
			return err
		})
		if err != nil {
			return usecase.CodeRedeemed{}, err
		}
	}
	code, err := row.toDomain()
	if err != nil {
		return usecase.CodeRedeemed{}, err
	}
	if !won {
		return usecase.CodeRedeemed{Code: code}, fmt.Errorf("redeem authorization code: %w", domain.ErrAlreadyUsed)
	}
	out := usecase.CodeRedeemed{Code: code, Issued: issued}
	if issued && user != nil {
		u := user.toDomain()
		out.User = &u
	}
	return out, nil
}

// grantUserQuery reads the user of a code with whether the code's grant may still
// start (live): its browser session exists (a code issued without one needs none) and
// its client is not disabled; the user, read here, must exist and not be disabled
// either. Logging out, a password change, and disabling or deleting the user revoke
// the families of the session's codes, end the session, and revoke them again, so a
// redemption either sees the session gone or meets its family revoked (CreateFamily's
// ErrDuplicate), or is revoked by the second pass: a code issued just before never
// redeems after (issue 18 finding 8). Arguments: the session id twice, the client id,
// the user id. A prepared statement on SQLite.
const grantUserQuery = "SELECT id, username, email, email_verified, password_hash, created_at, updated_at, disabled, " +
	"CASE WHEN (? = '' OR EXISTS (SELECT 1 FROM sessions WHERE id = ?)) " +
	"AND NOT EXISTS (SELECT 1 FROM clients WHERE id = ? AND disabled = TRUE) THEN 1 ELSE 0 END AS live " +
	"FROM users WHERE id = ?"

// grantUserRow is a row of grantUserQuery.
type grantUserRow struct {
	userRow
	Live bool `bun:"live"`
}

// startGrant stores the family and first refresh token of a consumed code when the
// redemption matches it and the code's grant is still live (grantUserQuery), and
// returns the code's user with whether it did (SQLite and MariaDB, inside the
// consuming transaction).
func (r *CodeRepository) startGrant(ctx context.Context, tx *bun.Tx, row codeRow, red usecase.CodeRedemption) (*userRow, bool, error) {
	code, err := row.toDomain()
	if err != nil {
		return nil, false, err
	}
	if !red.Matches(code) {
		return nil, false, nil
	}
	var u grantUserRow
	args := []any{code.SessionID, code.SessionID, code.ClientID, code.UserID}
	if tx.Dialect().Name() == dialect.SQLite {
		err = r.stmts.scanOne(ctx, tx, &u, grantUserQuery, args...)
	} else {
		err = tx.NewRaw(grantUserQuery, args...).Scan(ctx, &u)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil // the user is gone
	case err != nil:
		return nil, false, wrapErr(err, "select the user, session and client of an authorization code")
	case !u.Live || u.Disabled:
		return nil, false, nil
	}
	f, rt := red.Grant(code)
	if err := insertGrant(ctx, tx, r.stmts, f, rt); err != nil {
		return nil, false, err
	}
	return &u.userRow, true, nil
}

// redeemCodePGQuery consumes the code (upd); when the redemption matches it and its
// grant is still live (ok, the conditions of grantUserQuery), it inserts the family
// (fam) and, when a hash is given, the first refresh token (tok), both copying the
// grant from the code. A duplicate family fails the whole statement, which then
// consumes nothing.
const redeemCodePGQuery = "WITH upd AS (UPDATE authorization_codes SET used_at = $1 WHERE hash = $2 AND used_at IS NULL RETURNING *), " +
	"ok AS (SELECT * FROM upd WHERE client_id = $3 AND expires_at > $1 AND redirect_uri = $4 AND code_challenge = $5 " +
	"AND (upd.session_id = '' OR EXISTS (SELECT 1 FROM sessions s WHERE s.id = upd.session_id)) " +
	"AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = upd.user_id AND u.disabled) " +
	"AND NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = upd.client_id AND c.disabled)), " +
	"fam AS (INSERT INTO token_families (id, client_id, user_id, session_id, created_at, expires_at) " +
	"SELECT family_id, client_id, user_id, NULLIF(session_id, ''), $6::timestamptz, $7::timestamptz FROM ok RETURNING id), " +
	"tok AS (INSERT INTO refresh_tokens (hash, family_id, client_id, user_id, scope, audience, auth_time, nonce, " +
	"session_id, created_at, expires_at, dpop_jkt) SELECT $8::bytea, family_id, client_id, user_id, scope, audience, " +
	"auth_time, nonce, session_id, $9::timestamptz, $10::timestamptz, $11 FROM ok WHERE $8::bytea IS NOT NULL RETURNING 1) " +
	"SELECT upd.hash, upd.client_id, upd.user_id, upd.redirect_uri, upd.scope, upd.audience, upd.code_challenge, " +
	"upd.nonce, upd.auth_time, upd.session_id, upd.family_id, upd.created_at, upd.expires_at, upd.used_at, " +
	"EXISTS (SELECT 1 FROM fam) AS issued, " +
	"u.id, u.username, u.email, u.email_verified, u.password_hash, u.created_at, u.updated_at, u.disabled " +
	"FROM upd LEFT JOIN users u ON u.id = upd.user_id"

// redeemedRow is a row of redeemCodePGQuery: the code, whether the grant was stored,
// and the code's user (nil when there is none).
type redeemedRow struct {
	codeRow
	Issued bool
	user   *userRow
}

// scan reads a row of redeemCodePGQuery.
func (row *redeemedRow) scan(rows pgx.Rows) error {
	var authTime *time.Time
	var (
		uid, username, email, passwordHash *string
		verified, disabled                 *bool
		created, updated                   *time.Time
	)
	c := &row.codeRow
	if err := rows.Scan(&c.Hash, &c.ClientID, &c.UserID, &c.RedirectURI, &c.Scope, &c.Audience, &c.CodeChallenge,
		&c.Nonce, &authTime, &c.SessionID, &c.FamilyID, &c.CreatedAt, &c.ExpiresAt, &c.UsedAt, &row.Issued,
		&uid, &username, &email, &verified, &passwordHash, &created, &updated, &disabled); err != nil {
		return fmt.Errorf("scan redeemed authorization code: %w", err)
	}
	c.AuthTime = derefTime(authTime)
	row.user = nil
	if uid != nil {
		row.user = &userRow{ID: *uid, Username: derefString(username), Email: derefString(email),
			EmailVerified: verified != nil && *verified, PasswordHash: derefString(passwordHash),
			CreatedAt: derefTime(created), UpdatedAt: derefTime(updated), Disabled: disabled != nil && *disabled}
	}
	return nil
}

func (r *CodeRepository) redeemPGArgs(hash []byte, red usecase.CodeRedemption) []any {
	var rtHash, rtCreated, rtExpires, rtJKT any
	if red.Refresh != nil {
		rtHash, rtCreated, rtExpires = red.Refresh.Hash, red.Refresh.CreatedAt, red.Refresh.ExpiresAt
		rtJKT = nullString(red.Refresh.DPoPJKT)
	}
	return []any{red.Now, hash, red.ClientID, red.RedirectURI, red.Challenge,
		red.Family.CreatedAt, r.stmts.nullTimeArg(red.Family.ExpiresAt), rtHash, rtCreated, rtExpires, rtJKT}
}
