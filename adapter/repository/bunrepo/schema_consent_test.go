package bunrepo_test

import (
	"errors"
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/infrastructure/database"
	"gatehouse/infrastructure/database/dbtest"
)

// TestMigration_ConsentsPerRedirectURI upgrades a database holding consents from the
// release before consents per redirect URI: a confidential client's consent is kept
// (for every URI), a public client's is dropped (nobody knows which program it was
// given to); afterwards a public client's consents are kept per exact URI. The down
// step keeps the confidential consents, drops the per-URI ones, and restores the key
// of one consent per user and client; foreign keys and their cascades survive both
// ways, on every backend (SQLite rebuilds the table).
func TestMigration_ConsentsPerRedirectURI(t *testing.T) {
	const (
		before = "20260311999999" // every migration before this one, whoever added it
		cb1    = "http://127.0.0.1:41001/cb"
		cb2    = "http://127.0.0.1:41002/cb"
	)
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db, closeDB, err := database.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(closeDB)
			if err := bunrepo.MigrateUpTo(ctx, db, before); err != nil {
				t.Fatalf("migrate to the previous release: %v", err)
			}
			now := time.Now().UTC().Truncate(time.Second)
			exec := func(query string, args ...any) error {
				_, err := db.ExecContext(ctx, query, args...)
				return err
			}
			mustExec := func(what, query string, args ...any) {
				t.Helper()
				if err := exec(query, args...); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			count := func(query string, args ...any) int {
				t.Helper()
				var n int
				if err := db.NewRaw(query, args...).Scan(ctx, &n); err != nil {
					t.Fatalf("%s: %v", query, err)
				}
				return n
			}
			// Rows as the previous release wrote them.
			addUser := func(id string) {
				mustExec("insert user "+id, `INSERT INTO users (id, username, email, email_verified, password_hash, created_at, updated_at)
					VALUES (?, ?, NULL, ?, ?, ?, ?)`, id, "name-"+id, false, "hash", now, now)
			}
			addClient := func(id string, public bool) {
				mustExec("insert client "+id, `INSERT INTO clients (id, name, secret_hash, public, redirect_uris, grant_types,
					scopes, audiences, skip_consent, id_token_alg, created_at, updated_at)
					VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					id, "client "+id, public, `["http://127.0.0.1/cb"]`, `["authorization_code"]`, `["openid","profile"]`, `[]`,
					false, "RS256", now, now)
			}
			oldConsent := func(user, client string) error {
				return exec(`INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES (?, ?, ?, ?)`,
					user, client, `["openid","profile"]`, now)
			}
			for _, u := range []string{"u1", "u-gone"} {
				addUser(u)
			}
			addClient("conf", false)
			addClient("pub", true)
			addClient("c-gone", false)
			for _, uc := range [][2]string{{"u1", "conf"}, {"u1", "pub"}, {"u-gone", "conf"}, {"u1", "c-gone"}} {
				if err := oldConsent(uc[0], uc[1]); err != nil {
					t.Fatalf("insert a consent of the previous release: %v", err)
				}
			}

			// The index on client_id (the client foreign key's) is there after each step,
			// and the table SQLite rebuilds from is gone.
			wantIndexAndNoLeftover := func(step string) {
				t.Helper()
				q := map[string]string{
					"sqlite":   "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'consents' AND name = ?",
					"postgres": "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'consents' AND indexname = ?",
					"mysql": "SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics" +
						" WHERE table_schema = DATABASE() AND table_name = 'consents' AND index_name = ?",
				}[name]
				if n := count(q, "consents_client_id_idx"); n != 1 {
					t.Errorf("%s: %d indexes consents_client_id_idx, want 1", step, n)
				}
				if err := exec("SELECT 1 FROM consents_old"); err == nil {
					t.Errorf("%s: the table consents_old is left", step)
				}
			}
			consents := bunrepo.NewConsentRepository(db)
			for round := range 2 { // the second round after a rollback of this migration
				if err := bunrepo.Migrate(ctx, db); err != nil {
					t.Fatalf("round %d: migrate: %v", round, err)
				}
				wantIndexAndNoLeftover("up")
				got, err := consents.ConsentFor(ctx, "u1", "conf", "")
				if err != nil || got.RedirectURI != "" || len(got.Scope) != 2 || !got.GrantedAt.Equal(now) {
					t.Fatalf("round %d: the confidential client's consent read back as %+v, %v", round, got, err)
				}
				for _, uri := range []string{"", cb1} {
					if _, err := consents.ConsentFor(ctx, "u1", "pub", uri); !errors.Is(err, domain.ErrNotFound) {
						t.Errorf("round %d: the public client's old consent answers for %q: %v", round, uri, err)
					}
				}
				if n := count("SELECT COUNT(*) FROM consents WHERE client_id = ?", "pub"); n != 0 {
					t.Errorf("round %d: %d consents of the public client left, want them deleted", round, n)
				}
				// Per exact URI from now on, side by side for one user and client.
				for _, uri := range []string{cb1, cb2} {
					c := domain.Consent{UserID: "u1", ClientID: "pub", RedirectURI: uri, Scope: []string{"openid"}, GrantedAt: now}
					if err := consents.SaveConsent(ctx, c); err != nil {
						t.Fatalf("round %d: save a consent at %s: %v", round, uri, err)
					}
				}
				if got, err := consents.ConsentFor(ctx, "u1", "pub", cb2); err != nil || got.RedirectURI != cb2 {
					t.Fatalf("round %d: the consent at %s read back as %+v, %v", round, cb2, got, err)
				}
				// The new key refuses a duplicate; the foreign keys still hold.
				if err := exec(`INSERT INTO consents (user_id, client_id, redirect_uri_hash, redirect_uri, scope, granted_at)
					SELECT user_id, client_id, redirect_uri_hash, redirect_uri, scope, granted_at FROM consents
					WHERE user_id = ? AND client_id = ?`, "u1", "conf"); err == nil {
					t.Errorf("round %d: a second row with the same key was stored", round)
				}
				if err := consents.SaveConsent(ctx, domain.Consent{UserID: "nobody", ClientID: "conf", GrantedAt: now}); !errors.Is(err, domain.ErrNotFound) {
					t.Errorf("round %d: a consent of an unknown user: %v, want ErrNotFound (foreign key)", round, err)
				}
				if round == 0 {
					// Cascades: deleting a user or a client deletes their consents.
					mustExec("delete user", "DELETE FROM users WHERE id = ?", "u-gone")
					mustExec("delete client", "DELETE FROM clients WHERE id = ?", "c-gone")
					if n := count("SELECT COUNT(*) FROM consents WHERE user_id = ? OR client_id = ?", "u-gone", "c-gone"); n != 0 {
						t.Errorf("%d consents of a deleted user or client left", n)
					}
				}
				if round == 1 {
					break
				}

				// Down: only this migration's group goes. The per-URI consents go with it,
				// the confidential client's stays, under the old key.
				if err := bunrepo.Rollback(ctx, db); err != nil {
					t.Fatalf("roll back: %v", err)
				}
				if _, err := consents.ConsentFor(ctx, "u1", "conf", ""); err == nil {
					t.Fatal("the redirect URI columns survived the rollback")
				}
				wantIndexAndNoLeftover("down")
				var rows []struct {
					UserID   string `bun:"user_id"`
					ClientID string `bun:"client_id"`
				}
				if err := db.NewRaw("SELECT user_id, client_id FROM consents").Scan(ctx, &rows); err != nil {
					t.Fatal(err)
				}
				if len(rows) != 1 || rows[0].UserID != "u1" || rows[0].ClientID != "conf" {
					t.Fatalf("after the rollback: consents %+v, want only u1's for conf", rows)
				}
				if err := oldConsent("u1", "conf"); err == nil {
					t.Error("after the rollback: a second consent of one user and client was stored")
				}
				if err := oldConsent("u1", "pub"); err != nil {
					t.Errorf("after the rollback: a consent as the previous release writes it: %v", err)
				}
				addUser("u-gone")
				if err := oldConsent("u-gone", "conf"); err != nil {
					t.Fatal(err)
				}
				mustExec("delete user", "DELETE FROM users WHERE id = ?", "u-gone")
				if n := count("SELECT COUNT(*) FROM consents WHERE user_id = ?", "u-gone"); n != 0 {
					t.Error("after the rollback: a deleted user's consent is left (no cascade)")
				}
				if err := oldConsent("nobody", "conf"); err == nil {
					t.Error("after the rollback: a consent of an unknown user was stored (no foreign key)")
				}
			}
		})
	}
}
