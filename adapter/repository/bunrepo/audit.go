package bunrepo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// AuditRepository is the audit log: append-only (no update, no delete but the
// housekeeping's past GATEHOUSE_AUDIT_RETENTION). Inside a unit of work
// (Transactor.InTx) an event is written in the transaction of the change it records.
type AuditRepository struct {
	db *bun.DB
}

var _ usecase.AuditStore = (*AuditRepository)(nil)

// NewAuditRepository returns the audit log over db.
func NewAuditRepository(db *bun.DB) *AuditRepository { return &AuditRepository{db: db} }

type auditModel struct {
	bun.BaseModel `bun:"table:audit_events"`

	ID         string    `bun:"id,pk"`
	OccurredAt time.Time `bun:"occurred_at"`
	EventType  string    `bun:"event_type"`
	Actor      string    `bun:"actor"`
	Target     string    `bun:"target"`
	IP         string    `bun:"ip"`
	Reason     string    `bun:"reason"`
	Details    string    `bun:"details"`
	// UserID is domain.AuditEvent.User (migration 20261208000001).
	UserID string `bun:"user_id,nullzero"`
}

// auditSchema is the audit_events table: the user filter reads actor and target (and
// user_id, added by migration 20261208000001), the type filter event_type, the
// retention and --since occurred_at.
func auditSchema() []tableDef {
	return []tableDef{{
		name: "audit_events",
		columns: []column{col("id", typeID), col("occurred_at", typeTime), col("event_type", typeID),
			col("actor", typeID), col("target", typeID), col("ip", typeID), col("reason", typeID),
			col("details", typeText)},
		primaryKey: []string{"id"},
		indexes:    []index{idx("occurred_at"), idx("target"), idx("actor"), idx("event_type")},
	}}
}

func auditMigration() migrate.Migration {
	return migrate.Migration{Name: "20260318000001", Comment: "audit_events",
		Up: createTables(auditSchema), Down: dropTables(auditSchema)}
}

// auditUser is migration 20261208000001: the user an event concerns when neither its
// actor nor its target is that user, indexed for the user filter; events recorded
// before it get it from their details' "user".
func auditUserMigration() migrate.Migration {
	colUp, colDown := addColumn(func() (string, column) { return "audit_events", nullCol("user_id", typeID) })
	ixUp, ixDown := addIndex("audit_events", idx("user_id"))
	return migrate.Migration{Name: "20261208000001", Comment: "audit_event_user",
		Up: sequence([]migrationFunc{colUp, ixUp, goMigration(fillAuditUsers)}), Down: sequence([]migrationFunc{ixDown, colDown})}
}

// fillAuditUsers sets user_id from details' "user" on the events that name one there
// (an administrator's session.revoked and consent.revoked), 500 at a time.
func fillAuditUsers(ctx context.Context, db *bun.DB) error {
	after := ""
	for {
		var rows []struct {
			ID      string `bun:"id"`
			Details string `bun:"details"`
		}
		err := db.NewSelect().Table("audit_events").Column("id", "details").
			Where("id > ?", after).Where("user_id IS NULL").Where("details LIKE ?", `%"user":%`).
			OrderExpr("id ASC").Limit(500).Scan(ctx, &rows)
		if err != nil {
			return fmt.Errorf("read audit events naming a user: %w", err)
		}
		for _, r := range rows {
			var d struct {
				User string `json:"user"`
			}
			if json.Unmarshal([]byte(r.Details), &d) != nil || d.User == "" {
				continue
			}
			if _, err := db.NewUpdate().Table("audit_events").Set("user_id = ?", d.User).Where("id = ?", r.ID).Exec(ctx); err != nil {
				return fmt.Errorf("set the user of audit event %s: %w", r.ID, err)
			}
		}
		if len(rows) < 500 {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}

// Record appends e.
func (r *AuditRepository) Record(ctx context.Context, e domain.AuditEvent) error {
	details := "{}"
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return wrapErr(err, "encode audit details")
		}
		details = string(b)
	}
	row := auditModel{ID: e.ID, OccurredAt: e.Time.UTC(), EventType: e.Type, Actor: e.Actor, Target: e.Target,
		IP: e.IP, Reason: e.Reason, Details: details, UserID: e.User}
	if _, err := insert(ctx, conn(ctx, r.db), &row); err != nil {
		return wrapErr(err, "append audit event %s", e.Type)
	}
	return nil
}

// ListAuditEvents lists the events matching f, newest first.
func (r *AuditRepository) ListAuditEvents(ctx context.Context, f usecase.AuditFilter) ([]domain.AuditEvent, error) {
	var rows []auditModel
	q := conn(ctx, r.db).NewSelect().Model(&rows)
	if f.User != "" {
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("actor = ?", f.User).WhereOr("target = ?", f.User).WhereOr("user_id = ?", f.User)
		})
	}
	if f.Type != "" {
		q = q.Where("event_type = ?", f.Type)
	}
	if !f.Since.IsZero() {
		q = q.Where("occurred_at >= ?", f.Since.UTC())
	}
	if f.Before.ID != "" {
		at := f.Before.Time.UTC()
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("occurred_at < ?", at).WhereOr("occurred_at = ? AND id < ?", at, f.Before.ID)
		})
	}
	if f.Limit > 0 {
		q = q.Limit(int64(f.Limit))
	}
	if err := q.OrderExpr("occurred_at DESC, id DESC").Scan(ctx); err != nil {
		return nil, wrapErr(err, "list audit events")
	}
	out := make([]domain.AuditEvent, len(rows))
	for i, row := range rows {
		e := domain.AuditEvent{ID: row.ID, Time: row.OccurredAt.UTC(), Type: row.EventType, Actor: row.Actor,
			Target: row.Target, IP: row.IP, Reason: row.Reason, User: row.UserID}
		if row.Details != "" && row.Details != "{}" {
			if err := json.Unmarshal([]byte(row.Details), &e.Details); err != nil {
				return nil, wrapErr(err, "decode audit details of %s", row.ID)
			}
		}
		out[i] = e
	}
	return out, nil
}
