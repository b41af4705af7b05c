package bunrepo

import (
	"context"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"gatehouse/usecase"
)

// BackchannelRepository finds the clients to tell when sessions end, through the
// token families the sessions started, and keeps the logouts not delivered yet.
type BackchannelRepository struct {
	db *bun.DB
}

var _ usecase.LogoutStore = (*BackchannelRepository)(nil)

// NewBackchannelRepository returns a repository over db.
func NewBackchannelRepository(db *bun.DB) *BackchannelRepository {
	return &BackchannelRepository{db: db}
}

type logoutTargetRow struct {
	SessionID  string `bun:"session_id"`
	UserID     string `bun:"user_id"`
	ClientID   string `bun:"client_id"`
	URI        string `bun:"backchannel_logout_uri"`
	IDTokenAlg string `bun:"id_token_alg"`
}

const logoutTargetsQuery = "SELECT DISTINCT f.session_id, f.user_id, f.client_id, c.backchannel_logout_uri, c.id_token_alg " +
	"FROM token_families f JOIN clients c ON c.id = f.client_id "

const logoutTargetsWhere = " AND c.backchannel_logout_uri IS NOT NULL AND c.backchannel_logout_uri <> '' " +
	"AND f.session_id IS NOT NULL AND f.session_id <> '' AND f.user_id IS NOT NULL"

func (r *BackchannelRepository) targets(ctx context.Context, q string, arg string) ([]usecase.LogoutTarget, error) {
	var rows []logoutTargetRow
	if err := conn(ctx, r.db).NewRaw(q, arg).Scan(ctx, &rows); err != nil {
		return nil, wrapErr(err, "find back-channel logout targets")
	}
	out := make([]usecase.LogoutTarget, len(rows))
	for i, row := range rows {
		out[i] = usecase.LogoutTarget{SessionID: row.SessionID, UserID: row.UserID, ClientID: row.ClientID,
			URI: row.URI, IDTokenAlg: row.IDTokenAlg}
	}
	return out, nil
}

// LogoutTargetsOfSession: the clients that got tokens under the session.
func (r *BackchannelRepository) LogoutTargetsOfSession(ctx context.Context, sessionID string) ([]usecase.LogoutTarget, error) {
	return r.targets(ctx, logoutTargetsQuery+"WHERE f.session_id = ?"+logoutTargetsWhere, sessionID)
}

// LogoutTargetsOfUser: the clients of every live session of the user.
func (r *BackchannelRepository) LogoutTargetsOfUser(ctx context.Context, userID string) ([]usecase.LogoutTarget, error) {
	return r.targets(ctx, logoutTargetsQuery+"JOIN sessions s ON s.id = f.session_id WHERE s.user_id = ?"+logoutTargetsWhere, userID)
}

type logoutRow struct {
	bun.BaseModel `bun:"table:backchannel_logouts"`

	ID            string    `bun:"id,pk"`
	ClientID      string    `bun:"client_id"`
	URI           string    `bun:"uri"`
	UserID        string    `bun:"user_id"`
	SessionID     string    `bun:"session_id"`
	IDTokenAlg    string    `bun:"id_token_alg"`
	Attempts      int       `bun:"attempts"`
	CreatedAt     time.Time `bun:"created_at"`
	NextAttemptAt time.Time `bun:"next_attempt_at"`
}

// EnqueueLogouts stores deliveries in one statement.
func (r *BackchannelRepository) EnqueueLogouts(ctx context.Context, ds []usecase.LogoutDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	rows := make([]logoutRow, len(ds))
	for i, d := range ds {
		rows[i] = logoutRow{ID: d.ID, ClientID: d.ClientID, URI: d.URI, UserID: d.UserID, SessionID: d.SessionID,
			IDTokenAlg: d.IDTokenAlg, Attempts: d.Attempts, CreatedAt: d.CreatedAt.UTC(), NextAttemptAt: d.NextAttemptAt.UTC()}
	}
	if _, err := conn(ctx, r.db).NewInsert().Model(&rows).Exec(ctx); err != nil {
		return wrapErr(err, "queue back-channel logouts")
	}
	return nil
}

// dueLogoutsQuery lists due deliveries with whether their client was registered
// dynamically (or is gone): such a URI is untrusted.
const dueLogoutsQuery = "SELECT d.id, d.client_id, d.uri, d.user_id, d.session_id, d.id_token_alg, d.attempts, " +
	"d.created_at, d.next_attempt_at, " +
	"CASE WHEN c.id IS NULL OR c.registration_token_hash IS NOT NULL THEN 1 ELSE 0 END AS untrusted " +
	"FROM backchannel_logouts d LEFT JOIN clients c ON c.id = d.client_id " +
	"WHERE d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ?"

// DueLogouts lists the deliveries due at now, oldest first.
func (r *BackchannelRepository) DueLogouts(ctx context.Context, now time.Time, limit int) ([]usecase.LogoutDelivery, error) {
	var rows []struct {
		logoutRow
		Untrusted int `bun:"untrusted"`
	}
	if err := conn(ctx, r.db).NewRaw(dueLogoutsQuery, now.UTC(), limit).Scan(ctx, &rows); err != nil {
		return nil, wrapErr(err, "list due back-channel logouts")
	}
	out := make([]usecase.LogoutDelivery, len(rows))
	for i, row := range rows {
		out[i] = usecase.LogoutDelivery{ID: row.ID, ClientID: row.ClientID, URI: row.URI, UserID: row.UserID,
			SessionID: row.SessionID, IDTokenAlg: row.IDTokenAlg, Untrusted: row.Untrusted != 0, Attempts: row.Attempts,
			CreatedAt: row.CreatedAt.UTC(), NextAttemptAt: row.NextAttemptAt.UTC()}
	}
	return out, nil
}

// DeleteLogout removes a delivered or abandoned delivery.
func (r *BackchannelRepository) DeleteLogout(ctx context.Context, id string) error {
	if _, err := conn(ctx, r.db).NewRaw("DELETE FROM backchannel_logouts WHERE id = ?", id).Exec(ctx); err != nil {
		return wrapErr(err, "delete back-channel logout")
	}
	return nil
}

// RetryLogout records a failed attempt and when to try again.
func (r *BackchannelRepository) RetryLogout(ctx context.Context, id string, attempts int, next time.Time) error {
	_, err := conn(ctx, r.db).NewRaw("UPDATE backchannel_logouts SET attempts = ?, next_attempt_at = ? WHERE id = ?", attempts, next.UTC(), id).Exec(ctx)
	if err != nil {
		return wrapErr(err, "reschedule back-channel logout")
	}
	return nil
}

// clientBackchannelLogoutURI is a column of migration 20260315000001: where the
// client takes logout tokens. NULL reads as none.
func clientBackchannelLogoutURI() (table string, c column) {
	return "clients", nullCol("backchannel_logout_uri", typeText)
}

func backchannelLogoutsTable() []tableDef {
	return []tableDef{{
		name: "backchannel_logouts",
		columns: []column{col("id", typeID), col("client_id", typeID), col("uri", typeText), col("user_id", typeID),
			col("session_id", typeID), col("id_token_alg", typeID), col("attempts", typeInt), col("created_at", typeTime),
			col("next_attempt_at", typeTime)},
		primaryKey: []string{"id"},
		indexes:    []index{idx("next_attempt_at")},
	}}
}

// backchannelLogoutMigration is migration 20260315000001: the clients' logout URI
// and the deliveries.
func backchannelLogoutMigration() migrate.Migration {
	colUp, colDown := addColumn(clientBackchannelLogoutURI)
	return migrate.Migration{Name: "20260315000001", Comment: "backchannel_logout",
		Up:   sequence([]migrationFunc{colUp, createTables(backchannelLogoutsTable)}),
		Down: sequence([]migrationFunc{dropTables(backchannelLogoutsTable), colDown})}
}
