package usecase_test

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"gatehouse/adapter/crypto"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// TestPasswordRehashedOnSignIn: a user whose stored hash was made with other argon2id
// costs (or is an imported bcrypt hash) gets a hash with the current costs at the
// next successful sign-in, and keeps the refresh tokens issued before (audit finding
// 5 of issue 18); a wrong password changes nothing.
func TestPasswordRehashedOnSignIn(t *testing.T) {
	f := newFixture(t)
	_, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantPassword, domain.GrantRefreshToken}})
	const current = "$argon2id$v=19$m=8192,t=1,p=1$" // the fixture's costs
	old, err := crypto.NewPasswordHasher(crypto.PasswordParams{Memory: 9 * 1024, Iterations: 2, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	oldHash, err := old.HashPassword(f.ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for name, stored := range map[string]string{"older argon2id costs": oldHash, "bcrypt": string(bcryptHash)} {
		t.Run(name, func(t *testing.T) {
			u := f.user(t, "u"+strings.ToLower(f.random.ID()[:8]), "correct horse")
			login := usecase.TokenRequest{GrantType: domain.GrantPassword, Credentials: cr, Username: u.Username,
				Password: "correct horse", Scope: "openid"}
			before, err := f.token.Issue(f.ctx, login) // a refresh token from before the rehash
			if err != nil {
				t.Fatal(err)
			}
			if err := f.users.UpdatePassword(f.ctx, u.ID, stored, f.clock.Now()); err != nil {
				t.Fatal(err)
			}

			wrong := login
			wrong.Password = "wrong horse"
			if _, err := f.token.Issue(f.ctx, wrong); err == nil {
				t.Fatal("wrong password accepted")
			}
			if got := storedHash(t, f, u.ID); got != stored {
				t.Fatalf("a failed sign-in changed the hash to %s", got)
			}

			if _, err := f.token.Issue(f.ctx, login); err != nil {
				t.Fatalf("sign-in with the old hash: %v", err)
			}
			got := storedHash(t, f, u.ID)
			if got == stored || !strings.HasPrefix(got, current) {
				t.Fatalf("stored hash after sign-in: %s, want one starting %s", got, current)
			}
			// The new hash verifies the same password: a second sign-in works and
			// leaves it alone.
			if _, err := f.token.Issue(f.ctx, login); err != nil {
				t.Fatalf("sign-in with the new hash: %v", err)
			}
			if again := storedHash(t, f, u.ID); again != got {
				t.Fatalf("an up-to-date hash was replaced again")
			}
			// A rehash is no password change: the earlier refresh token still works.
			f.clock.Advance(time.Second)
			if _, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantRefreshToken, Credentials: cr,
				RefreshToken: before.RefreshToken}); err != nil {
				t.Fatalf("refresh token issued before the rehash: %v", err)
			}
		})
	}
}

func storedHash(t *testing.T, f *fixture, id string) string {
	t.Helper()
	u, err := f.users.UserByID(f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return u.PasswordHash
}

// TestSignInWithANameStoredBeforePRECIS: a username stored before usernames were
// canonicalized (lower-cased only, here decomposed) still signs in as typed, and its
// canonical twin finds the canonical account.
func TestSignInWithANameStoredBeforePRECIS(t *testing.T) {
	f := newFixture(t)
	_, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantPassword}})
	hash, err := crypto.NewPasswordHasher(crypto.PasswordParams{Memory: 8 * 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := hash.HashPassword(f.ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	legacy := domain.User{ID: f.random.UserID(), Username: "zoe\u0308", PasswordHash: h, CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()}
	if err := f.users.CreateUser(f.ctx, legacy); err != nil {
		t.Fatal(err)
	}
	got, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantPassword, Credentials: cr,
		Username: "Zoe\u0308", Password: "correct horse"})
	if err != nil {
		t.Fatalf("sign-in with the stored form: %v", err)
	}
	if at, _ := f.verifier.VerifyAccessToken(f.ctx, got.AccessToken); at.Subject != legacy.ID {
		t.Fatalf("signed in as %q, want %q", at.Subject, legacy.ID)
	}
}
