package usecase_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse/adapter/crypto"
	"gatehouse/adapter/identifier"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/token"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// Disabling and deleting users and clients (SECURITY S58, issue 18 finding 4), and
// codes voided by the end of their session (finding 8), on the real repositories.

type principalsFixture struct {
	*pagesFixture
	sessions *bunrepo.SessionRepository
	userinfo *usecase.UserInfo
	// the client users sign in with: password, code and refresh grants
	app   domain.Client
	appCr usecase.Credentials
	// a resource server that introspects
	rsCr usecase.Credentials
}

const appRedirect = "https://app.test/cb"

func newPrincipalsFixture(t *testing.T) *principalsFixture {
	t.Helper()
	pf := newPagesFixture(t)
	f := &principalsFixture{pagesFixture: pf, sessions: bunrepo.NewSessionRepository(pf.db),
		userinfo: usecase.NewUserInfo(pf.verifier, pf.tokens, pf.users, pf.dpop)}
	f.app, f.appCr = f.client(t, usecase.NewClient{RedirectURIs: []string{appRedirect},
		GrantTypes: []string{domain.GrantPassword, domain.GrantAuthorizationCode, domain.GrantRefreshToken}})
	_, f.rsCr = f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}})
	return f
}

func (f *principalsFixture) password(cr usecase.Credentials, user, pass string) (domain.IssuedTokens, error) {
	return f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantPassword, Credentials: cr,
		Username: user, Password: pass, Scope: "openid profile"})
}

func (f *principalsFixture) refresh(cr usecase.Credentials, rt string) error {
	_, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantRefreshToken, Credentials: cr, RefreshToken: rt})
	return err
}

// sessionCode logs the user in and stores a code of the app issued in that session.
func (f *principalsFixture) sessionCode(t *testing.T, user, pass string) (secret string, code domain.AuthorizationCode, s domain.Session, cookie string) {
	t.Helper()
	s, cookie, err := f.login.LogIn(f.ctx, user, pass, "192.0.2.20", nil)
	if err != nil {
		t.Fatal(err)
	}
	secret = f.random.SortedToken()
	now := f.clock.Now()
	code = domain.AuthorizationCode{Hash: f.hasher.HashToken(secret), ClientID: f.app.ID, UserID: s.UserID,
		RedirectURI: appRedirect, Scope: []string{"openid"}, Audience: []string{"https://api.test"},
		AuthTime: now, SessionID: s.ID, FamilyID: f.random.FamilyID(), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := f.codes.CreateCode(f.ctx, code); err != nil {
		t.Fatal(err)
	}
	return secret, code, s, cookie
}

func (f *principalsFixture) redeem(cr usecase.Credentials, secret string) (domain.IssuedTokens, error) {
	return f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantAuthorizationCode, Credentials: cr,
		Code: secret, RedirectURI: appRedirect})
}

func wantGrantErr(t *testing.T, what string, err error, desc string) {
	t.Helper()
	var e *domain.Error
	if !errors.As(err, &e) || e.Code != "invalid_grant" || (desc != "" && e.Description != desc) {
		t.Errorf("%s: %v, want invalid_grant %q", what, err, desc)
	}
}

func TestSecurity_S58_DisableUser(t *testing.T) {
	f := newPrincipalsFixture(t)
	u := f.user(t, "dora", "dora's password")
	f.user(t, "ed", "ed's password")
	before, err := f.password(f.appCr, "dora", "dora's password")
	if err != nil {
		t.Fatal(err)
	}
	bystander, err := f.password(f.appCr, "ed", "ed's password")
	if err != nil {
		t.Fatal(err)
	}
	codeSecret, _, _, cookie := f.sessionCode(t, "dora", "dora's password")
	f.clock.Advance(time.Second)

	disabled := true
	got, err := f.admin.UpdateUser(f.ctx, u.ID, usecase.UserUpdate{Disabled: &disabled})
	if err != nil || !got.Disabled {
		t.Fatalf("disable: %+v, %v", got, err)
	}
	// Every token, code and session dies at once.
	if f.active(t, f.rsCr, before.AccessToken) || f.active(t, f.appCr, before.RefreshToken) {
		t.Error("a token of the disabled user is active")
	}
	if _, err := f.userinfo.Execute(f.ctx, before.AccessToken); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("userinfo: %v, want invalid_token", err)
	}
	wantGrantErr(t, "refresh", f.refresh(f.appCr, before.RefreshToken), "")
	_, err = f.redeem(f.appCr, codeSecret)
	wantGrantErr(t, "code redemption", err, "")
	if s, err := f.login.Session(f.ctx, cookie); s != nil || err != nil {
		t.Errorf("the session lives: %+v %v", s, err)
	}
	// No new sign-in: said only after the right password.
	_, err = f.password(f.appCr, "dora", "dora's password")
	wantGrantErr(t, "password grant", err, "the account is disabled")
	_, err = f.password(f.appCr, "dora", "not dora's password")
	wantGrantErr(t, "password grant, wrong password", err, "invalid username or password")
	if _, _, err := f.login.LogIn(f.ctx, "dora", "dora's password", "192.0.2.21", nil); !errors.Is(err, domain.ErrUserDisabled) {
		t.Errorf("login: %v, want ErrUserDisabled", err)
	}
	if _, _, err := f.login.LogIn(f.ctx, "dora", "wrong password", "192.0.2.21", nil); errors.Is(err, domain.ErrUserDisabled) ||
		!errors.Is(err, domain.ErrInvalidGrant) {
		t.Errorf("login with a wrong password: %v, want the usual invalid_grant", err)
	}
	// Another user is untouched.
	if !f.active(t, f.rsCr, bystander.AccessToken) || f.refresh(f.appCr, bystander.RefreshToken) != nil {
		t.Error("another user's tokens died")
	}

	// Enabled again: the user signs in; what was issued before stays dead, also a
	// token issued in the very second of the re-enabling (JWT times are seconds).
	enabled := false
	if _, err := f.admin.UpdateUser(f.ctx, u.ID, usecase.UserUpdate{Disabled: &enabled}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(500 * time.Millisecond)
	sameSecond, err := f.password(f.appCr, "dora", "dora's password")
	if err != nil {
		t.Fatalf("password grant after re-enabling: %v", err)
	}
	f.clock.Advance(time.Second)
	after, err := f.password(f.appCr, "dora", "dora's password")
	if err != nil {
		t.Fatal(err)
	}
	if f.active(t, f.rsCr, before.AccessToken) || f.active(t, f.rsCr, sameSecond.AccessToken) {
		t.Error("a token issued before re-enabling (or in its second) is active")
	}
	if !f.active(t, f.rsCr, after.AccessToken) {
		t.Error("a token issued after re-enabling is inactive")
	}
	if _, err := f.userinfo.Execute(f.ctx, after.AccessToken); err != nil {
		t.Errorf("userinfo after re-enabling: %v", err)
	}
	wantGrantErr(t, "refresh of a token from before", f.refresh(f.appCr, before.RefreshToken), "")
}

func TestSecurity_S58_DisableClient(t *testing.T) {
	f := newPrincipalsFixture(t)
	f.user(t, "fern", "fern's password")
	c, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantPassword, domain.GrantRefreshToken, domain.GrantClientCredentials}})
	own, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cr})
	if err != nil {
		t.Fatal(err)
	}
	users, err := f.password(cr, "fern", "fern's password")
	if err != nil {
		t.Fatal(err)
	}
	appTokens, err := f.password(f.appCr, "fern", "fern's password")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	disabled := true
	if _, err := f.admin.UpdateClient(f.ctx, c.ID, usecase.ClientUpdate{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"client credentials": own.AccessToken, "user's": users.AccessToken} {
		if f.active(t, f.rsCr, tok) {
			t.Errorf("the %s access token of a disabled client is active", name)
		}
	}
	if !f.active(t, f.appCr, appTokens.AccessToken) {
		t.Error("another client's token died")
	}
	// Client authentication fails as for an unknown client, at every endpoint.
	_, err = f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cr})
	unknown := cr
	unknown.ClientID = "nosuchclient0000000000000a"
	_, errUnknown := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: unknown})
	if !errors.Is(err, domain.ErrInvalidClient) || err.Error() != errUnknown.Error() {
		t.Errorf("a disabled client authenticates: %v (unknown: %v)", err, errUnknown)
	}
	if _, err := f.inspect.Execute(f.ctx, usecase.IntrospectRequest{Credentials: cr, Token: own.AccessToken}); !errors.Is(err, domain.ErrInvalidClient) {
		t.Errorf("introspection by a disabled client: %v", err)
	}
	// Its refresh tokens are revoked (enabled again below, they still fail).
	enabled := false
	if _, err := f.admin.UpdateClient(f.ctx, c.ID, usecase.ClientUpdate{Disabled: &enabled}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	wantGrantErr(t, "refresh after re-enabling", f.refresh(cr, users.RefreshToken), "")
	if f.active(t, f.rsCr, own.AccessToken) {
		t.Error("a token from before re-enabling is active")
	}
	fresh, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cr})
	if err != nil || !f.active(t, f.rsCr, fresh.AccessToken) {
		t.Errorf("the re-enabled client: %v", err)
	}
}

func TestSecurity_S58_DeleteUserAndClient(t *testing.T) {
	f := newPrincipalsFixture(t)
	u := f.user(t, "gil", "gil's password")
	c, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantPassword, domain.GrantRefreshToken, domain.GrantClientCredentials}})
	f.user(t, "hal", "hal's password")
	userTokens, err := f.password(f.appCr, "gil", "gil's password")
	if err != nil {
		t.Fatal(err)
	}
	own, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cr})
	if err != nil {
		t.Fatal(err)
	}
	halAtClient, err := f.password(cr, "hal", "hal's password")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.admin.DeleteUser(f.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.admin.DeleteClient(f.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"deleted user's": userTokens.AccessToken, "deleted client's": own.AccessToken,
		"user token of the deleted client": halAtClient.AccessToken} {
		if f.active(t, f.rsCr, tok) {
			t.Errorf("the %s access token is active", name)
		}
	}
	wantGrantErr(t, "refresh of the deleted user", f.refresh(f.appCr, userTokens.RefreshToken), "")
	if err := f.admin.DeleteUser(f.ctx, u.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
	if err := f.admin.DeleteClient(f.ctx, c.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
}

// TestAudit18_CodeVoidedByLogoutAndPasswordChange: a code issued in a session does not
// redeem once the session ended, by logout or by a password change (finding 8).
func TestAudit18_CodeVoidedByLogoutAndPasswordChange(t *testing.T) {
	f := newPrincipalsFixture(t)
	u := f.user(t, "ida", "ida's password")
	for name, end := range map[string]func(s domain.Session) error{
		"logout":          func(s domain.Session) error { return f.login.LogOut(f.ctx, s) },
		"password change": func(domain.Session) error { return f.admin.SetPassword(f.ctx, u.ID, "ida's password") },
	} {
		t.Run(name, func(t *testing.T) {
			secret, _, s, _ := f.sessionCode(t, "ida", "ida's password")
			if err := end(s); err != nil {
				t.Fatal(err)
			}
			_, err := f.redeem(f.appCr, secret)
			wantGrantErr(t, "redemption after the session ended", err, "")
		})
	}
	// A code of a session that lives redeems.
	secret, _, _, _ := f.sessionCode(t, "ida", "ida's password")
	if _, err := f.redeem(f.appCr, secret); err != nil {
		t.Errorf("a code of a live session: %v", err)
	}
}

// racingTokens is a TokenStore whose CreateFamily first runs hook: a revocation that
// lands between a grant's check of its user and the storing of its family.
type racingTokens struct {
	*bunrepo.TokenRepository
	hook func()
}

func (r *racingTokens) CreateFamily(ctx context.Context, fam usecase.TokenFamily, rt *domain.RefreshToken) error {
	if r.hook != nil {
		r.hook()
		r.hook = nil
	}
	return r.TokenRepository.CreateFamily(ctx, fam, rt)
}

// racingSessions is a SessionStore whose CreateSession first runs hook.
type racingSessions struct {
	*bunrepo.SessionRepository
	hook func()
}

func (r *racingSessions) CreateSession(ctx context.Context, s domain.Session) error {
	if r.hook != nil {
		r.hook()
		r.hook = nil
	}
	return r.SessionRepository.CreateSession(ctx, s)
}

// TestSecurity_S58_DisableRacingSignIn: a password grant or a login that read the user
// before it was disabled, and stores its family or session after the disabling
// revoked everything, still yields nothing that works.
func TestSecurity_S58_DisableRacingSignIn(t *testing.T) {
	f := newPrincipalsFixture(t)
	u := f.user(t, "jo", "jo's password")
	disable := func() {
		yes := true
		if _, err := f.admin.UpdateUser(f.ctx, u.ID, usecase.UserUpdate{Disabled: &yes}); err != nil {
			t.Error(err)
		}
	}
	passwords, err := crypto.NewPasswordHasher(crypto.PasswordParams{Memory: 8 * 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("password grant", func(t *testing.T) {
		signer, err := token.NewSigner(f.ring, token.SignerConfigFromSettings(f.settings))
		if err != nil {
			t.Fatal(err)
		}
		tokens := &racingTokens{TokenRepository: f.tokens, hook: disable}
		minter := usecase.NewMinter(signer, signer, tokens, f.users, f.random, f.hasher, f.clock, f.settings)
		grant := usecase.NewPasswordGrant(f.users, identifier.NewRules(), passwords, f.throttle, minter, f.clock, f.settings, nil)
		_, err = grant.Execute(f.ctx, f.app, usecase.TokenRequest{Username: "jo", Password: "jo's password"})
		wantGrantErr(t, "password grant racing the disabling", err, "the grant was revoked")
	})

	t.Run("login", func(t *testing.T) {
		enable := false
		if _, err := f.admin.UpdateUser(f.ctx, u.ID, usecase.UserUpdate{Disabled: &enable}); err != nil {
			t.Fatal(err)
		}
		sessions := &racingSessions{SessionRepository: f.sessions, hook: disable}
		login := usecase.NewLogin(f.users, identifier.NewRules(), passwords, f.throttle, sessions, f.tokens, f.admin, f.random, f.hasher, f.clock, nil)
		_, cookie, err := login.LogIn(f.ctx, "jo", "jo's password", "192.0.2.30", nil)
		if !errors.Is(err, domain.ErrUserDisabled) {
			t.Errorf("login racing the disabling: %v, want ErrUserDisabled", err)
		}
		if s, _ := login.Session(f.ctx, cookie); s != nil {
			t.Error("a session survives")
		}
	})
}

func TestAdmin_UpdateUser(t *testing.T) {
	f := newPrincipalsFixture(t)
	u := f.user(t, "kim", "kim's password")
	f.user(t, "lee", "lee's password")
	yes := true
	got, err := f.admin.UpdateUser(f.ctx, u.ID, usecase.UserUpdate{EmailVerified: &yes})
	if err != nil || !got.EmailVerified {
		t.Fatalf("verify: %+v %v", got, err)
	}
	mail := "  KIM2@Example.com "
	got, err = f.admin.UpdateUser(f.ctx, u.ID, usecase.UserUpdate{Email: &mail})
	if err != nil || got.Email != "kim2@example.com" || got.EmailVerified {
		t.Fatalf("a new email is stored folded and unverified: %+v %v", got, err)
	}
	var ve *usecase.ValidationError
	for name, in := range map[string]usecase.UserUpdate{
		"taken email":            {Email: ptr("lee@example.com")},
		"bad email":              {Email: ptr("not an email")},
		"verified without email": {Email: ptr(""), EmailVerified: &yes},
	} {
		if _, err := f.admin.UpdateUser(f.ctx, u.ID, in); !errors.As(err, &ve) {
			t.Errorf("%s: %v, want a ValidationError", name, err)
		}
	}
	if _, err := f.admin.UpdateUser(f.ctx, "nobody", usecase.UserUpdate{}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}

	// FindUser: by id or username, the id first.
	for _, ref := range []string{u.ID, "kim", "KIM"} {
		if got, err := f.admin.FindUser(f.ctx, ref); err != nil || got.ID != u.ID {
			t.Errorf("FindUser(%q) = %+v, %v", ref, got, err)
		}
	}
	if _, err := f.admin.FindUser(f.ctx, "nobody"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("FindUser(nobody): %v", err)
	}
	// No new user may take an id's form as a username, in either case: anyone can read
	// another's id (the sub of a token) and could otherwise stand in its way.
	for _, name := range []string{u.ID, strings.ToUpper(u.ID), "0c5e5b8e-1f4a-4d9e-9b7a-3c2d1e0f9a8b"} {
		_, err := f.admin.CreateUser(f.ctx, usecase.NewUser{Username: name, Password: "twin's password"})
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "form of a user id") {
			t.Errorf("CreateUser(username %q): %v, want a ValidationError about the id's form", name, err)
		}
	}
	// A user stored with such a username before (it was allowed) does not hide the user
	// whose id it is, and still answers to it when it is nobody's id.
	now := f.clock.Now()
	twin := domain.User{ID: "4b0e7c1a-0000-4000-8000-00000000e1e1", Username: u.ID, CreatedAt: now, UpdatedAt: now}
	if err := f.users.CreateUser(f.ctx, twin); err != nil {
		t.Fatal(err)
	}
	orphan := domain.User{ID: "4b0e7c1a-0000-4000-8000-00000000e1e2", Username: "9d3f6a2b-5c4e-4f1a-8b7c-6d5e4f3a2b1c", CreatedAt: now, UpdatedAt: now}
	if err := f.users.CreateUser(f.ctx, orphan); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{u.ID: u.ID, twin.ID: twin.ID, orphan.Username: orphan.ID, orphan.ID: orphan.ID} {
		if got, err := f.admin.FindUser(f.ctx, ref); err != nil || got.ID != want {
			t.Errorf("FindUser(%q) = %s, %v; want %s", ref, got.ID, err, want)
		}
	}
	got, err = f.admin.UpdateUser(f.ctx, u.ID, usecase.UserUpdate{Email: ptr("kim3@example.com")})
	if err != nil || got.ID != u.ID || got.Email != "kim3@example.com" {
		t.Errorf("UpdateUser by the id a username also spells: %+v %v", got, err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestAdmin_UpdateClient(t *testing.T) {
	f := newPrincipalsFixture(t)
	c, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}, Scopes: []string{"api:read"}})
	other, _ := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}})
	got, err := f.admin.UpdateClient(f.ctx, c.ID, usecase.ClientUpdate{
		Name: ptr("renamed"), Scopes: ptr([]string{"api:read", "api:write"}), Audiences: ptr([]string{"https://orders.test"}),
		GrantTypes:   ptr([]string{domain.GrantClientCredentials, domain.GrantAuthorizationCode}),
		RedirectURIs: ptr([]string{"https://app.test/cb"}), SkipConsent: ptr(true), IDTokenAlg: ptr(domain.AlgES256),
		RequireDPoP: ptr(false), Public: ptr(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := f.admin.Client(f.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Name != "renamed" || strings.Join(stored.Scopes, " ") != "api:read api:write" || !stored.SkipConsent ||
		stored.IDTokenAlg != domain.AlgES256 || len(stored.RedirectURIs) != 1 || got.Name != stored.Name {
		t.Errorf("updated client: %+v", stored)
	}
	// The id and the secret stay.
	if _, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cr,
		Scope: "api:write"}); err != nil {
		t.Errorf("the secret after the update: %v", err)
	}
	// Empty lists get the defaults, as at creation.
	if got, err := f.admin.UpdateClient(f.ctx, c.ID, usecase.ClientUpdate{Scopes: ptr([]string{})}); err != nil ||
		strings.Join(got.Scopes, " ") != strings.Join(domain.DefaultClientScopes, " ") {
		t.Errorf("empty scope list: %+v %v", got.Scopes, err)
	}
	// Refusals: the client rules of domain.ValidateClient name the field (as RFC 7591
	// does); the update's own rules are ValidationErrors.
	var ve *usecase.ValidationError
	var fe *domain.FieldError
	for name, tc := range map[string]struct {
		in    usecase.ClientUpdate
		field string // "" for a ValidationError
	}{
		"to public":             {usecase.ClientUpdate{Public: ptr(true)}, ""},
		"to private_key_jwt":    {usecase.ClientUpdate{AuthMethod: ptr(domain.AuthPrivateKeyJWT), JWKSURI: ptr("https://keys.test/jwks.json")}, ""},
		"taken name":            {usecase.ClientUpdate{Name: ptr(other.Name)}, ""},
		"javascript redirect":   {usecase.ClientUpdate{RedirectURIs: ptr([]string{"javascript:alert(1)"})}, "redirect_uris"},
		"code without redirect": {usecase.ClientUpdate{RedirectURIs: ptr([]string{})}, "redirect_uris"},
		"unknown grant":         {usecase.ClientUpdate{GrantTypes: ptr([]string{"implicit"})}, "grant_types"},
		"bad id token alg":      {usecase.ClientUpdate{IDTokenAlg: ptr("HS256")}, "id_token_signed_response_alg"},
		"jwks for a secret":     {usecase.ClientUpdate{JWKSURI: ptr("https://keys.test/jwks.json")}, "token_endpoint_auth_method"},
	} {
		_, err := f.admin.UpdateClient(f.ctx, c.ID, tc.in)
		switch {
		case tc.field == "" && errors.As(err, &ve):
		case tc.field != "" && errors.As(err, &fe) && fe.Field == tc.field:
		default:
			t.Errorf("%s: %v, want a refusal of field %q", name, err, tc.field)
		}
	}
	if _, err := f.admin.UpdateClient(f.ctx, "nosuchclient", usecase.ClientUpdate{}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("unknown client: %v", err)
	}
	if stored, _ := f.admin.Client(f.ctx, c.ID); stored.Name != "renamed" || stored.Public {
		t.Errorf("a refused update changed the client: %+v", stored)
	}
}
