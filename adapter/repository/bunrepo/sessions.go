package bunrepo

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// SessionRepository keeps browser sessions, found by the hash of the cookie secret.
type SessionRepository struct {
	db *bun.DB
}

var (
	_ usecase.SessionStore     = (*SessionRepository)(nil)
	_ usecase.SessionDirectory = (*SessionRepository)(nil)
)

// NewSessionRepository returns a repository over db.
func NewSessionRepository(db *bun.DB) *SessionRepository { return &SessionRepository{db: db} }

// CreateSession inserts s; ErrDuplicate when its id or secret hash exists, ErrNotFound
// when its user does not.
func (r *SessionRepository) CreateSession(ctx context.Context, s domain.Session) error {
	row := sessionRow{
		ID: s.ID, SecretHash: s.SecretHash, UserID: s.UserID,
		AuthTime: s.AuthTime, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, AMR: strings.Join(s.AMR, " "),
	}
	if _, err := insert(ctx, conn(ctx, r.db), &row); err != nil {
		return wrapErr(err, "insert session")
	}
	return nil
}

// SessionByHash returns the session whose secret hashes to secretHash; ErrNotFound
// when none. Expiry is the caller's to judge.
func (r *SessionRepository) SessionByHash(ctx context.Context, secretHash []byte) (domain.Session, error) {
	var row sessionRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("secret_hash = ?", secretHash).Scan(ctx); err != nil {
		return domain.Session{}, wrapErr(err, "select session")
	}
	return row.toDomain(), nil
}

// SessionByID returns a session by id (the admin API); ErrNotFound when none.
func (r *SessionRepository) SessionByID(ctx context.Context, id string) (domain.Session, error) {
	var row sessionRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return domain.Session{}, wrapErr(err, "select session %q", id)
	}
	return row.toDomain(), nil
}

// DeleteSession ends a session. Deleting one that is already gone is not an error:
// logging out twice (two tabs) must not fail.
func (r *SessionRepository) DeleteSession(ctx context.Context, id string) error {
	if _, err := conn(ctx, r.db).NewDelete().Model((*sessionRow)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
		return wrapErr(err, "delete session %q", id)
	}
	return nil
}

// DeleteUserSessions ends every session of a user (password change). A user without
// sessions, or no such user, is not an error.
func (r *SessionRepository) DeleteUserSessions(ctx context.Context, userID string) error {
	if _, err := conn(ctx, r.db).NewDelete().Model((*sessionRow)(nil)).Where("user_id = ?", userID).Exec(ctx); err != nil {
		return wrapErr(err, "delete sessions of user %q", userID)
	}
	return nil
}

// UserSessions lists the sessions of a user, most recently seen first (never seen
// last, newest first among them).
func (r *SessionRepository) UserSessions(ctx context.Context, userID string) ([]domain.Session, error) {
	var rows []sessionRow
	err := conn(ctx, r.db).NewSelect().Model(&rows).Where("user_id = ?", userID).
		OrderExpr("CASE WHEN last_seen_at IS NULL THEN 1 ELSE 0 END, last_seen_at DESC, created_at DESC, id").Scan(ctx)
	if err != nil {
		return nil, wrapErr(err, "list sessions of user %q", userID)
	}
	out := make([]domain.Session, len(rows))
	for i, row := range rows {
		out[i] = row.toDomain()
	}
	return out, nil
}

// TouchSession records the session's browser and when it was seen.
func (r *SessionRepository) TouchSession(ctx context.Context, id, userAgent, address string, now time.Time) error {
	_, err := conn(ctx, r.db).NewRaw("UPDATE sessions SET user_agent = ?, address = ?, last_seen_at = ? WHERE id = ?",
		userAgent, address, now.UTC(), id).Exec(ctx)
	if err != nil {
		return wrapErr(err, "touch session %q", id)
	}
	return nil
}

func sessionUserAgent() (string, column) { return "sessions", nullCol("user_agent", typeText) }
func sessionAddress() (string, column)   { return "sessions", nullCol("address", typeID) }
func sessionLastSeenAt() (string, column) {
	return "sessions", nullCol("last_seen_at", typeTime)
}

// sessionSeenMigration is migration 20260316000001: what the account page shows of
// each session's browser.
func sessionSeenMigration() migrate.Migration {
	var ups, downs []migrationFunc
	for _, def := range []func() (string, column){sessionUserAgent, sessionAddress, sessionLastSeenAt} {
		u, d := addColumn(def)
		ups = append(ups, u)
		downs = append([]migrationFunc{d}, downs...)
	}
	return migrate.Migration{Name: "20260316000001", Comment: "session_seen", Up: sequence(ups), Down: sequence(downs)}
}
