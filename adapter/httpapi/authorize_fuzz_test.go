package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"gatehouse/adapter/crypto"
	"gatehouse/adapter/identifier"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/adapter/throttle"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

const fuzzIssuer = "https://auth.test"

type fuzzClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fuzzClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// authorizeFixture is the authorization endpoint as `gatehouse serve` wires it (the
// real use cases, Bun repositories on SQLite in a temp directory, the real pages and
// error handler), with three clients and a logged-in session.
type authorizeFixture struct {
	e *echo.Echo
	// clients by placeholder: {conf} (confidential, several redirect URIs, consent
	// given), {pub} (public, one redirect URI, skips consent), {cc} (client
	// credentials only).
	clients map[string]domain.Client
	// session and browser are cookie values of a browser logged in as the user.
	session, browser string
}

func newAuthorizeFixture(t testing.TB) *authorizeFixture {
	ctx := context.Background()
	db := bunrepotest.Open(t, dbtest.SQLite(t))
	clk := &fuzzClock{t: time.Now().UTC().Truncate(time.Second)}
	settings := usecase.Settings{Issuer: fuzzIssuer, Audience: "https://api.test", AuthCodeTTL: usecase.AuthCodeTTL(time.Minute), RequirePKCE: true}
	keys, err := crypto.DeriveKeys("a fuzz test secret key that is long enough")
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := crypto.NewSecretHasher(keys)
	if err != nil {
		t.Fatal(err)
	}
	passwords, err := crypto.NewPasswordHasher(crypto.PasswordParams{Memory: 8 * 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	random := crypto.NewRandom()
	users, clients, tokens := bunrepo.NewUserRepository(db), bunrepo.NewClientRepository(db), bunrepo.NewTokenRepository(db, bunrepo.NewTxWriter(db))
	consents := bunrepo.NewConsentRepository(db)
	thr := throttle.NewMemory(throttle.DefaultPolicy, clk.Now)
	sessions := bunrepo.NewSessionRepository(db)
	admin := usecase.NewAdmin(users, identifier.NewRules(), clients, tokens, sessions, passwords, hasher, random, clk)
	authorize := usecase.NewAuthorize(users, clients, bunrepo.NewAuthRequestRepository(db), consents,
		bunrepo.NewCodeRepository(db, bunrepo.NewTxWriter(db)), bunrepo.NewPushedRequestRepository(db), hasher, random, clk, settings, usecase.PARSettings{}, nil, nil)
	login := usecase.NewLogin(users, identifier.NewRules(), passwords, thr, sessions, tokens, admin, random, hasher, clk, nil)
	log := slog.New(slog.DiscardHandler)
	pages, err := NewPages(PageConfig{Issuer: fuzzIssuer, CSRFKey: []byte(strings.Repeat("k", 32)), Languages: testLanguages(t)}, authorize, login, nil, nil, nil, nil, log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.IPExtractor = echo.ExtractIPDirect()
	pages.Mount(NewRouter(e, Responder{Log: log, Pages: pages, Issuer: fuzzIssuer}))

	fx := &authorizeFixture{e: e, clients: map[string]domain.Client{}}
	for name, in := range map[string]usecase.NewClient{
		"{conf}": {RedirectURIs: []string{"https://app.example.com/cb", "https://app.example.com/cb2?a=1&b=2",
			"http://127.0.0.1/loopback", "http://[::1]/v6", "http://localhost:8000/local", "com.example.app:/oauth"},
			Scopes: []string{"openid", "profile", "api:read"}, Audiences: []string{"https://api.example/"}},
		"{pub}": {RedirectURIs: []string{"https://public.example/cb?x=%20y"}, Public: true, SkipConsent: true},
		"{cc}":  {GrantTypes: []string{domain.GrantClientCredentials}},
	} {
		in.Name = "fuzz " + name
		c, err := admin.CreateClient(ctx, in)
		if err != nil {
			t.Fatalf("create client %s: %v", name, err)
		}
		fx.clients[name] = c.Client
	}
	u, err := admin.CreateUser(ctx, usecase.NewUser{Username: "alice", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	if err := consents.SaveConsent(ctx, domain.Consent{UserID: u.ID, ClientID: fx.clients["{conf}"].ID,
		Scope: []string{"openid", "profile"}, GrantedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	_, fx.session, err = login.LogIn(ctx, "alice", "correct horse battery", "192.0.2.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	fx.browser = newCookieSecret()
	return fx
}

// get sends GET /oauth/authorize with the raw query, placeholders replaced by the
// client ids, from a logged-in browser or a fresh one.
func (fx *authorizeFixture) get(rawQuery string, loggedIn bool) (*httptest.ResponseRecorder, string) {
	for name, c := range fx.clients {
		rawQuery = strings.ReplaceAll(rawQuery, name, c.ID)
	}
	req := httptest.NewRequest(http.MethodGet, "/oauth/authorize", nil)
	req.URL.RawQuery = rawQuery
	if loggedIn {
		req.AddCookie(&http.Cookie{Name: "__Host-gatehouse_session", Value: fx.session})
		req.AddCookie(&http.Cookie{Name: "__Host-gatehouse_browser", Value: fx.browser})
	}
	rec := httptest.NewRecorder()
	fx.e.ServeHTTP(rec, req)
	return rec, rawQuery
}

// FuzzAuthorize sends any query string to GET /oauth/authorize and checks what the
// endpoint promises whatever it is sent (SECURITY S1-S7, S45): never a 5xx; a
// redirect goes either to our own login or consent page or to a redirect URI
// registered for the client named in the request (a loopback one on any port), with
// the request's state byte for byte (none when it was absent, repeated or not
// valid text), iss, and exactly one of code or error.
func FuzzAuthorize(f *testing.F) {
	fx := newAuthorizeFixture(f)
	const pkce = "code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
	for _, s := range []string{
		"",
		"client_id={conf}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&state=xyz&" + pkce,
		"client_id={conf}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&state=a%2Bb%20c%26d%3D&scope=openid+profile&" + pkce,
		"client_id={conf}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb2%3Fa%3D1%26b%3D2&response_type=code&state=s&" + pkce,
		"client_id={conf}&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Floopback&response_type=code&state=s&" + pkce,
		"client_id={conf}&redirect_uri=http%3A%2F%2F%5B%3A%3A1%5D%3A80%2Fv6&response_type=code&state=s&" + pkce,
		"client_id={conf}&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Floopback%23&response_type=code&state=s&" + pkce,
		"client_id={conf}&redirect_uri=HTTP%3A%2F%2F127.0.0.1%3A5555%2Floopback&response_type=code&state=s&" + pkce,
		"client_id={conf}&redirect_uri=com.example.app%3A%2Foauth&response_type=code&state=s&prompt=none&" + pkce,
		"client_id={conf}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=token&state=s",
		"client_id={conf}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&state=s&state=t&" + pkce,
		"client_id={conf}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&state=%FF&" + pkce,
		"client_id={conf}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&state=a%00b&" + pkce,
		"client_id={conf}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&state=&scope=admin&" + pkce,
		"client_id={conf}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&state=s&resource=https%3A%2F%2Fevil%2F&" + pkce,
		"client_id={conf}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&state=s&max_age=-1&prompt=login+none&" + pkce,
		"client_id={conf}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&state=s&code_challenge=short&code_challenge_method=plain",
		"client_id={conf}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%2F&response_type=code&state=s&" + pkce,
		"client_id={conf}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&redirect_uri=https%3A%2F%2Fevil%2F&response_type=code",
		"client_id={conf}&client_id={pub}&response_type=code",
		"client_id={conf}&response_type=code&state=s&" + pkce,
		"client_id={pub}&response_type=code&state=s&" + pkce,
		"client_id={pub}&response_type=code&state=s",
		"client_id={pub}&redirect_uri=https%3A%2F%2Fpublic.example%2Fcb%3Fx%3D%2520y&response_type=code&state=%E2%9C%93&" + pkce,
		"client_id={cc}&response_type=code&state=s&" + pkce,
		"client_id=nosuchclient&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&state=s",
		"client_id=%00&response_type=code", "client_id=%FF&response_type=code", "client_id={conf}&state=%zz",
		"client_id={conf};response_type=code", "state=" + strings.Repeat("s", 5000) + "&client_id={pub}&response_type=code&" + pkce,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, query string, loggedIn bool) {
		rec, sent := fx.get(query, loggedIn)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q\n%s", rec.Code, sent, rec.Body)
		}
		loc := rec.Header().Get("Location")
		if rec.Code < 300 || rec.Code >= 400 {
			if loc != "" {
				t.Fatalf("status %d with Location %q", rec.Code, loc)
			}
			return
		}
		if strings.HasPrefix(loc, "/login?req=") || strings.HasPrefix(loc, "/consent?req=") {
			return
		}
		fx.checkClientRedirect(t, sent, loc)
	})
}

// checkClientRedirect: loc answers the request with query sent at a redirect URI
// registered for its client.
func (fx *authorizeFixture) checkClientRedirect(t *testing.T, sent, loc string) {
	t.Helper()
	q, err := url.ParseQuery(sent)
	if err != nil {
		t.Fatalf("redirect to %q for a query that does not parse: %q", loc, sent)
	}
	if len(q["client_id"]) != 1 || len(q["redirect_uri"]) > 1 {
		t.Fatalf("redirect to %q without one client_id and at most one redirect_uri: %q", loc, sent)
	}
	var client domain.Client
	for _, c := range fx.clients {
		if c.ID == q.Get("client_id") {
			client = c
		}
	}
	if client.ID == "" {
		t.Fatalf("redirect to %q for an unknown client: %q", loc, sent)
	}
	uri := q.Get("redirect_uri")
	if uri == "" {
		if len(client.RedirectURIs) != 1 {
			t.Fatalf("redirect to %q without redirect_uri for a client with %d", loc, len(client.RedirectURIs))
		}
		uri = client.RedirectURIs[0]
	}
	if !slices.Contains(client.RedirectURIs, uri) && !loopbackPortOf(client.RedirectURIs, uri) {
		t.Fatalf("redirect to %q: %q is not registered for the client (%q)", loc, uri, client.RedirectURIs)
	}
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	params, ok := strings.CutPrefix(loc, uri+sep)
	if !ok {
		t.Fatalf("redirect to %q, not to %q", loc, uri)
	}
	answer, err := url.ParseQuery(params)
	if err != nil {
		t.Fatalf("redirect to %q: parameters do not parse: %v", loc, err)
	}
	if got := answer["iss"]; len(got) != 1 || got[0] != fuzzIssuer {
		t.Fatalf("redirect to %q: iss %q", loc, got)
	}
	if len(answer["code"])+len(answer["error"]) != 1 {
		t.Fatalf("redirect to %q: want exactly one code or error", loc)
	}
	want := ""
	if st := q["state"]; len(st) == 1 && len(st[0]) <= 4096 && utf8.ValidString(st[0]) && !strings.ContainsRune(st[0], 0) {
		want = st[0]
	}
	switch got := answer["state"]; {
	case want == "" && len(got) != 0:
		t.Fatalf("redirect to %q: state %q, want none (sent %q)", loc, got, q["state"])
	case want != "" && (len(got) != 1 || got[0] != want):
		t.Fatalf("redirect to %q: state %q, want %q", loc, got, want)
	}
}

// loopbackPortOf: uri is a registered http://127.0.0.1 or http://[::1] URI with
// another port, all else equal byte for byte.
func loopbackPortOf(registered []string, uri string) bool {
	split := func(s string) (host, rest string, ok bool) {
		after, ok := strings.CutPrefix(s, "http://")
		if !ok {
			return "", "", false
		}
		i := strings.IndexAny(after, "/?#")
		if i < 0 {
			i = len(after)
		}
		for _, h := range []string{"127.0.0.1", "[::1]"} {
			if p, found := strings.CutPrefix(after[:i], h); found && (p == "" || p[0] == ':' && strings.Trim(p[1:], "0123456789") == "") {
				return h, after[i:], true
			}
		}
		return "", "", false
	}
	host, rest, ok := split(uri)
	if !ok {
		return false
	}
	for _, r := range registered {
		if rh, rr, ok := split(r); ok && rh == host && rr == rest {
			return true
		}
	}
	return false
}
