package bunrepo

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// AccountRepository keeps the mailed links (verification, password reset) and the
// account reads and writes they need: a user by email, and marking an address
// verified only while the user still has it.
type AccountRepository struct {
	db *bun.DB
}

var _ usecase.AccountStore = (*AccountRepository)(nil)

// NewAccountRepository returns a repository over db.
func NewAccountRepository(db *bun.DB) *AccountRepository { return &AccountRepository{db: db} }

type emailTokenRow struct {
	bun.BaseModel `bun:"table:email_tokens"`

	Hash      []byte    `bun:"hash,pk"`
	UserID    string    `bun:"user_id"`
	Purpose   string    `bun:"purpose"`
	Email     string    `bun:"email"`
	CreatedAt time.Time `bun:"created_at"`
	ExpiresAt time.Time `bun:"expires_at"`
}

// UserByEmail finds the user with exactly this (canonical) email.
func (r *AccountRepository) UserByEmail(ctx context.Context, email string) (domain.User, error) {
	var row userRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("email = ?", email).Scan(ctx); err != nil {
		return domain.User{}, wrapErr(err, "select user by email")
	}
	return row.toDomain()
}

// MarkEmailVerified sets email_verified for the user only while their email is still
// email; false when it is not (changed meanwhile) or the user is gone.
func (r *AccountRepository) MarkEmailVerified(ctx context.Context, userID, email string, now time.Time) (bool, error) {
	res, err := conn(ctx, r.db).NewRaw("UPDATE users SET email_verified = ?, updated_at = ? WHERE id = ? AND email = ?",
		true, now.UTC(), userID, email).Exec(ctx)
	if err != nil {
		return false, wrapErr(err, "mark email verified")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrapErr(err, "mark email verified")
	}
	// MySQL counts changed rows: a row already verified at this very microsecond would
	// read 0, which cannot happen twice for one link (it is single use).
	return n == 1, nil
}

// CreateEmailToken stores a link and deletes the user's earlier links of the same
// purpose, in one transaction: a newer link voids the older (SECURITY S47).
func (r *AccountRepository) CreateEmailToken(ctx context.Context, t domain.EmailToken) error {
	row := emailTokenRow{Hash: t.Hash, UserID: t.UserID, Purpose: t.Purpose, Email: t.Email,
		CreatedAt: t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC()}
	return inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewRaw("DELETE FROM email_tokens WHERE user_id = ? AND purpose = ?", t.UserID, t.Purpose).Exec(ctx); err != nil {
			return wrapErr(err, "void earlier %s links", t.Purpose)
		}
		if _, err := tx.NewInsert().Model(&row).Exec(ctx); err != nil {
			return wrapErr(err, "insert %s link", t.Purpose)
		}
		return nil
	})
}

// EmailToken reads a link by hash; ErrNotFound when there is none.
func (r *AccountRepository) EmailToken(ctx context.Context, hash []byte) (domain.EmailToken, error) {
	var row emailTokenRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("hash = ?", hash).Scan(ctx); err != nil {
		return domain.EmailToken{}, wrapErr(err, "select email link")
	}
	return domain.EmailToken{Hash: row.Hash, UserID: row.UserID, Purpose: row.Purpose, Email: row.Email,
		CreatedAt: row.CreatedAt.UTC(), ExpiresAt: row.ExpiresAt.UTC()}, nil
}

// ConsumeEmailToken deletes the link if it is still there, of this purpose and live
// at now: of concurrent callers exactly one gets true.
func (r *AccountRepository) ConsumeEmailToken(ctx context.Context, hash []byte, purpose string, now time.Time) (bool, error) {
	res, err := conn(ctx, r.db).NewRaw("DELETE FROM email_tokens WHERE hash = ? AND purpose = ? AND expires_at > ?", hash, purpose, now.UTC()).Exec(ctx)
	if err != nil {
		return false, wrapErr(err, "consume email link")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrapErr(err, "consume email link")
	}
	return n == 1, nil
}

// ChangeEmail sets the user's email to to, verified, in one conditional UPDATE: only
// while the email is still from (NULL or "" for none). ErrDuplicate when another
// user has to (the unique index decides, so two users racing for one address cannot
// both get it).
func (r *AccountRepository) ChangeEmail(ctx context.Context, userID, from, to string, now time.Time) (bool, error) {
	res, err := conn(ctx, r.db).NewRaw("UPDATE users SET email = ?, email_verified = ?, claimed_email = NULL, updated_at = ? WHERE id = ? AND COALESCE(email, '') = ?",
		to, true, now.UTC(), userID, from).Exec(ctx)
	n, err := rowsAffected(res, err, "change email of user %q", userID)
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// TakeClaimedEmail moves the user's claimed address into email, unverified, in one
// conditional UPDATE: only while email is NULL and claimed_email is email.
// ErrDuplicate when another user has the address (the unique index decides).
func (r *AccountRepository) TakeClaimedEmail(ctx context.Context, userID, email string, now time.Time) (bool, error) {
	var n int64
	// In a transaction (or the caller's savepoint): InnoDB may pick one of several
	// racing claimers as a deadlock victim, and inTx runs it again (it then finds
	// the address taken).
	err := inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewRaw("UPDATE users SET email = ?, email_verified = ?, claimed_email = NULL, updated_at = ? WHERE id = ? AND email IS NULL AND claimed_email = ?",
			email, false, now.UTC(), userID, email).Exec(ctx)
		n, err = rowsAffected(res, err, "take the claimed email of user %q", userID)
		return err
	})
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// userClaimedEmail is migration 20261207000001: the address a user signed up with
// while another account held it (domain.User.ClaimedEmail). Not unique: it is only
// shown to its user. NULL for every other user.
func userClaimedEmail() (table string, c column) {
	return "users", nullCol("claimed_email", typeID)
}

// emailTokensSchema is migration 20260314000001: mailed links, dying with their user.
func emailTokensSchema() []tableDef {
	return []tableDef{{
		name: "email_tokens",
		columns: []column{col("hash", typeHash), col("user_id", typeID), col("purpose", typeID), col("email", typeText),
			col("created_at", typeTime), col("expires_at", typeTime)},
		primaryKey:  []string{"hash"},
		indexes:     []index{idx("user_id", "purpose"), idx("expires_at")},
		foreignKeys: []foreignKey{{"user_id", "users", "id"}},
	}}
}
