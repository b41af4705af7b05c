package bunrepo_test

import (
	"errors"
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
)

// TestMigration_RedirectURIConsents upgrades a database holding consents from the
// release before consents per redirect URI: a confidential client's consent is kept
// (for every URI), a public client's is deleted (nobody knows which program it was
// given to); afterwards a public client's consents are kept per exact URI, with
// foreign keys and cascades, while the previous release can still save consents as it
// did (a rolling upgrade). The down step drops the new table and keeps consents, on
// every backend.
func TestMigration_RedirectURIConsents(t *testing.T) {
	const (
		before = "20260311999999" // every migration before this one, whoever added it
		cb1    = "http://127.0.0.1:41001/cb"
		cb2    = "http://127.0.0.1:41002/cb"
	)
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := openAtRelease(t, url, before)
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
			// Rows as the previous release writes them.
			addUser := func(id string) {
				t.Helper()
				mustExec("insert user "+id, `INSERT INTO users (id, username, email, email_verified, password_hash, created_at, updated_at)
					VALUES (?, ?, NULL, ?, ?, ?, ?)`, id, "name-"+id, false, "hash", now, now)
			}
			addClient := func(id string, public bool) {
				t.Helper()
				mustExec("insert client "+id, `INSERT INTO clients (id, name, secret_hash, public, redirect_uris, grant_types,
					scopes, audiences, skip_consent, id_token_alg, created_at, updated_at)
					VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					id, "client "+id, public, `["http://127.0.0.1/cb"]`, `["authorization_code"]`, `["openid","profile"]`, `[]`,
					false, "RS256", now, now)
			}
			upsert := "ON CONFLICT (user_id, client_id) DO UPDATE SET scope = EXCLUDED.scope, granted_at = EXCLUDED.granted_at"
			if name == "mysql" {
				upsert = "ON DUPLICATE KEY UPDATE scope = VALUES(scope), granted_at = VALUES(granted_at)"
			}
			oldSave := func(user, client string) error {
				return exec(`INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES (?, ?, ?, ?) `+upsert,
					user, client, `["openid","profile"]`, now)
			}
			addUser("u1")
			addClient("conf", false)
			addClient("pub", true)
			for _, c := range []string{"conf", "pub"} {
				if err := oldSave("u1", c); err != nil {
					t.Fatalf("save a consent as the previous release: %v", err)
				}
			}

			consents := bunrepo.NewConsentRepository(db)
			for round := range 2 { // the second round after a rollback of this migration
				if err := bunrepo.Migrate(ctx, db); err != nil {
					t.Fatalf("round %d: migrate: %v", round, err)
				}
				got, err := consents.ConsentFor(ctx, "u1", "conf", "")
				if err != nil || got.RedirectURI != "" || len(got.Scope) != 2 || !got.GrantedAt.Equal(now) {
					t.Fatalf("round %d: the confidential client's consent read back as %+v, %v", round, got, err)
				}
				if n := count("SELECT COUNT(*) FROM consents WHERE client_id = ?", "pub"); n != 0 {
					t.Errorf("round %d: %d consents of the public client left, want them deleted", round, n)
				}
				for _, uri := range []string{"", cb1} {
					if _, err := consents.ConsentFor(ctx, "u1", "pub", uri); !errors.Is(err, domain.ErrNotFound) {
						t.Errorf("round %d: the public client's old consent answers for %q: %v", round, uri, err)
					}
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
				if n := count("SELECT COUNT(*) FROM redirect_uri_consents WHERE user_id = ?", "u1"); n != 2 {
					t.Errorf("round %d: %d consents bound to a redirect URI, want 2", round, n)
				}
				// An instance of the previous release still saves consents as it did.
				if err := oldSave("u1", "conf"); err != nil {
					t.Errorf("round %d: the previous release's save after the migration: %v", round, err)
				}
				// Foreign keys and their cascades.
				if err := consents.SaveConsent(ctx, domain.Consent{UserID: "nobody", ClientID: "pub", RedirectURI: cb1, GrantedAt: now}); !errors.Is(err, domain.ErrNotFound) {
					t.Errorf("round %d: a consent of an unknown user: %v, want ErrNotFound (foreign key)", round, err)
				}
				user, client := "u-gone-"+string(rune('a'+round)), "c-gone-"+string(rune('a'+round))
				addUser(user)
				addClient(client, true)
				for _, uc := range [][2]string{{user, "pub"}, {"u1", client}} {
					if err := consents.SaveConsent(ctx, domain.Consent{UserID: uc[0], ClientID: uc[1], RedirectURI: cb1, GrantedAt: now}); err != nil {
						t.Fatal(err)
					}
				}
				mustExec("delete user", "DELETE FROM users WHERE id = ?", user)
				mustExec("delete client", "DELETE FROM clients WHERE id = ?", client)
				if n := count("SELECT COUNT(*) FROM redirect_uri_consents WHERE user_id = ? OR client_id = ?", user, client); n != 0 {
					t.Errorf("round %d: %d consents of a deleted user or client left", round, n)
				}
				if round == 1 {
					break
				}

				// Down: only this migration's group goes, the table with it; consents stays.
				if err := bunrepo.Rollback(ctx, db); err != nil {
					t.Fatalf("roll back: %v", err)
				}
				if _, err := consents.ConsentFor(ctx, "u1", "pub", cb1); err == nil || errors.Is(err, domain.ErrNotFound) {
					t.Fatalf("after the rollback: %v, want the table gone", err)
				}
				if _, err := consents.ConsentFor(ctx, "u1", "conf", ""); err != nil {
					t.Fatalf("after the rollback: the confidential client's consent: %v", err)
				}
				// The previous release again, consenting to the public client its way; the
				// next up deletes that consent as it did the first.
				if err := oldSave("u1", "pub"); err != nil {
					t.Fatalf("after the rollback: %v", err)
				}
			}
		})
	}
}
