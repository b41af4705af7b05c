package repotest

import (
	"testing"
	"time"

	"gatehouse/domain"
)

// pushedRequest is a new, unstored pushed authorization request of client c.
func pushedRequest(c domain.Client) domain.PushedRequest {
	return domain.PushedRequest{
		Hash: newHash(), ClientID: c.ID,
		RedirectURI: "http://127.0.0.1:49152/cb?x=1", ResponseType: "code", Scope: "openid api:read",
		// Bytes that survive only if nothing on the way normalises text.
		State: "st &=+/%20 \u00e9\u6f22 ' \" <x>", Nonce: "n-0S6_WzA2Mj",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
		Prompt: "login consent", MaxAge: "90", Claims: `{"userinfo":{"email":{"essential":true}},"x":1}`,
		Resource:  []string{"https://api.example.com", "https://other.example.com"},
		CreatedAt: base, ExpiresAt: base.Add(time.Minute),
	}
}

func (s *suite) pushedRequests(t *testing.T) {
	if s.PushedRequests == nil {
		t.Skip("no PushedRequestStore under test")
	}
	t.Run("CreateReadConsume", func(t *testing.T) {
		c := s.newClient(t)
		want := pushedRequest(c)
		noErr(t, s.PushedRequests.CreatePushedRequest(t.Context(), want))
		got, err := s.PushedRequests.PushedRequestByHash(t.Context(), want.Hash)
		noErr(t, err)
		sameBytes(t, "hash", want.Hash, got.Hash)
		if got.ClientID != want.ClientID || got.RedirectURI != want.RedirectURI || got.ResponseType != want.ResponseType ||
			got.Scope != want.Scope || got.State != want.State || got.Nonce != want.Nonce ||
			got.CodeChallenge != want.CodeChallenge || got.CodeChallengeMethod != want.CodeChallengeMethod ||
			got.Prompt != want.Prompt || got.MaxAge != want.MaxAge || got.Claims != want.Claims {
			t.Errorf("pushed request = %+v, want %+v", got, want)
		}
		sameList(t, "resource", want.Resource, got.Resource)
		sameTime(t, "created_at", want.CreatedAt, got.CreatedAt)
		sameTime(t, "expires_at", want.ExpiresAt, got.ExpiresAt)

		noErr(t, s.PushedRequests.ConsumePushedRequest(t.Context(), want.Hash))
		wantErr(t, s.PushedRequests.ConsumePushedRequest(t.Context(), want.Hash), domain.ErrNotFound)
		_, err = s.PushedRequests.PushedRequestByHash(t.Context(), want.Hash)
		wantErr(t, err, domain.ErrNotFound)
	})
	t.Run("UnknownAndDuplicate", func(t *testing.T) {
		_, err := s.PushedRequests.PushedRequestByHash(t.Context(), newHash())
		wantErr(t, err, domain.ErrNotFound)
		wantErr(t, s.PushedRequests.ConsumePushedRequest(t.Context(), newHash()), domain.ErrNotFound)
		c := s.newClient(t)
		r := pushedRequest(c)
		noErr(t, s.PushedRequests.CreatePushedRequest(t.Context(), r))
		wantErr(t, s.PushedRequests.CreatePushedRequest(t.Context(), r), domain.ErrDuplicate)
		// Absent parameters stay absent.
		bare := domain.PushedRequest{Hash: newHash(), ClientID: c.ID, ResponseType: "code", CreatedAt: base, ExpiresAt: base.Add(time.Minute)}
		noErr(t, s.PushedRequests.CreatePushedRequest(t.Context(), bare))
		got, err := s.PushedRequests.PushedRequestByHash(t.Context(), bare.Hash)
		noErr(t, err)
		if got.RedirectURI != "" || got.State != "" || got.MaxAge != "" || got.Claims != "" || len(got.Resource) != 0 {
			t.Errorf("bare pushed request read back as %+v", got)
		}
	})
	t.Run("UnknownClient", func(t *testing.T) {
		r := pushedRequest(domain.Client{ID: newID("missing")})
		wantErr(t, s.PushedRequests.CreatePushedRequest(t.Context(), r), domain.ErrNotFound)
	})
	t.Run("ConsumeOnce", func(t *testing.T) {
		c := s.newClient(t)
		r := pushedRequest(c)
		noErr(t, s.PushedRequests.CreatePushedRequest(t.Context(), r))
		errs := race(concurrency, func(int) error { return s.PushedRequests.ConsumePushedRequest(t.Context(), r.Hash) })
		ok, gone := outcomes(t, errs, domain.ErrNotFound)
		if ok != 1 || gone != concurrency-1 {
			t.Fatalf("%d uses succeeded and %d saw ErrNotFound; want 1 and %d", ok, gone, concurrency-1)
		}
	})
	t.Run("DeletedWithClient", func(t *testing.T) {
		c := s.newClient(t)
		r := pushedRequest(c)
		noErr(t, s.PushedRequests.CreatePushedRequest(t.Context(), r))
		noErr(t, s.Clients.DeleteClient(t.Context(), c.ID))
		_, err := s.PushedRequests.PushedRequestByHash(t.Context(), r.Hash)
		wantErr(t, err, domain.ErrNotFound)
	})
	t.Run("RequirePARColumn", func(t *testing.T) {
		c := s.newClient(t)
		got, err := s.Clients.ClientByID(t.Context(), c.ID)
		noErr(t, err)
		if got.RequirePAR || len(got.RegistrationTokenHash) != 0 {
			t.Errorf("a plain client reads back with RequirePAR %v, registration token hash %x", got.RequirePAR, got.RegistrationTokenHash)
		}
		id := randomHex(8)
		c2 := domain.Client{ID: "c-" + id, Name: "client " + id, SecretHash: newHash(),
			RedirectURIs: []string{"https://app.example.com/cb"}, GrantTypes: []string{domain.GrantAuthorizationCode},
			Scopes: []string{"openid"}, IDTokenAlg: domain.AlgRS256, RequirePAR: true, RegistrationTokenHash: newHash(),
			CreatedAt: base, UpdatedAt: base}
		noErr(t, s.Clients.CreateClient(t.Context(), c2))
		got, err = s.Clients.ClientByID(t.Context(), c2.ID)
		noErr(t, err)
		if !got.RequirePAR {
			t.Errorf("RequirePAR did not survive the round trip")
		}
		sameBytes(t, "registration token hash", c2.RegistrationTokenHash, got.RegistrationTokenHash)
	})
}
