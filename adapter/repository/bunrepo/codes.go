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
	writes *groupCommit
	stmts  *preparedStatements
}

var _ usecase.CodeStore = (*CodeRepository)(nil)

// NewCodeRepository returns a repository over db whose hot paths go through gate.
func NewCodeRepository(db *bun.DB, gate *ConnGate) *CodeRepository {
	return &CodeRepository{db: db, flavor: flavorOf(db), writes: newGroupCommit(db, gate),
		stmts: newPreparedStatements(db, gate)}
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

// RedeemCode: see usecase.CodeStore. One transaction on every database: the code's row
// locked (forUpdate; on SQLite the transaction holds the only write lock, and joins a
// group commit), then what decide needs read, then decide's outcome written.
func (r *CodeRepository) RedeemCode(ctx context.Context, hash []byte, now time.Time,
	decide func(usecase.CodeRedemption) (usecase.CodeOutcome, error)) error {
	var refusal error
	err := r.writes.run(ctx, func(ctx context.Context, tx bun.Tx) error {
		refusal = nil
		var row codeRow
		if err := tx.NewRaw("SELECT * FROM authorization_codes WHERE hash = ?"+r.flavor.forUpdate, hash).
			Scan(ctx, &row); err != nil {
			return wrapErr(err, "select authorization code")
		}
		code, err := row.toDomain()
		if err != nil {
			return err
		}
		red, err := r.redemption(ctx, tx, code)
		if err != nil {
			return err
		}
		out, refused := decide(red)
		refusal = refused
		if code.UsedAt == nil {
			if _, err := tx.NewRaw("UPDATE authorization_codes SET used_at = ? WHERE hash = ?", now, hash).
				Exec(ctx); err != nil {
				return wrapErr(err, "consume authorization code")
			}
		}
		if out.RevokeFamily {
			if err := revokeFamilyTx(ctx, tx, r.flavor, code.FamilyID, now); err != nil {
				return err
			}
		}
		if g := out.Grant; g != nil {
			if g.Family.ID != code.FamilyID {
				return fmt.Errorf("redeem authorization code: the grant names family %q, the code %q", g.Family.ID, code.FamilyID)
			}
			return insertGrant(ctx, &tx, r.stmts, g.Family, g.Refresh)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return refusal
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
const redemptionQuery = "SELECT u.id AS u_id, u.username AS u_username, u.email AS u_email, " +
	"u.email_verified AS u_email_verified, u.password_hash AS u_password_hash, u.created_at AS u_created_at, " +
	"u.updated_at AS u_updated_at, u.disabled AS u_disabled, " +
	"(SELECT COUNT(*) FROM sessions WHERE id = ?) AS sessions, " +
	"(SELECT COUNT(*) FROM clients WHERE id = ? AND disabled = TRUE) AS disabled_clients, " +
	"(SELECT COUNT(*) FROM token_families WHERE id = ?) AS families " +
	"FROM (SELECT 1 AS one) k LEFT JOIN users u ON u.id = ?"

// redemption reads what decides whether code's grant may start (usecase.CodeRedemption).
func (r *CodeRepository) redemption(ctx context.Context, tx bun.Tx, code domain.AuthorizationCode) (usecase.CodeRedemption, error) {
	var row redemptionRow
	if err := tx.NewRaw(redemptionQuery, code.SessionID, code.ClientID, code.FamilyID, code.UserID).
		Scan(ctx, &row); err != nil {
		return usecase.CodeRedemption{}, wrapErr(err, "select the user, session, client and family of an authorization code")
	}
	red := usecase.CodeRedemption{Code: code, SessionLive: code.SessionID == "" || row.Sessions > 0,
		ClientDisabled: row.DisabledClients > 0, FamilyExists: row.Families > 0}
	if row.User.ID != "" {
		u := row.User.toDomain()
		red.User = &u
	}
	return red, nil
}
