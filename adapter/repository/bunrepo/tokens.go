package bunrepo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

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
// then its refresh tokens. A refresh (UpdateRefreshToken) locks the family before it
// reads the token; a revocation locks it before it revokes the tokens. So a revocation
// either waits for a rotation to commit (and then sees and revokes the new token) or
// makes it wait (and then read the family revoked): a revoked family never keeps a
// live token; and of concurrent refreshes with one token each reads it as the one
// before left it.
type TokenRepository struct {
	db     *bun.DB
	flavor flavor
	writes Writer
	reads  *keyedReads
	// refreshTokensByHash is the select of RefreshTokensByHash, keyList standing for
	// its keys.
	refreshTokensByHash string
}

var _ usecase.TokenStore = (*TokenRepository)(nil)

// NewTokenRepository returns a repository over db whose write transactions run
// through w (NewTxWriter: one transaction each).
func NewTokenRepository(db *bun.DB, w Writer) *TokenRepository {
	return &TokenRepository{db: db, flavor: flavorOf(db), writes: w, reads: newKeyedReads(db),
		refreshTokensByHash: db.NewSelect().Model((*refreshTokenRow)(nil)).Where("hash IN (?)", bun.Safe(keyList)).String()}
}

// CreateFamily inserts the family and, when rt is not nil, its first refresh token, in
// one transaction. ErrDuplicate when the family id exists: RevokeFamily wrote it first
// because the code was replayed while this grant was in flight.
func (r *TokenRepository) CreateFamily(ctx context.Context, f usecase.TokenFamily, rt *domain.RefreshToken) error {
	if rt != nil && rt.FamilyID != f.ID {
		return fmt.Errorf("create token family %q: its first refresh token names family %q", f.ID, rt.FamilyID)
	}
	return r.writes.Write(ctx, func(ctx context.Context, tx bun.Tx) error {
		return insertGrant(ctx, tx, f, rt)
	})
}

// insertGrant stores family f and, when rt is not nil, its first refresh token, inside
// tx. CreateFamily and CodeRepository.RedeemCode share it.
func insertGrant(ctx context.Context, tx bun.Tx, f usecase.TokenFamily, rt *domain.RefreshToken) error {
	fam := familyToRow(f)
	if _, err := insert(ctx, tx, &fam); err != nil {
		return wrapErr(err, "insert token family %q", f.ID)
	}
	if rt == nil {
		return nil
	}
	row := refreshTokenToRow(*rt)
	if _, err := insert(ctx, tx, &row); err != nil {
		return wrapErr(err, "insert refresh token of family %q", f.ID)
	}
	return nil
}

// FamilyRevoked reports whether the family is revoked; an unknown family is not. It
// runs on introspection and userinfo: one primary-key lookup.
func (r *TokenRepository) FamilyRevoked(ctx context.Context, familyID string) (bool, error) {
	revoked, err := conn(ctx, r.db).NewSelect().Model((*familyRow)(nil)).
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
	return r.writes.Write(ctx, func(ctx context.Context, tx bun.Tx) error {
		return revokeFamilyTx(ctx, tx, r.flavor, familyID, now)
	})
}

// RevokeUserFamilies revokes every family of a user (password change, disabling,
// deletion) and voids the user's codes and device authorizations.
func (r *TokenRepository) RevokeUserFamilies(ctx context.Context, userID string, now time.Time) error {
	if userID == "" {
		return nil
	}
	return r.revokeFamiliesWhere(ctx, now, where{"user_id", userID})
}

// RevokeClientFamilies revokes every family of a client (disabling, deletion) and
// voids its codes and device authorizations.
func (r *TokenRepository) RevokeClientFamilies(ctx context.Context, clientID string, now time.Time) error {
	if clientID == "" {
		return nil
	}
	return r.revokeFamiliesWhere(ctx, now, where{"client_id", clientID})
}

// RevokeSessionFamilies revokes every family started from a browser session (logout)
// and voids the session's codes and device approvals. An empty session id revokes
// nothing: grants without a session (password, device) share that value.
func (r *TokenRepository) RevokeSessionFamilies(ctx context.Context, sessionID string, now time.Time) error {
	if sessionID == "" {
		return nil
	}
	return r.revokeFamiliesWhere(ctx, now, where{"session_id", sessionID})
}

// RevokeGrantFamilies revokes every family of the user with the client (a connected
// app revoked) and voids their codes and device authorizations: found through the
// user_id indexes, then narrowed to the client.
func (r *TokenRepository) RevokeGrantFamilies(ctx context.Context, userID, clientID string, now time.Time) error {
	if userID == "" || clientID == "" {
		return nil
	}
	return r.revokeFamiliesWhere(ctx, now, where{"user_id", userID}, where{"client_id", clientID})
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
func (r *TokenRepository) revokeFamiliesWhere(ctx context.Context, now time.Time, conds ...where) error {
	cond, args, by := whereSQL(conds)
	with := func(first ...any) []any { return append(first, args...) }
	return r.writes.Write(ctx, func(ctx context.Context, tx bun.Tx) error {
		var ids []string
		margin := now.Add(-voidMargin)
		find := append(append(append(append([]any{}, args...), margin), args...), margin)
		if err := tx.NewRaw("SELECT family_id FROM authorization_codes WHERE "+cond+" AND used_at IS NULL AND expires_at > ? "+
			"UNION SELECT family_id FROM device_authorizations WHERE "+cond+" AND expires_at > ?", find...).
			Scan(ctx, &ids); err != nil {
			return wrapErr(err, "find the codes and device authorizations by %s", by)
		}
		if err := revokeFamilyIDs(ctx, tx, ids, now); err != nil {
			return err
		}
		if _, err := tx.NewRaw("UPDATE token_families SET revoked_at = ? WHERE "+cond+" AND revoked_at IS NULL",
			with(now)...).Exec(ctx); err != nil {
			return wrapErr(err, "revoke token families by %s", by)
		}
		if _, err := tx.NewRaw("UPDATE refresh_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND family_id IN "+
			"(SELECT id FROM token_families WHERE "+cond+")", with(now)...).Exec(ctx); err != nil {
			return wrapErr(err, "revoke refresh tokens by %s", by)
		}
		return nil
	})
}

// where is one column = value condition of revokeFamiliesWhere; the column is always
// one of the code's own names, never input.
type where struct{ column, value string }

// whereSQL joins conds with AND, as placeholders and their arguments, and names the
// columns for errors.
func whereSQL(conds []where) (sql string, args []any, by string) {
	parts, names := make([]string, len(conds)), make([]string, len(conds))
	for i, c := range conds {
		parts[i], names[i] = "? = ?", c.column
		args = append(args, bun.Ident(c.column), c.value)
	}
	return strings.Join(parts, " AND "), args, strings.Join(names, " and ")
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
	if _, err := conn(ctx, r.db).NewRaw(q, p.ID, p.RevokedAt, p.ExpiresAt).Exec(ctx); err != nil {
		return wrapErr(err, "revoke the tokens of %q", p.ID)
	}
	return nil
}

// RefreshTokenByHash returns the token; ErrNotFound when there is none.
func (r *TokenRepository) RefreshTokenByHash(ctx context.Context, hash []byte) (domain.RefreshToken, error) {
	var row refreshTokenRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("hash = ?", hash).Scan(ctx); err != nil {
		return domain.RefreshToken{}, wrapErr(err, "select refresh token")
	}
	return row.toDomain()
}

// RefreshTokensByHash returns the tokens of hashes that exist, by string(hash), in one
// query (for a decorator that batches RefreshTokenByHash).
func (r *TokenRepository) RefreshTokensByHash(ctx context.Context, hashes [][]byte) (map[string]domain.RefreshToken, error) {
	var rows []refreshTokenRow
	if err := r.reads.scan(ctx, withKeys(r.refreshTokensByHash), keysOf(hashes), &rows); err != nil {
		return nil, wrapErr(err, "select refresh tokens")
	}
	out := make(map[string]domain.RefreshToken, len(rows))
	for _, row := range rows {
		t, err := row.toDomain()
		if err != nil {
			return nil, err
		}
		out[string(t.Hash)] = t
	}
	return out, nil
}

// UpdateRefreshToken: see usecase.TokenStore. One transaction on every database: the
// token's family locked first (forUpdate; the lock order of TokenRepository; on SQLite
// the transaction holds the only write lock, and joins a group commit), then the token
// and its user read, then update's change written.
func (r *TokenRepository) UpdateRefreshToken(ctx context.Context, hash []byte,
	update func(usecase.RefreshState) (usecase.RefreshChange, error)) error {
	var refusal error
	err := r.writes.Write(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		refusal, err = r.UpdateRefreshTokenIn(ctx, tx, hash, update)
		return err
	})
	if err != nil {
		return err
	}
	return refusal
}

// UpdateRefreshTokenIn is UpdateRefreshToken inside tx: it returns update's error
// apart from its own, so that tx commits what update asked.
func (r *TokenRepository) UpdateRefreshTokenIn(ctx context.Context, tx bun.Tx, hash []byte,
	update func(usecase.RefreshState) (usecase.RefreshChange, error)) (refusal, err error) {
	if r.flavor.forUpdate != "" {
		var id string
		if err := tx.NewRaw("SELECT id FROM token_families WHERE id = "+
			"(SELECT family_id FROM refresh_tokens WHERE hash = ?)"+r.flavor.forUpdate, hash).
			Scan(ctx, &id); err != nil {
			return nil, wrapErr(err, "lock the family of a refresh token")
		}
	}
	var row refreshStateRow
	if err := tx.NewRaw(refreshStateQuery+" WHERE t.hash = ?", hash).Scan(ctx, &row); err != nil {
		return nil, wrapErr(err, "select refresh token")
	}
	st, err := row.state()
	if err != nil {
		return nil, err
	}
	change, refusal := update(st)
	if change.RevokeFamily {
		if err := revokeFamilyTx(ctx, tx, r.flavor, st.Token.FamilyID, change.Now); err != nil {
			return nil, err
		}
	}
	if next := change.Next; next != nil {
		if next.FamilyID != st.Token.FamilyID {
			return nil, fmt.Errorf("rotate refresh token: the successor names family %q, the token %q", next.FamilyID, st.Token.FamilyID)
		}
		if _, err := tx.NewRaw("UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ?", change.Now, hash).
			Exec(ctx); err != nil {
			return nil, wrapErr(err, "mark refresh token rotated")
		}
		nextRow := refreshTokenToRow(*next)
		if _, err := insert(ctx, tx, &nextRow); err != nil {
			return nil, wrapErr(err, "insert rotated refresh token")
		}
	}
	return refusal, nil
}

// RefreshStates reads, in one query and without a lock, what UpdateRefreshToken hands
// to its update for each of hashes that exists, by string(hash): for a decorator that
// decides first and then writes only if nothing changed meanwhile.
func (r *TokenRepository) RefreshStates(ctx context.Context, hashes [][]byte) (map[string]usecase.RefreshState, error) {
	var rows []refreshStateRow
	if err := r.reads.scan(ctx, withKeys(refreshStateQuery+" WHERE t.hash IN ("+keyList+")"), keysOf(hashes), &rows); err != nil {
		return nil, wrapErr(err, "select refresh tokens")
	}
	out := make(map[string]usecase.RefreshState, len(rows))
	for _, row := range rows {
		st, err := row.state()
		if err != nil {
			return nil, err
		}
		out[string(st.Token.Hash)] = st
	}
	return out, nil
}

func (row refreshStateRow) state() (usecase.RefreshState, error) {
	t, err := row.Token.toDomain()
	if err != nil {
		return usecase.RefreshState{}, err
	}
	st := usecase.RefreshState{Token: t, FamilyRevoked: row.FamilyRevokedAt != nil}
	if row.User.ID != "" {
		u, err := row.User.toDomain()
		if err != nil {
			return usecase.RefreshState{}, err
		}
		st.User = &u
	}
	return st, nil
}

// refreshStateRow is a row of refreshStateQuery: a refresh token and its user (empty
// when the user is gone).
type refreshStateRow struct {
	Token           refreshTokenRow `bun:"embed:t_"`
	FamilyRevokedAt *time.Time      `bun:"f_revoked_at"`
	User            userRow         `bun:"embed:u_"`
}

const refreshStateQuery = "SELECT t.hash AS t_hash, t.family_id AS t_family_id, t.client_id AS t_client_id, " +
	"t.user_id AS t_user_id, t.scope AS t_scope, t.audience AS t_audience, t.auth_time AS t_auth_time, " +
	"t.nonce AS t_nonce, t.session_id AS t_session_id, t.created_at AS t_created_at, t.expires_at AS t_expires_at, " +
	"t.rotated_at AS t_rotated_at, t.revoked_at AS t_revoked_at, t.dpop_jkt AS t_dpop_jkt, " +
	"t.requested_claims AS t_requested_claims, t.amr AS t_amr, " + userColumns + ", " +
	"f.revoked_at AS f_revoked_at FROM refresh_tokens t " +
	"JOIN token_families f ON f.id = t.family_id LEFT JOIN users u ON u.id = t.user_id"

// RevokeAccessToken puts a jti on the deny-list until the token expires. Revoking one
// twice is not an error (RFC 7009 §2.2: revocation is idempotent).
func (r *TokenRepository) RevokeAccessToken(ctx context.Context, t domain.RevokedAccessToken) error {
	row := revokedAccessTokenRow{JTI: t.JTI, ExpiresAt: t.ExpiresAt}
	if _, err := insert(ctx, conn(ctx, r.db), &row); err != nil {
		if database.IsUniqueViolation(err) {
			return nil
		}
		return wrapErr(err, "revoke access token")
	}
	return nil
}

// AccessTokenRevoked reports whether the jti is on the deny-list, the family (when
// not empty) is revoked, or the subject or client is revoked as a principal since the
// token was issued: the primary-key lookups, in one query.
func (r *TokenRepository) AccessTokenRevoked(ctx context.Context, c usecase.RevocationCheck) (bool, error) {
	revoked, err := r.AccessTokensRevoked(ctx, []usecase.RevocationCheck{c})
	if err != nil {
		return false, err
	}
	return revoked[0], nil
}
