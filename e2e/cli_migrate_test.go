package e2e

// gatehouse migrate down: one migration at a time, the latest, and only when asked
// with --yes; it says which one it rolled back.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// migrationRow is a row of `migrate status --json`.
type migrationRow struct {
	Name    string `json:"name"`
	Applied bool   `json:"applied"`
	Unknown bool   `json:"unknown"`
}

// TestCLI_MigrateDownOneAtATime: on a fresh install, where one `migrate up` applied
// every migration as one group, `migrate down` refuses without --yes (exit 2, one
// line naming the migration it would roll back, nothing changed); `migrate down --yes`
// rolls back exactly the latest migration and names it (text and --json), then the one
// before it; the tables of the others, with their rows, stay; `migrate up` applies the
// two again. A migration this binary does not know (a newer version applied it) is
// not rolled back under it.
func TestCLI_MigrateDownOneAtATime(t *testing.T) {
	t.Parallel()
	for _, b := range backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			full := cliEnv(t, map[string]string{"GATEHOUSE_DATABASE_URL": b.URL, "GATEHOUSE_SECRET_KEY": randomString(40),
				// The admin commands below must not apply the pending migrations again.
				"GATEHOUSE_AUTO_MIGRATE": "false"})
			run := func(stdin string, args ...string) CLIResult {
				t.Helper()
				return cliIn(t, t.TempDir(), full, stdin, args...)
			}
			status := func() []migrationRow {
				t.Helper()
				r := run("", "migrate", "status", "--json")
				var rows []migrationRow
				if r.Exit != 0 || json.Unmarshal([]byte(r.Stdout), &rows) != nil || len(rows) < 3 {
					t.Fatalf("migrate status --json: exit %d %q %q", r.Exit, r.Stdout, r.Stderr)
				}
				return rows
			}
			// wantPending checks that exactly the last n migrations are pending.
			wantPending := func(rows []migrationRow, n int) {
				t.Helper()
				for i, row := range rows {
					if pending := i >= len(rows)-n; row.Applied == pending {
						t.Errorf("migration %s: applied %t, want %t (the last %d pending)", row.Name, row.Applied, !pending, n)
					}
				}
			}

			if r := run("", "migrate"); r.Exit != 0 {
				t.Fatalf("migrate: exit %d %s", r.Exit, r.Stderr)
			}
			if r := run("correct horse battery\n", "users", "create", "--username", "alice", "--password-stdin"); r.Exit != 0 {
				t.Fatalf("users create: exit %d %s", r.Exit, r.Stderr)
			}
			rows := status()
			wantPending(rows, 0)
			last, before := rows[len(rows)-1].Name, rows[len(rows)-2].Name

			// Without --yes: refused, and nothing changes.
			r := run("", "migrate", "down")
			wantUsage(t, "migrate down", r.Stdout, r.Stderr, r.Exit)
			if want := "gatehouse: migrate down rolls back the latest migration, " + last + ", which can drop tables or columns " +
				"and the data in them; back up the database, then run `gatehouse migrate down --yes`\n"; r.Stderr != want {
				t.Errorf("migrate down: stderr\n%q, want\n%q", r.Stderr, want)
			}
			wantPending(status(), 0)
			r = run("", "migrate", "up", "--yes")
			wantUsage(t, "migrate up --yes", r.Stdout, r.Stderr, r.Exit, "--yes is for migrate down only")

			// --yes: the latest migration only, named.
			r = run("", "migrate", "down", "--yes")
			if r.Exit != 0 || r.Stdout != "rolled back migration "+last+"\n" || r.Stderr != "" {
				t.Fatalf("migrate down --yes: exit %d, stdout %q, stderr %q", r.Exit, r.Stdout, r.Stderr)
			}
			wantPending(status(), 1)

			// Then the one before it; --json names it too.
			r = run("", "migrate", "down", "-y", "--json")
			var out map[string]string
			if r.Exit != 0 || json.Unmarshal([]byte(r.Stdout), &out) != nil || len(out) != 2 ||
				out["status"] != "rolled back" || out["migration"] != before {
				t.Fatalf("migrate down -y --json: exit %d, stdout %q, stderr %q", r.Exit, r.Stdout, r.Stderr)
			}
			wantPending(status(), 2)

			// The other tables and their rows are still there (read as they are: this
			// gatehouse's own queries may want a column the rollback dropped).
			db := openDB(t, b.URL)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var name string
			if err := db.QueryRowContext(ctx, "SELECT username FROM users").Scan(&name); err != nil || name != "alice" {
				t.Fatalf("users after two rollbacks: %q, %v", name, err)
			}

			// up applies the two again, and every query works.
			if r = run("", "migrate", "up"); r.Exit != 0 {
				t.Fatalf("migrate up: exit %d %s", r.Exit, r.Stderr)
			}
			wantPending(status(), 0)
			if r = run("", "users", "list", "--json"); r.Exit != 0 || !strings.Contains(r.Stdout, `"username": "alice"`) {
				t.Fatalf("users list after migrate up: exit %d %q %q", r.Exit, r.Stdout, r.Stderr)
			}

			// A migration of a newer version: refused, naming it, even with --yes.
			const newer = "29991231000001"
			if _, err := db.ExecContext(ctx, "INSERT INTO gatehouse_migrations (name, group_id, migrated_at) "+
				"SELECT ?, MAX(group_id) + 1, ? FROM gatehouse_migrations", newer, time.Now().UTC()); err != nil {
				t.Fatalf("record a newer migration: %v", err)
			}
			// status lists it, marked; up says the database holds it, and changes nothing.
			if rows := status(); rows[len(rows)-1] != (migrationRow{Name: newer, Applied: true, Unknown: true}) {
				t.Errorf("migrate status does not end with the newer migration: %+v", rows[len(rows)-1])
			}
			if r = run("", "migrate", "status"); !strings.Contains(r.Stdout, "applied  "+newer+" (unknown to this version: a newer gatehouse applied it)\n") {
				t.Errorf("migrate status:\n%s", r.Stdout)
			}
			if r = run("", "migrate", "up"); r.Exit != 0 || r.Stdout != "schema was already up to date\n" ||
				r.Stderr != "gatehouse: note: the database also holds migration "+newer+", applied by a newer version of gatehouse\n" {
				t.Errorf("migrate up under a newer migration: exit %d %q %q", r.Exit, r.Stdout, r.Stderr)
			}
			r = run("", "migrate", "down", "--yes")
			wantUsage(t, "migrate down under a newer migration", r.Stdout, r.Stderr, r.Exit,
				"the database holds migration "+newer+", which this gatehouse", "a newer version applied it")
			if _, err := db.ExecContext(ctx, "DELETE FROM gatehouse_migrations WHERE name = ?", newer); err != nil {
				t.Fatal(err)
			}
			wantPending(status(), 0)
		})
	}
}
