package batchrepo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"gatehouse/adapter/repository/batchrepo"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

// TestRevocationChecksBatched: many concurrent checks each get their own right
// answer (deny-listed jti, revoked family, live), on every backend, and share
// queries: fewer run than were asked.
func TestRevocationChecksBatched(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := bunrepotest.Open(t, url)
			now := time.Now().UTC().Truncate(time.Millisecond)
			tokens := batchrepo.NewTokens(bunrepo.NewTokenRepository(db, bunrepo.NewTxWriter(db)), batchrepo.NewGroupCommit(db), db)
			const n = 300
			want := make([]bool, n)
			fams := make([]string, n)
			for i := range n {
				switch i % 3 {
				case 0: // deny-listed jti
					if err := tokens.RevokeAccessToken(ctx, domain.RevokedAccessToken{JTI: fmt.Sprint("jti-", i), ExpiresAt: now.Add(time.Hour)}); err != nil {
						t.Fatal(err)
					}
					want[i] = true
				case 1: // revoked family (a placeholder row is enough)
					fams[i] = fmt.Sprint("fam-", i)
					if err := tokens.RevokeFamily(ctx, fams[i], now); err != nil {
						t.Fatal(err)
					}
					want[i] = true
				case 2: // live, with a family nobody revoked
					fams[i] = fmt.Sprint("live-", i)
				}
			}
			before := batchrepo.RevocationQueries(tokens)
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					got, err := tokens.AccessTokenRevoked(ctx, usecase.RevocationCheck{JTI: fmt.Sprint("jti-", i), FamilyID: fams[i]})
					if err != nil {
						errs <- err
					} else if got != want[i] {
						errs <- fmt.Errorf("check %d: revoked = %v, want %v", i, got, want[i])
					}
				})
			}
			wg.Wait()
			checkShared(t, errs, n, batchrepo.RevocationQueries(tokens)-before)
		})
	}
}

// A caller whose context ends while it waits gets its context's error.
func TestRevocationCheckHonoursContext(t *testing.T) {
	db := bunrepotest.Open(t, dbtest.SQLite(t))
	tokens := batchrepo.NewTokens(bunrepo.NewTokenRepository(db, bunrepo.NewTxWriter(db)), batchrepo.NewGroupCommit(db), db)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tokens.AccessTokenRevoked(ctx, usecase.RevocationCheck{JTI: "jti"}); err == nil {
		t.Fatal("a cancelled check answered")
	}
	var _ usecase.TokenStore = tokens
}

// TestUserReadsBatched: many concurrent UserByID calls, for users that exist (several
// callers each) and ones that do not, each get their own right answer on every
// backend, and share queries: fewer run than were asked.
func TestUserReadsBatched(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := bunrepotest.Open(t, url)
			users := batchrepo.NewUsers(bunrepo.NewUserRepository(db))
			now := time.Now().UTC().Truncate(time.Millisecond)
			const stored, n = 40, 400
			for i := range stored {
				u := domain.User{ID: fmt.Sprint("user-", i), Username: fmt.Sprint("name-", i),
					Email: fmt.Sprintf("u%d@example.com", i), PasswordHash: "x", CreatedAt: now, UpdatedAt: now}
				if err := users.CreateUser(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
			before := batchrepo.UserQueries(users)
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					id := fmt.Sprint("user-", i%(stored+10)) // the last ten of each round do not exist
					got, err := users.UserByID(ctx, id)
					switch {
					case i%(stored+10) >= stored:
						if !errors.Is(err, domain.ErrNotFound) {
							errs <- fmt.Errorf("%s: err = %v, want not found", id, err)
						}
					case err != nil:
						errs <- fmt.Errorf("%s: %w", id, err)
					case got.ID != id || got.Username != fmt.Sprint("name-", i%(stored+10)):
						errs <- fmt.Errorf("%s: got %+v", id, got)
					}
				})
			}
			wg.Wait()
			checkShared(t, errs, n, batchrepo.UserQueries(users)-before)
		})
	}
}

// TestRefreshTokenReadsBatched: many concurrent RefreshTokenByHash calls, for tokens
// that exist (several callers each, one of them rotated) and hashes that do not, each
// get their own token, with every column, on every backend, and share queries.
func TestRefreshTokenReadsBatched(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := bunrepotest.Open(t, url)
			now := time.Now().UTC().Truncate(time.Millisecond)
			users, clients := bunrepo.NewUserRepository(db), bunrepo.NewClientRepository(db)
			tokens := batchrepo.NewTokens(bunrepo.NewTokenRepository(db, bunrepo.NewTxWriter(db)), batchrepo.NewGroupCommit(db), db)
			if err := users.CreateUser(ctx, domain.User{ID: "u1", Username: "u1", PasswordHash: "x", CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if err := clients.CreateClient(ctx, domain.Client{ID: "c1", Name: "c1", GrantTypes: []string{"refresh_token"}, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			const stored, n = 30, 400
			want := make([]domain.RefreshToken, stored)
			for i := range stored {
				fam := usecase.TokenFamily{ID: fmt.Sprint("fam-", i), ClientID: "c1", UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				want[i] = domain.RefreshToken{Hash: []byte(fmt.Sprintf("hash-%02d-%s", i, "0123456789abcdef0123456789")),
					FamilyID: fam.ID, ClientID: "c1", UserID: "u1", Scope: []string{"openid", fmt.Sprint("s", i)},
					Audience: []string{"https://api.example"}, AuthTime: now.Add(-time.Minute), Nonce: fmt.Sprint("n", i),
					SessionID: fmt.Sprint("sess-", i), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				if err := tokens.CreateFamily(ctx, fam, &want[i]); err != nil {
					t.Fatal(err)
				}
			}
			// The first one is rotated: the read must show it so.
			next := domain.RefreshToken{Hash: []byte("hash-next-0123456789abcdef0123456789"), FamilyID: want[0].FamilyID,
				ClientID: "c1", UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := tokens.UpdateRefreshToken(ctx, want[0].Hash, func(usecase.RefreshState) (usecase.RefreshChange, error) {
				return usecase.RefreshChange{Next: &next, Now: now}, nil
			}); err != nil {
				t.Fatal(err)
			}
			before := batchrepo.RefreshTokenQueries(tokens)
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					k := i % (stored + 10) // the last ten of each round do not exist
					if k >= stored {
						_, err := tokens.RefreshTokenByHash(ctx, []byte(fmt.Sprint("missing-", k)))
						if !errors.Is(err, domain.ErrNotFound) {
							errs <- fmt.Errorf("missing %d: err = %v, want not found", k, err)
						}
						return
					}
					got, err := tokens.RefreshTokenByHash(ctx, want[k].Hash)
					switch {
					case err != nil:
						errs <- fmt.Errorf("token %d: %w", k, err)
					case string(got.Hash) != string(want[k].Hash) || got.FamilyID != want[k].FamilyID ||
						fmt.Sprint(got.Scope) != fmt.Sprint(want[k].Scope) || got.Nonce != want[k].Nonce ||
						got.SessionID != want[k].SessionID || !got.ExpiresAt.Equal(want[k].ExpiresAt) ||
						!got.AuthTime.Equal(want[k].AuthTime) || fmt.Sprint(got.Audience) != fmt.Sprint(want[k].Audience):
						errs <- fmt.Errorf("token %d: got %+v, want %+v", k, got, want[k])
					case (got.RotatedAt != nil) != (k == 0):
						errs <- fmt.Errorf("token %d: rotated_at = %v", k, got.RotatedAt)
					}
				})
			}
			wg.Wait()
			checkShared(t, errs, n, batchrepo.RefreshTokenQueries(tokens)-before)
		})
	}
}

// checkShared reports the errors of n concurrent batched reads (errs is closed here)
// and fails when they ran as many queries as reads: none were shared.
func checkShared(t *testing.T, errs chan error, n int, queries int64) {
	t.Helper()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if queries >= int64(n) {
		t.Errorf("%d concurrent reads ran %d queries: none were shared", n, queries)
	} else {
		t.Logf("%d concurrent reads ran %d queries", n, queries)
	}
}
