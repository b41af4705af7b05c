package e2e

// The authorization endpoint and the code exchange over HTTP against the real server:
// SECURITY S1–S18, and the OpenID Connect parameters of the request.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// azUser creates a user with a fresh name and returns name and password.
func azUser(t testing.TB, srv *Server) (string, string) {
	t.Helper()
	name, pass := uniqueName("azuser"), "pw-"+randomString(16)
	srv.CreateUser(t, name, pass)
	return name, pass
}

// wantLoginRedirect checks that the request was accepted: a 302 to our login page.
func wantLoginRedirect(t testing.TB, r Response) {
	t.Helper()
	if r.Status != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "/login?req=") {
		t.Fatalf("status %d Location %q, want a 302 to /login\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
}

func TestSecurity_S1_RedirectURIExactMatch(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	id, _ := srv.CreateClient(t, "--redirect-uri", "https://app.example.com/cb",
		"--redirect-uri", "https://app.example.com/cb2?a=1&b=2")
	p := newAZPKCE()
	b := newAZBrowser(t, srv)
	try := func(redirectURI string) Response {
		return b.get("/oauth/authorize?" + azQuery(azClient{ID: id, RedirectURI: redirectURI}, p, "s1").Encode())
	}
	for _, ok := range []string{"https://app.example.com/cb", "https://app.example.com/cb2?a=1&b=2"} {
		wantLoginRedirect(t, try(ok))
	}
	for name, bad := range map[string]string{
		"trailing slash":       "https://app.example.com/cb/",
		"host case":            "https://APP.example.com/cb",
		"path case":            "https://app.example.com/CB",
		"scheme case":          "HTTPS://app.example.com/cb",
		"extra query":          "https://app.example.com/cb?x=1",
		"empty query":          "https://app.example.com/cb?",
		"reordered query":      "https://app.example.com/cb2?b=2&a=1",
		"extra query param":    "https://app.example.com/cb2?a=1&b=2&c=3",
		"encoded slash":        "https://app.example.com/cb%2F",
		"encoded path":         "https://app.example.com/%63b",
		"dot segments":         "https://app.example.com/x/../cb",
		"semicolon":            "https://app.example.com/cb;x=1",
		"userinfo":             "https://app.example.com@evil.example/cb",
		"userinfo before host": "https://user@app.example.com/cb",
		"backslash":            "https://app.example.com\\@evil.example/cb",
		"subdomain":            "https://evil.app.example.com/cb",
		"suffix domain":        "https://app.example.com.evil.example/cb",
		"parent domain":        "https://example.com/cb",
		"lookalike domain":     "https://evilapp.example.com/cb",
		"other port":           "https://app.example.com:8443/cb",
		"explicit port":        "https://app.example.com:443/cb",
		"other scheme":         "http://app.example.com/cb",
		"fragment":             "https://app.example.com/cb#x",
		"trailing dot host":    "https://app.example.com./cb",
	} {
		t.Run(name, func(t *testing.T) { wantErrorPage(t, try(bad), http.StatusBadRequest) })
	}
}

func TestSecurity_S2_LoopbackAnyPort(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "http://127.0.0.1/callback", "--redirect-uri", "http://[::1]/callback",
		"--redirect-uri", "http://localhost:5000/cb", "--skip-consent", "--public")
	p := newAZPKCE()
	b := newAZBrowser(t, srv)
	try := func(redirectURI string) Response {
		return b.get("/oauth/authorize?" + azQuery(azClient{ID: c.ID, RedirectURI: redirectURI}, p, "s2").Encode())
	}
	for _, ok := range []string{
		"http://127.0.0.1/callback", "http://127.0.0.1:51234/callback", "http://127.0.0.1:1/callback",
		"http://127.0.0.1:65535/callback", "http://[::1]:4444/callback", "http://localhost:5000/cb",
	} {
		t.Run("accepts "+ok, func(t *testing.T) { wantLoginRedirect(t, try(ok)) })
	}
	for _, bad := range []string{
		"http://127.0.0.1:51234/callback/", "http://127.0.0.1:51234/callback?x=1", "http://127.0.0.1:51234/other",
		"https://127.0.0.1:51234/callback", "http://127.0.0.2:51234/callback", "http://[::1]:4444/callback/",
		// localhost gets no any-port exception (RFC 8252 §8.3).
		"http://localhost:5001/cb", "http://localhost/cb", "http://localhost:51234/callback",
		// A port is 1 to 65535 without leading zeros; a colon needs one (RFC 3986 §3.2.3).
		"http://127.0.0.1:/callback", "http://127.0.0.1:0/callback", "http://127.0.0.1:00080/callback",
		"http://127.0.0.1:99999/callback", "http://127.0.0.1:65536/callback",
		"http://[::1]:/callback", "http://[::1]:0/callback", "http://[::1]:00080/callback", "http://[::1]:99999/callback",
	} {
		t.Run("refuses "+bad, func(t *testing.T) { wantErrorPage(t, try(bad), http.StatusBadRequest) })
	}

	// The code goes to the very port the client chose, and is bound to that URI.
	user, pass := azUser(t, srv)
	chosen := azClient{ID: c.ID, RedirectURI: "http://127.0.0.1:49321/callback"}
	f := b.authorize(azQuery(chosen, p, "port"), user, pass, "allow")
	if !strings.HasPrefix(f.Location, chosen.RedirectURI+"?") {
		t.Fatalf("redirect %q, want the chosen port", f.Location)
	}
	other := chosen
	other.RedirectURI = "http://127.0.0.1:49322/callback"
	wantOAuthError(t, other.exchange(t, srv, b.hc, f.Query.Get("code"), other.RedirectURI, p.Verifier), 400, "invalid_grant")
	f = b.authorize(azQuery(chosen, p, "port"), user, pass, "allow")
	if r := chosen.exchange(t, srv, b.hc, f.Query.Get("code"), chosen.RedirectURI, p.Verifier); r.Status != 200 {
		t.Fatalf("exchange with the chosen loopback URI: %d %s", r.Status, r.Body)
	}
}

func TestSecurity_S3_UntrustedClientErrorPage(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	two, _ := srv.CreateClient(t, "--redirect-uri", "https://a.example.com/cb", "--redirect-uri", "https://b.example.com/cb")
	one, _ := srv.CreateClient(t, "--redirect-uri", "https://one.example.com/cb")
	p := newAZPKCE()
	b := newAZBrowser(t, srv)
	for name, query := range map[string]string{
		"unknown client":           "client_id=nosuchclient&redirect_uri=https%3A%2F%2Fa.example.com%2Fcb&response_type=code",
		"unknown client, bad type": "client_id=nosuchclient&redirect_uri=https%3A%2F%2Fa.example.com%2Fcb&response_type=token",
		"no client_id":             "redirect_uri=https%3A%2F%2Fa.example.com%2Fcb&response_type=code",
		"empty client_id":          "client_id=&redirect_uri=https%3A%2F%2Fa.example.com%2Fcb&response_type=code",
		"repeated client_id":       "client_id=" + two + "&client_id=" + two + "&redirect_uri=https%3A%2F%2Fa.example.com%2Fcb&response_type=code",
		"repeated redirect_uri":    "client_id=" + two + "&redirect_uri=https%3A%2F%2Fa.example.com%2Fcb&redirect_uri=https%3A%2F%2Fa.example.com%2Fcb&response_type=code",
		"no redirect_uri, several": "client_id=" + two + "&response_type=code&code_challenge=" + p.Challenge + "&code_challenge_method=S256",
		"other client's uri":       "client_id=" + one + "&redirect_uri=https%3A%2F%2Fa.example.com%2Fcb&response_type=code",
		"malformed encoding":       "client_id=" + two + "&redirect_uri=https%3A%2F%2Fa.example.com%2Fcb&state=%zz",
		"semicolon separator":      "client_id=" + two + ";redirect_uri=https%3A%2F%2Fa.example.com%2Fcb",
		"invalid UTF-8 client_id":  "client_id=%ff%fe&redirect_uri=https%3A%2F%2Fa.example.com%2Fcb&response_type=code",
	} {
		t.Run(name, func(t *testing.T) {
			r := b.get("/oauth/authorize?" + query)
			wantErrorPage(t, r, http.StatusBadRequest)
			if !strings.Contains(string(r.Body), "<h1") {
				t.Errorf("the error page has no heading:\n%s", r.Body)
			}
		})
	}
	// The seed's alias behaves the same.
	wantErrorPage(t, b.get("/oauth/authenticate?client_id=nosuchclient&response_type=code"), http.StatusBadRequest)
	// With exactly one registered URI, redirect_uri may be left out; the code is then
	// bound to its absence (RFC 6749 §4.1.3).
	wantLoginRedirect(t, b.get("/oauth/authorize?client_id="+one+"&response_type=code&code_challenge="+p.Challenge+"&code_challenge_method=S256"))
}

func TestSecurity_S5_ErrorRedirectsCarryStateAndIss(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb?tenant=7", "--scope", "openid profile")
	p := newAZPKCE()
	b := newAZBrowser(t, srv)
	// A state with every character class a client may put in it.
	state := "a b+c&d=e/%2F?#'\"<x>é漢~" + strings.Repeat("z", 300)
	r := b.get("/oauth/authorize?" + azQuery(c, p, state, "scope", "openid admin").Encode())
	wantRedirectError(t, srv, r, c.RedirectURI, "invalid_scope", state)
	// The client's own query parameter survives (RFC 6749 §3.1.2).
	u, _ := url.Parse(r.Header.Get("Location"))
	if u.Query().Get("tenant") != "7" {
		t.Errorf("the redirect lost the registered query: %s", u)
	}
	if r.Header.Get("Referrer-Policy") != "no-referrer" || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("error redirect headers: %v", r.Header)
	}
	// Without state, none comes back.
	wantRedirectError(t, srv, b.get("/oauth/authorize?"+azQuery(c, p, "", "scope", "admin").Encode()), c.RedirectURI, "invalid_scope", "")
}

func TestSecurity_S6_NoImplicitFlow(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb")
	p := newAZPKCE()
	b := newAZBrowser(t, srv)
	for _, rt := range []string{"token", "id_token", "code token", "code id_token", "none", "CODE"} {
		t.Run(rt, func(t *testing.T) {
			r := b.get("/oauth/authorize?" + azQuery(c, p, "s6", "response_type", rt).Encode())
			wantRedirectError(t, srv, r, c.RedirectURI, "unsupported_response_type", "s6")
		})
	}
	r := b.get("/oauth/authorize?" + azQuery(c, p, "s6", "response_type", "").Encode())
	wantRedirectError(t, srv, r, c.RedirectURI, "invalid_request", "s6")
	// A client not registered for the code grant.
	cc := newAZClient(t, srv, "https://app.example.com/cb", "--grant-type", "client_credentials")
	wantRedirectError(t, srv, b.get("/oauth/authorize?"+azQuery(cc, p, "s6").Encode()), cc.RedirectURI, "unauthorized_client", "s6")
}

func TestSecurity_S7_RepeatedEmptyAndUnknownParameters(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb")
	p := newAZPKCE()
	b := newAZBrowser(t, srv)
	base := azQuery(c, p, "s7").Encode()
	for _, param := range []string{"scope=openid", "response_type=code", "code_challenge=" + p.Challenge, "nonce=n", "prompt=login", "max_age=5"} {
		t.Run("repeated "+param, func(t *testing.T) {
			r := b.get("/oauth/authorize?" + base + "&" + param + "&" + param)
			wantRedirectError(t, srv, r, c.RedirectURI, "invalid_request", "s7")
		})
	}
	// A repeated state is not echoed: we cannot know which one the client meant.
	r := b.get("/oauth/authorize?" + base + "&state=other")
	wantRedirectError(t, srv, r, c.RedirectURI, "invalid_request", "")

	// Unknown parameters are ignored, even repeated; empty ones count as absent.
	wantLoginRedirect(t, b.get("/oauth/authorize?"+base+"&foo=1&foo=2&bar="))
	wantLoginRedirect(t, b.get("/oauth/authorize?"+base+"&nonce=&prompt=&max_age="))
	// An empty state is absent: an error then carries none.
	r = b.get("/oauth/authorize?" + azQuery(c, p, "", "scope", "nope").Encode()) // state= (empty)
	wantRedirectError(t, srv, r, c.RedirectURI, "invalid_scope", "")
	// resource may repeat (RFC 8707).
	ra := newAZClient(t, srv, "https://app.example.com/cb", "--audience", "https://api1.example.com", "--audience", "https://api2.example.com")
	q := azQuery(ra, p, "s7")
	q["resource"] = []string{"https://api1.example.com", "https://api2.example.com"}
	wantLoginRedirect(t, b.get("/oauth/authorize?"+q.Encode()))
	// NUL and invalid UTF-8 in a parameter, once the client is trusted: invalid_request.
	r = b.get("/oauth/authorize?" + base + "&nonce=%00")
	wantRedirectError(t, srv, r, c.RedirectURI, "invalid_request", "s7")
}

func TestSecurity_S8_NoCORSHeaders(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb")
	p := newAZPKCE()
	hc := srv.HTTPClient()
	for _, path := range []string{
		"/oauth/authorize?" + azQuery(c, p, "s8").Encode(), "/oauth/authorize?client_id=nosuch",
		"/login", "/consent?req=x", "/register", "/logout", "/",
	} {
		for _, method := range []string{http.MethodGet, http.MethodOptions} {
			req, _ := http.NewRequest(method, srv.URL+path, nil)
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Access-Control-Request-Method", "POST")
			r := srv.Do(t, hc, req)
			for k := range r.Header {
				if strings.HasPrefix(strings.ToLower(k), "access-control-") {
					t.Errorf("%s %s: CORS header %s: %v", method, path, k, r.Header[k])
				}
			}
		}
	}
}

func TestSecurity_S9_PKCERequired(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	public := newAZClient(t, srv, "https://app.example.com/cb", "--public")
	confidential := newAZClient(t, srv, "https://app.example.com/cb")
	p := newAZPKCE()
	b := newAZBrowser(t, srv)
	for _, c := range []azClient{public, confidential} {
		for name, kv := range map[string][]string{
			"no challenge":     {"code_challenge", "", "code_challenge_method", ""},
			"no method":        {"code_challenge_method", ""},
			"plain":            {"code_challenge_method", "plain"},
			"lower-case s256":  {"code_challenge_method", "s256"},
			"method only":      {"code_challenge", ""},
			"plain, verifier":  {"code_challenge", p.Verifier, "code_challenge_method", "plain"},
			"unknown method":   {"code_challenge_method", "S512"},
			"challenge is 42":  {"code_challenge", p.Challenge[:42]},
			"challenge is 44":  {"code_challenge", p.Challenge + "A"},
			"padded challenge": {"code_challenge", p.Challenge[:42] + "="},
			"std base64 chars": {"code_challenge", "+" + p.Challenge[1:]},
		} {
			t.Run(c.ID[:6]+" "+name, func(t *testing.T) {
				r := b.get("/oauth/authorize?" + azQuery(c, p, "s9", kv...).Encode())
				wantRedirectError(t, srv, r, c.RedirectURI, "invalid_request", "s9")
			})
		}
	}
}

// TestSecurity_S13_MetadataS256: discovery lists S256 only, the authorization
// endpoint, response type code, and the RFC 9207 iss parameter.
func TestSecurity_S13_MetadataS256(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		r := srv.Get(t, nil, path)
		var meta struct {
			Methods       []string `json:"code_challenge_methods_supported"`
			AuthzEndpoint string   `json:"authorization_endpoint"`
			ResponseTypes []string `json:"response_types_supported"`
			IssParameter  bool     `json:"authorization_response_iss_parameter_supported"`
		}
		if err := json.Unmarshal(r.Body, &meta); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !slices.Equal(meta.Methods, []string{"S256"}) || meta.AuthzEndpoint != srv.URL+"/oauth/authorize" ||
			!slices.Equal(meta.ResponseTypes, []string{"code"}) || !meta.IssParameter {
			t.Errorf("%s: %+v", path, meta)
		}
	}
}

// TestSecurity_S10_PKCEFormat: the verifier side (the challenge side is in S9).
func TestSecurity_S10_PKCEFormat(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent", "--public")
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	for name, verifier := range map[string]string{
		"42 characters":  strings.Repeat("a", 42),
		"129 characters": strings.Repeat("a", 129),
		"space":          strings.Repeat("a", 42) + " ",
		"plus":           strings.Repeat("a", 42) + "+",
		"non-ASCII":      strings.Repeat("a", 42) + "é",
	} {
		t.Run(name, func(t *testing.T) {
			// A challenge that this very verifier would satisfy, were it valid.
			p := azPKCE{Verifier: verifier, Challenge: oauth2.S256ChallengeFromVerifier(verifier)}
			f := b.authorize(azQuery(c, p, "s10"), user, pass, "allow")
			wantOAuthError(t, c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, verifier), 400, "invalid_grant")
		})
	}
	for _, n := range []int{43, 128} {
		v := strings.Repeat("A-._~9", 30)[:n]
		p := azPKCE{Verifier: v, Challenge: oauth2.S256ChallengeFromVerifier(v)}
		f := b.authorize(azQuery(c, p, "s10"), user, pass, "allow")
		if r := c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, v); r.Status != 200 {
			t.Errorf("verifier of %d characters: %d %s", n, r.Status, r.Body)
		}
	}
}

func TestSecurity_S11_PKCEDowngrade(t *testing.T) {
	t.Parallel()
	// A server that lets confidential clients skip PKCE, to get a code without one.
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_REQUIRE_PKCE": "false"}})
	c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent")
	public := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent", "--public")
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	p := newAZPKCE()

	// A public client still needs PKCE.
	r := b.get("/oauth/authorize?" + azQuery(public, p, "s11", "code_challenge", "", "code_challenge_method", "").Encode())
	wantRedirectError(t, srv, r, public.RedirectURI, "invalid_request", "s11")

	// Issued with a challenge: no verifier, or a wrong one, fails.
	for name, verifier := range map[string]string{"no verifier": "", "wrong verifier": newAZPKCE().Verifier} {
		t.Run("with challenge, "+name, func(t *testing.T) {
			f := b.authorize(azQuery(c, p, "s11"), user, pass, "allow")
			wantOAuthError(t, c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, verifier), 400, "invalid_grant")
		})
	}
	// Issued without one: a verifier fails (RFC 9700 §4.8.2); none succeeds.
	noPKCE := azQuery(c, p, "s11", "code_challenge", "", "code_challenge_method", "")
	f := b.authorize(noPKCE, user, pass, "allow")
	wantOAuthError(t, c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier), 400, "invalid_grant")
	f = b.authorize(noPKCE, user, pass, "allow")
	if r := c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, ""); r.Status != 200 {
		t.Fatalf("a code issued without PKCE, redeemed without: %d %s", r.Status, r.Body)
	}
}

func TestSecurity_S12_FailedPKCEConsumesCode(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent", "--public")
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	p := newAZPKCE()
	f := b.authorize(azQuery(c, p, "s12"), user, pass, "allow")
	code := f.Query.Get("code")
	wantOAuthError(t, c.exchange(t, srv, b.hc, code, c.RedirectURI, newAZPKCE().Verifier), 400, "invalid_grant")
	wantOAuthError(t, c.exchange(t, srv, b.hc, code, c.RedirectURI, p.Verifier), 400, "invalid_grant")
}

// TestSecurity_S14_CodeReuseRevokesTokens and S15 run on every database backend.
func TestSecurity_S14_CodeReuseRevokesTokens(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent")
		user, pass := azUser(t, srv)
		b := newAZBrowser(t, srv)
		p := newAZPKCE()
		f := b.authorize(azQuery(c, p, "s14", "scope", "openid offline_access"), user, pass, "allow")
		code := f.Query.Get("code")
		srv.Sensitive(code)
		r := c.exchange(t, srv, b.hc, code, c.RedirectURI, p.Verifier)
		if r.Status != 200 {
			t.Fatalf("first redemption: %d %s", r.Status, r.Body)
		}
		tok := r.JSON(t)
		at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
		srv.Sensitive(at, rt)
		if rt == "" {
			t.Fatal("no refresh token")
		}
		if got := introspect(t, srv, b.hc, c.ID, c.Secret, at); got["active"] != true {
			t.Fatalf("access token inactive before the replay: %v", got)
		}
		wantOAuthError(t, c.exchange(t, srv, b.hc, code, c.RedirectURI, p.Verifier), 400, "invalid_grant")
		wantInactive(t, introspect(t, srv, b.hc, c.ID, c.Secret, at))
		wantInactive(t, introspect(t, srv, b.hc, c.ID, c.Secret, rt))
		refreshed := srv.PostForm(t, b.hc, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode(), c.ID, c.Secret)
		wantOAuthError(t, refreshed, 400, "invalid_grant")
	})
}

// TestSecurity_S15_ParallelRedemption: of parallel redemptions of one code at most one
// gets tokens, and those do not survive: every loser is a replay, which revokes what
// the code issued (S14). When a replay lands before the winner has stored its token
// family, the grant fails closed and nobody gets tokens; that happens (MariaDB is slow
// enough), so "exactly one 200" cannot be asked for without weakening S14.
func TestSecurity_S15_ParallelRedemption(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent")
		user, pass := azUser(t, srv)
		b := newAZBrowser(t, srv)
		p := newAZPKCE()
		f := b.authorize(azQuery(c, p, "s15", "scope", "openid offline_access"), user, pass, "allow")
		const n = 12
		answers := make([]Response, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			hc := srv.HTTPClient()
			wg.Go(func() {
				<-start
				answers[i] = c.exchange(t, srv, hc, f.Query.Get("code"), c.RedirectURI, p.Verifier)
			})
		}
		close(start)
		wg.Wait()
		var won []map[string]any
		for _, r := range answers {
			switch {
			case r.Status == 200:
				won = append(won, r.JSON(t))
			case r.Status == 400 && r.JSON(t)["error"] == "invalid_grant":
			default:
				t.Errorf("a parallel redemption answered %d %s", r.Status, r.Body)
			}
		}
		if len(won) > 1 {
			t.Fatalf("%d of %d parallel redemptions got tokens, want at most 1", len(won), n)
		}
		t.Logf("%d of %d parallel redemptions got tokens", len(won), n)
		for _, tok := range won {
			at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
			srv.Sensitive(at, rt)
			wantInactive(t, introspect(t, srv, b.hc, c.ID, c.Secret, at))
			wantInactive(t, introspect(t, srv, b.hc, c.ID, c.Secret, rt))
		}
	})
}

func TestSecurity_S16_CodeBoundToClientAndRedirectURI(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb", "--redirect-uri", "https://app.example.com/other", "--skip-consent")
	thief := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent")
	publicThief := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent", "--public")
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	p := newAZPKCE()
	for name, try := range map[string]func(code string) Response{
		"other client":        func(code string) Response { return thief.exchange(t, srv, b.hc, code, c.RedirectURI, p.Verifier) },
		"other public client": func(code string) Response { return publicThief.exchange(t, srv, b.hc, code, c.RedirectURI, p.Verifier) },
		"other registered uri": func(code string) Response {
			return c.exchange(t, srv, b.hc, code, "https://app.example.com/other", p.Verifier)
		},
		"no redirect_uri":  func(code string) Response { return c.exchange(t, srv, b.hc, code, "", p.Verifier) },
		"trailing slash":   func(code string) Response { return c.exchange(t, srv, b.hc, code, c.RedirectURI+"/", p.Verifier) },
		"made-up code":     func(string) Response { return c.exchange(t, srv, b.hc, randomString(43), c.RedirectURI, p.Verifier) },
		"code with a byte": func(code string) Response { return c.exchange(t, srv, b.hc, code+"A", c.RedirectURI, p.Verifier) },
	} {
		t.Run(name, func(t *testing.T) {
			f := b.authorize(azQuery(c, p, "s16"), user, pass, "allow")
			wantOAuthError(t, try(f.Query.Get("code")), 400, "invalid_grant")
		})
	}
	// A code asked without redirect_uri is bound to its absence.
	one := newAZClient(t, srv, "https://one.example.com/cb", "--skip-consent")
	f := b.authorize(azQuery(one, p, "s16", "redirect_uri", ""), user, pass, "allow")
	wantOAuthError(t, one.exchange(t, srv, b.hc, f.Query.Get("code"), one.RedirectURI, p.Verifier), 400, "invalid_grant")
	f = b.authorize(azQuery(one, p, "s16", "redirect_uri", ""), user, pass, "allow")
	if r := one.exchange(t, srv, b.hc, f.Query.Get("code"), "", p.Verifier); r.Status != 200 {
		t.Fatalf("redeem a code asked without redirect_uri, without it: %d %s", r.Status, r.Body)
	}
}

func TestSecurity_S17_CodeTTL(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_AUTH_CODE_TTL": "5s"}}) // long enough for a loaded machine to finish a login
	c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent", "--public")
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	p := newAZPKCE()
	f := b.authorize(azQuery(c, p, "s17"), user, pass, "allow")
	time.Sleep(5100 * time.Millisecond)
	wantOAuthError(t, c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier), 400, "invalid_grant")
	// In time, it works.
	f = b.authorize(azQuery(c, p, "s17"), user, pass, "allow")
	if r := c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier); r.Status != 200 {
		t.Fatalf("a fresh code: %d %s", r.Status, r.Body)
	}
}

func TestSecurity_S18_CodeIsOpaque256Bits(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent", "--public")
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	p := newAZPKCE()
	seen := map[string]bool{}
	for range 3 {
		f := b.authorize(azQuery(c, p, "s18"), user, pass, "allow")
		code := f.Query.Get("code")
		if n := randomBytes(t, code); n < 32 {
			t.Fatalf("code %q has %d random bytes, want at least 256 bits of base64url", code, n)
		}
		if seen[code] {
			t.Fatal("the same code twice")
		}
		seen[code] = true
	}
}

// TestAuthorize_FullFlowClaims: a code flow of a confidential client with consent,
// nonce and resource, checked down to the token claims.
func TestAuthorize_FullFlowClaims(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb", "--audience", "https://api.example.com",
		"--scope", "openid profile email offline_access")
	user, pass := azUser(t, srv)
	uid := ""
	b := newAZBrowser(t, srv)
	p := newAZPKCE()
	f := b.authorize(azQuery(c, p, "full", "scope", "openid profile offline_access", "nonce", "n-123",
		"resource", "https://api.example.com"), user, pass, "allow")
	if !f.SawLogin || !f.SawConsent {
		t.Errorf("login shown %v, consent shown %v: want both on the first visit", f.SawLogin, f.SawConsent)
	}
	if f.Query.Get("state") != "full" || f.Query.Get("iss") != srv.URL {
		t.Errorf("success redirect %q: want state and iss", f.Location)
	}
	r := c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier)
	if r.Status != 200 {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	tok := r.JSON(t)
	_, claims := verifyAccessToken(t, srv, tok["access_token"].(string))
	uid = claims.Subject
	if claims.ClientID != c.ID || claims.Scope != "openid profile offline_access" ||
		len(claims.Audience) != 1 || claims.Audience[0] != "https://api.example.com" {
		t.Errorf("access token claims %+v", claims)
	}
	idt := azJWTClaims(t, tok["id_token"].(string))
	if idt["nonce"] != "n-123" || idt["aud"] != c.ID || idt["sub"] != uid || idt["preferred_username"] != user || idt["auth_time"] == nil {
		t.Errorf("id token claims %v", idt)
	}

	// Consent is remembered, the session too: the next request goes straight back.
	f = b.authorize(azQuery(c, p, "again", "scope", "openid profile"), user, pass, "allow")
	if f.SawLogin || f.SawConsent || f.Query.Get("code") == "" {
		t.Errorf("second request: login %v consent %v, %q: want a code at once", f.SawLogin, f.SawConsent, f.Location)
	}
	// A scope not consented yet asks again, for the new set.
	f = b.authorize(azQuery(c, p, "more", "scope", "openid email"), user, pass, "allow")
	if f.SawLogin || !f.SawConsent {
		t.Errorf("new scope: login %v consent %v, want consent only", f.SawLogin, f.SawConsent)
	}
	// Scope omitted: openid (SPEC "Behaviour that clients rely on").
	f = b.authorize(azQuery(c, p, "noscope", "scope", ""), user, pass, "allow")
	r = c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier)
	if got := r.JSON(t)["scope"]; got != "openid" {
		t.Errorf("scope omitted: granted %v, want openid", got)
	}
}

// azJWTClaims decodes a JWT's claims without verifying (verification is elsewhere).
func azJWTClaims(t testing.TB, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	var m map[string]any
	if err := json.Unmarshal(b64(t, parts[1]), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAuthorize_OIDCPromptAndMaxAge: prompt=none/login/consent, max_age, and scope and
// resource checks at the authorization endpoint.
func TestAuthorize_OIDCPromptAndMaxAge(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb", "--scope", "openid profile", "--audience", "https://api.example.com")
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	p := newAZPKCE()
	get := func(kv ...string) Response { return b.get("/oauth/authorize?" + azQuery(c, p, "oidc", kv...).Encode()) }

	wantRedirectError(t, srv, get("prompt", "none"), c.RedirectURI, "login_required", "oidc")
	wantRedirectError(t, srv, get("scope", "openid email"), c.RedirectURI, "invalid_scope", "oidc")
	wantRedirectError(t, srv, get("resource", "https://other.example.com"), c.RedirectURI, "invalid_target", "oidc")
	wantRedirectError(t, srv, get("prompt", "none login"), c.RedirectURI, "invalid_request", "oidc")
	wantRedirectError(t, srv, get("prompt", "sometimes"), c.RedirectURI, "invalid_request", "oidc")
	wantRedirectError(t, srv, get("max_age", "-1"), c.RedirectURI, "invalid_request", "oidc")
	wantRedirectError(t, srv, get("max_age", "soon"), c.RedirectURI, "invalid_request", "oidc")
	// Request objects (OpenID Connect Core §6) are refused, not ignored.
	wantRedirectError(t, srv, get("request", "eyJhbGciOiJub25lIn0.e30."), c.RedirectURI, "request_not_supported", "oidc")
	wantRedirectError(t, srv, get("request_uri", "https://app.example.com/req.jwt"), c.RedirectURI, "request_uri_not_supported", "oidc")

	if r := b.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.Status)
	}
	wantRedirectError(t, srv, get("prompt", "none"), c.RedirectURI, "consent_required", "oidc")
	f := b.follow(get(), user, pass, "allow")
	if f.SawLogin || !f.SawConsent {
		t.Errorf("logged in, first consent: login %v consent %v", f.SawLogin, f.SawConsent)
	}
	// Now prompt=none gets a code without a page.
	r := get("prompt", "none")
	if r.Status != http.StatusFound || !strings.Contains(r.Header.Get("Location"), "code=") {
		t.Fatalf("prompt=none with session and consent: %d %q", r.Status, r.Header.Get("Location"))
	}
	f = b.follow(get("prompt", "login"), user, pass, "allow")
	if !f.SawLogin || f.SawConsent {
		t.Errorf("prompt=login: login %v consent %v, want login only", f.SawLogin, f.SawConsent)
	}
	f = b.follow(get("prompt", "consent"), user, pass, "allow")
	if f.SawLogin || !f.SawConsent {
		t.Errorf("prompt=consent: login %v consent %v, want consent only", f.SawLogin, f.SawConsent)
	}
	f = b.follow(get("prompt", "login consent"), user, pass, "allow")
	if !f.SawLogin || !f.SawConsent {
		t.Errorf("prompt=login consent: login %v consent %v, want both", f.SawLogin, f.SawConsent)
	}
	f = b.follow(get("max_age", "3600"), user, pass, "allow")
	if f.SawLogin {
		t.Errorf("max_age=3600 with a fresh session asked to log in")
	}
	time.Sleep(1100 * time.Millisecond)
	f = b.follow(get("max_age", "1"), user, pass, "allow")
	if !f.SawLogin || f.Query.Get("code") == "" {
		t.Errorf("max_age=1 with an older session: login %v, %q", f.SawLogin, f.Location)
	}
	wantRedirectError(t, srv, get("max_age", "0", "prompt", "none"), c.RedirectURI, "login_required", "oidc")
	// The ID token says when the user authenticated (max_age asks for it).
	code := f.Query.Get("code")
	tr := c.exchange(t, srv, b.hc, code, c.RedirectURI, p.Verifier)
	idt := azJWTClaims(t, tr.JSON(t)["id_token"].(string))
	if at, ok := idt["auth_time"].(float64); !ok || time.Since(time.Unix(int64(at), 0)) > time.Minute {
		t.Errorf("auth_time %v, want the recent login", idt["auth_time"])
	}
}
