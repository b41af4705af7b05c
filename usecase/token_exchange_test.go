package usecase_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// exchangeSetup: alice's token from a password grant for https://orders.test, and a
// resource-server client (orders-rs) that may exchange it for https://inventory.test.
type exchangeSetup struct {
	f        *fixture
	grant    *usecase.TokenExchangeGrant
	web      usecase.Credentials
	rs       domain.Client
	rsCred   usecase.Credentials
	user     domain.User
	subject  domain.IssuedTokens
	exchange usecase.TokenRequest
}

func newExchangeSetup(t *testing.T) *exchangeSetup {
	t.Helper()
	f := newFixture(t)
	s := &exchangeSetup{f: f}
	s.grant = f.grants.TokenExchange
	_, s.web = f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantPassword, domain.GrantRefreshToken},
		Scopes: []string{"openid", "orders:read", "orders:write", "inventory:read"}, Audiences: []string{"https://orders.test", "https://billing.test"}})
	s.rs, s.rsCred = f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantTokenExchange},
		Scopes: []string{"orders:read", "inventory:read"}, Audiences: []string{"https://orders.test", "https://inventory.test"}})
	s.user = f.user(t, "alice", "correct horse")
	var err error
	s.subject, err = f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantPassword, Credentials: s.web,
		Username: "alice", Password: "correct horse", Scope: "openid orders:read orders:write inventory:read",
		Resource: []string{"https://orders.test"}})
	if err != nil {
		t.Fatal(err)
	}
	s.exchange = usecase.TokenRequest{GrantType: domain.GrantTokenExchange, Credentials: s.rsCred, Scope: "inventory:read",
		TokenExchange: usecase.TokenExchangeParams{SubjectToken: s.subject.AccessToken,
			SubjectTokenType: domain.TokenTypeAccessToken, Audience: "https://inventory.test"}}
	return s
}

func TestExchangeGrant_IssuesNarrowedDelegatedToken(t *testing.T) {
	s := newExchangeSetup(t)
	f := s.f
	got, err := f.token.Issue(f.ctx, s.exchange)
	if err != nil {
		t.Fatal(err)
	}
	if got.RefreshToken != "" || got.IDToken != "" || got.TokenType != "Bearer" ||
		got.IssuedTokenType != domain.TokenTypeAccessToken || !slices.Equal(got.Scope, []string{"inventory:read"}) {
		t.Fatalf("issued = %+v", got)
	}
	subject, _ := f.verifier.VerifyAccessToken(f.ctx, s.subject.AccessToken)
	at, err := f.verifier.VerifyAccessToken(f.ctx, got.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if at.Subject != s.user.ID || at.ClientID != s.rs.ID || !slices.Equal(at.Audience, []string{"https://inventory.test"}) ||
		!slices.Equal(at.Scope, []string{"inventory:read"}) || at.FamilyID != subject.FamilyID ||
		at.Actor == nil || at.Actor.Subject != s.rs.ID || at.Actor.Actor != nil || at.ExpiresAt.After(subject.ExpiresAt) {
		t.Fatalf("exchanged token = %+v (actor %+v)", at, at.Actor)
	}
	if got.ExpiresIn <= 0 || got.ExpiresIn > 15*time.Minute {
		t.Fatalf("expires_in = %s", got.ExpiresIn)
	}

	// Omitted scope: the intersection of the subject token's and the client's.
	noScope := s.exchange
	noScope.Scope = ""
	got, err = f.token.Issue(f.ctx, noScope)
	if err != nil || !slices.Equal(got.Scope, []string{"orders:read", "inventory:read"}) {
		t.Fatalf("omitted scope: %+v, %v", got.Scope, err)
	}

	// Revoking alice's grant (her refresh token) revokes the exchanged token too.
	if err := f.revoke.Execute(f.ctx, usecase.RevokeRequest{Credentials: s.web, Token: s.subject.RefreshToken}); err != nil {
		t.Fatal(err)
	}
	if f.active(t, s.rsCred, got.AccessToken) {
		t.Fatal("exchanged token still active after its family was revoked")
	}
	if _, err := f.token.Issue(f.ctx, s.exchange); !errors.Is(err, domain.ErrInvalidRequest) {
		t.Fatalf("exchange of a token of a revoked family: %v", err)
	}
}

func TestExchangeGrant_Refusals(t *testing.T) {
	s := newExchangeSetup(t)
	f := s.f
	with := func(mut func(r *usecase.TokenRequest)) usecase.TokenRequest {
		r := s.exchange
		mut(&r)
		return r
	}
	billing, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantPassword, Credentials: s.web,
		Username: "alice", Password: "correct horse", Scope: "orders:read", Resource: []string{"https://billing.test"}})
	if err != nil {
		t.Fatal(err)
	}
	defaultAud, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantPassword, Credentials: s.web,
		Username: "alice", Password: "correct horse", Scope: "orders:read"})
	if err != nil {
		t.Fatal(err)
	}
	_, ccCred := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}, Audiences: []string{"https://orders.test"}})

	cases := []struct {
		name string
		req  usecase.TokenRequest
		want error
	}{
		{"actor_token", with(func(r *usecase.TokenRequest) {
			r.TokenExchange.ActorToken, r.TokenExchange.ActorTokenType = "x", domain.TokenTypeAccessToken
		}), domain.ErrInvalidRequest},
		{"requested refresh token", with(func(r *usecase.TokenRequest) { r.TokenExchange.RequestedTokenType = domain.TokenTypeRefreshToken }), domain.ErrInvalidRequest},
		{"missing subject_token", with(func(r *usecase.TokenRequest) { r.TokenExchange.SubjectToken = "" }), domain.ErrInvalidRequest},
		{"missing subject_token_type", with(func(r *usecase.TokenRequest) { r.TokenExchange.SubjectTokenType = "" }), domain.ErrInvalidRequest},
		{"id_token subject type", with(func(r *usecase.TokenRequest) { r.TokenExchange.SubjectTokenType = domain.TokenTypeIDToken }), domain.ErrInvalidRequest},
		{"no target", with(func(r *usecase.TokenRequest) { r.TokenExchange.Audience = "" }), domain.ErrInvalidRequest},
		{"target not allowed", with(func(r *usecase.TokenRequest) { r.TokenExchange.Audience = "https://billing.test" }), domain.ErrInvalidTarget},
		{"resource not allowed", with(func(r *usecase.TokenRequest) { r.Resource = []string{"https://billing.test"} }), domain.ErrInvalidTarget},
		{"scope widening", with(func(r *usecase.TokenRequest) { r.Scope = "inventory:read admin" }), domain.ErrInvalidScope},
		{"scope not the client's", with(func(r *usecase.TokenRequest) { r.Scope = "orders:write" }), domain.ErrInvalidScope},
		{"forged subject token", with(func(r *usecase.TokenRequest) {
			r.TokenExchange.SubjectToken = s.subject.AccessToken[:len(s.subject.AccessToken)-4] + "AAAA"
		}), domain.ErrInvalidRequest},
		{"refresh token as subject", with(func(r *usecase.TokenRequest) { r.TokenExchange.SubjectToken = s.subject.RefreshToken }), domain.ErrInvalidRequest},
		{"ID token as subject", with(func(r *usecase.TokenRequest) { r.TokenExchange.SubjectToken = s.subject.IDToken }), domain.ErrInvalidRequest},
		{"token for another API", with(func(r *usecase.TokenRequest) { r.TokenExchange.SubjectToken = billing.AccessToken }), domain.ErrInvalidRequest},
		{"token for the default audience", with(func(r *usecase.TokenRequest) { r.TokenExchange.SubjectToken = defaultAud.AccessToken }), domain.ErrInvalidRequest},
		{"client without the grant", with(func(r *usecase.TokenRequest) { r.Credentials = ccCred }), domain.ErrUnauthorizedClient},
	}
	for _, tc := range cases {
		if _, err := f.token.Issue(f.ctx, tc.req); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}

	// A public client never gets here through the endpoint (it cannot be registered
	// for the grant), but the grant refuses one itself.
	pub := s.rs
	pub.Public = true
	if _, err := s.grant.Execute(f.ctx, pub, s.exchange); !errors.Is(err, domain.ErrUnauthorizedClient) {
		t.Errorf("public client: err = %v, want unauthorized_client", err)
	}

	// An access token revoked by its jti.
	if err := f.revoke.Execute(f.ctx, usecase.RevokeRequest{Credentials: s.web, Token: billing.AccessToken}); err != nil {
		t.Fatal(err)
	}
	_, rs2Cred := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantTokenExchange},
		Scopes: []string{"orders:read"}, Audiences: []string{"https://billing.test"}})
	if _, err := f.token.Issue(f.ctx, with(func(r *usecase.TokenRequest) {
		r.Credentials, r.Scope, r.TokenExchange.SubjectToken, r.TokenExchange.Audience = rs2Cred, "", billing.AccessToken, "https://billing.test"
	})); !errors.Is(err, domain.ErrInvalidRequest) {
		t.Errorf("revoked subject token: err = %v, want invalid_request", err)
	}

	// Expired: past exp, even within the verifier's clock-skew leeway.
	f.clock.Advance(15*time.Minute + time.Second)
	if _, err := f.token.Issue(f.ctx, s.exchange); !errors.Is(err, domain.ErrInvalidRequest) {
		t.Errorf("expired subject token: err = %v, want invalid_request", err)
	}
}

func TestExchangeGrant_NestedActors(t *testing.T) {
	s := newExchangeSetup(t)
	f := s.f
	first, err := f.token.Issue(f.ctx, s.exchange)
	if err != nil {
		t.Fatal(err)
	}
	inv, invCred := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantTokenExchange},
		Scopes: []string{"inventory:read"}, Audiences: []string{"https://inventory.test", "https://stock.test"}})
	second, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantTokenExchange, Credentials: invCred,
		TokenExchange: usecase.TokenExchangeParams{SubjectToken: first.AccessToken, SubjectTokenType: domain.TokenTypeAccessToken,
			Audience: "https://stock.test"}})
	if err != nil {
		t.Fatal(err)
	}
	at, err := f.verifier.VerifyAccessToken(f.ctx, second.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if at.Subject != s.user.ID || at.ClientID != inv.ID || at.Actor == nil || at.Actor.Subject != inv.ID ||
		at.Actor.Actor == nil || at.Actor.Actor.Subject != s.rs.ID || at.Actor.Actor.Actor != nil {
		t.Fatalf("twice exchanged token: %+v, actor %+v", at, at.Actor)
	}
}
