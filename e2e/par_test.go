package e2e

// Pushed authorization requests (RFC 9126), end to end: POST /oauth/par, then
// /oauth/authorize with the request_uri, through login and consent, to a code
// redeemed with golang.org/x/oauth2; and the attacks of RFC 9126 §7 and the brief:
// request_uri reuse (also concurrent), another client's request_uri, an expired one,
// an unauthenticated push, an invalid pushed redirect_uri, and a client that must use
// PAR bypassing it. Names start with par.

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const parPrefix = "urn:ietf:params:oauth:request_uri:"

// parPush posts v to /oauth/par as c (HTTP Basic for a confidential client, client_id
// in the body for a public one).
func parPush(t testing.TB, srv *Server, hc *http.Client, c azClient, v url.Values) Response {
	t.Helper()
	if c.Secret == "" {
		v.Set("client_id", c.ID)
		return srv.PostForm(t, hc, "/oauth/par", v.Encode(), "", "")
	}
	return srv.PostForm(t, hc, "/oauth/par", v.Encode(), c.ID, c.Secret)
}

// parRequestURI pushes q (an authorization request as azQuery builds it) and returns
// the request_uri, checking the RFC 9126 §2.2 answer.
func parRequestURI(t testing.TB, srv *Server, hc *http.Client, c azClient, q url.Values, wantTTL float64) string {
	t.Helper()
	r := parPush(t, srv, hc, c, q)
	if r.Status != http.StatusCreated {
		t.Fatalf("push: %d, want 201: %s", r.Status, r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("push: Cache-Control %q, want no-store", r.Header.Get("Cache-Control"))
	}
	m := r.JSON(t)
	uri, _ := m["request_uri"].(string)
	if !strings.HasPrefix(uri, parPrefix) || len(uri)-len(parPrefix) < 22 { // ≥ 128 bits in base64url
		t.Fatalf("request_uri %q: want %s and at least 128 random bits", uri, parPrefix)
	}
	if m["expires_in"] != wantTTL {
		t.Errorf("expires_in %v, want %v", m["expires_in"], wantTTL)
	}
	srv.Sensitive(uri[len(parPrefix):])
	return uri
}

// parAuthorizePath is the authorization request that carries only client_id and
// request_uri, plus extra key/value pairs.
func parAuthorizePath(clientID, requestURI string, kv ...string) string {
	q := url.Values{"client_id": {clientID}, "request_uri": {requestURI}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return "/oauth/authorize?" + q.Encode()
}

func TestPAR(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		runConcurrently(t,
			subtest{"FlowWithOAuth2Library", func(t *testing.T) { testPARFlow(t, srv) }},
			subtest{"PublicClient", func(t *testing.T) { testPARPublicClient(t, srv) }},
			subtest{"RequestURIReuse", func(t *testing.T) { testPARReuse(t, srv) }},
			subtest{"ConcurrentUse", func(t *testing.T) { testPARConcurrentUse(t, srv) }},
			subtest{"OtherClientsRequestURI", func(t *testing.T) { testPAROtherClient(t, srv) }},
			subtest{"UnauthenticatedPush", func(t *testing.T) { testPARUnauthenticated(t, srv) }},
			subtest{"InvalidPushes", func(t *testing.T) { testPARInvalid(t, srv) }},
			subtest{"RequiredClientBypass", func(t *testing.T) { testPARRequiredClient(t, srv) }},
			subtest{"Discovery", func(t *testing.T) { testPARDiscovery(t, srv, false) }},
		)
	})
}

// testPARFlow: push → authorize → login/consent → code → token with
// golang.org/x/oauth2. Parameters in the authorization URL other than client_id and
// request_uri are ignored: the pushed ones count (RFC 9126 §4).
func testPARFlow(t *testing.T, srv *Server) {
	c := newAZClient(t, srv, "http://127.0.0.1:9000/cb", "--scope", "openid profile offline_access")
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	p := newAZPKCE()
	uri := parRequestURI(t, srv, b.hc, c, azQuery(c, p, "par-state", "scope", "openid offline_access", "nonce", "par-nonce"), 60)
	f := b.follow(b.get(parAuthorizePath(c.ID, uri,
		"redirect_uri", "https://evil.example.com/cb", "state", "forged", "scope", "profile")), user, pass, "allow")
	if !f.SawLogin || !f.SawConsent {
		t.Errorf("login %v consent %v: want both", f.SawLogin, f.SawConsent)
	}
	if !strings.HasPrefix(f.Location, c.RedirectURI+"?") || f.Query.Get("state") != "par-state" || f.Query.Get("iss") != srv.URL {
		t.Fatalf("redirect %q: want the pushed redirect URI and state, and iss", f.Location)
	}
	cfg := &oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: c.RedirectURI,
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth/authorize", TokenURL: srv.URL + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader}}
	tok, err := cfg.Exchange(ctxWith(b.hc), f.Query.Get("code"), oauth2.VerifierOption(p.Verifier))
	if err != nil {
		t.Fatalf("exchange with golang.org/x/oauth2: %v", err)
	}
	srv.Sensitive(tok.AccessToken, tok.RefreshToken)
	_, claims := verifyAccessToken(t, srv, tok.AccessToken)
	if claims.ClientID != c.ID || claims.Scope != "openid offline_access" {
		t.Errorf("access token client %q scope %q, want the pushed scope", claims.ClientID, claims.Scope)
	}
	idt, _ := tok.Extra("id_token").(string)
	if idt == "" || azJWTClaims(t, idt)["nonce"] != "par-nonce" {
		t.Errorf("ID token %q: want the pushed nonce", idt)
	}
	if tok.RefreshToken == "" {
		t.Errorf("no refresh token for offline_access")
	}
}

// testPARPublicClient: a public client pushes with its client_id alone, and PKCE.
func testPARPublicClient(t *testing.T, srv *Server) {
	c := newAZClient(t, srv, "http://127.0.0.1:9000/cb", "--public")
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	p := newAZPKCE()
	// Without PKCE the push itself is refused, as the authorization endpoint would.
	wantOAuthError(t, parPush(t, srv, b.hc, c, azQuery(c, p, "s", "code_challenge", "", "code_challenge_method", "")),
		http.StatusBadRequest, "invalid_request")
	uri := parRequestURI(t, srv, b.hc, c, azQuery(c, p, "pub"), 60)
	f := b.follow(b.get(parAuthorizePath(c.ID, uri)), user, pass, "allow")
	r := c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier)
	if r.Status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
}

// testPARReuse: a request_uri is single-use.
func testPARReuse(t *testing.T, srv *Server) {
	c := newAZClient(t, srv, "https://app.example.com/cb")
	b := newAZBrowser(t, srv)
	uri := parRequestURI(t, srv, b.hc, c, azQuery(c, newAZPKCE(), "once"), 60)
	wantLoginRedirect(t, b.get(parAuthorizePath(c.ID, uri)))
	wantErrorPage(t, b.get(parAuthorizePath(c.ID, uri)), http.StatusBadRequest)
	// Another browser fares no better.
	wantErrorPage(t, newAZBrowser(t, srv).get(parAuthorizePath(c.ID, uri)), http.StatusBadRequest)
	// Made-up and malformed request_uri values are refused the same way. (A request_uri
	// that is no PAR URN is a request object by reference: request_uri_not_supported,
	// TestAuthorize_OIDCPromptAndMaxAge.)
	for _, bad := range []string{parPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", parPrefix,
		parPrefix + "a%2Fb", parPrefix + strings.Repeat("A", 200)} {
		wantErrorPage(t, b.get(parAuthorizePath(c.ID, bad)), http.StatusBadRequest)
	}
}

// testPARConcurrentUse: of browsers racing with one request_uri, exactly one gets on.
func testPARConcurrentUse(t *testing.T, srv *Server) {
	c := newAZClient(t, srv, "https://app.example.com/cb")
	uri := parRequestURI(t, srv, nil, c, azQuery(c, newAZPKCE(), "race"), 60)
	const n = 8
	browsers := make([]*azBrowser, n)
	for i := range browsers {
		browsers[i] = newAZBrowser(t, srv)
	}
	results := make([]Response, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = browsers[i].get(parAuthorizePath(c.ID, uri))
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for _, r := range results {
		switch {
		case r.Status == http.StatusFound && strings.HasPrefix(r.Header.Get("Location"), "/login?req="):
			won++
		case r.Status == http.StatusBadRequest && r.Header.Get("Location") == "":
		default:
			t.Errorf("unexpected answer %d Location %q: %s", r.Status, r.Header.Get("Location"), r.Body)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent uses of one request_uri got on; want exactly 1", won, n)
	}
}

// testPAROtherClient: a request_uri works only with the client_id that pushed it,
// and trying it with another does not use it up.
func testPAROtherClient(t *testing.T, srv *Server) {
	a := newAZClient(t, srv, "https://a.example.com/cb")
	other := newAZClient(t, srv, "https://other.example.com/cb")
	b := newAZBrowser(t, srv)
	uri := parRequestURI(t, srv, b.hc, a, azQuery(a, newAZPKCE(), "mine"), 60)
	wantErrorPage(t, b.get(parAuthorizePath(other.ID, uri)), http.StatusBadRequest)
	wantErrorPage(t, b.get(parAuthorizePath("nosuchclient", uri)), http.StatusBadRequest)
	wantErrorPage(t, b.get("/oauth/authorize?"+url.Values{"request_uri": {uri}}.Encode()), http.StatusBadRequest)
	wantLoginRedirect(t, b.get(parAuthorizePath(a.ID, uri)))
}

// testPARUnauthenticated: a confidential client must authenticate to push.
func testPARUnauthenticated(t *testing.T, srv *Server) {
	c := newAZClient(t, srv, "https://app.example.com/cb")
	hc := srv.HTTPClient()
	q := azQuery(c, newAZPKCE(), "s")
	noID := azQuery(c, newAZPKCE(), "s", "client_id", "")
	for name, r := range map[string]Response{
		"client_id only":        srv.PostForm(t, hc, "/oauth/par", q.Encode(), "", ""),
		"wrong secret":          srv.PostForm(t, hc, "/oauth/par", q.Encode(), c.ID, wrongSecret(c.Secret)),
		"unknown client":        srv.PostForm(t, hc, "/oauth/par", noID.Encode(), "nosuchclient", c.Secret),
		"secret in body, wrong": srv.PostForm(t, hc, "/oauth/par", q.Encode()+"&client_secret=nope", "", ""),
	} {
		t.Run(name, func(t *testing.T) {
			wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// GET is not the endpoint.
	if r := srv.Get(t, hc, "/oauth/par"); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET /oauth/par: %d, want 405", r.Status)
	}
}

// testPARInvalid: the push is validated as the authorization endpoint validates, and
// errors are JSON.
func testPARInvalid(t *testing.T, srv *Server) {
	c := newAZClient(t, srv, "https://app.example.com/cb", "--audience", "https://api.example.com",
		"--redirect-uri", "https://app.example.com/other")
	p := newAZPKCE()
	hc := srv.HTTPClient()
	for _, tc := range []struct {
		name, code string
		kv         []string
	}{
		{"unregistered redirect_uri", "invalid_request", []string{"redirect_uri", "https://evil.example.com/cb"}},
		{"redirect_uri with another path", "invalid_request", []string{"redirect_uri", "https://app.example.com/cb/x"}},
		{"no redirect_uri, several registered", "invalid_request", []string{"redirect_uri", ""}},
		{"request_uri inside", "invalid_request", []string{"request_uri", parPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},
		{"request object", "request_not_supported", []string{"request", "eyJhbGciOiJub25lIn0.e30."}},
		{"unknown scope", "invalid_scope", []string{"scope", "openid admin"}},
		{"implicit flow", "unsupported_response_type", []string{"response_type", "token"}},
		{"no response_type", "invalid_request", []string{"response_type", ""}},
		{"plain PKCE", "invalid_request", []string{"code_challenge_method", "plain"}},
		{"unknown resource", "invalid_target", []string{"resource", "https://evil.example.com"}},
		{"bad prompt", "invalid_request", []string{"prompt", "sometimes"}},
		{"bad max_age", "invalid_request", []string{"max_age", "-1"}},
		{"other client_id", "invalid_request", []string{"client_id", "someoneelse"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := parPush(t, srv, hc, c, azQuery(c, p, "s", tc.kv...))
			wantOAuthError(t, r, http.StatusBadRequest, tc.code)
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
			}
		})
	}
	// A client without the code grant may not push.
	cc, secret := srv.CreateClient(t, "--grant-type", "client_credentials", "--redirect-uri", "https://app.example.com/cb")
	wantOAuthError(t, parPush(t, srv, hc, azClient{ID: cc, Secret: secret, RedirectURI: "https://app.example.com/cb"},
		azQuery(c, p, "s", "client_id", "")), http.StatusBadRequest, "unauthorized_client")
	// Not a form body.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth/par", strings.NewReader(`{"response_type":"code"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(c.ID, c.Secret)
	wantOAuthError(t, srv.Do(t, hc, req), http.StatusBadRequest, "invalid_request")
}

// testPARRequiredClient: a client registered with --require-par cannot start a plain
// authorization request, but can through PAR; clients list shows the setting.
func testPARRequiredClient(t *testing.T, srv *Server) {
	c := newAZClient(t, srv, "https://app.example.com/cb", "--require-par")
	b := newAZBrowser(t, srv)
	p := newAZPKCE()
	wantRedirectError(t, srv, b.get("/oauth/authorize?"+azQuery(c, p, "bypass").Encode()), c.RedirectURI, "invalid_request", "bypass")
	uri := parRequestURI(t, srv, b.hc, c, azQuery(c, p, "pushed"), 60)
	wantLoginRedirect(t, b.get(parAuthorizePath(c.ID, uri)))

	var list []map[string]any
	srv.CLIJSON(t, &list, "", "clients", "list", "--json")
	found := false
	for _, m := range list {
		switch m["client_id"] {
		case c.ID:
			found = m["require_par"] == true
		}
		if _, ok := m["require_par"]; !ok {
			t.Errorf("clients list --json: no require_par in %v", m)
		}
	}
	if !found {
		t.Errorf("clients list --json does not show require_par true for %s", c.ID)
	}
}

func testPARDiscovery(t *testing.T, srv *Server, required bool) {
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		m := srv.Get(t, nil, path).JSON(t)
		if m["pushed_authorization_request_endpoint"] != srv.URL+"/oauth/par" {
			t.Errorf("%s: pushed_authorization_request_endpoint %v", path, m["pushed_authorization_request_endpoint"])
		}
		if m["require_pushed_authorization_requests"] != required {
			t.Errorf("%s: require_pushed_authorization_requests %v, want %v", path, m["require_pushed_authorization_requests"], required)
		}
	}
}

// TestPARExpired: a request_uri past its lifetime (GATEHOUSE_PAR_TTL) is refused
// with an error page.
func TestPARExpired(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_PAR_TTL": "1s"}})
	c := newAZClient(t, srv, "https://app.example.com/cb")
	b := newAZBrowser(t, srv)
	uri := parRequestURI(t, srv, b.hc, c, azQuery(c, newAZPKCE(), "late"), 1)
	time.Sleep(1500 * time.Millisecond) // past the expiry, which only moves further away
	wantErrorPage(t, b.get(parAuthorizePath(c.ID, uri)), http.StatusBadRequest)
}

// TestPARRequiredForAll: with GATEHOUSE_REQUIRE_PAR=true no client may start a plain
// authorization request, and discovery says so.
func TestPARRequiredForAll(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_REQUIRE_PAR": "true"}})
	testPARDiscovery(t, srv, true)
	c := newAZClient(t, srv, "https://app.example.com/cb")
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	p := newAZPKCE()
	wantRedirectError(t, srv, b.get("/oauth/authorize?"+azQuery(c, p, "plain").Encode()), c.RedirectURI, "invalid_request", "plain")
	uri := parRequestURI(t, srv, b.hc, c, azQuery(c, p, "pushed"), 60)
	f := b.follow(b.get(parAuthorizePath(c.ID, uri)), user, pass, "allow")
	if r := c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier); r.Status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
}

// TestPARAcrossInstances: the pushed request lives in the database, so one instance
// takes the push and another the authorization request (PostgreSQL, two instances).
func TestPARAcrossInstances(t *testing.T) {
	t.Parallel()
	var dbURL string
	for _, b := range backends(t) {
		if b.Name == "postgres" {
			dbURL = b.URL
		}
	}
	if dbURL == "" {
		t.Skip("PostgreSQL is not reachable")
	}
	c := startCluster(t, dbURL, 2, nil)
	a, b := c.Nodes[0], c.Nodes[1]
	id, secret := c.createClient(t, "--redirect-uri", "http://127.0.0.1:9000/cb", "--require-par")
	user, pw, _ := c.createUser(t)
	cl := azClient{ID: id, Secret: secret, RedirectURI: "http://127.0.0.1:9000/cb"}
	p := newAZPKCE()
	uri := parRequestURI(t, a, nil, cl, azQuery(cl, p, "multi"), 60)
	c.sensitive(uri[len(parPrefix):])
	onB := newAZBrowser(t, b)
	f := onB.follow(onB.get(parAuthorizePath(id, uri)), user, pw, "allow")
	if f.Query.Get("state") != "multi" || f.Query.Get("iss") != c.Issuer {
		t.Fatalf("redirect %q", f.Location)
	}
	if r := cl.exchange(t, a, nil, f.Query.Get("code"), cl.RedirectURI, p.Verifier); r.Status != http.StatusOK {
		t.Fatalf("exchange on A: %d %s", r.Status, r.Body)
	}
	// Used on B, it is gone on A too.
	wantErrorPage(t, newAZBrowser(t, a).get(parAuthorizePath(id, uri)), http.StatusBadRequest)
}
