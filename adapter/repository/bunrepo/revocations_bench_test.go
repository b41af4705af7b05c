package bunrepo_test

import (
	"fmt"
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

// BenchmarkAccessTokenRevoked is the revocation check of every introspection and
// userinfo call (TokenStore.AccessTokenRevoked), from many callers at once as under
// load, on each reachable backend: a jti not on the deny-list, a family that exists
// and is live, a user and a client not on the principals' deny-list (which holds one
// entry of another user).
func BenchmarkAccessTokenRevoked(b *testing.B) {
	for name, url := range dbtest.All(b) {
		db := bunrepotest.Open(b, url)
		tokens := bunrepo.NewTokenRepository(db, bunrepo.NewConnGate(db))
		now := time.Now()
		fams := make([]string, 64)
		for i := range fams {
			fams[i] = fmt.Sprintf("fam-%d", i)
			if err := tokens.CreateFamily(b.Context(), usecase.TokenFamily{ID: fams[i], ClientID: "c", UserID: "u",
				CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, nil); err != nil {
				b.Fatal(err)
			}
		}
		other := time.Now()
		if err := tokens.RevokePrincipal(b.Context(), domain.PrincipalRevocation{ID: "u-other", RevokedAt: &other}); err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(16) // many requests at once, as under load: the checks share queries
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					revoked, err := tokens.AccessTokenRevoked(b.Context(), usecase.RevocationCheck{JTI: fmt.Sprint("jti-", i),
						FamilyID: fams[i%len(fams)], Subject: "u", ClientID: "c", IssuedAt: now})
					if err != nil || revoked {
						b.Fatalf("revoked %v, err %v", revoked, err)
					}
				}
			})
		})
	}
}
