package repotest

import (
	"testing"
	"time"

	"gatehouse/domain"
)

// authRequest is a new, unstored pending request of client c, valid for 30 minutes
// from base; no user is logged in for it yet.
func (s *suite) authRequest(c domain.Client) domain.AuthRequest {
	maxAge := 90 * time.Second
	return domain.AuthRequest{
		ID: newID("ar"), ClientID: c.ID, RedirectURI: "http://127.0.0.1:49152/cb?x=1", RedirectURISent: true,
		Scope: []string{"openid", "api:read"}, Audience: []string{"https://api.example.com"},
		// Bytes that survive only if nothing on the way normalises text.
		State: "st &=+/%20 \u00e9\u6f22 ' \" <x>", Nonce: "n-0S6_WzA2Mj",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		Prompt:        []string{domain.PromptLogin, domain.PromptConsent}, MaxAge: &maxAge,
		BrowserHash: newHash(), CreatedAt: base, ExpiresAt: base.Add(30 * time.Minute), Claims: someClaims,
	}
}

func checkAuthRequest(t *testing.T, want, got domain.AuthRequest) {
	t.Helper()
	if got.ID != want.ID || got.ClientID != want.ClientID || got.RedirectURI != want.RedirectURI ||
		got.RedirectURISent != want.RedirectURISent || got.State != want.State || got.Nonce != want.Nonce ||
		got.CodeChallenge != want.CodeChallenge || got.UserID != want.UserID || got.Claims != want.Claims {
		t.Errorf("authorization request = %+v, want %+v", got, want)
	}
	sameList(t, "scope", want.Scope, got.Scope)
	sameList(t, "audience", want.Audience, got.Audience)
	sameList(t, "prompt", want.Prompt, got.Prompt)
	sameBytes(t, "browser hash", want.BrowserHash, got.BrowserHash)
	switch {
	case want.MaxAge == nil && got.MaxAge != nil:
		t.Errorf("max_age = %v, want nil", *got.MaxAge)
	case want.MaxAge != nil && (got.MaxAge == nil || *got.MaxAge != *want.MaxAge):
		t.Errorf("max_age = %v, want %v", got.MaxAge, *want.MaxAge)
	}
	sameTime(t, "auth_time", want.AuthTime, got.AuthTime)
	sameTime(t, "created_at", want.CreatedAt, got.CreatedAt)
	sameTime(t, "expires_at", want.ExpiresAt, got.ExpiresAt)
}

func (s *suite) authRequests(t *testing.T) {
	if s.AuthRequests == nil {
		t.Skip("no AuthRequestStore under test")
	}
	t.Run("CreateReadUpdateDelete", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		want := s.authRequest(c)
		noErr(t, s.AuthRequests.CreateAuthRequest(t.Context(), want))
		got, err := s.AuthRequests.AuthRequestByID(t.Context(), want.ID)
		noErr(t, err)
		checkAuthRequest(t, want, got)

		// Only the logged-in user and auth time change.
		want.UserID, want.AuthTime = u.ID, base.Add(time.Minute)
		changed := want
		changed.State, changed.Scope = "other", []string{"email"}
		noErr(t, s.AuthRequests.UpdateAuthRequest(t.Context(), changed))
		got, err = s.AuthRequests.AuthRequestByID(t.Context(), want.ID)
		noErr(t, err)
		checkAuthRequest(t, want, got)

		noErr(t, s.AuthRequests.DeleteAuthRequest(t.Context(), want.ID))
		_, err = s.AuthRequests.AuthRequestByID(t.Context(), want.ID)
		wantErr(t, err, domain.ErrNotFound)
		// Completing twice: the second caller learns it lost.
		wantErr(t, s.AuthRequests.DeleteAuthRequest(t.Context(), want.ID), domain.ErrNotFound)
		wantErr(t, s.AuthRequests.UpdateAuthRequest(t.Context(), want), domain.ErrNotFound)
	})

	t.Run("EmptyOptionals", func(t *testing.T) {
		c := s.newClient(t)
		want := s.authRequest(c)
		want.Scope, want.Audience, want.Prompt, want.MaxAge = nil, nil, nil, nil
		want.State, want.Nonce, want.CodeChallenge, want.RedirectURISent = "", "", "", false
		noErr(t, s.AuthRequests.CreateAuthRequest(t.Context(), want))
		got, err := s.AuthRequests.AuthRequestByID(t.Context(), want.ID)
		noErr(t, err)
		checkAuthRequest(t, want, got)
		zero := time.Duration(0)
		want.ID, want.MaxAge = newID("ar"), &zero // max_age=0 is not absent
		noErr(t, s.AuthRequests.CreateAuthRequest(t.Context(), want))
		got, err = s.AuthRequests.AuthRequestByID(t.Context(), want.ID)
		noErr(t, err)
		checkAuthRequest(t, want, got)
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := s.AuthRequests.AuthRequestByID(t.Context(), newID("missing"))
		wantErr(t, err, domain.ErrNotFound)
		wantErr(t, s.AuthRequests.DeleteAuthRequest(t.Context(), newID("missing")), domain.ErrNotFound)
	})

	t.Run("DuplicateAndUnknownClient", func(t *testing.T) {
		c := s.newClient(t)
		r := s.authRequest(c)
		noErr(t, s.AuthRequests.CreateAuthRequest(t.Context(), r))
		wantErr(t, s.AuthRequests.CreateAuthRequest(t.Context(), r), domain.ErrDuplicate)
		orphan := s.authRequest(domain.Client{ID: newID("missing")})
		wantErr(t, s.AuthRequests.CreateAuthRequest(t.Context(), orphan), domain.ErrNotFound)
	})

	t.Run("DeletedWithClient", func(t *testing.T) {
		c := s.newClient(t)
		r := s.authRequest(c)
		noErr(t, s.AuthRequests.CreateAuthRequest(t.Context(), r))
		noErr(t, s.Clients.DeleteClient(t.Context(), c.ID))
		_, err := s.AuthRequests.AuthRequestByID(t.Context(), r.ID)
		wantErr(t, err, domain.ErrNotFound)
	})

	t.Run("CompleteOnce", func(t *testing.T) {
		c := s.newClient(t)
		r := s.authRequest(c)
		noErr(t, s.AuthRequests.CreateAuthRequest(t.Context(), r))
		errs := race(concurrency, func(int) error { return s.AuthRequests.DeleteAuthRequest(t.Context(), r.ID) })
		ok, gone := outcomes(t, errs, domain.ErrNotFound)
		if ok != 1 || gone != concurrency-1 {
			t.Fatalf("%d completions succeeded and %d saw ErrNotFound; want 1 and %d", ok, gone, concurrency-1)
		}
	})
}
