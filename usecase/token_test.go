package usecase_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/adapter/crypto"
	"gatehouse/domain"
	"gatehouse/usecase"
)

func TestTokenIssueSharedChecks(t *testing.T) {
	f := newFixture(t)
	_, cc := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}})
	_, pub := f.client(t, usecase.NewClient{Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"}})
	wrongSecret := cc
	wrongSecret.Secret = "nope"
	unknown := cc
	unknown.ClientID = "nobody"
	secretForPublic := pub
	secretForPublic.Secret, secretForPublic.Method = "x", usecase.AuthMethodPost
	noneForConfidential := cc
	noneForConfidential.Secret, noneForConfidential.Method = "", usecase.AuthMethodNone

	cases := []struct {
		name string
		req  usecase.TokenRequest
		want error
	}{
		{"missing grant type", usecase.TokenRequest{Credentials: cc}, domain.ErrInvalidRequest},
		{"unknown grant type", usecase.TokenRequest{GrantType: "magic", Credentials: cc}, domain.ErrUnsupportedGrantType},
		{"unknown client", usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: unknown}, domain.ErrInvalidClient},
		{"wrong secret", usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: wrongSecret}, domain.ErrInvalidClient},
		{"public client sending a secret", usecase.TokenRequest{GrantType: domain.GrantRefreshToken, Credentials: secretForPublic}, domain.ErrInvalidClient},
		{"confidential client without secret", usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: noneForConfidential}, domain.ErrInvalidClient},
		{"grant not allowed", usecase.TokenRequest{GrantType: domain.GrantPassword, Credentials: cc, Username: "a", Password: "b"}, domain.ErrUnauthorizedClient},
		{"malformed scope", usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cc, Scope: "a\"b"}, domain.ErrInvalidScope},
		{"scope not allowed", usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cc, Scope: "admin"}, domain.ErrInvalidScope},
		{"resource not allowed", usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cc, Resource: []string{"https://other"}}, domain.ErrInvalidTarget},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Each case from its own address, so the per-address throttle of failed
			// client authentications does not mask the error under test.
			tc.req.Credentials.Address = fmt.Sprintf("192.0.2.%d", 10+i)
			_, err := f.token.Issue(f.ctx, tc.req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestToken_ServesExactlyTheListedGrants: the endpoint serves the fields of Grants and
// nothing else; a grant left out is unsupported (and absent from discovery's list),
// not a nil grant that panics.
func TestToken_ServesExactlyTheListedGrants(t *testing.T) {
	f := newFixture(t)
	if got := f.token.GrantTypes(); !slices.Equal(got, domain.KnownGrantTypes) {
		t.Fatalf("all grants: GrantTypes() = %v, want %v", got, domain.KnownGrantTypes)
	}
	partial := f.grants
	partial.Password, partial.DeviceCode = nil, nil
	tok := usecase.NewToken(f.auth, partial, f.dpop, nil)
	for _, g := range tok.GrantTypes() {
		if g == domain.GrantPassword || g == domain.GrantDeviceCode {
			t.Fatalf("GrantTypes() = %v lists a grant left out", tok.GrantTypes())
		}
	}
	if len(tok.GrantTypes()) != len(domain.KnownGrantTypes)-2 {
		t.Fatalf("GrantTypes() = %v, want the other %d", tok.GrantTypes(), len(domain.KnownGrantTypes)-2)
	}
	_, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantPassword, domain.GrantClientCredentials}})
	f.user(t, "listed", "listed's password")
	_, err := tok.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantPassword, Credentials: cr, Username: "listed", Password: "listed's password"})
	if !errors.Is(err, domain.ErrUnsupportedGrantType) {
		t.Fatalf("password grant left out: got %v, want unsupported_grant_type", err)
	}
	if _, err := tok.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cr}); err != nil {
		t.Fatalf("client credentials still listed: %v", err)
	}
}

func TestClientCredentials(t *testing.T) {
	f := newFixture(t)
	c, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials, domain.GrantRefreshToken},
		Scopes: []string{"api:read", "api:write"}, Audiences: []string{"https://orders.test"}})
	got, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cr})
	if err != nil {
		t.Fatal(err)
	}
	if got.RefreshToken != "" || got.IDToken != "" {
		t.Fatal("client credentials must issue only an access token (SECURITY S25)")
	}
	if !domain.SameScope(got.Scope, []string{"api:read", "api:write"}) {
		t.Fatalf("omitted scope must mean every allowed scope, got %v", got.Scope)
	}
	at, err := f.verifier.VerifyAccessToken(f.ctx, got.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if at.Subject != c.ID || at.ClientID != c.ID || !slices.Equal(at.Audience, []string{"https://api.test"}) || at.FamilyID != "" {
		t.Fatalf("unexpected token contents %+v", at)
	}
	got, err = f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cr,
		Scope: "api:read", Resource: []string{"https://orders.test"}})
	if err != nil {
		t.Fatal(err)
	}
	at, _ = f.verifier.VerifyAccessToken(f.ctx, got.AccessToken)
	if !slices.Equal(at.Scope, []string{"api:read"}) || !slices.Equal(at.Audience, []string{"https://orders.test"}) {
		t.Fatalf("narrowed scope / resource not applied: %+v", at)
	}
}

func TestPasswordGrant(t *testing.T) {
	f := newFixture(t)
	_, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantPassword, domain.GrantRefreshToken}})
	u := f.user(t, "alice", "correct horse")
	req := usecase.TokenRequest{GrantType: domain.GrantPassword, Credentials: cr, Username: "alice", Password: "correct horse", Scope: "openid profile"}
	got, err := f.token.Issue(f.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got.RefreshToken == "" || got.IDToken == "" {
		t.Fatal("password grant to a refresh-allowed client with openid must issue refresh and ID tokens")
	}
	at, _ := f.verifier.VerifyAccessToken(f.ctx, got.AccessToken)
	if at.Subject != u.ID || at.FamilyID == "" {
		t.Fatalf("access token: %+v", at)
	}

	wrong := req
	wrong.Password = "wrong password"
	unknown := req
	unknown.Username = "mallory"
	_, errWrong := f.token.Issue(f.ctx, wrong)
	_, errUnknown := f.token.Issue(f.ctx, unknown)
	if !errors.Is(errWrong, domain.ErrInvalidGrant) || errWrong.Error() != errUnknown.Error() {
		t.Fatalf("unknown user and wrong password must look the same: %v / %v", errWrong, errUnknown)
	}
	// Throttling per username: past the free failures the user's key is locked...
	for i := 0; i < 3; i++ {
		f.token.Issue(f.ctx, wrong)
	}
	var te *domain.ThrottledError
	if _, err := f.token.Issue(f.ctx, req); !errors.As(err, &te) {
		t.Fatalf("want throttled after repeated failures, got %v", err)
	}
	// ...for a bounded time only.
	f.clock.Advance(2 * time.Hour)
	if _, err := f.token.Issue(f.ctx, req); err != nil {
		t.Fatalf("lock must expire: %v", err)
	}
}

func passwordTokens(t *testing.T, f *fixture, cr usecase.Credentials, scope string) domain.IssuedTokens {
	t.Helper()
	name := "u" + strings.ToLower(f.random.ID()[:8])
	f.user(t, name, "password-"+name)
	got, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantPassword, Credentials: cr,
		Username: name, Password: "password-" + name, Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRefreshRotationAndReuse(t *testing.T) {
	f := newFixture(t)
	_, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantPassword, domain.GrantRefreshToken}})
	_, other := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantPassword, domain.GrantRefreshToken}})
	first := passwordTokens(t, f, cr, "openid profile email")
	refresh := func(cr usecase.Credentials, rt, scope string) (domain.IssuedTokens, error) {
		return f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantRefreshToken, Credentials: cr, RefreshToken: rt, Scope: scope})
	}
	if _, err := refresh(other, first.RefreshToken, ""); !errors.Is(err, domain.ErrInvalidGrant) {
		t.Fatalf("another client's refresh token: %v (SECURITY S29)", err)
	}
	if _, err := refresh(cr, first.RefreshToken, "openid admin"); !errors.Is(err, domain.ErrInvalidScope) {
		t.Fatalf("broader scope: %v", err)
	}
	second, err := refresh(cr, first.RefreshToken, "openid")
	if err != nil {
		t.Fatalf("a broader request must not have consumed the token (SECURITY S31): %v", err)
	}
	if second.RefreshToken == first.RefreshToken || !slices.Equal(second.Scope, []string{"openid"}) {
		t.Fatalf("rotation or narrowing failed: %+v", second)
	}
	third, err := refresh(cr, second.RefreshToken, "")
	if err != nil {
		t.Fatal(err)
	}
	if !domain.SameScope(third.Scope, []string{"openid", "profile", "email"}) {
		t.Fatalf("an omitted scope means the original grant's, got %v", third.Scope)
	}
	if !f.active(t, cr, third.AccessToken) || !f.active(t, cr, third.RefreshToken) {
		t.Fatal("fresh tokens must be active")
	}
	// Reuse of a rotated token, later than its rotation, revokes the whole family
	// (SECURITY S30). (At the very instant of the rotation it would be a concurrent
	// request that lost the race: TestRefreshConcurrentOneWinner.)
	f.clock.Advance(time.Millisecond)
	if _, err := refresh(cr, first.RefreshToken, ""); !errors.Is(err, domain.ErrInvalidGrant) {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := refresh(cr, third.RefreshToken, ""); !errors.Is(err, domain.ErrInvalidGrant) {
		t.Fatalf("the live token of a revoked family must fail: %v", err)
	}
	if f.active(t, cr, third.AccessToken) {
		t.Fatal("access tokens of a revoked family must be inactive")
	}
	// Expiry.
	fresh := passwordTokens(t, f, cr, "")
	f.clock.Advance(25 * time.Hour)
	if _, err := refresh(cr, fresh.RefreshToken, ""); !errors.Is(err, domain.ErrInvalidGrant) {
		t.Fatalf("expired refresh token: %v", err)
	}
}

// TestRefresh_TokensFromBeforeSortedKeys: refresh tokens are stored under keys that
// begin with the time they were made (crypto.Random.SortedToken); a token stored
// before that, under the plain hash of a 43-character token, still introspects,
// refreshes (its successor of the new shape) and revokes.
func TestRefresh_TokensFromBeforeSortedKeys(t *testing.T) {
	f := newFixture(t)
	_, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantPassword, domain.GrantRefreshToken}})
	issued := passwordTokens(t, f, cr, "openid")
	if len(issued.RefreshToken) != crypto.SortedTokenLength {
		t.Fatalf("refresh token %q: want a sorted token of %d characters", issued.RefreshToken, crypto.SortedTokenLength)
	}
	stored, err := f.tokens.RefreshTokenByHash(f.ctx, f.hasher.HashToken(issued.RefreshToken))
	if err != nil || string(stored.Hash[:8]) != issued.RefreshToken[:8] {
		t.Fatalf("stored under %x (%v); want a key that begins with the token's time", stored.Hash, err)
	}
	refreshAndRevoke := func(old string) {
		t.Helper()
		if !f.active(t, cr, old) {
			t.Fatal("the token is not active")
		}
		next, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantRefreshToken, Credentials: cr, RefreshToken: old})
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if len(next.RefreshToken) != crypto.SortedTokenLength || f.active(t, cr, old) || !f.active(t, cr, next.RefreshToken) {
			t.Fatalf("rotation: successor %q", next.RefreshToken)
		}
		if err := f.revoke.Execute(f.ctx, usecase.RevokeRequest{Credentials: cr, Token: next.RefreshToken}); err != nil {
			t.Fatal(err)
		}
		if f.active(t, cr, next.RefreshToken) {
			t.Fatal("a revoked successor is active")
		}
	}
	refreshAndRevoke(issued.RefreshToken)

	legacy := f.random.Token()
	old := stored
	old.Hash, old.FamilyID, old.RotatedAt, old.RevokedAt = f.hasher.HashSecret(legacy), f.random.FamilyID(), nil, nil
	fam := usecase.TokenFamily{ID: old.FamilyID, ClientID: old.ClientID, UserID: old.UserID, CreatedAt: old.CreatedAt, ExpiresAt: old.ExpiresAt}
	if err := f.tokens.CreateFamily(f.ctx, fam, &old); err != nil {
		t.Fatal(err)
	}
	refreshAndRevoke(legacy)
}

func TestRefreshConcurrentOneWinner(t *testing.T) {
	f := newFixture(t)
	_, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantPassword, domain.GrantRefreshToken}})
	start := passwordTokens(t, f, cr, "")
	var wins atomic.Int32
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winner string
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantRefreshToken, Credentials: cr, RefreshToken: start.RefreshToken})
			if err == nil {
				wins.Add(1)
				mu.Lock()
				winner = got.RefreshToken
				mu.Unlock()
			} else if !errors.Is(err, domain.ErrInvalidGrant) {
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d refreshes won, want exactly 1 (SECURITY S32)", wins.Load())
	}
	if winner == "" {
		t.Fatal("no winner token")
	}
	// The losers raced the winner and did not revoke what it won.
	next, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantRefreshToken, Credentials: cr, RefreshToken: winner})
	if err != nil {
		t.Fatalf("the race's losers revoked the winner's grant: %v", err)
	}
	// The same token presented after the race is a replay: the family dies.
	f.clock.Advance(time.Second)
	if _, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantRefreshToken, Credentials: cr, RefreshToken: start.RefreshToken}); !errors.Is(err, domain.ErrInvalidGrant) {
		t.Fatalf("replay after the race: %v", err)
	}
	if _, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantRefreshToken, Credentials: cr, RefreshToken: next.RefreshToken}); !errors.Is(err, domain.ErrInvalidGrant) {
		t.Fatalf("the family survived a replay: %v", err)
	}
}

// code stores an authorization code for user and returns its secret.
func (f *fixture) code(t *testing.T, c domain.Client, u domain.User, redirect, challenge string) (string, domain.AuthorizationCode) {
	t.Helper()
	secret := f.random.SortedToken()
	now := f.clock.Now()
	code := domain.AuthorizationCode{Hash: f.hasher.HashToken(secret), ClientID: c.ID, UserID: u.ID, RedirectURI: redirect,
		Scope: []string{"openid", "profile"}, Audience: []string{"https://api.test"}, CodeChallenge: challenge, Nonce: "n-0S6",
		AuthTime: now, FamilyID: f.random.ID(), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := f.codes.CreateCode(f.ctx, code); err != nil {
		t.Fatal(err)
	}
	return secret, code
}

func TestAuthorizationCodeExchange(t *testing.T) {
	f := newFixture(t)
	const redirect = "https://app.test/cb"
	c, cr := f.client(t, usecase.NewClient{RedirectURIs: []string{redirect}})
	_, other := f.client(t, usecase.NewClient{RedirectURIs: []string{redirect}})
	u := f.user(t, "carol", "carol's password")
	verifier := strings.Repeat("v", 43)
	challenge := "7w_YNF9DSfIdPf_pRjSq646_kPr-2-o9NAl16JGghdM" // BASE64URL(SHA256(verifier))
	if !domain.VerifyPKCE(challenge, verifier) {
		t.Fatal("fixture challenge is wrong")
	}
	exchange := func(cr usecase.Credentials, code, redirect, verifier string) (domain.IssuedTokens, error) {
		return f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantAuthorizationCode, Credentials: cr,
			Code: code, RedirectURI: redirect, CodeVerifier: verifier})
	}
	cases := []struct {
		name      string
		challenge string
		cr        usecase.Credentials
		redirect  string
		verifier  string
		advance   time.Duration
		want      error
	}{
		{"wrong verifier", challenge, cr, redirect, strings.Repeat("w", 43), 0, domain.ErrInvalidGrant},
		{"missing verifier", challenge, cr, redirect, "", 0, domain.ErrInvalidGrant},
		{"short verifier", challenge, cr, redirect, "abc", 0, domain.ErrInvalidGrant},
		{"verifier without challenge", "", cr, redirect, verifier, 0, domain.ErrInvalidGrant},
		{"other redirect", challenge, cr, redirect + "/", verifier, 0, domain.ErrInvalidGrant},
		{"other client", challenge, other, redirect, verifier, 0, domain.ErrInvalidGrant},
		{"expired", challenge, cr, redirect, verifier, time.Minute, domain.ErrInvalidGrant},
		{"ok", challenge, cr, redirect, verifier, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			secret, _ := f.code(t, c, u, redirect, tc.challenge)
			f.clock.Advance(tc.advance)
			got, err := exchange(tc.cr, secret, tc.redirect, tc.verifier)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.want == nil {
				if got.IDToken == "" || got.RefreshToken == "" {
					t.Fatal("missing ID or refresh token")
				}
				return
			}
			// A failed attempt consumes the code (SECURITY S12): the right request now fails too.
			if _, err := exchange(cr, secret, redirect, verifier); !errors.Is(err, domain.ErrInvalidGrant) {
				t.Fatalf("code still redeemable after a failed attempt: %v", err)
			}
		})
	}

	t.Run("second redemption revokes the first's tokens", func(t *testing.T) {
		secret, _ := f.code(t, c, u, redirect, challenge)
		first, err := exchange(cr, secret, redirect, verifier)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := exchange(cr, secret, redirect, verifier); !errors.Is(err, domain.ErrInvalidGrant) {
			t.Fatalf("second redemption: %v", err)
		}
		if f.active(t, cr, first.AccessToken) || f.active(t, cr, first.RefreshToken) {
			t.Fatal("tokens of a replayed code must be revoked (SECURITY S14)")
		}
	})
}

func TestRevokeAndIntrospect(t *testing.T) {
	f := newFixture(t)
	_, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantPassword, domain.GrantRefreshToken, domain.GrantClientCredentials}})
	_, other := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}})
	tok := passwordTokens(t, f, cr, "openid")

	in, err := f.inspect.Execute(f.ctx, usecase.IntrospectRequest{Credentials: cr, Token: tok.RefreshToken})
	if err != nil || !in.Active || in.TokenType != "refresh_token" || in.Subject == "" || in.ClientID != cr.ClientID {
		t.Fatalf("refresh token introspection: %+v %v", in, err)
	}
	if f.active(t, other, tok.RefreshToken) {
		t.Fatal("another client must not see a refresh token as active")
	}
	if f.active(t, cr, "not-a-token") {
		t.Fatal("unknown token must be inactive")
	}
	// Another client's revocation leaves the token alone; unknown tokens succeed.
	if err := f.revoke.Execute(f.ctx, usecase.RevokeRequest{Credentials: other, Token: tok.RefreshToken}); err != nil {
		t.Fatal(err)
	}
	if err := f.revoke.Execute(f.ctx, usecase.RevokeRequest{Credentials: cr, Token: "unknown"}); err != nil {
		t.Fatal(err)
	}
	if !f.active(t, cr, tok.RefreshToken) {
		t.Fatal("another client revoked our token (SECURITY S37)")
	}
	// Revoking the refresh token revokes its family's access tokens.
	if err := f.revoke.Execute(f.ctx, usecase.RevokeRequest{Credentials: cr, Token: tok.RefreshToken}); err != nil {
		t.Fatal(err)
	}
	if f.active(t, cr, tok.RefreshToken) || f.active(t, cr, tok.AccessToken) {
		t.Fatal("revoked refresh token or its access token still active")
	}
	// Access tokens go on the deny-list.
	cc, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cr})
	if err != nil {
		t.Fatal(err)
	}
	if !f.active(t, other, cc.AccessToken) {
		t.Fatal("a resource server (any client) may introspect access tokens")
	}
	if err := f.revoke.Execute(f.ctx, usecase.RevokeRequest{Credentials: cr, Token: cc.AccessToken, TokenTypeHint: "access_token"}); err != nil {
		t.Fatal(err)
	}
	if f.active(t, cr, cc.AccessToken) {
		t.Fatal("revoked access token still active")
	}
	// Expired access tokens are inactive.
	cc2, _ := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cr})
	f.clock.Advance(time.Hour)
	if f.active(t, cr, cc2.AccessToken) {
		t.Fatal("expired access token active")
	}
	// Unauthenticated callers are refused.
	bad := cr
	bad.Secret = "x"
	if _, err := f.inspect.Execute(f.ctx, usecase.IntrospectRequest{Credentials: bad, Token: cc.AccessToken}); !errors.Is(err, domain.ErrInvalidClient) {
		t.Fatalf("introspection without valid client auth: %v", err)
	}
}
