package bunrepo_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

// TestUsersByID_EveryListLength reads lists of every length from 1 to 300 ids, some
// unknown and some twice, and requires exactly the users that exist, on every
// backend. On SQLite the reads go through statements prepared per power-of-two
// length, padded with a repeated key: at most nine shapes, and a list longer than
// the longest prepared one is formatted as before.
func TestUsersByID_EveryListLength(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := bunrepotest.Open(t, url)
			users := bunrepo.NewUserRepository(db)
			now := time.Now().UTC().Truncate(time.Second)
			var ids []string
			for i := range 150 {
				id := fmt.Sprintf("user-%03d", i)
				if err := users.CreateUser(t.Context(), domain.User{ID: id, Username: id, PasswordHash: "x",
					CreatedAt: now, UpdatedAt: now}); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			for n := 1; n <= 300; n++ {
				var ask []string
				want := map[string]bool{}
				for i := range n {
					switch {
					case i%7 == 3:
						ask = append(ask, fmt.Sprintf("nobody-%d", i))
					case i%11 == 5 && i > 0:
						ask = append(ask, ask[0]) // asked twice
						if id := ask[0]; slices.Contains(ids, id) {
							want[id] = true
						}
					default:
						id := ids[(i*37+n)%len(ids)]
						ask = append(ask, id)
						want[id] = true
					}
				}
				got, err := users.UsersByID(t.Context(), ask)
				if err != nil {
					t.Fatalf("%d ids: %v", n, err)
				}
				if len(got) != len(want) {
					t.Fatalf("%d ids: got %d users, want %d", n, len(got), len(want))
				}
				for id := range want {
					if got[id].Username != id {
						t.Fatalf("%d ids: user %q read as %+v", n, id, got[id])
					}
				}
			}
			prepared := bunrepo.PreparedReads(users)
			if name == "sqlite" && prepared != 9 {
				t.Fatalf("SQLite prepared %d statements for lists of 1 to 300 ids, want 9 (1, 2, 4 … 256)", prepared)
			}
			if name != "sqlite" && prepared != 0 {
				t.Fatalf("%s prepared %d statements, want none", name, prepared)
			}
		})
	}
}

// TestAccessTokensRevoked_EveryListLength answers batches of 1 to 120 revocation
// checks at once, mixing jtis on the deny-list, revoked and live families and
// principals revoked before or after a token's issue, and requires each check's own
// answer on every backend. On SQLite the batch goes through one statement prepared
// per choice of tables and power-of-two length, every list padded to that length. A
// key that is revoked in one role (a family) must not revoke a check that names it in
// another (a jti).
func TestAccessTokensRevoked_EveryListLength(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := bunrepotest.Open(t, url)
			tokens := bunrepo.NewTokenRepository(db, bunrepo.NewTxWriter(db))
			ctx := t.Context()
			base := time.Now().UTC().Truncate(time.Second)
			for i := range 40 {
				if i%3 == 0 {
					if err := tokens.RevokeAccessToken(ctx, domain.RevokedAccessToken{JTI: fmt.Sprint("jti-", i),
						ExpiresAt: base.Add(time.Hour)}); err != nil {
						t.Fatal(err)
					}
				}
				if i%4 == 1 {
					if err := tokens.RevokeFamily(ctx, fmt.Sprint("fam-", i), base); err != nil {
						t.Fatal(err)
					}
				}
				if i%5 == 2 {
					at := base
					if err := tokens.RevokePrincipal(ctx, domain.PrincipalRevocation{ID: fmt.Sprint("sub-", i),
						RevokedAt: &at}); err != nil {
						t.Fatal(err)
					}
				}
			}
			// "fam-1" is a revoked family and nothing else: as a jti it is live.
			want := func(c usecase.RevocationCheck) bool {
				num := func(prefix, s string) int {
					var n int
					if _, err := fmt.Sscanf(s, prefix+"%d", &n); err != nil {
						return -1
					}
					return n
				}
				j, f, s := num("jti-", c.JTI), num("fam-", c.FamilyID), num("sub-", c.Subject)
				return j >= 0 && j%3 == 0 || f >= 0 && f%4 == 1 || s >= 0 && s%5 == 2 && !c.IssuedAt.After(base)
			}
			// The shapes SQLite must prepare: which lists are not empty, and the
			// power of two at or above the longest list of distinct keys.
			shapes := map[[4]int]bool{}
			shapeOf := func(checks []usecase.RevocationCheck) [4]int {
				p, j, f := map[string]bool{}, map[string]bool{}, map[string]bool{}
				for _, c := range checks {
					j[c.JTI] = true
					p[c.Subject], p[c.ClientID] = true, true
					if c.FamilyID != "" {
						f[c.FamilyID] = true
					}
				}
				delete(p, "")
				longest := max(len(p), len(j), len(f))
				pow := 1
				for pow < longest {
					pow *= 2
				}
				return [4]int{min(len(p), 1), min(len(j), 1), min(len(f), 1), pow}
			}
			for n := 1; n <= 120; n++ {
				checks := make([]usecase.RevocationCheck, n)
				for i := range checks {
					k := (i*13 + n) % 40
					c := usecase.RevocationCheck{JTI: fmt.Sprint("jti-", k), ClientID: "client-live", IssuedAt: base.Add(-time.Minute)}
					switch i % 4 {
					case 1:
						c.FamilyID = fmt.Sprint("fam-", (k+1)%40)
						c.Subject = fmt.Sprint("sub-", (k+2)%40)
					case 2:
						c.JTI = fmt.Sprint("fam-", k) // a family's id asked as a jti
						c.Subject = fmt.Sprint("sub-", k)
						c.IssuedAt = base.Add(time.Minute) // after any principal's revocation
					case 3:
						c = checks[i/2] // asked twice in one batch
					}
					checks[i] = c
				}
				shapes[shapeOf(checks)] = true
				got, err := tokens.AccessTokensRevoked(ctx, checks)
				if err != nil {
					t.Fatalf("%d checks: %v", n, err)
				}
				for i, c := range checks {
					if got[i] != want(c) {
						t.Fatalf("%d checks: check %d %+v answered revoked=%v", n, i, c, got[i])
					}
				}
			}
			prepared := bunrepo.PreparedRevocationReads(tokens)
			if name == "sqlite" && prepared != len(shapes) {
				t.Fatalf("SQLite prepared %d statements, want %d (one per choice of tables and power-of-two length)", prepared, len(shapes))
			}
			if name != "sqlite" && prepared != 0 {
				t.Fatalf("%s prepared %d statements, want none", name, prepared)
			}
		})
	}
}
