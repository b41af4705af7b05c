package bunrepo

import (
	"context"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// SessionRepository keeps browser sessions, found by the hash of the cookie secret.
type SessionRepository struct {
	db *bun.DB
}

var _ usecase.SessionStore = (*SessionRepository)(nil)

// NewSessionRepository returns a repository over db.
func NewSessionRepository(db *bun.DB) *SessionRepository { return &SessionRepository{db: db} }

// CreateSession inserts s; ErrDuplicate when its id or secret hash exists, ErrNotFound
// when its user does not.
func (r *SessionRepository) CreateSession(ctx context.Context, s domain.Session) error {
	row := sessionRow{
		ID: s.ID, SecretHash: s.SecretHash, UserID: s.UserID,
		AuthTime: s.AuthTime, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt,
	}
	if _, err := insert(ctx, r.db, &row); err != nil {
		return wrapErr(err, "insert session")
	}
	return nil
}

// SessionByHash returns the session whose secret hashes to secretHash; ErrNotFound
// when none. Expiry is the caller's to judge.
func (r *SessionRepository) SessionByHash(ctx context.Context, secretHash []byte) (domain.Session, error) {
	var row sessionRow
	if err := r.db.NewSelect().Model(&row).Where("secret_hash = ?", secretHash).Scan(ctx); err != nil {
		return domain.Session{}, wrapErr(err, "select session")
	}
	return row.toDomain(), nil
}

// DeleteSession ends a session. Deleting one that is already gone is not an error:
// logging out twice (two tabs) must not fail.
func (r *SessionRepository) DeleteSession(ctx context.Context, id string) error {
	if _, err := r.db.NewDelete().Model((*sessionRow)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
		return wrapErr(err, "delete session %q", id)
	}
	return nil
}

// DeleteUserSessions ends every session of a user (password change). A user without
// sessions, or no such user, is not an error.
func (r *SessionRepository) DeleteUserSessions(ctx context.Context, userID string) error {
	if _, err := r.db.NewDelete().Model((*sessionRow)(nil)).Where("user_id = ?", userID).Exec(ctx); err != nil {
		return wrapErr(err, "delete sessions of user %q", userID)
	}
	return nil
}
