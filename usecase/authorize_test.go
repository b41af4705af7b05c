package usecase_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"gatehouse/adapter/crypto"
	"gatehouse/adapter/identifier"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// pagesFixture adds the authorization endpoint and sessions to the fixture.
type pagesFixture struct {
	*fixture
	authorize *usecase.Authorize
	login     *usecase.Login
}

func newPagesFixture(t *testing.T) *pagesFixture {
	t.Helper()
	f := newFixture(t)
	passwords, err := crypto.NewPasswordHasher(crypto.PasswordParams{Memory: 8 * 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	sessions := bunrepo.NewSessionRepository(f.db)
	return &pagesFixture{
		fixture: f,
		authorize: usecase.NewAuthorize(f.users, f.clients, bunrepo.NewAuthRequestRepository(f.db), bunrepo.NewConsentRepository(f.db),
			f.codes, bunrepo.NewPushedRequestRepository(f.db), f.hasher, f.random, f.clock, f.settings, usecase.PARSettings{}, nil, nil),
		login: usecase.NewLogin(f.users, identifier.NewRules(), passwords, f.throttle, sessions, f.tokens, f.admin, f.random, f.hasher, f.clock, nil),
	}
}

const browserA, browserB = "browser-secret-a", "browser-secret-b"

// signedIn makes the user name, with the password "name's password", and signs it in.
func (f *pagesFixture) signedIn(t *testing.T, name string) (domain.User, domain.Session) {
	t.Helper()
	u := f.user(t, name, name+"'s password")
	s, _, err := f.login.LogIn(f.ctx, name, name+"'s password", "192.0.2.9", nil)
	if err != nil {
		t.Fatal(err)
	}
	return u, s
}

func pkceParams(c domain.Client, kv ...string) usecase.AuthorizeParams {
	v := oauth2.GenerateVerifier()
	p := usecase.AuthorizeParams{ClientID: c.ID, RedirectURI: c.RedirectURIs[0], ResponseType: "code", Scope: "openid",
		State: "st", CodeChallenge: oauth2.S256ChallengeFromVerifier(v), CodeChallengeMethod: "S256"}
	for i := 0; i+1 < len(kv); i += 2 {
		switch kv[i] {
		case "prompt":
			p.Prompt = kv[i+1]
		case "max_age":
			p.MaxAge = kv[i+1]
		case "scope":
			p.Scope = kv[i+1]
		}
	}
	return p
}

// TestAuthorize_Validation: each defect is a *domain.Error for a page (untrusted
// client or redirect URI) or a *domain.AuthorizationError for a redirect, with the
// right code.
func TestAuthorize_Validation(t *testing.T) {
	f := newPagesFixture(t)
	c, _ := f.client(t, usecase.NewClient{RedirectURIs: []string{"https://app.test/cb"}, Audiences: []string{"https://api.test/x"}})
	good := pkceParams(c)
	for name, tc := range map[string]struct {
		edit func(p *usecase.AuthorizeParams)
		page bool
		code string
	}{
		"unknown client":        {func(p *usecase.AuthorizeParams) { p.ClientID = "nope" }, true, "invalid_client"},
		"unregistered uri":      {func(p *usecase.AuthorizeParams) { p.RedirectURI += "/" }, true, "invalid_request"},
		"repeated client_id":    {func(p *usecase.AuthorizeParams) { p.Repeated = []string{"client_id"} }, true, "invalid_request"},
		"repeated redirect_uri": {func(p *usecase.AuthorizeParams) { p.Repeated = []string{"redirect_uri"} }, true, "invalid_request"},
		"repeated scope":        {func(p *usecase.AuthorizeParams) { p.Repeated = []string{"scope"} }, false, "invalid_request"},
		"token":                 {func(p *usecase.AuthorizeParams) { p.ResponseType = "token" }, false, "unsupported_response_type"},
		"no response_type":      {func(p *usecase.AuthorizeParams) { p.ResponseType = "" }, false, "invalid_request"},
		"bad scope":             {func(p *usecase.AuthorizeParams) { p.Scope = "openid admin" }, false, "invalid_scope"},
		"bad resource":          {func(p *usecase.AuthorizeParams) { p.Resource = []string{"https://other.test"} }, false, "invalid_target"},
		"no PKCE":               {func(p *usecase.AuthorizeParams) { p.CodeChallenge, p.CodeChallengeMethod = "", "" }, false, "invalid_request"},
		"plain":                 {func(p *usecase.AuthorizeParams) { p.CodeChallengeMethod = "plain" }, false, "invalid_request"},
		"short challenge":       {func(p *usecase.AuthorizeParams) { p.CodeChallenge = p.CodeChallenge[:40] }, false, "invalid_request"},
		"prompt none":           {func(p *usecase.AuthorizeParams) { p.Prompt = "none" }, false, "login_required"},
		"prompt none+login":     {func(p *usecase.AuthorizeParams) { p.Prompt = "none login" }, false, "invalid_request"},
		"max_age negative":      {func(p *usecase.AuthorizeParams) { p.MaxAge = "-5" }, false, "invalid_request"},
		"NUL in nonce":          {func(p *usecase.AuthorizeParams) { p.Nonce = "a\x00b" }, false, "invalid_request"},
		"huge state":            {func(p *usecase.AuthorizeParams) { p.State = strings.Repeat("s", 5000) }, false, "invalid_request"},
		"response_mode":         {func(p *usecase.AuthorizeParams) { p.ResponseMode = "form_post" }, false, "invalid_request"},
		"id_token_hint":         {func(p *usecase.AuthorizeParams) { p.IDTokenHint = "not.a.jwt" }, false, "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			p := good
			tc.edit(&p)
			_, err := f.authorize.Start(f.ctx, usecase.AuthorizeInput{Params: p, BrowserSecret: browserA})
			var pe *domain.Error
			var ae *domain.AuthorizationError
			switch {
			case !errors.As(err, &ae) && tc.page && errors.As(err, &pe):
				if pe.Code != tc.code {
					t.Errorf("page error %q, want %q", pe.Code, tc.code)
				}
			case !tc.page && errors.As(err, &ae):
				if ae.Err.Code != tc.code || ae.RedirectURI != c.RedirectURIs[0] {
					t.Errorf("redirect error %+v, want %s at %s", ae, tc.code, c.RedirectURIs[0])
				}
			default:
				t.Fatalf("err = %v, want a page %v with %s", err, tc.page, tc.code)
			}
		})
	}
	step, err := f.authorize.Start(f.ctx, usecase.AuthorizeInput{Params: good, BrowserSecret: browserA})
	if err != nil || step.Kind != usecase.StepLogin || step.RequestID == "" {
		t.Fatalf("good request: %+v %v", step, err)
	}
}

// TestAuthorize_RequestLifetimeAndBrowser: a pending request lives AuthRequestTTL,
// belongs to the browser that started it, and completes once.
func TestAuthorize_RequestLifetimeAndBrowser(t *testing.T) {
	f := newPagesFixture(t)
	c, _ := f.client(t, usecase.NewClient{RedirectURIs: []string{"https://app.test/cb"}, SkipConsent: true})
	f.user(t, "ann", "ann's password")
	start := func() string {
		step, err := f.authorize.Start(f.ctx, usecase.AuthorizeInput{Params: pkceParams(c), BrowserSecret: browserA})
		if err != nil {
			t.Fatal(err)
		}
		return step.RequestID
	}
	wantPage := func(err error, code *domain.Error) {
		t.Helper()
		if !errors.Is(err, code) || errors.As(err, new(*domain.AuthorizationError)) {
			t.Fatalf("err = %v, want %s for a page", err, code.Code)
		}
	}
	id := start()
	_, err := f.authorize.Pending(f.ctx, id, browserB)
	wantPage(err, domain.ErrAccessDenied)
	if _, err := f.authorize.Pending(f.ctx, id, browserA); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(domain.AuthRequestTTL)
	_, err = f.authorize.Pending(f.ctx, id, browserA)
	wantPage(err, domain.ErrInvalidRequest)

	// Completed once, however many tabs race.
	id = start()
	s, _, err := f.login.LogIn(f.ctx, "ann", "ann's password", "192.0.2.9", nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	steps := make([]usecase.Step, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { steps[i], errs[i] = f.authorize.LoggedIn(f.ctx, id, browserA, s) })
	}
	wg.Wait()
	codes := 0
	for i := range n {
		switch {
		case errs[i] == nil && steps[i].Kind == usecase.StepRedirect:
			codes++
		case errors.Is(errs[i], domain.ErrInvalidRequest):
		default:
			t.Errorf("racing completion: %+v %v", steps[i], errs[i])
		}
	}
	if codes != 1 {
		t.Fatalf("%d codes from one request, want 1", codes)
	}
}

// TestAuthorize_MaxAgeAndCodeTTL uses the fixed clock.
func TestAuthorize_MaxAgeAndCodeTTL(t *testing.T) {
	f := newPagesFixture(t)
	c, cr := f.client(t, usecase.NewClient{RedirectURIs: []string{"https://app.test/cb"}, SkipConsent: true})
	_, s := f.signedIn(t, "bob")
	f.clock.Advance(10 * time.Minute)
	run := func(kv ...string) usecase.Step {
		t.Helper()
		step, err := f.authorize.Start(f.ctx, usecase.AuthorizeInput{Params: pkceParams(c, kv...), Session: &s, BrowserSecret: browserA})
		if err != nil {
			t.Fatal(err)
		}
		return step
	}
	if step := run("max_age", "600"); step.Kind != usecase.StepRedirect {
		t.Errorf("max_age=600, session 600 s old: %v, want a code", step.Kind)
	}
	if step := run("max_age", "599"); step.Kind != usecase.StepLogin {
		t.Errorf("max_age=599, session 600 s old: %v, want login", step.Kind)
	}
	if step := run("prompt", "login"); step.Kind != usecase.StepLogin {
		t.Errorf("prompt=login: %v, want login", step.Kind)
	}

	// The code lives AuthCodeTTL (1 minute here).
	v := oauth2.GenerateVerifier()
	p := pkceParams(c)
	p.CodeChallenge = oauth2.S256ChallengeFromVerifier(v)
	step, err := f.authorize.Start(f.ctx, usecase.AuthorizeInput{Params: p, Session: &s, BrowserSecret: browserA})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	_, err = f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantAuthorizationCode, Credentials: cr,
		Code: step.Response.Code, RedirectURI: c.RedirectURIs[0], CodeVerifier: v})
	if !errors.Is(err, domain.ErrInvalidGrant) {
		t.Fatalf("a code one TTL old: %v, want invalid_grant", err)
	}
}

// TestAuthorize_CodeKeyLeadsWithItsTime: a code is a sorted token, stored under a key
// that begins with its 8 characters of time (so new codes go to the end of the
// primary key's index), and exchanged by that key.
func TestAuthorize_CodeKeyLeadsWithItsTime(t *testing.T) {
	f := newPagesFixture(t)
	c, cr := f.client(t, usecase.NewClient{RedirectURIs: []string{"https://app.test/cb"}, SkipConsent: true})
	_, s := f.signedIn(t, "carl")
	v := oauth2.GenerateVerifier()
	p := pkceParams(c)
	p.CodeChallenge = oauth2.S256ChallengeFromVerifier(v)
	step, err := f.authorize.Start(f.ctx, usecase.AuthorizeInput{Params: p, Session: &s, BrowserSecret: browserA})
	if err != nil || step.Kind != usecase.StepRedirect {
		t.Fatalf("authorize: %v %v", step.Kind, err)
	}
	code := step.Response.Code
	var keys [][]byte
	if err := f.db.NewSelect().Table("authorization_codes").Column("hash").Scan(f.ctx, &keys); err != nil {
		t.Fatal(err)
	}
	if len(code) != crypto.SortedTokenLength || len(keys) != 1 || string(keys[0][:8]) != code[:8] {
		t.Fatalf("code %q stored under %x; want a sorted token whose key begins with its time", code, keys)
	}
	if _, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantAuthorizationCode, Credentials: cr,
		Code: code, RedirectURI: c.RedirectURIs[0], CodeVerifier: v}); err != nil {
		t.Fatalf("exchange: %v", err)
	}
}

// TestLogin_Sessions: a new secret at every login, the same id for the same user,
// expiry, and logout.
func TestLogin_Sessions(t *testing.T) {
	f := newPagesFixture(t)
	f.user(t, "cat", "cat's password")
	f.user(t, "dan", "dan's password")
	s1, secret1, err := f.login.LogIn(f.ctx, "cat", "cat's password", "192.0.2.9", nil)
	if err != nil {
		t.Fatal(err)
	}
	s2, secret2, err := f.login.LogIn(f.ctx, "cat", "cat's password", "192.0.2.9", &s1)
	if err != nil {
		t.Fatal(err)
	}
	if secret2 == secret1 || s2.ID != s1.ID {
		t.Errorf("re-login of the same user: new secret %v, same id %v; want both", secret2 != secret1, s2.ID == s1.ID)
	}
	if got, _ := f.login.Session(f.ctx, secret1); got != nil {
		t.Error("the secret from before the login still works")
	}
	s3, secret3, err := f.login.LogIn(f.ctx, "dan", "dan's password", "192.0.2.9", &s2)
	if err != nil || s3.ID == s2.ID {
		t.Fatalf("another user in the same browser: %v, id kept %v", err, s3.ID == s2.ID)
	}
	if got, _ := f.login.Session(f.ctx, secret3); got == nil || got.UserID != s3.UserID {
		t.Fatalf("session lookup: %+v", got)
	}
	if _, _, err := f.login.LogIn(f.ctx, "dan", "wrong", "192.0.2.9", nil); !errors.Is(err, domain.ErrInvalidGrant) {
		t.Errorf("wrong password: %v", err)
	}
	if err := f.login.LogOut(f.ctx, s3); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.login.Session(f.ctx, secret3); got != nil {
		t.Error("the session survived logout")
	}
	_, secret4, err := f.login.LogIn(f.ctx, "dan", "dan's password", "192.0.2.9", nil)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(usecase.SessionTTL)
	if got, _ := f.login.Session(f.ctx, secret4); got != nil {
		t.Error("the session outlived SessionTTL")
	}
}

// TestAuthorize_ConsentPerRedirectURI (issue 18, finding 2): a public client's consent
// holds for the exact redirect URI it was given at, loopback port included; another
// port asks again, and prompt=none there gets consent_required. A confidential
// client's consent holds for all its redirect URIs.
func TestAuthorize_ConsentPerRedirectURI(t *testing.T) {
	f := newPagesFixture(t)
	consents := bunrepo.NewConsentRepository(f.db)
	pub, _ := f.client(t, usecase.NewClient{Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"}})
	conf, _ := f.client(t, usecase.NewClient{RedirectURIs: []string{"http://127.0.0.1/cb", "https://app.test/cb"}})
	user, s := f.signedIn(t, "eve")
	start := func(c domain.Client, uri string, kv ...string) (usecase.Step, error) {
		p := pkceParams(c, kv...)
		p.RedirectURI = uri
		return f.authorize.Start(f.ctx, usecase.AuthorizeInput{Params: p, Session: &s, BrowserSecret: browserA})
	}
	wantStep := func(c domain.Client, uri string, want usecase.StepKind, kv ...string) usecase.Step {
		t.Helper()
		step, err := start(c, uri, kv...)
		if err != nil || step.Kind != want {
			t.Fatalf("%s %v: step %+v, %v; want kind %v", uri, kv, step, err, want)
		}
		if want == usecase.StepRedirect && (step.Response.RedirectURI != uri || step.Response.Code == "") {
			t.Fatalf("%s: answer %+v, want a code at the URI itself", uri, step.Response)
		}
		return step
	}
	consentRequired := func(c domain.Client, uri string) {
		t.Helper()
		_, err := start(c, uri, "prompt", "none")
		var ae *domain.AuthorizationError
		if !errors.As(err, &ae) || ae.Err.Code != "consent_required" || ae.RedirectURI != uri || ae.State != "st" {
			t.Fatalf("%s with prompt=none: %v, want consent_required at that URI", uri, err)
		}
	}
	allow := func(c domain.Client, uri string, kv ...string) {
		t.Helper()
		step := wantStep(c, uri, usecase.StepConsent, kv...)
		got, err := f.authorize.Decide(f.ctx, step.RequestID, browserA, &s, true)
		if err != nil || got.Kind != usecase.StepRedirect || got.Response.RedirectURI != uri || got.Response.Code == "" {
			t.Fatalf("allow at %s: %+v, %v", uri, got, err)
		}
	}

	const port1, port2 = "http://127.0.0.1:5001/cb", "http://127.0.0.1:5002/cb"
	consentRequired(pub, port1)
	allow(pub, port1)
	wantStep(pub, port1, usecase.StepRedirect)
	wantStep(pub, port1, usecase.StepRedirect, "prompt", "none")
	// Another port is another program as far as anyone can tell.
	consentRequired(pub, port2)
	wantStep(pub, port2, usecase.StepConsent)
	wantStep(pub, "http://127.0.0.1/cb", usecase.StepConsent)
	got, err := consents.ConsentFor(f.ctx, user.ID, pub.ID, port1)
	if err != nil || got.RedirectURI != port1 {
		t.Fatalf("stored consent %+v, %v; want it bound to %s", got, err, port1)
	}
	if _, err := consents.ConsentFor(f.ctx, user.ID, pub.ID, ""); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a public client's consent for every URI: %v, want none", err)
	}

	// Scopes add up per URI: more scope at port 2 leaves port 1 with what it had.
	allow(pub, port2, "scope", "openid profile")
	wantStep(pub, port2, usecase.StepRedirect, "scope", "openid")
	wantStep(pub, port2, usecase.StepRedirect, "scope", "profile openid")
	wantStep(pub, port1, usecase.StepConsent, "scope", "openid profile")
	wantStep(pub, port1, usecase.StepRedirect, "scope", "openid")

	// A confidential client: one consent for all its redirect URIs and ports.
	consentRequired(conf, "https://app.test/cb")
	allow(conf, "https://app.test/cb")
	for _, uri := range []string{"https://app.test/cb", port1, port2, "http://127.0.0.1/cb"} {
		wantStep(conf, uri, usecase.StepRedirect, "prompt", "none")
	}
	got, err = consents.ConsentFor(f.ctx, user.ID, conf.ID, "")
	if err != nil || got.RedirectURI != "" {
		t.Fatalf("confidential client's consent %+v, %v; want one for every URI", got, err)
	}
}

// TestAuthorize_ResponseMode: a mode other than query is refused at the client's
// redirect URI, with its state, before any page or code.
func TestAuthorize_ResponseMode(t *testing.T) {
	f := newPagesFixture(t)
	c, _ := f.client(t, usecase.NewClient{RedirectURIs: []string{"https://app.test/cb"}, SkipConsent: true})
	_, s := f.signedIn(t, "ann")
	for _, mode := range []string{"form_post", "fragment", "xyz", "query.jwt"} {
		p := pkceParams(c)
		p.ResponseMode = mode
		_, err := f.authorize.Start(f.ctx, usecase.AuthorizeInput{Params: p, Session: &s, BrowserSecret: browserA})
		var ae *domain.AuthorizationError
		if !errors.As(err, &ae) || ae.Err.Code != "invalid_request" || ae.State != "st" || ae.RedirectURI != c.RedirectURIs[0] ||
			ae.Err.Description != "response_mode "+mode+" is not supported; this server answers in the query" {
			t.Errorf("response_mode=%s: %v, want invalid_request at the redirect URI", mode, err)
		}
	}
	p := pkceParams(c)
	p.ResponseMode = "query"
	if step, err := f.authorize.Start(f.ctx, usecase.AuthorizeInput{Params: p, Session: &s, BrowserSecret: browserA}); err != nil ||
		step.Kind != usecase.StepRedirect || step.Response.Code == "" {
		t.Fatalf("response_mode=query: %+v, %v, want a code", step, err)
	}
}

// TestAuthorize_SelectAccount: prompt=select_account shows the login page even to a
// signed-in browser (where the user signs in with the account of their choice), as
// prompt=login does; with prompt=none it is refused.
func TestAuthorize_SelectAccount(t *testing.T) {
	f := newPagesFixture(t)
	c, _ := f.client(t, usecase.NewClient{RedirectURIs: []string{"https://app.test/cb"}, SkipConsent: true})
	_, s := f.signedIn(t, "ann")
	start := func(prompt string) (usecase.Step, error) {
		return f.authorize.Start(f.ctx, usecase.AuthorizeInput{Params: pkceParams(c, "prompt", prompt), Session: &s, BrowserSecret: browserA})
	}
	if step, err := start(""); err != nil || step.Kind != usecase.StepRedirect {
		t.Fatalf("no prompt, signed in: %+v, %v, want a code", step, err)
	}
	step, err := start("select_account")
	if err != nil || step.Kind != usecase.StepLogin || step.RequestID == "" {
		t.Fatalf("prompt=select_account, signed in: %+v, %v, want the login page", step, err)
	}
	if pr, err := f.authorize.Pending(f.ctx, step.RequestID, browserA); err != nil || !pr.NeedsLogin(&s) {
		t.Fatalf("the pending request must ask for a sign-in: %+v, %v", pr, err)
	}
	// Once the user has signed in (with the account chosen) the request goes on.
	if step, err := f.authorize.LoggedIn(f.ctx, step.RequestID, browserA, s); err != nil || step.Kind != usecase.StepRedirect {
		t.Fatalf("after the sign-in: %+v, %v, want a code", step, err)
	}
	var ae *domain.AuthorizationError
	if _, err := start("none select_account"); !errors.As(err, &ae) || ae.Err.Code != "invalid_request" {
		t.Fatalf("prompt=none select_account: %v, want invalid_request", err)
	}
}

// TestAuthorize_IDTokenHint: an id_token_hint must be an ID token of ours issued to
// the requesting client (expired or not); naming a user other than the one signed
// in, it gets login_required with prompt=none and the login page without; naming the
// signed-in user, it changes nothing.
func TestAuthorize_IDTokenHint(t *testing.T) {
	f := newPagesFixture(t)
	f.authorize = usecase.NewAuthorizeWithHints(f.users, f.clients, bunrepo.NewAuthRequestRepository(f.db),
		bunrepo.NewConsentRepository(f.db), f.codes, bunrepo.NewPushedRequestRepository(f.db), f.hasher, f.random, f.clock,
		f.settings, usecase.PARSettings{}, nil, nil, nil, f.hints)
	grants := []string{domain.GrantAuthorizationCode, domain.GrantPassword}
	c, cr := f.client(t, usecase.NewClient{RedirectURIs: []string{"https://app.test/cb"}, SkipConsent: true, GrantTypes: grants})
	_, ocr := f.client(t, usecase.NewClient{RedirectURIs: []string{"https://other.test/cb"}, SkipConsent: true, GrantTypes: grants})
	_, alice := f.signedIn(t, "alice")
	f.user(t, "bob", "bob's password")
	idToken := func(cr usecase.Credentials, name string) string {
		t.Helper()
		tok, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantPassword, Credentials: cr,
			Username: name, Password: name + "'s password", Scope: "openid"})
		if err != nil || tok.IDToken == "" {
			t.Fatalf("password grant for %s: %v", name, err)
		}
		return tok.IDToken
	}
	aliceHint, bobHint, otherClientHint := idToken(cr, "alice"), idToken(cr, "bob"), idToken(ocr, "alice")
	start := func(hint, prompt string) (usecase.Step, error) {
		p := pkceParams(c, "prompt", prompt)
		p.IDTokenHint = hint
		return f.authorize.Start(f.ctx, usecase.AuthorizeInput{Params: p, Session: &alice, BrowserSecret: browserA})
	}
	redirectErr := func(name string, err error, code string) {
		t.Helper()
		var ae *domain.AuthorizationError
		if !errors.As(err, &ae) || ae.Err.Code != code || ae.State != "st" || ae.RedirectURI != c.RedirectURIs[0] {
			t.Errorf("%s: %v, want %s at the redirect URI", name, err, code)
		}
	}

	for _, prompt := range []string{"none", ""} {
		if step, err := start(aliceHint, prompt); err != nil || step.Kind != usecase.StepRedirect || step.Response.Code == "" {
			t.Errorf("prompt=%q, hint of the signed-in user: %+v, %v, want a code", prompt, step, err)
		}
	}
	_, err := start(bobHint, "none")
	redirectErr("prompt=none, hint of another user", err, "login_required")
	step, err := start(bobHint, "")
	if err != nil || step.Kind != usecase.StepLogin {
		t.Errorf("hint of another user: %+v, %v, want the login page", step, err)
	} else if pr, err := f.authorize.Pending(f.ctx, step.RequestID, browserA); err != nil || !pr.NeedsLogin(&alice) {
		t.Errorf("the pending request must ask for a sign-in: %+v, %v", pr, err)
	}
	for name, hint := range map[string]string{
		"garbage":           "garbage",
		"altered signature": aliceHint[:len(aliceHint)-4] + "AAAA",
		"another client's":  otherClientHint,
		"an unsigned one":   "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
		"an access token":   accessToken(t, f, cr),
	} {
		_, err := start(hint, "none")
		redirectErr(name+" hint", err, "invalid_request")
	}

	// An expired ID token is still a hint: it says whom the client expects.
	f.clock.Advance(48 * time.Hour)
	if step, err := start(aliceHint, "none"); err != nil || step.Kind != usecase.StepRedirect {
		t.Errorf("expired hint of the signed-in user: %+v, %v, want a code", step, err)
	}
	_, err = start(bobHint, "none")
	redirectErr("expired hint of another user", err, "login_required")

	// Without a verifier no hint can be checked: refused, never ignored.
	plain := newPagesFixture(t)
	pc, _ := plain.client(t, usecase.NewClient{RedirectURIs: []string{"https://app.test/cb"}, SkipConsent: true})
	p := pkceParams(pc)
	p.IDTokenHint = aliceHint
	var ae *domain.AuthorizationError
	if _, err := plain.authorize.Start(plain.ctx, usecase.AuthorizeInput{Params: p, BrowserSecret: browserA}); !errors.As(err, &ae) ||
		ae.Err.Code != "invalid_request" {
		t.Errorf("no verifier: %v, want invalid_request", err)
	}
}

// accessToken is an access token of client cr (a JWT of ours that is no ID token).
func accessToken(t *testing.T, f *pagesFixture, cr usecase.Credentials) string {
	t.Helper()
	tok, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantPassword, Credentials: cr,
		Username: "alice", Password: "alice's password", Scope: "openid"})
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}
