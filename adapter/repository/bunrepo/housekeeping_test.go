package bunrepo_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

// TestHousekeeping: expired rows go in batches, live ones stay, on every backend: tokens,
// deny-list entries, signing keys, mailed links and sessions.
func TestHousekeeping(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := bunrepotest.Open(t, url)
			now := time.Now().UTC().Truncate(time.Millisecond)
			users, clients := bunrepo.NewUserRepository(db), bunrepo.NewClientRepository(db)
			tokens := bunrepo.NewTokenRepository(db, bunrepo.NewTxWriter(db))
			if err := users.CreateUser(ctx, domain.User{ID: "u1", Username: "u1", PasswordHash: "x", CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if err := clients.CreateClient(ctx, domain.Client{ID: "c1", Name: "c1", GrantTypes: []string{"refresh_token"}, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			// 7 expired families with one expired token each, 1 live family.
			for i := 0; i < 8; i++ {
				exp := now.Add(-48 * time.Hour)
				if i == 7 {
					exp = now.Add(time.Hour)
				}
				fam := usecase.TokenFamily{ID: "f" + string(rune('a'+i)), ClientID: "c1", UserID: "u1", CreatedAt: exp.Add(-time.Hour), ExpiresAt: exp}
				rt := domain.RefreshToken{Hash: []byte{byte(i), 1, 2, 3}, FamilyID: fam.ID, ClientID: "c1", UserID: "u1", CreatedAt: fam.CreatedAt, ExpiresAt: exp}
				if err := tokens.CreateFamily(ctx, fam, &rt); err != nil {
					t.Fatal(err)
				}
			}
			// Two families without an expiry or a token: one past the retention since its
			// creation (goes), one not (stays).
			for id, created := range map[string]time.Time{"f-old-open": now.Add(-48 * time.Hour), "f-new-open": now.Add(-time.Hour)} {
				if err := tokens.CreateFamily(ctx, usecase.TokenFamily{ID: id, ClientID: "c1", UserID: "u1", CreatedAt: created}, nil); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 5; i++ {
				jti := "jti" + string(rune('a'+i))
				if err := tokens.RevokeAccessToken(ctx, domain.RevokedAccessToken{JTI: jti, ExpiresAt: now.Add(-time.Minute)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := tokens.RevokeAccessToken(ctx, domain.RevokedAccessToken{JTI: "live", ExpiresAt: now.Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
			keys := bunrepo.NewKeyRepository(db)
			gone, kept := now.Add(-25*time.Hour), now.Add(-23*time.Hour)
			for id, exp := range map[string]*time.Time{"k-gone": &gone, "k-kept": &kept, "k-active": nil} {
				k := domain.SigningKey{ID: id, Alg: domain.AlgEdDSA, PrivateKey: []byte{1}, PublicKey: []byte{2},
					CreatedAt: now.Add(-72 * time.Hour), ExpiresAt: exp}
				if exp != nil {
					retired := now.Add(-48 * time.Hour)
					k.RetiredAt = &retired
				}
				if err := keys.CreateKey(ctx, k); err != nil {
					t.Fatal(err)
				}
			}
			// 3 expired mailed links and sessions, 1 live of each.
			accounts, sessions := bunrepo.NewAccountRepository(db), bunrepo.NewSessionRepository(db)
			for i := 0; i < 4; i++ {
				exp := now.Add(-time.Minute)
				if i == 3 {
					exp = now.Add(time.Minute)
				}
				// One user per link: a user's newer link of a purpose voids the older.
				uid := "mail-" + string(rune('a'+i))
				if err := users.CreateUser(ctx, domain.User{ID: uid, Username: uid, PasswordHash: "x", CreatedAt: now, UpdatedAt: now}); err != nil {
					t.Fatal(err)
				}
				if err := accounts.CreateEmailToken(ctx, domain.EmailToken{Hash: []byte{9, byte(i)}, UserID: uid,
					Purpose: domain.PurposeResetPassword, Email: uid + "@example.com", CreatedAt: exp.Add(-time.Hour), ExpiresAt: exp}); err != nil {
					t.Fatal(err)
				}
				if err := sessions.CreateSession(ctx, domain.Session{ID: "s" + string(rune('a'+i)), SecretHash: []byte{8, byte(i)},
					UserID: "u1", AuthTime: exp.Add(-time.Hour), CreatedAt: exp.Add(-time.Hour), ExpiresAt: exp}); err != nil {
					t.Fatal(err)
				}
			}
			deleted, err := bunrepo.NewHousekeeper(db).PurgeExpired(ctx, now, 2) // tiny batches: the loop must go on
			if err != nil {
				t.Fatal(err)
			}
			if deleted["refresh_tokens"] != 7 || deleted["token_families"] != 8 || deleted["revoked_access_tokens"] != 5 {
				t.Fatalf("deleted %v, want 7 refresh tokens, 8 families, 5 deny-list entries", deleted)
			}
			var open []string
			if err := db.NewRaw("SELECT id FROM token_families WHERE expires_at IS NULL").Scan(ctx, &open); err != nil ||
				len(open) != 1 || open[0] != "f-new-open" {
				t.Fatalf("families without an expiry left: %v %v, want f-new-open", open, err)
			}
			if deleted["email_tokens"] != 3 || deleted["sessions"] != 3 {
				t.Fatalf("deleted %v, want 3 expired mailed links and 3 dead sessions", deleted)
			}
			if _, err := accounts.EmailToken(ctx, []byte{9, 3}); err != nil {
				t.Fatalf("a live mailed link was purged: %v", err)
			}
			if _, err := sessions.SessionByHash(ctx, []byte{8, 3}); err != nil {
				t.Fatalf("a live session was purged: %v", err)
			}
			if deleted["signing_keys"] != 1 {
				t.Fatalf("deleted %d signing keys, want 1 (out of the JWKS for more than a day)", deleted["signing_keys"])
			}
			if left, err := keys.ListKeys(ctx); err != nil || len(left) != 2 {
				t.Fatalf("signing keys left: %v %v, want k-kept and k-active", left, err)
			}
			if ok, err := tokens.AccessTokenRevoked(ctx, usecase.RevocationCheck{JTI: "live"}); err != nil || !ok {
				t.Fatalf("a live deny-list entry was purged: %v %v", ok, err)
			}
			if _, err := tokens.RefreshTokenByHash(ctx, []byte{7, 1, 2, 3}); err != nil {
				t.Fatalf("a live refresh token was purged: %v", err)
			}
			again, err := bunrepo.NewHousekeeper(db).PurgeExpired(ctx, now, 2)
			if err != nil {
				t.Fatal(err)
			}
			for table, n := range again {
				if n != 0 {
					t.Errorf("second purge deleted %d from %s", n, table)
				}
			}
		})
	}
}

// TestLeases: one holder at a time, renewal by the holder, takeover after expiry.
func TestLeases(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			leases := bunrepo.NewLeaseRepository(bunrepotest.Open(t, url))
			now := time.Now().UTC()
			var wins atomic.Int32
			var wg sync.WaitGroup
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, err := leases.AcquireLease(ctx, "job", "holder-"+string(rune('a'+i)), now, time.Minute)
					if err != nil {
						t.Errorf("acquire: %v", err)
					}
					if ok {
						wins.Add(1)
					}
				}()
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%d instances hold the lease, want 1", wins.Load())
			}
			if ok, _ := leases.AcquireLease(ctx, "job", "outsider", now.Add(30*time.Second), time.Minute); ok {
				t.Fatal("a live lease was taken over")
			}
			if ok, _ := leases.AcquireLease(ctx, "job", "outsider", now.Add(2*time.Minute), time.Minute); !ok {
				t.Fatal("a lapsed lease was not taken over")
			}
			if err := leases.ReleaseLease(ctx, "job", "outsider"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := leases.AcquireLease(ctx, "job", "next", now.Add(2*time.Minute), time.Minute); !ok {
				t.Fatal("a released lease was not free")
			}
		})
	}
}
