package e2e

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestTokenEndpoint drives the token, revocation and introspection endpoints of the
// real server with golang.org/x/oauth2, on every database backend.
func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		runConcurrently(t,
			subtest{"ClientCredentials", func(t *testing.T) { testClientCredentials(t, srv) }},
			subtest{"Resource", func(t *testing.T) { testResource(t, srv) }},
			subtest{"PasswordRefreshRotation", func(t *testing.T) { testPasswordRefreshRotation(t, srv) }},
			subtest{"RefreshScope", func(t *testing.T) { testRefreshScope(t, srv) }},
			subtest{"Revocation", func(t *testing.T) { testRevocation(t, srv) }},
			subtest{"Introspection", func(t *testing.T) { testIntrospection(t, srv) }},
			subtest{"BasicEncoding", func(t *testing.T) { testBasicEncoding(t, srv) }},
			subtest{"PublicClient", func(t *testing.T) { testPublicClient(t, srv) }},
		)
	})
}

// testClientCredentials: RFC 6749 §4.4 and the RFC 9068 token (SECURITY S25, S34).
func testClientCredentials(t *testing.T, srv *Server) {
	id, secret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api:read api:write")
	ctx := ctxWith(srv.HTTPClient())

	// Default scope: everything the client may ask.
	tok, err := ccConfig(srv, id, secret).Token(ctx)
	if err != nil {
		t.Fatalf("client credentials: %v", err)
	}
	srv.Sensitive(tok.AccessToken)
	if tok.RefreshToken != "" {
		t.Errorf("client credentials issued a refresh token (SECURITY S25)")
	}
	if tok.TokenType != "Bearer" {
		t.Errorf("token_type %q, want Bearer", tok.TokenType)
	}
	if got := tok.Extra("scope"); got != "api:read api:write" {
		t.Errorf("scope %q, want the client's scopes", got)
	}
	if exp := tok.Extra("expires_in"); exp == nil || time.Until(tok.Expiry) < 14*time.Minute {
		t.Errorf("expires_in %v: want the 15m default", exp)
	}
	jt, c := verifyAccessToken(t, srv, tok.AccessToken)
	if jt.Header["typ"] != "at+jwt" || jt.Header["alg"] != "ES256" {
		t.Errorf("header %v: want typ at+jwt, alg ES256 (the default)", jt.Header)
	}
	if c.Subject != id || c.ClientID != id {
		t.Errorf("sub %q client_id %q: want the client id %q", c.Subject, c.ClientID, id)
	}
	if len(c.Audience) != 1 || c.Audience[0] != srv.URL {
		t.Errorf("aud %v: want the issuer (GATEHOUSE_AUDIENCE default)", c.Audience)
	}
	if c.Scope != "api:read api:write" {
		t.Errorf("scope claim %q", c.Scope)
	}
	if d := c.ExpiresAt.Sub(c.IssuedAt.Time); d != 15*time.Minute {
		t.Errorf("exp - iat = %s, want 15m", d)
	}

	// Narrowed scope.
	tok2, err := ccConfig(srv, id, secret, "api:read").Token(ctx)
	if err != nil {
		t.Fatalf("narrowed scope: %v", err)
	}
	srv.Sensitive(tok2.AccessToken)
	if got := tok2.Extra("scope"); got != "api:read" {
		t.Errorf("narrowed scope answered %q", got)
	}
	_, c2 := verifyAccessToken(t, srv, tok2.AccessToken)
	if c2.Scope != "api:read" {
		t.Errorf("narrowed scope claim %q", c2.Scope)
	}
	if c2.ID == c.ID {
		t.Errorf("two tokens share jti %q", c.ID)
	}

	// A scope the client may not ask.
	_, err = ccConfig(srv, id, secret, "api:read", "admin").Token(ctx)
	if status, code := retrieveError(t, err); status != 400 || code != "invalid_scope" {
		t.Errorf("disallowed scope: %d %s, want 400 invalid_scope", status, code)
	}
}

// testResource: RFC 8707 resource → aud, or invalid_target.
func testResource(t *testing.T, srv *Server) {
	const api, other = "https://api.example.com/", "urn:example:other"
	id, secret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api:read",
		"--audience", api, "--audience", other)
	ctx := ctxWith(srv.HTTPClient())

	cfg := ccConfig(srv, id, secret)
	cfg.EndpointParams = url.Values{"resource": {api}}
	tok, err := cfg.Token(ctx)
	if err != nil {
		t.Fatalf("resource: %v", err)
	}
	srv.Sensitive(tok.AccessToken)
	_, c := verifyAccessToken(t, srv, tok.AccessToken)
	if !slices.Equal(c.Audience, []string{api}) {
		t.Errorf("aud %v, want [%s]", c.Audience, api)
	}

	cfg.EndpointParams = url.Values{"resource": {api, other, api}} // named twice, one audience
	tok, err = cfg.Token(ctx)
	if err != nil {
		t.Fatalf("two resources: %v", err)
	}
	srv.Sensitive(tok.AccessToken)
	_, c = verifyAccessToken(t, srv, tok.AccessToken)
	if !slices.Equal(c.Audience, []string{api, other}) {
		t.Errorf("aud %v, want both resources", c.Audience)
	}

	for _, bad := range [][]string{{"https://evil.example/"}, {api, "https://evil.example/"}, {"https://api.example.com"}} {
		cfg.EndpointParams = url.Values{"resource": bad}
		_, err = cfg.Token(ctx)
		if status, code := retrieveError(t, err); status != 400 || code != "invalid_target" {
			t.Errorf("resource %v: %d %s, want 400 invalid_target", bad, status, code)
		}
	}
}

// newPasswordClient registers a confidential client allowed the password and refresh
// grants (default scopes) and a user; it returns the oauth2 configuration.
func newPasswordClient(t *testing.T, srv *Server, extra ...string) (cfg *oauth2.Config, id, secret string) {
	t.Helper()
	args := append([]string{"--grant-type", "password", "--grant-type", "refresh_token"}, extra...)
	id, secret = srv.CreateClient(t, args...)
	return userConfig(srv, id, secret), id, secret
}

// newUser creates a user with a fresh name and returns name, password and id.
func newUser(t *testing.T, srv *Server) (name, password, id string) {
	t.Helper()
	name = uniqueName("user")
	password = "pw-" + randomString(20)
	return name, password, srv.CreateUser(t, name, password)
}

// passwordToken runs the password grant through golang.org/x/oauth2.
func passwordToken(t *testing.T, srv *Server, client *http.Client, cfg *oauth2.Config, user, pw string) *oauth2.Token {
	t.Helper()
	tok, err := cfg.PasswordCredentialsToken(ctxWith(client), user, pw)
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	srv.Sensitive(tok.AccessToken, tok.RefreshToken)
	if id, ok := tok.Extra("id_token").(string); ok {
		srv.Sensitive(id)
	}
	return tok
}

// testPasswordRefreshRotation: RFC 6749 §4.3 and §6 with rotation and reuse detection
// (SECURITY S30).
func testPasswordRefreshRotation(t *testing.T, srv *Server) {
	cfg, id, secret := newPasswordClient(t, srv)
	user, pw, uid := newUser(t, srv)
	hc := srv.HTTPClient()
	ctx := ctxWith(hc)

	tok := passwordToken(t, srv, hc, cfg, user, pw)
	if tok.RefreshToken == "" {
		t.Fatal("password grant: no refresh token for a client allowed refresh_token")
	}
	if randomBytes(t, tok.RefreshToken) < 32 {
		t.Errorf("refresh token %d characters: want at least 256 random bits (SECURITY S18)", len(tok.RefreshToken))
	}
	if got := tok.Extra("scope"); got != "openid profile email offline_access" {
		t.Errorf("scope %q, want the client's default scopes", got)
	}
	if _, ok := tok.Extra("id_token").(string); !ok {
		t.Errorf("no id_token for scope openid")
	}
	_, c := verifyAccessToken(t, srv, tok.AccessToken)
	if c.Subject != uid || c.ClientID != id {
		t.Errorf("sub %q client_id %q: want user %q, client %q", c.Subject, c.ClientID, uid, id)
	}

	// Rotation: a new refresh token on every use.
	tok2, err := refresh(ctx, cfg, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	srv.Sensitive(tok2.AccessToken, tok2.RefreshToken)
	if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh did not rotate the refresh token")
	}
	_, c2 := verifyAccessToken(t, srv, tok2.AccessToken)
	if c2.Subject != uid || c2.Scope != "openid profile email offline_access" {
		t.Errorf("refreshed token: sub %q scope %q", c2.Subject, c2.Scope)
	}
	if m := introspect(t, srv, hc, id, secret, tok2.AccessToken); m["active"] != true {
		t.Fatalf("fresh access token inactive: %v", m)
	}

	// Reuse of the rotated token: invalid_grant, and the whole family is revoked.
	_, err = refresh(ctx, cfg, tok.RefreshToken)
	if status, code := retrieveError(t, err); status != 400 || code != "invalid_grant" {
		t.Errorf("reuse of a rotated refresh token: %d %s, want 400 invalid_grant", status, code)
	}
	_, err = refresh(ctx, cfg, tok2.RefreshToken)
	if status, code := retrieveError(t, err); status != 400 || code != "invalid_grant" {
		t.Errorf("the family's newest refresh token after reuse: %d %s, want 400 invalid_grant", status, code)
	}
	wantInactive(t, introspect(t, srv, hc, id, secret, tok2.AccessToken))
	wantInactive(t, introspect(t, srv, hc, id, secret, tok.AccessToken))
	wantInactive(t, introspect(t, srv, hc, id, secret, tok2.RefreshToken))

	// Another family of the same user and client is untouched.
	tok3 := passwordToken(t, srv, hc, cfg, user, pw)
	if _, err := refresh(ctx, cfg, tok3.RefreshToken); err != nil {
		t.Errorf("a separate family was affected by the revocation: %v", err)
	}
}

// testRefreshScope: a narrower scope on refresh is granted; a broader one is
// invalid_scope and does not consume the token; an omitted one means the original
// (RFC 6749 §6, SECURITY S31). golang.org/x/oauth2 never sends scope when it
// refreshes, so the scoped refreshes are plain form posts.
func testRefreshScope(t *testing.T, srv *Server) {
	cfg, id, secret := newPasswordClient(t, srv)
	user, pw, _ := newUser(t, srv)
	hc := srv.HTTPClient()
	cfg.Scopes = []string{"openid", "profile"}
	tok := passwordToken(t, srv, hc, cfg, user, pw)
	if got := tok.Extra("scope"); got != "openid profile" {
		t.Fatalf("password grant scope %q", got)
	}

	// Broader: refused before the token is consumed.
	for _, broader := range []string{"openid profile email", "email", "openid profile offline_access"} {
		r := refreshForm(t, srv, hc, id, secret, tok.RefreshToken, broader)
		if r.Status != 400 || r.JSON(t)["error"] != "invalid_scope" {
			t.Errorf("broader scope %q on refresh: %d %s, want 400 invalid_scope", broader, r.Status, r.Body)
		}
	}

	// Narrower: granted, and the token was still live.
	r := refreshForm(t, srv, hc, id, secret, tok.RefreshToken, "profile")
	if r.Status != 200 {
		t.Fatalf("narrower scope on refresh after refused broader ones: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if m["scope"] != "profile" {
		t.Errorf("narrower refresh answered scope %v", m["scope"])
	}
	at, _ := m["access_token"].(string)
	rt, _ := m["refresh_token"].(string)
	srv.Sensitive(at, rt)
	if _, c := verifyAccessToken(t, srv, at); c.Scope != "profile" {
		t.Errorf("narrower refresh: scope claim %q", c.Scope)
	}

	// Omitted (through x/oauth2): the original grant's scope, not the narrowed one.
	tok3, err := refresh(ctxWith(hc), cfg, rt)
	if err != nil {
		t.Fatalf("refresh without scope: %v", err)
	}
	srv.Sensitive(tok3.AccessToken, tok3.RefreshToken)
	if got := tok3.Extra("scope"); got != "openid profile" {
		t.Errorf("refresh without scope answered %q, want the original %q", got, "openid profile")
	}
}

// refreshForm posts a refresh_token grant with a scope, authenticating with Basic.
func refreshForm(t *testing.T, srv *Server, hc *http.Client, id, secret, rt, scope string) Response {
	t.Helper()
	return srv.PostForm(t, hc, "/oauth/token", form("grant_type", "refresh_token", "refresh_token", rt, "scope", scope), id, secret)
}

// testRevocation: RFC 7009 (SECURITY S37).
func testRevocation(t *testing.T, srv *Server) {
	cfgA, idA, secretA := newPasswordClient(t, srv)
	_, idB, secretB := newPasswordClient(t, srv)
	user, pw, _ := newUser(t, srv)
	hc := srv.HTTPClient()
	ctx := ctxWith(hc)

	tok := passwordToken(t, srv, hc, cfgA, user, pw)

	// Another client's tokens are not revoked, but the answer is 200 all the same.
	for _, tc := range []struct{ token, hint string }{
		{tok.RefreshToken, ""}, {tok.RefreshToken, "refresh_token"}, {tok.AccessToken, ""}, {tok.AccessToken, "access_token"},
	} {
		if r := revoke(t, srv, hc, idB, secretB, tc.token, tc.hint); r.Status != 200 {
			t.Errorf("revoking another client's token: %d %s, want 200", r.Status, r.Body)
		}
	}
	if m := introspect(t, srv, hc, idA, secretA, tok.AccessToken); m["active"] != true {
		t.Errorf("another client revoked A's access token: %v", m)
	}
	if m := introspect(t, srv, hc, idA, secretA, tok.RefreshToken); m["active"] != true {
		t.Errorf("another client revoked A's refresh token: %v", m)
	}

	// Unknown token: 200.
	if r := revoke(t, srv, hc, idA, secretA, "no-such-token-"+randomString(20), ""); r.Status != 200 {
		t.Errorf("revoking an unknown token: %d %s, want 200", r.Status, r.Body)
	}
	r := revoke(t, srv, hc, idA, secretA, "not.a.jwt", "access_token")
	if r.Status != 200 {
		t.Errorf("revoking garbage with hint access_token: %d %s, want 200", r.Status, r.Body)
	}
	checkTokenHeaders(t, r)

	// An access token: it goes inactive.
	tok2, err := refresh(ctx, cfgA, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	srv.Sensitive(tok2.AccessToken, tok2.RefreshToken)
	if r := revoke(t, srv, hc, idA, secretA, tok2.AccessToken, "access_token"); r.Status != 200 {
		t.Fatalf("revoking an access token: %d %s", r.Status, r.Body)
	}
	wantInactive(t, introspect(t, srv, hc, idA, secretA, tok2.AccessToken))
	// Revocation is idempotent.
	if r := revoke(t, srv, hc, idA, secretA, tok2.AccessToken, ""); r.Status != 200 {
		t.Errorf("revoking an access token twice: %d %s", r.Status, r.Body)
	}

	// A refresh token (hint wrong on purpose: it is only a hint): the family goes.
	tok3, err := refresh(ctx, cfgA, tok2.RefreshToken)
	if err != nil {
		t.Fatalf("refresh after revoking an access token: %v", err)
	}
	srv.Sensitive(tok3.AccessToken, tok3.RefreshToken)
	if m := introspect(t, srv, hc, idA, secretA, tok3.AccessToken); m["active"] != true {
		t.Fatalf("fresh access token inactive: %v", m)
	}
	if r := revoke(t, srv, hc, idA, secretA, tok3.RefreshToken, "access_token"); r.Status != 200 {
		t.Fatalf("revoking a refresh token: %d %s", r.Status, r.Body)
	}
	_, err = refresh(ctx, cfgA, tok3.RefreshToken)
	if status, code := retrieveError(t, err); status != 400 || code != "invalid_grant" {
		t.Errorf("refresh with a revoked refresh token: %d %s, want 400 invalid_grant", status, code)
	}
	wantInactive(t, introspect(t, srv, hc, idA, secretA, tok3.RefreshToken))
	wantInactive(t, introspect(t, srv, hc, idA, secretA, tok3.AccessToken))
	wantInactive(t, introspect(t, srv, hc, idA, secretA, tok.AccessToken))

	// Revocation needs client authentication.
	r = srv.PostForm(t, hc, "/oauth/revoke", form("token", tok.AccessToken), "", "")
	if r.Status != 401 || r.JSON(t)["error"] != "invalid_client" {
		t.Errorf("revocation without client authentication: %d %s, want 401 invalid_client", r.Status, r.Body)
	}
	r = srv.PostForm(t, hc, "/oauth/revoke", form("token", tok.AccessToken), idA, "wrong")
	if r.Status != 401 || r.JSON(t)["error"] != "invalid_client" {
		t.Errorf("revocation with a wrong secret: %d %s, want 401 invalid_client", r.Status, r.Body)
	}
}

// testIntrospection: RFC 7662 (SECURITY S38).
func testIntrospection(t *testing.T, srv *Server) {
	cfg, id, secret := newPasswordClient(t, srv)
	_, otherID, otherSecret := newPasswordClient(t, srv)
	user, pw, uid := newUser(t, srv)
	hc := srv.HTTPClient()
	tok := passwordToken(t, srv, hc, cfg, user, pw)

	// The caller must authenticate.
	r := srv.PostForm(t, hc, "/oauth/introspect", form("token", tok.AccessToken), "", "")
	if r.Status != 401 || r.JSON(t)["error"] != "invalid_client" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("introspection without authentication: %d %v %s, want 401 invalid_client with WWW-Authenticate: Basic",
			r.Status, r.Header, r.Body)
	}
	checkTokenHeaders(t, r)

	// A live refresh token: active, client_id, scope, exp, sub, token_type.
	m := introspect(t, srv, hc, id, secret, tok.RefreshToken)
	if m["active"] != true || m["client_id"] != id || m["sub"] != uid || m["token_type"] != "refresh_token" ||
		m["scope"] != "openid profile email offline_access" {
		t.Errorf("introspection of a live refresh token: %v", m)
	}
	if exp, _ := m["exp"].(float64); time.Unix(int64(exp), 0).Before(time.Now().Add(719 * time.Hour)) {
		t.Errorf("refresh token exp %v: want now + 720h", m["exp"])
	}
	// Only the client it was issued to may see a refresh token.
	wantInactive(t, introspect(t, srv, hc, otherID, otherSecret, tok.RefreshToken))

	// A live access token: any authenticated client (a resource server) may ask.
	for _, who := range [][2]string{{id, secret}, {otherID, otherSecret}} {
		m = introspect(t, srv, hc, who[0], who[1], tok.AccessToken)
		if m["active"] != true || m["client_id"] != id || m["sub"] != uid || m["iss"] != srv.URL ||
			m["scope"] != "openid profile email offline_access" || m["exp"] == nil || m["jti"] == nil {
			t.Errorf("introspection of a live access token: %v", m)
		}
	}

	// Unknown, malformed, forged: exactly {"active":false}.
	parts := strings.Split(tok.AccessToken, ".")
	forged := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString([]byte("forged signature, 64 bytes long: 0123456789abcdef0123456789ab"))
	idToken, _ := tok.Extra("id_token").(string)
	if idToken == "" {
		t.Fatal("no id_token")
	}
	// An ID token is no access token (typ JWT, aud the client): inactive too.
	for _, bad := range []string{"unknown-" + randomString(30), "a.b.c", forged, tok.AccessToken + "x", idToken} {
		wantInactive(t, introspect(t, srv, hc, id, secret, bad))
	}

	// With hints, even wrong ones, the answer is the same.
	r = srv.PostForm(t, hc, "/oauth/introspect", form("token", tok.RefreshToken, "token_type_hint", "access_token"), id, secret)
	if r.Status != 200 || r.JSON(t)["active"] != true {
		t.Errorf("introspection with a wrong hint: %d %s", r.Status, r.Body)
	}
	checkTokenHeaders(t, r)

	// Revoked: exactly {"active":false}.
	if r := revoke(t, srv, hc, id, secret, tok.RefreshToken, ""); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	wantInactive(t, introspect(t, srv, hc, id, secret, tok.RefreshToken))
	wantInactive(t, introspect(t, srv, hc, id, secret, tok.AccessToken))
}

// testBasicEncoding: RFC 6749 §2.3.1, client id and secret are form-urlencoded before
// base64 (SECURITY S20).
func testBasicEncoding(t *testing.T, srv *Server) {
	id, secret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api")
	hc := srv.HTTPClient()
	body := form("grant_type", "client_credentials")
	// Each attempt from its own address: the failures below would otherwise trip the
	// per-address throttle of client authentication.
	try := func(user, pass string) Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
		return srv.Do(t, nil, req)
	}
	pctAll := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
		return b.String()
	}

	// golang.org/x/oauth2 (QueryEscape both) works.
	tok, err := ccConfig(srv, id, secret).Token(ctxWith(hc))
	if err != nil {
		t.Fatalf("x/oauth2 with Basic: %v", err)
	}
	srv.Sensitive(tok.AccessToken)
	// Every byte percent-encoded still decodes to the same id and secret.
	if r := try(pctAll(id), pctAll(secret)); r.Status != 200 {
		t.Errorf("percent-encoded id and secret: %d %s, want 200", r.Status, r.Body)
	} else {
		srv.Sensitive(string(r.Body))
	}
	// Mixed: only the secret's '-' and '_' (present in base64url) encoded.
	mixed := strings.NewReplacer("-", "%2D", "_", "%5F").Replace(secret)
	if r := try(id, mixed); r.Status != 200 {
		t.Errorf("partly percent-encoded secret: %d %s, want 200", r.Status, r.Body)
	} else {
		srv.Sensitive(string(r.Body))
	}
	// A raw '+' is a space after form-decoding: the secret no longer matches, and the
	// server does not trim it away.
	for _, bad := range []string{secret + "+", "+" + secret, secret[:10] + "+" + secret[11:], secret + "%20", secret + "%zz", secret + "%"} {
		r := try(id, bad)
		if r.Status != 401 || r.JSON(t)["error"] != "invalid_client" {
			t.Errorf("secret %q…: %d %s, want 401 invalid_client", bad[:4], r.Status, r.Body)
		}
	}
	// Client ids compare exactly, on every database (MariaDB collations ignore case).
	firstLetter := strings.IndexFunc(id, func(r rune) bool { return r >= 'a' && r <= 'z' })
	oneUpper := id[:firstLetter] + strings.ToUpper(id[firstLetter:firstLetter+1]) + id[firstLetter+1:]
	for _, other := range []string{strings.ToUpper(id), oneUpper, id + " ", " " + id} {
		if r := try(url.QueryEscape(other), secret); r.Status != 401 {
			t.Errorf("client id %q with the right secret: %d %s, want 401", other, r.Status, r.Body)
		}
	}
	// ':' inside an encoded client id is part of the id, not the separator.
	if r := try(url.QueryEscape(id+":"+secret), secret); r.Status != 401 {
		t.Errorf("client id with an encoded ':': %d %s, want 401", r.Status, r.Body)
	}
	// client_secret_post: the form encoding of the body is the only encoding.
	r := srv.PostForm(t, hc, "/oauth/token", body+"&client_id="+pctAll(id)+"&client_secret="+pctAll(secret), "", "")
	if r.Status != 200 {
		t.Errorf("client_secret_post with percent-encoded values: %d %s, want 200", r.Status, r.Body)
	} else {
		srv.Sensitive(string(r.Body))
	}
}

// testPublicClient: a public client sends only client_id (SPEC "HTTP endpoints").
func testPublicClient(t *testing.T, srv *Server) {
	c := srv.CreateClientJSON(t, "--public", "--redirect-uri", "http://127.0.0.1/cb", "--scope", "openid profile")
	if c.ClientSecret != "" || !c.Public {
		t.Fatalf("public client created with a secret or not public: %+v", c)
	}
	user, pw, uid := newUser(t, srv)
	hc := srv.HTTPClient()
	cfg := userConfig(srv, c.ClientID, "")
	// Its tokens come from the code flow with PKCE (a public client cannot use the
	// password grant, RFC 9700 §2.4).
	az, p := azClient{ID: c.ClientID, RedirectURI: "http://127.0.0.1/cb"}, newAZPKCE()
	f := newAZBrowser(t, srv).authorize(azQuery(az, p, "pub"), user, pw, "allow")
	r := az.exchange(t, srv, hc, f.Query.Get("code"), az.RedirectURI, p.Verifier)
	if r.Status != 200 {
		t.Fatalf("public client code exchange: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	tok := &oauth2.Token{AccessToken: m["access_token"].(string)}
	tok.RefreshToken, _ = m["refresh_token"].(string)
	srv.Sensitive(tok.AccessToken, tok.RefreshToken)
	if tok.RefreshToken == "" {
		t.Errorf("public client: no refresh token")
	}
	if _, cl := verifyAccessToken(t, srv, tok.AccessToken); cl.Subject != uid || cl.ClientID != c.ClientID {
		t.Errorf("public client token: sub %q client_id %q", cl.Subject, cl.ClientID)
	}
	tok2, err := refresh(ctxWith(hc), cfg, tok.RefreshToken)
	if err != nil {
		t.Fatalf("public client refresh: %v", err)
	}
	srv.Sensitive(tok2.AccessToken, tok2.RefreshToken)

	// It may revoke its own tokens with its client_id alone (RFC 7009 §2.1), but not
	// introspect (S38: naming a public client id authenticates nobody).
	r = srv.PostForm(t, hc, "/oauth/revoke", form("token", tok2.RefreshToken, "client_id", c.ClientID), "", "")
	if r.Status != 200 {
		t.Errorf("public client revoking its refresh token: %d %s", r.Status, r.Body)
	}
	if _, err := refresh(ctxWith(hc), cfg, tok2.RefreshToken); err == nil {
		t.Errorf("a refresh token its public client revoked still works")
	}
	r = srv.PostForm(t, hc, "/oauth/introspect", form("token", tok2.AccessToken, "client_id", c.ClientID), "", "")
	if r.Status != 401 {
		t.Errorf("public client introspecting: %d %s, want 401", r.Status, r.Body)
	}

	// A public client that sends a secret, or Basic, does not authenticate.
	body := form("grant_type", "refresh_token", "refresh_token", tok2.RefreshToken)
	for _, tc := range []struct {
		name, body, user, pass string
	}{
		{"secret in body", body + "&" + form("client_id", c.ClientID, "client_secret", "anything"), "", ""},
		{"Basic with a secret", body, c.ClientID, "anything"},
		{"Basic with an empty secret", body, c.ClientID, ""},
	} {
		r := srv.PostForm(t, hc, "/oauth/token", tc.body, tc.user, tc.pass)
		if r.Status != 401 || r.JSON(t)["error"] != "invalid_client" {
			t.Errorf("public client, %s: %d %s, want 401 invalid_client", tc.name, r.Status, r.Body)
		}
	}
}

// checkTokenHeaders checks the headers every token, revocation and introspection
// answer carries (RFC 6749 §5.1, SECURITY S24).
func checkTokenHeaders(t testing.TB, r Response) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); r.Status != 200 || len(r.Body) > 0 {
		if !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q, want application/json (status %d, body %s)", ct, r.Status, r.Body)
		}
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store (status %d)", cc, r.Status)
	}
	if p := r.Header.Get("Pragma"); p != "no-cache" {
		t.Errorf("Pragma %q, want no-cache (status %d)", p, r.Status)
	}
	if r.Status == 401 && !strings.HasPrefix(strings.ToLower(r.Header.Get("WWW-Authenticate")), "basic") {
		t.Errorf("401 without WWW-Authenticate: Basic: %v", r.Header)
	}
}

// TestTokenEndpoint_WithoutFastPaths: with GATEHOUSE_STORAGE_FAST_PATHS=false the
// server is built on the plain repositories (no batched reads, group commit or
// pipeline), and every grant still works on every backend, the code flow included.
func TestTokenEndpoint_WithoutFastPaths(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{Env: map[string]string{"GATEHOUSE_STORAGE_FAST_PATHS": "false"}}, func(t *testing.T, srv *Server) {
		runConcurrently(t,
			subtest{"ClientCredentials", func(t *testing.T) { testClientCredentials(t, srv) }},
			subtest{"PasswordRefreshRotation", func(t *testing.T) { testPasswordRefreshRotation(t, srv) }},
			subtest{"Revocation", func(t *testing.T) { testRevocation(t, srv) }},
			subtest{"Introspection", func(t *testing.T) { testIntrospection(t, srv) }},
			subtest{"CodeFlow", func(t *testing.T) {
				c := newAZClient(t, srv, "https://plain.example/cb")
				user, pass := azUser(t, srv)
				b := newAZBrowser(t, srv)
				p := newAZPKCE()
				f := b.authorize(azQuery(c, p, "plain", "scope", "openid offline_access"), user, pass, "allow")
				r := c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier)
				if r.Status != http.StatusOK {
					t.Fatalf("exchange: %d %s", r.Status, r.Body)
				}
				m := r.JSON(t)
				srv.Sensitive(m["access_token"].(string), m["refresh_token"].(string), m["id_token"].(string))
				// The same code again: refused, and the tokens it gave die (RFC 6749 §4.1.2).
				wantOAuthError(t, c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier),
					http.StatusBadRequest, "invalid_grant")
				wantOAuthError(t, refreshForm(t, srv, b.hc, c.ID, c.Secret, m["refresh_token"].(string), ""),
					http.StatusBadRequest, "invalid_grant")
			}},
		)
		if !strings.Contains(srv.Log(), "storage fast paths off") {
			t.Errorf("the server did not say it runs without its fast paths")
		}
	})
}
