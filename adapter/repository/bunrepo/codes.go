package bunrepo

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// CodeRepository stores authorization codes by the hash of the code.
type CodeRepository struct {
	db     *bun.DB
	flavor flavor
	writes Writer
	reads  *keyedReads
}

var _ usecase.CodeStore = (*CodeRepository)(nil)

// NewCodeRepository returns a repository over db whose redemptions run through w
// (NewTxWriter: one transaction each).
func NewCodeRepository(db *bun.DB, w Writer) *CodeRepository {
	return &CodeRepository{db: db, flavor: flavorOf(db), writes: w, reads: newKeyedReads(db)}
}

// CreateCode inserts c; ErrDuplicate when the hash exists, ErrNotFound when its
// client or user does not.
func (r *CodeRepository) CreateCode(ctx context.Context, c domain.AuthorizationCode) error {
	row := codeToRow(c)
	if _, err := insert(ctx, conn(ctx, r.db), &row); err != nil {
		return wrapErr(err, "insert authorization code")
	}
	return nil
}

// RedeemCode: see usecase.CodeStore. One transaction on every database: the code's row
// locked (forUpdate; on SQLite the transaction holds the only write lock), then what
// decide needs read, then decide's outcome written.
func (r *CodeRepository) RedeemCode(ctx context.Context, hash []byte, now time.Time,
	decide func(usecase.CodeRedemption) (usecase.CodeOutcome, error)) error {
	var refusal error
	err := r.writes.Write(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		refusal, err = r.RedeemCodeIn(ctx, tx, hash, now, decide)
		return err
	})
	if err != nil {
		return err
	}
	return refusal
}

// RedeemCodeIn is RedeemCode inside tx: it returns decide's error apart from its own,
// so that tx commits what decide asked.
func (r *CodeRepository) RedeemCodeIn(ctx context.Context, tx bun.Tx, hash []byte, now time.Time,
	decide func(usecase.CodeRedemption) (usecase.CodeOutcome, error)) (refusal, err error) {
	var row codeRow
	if err := tx.NewRaw("SELECT * FROM authorization_codes WHERE hash = ?"+r.flavor.forUpdate, hash).
		Scan(ctx, &row); err != nil {
		return nil, wrapErr(err, "select authorization code")
	}
	code, err := row.toDomain()
	if err != nil {
		return nil, err
	}
	red, err := CodeContext(ctx, tx, code)
	if err != nil {
		return nil, err
	}
	out, refusal := decide(red)
	if code.UsedAt == nil {
		if _, err := tx.NewRaw("UPDATE authorization_codes SET used_at = ? WHERE hash = ?", now, hash).
			Exec(ctx); err != nil {
			return nil, wrapErr(err, "consume authorization code")
		}
	}
	if out.RevokeFamily {
		if err := revokeFamilyTx(ctx, tx, r.flavor, code.FamilyID, now); err != nil {
			return nil, err
		}
	}
	if g := out.Grant; g != nil {
		if g.Family.ID != code.FamilyID {
			return nil, fmt.Errorf("redeem authorization code: the grant names family %q, the code %q", g.Family.ID, code.FamilyID)
		}
		if err := insertGrant(ctx, tx, g.Family, g.Refresh); err != nil {
			return nil, err
		}
	}
	return refusal, nil
}

// redemptionRow is a row of redemptionQuery: the code's user (empty when it is gone)
// and counts that say whether its session lives, its client is disabled and its family
// exists.
type redemptionRow struct {
	User            userRow `bun:"embed:u_"`
	Sessions        int     `bun:"sessions"`
	DisabledClients int     `bun:"disabled_clients"`
	Families        int     `bun:"families"`
}

// redemptionQuery reads, for a code, its user and whether its session exists, its
// client is disabled and its family exists. Arguments: the session, client, family and
// user ids.
const redemptionQuery = "SELECT " + userColumns + ", " +
	"(SELECT COUNT(*) FROM sessions WHERE id = ?) AS sessions, " +
	"(SELECT COUNT(*) FROM clients WHERE id = ? AND disabled = TRUE) AS disabled_clients, " +
	"(SELECT COUNT(*) FROM token_families WHERE id = ?) AS families " +
	"FROM (SELECT 1 AS one) k LEFT JOIN users u ON u.id = ?"

// CodeContext reads, through db (a transaction, or the database), what decides whether
// code's grant may start (usecase.CodeRedemption), with code as given.
func CodeContext(ctx context.Context, db bun.IDB, code domain.AuthorizationCode) (usecase.CodeRedemption, error) {
	var row redemptionRow
	if err := db.NewRaw(redemptionQuery, code.SessionID, code.ClientID, code.FamilyID, code.UserID).
		Scan(ctx, &row); err != nil {
		return usecase.CodeRedemption{}, wrapErr(err, "select the user, session, client and family of an authorization code")
	}
	return row.redemption(code)
}

// codeRedemptionRow is a row of codeRedemptionsQuery.
type codeRedemptionRow struct {
	Code codeRow `bun:"embed:c_"`
	redemptionRow
}

const codeRedemptionsQuery = "SELECT c.hash AS c_hash, c.client_id AS c_client_id, c.user_id AS c_user_id, " +
	"c.redirect_uri AS c_redirect_uri, c.scope AS c_scope, c.audience AS c_audience, " +
	"c.code_challenge AS c_code_challenge, c.nonce AS c_nonce, c.auth_time AS c_auth_time, " +
	"c.session_id AS c_session_id, c.family_id AS c_family_id, c.created_at AS c_created_at, " +
	"c.expires_at AS c_expires_at, c.used_at AS c_used_at, c.requested_claims AS c_requested_claims, c.amr AS c_amr, " +
	userColumns + ", " +
	"(SELECT COUNT(*) FROM sessions s WHERE s.id = c.session_id) AS sessions, " +
	"(SELECT COUNT(*) FROM clients k WHERE k.id = c.client_id AND k.disabled = TRUE) AS disabled_clients, " +
	"(SELECT COUNT(*) FROM token_families f WHERE f.id = c.family_id) AS families " +
	"FROM authorization_codes c LEFT JOIN users u ON u.id = c.user_id WHERE c.hash IN (" + keyList + ")"

// CodeRedemptions reads, in one query and without a lock, what RedeemCode hands to its
// decide for each of hashes that exists, by string(hash): for a decorator that
// decides first and then consumes the code only if it is still unused.
func (r *CodeRepository) CodeRedemptions(ctx context.Context, hashes [][]byte) (map[string]usecase.CodeRedemption, error) {
	var rows []codeRedemptionRow
	if err := r.reads.scan(ctx, withKeys(codeRedemptionsQuery), keysOf(hashes), &rows); err != nil {
		return nil, wrapErr(err, "select authorization codes")
	}
	out := make(map[string]usecase.CodeRedemption, len(rows))
	for _, row := range rows {
		code, err := row.Code.toDomain()
		if err != nil {
			return nil, err
		}
		if out[string(code.Hash)], err = row.redemption(code); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// redemption is what row says of code.
func (row redemptionRow) redemption(code domain.AuthorizationCode) (usecase.CodeRedemption, error) {
	red := usecase.CodeRedemption{Code: code, SessionLive: code.SessionID == "" || row.Sessions > 0,
		ClientDisabled: row.DisabledClients > 0, FamilyExists: row.Families > 0}
	if row.User.ID != "" {
		u, err := row.User.toDomain()
		if err != nil {
			return usecase.CodeRedemption{}, err
		}
		red.User = &u
	}
	return red, nil
}
