package e2e

// OpenID Connect end to end: ID tokens from the real code flow verified by
// github.com/coreos/go-oidc for each ID-token alg, the userinfo endpoint, discovery,
// and RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0). The browser is the
// cookie-keeping HTTP client of pages_helpers_test.go. Names start with oi to stay out
// of the way of the other end-to-end files.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// oiUser creates a user with an email address and returns its id, name and password.
func oiUser(t testing.TB, srv *Server) (id, name, pass string) {
	t.Helper()
	name, pass = uniqueName("oiuser"), "pw-"+randomString(16)
	srv.Sensitive(pass)
	var u struct {
		ID string `json:"id"`
	}
	srv.CLIJSON(t, &u, pass+"\n", "users", "create", "--username", name, "--email", name+"@example.com", "--password-stdin")
	return u.ID, name, pass
}

// oiCodeFlow runs the code flow of c in browser b as user with scope and nonce, and
// returns the token response.
func oiCodeFlow(t testing.TB, srv *Server, b *azBrowser, c azClient, scope, nonce, user, pass string) map[string]any {
	t.Helper()
	p := newAZPKCE()
	f := b.authorize(azQuery(c, p, "st-"+nonce, "scope", scope, "nonce", nonce), user, pass, "allow")
	code := f.Query.Get("code")
	if code == "" {
		t.Fatalf("no code: %q", f.Location)
	}
	srv.Sensitive(code)
	r := c.exchange(t, srv, b.hc, code, c.RedirectURI, p.Verifier)
	if r.Status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	tok := r.JSON(t)
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		if s, _ := tok[k].(string); s != "" {
			srv.Sensitive(s)
		}
	}
	return tok
}

// oiHeader decodes a JWT's header.
func oiHeader(t testing.TB, raw string) map[string]any {
	t.Helper()
	var h map[string]any
	if err := json.Unmarshal(b64(t, strings.Split(raw, ".")[0]), &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestOIDC_IDTokensVerifyWithGoOIDC: ID tokens from the code flow pass go-oidc's
// verification with the server's discovery and JWKS, for the default RS256 and for
// clients registered with --id-token-alg EdDSA and ES256; their claims are those of
// OpenID Connect Core §2 and §5.4, at_hash matches the access token, and the profile
// and email claims appear only with their scopes.
func TestOIDC_IDTokensVerifyWithGoOIDC(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	ctx := oidc.ClientContext(context.Background(), srv.HTTPClient())
	var tests []subtest
	for _, alg := range []string{"RS256", "EdDSA", "ES256"} {
		tests = append(tests, subtest{alg, func(t *testing.T) {
			flags := []string{"--scope", "openid profile email offline_access"}
			if alg != "RS256" { // RS256 is the default: registered without the flag
				flags = append(flags, "--id-token-alg", alg)
			}
			c := newAZClient(t, srv, "https://rp.example/cb", flags...)
			// A provider (and so a JWKS cache) of its own: the subtests run at once, and
			// go-oidc lets a verifier that meets an unknown kid wait for a JWKS fetch
			// already in flight. Shared, the EdDSA verifier could join a fetch another
			// subtest started before the EdDSA key existed, and fail (seen once).
			provider, err := oidc.NewProvider(ctx, srv.URL)
			if err != nil {
				t.Fatalf("OpenID Connect discovery: %v", err)
			}
			uid, user, pass := oiUser(t, srv)
			b := newAZBrowser(t, srv)
			verifier := provider.Verifier(&oidc.Config{ClientID: c.ID})
			start := time.Now().Add(-2 * time.Second)

			tok := oiCodeFlow(t, srv, b, c, "openid profile email", "nonce-"+alg, user, pass)
			raw, _ := tok["id_token"].(string)
			at, _ := tok["access_token"].(string)
			if h := oiHeader(t, raw); h["alg"] != alg || h["kid"] == nil {
				t.Errorf("ID token header %v, want alg %s and a kid", h, alg)
			}
			idt, err := verifier.Verify(ctx, raw)
			if err != nil {
				t.Fatalf("go-oidc refuses the %s ID token: %v", alg, err)
			}
			if idt.Issuer != srv.URL || idt.Subject != uid || !slices.Equal(idt.Audience, []string{c.ID}) || idt.Nonce != "nonce-"+alg {
				t.Errorf("iss %q sub %q aud %v nonce %q", idt.Issuer, idt.Subject, idt.Audience, idt.Nonce)
			}
			if idt.IssuedAt.Before(start) || !idt.Expiry.After(time.Now()) || idt.Expiry.Sub(idt.IssuedAt) > 24*time.Hour {
				t.Errorf("iat %v exp %v", idt.IssuedAt, idt.Expiry)
			}
			if err := idt.VerifyAccessToken(at); err != nil {
				t.Errorf("at_hash %q does not match the access token: %v", idt.AccessTokenHash, err)
			}
			if err := idt.VerifyAccessToken(at + "x"); err == nil {
				t.Error("at_hash matches another access token")
			}
			var claims map[string]any
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if a, ok := claims["auth_time"].(float64); !ok || time.Unix(int64(a), 0).Before(start) {
				t.Errorf("auth_time %v, want the login just now", claims["auth_time"])
			}
			if claims["preferred_username"] != user || claims["email"] != user+"@example.com" || claims["email_verified"] != false {
				t.Errorf("profile and email claims %v", claims)
			}

			// Scope openid alone: no profile or email claims. The session and consent
			// of the first flow carry over, so no page is shown.
			tok = oiCodeFlow(t, srv, b, c, "openid", "bare-"+alg, user, pass)
			idt, err = verifier.Verify(ctx, tok["id_token"].(string))
			if err != nil {
				t.Fatalf("second ID token: %v", err)
			}
			claims = nil
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"preferred_username", "email", "email_verified"} {
				if _, ok := claims[k]; ok {
					t.Errorf("scope openid: the ID token has %s", k)
				}
			}
			for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash"} {
				if _, ok := claims[k]; !ok {
					t.Errorf("scope openid: the ID token lacks %s", k)
				}
			}
			// Profile without email, then email without profile.
			for scope, want := range map[string][]string{"openid profile": {"preferred_username"}, "openid email": {"email", "email_verified"}} {
				tok = oiCodeFlow(t, srv, b, c, scope, "s-"+alg, user, pass)
				claims = azJWTClaims(t, tok["id_token"].(string))
				for _, k := range []string{"preferred_username", "email", "email_verified"} {
					if _, ok := claims[k]; ok != slices.Contains(want, k) {
						t.Errorf("scope %q: claim %s present %v", scope, k, ok)
					}
				}
			}
			// Another client's verifier refuses the token (aud).
			if _, err := provider.Verifier(&oidc.Config{ClientID: "someone-else"}).Verify(ctx, raw); err == nil {
				t.Error("an ID token verifies for another client")
			}
		}})
	}
	runConcurrently(t, tests...)
}

// TestOIDC_Discovery: the OpenID Connect metadata names the end-session endpoint and
// says which optional features are (not) there.
func TestOIDC_Discovery(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	m := srv.Get(t, nil, "/.well-known/openid-configuration").JSON(t)
	want := map[string]any{
		"end_session_endpoint":            srv.URL + "/logout",
		"userinfo_endpoint":               srv.URL + "/userinfo",
		"request_parameter_supported":     false,
		"request_uri_parameter_supported": false,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	prompts, _ := m["prompt_values_supported"].([]any)
	if !slices.Equal(prompts, []any{"none", "login", "consent", "select_account"}) {
		t.Errorf("prompt_values_supported %v", prompts)
	}
	algs, _ := m["id_token_signing_alg_values_supported"].([]any)
	for _, a := range []string{"RS256", "ES256", "EdDSA"} {
		if !slices.Contains(algs, any(a)) {
			t.Errorf("id_token_signing_alg_values_supported %v lacks %s", algs, a)
		}
	}
	// go-oidc reads it too.
	p, err := oidc.NewProvider(oidc.ClientContext(context.Background(), srv.HTTPClient()), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&extra); err != nil || extra.EndSession != srv.URL+"/logout" {
		t.Errorf("go-oidc sees end_session_endpoint %q (%v)", extra.EndSession, err)
	}
}

// TestOIDC_UserInfo: GET and POST, claims by scope, and the RFC 6750 challenges.
func TestOIDC_UserInfo(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	id, secret := srv.CreateClient(t, "--grant-type", "password", "--scope", "openid profile email api")
	uid, user, pass := oiUser(t, srv)
	hc := srv.HTTPClient()
	token := func(scope string) string {
		tok, err := userConfig(srv, id, secret, strings.Fields(scope)...).PasswordCredentialsToken(ctxWith(hc), user, pass)
		if err != nil {
			t.Fatalf("password grant (%s): %v", scope, err)
		}
		srv.Sensitive(tok.AccessToken)
		return tok.AccessToken
	}
	call := func(method, tok string, inBody bool) Response {
		t.Helper()
		var req *http.Request
		if inBody {
			req, _ = http.NewRequest(method, srv.URL+"/userinfo", strings.NewReader(url.Values{"access_token": {tok}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req, _ = http.NewRequest(method, srv.URL+"/userinfo", nil)
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
		}
		return srv.Do(t, hc, req)
	}
	full := token("openid profile email")
	for _, tc := range []struct {
		name   string
		method string
		inBody bool
	}{{"GET header", http.MethodGet, false}, {"POST header", http.MethodPost, false}, {"POST body", http.MethodPost, true}} {
		r := call(tc.method, full, tc.inBody)
		if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %d %s", tc.name, r.Status, r.Body)
		}
		m := r.JSON(t)
		if m["sub"] != uid || m["preferred_username"] != user || m["email"] != user+"@example.com" || m["email_verified"] != false {
			t.Errorf("%s: claims %v", tc.name, m)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", tc.name, r.Header.Get("Cache-Control"))
		}
	}
	// openid alone: sub and nothing else.
	if m := call(http.MethodGet, token("openid"), false).JSON(t); len(m) != 1 || m["sub"] != uid {
		t.Errorf("scope openid: claims %v, want only sub", m)
	}

	realm := `Bearer realm="` + srv.URL + `"`
	// No token: a bare challenge (RFC 6750 §3.1).
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		r := call(method, "", false)
		if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != realm {
			t.Errorf("%s without a token: %d, WWW-Authenticate %q, want 401 and %q", method, r.Status, r.Header.Get("WWW-Authenticate"), realm)
		}
	}
	// A bad token: invalid_token.
	flipped := []byte(full) // another base64url character in the signature
	if flipped[len(flipped)-10] == 'A' {
		flipped[len(flipped)-10] = 'B'
	} else {
		flipped[len(flipped)-10] = 'A'
	}
	for name, tok := range map[string]string{"garbage": "not-a-token", "flipped byte": string(flipped)} {
		r := call(http.MethodGet, tok, false)
		wa := r.Header.Get("WWW-Authenticate")
		if r.Status != http.StatusUnauthorized || !strings.HasPrefix(wa, realm) || !strings.Contains(wa, `error="invalid_token"`) {
			t.Errorf("%s: %d, WWW-Authenticate %q", name, r.Status, wa)
		}
	}
	// Without openid: 403 insufficient_scope.
	r := call(http.MethodGet, token("profile api"), false)
	wa := r.Header.Get("WWW-Authenticate")
	if r.Status != http.StatusForbidden || !strings.Contains(wa, `error="insufficient_scope"`) || r.JSON(t)["error"] != "insufficient_scope" {
		t.Errorf("no openid scope: %d, WWW-Authenticate %q, %s", r.Status, wa, r.Body)
	}
	// A client's own token (client credentials), even with openid: no user to
	// describe, and the answer says so rather than that the token is invalid.
	ccID, ccSecret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "openid profile")
	cc, err := ccConfig(srv, ccID, ccSecret, "openid").Token(ctxWith(hc))
	if err != nil {
		t.Fatal(err)
	}
	srv.Sensitive(cc.AccessToken)
	r = call(http.MethodGet, cc.AccessToken, false)
	if r.Status != http.StatusUnauthorized || r.JSON(t)["error"] != "invalid_token" ||
		!strings.Contains(fmt.Sprint(r.JSON(t)["error_description"]), "not for a user") {
		t.Errorf("a client-credentials token: %d %s", r.Status, r.Body)
	}
}

var oiHiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// oiLogoutForm reads the hidden fields of the logout confirmation form.
func oiLogoutForm(t testing.TB, page Response) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range oiHiddenRE.FindAllStringSubmatch(string(page.Body), -1) {
		v.Set(m[1], htmlUnescape(m[2]))
	}
	if v.Get("csrf_token") == "" {
		t.Fatalf("logout page without a confirmation form: %d\n%s", page.Status, page.Body)
	}
	return v
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&quot;", `"`).Replace(s)
}

// oiLoggedIn tells whether the browser's session is live on the server.
func oiLoggedIn(b *azBrowser) bool {
	r := b.get("/login")
	return r.Status == http.StatusFound
}

// TestOIDC_RPInitiatedLogout: OpenID Connect RP-Initiated Logout 1.0 at /logout. A
// registered post_logout_redirect_uri, with the client named by id_token_hint or
// client_id, gets the browser back there with state after the user confirmed; any
// other request shows the page and redirects nowhere (SECURITY S42). Logout ends the
// session on the server and revokes the refresh tokens it led to (S33, S44).
func TestOIDC_RPInitiatedLogout(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	const bye = "https://rp.example/bye?from=op"
	c := newAZClient(t, srv, "https://rp.example/cb", "--scope", "openid profile offline_access",
		"--post-logout-redirect-uri", bye, "--post-logout-redirect-uri", "https://rp.example/other")
	other := newAZClient(t, srv, "https://other.example/cb", "--post-logout-redirect-uri", "https://other.example/bye")
	// signIn logs a new browser in through the code flow and returns its tokens.
	signIn := func(t *testing.T) (*azBrowser, map[string]any, string) {
		uid, user, pass := oiUser(t, srv)
		b := newAZBrowser(t, srv)
		return b, oiCodeFlow(t, srv, b, c, "openid profile offline_access", "n", user, pass), uid
	}
	logoutURL := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return "/logout?" + v.Encode()
	}
	wantNoRedirect := func(t *testing.T, page Response) {
		t.Helper()
		if page.Status != http.StatusOK || page.Header.Get("Location") != "" {
			t.Fatalf("status %d Location %q, want the logout page", page.Status, page.Header.Get("Location"))
		}
		wantPageHeaders(t, page)
		if strings.Contains(page.Header.Get("Content-Security-Policy"), "rp.example") {
			t.Errorf("CSP lets the form go to the RP: %q", page.Header.Get("Content-Security-Policy"))
		}
		if strings.Contains(string(page.Body), `name="post_logout_redirect_uri"`) {
			t.Errorf("the page carries the untrusted redirect on:\n%s", page.Body)
		}
	}
	refreshFails := func(t *testing.T, rt string) {
		t.Helper()
		if _, err := refresh(ctxWith(srv.HTTPClient()), userConfig(srv, c.ID, c.Secret), rt); err == nil {
			t.Error("the session's refresh token still works after logout (S33)")
		} else if _, code := retrieveError(t, err); code != "invalid_grant" {
			t.Errorf("refresh after logout: %s, want invalid_grant", code)
		}
	}

	runConcurrently(t,
		subtest{"HintAndRegisteredURI", func(t *testing.T) {
			b, tok, _ := signIn(t)
			oldCookie := b.cookie("gatehouse_session")
			page := b.get(logoutURL("id_token_hint", tok["id_token"].(string), "post_logout_redirect_uri", bye, "state", "st&ate 1"))
			if page.Status != http.StatusOK || !strings.Contains(string(page.Body), "rp.example") {
				t.Fatalf("confirmation page: %d\n%s", page.Status, page.Body)
			}
			// The form's POST ends in a redirect to the RP: CSP form-action allows it.
			if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://rp.example") {
				t.Errorf("CSP %q", csp)
			}
			if !oiLoggedIn(b) {
				t.Fatal("GET /logout ended the session without confirmation")
			}
			r := b.post("/logout", oiLogoutForm(t, page))
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != bye+"&state=st%26ate+1" {
				t.Fatalf("after confirming: %d Location %q, want 303 to %s with state", r.Status, r.Header.Get("Location"), bye)
			}
			u, _ := url.Parse(r.Header.Get("Location"))
			if u.Query().Get("state") != "st&ate 1" || u.Query().Get("from") != "op" {
				t.Errorf("redirect query %v", u.Query())
			}
			// Ended on the server: the old cookie is worthless.
			b2 := newAZBrowser(t, srv)
			b2.setCookie("gatehouse_session", oldCookie)
			if oiLoggedIn(b2) {
				t.Error("the session cookie still works after logout (S44)")
			}
			refreshFails(t, tok["refresh_token"].(string))
			// The access token of the session's grant is revoked with it.
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
			if r := srv.Do(t, nil, req); r.Status != http.StatusUnauthorized {
				t.Errorf("userinfo with the session's access token after logout: %d", r.Status)
			}
		}},
		subtest{"ClientIDAndRegisteredURI", func(t *testing.T) {
			b, tok, _ := signIn(t)
			page := b.get(logoutURL("client_id", c.ID, "post_logout_redirect_uri", "https://rp.example/other"))
			r := b.post("/logout", oiLogoutForm(t, page))
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "https://rp.example/other" {
				t.Fatalf("after confirming: %d Location %q", r.Status, r.Header.Get("Location"))
			}
			refreshFails(t, tok["refresh_token"].(string))
		}},
		subtest{"UntrustedRequestsRedirectNowhere", func(t *testing.T) {
			b, tok, _ := signIn(t)
			hint := tok["id_token"].(string)
			forged := []byte(hint) // another base64url character in the signature
			if forged[len(forged)-6] == 'A' {
				forged[len(forged)-6] = 'B'
			} else {
				forged[len(forged)-6] = 'A'
			}
			for name, target := range map[string]string{
				"unregistered URI":              logoutURL("id_token_hint", hint, "post_logout_redirect_uri", "https://evil.example/"),
				"registered URI, prefix":        logoutURL("client_id", c.ID, "post_logout_redirect_uri", "https://rp.example/bye"),
				"another client's URI":          logoutURL("client_id", c.ID, "post_logout_redirect_uri", "https://other.example/bye"),
				"no hint and no client_id":      logoutURL("post_logout_redirect_uri", bye, "state", "x"),
				"client_id against hint":        logoutURL("id_token_hint", hint, "client_id", other.ID, "post_logout_redirect_uri", "https://other.example/bye"),
				"forged hint":                   logoutURL("id_token_hint", string(forged), "post_logout_redirect_uri", bye),
				"access token as hint":          logoutURL("id_token_hint", tok["access_token"].(string), "post_logout_redirect_uri", bye),
				"unknown client":                logoutURL("client_id", "nope", "post_logout_redirect_uri", bye),
				"repeated redirect":             "/logout?client_id=" + c.ID + "&post_logout_redirect_uri=" + url.QueryEscape(bye) + "&post_logout_redirect_uri=" + url.QueryEscape(bye),
				"javascript URI":                logoutURL("client_id", c.ID, "post_logout_redirect_uri", "javascript:alert(1)"),
				"no parameters (plain /logout)": "/logout",
			} {
				t.Run(name, func(t *testing.T) {
					page := b.get(target)
					wantNoRedirect(t, page)
					if !strings.Contains(string(page.Body), "Sign out?") {
						t.Errorf("no confirmation form:\n%s", page.Body)
					}
				})
			}
			// The hidden fields are checked again on POST: a form tampered with to carry
			// an unregistered URI ends the session but goes to our own page.
			page := b.get(logoutURL("client_id", c.ID, "post_logout_redirect_uri", bye))
			v := oiLogoutForm(t, page)
			v.Set("post_logout_redirect_uri", "https://evil.example/")
			r := b.post("/logout", v)
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/?signed_out=1" {
				t.Errorf("tampered form: %d Location %q, want 303 to /?signed_out=1", r.Status, r.Header.Get("Location"))
			}
			if oiLoggedIn(b) {
				t.Error("still logged in")
			}
			refreshFails(t, tok["refresh_token"].(string))
		}},
		subtest{"NoSessionGoesStraightBack", func(t *testing.T) {
			b := newAZBrowser(t, srv)
			r := b.get(logoutURL("client_id", c.ID, "post_logout_redirect_uri", bye, "state", "s"))
			if r.Status != http.StatusFound || r.Header.Get("Location") != bye+"&state=s" {
				t.Errorf("no session, trusted URI: %d Location %q, want 302 back", r.Status, r.Header.Get("Location"))
			}
			// Untrusted: the "not signed in" page, no redirect.
			page := b.get(logoutURL("post_logout_redirect_uri", bye))
			wantNoRedirect(t, page)
			if !strings.Contains(string(page.Body), "not signed in") {
				t.Errorf("page without a session:\n%s", page.Body)
			}
			// A POST without a session (logged out in another tab) also goes back.
			r = b.post("/logout", url.Values{"client_id": {c.ID}, "post_logout_redirect_uri": {bye}})
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != bye {
				t.Errorf("POST without a session: %d Location %q", r.Status, r.Header.Get("Location"))
			}
		}},
		subtest{"HintOfAnotherUserStillAsks", func(t *testing.T) {
			_, tokA, _ := signIn(t)
			b, tokB, _ := signIn(t)
			// Browser b is user B's; the hint is user A's ID token.
			page := b.get(logoutURL("id_token_hint", tokA["id_token"].(string), "post_logout_redirect_uri", bye))
			if page.Status != http.StatusOK || !strings.Contains(string(page.Body), "another account") {
				t.Fatalf("hint of another user: %d, want a confirmation that says so\n%s", page.Status, page.Body)
			}
			if !oiLoggedIn(b) {
				t.Fatal("the session ended without confirmation")
			}
			// Without the CSRF token nothing happens.
			v := oiLogoutForm(t, page)
			v.Del("csrf_token")
			if r := b.post("/logout", v); r.Status != http.StatusForbidden || !oiLoggedIn(b) {
				t.Errorf("POST without CSRF token: %d (S40)", r.Status)
			}
			r := b.post("/logout", oiLogoutForm(t, page))
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != bye {
				t.Errorf("after confirming: %d Location %q", r.Status, r.Header.Get("Location"))
			}
			refreshFails(t, tokB["refresh_token"].(string))
			// User A's tokens came from another session: untouched.
			if _, err := refresh(ctxWith(srv.HTTPClient()), userConfig(srv, c.ID, c.Secret), tokA["refresh_token"].(string)); err != nil {
				t.Errorf("another session's refresh token was revoked: %v", err)
			}
		}},
	)
}

// TestOIDC_PostLogoutRedirectURIsStored: the CLI registers post-logout redirect URIs
// with the rules of redirect URIs, and they survive the database on every backend.
func TestOIDC_PostLogoutRedirectURIsStored(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		uris := []string{"https://rp.example/bye?x=1&y=2", "http://127.0.0.1:8080/bye", "com.example.app:/bye"}
		args := []string{"--grant-type", "authorization_code", "--redirect-uri", "https://rp.example/cb"}
		for _, u := range uris {
			args = append(args, "--post-logout-redirect-uri", u)
		}
		var created struct {
			ClientID string   `json:"client_id"`
			URIs     []string `json:"post_logout_redirect_uris"`
		}
		srv.CLIJSON(t, &created, "", append([]string{"clients", "create", "--name", uniqueName("rp-")}, args...)...)
		if !slices.Equal(created.URIs, uris) {
			t.Errorf("clients create --json: post_logout_redirect_uris %v", created.URIs)
		}
		plain := srv.CreateClientJSON(t, "--grant-type", "client_credentials")
		var list []map[string]any
		srv.CLIJSON(t, &list, "", "clients", "list")
		for _, m := range list {
			got, ok := m["post_logout_redirect_uris"].([]any)
			switch m["client_id"] {
			case created.ClientID:
				if len(got) != 3 || got[0] != uris[0] || got[1] != uris[1] || got[2] != uris[2] {
					t.Errorf("clients list --json: %v", m["post_logout_redirect_uris"])
				}
			case plain.ClientID:
				if !ok || len(got) != 0 {
					t.Errorf("a client without post-logout URIs lists %v, want []", m["post_logout_redirect_uris"])
				}
			}
		}
		// Read back by the server: a trusted logout request goes there.
		b := newAZBrowser(t, srv)
		r := b.get("/logout?" + url.Values{"client_id": {created.ClientID}, "post_logout_redirect_uri": {uris[0]}, "state": {"s"}}.Encode())
		if r.Status != http.StatusFound || r.Header.Get("Location") != uris[0]+"&state=s" {
			t.Errorf("logout: %d Location %q", r.Status, r.Header.Get("Location"))
		}
		for name, bad := range map[string]string{
			"http off loopback": "http://rp.example/bye", "fragment": "https://rp.example/bye#x",
			"javascript": "javascript:alert(1)", "relative": "/bye", "wildcard": "https://*.rp.example/bye",
		} {
			out, errOut, code := srv.CLI(t, "", "clients", "create", "--name", uniqueName("rp-"), "--grant-type", "client_credentials",
				"--post-logout-redirect-uri", bad)
			if code != 2 || out != "" || !strings.Contains(errOut, "post-logout redirect URI") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("%s: exit %d, stdout %q, stderr %q; want status 2 and one line naming the post-logout redirect URI", name, code, out, errOut)
			}
		}
	})
}

// TestSecurity_S33_PasswordChangeEndsSessionsAndTokens: `users set-password` revokes
// the user's refresh tokens and ends their browser sessions; other users keep theirs.
func TestSecurity_S33_PasswordChangeEndsSessionsAndTokens(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://rp.example/cb", "--scope", "openid offline_access")
	uid, user, pass := oiUser(t, srv)
	_, otherUser, otherPass := oiUser(t, srv)
	b1, b2, bOther := newAZBrowser(t, srv), newAZBrowser(t, srv), newAZBrowser(t, srv)
	tok := oiCodeFlow(t, srv, b1, c, "openid offline_access", "n1", user, pass)
	if r := b2.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("second browser login: %d", r.Status)
	}
	otherTok := oiCodeFlow(t, srv, bOther, c, "openid offline_access", "n2", otherUser, otherPass)

	newPass := "pw-" + randomString(16)
	srv.Sensitive(newPass)
	if _, errOut, code := srv.CLI(t, newPass+"\n", "users", "set-password", uid, "--password-stdin"); code != 0 {
		t.Fatalf("users set-password: exit %d %s", code, errOut)
	}
	if oiLoggedIn(b1) || oiLoggedIn(b2) {
		t.Error("a browser session of the user outlived the password change")
	}
	if _, err := refresh(ctxWith(srv.HTTPClient()), userConfig(srv, c.ID, c.Secret), tok["refresh_token"].(string)); err == nil {
		t.Error("the user's refresh token outlived the password change")
	}
	if !oiLoggedIn(bOther) {
		t.Error("another user's session ended")
	}
	if _, err := refresh(ctxWith(srv.HTTPClient()), userConfig(srv, c.ID, c.Secret), otherTok["refresh_token"].(string)); err != nil {
		t.Errorf("another user's refresh token: %v", err)
	}
	// The new password logs in.
	if r := b1.logIn("/login", user, newPass); r.Status != http.StatusSeeOther || !oiLoggedIn(b1) {
		t.Errorf("login with the new password: %d", r.Status)
	}
}
