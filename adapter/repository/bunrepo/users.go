package bunrepo

import (
	"bytes"
	"context"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// UserRepository stores users. Usernames and emails are unique byte for byte; an
// empty email is stored as NULL so that any number of users may have none.
type UserRepository struct {
	db    *bun.DB
	reads *keyedReads
	// usersByID is the select of UsersByID, keyList standing for its keys.
	usersByID string
}

var _ usecase.UserStore = (*UserRepository)(nil)

// NewUserRepository returns a repository over db.
func NewUserRepository(db *bun.DB) *UserRepository {
	return &UserRepository{db: db, reads: newKeyedReads(db),
		usersByID: db.NewSelect().Model((*userRow)(nil)).Where("id IN (?)", bun.Safe(keyList)).String()}
}

// UsersByID returns the users of ids that exist, by id, in one query (for a decorator
// that batches UserByID).
func (r *UserRepository) UsersByID(ctx context.Context, ids []string) (map[string]domain.User, error) {
	var rows []userRow
	if err := r.reads.scan(ctx, withKeys(r.usersByID), keysOf(ids), &rows); err != nil {
		return nil, wrapErr(err, "select users")
	}
	out := make(map[string]domain.User, len(rows))
	for _, row := range rows {
		u, err := row.toDomain()
		if err != nil {
			return nil, err
		}
		out[row.ID] = u
	}
	return out, nil
}

// CreateUser inserts u; ErrDuplicate when its id, username or email is taken.
func (r *UserRepository) CreateUser(ctx context.Context, u domain.User) error {
	row := userToRow(u)
	// In a transaction of its own, or a savepoint of the unit of work's: a taken name
	// is an answer the caller goes on from.
	return inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := insert(ctx, tx, &row); err != nil {
			return wrapErr(err, "insert user %q", u.Username)
		}
		return nil
	})
}

// UserByID returns the user; ErrNotFound when there is none.
func (r *UserRepository) UserByID(ctx context.Context, id string) (domain.User, error) {
	var row userRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return domain.User{}, wrapErr(err, "select user %q", id)
	}
	return row.toDomain()
}

// UserByUsername returns the user with exactly this username; ErrNotFound when none.
func (r *UserRepository) UserByUsername(ctx context.Context, username string) (domain.User, error) {
	var row userRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("username = ?", username).Scan(ctx); err != nil {
		return domain.User{}, wrapErr(err, "select user by username %q", username)
	}
	return row.toDomain()
}

// Taken: see usecase.UserStore. One query, on the three unique indexes: a username
// is taken too when another is drawn like it (skeletons.go).
func (r *UserRepository) Taken(ctx context.Context, username, email string) (usernameTaken, emailTaken bool, err error) {
	var rows []userRow
	skeleton := UsernameSkeleton(username)
	q := conn(ctx, r.db).NewSelect().Model(&rows).Column("username", "email", "username_skeleton").Where("username = ?", username)
	if skeleton != nil {
		q = q.WhereOr("username_skeleton = ?", skeleton)
	}
	if email != "" {
		q = q.WhereOr("email = ?", email)
	}
	if err := q.Scan(ctx); err != nil {
		return false, false, wrapErr(err, "select users by username or email")
	}
	for _, row := range rows {
		usernameTaken = usernameTaken || row.Username == username || skeleton != nil && bytes.Equal(row.UsernameSkeleton, skeleton)
		emailTaken = emailTaken || email != "" && row.Email == email
	}
	return usernameTaken, emailTaken, nil
}

// ListUsers returns every user, oldest first (ties by id, so the order is stable).
func (r *UserRepository) ListUsers(ctx context.Context) ([]domain.User, error) {
	var rows []userRow
	if err := conn(ctx, r.db).NewSelect().Model(&rows).OrderExpr("created_at ASC, id ASC").Scan(ctx); err != nil {
		return nil, wrapErr(err, "list users")
	}
	users := make([]domain.User, len(rows))
	for i, row := range rows {
		u, err := row.toDomain()
		if err != nil {
			return nil, err
		}
		users[i] = u
	}
	return users, nil
}

// DeleteUser deletes the user and, by cascade, their sessions, codes, consents and
// refresh tokens. Token families stay, so that their revocation (which the caller
// records first) keeps answering introspection. ErrNotFound when there is no such user.
func (r *UserRepository) DeleteUser(ctx context.Context, id string) error {
	res, err := conn(ctx, r.db).NewDelete().Model((*userRow)(nil)).Where("id = ?", id).Exec(ctx)
	return mustAffect(res, err, "delete user %q", id)
}

// UpdateUser replaces everything of the user but the id, username, password hash and
// creation time (userUpdateColumns); ErrNotFound when there is no such user,
// ErrDuplicate when the email is taken.
func (r *UserRepository) UpdateUser(ctx context.Context, u domain.User, seen time.Time) error {
	row := userToRow(u)
	res, err := conn(ctx, r.db).NewUpdate().Model(&row).Column(userUpdateColumns...).WherePK().
		Where("updated_at = ?", seen.UTC()).Exec(ctx)
	return mustAffect(res, err, "update user %q", u.ID)
}

// UpdatePassword replaces the password hash and deletes the user's password-reset
// and email-change links, in one transaction (see usecase.UserStore); ErrNotFound
// when there is no such user.
func (r *UserRepository) UpdatePassword(ctx context.Context, id, passwordHash string, now time.Time) error {
	return inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*userRow)(nil)).
			Set("password_hash = ?", passwordHash).
			Set("updated_at = ?", now).
			Where("id = ?", id).
			Exec(ctx)
		if err := mustAffect(res, err, "update password of user %q", id); err != nil {
			return err
		}
		if _, err := tx.NewRaw("DELETE FROM email_tokens WHERE user_id = ? AND purpose IN (?, ?)",
			id, domain.PurposeResetPassword, domain.PurposeChangeEmail).Exec(ctx); err != nil {
			return wrapErr(err, "void the mailed links of user %q", id)
		}
		return nil
	})
}

// ReplacePasswordHash: see usecase.UserStore. One conditional UPDATE: the stored hash
// must still be oldHash.
func (r *UserRepository) ReplacePasswordHash(ctx context.Context, id, oldHash, newHash string) error {
	_, err := conn(ctx, r.db).NewUpdate().Model((*userRow)(nil)).
		Set("password_hash = ?", newHash).
		Where("id = ?", id).
		Where("password_hash = ?", oldHash).
		Exec(ctx)
	if err != nil {
		return wrapErr(err, "replace password hash of user %q", id)
	}
	return nil
}
