package bunrepo_test

import (
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
)

// TestMigration_ClientPostLogoutRedirectURIs upgrades a database holding a client
// from the release before post-logout redirect URIs: the old client reads back
// with none, new clients keep theirs, and the migration undoes and redoes cleanly,
// on every backend.
func TestMigration_ClientPostLogoutRedirectURIs(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := openAtRelease(t, url, "20260304000001")
			now := time.Now().UTC().Truncate(time.Second)
			// A row as the previous release wrote it: no post_logout_redirect_uris column.
			if _, err := db.ExecContext(ctx, `INSERT INTO clients (id, name, secret_hash, public, redirect_uris, grant_types,
				scopes, audiences, skip_consent, id_token_alg, created_at, updated_at)
				VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				"old", "old client", true, `["https://old.example/cb"]`, `["authorization_code"]`, `["openid"]`, `[]`,
				false, "RS256", now, now); err != nil {
				t.Fatalf("insert a client of the previous release: %v", err)
			}

			for round := range 2 { // the second round after a rollback of this migration
				if err := bunrepo.Migrate(ctx, db); err != nil {
					t.Fatalf("round %d: migrate: %v", round, err)
				}
				clients := bunrepo.NewClientRepository(db)
				old, err := clients.ClientByID(ctx, "old")
				if err != nil {
					t.Fatalf("round %d: read the old client: %v", round, err)
				}
				if len(old.PostLogoutRedirectURIs) != 0 || len(old.RedirectURIs) != 1 || !old.Public {
					t.Errorf("round %d: old client read back as %+v", round, old)
				}
				c := domain.Client{ID: "new" + string(rune('a'+round)), Name: "new client " + string(rune('a'+round)),
					Public: true, GrantTypes: []string{domain.GrantAuthorizationCode},
					RedirectURIs:           []string{"https://new.example/cb"},
					PostLogoutRedirectURIs: []string{"https://new.example/bye", "https://new.example/bye?x=1"},
					CreatedAt:              now, UpdatedAt: now}
				if err := clients.CreateClient(ctx, c); err != nil {
					t.Fatalf("round %d: create: %v", round, err)
				}
				got, err := clients.ClientByID(ctx, c.ID)
				if err != nil || len(got.PostLogoutRedirectURIs) != 2 || got.PostLogoutRedirectURIs[1] != "https://new.example/bye?x=1" {
					t.Fatalf("round %d: new client read back as %+v, %v", round, got, err)
				}
				if round == 1 {
					break
				}
				// Down: only this migration's group goes; the column with it.
				if err := bunrepo.Rollback(ctx, db); err != nil {
					t.Fatalf("roll back: %v", err)
				}
				if _, err := clients.ClientByID(ctx, "old"); err == nil {
					t.Fatal("the column survived the rollback")
				}
				var n int
				if err := db.NewRaw("SELECT COUNT(*) FROM clients").Scan(ctx, &n); err != nil || n != 2 {
					t.Fatalf("after the rollback: %d clients, %v; want both rows kept", n, err)
				}
			}
		})
	}
}
