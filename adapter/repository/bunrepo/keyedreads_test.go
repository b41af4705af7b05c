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
