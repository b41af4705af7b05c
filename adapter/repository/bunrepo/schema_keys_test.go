package bunrepo_test

import (
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

// TestMigration_SigningKeyActivatesAt upgrades a database holding a signing key from
// the release before activation times: the old key reads back as signing from the
// start, a delayed rotation of it works, and the migration undoes (keeping the rows)
// and redoes cleanly, on every backend.
func TestMigration_SigningKeyActivatesAt(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := openAtRelease(t, url, "20260305000001")
			now := time.Now().UTC().Truncate(time.Second)
			// A row as the previous release wrote it: no activates_at column.
			if _, err := db.ExecContext(ctx, `INSERT INTO signing_keys (id, alg, active_alg, private_key, public_key,
				created_at, retired_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)`,
				"old-kid", "ES256", "ES256", []byte("sealed"), []byte("public"), now.Add(-time.Hour)); err != nil {
				t.Fatalf("insert a key of the previous release: %v", err)
			}

			for round := range 2 { // the second round after a rollback of this migration
				if err := bunrepo.Migrate(ctx, db); err != nil {
					t.Fatalf("round %d: migrate: %v", round, err)
				}
				keys := bunrepo.NewKeyRepository(db)
				list, err := keys.ListKeys(ctx)
				if err != nil {
					t.Fatalf("round %d: list keys: %v", round, err)
				}
				var old domain.SigningKey
				for _, k := range list {
					if k.ID == "old-kid" {
						old = k
					}
				}
				if round == 0 {
					if old.ID == "" || !old.ActivatesAt.IsZero() || !old.Current() || !old.SignsAt(now) ||
						!old.ActivationTime().Equal(now.Add(-time.Hour)) {
						t.Fatalf("old key read back as %+v", old)
					}
				}
				cur, _ := domain.CurrentKey(list, "ES256")
				activates := now.Add(time.Duration(round+1) * time.Minute)
				next := domain.SigningKey{ID: "next-" + string(rune('a'+round)), Alg: "ES256", PrivateKey: []byte("s"),
					PublicKey: []byte("p"), CreatedAt: now, ActivatesAt: activates}
				if err := keys.RotateKey(ctx, usecase.KeyRotation{Key: next, Now: now, OldExpiresAt: activates.Add(time.Hour)}); err != nil {
					t.Fatalf("round %d: delayed rotation: %v", round, err)
				}
				list, err = keys.ListKeys(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if k, ok := domain.SigningKeyAt(list, "ES256", now); !ok || k.ID != cur.ID {
					t.Errorf("round %d: before activation %s signs, want %s", round, k.ID, cur.ID)
				}
				if k, ok := domain.SigningKeyAt(list, "ES256", activates); !ok || k.ID != next.ID {
					t.Errorf("round %d: at activation %s signs, want %s", round, k.ID, next.ID)
				}
				if round == 1 {
					break
				}
				// Down: only this migration's group goes; the column with it.
				if err := bunrepo.Rollback(ctx, db); err != nil {
					t.Fatalf("roll back: %v", err)
				}
				if _, err := keys.ListKeys(ctx); err == nil {
					t.Fatal("the column survived the rollback")
				}
				var n int
				if err := db.NewRaw("SELECT COUNT(*) FROM signing_keys").Scan(ctx, &n); err != nil || n != 2 {
					t.Fatalf("after the rollback: %d keys, %v; want both rows kept", n, err)
				}
			}
		})
	}
}
