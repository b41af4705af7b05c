package bunrepo_test

import (
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

// TestMigration_AuditEventUser upgrades a database whose audit log holds an
// administrator's session.revoked and consent.revoked from before the user column
// (the user only in details): afterwards the user filter finds them, as it finds the
// events recorded since, and no other user's, on every backend.
func TestMigration_AuditEventUser(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := openAtRelease(t, url, "20261207000002")
			now := time.Now().UTC().Truncate(time.Second)
			// Rows as the previous release wrote them: no user_id column.
			for _, r := range []struct{ id, typ, target, details string }{
				{"e1", domain.AuditSessionRevoked, "sess-1", `{"user":"alice-id"}`},
				{"e2", domain.AuditConsentRevoked, "client-1", `{"user":"alice-id"}`},
				{"e3", domain.AuditSessionRevoked, "sess-2", `{"user":"bob-id"}`},
				{"e4", domain.AuditClientUpdated, "client-1", `{"fields":["user"]}`},
			} {
				if _, err := db.ExecContext(ctx, `INSERT INTO audit_events (id, occurred_at, event_type, actor, target, ip,
					reason, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.id, now, r.typ, "admin-id", r.target, "", "", r.details); err != nil {
					t.Fatalf("insert %s: %v", r.id, err)
				}
			}
			if err := bunrepo.Migrate(ctx, db); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			audit := bunrepo.NewAuditRepository(db)
			later := domain.AuditEvent{ID: "e5", Time: now.Add(time.Second), Type: domain.AuditSessionRevoked,
				Actor: "admin-id", Target: "sess-4", User: "alice-id", Details: map[string]any{"user": "alice-id"}}
			if err := audit.Record(ctx, later); err != nil {
				t.Fatal(err)
			}
			ids := func(user string) []string {
				t.Helper()
				got, err := audit.ListAuditEvents(ctx, usecase.AuditFilter{User: user})
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, e := range got {
					out = append(out, e.ID)
				}
				return out
			}
			if got := ids("alice-id"); len(got) != 3 || got[0] != "e5" || got[1] != "e2" || got[2] != "e1" {
				t.Errorf("alice's events: %v, want [e5 e2 e1]", got)
			}
			if got := ids("bob-id"); len(got) != 1 || got[0] != "e3" {
				t.Errorf("bob's events: %v, want [e3]", got)
			}
			if got := ids("admin-id"); len(got) != 5 {
				t.Errorf("the administrator's events: %v, want all 5", got)
			}
		})
	}
}
