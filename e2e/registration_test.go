package e2e

// Dynamic client registration (RFC 7591) and its management (RFC 7592), end to end:
// register with the initial access token, use the new client at the token endpoint
// and in the code flow, read, update and delete it with its registration access
// token; and the refusals: no or a wrong initial token, invalid redirect URIs and
// metadata, another client's registration token, the endpoint when it is off.
// Names start with dcr.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

// dcrClient is a registration answer (RFC 7591 §3.2.1).
type dcrClient struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at"`
	RegistrationAccessToken string   `json:"registration_access_token"`
	RegistrationClientURI   string   `json:"registration_client_uri"`
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	Scope                   string   `json:"scope"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	RequirePAR              bool     `json:"require_pushed_authorization_requests"`
}

// dcrDo sends method path with a JSON body (when not nil) and a bearer token (when
// not empty).
func dcrDo(t testing.TB, srv *Server, hc *http.Client, method, path, token string, body any) Response {
	t.Helper()
	var rd *strings.Reader
	switch b := body.(type) {
	case nil:
		rd = strings.NewReader("")
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return srv.Do(t, hc, req)
}

// dcrRegister registers meta with the initial token and checks the answer.
func dcrRegister(t testing.TB, srv *Server, hc *http.Client, initial string, meta map[string]any) dcrClient {
	t.Helper()
	r := dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", initial, meta)
	if r.Status != http.StatusCreated {
		t.Fatalf("register: %d, want 201: %s", r.Status, r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("register: Cache-Control %q, want no-store", r.Header.Get("Cache-Control"))
	}
	var c dcrClient
	if err := json.Unmarshal(r.Body, &c); err != nil {
		t.Fatal(err)
	}
	srv.Sensitive(c.ClientSecret, c.RegistrationAccessToken)
	if c.ClientID == "" || c.RegistrationAccessToken == "" || c.RegistrationClientURI != srv.URL+"/oauth/register/"+c.ClientID ||
		c.ClientIDIssuedAt == 0 {
		t.Fatalf("register: incomplete answer %s", r.Body)
	}
	if (c.TokenEndpointAuthMethod == "none") != (c.ClientSecret == "") {
		t.Errorf("register: method %q with secret %v", c.TokenEndpointAuthMethod, c.ClientSecret != "")
	}
	if c.ClientSecret != "" && (c.ClientSecretExpiresAt == nil || *c.ClientSecretExpiresAt != 0) {
		t.Errorf("register: client_secret_expires_at %v, want 0", c.ClientSecretExpiresAt)
	}
	return c
}

// dcrWantError checks a registration error (RFC 7591 §3.2.2).
func dcrWantError(t testing.TB, r Response, status int, code string) {
	t.Helper()
	wantOAuthError(t, r, status, code)
	if status == http.StatusUnauthorized && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without a Bearer challenge: %q", r.Header.Get("WWW-Authenticate"))
	}
	// A registrant is told about its metadata in RFC 7591's words, never in the
	// CLI's flags.
	if d, _ := r.JSON(t)["error_description"].(string); strings.Contains(d, "--") {
		t.Errorf("error_description names a CLI flag: %q", d)
	}
}

func TestDynamicRegistration(t *testing.T) {
	t.Parallel()
	initial := randomString(40)
	forEachBackend(t, Options{Env: map[string]string{
		"GATEHOUSE_DYNAMIC_REGISTRATION":              "true",
		"GATEHOUSE_REGISTRATION_INITIAL_ACCESS_TOKEN": initial,
		// The API scopes the clients below register are the operator's to open.
		"GATEHOUSE_DYNAMIC_REGISTRATION_SCOPES": "openid profile email offline_access api:read api:write",
	}}, func(t *testing.T, srv *Server) {
		srv.Sensitive(initial)
		runConcurrently(t,
			subtest{"ClientCredentials", func(t *testing.T) { testDCRClientCredentials(t, srv, initial) }},
			subtest{"CodeFlow", func(t *testing.T) { testDCRCodeFlow(t, srv, initial) }},
			subtest{"InitialAccessToken", func(t *testing.T) { testDCRInitialToken(t, srv, initial) }},
			subtest{"InvalidMetadata", func(t *testing.T) { testDCRInvalid(t, srv, initial) }},
			subtest{"ReadUpdateDelete", func(t *testing.T) { testDCRManage(t, srv, initial) }},
			subtest{"OtherClientsToken", func(t *testing.T) { testDCROtherClient(t, srv, initial) }},
			subtest{"Discovery", func(t *testing.T) {
				for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
					if got := srv.Get(t, nil, p).JSON(t)["registration_endpoint"]; got != srv.URL+"/oauth/register" {
						t.Errorf("%s: registration_endpoint %v", p, got)
					}
				}
			}},
		)
	})
}

// testDCRClientCredentials: a registered machine client gets a token at once.
func testDCRClientCredentials(t *testing.T, srv *Server, initial string) {
	hc := srv.HTTPClient()
	c := dcrRegister(t, srv, hc, initial, map[string]any{
		"client_name": uniqueName("dcr-machine-"), "grant_types": []string{"client_credentials"},
		"scope": "api:read api:write", "token_endpoint_auth_method": "client_secret_post", "logo_uri": "https://ignored.example.com/x.png",
	})
	if c.TokenEndpointAuthMethod != "client_secret_basic" || c.Scope != "api:read api:write" || len(c.GrantTypes) != 1 ||
		len(c.ResponseTypes) != 0 || len(c.RedirectURIs) != 0 {
		t.Errorf("registered metadata %+v", c)
	}
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cfg := ccConfig(srv, c.ClientID, c.ClientSecret, "api:read")
		cfg.AuthStyle = style
		tok, err := cfg.Token(ctxWith(hc))
		if err != nil {
			t.Fatalf("client credentials as the registered client (style %d): %v", style, err)
		}
		srv.Sensitive(tok.AccessToken)
		if _, claims := verifyAccessToken(t, srv, tok.AccessToken); claims.ClientID != c.ClientID || claims.Scope != "api:read" {
			t.Errorf("claims %+v", claims)
		}
	}
}

// testDCRCodeFlow: a registered web client and a registered public client go
// through the code flow, the code redeemed with golang.org/x/oauth2.
func testDCRCodeFlow(t *testing.T, srv *Server, initial string) {
	user, pass := azUser(t, srv)
	for _, method := range []string{"client_secret_basic", "none"} {
		t.Run(method, func(t *testing.T) {
			b := newAZBrowser(t, srv)
			reg := dcrRegister(t, srv, b.hc, initial, map[string]any{
				"client_name": uniqueName("dcr-web-"), "redirect_uris": []string{"http://127.0.0.1:9000/cb"},
				"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
				"scope": "openid profile offline_access", "token_endpoint_auth_method": method,
			})
			if reg.TokenEndpointAuthMethod != method || len(reg.ResponseTypes) != 1 || reg.ResponseTypes[0] != "code" {
				t.Errorf("registered metadata %+v", reg)
			}
			c := azClient{ID: reg.ClientID, Secret: reg.ClientSecret, RedirectURI: "http://127.0.0.1:9000/cb"}
			p := newAZPKCE()
			f := b.authorize(azQuery(c, p, "dcr", "scope", "openid offline_access"), user, pass, "allow")
			if f.Query.Get("state") != "dcr" || f.Query.Get("code") == "" {
				t.Fatalf("redirect %q", f.Location)
			}
			style := oauth2.AuthStyleInHeader
			if method == "none" {
				style = oauth2.AuthStyleInParams
			}
			cfg := &oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: c.RedirectURI,
				Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth/authorize", TokenURL: srv.URL + "/oauth/token", AuthStyle: style}}
			tok, err := cfg.Exchange(ctxWith(b.hc), f.Query.Get("code"), oauth2.VerifierOption(p.Verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			srv.Sensitive(tok.AccessToken, tok.RefreshToken)
			if tok.RefreshToken == "" || tok.Extra("id_token") == nil {
				t.Errorf("want a refresh token and an ID token")
			}
		})
	}
}

// testDCRInitialToken: registering needs the initial access token, exactly. Each
// refusal comes from its own address (nil client), so that throttling stays out of it
// but for the last part, which checks it.
func testDCRInitialToken(t *testing.T, srv *Server, initial string) {
	var hc *http.Client
	meta := map[string]any{"client_name": uniqueName("dcr-noauth-"), "grant_types": []string{"client_credentials"}}
	for name, token := range map[string]string{
		"none": "", "wrong": wrongSecret(initial), "prefix": initial[:32], "longer": initial + "x",
	} {
		t.Run(name, func(t *testing.T) {
			dcrWantError(t, dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", token, meta), http.StatusUnauthorized, "invalid_token")
		})
	}
	// No credentials at all: a challenge without an error code (RFC 6750 §3.1); a
	// wrong token: one naming invalid_token.
	if wa := dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", "", meta).Header.Get("WWW-Authenticate"); wa != `Bearer realm="gatehouse"` {
		t.Errorf("no token: WWW-Authenticate %q, want a challenge without an error", wa)
	}
	if wa := dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", wrongSecret(initial), meta).Header.Get("WWW-Authenticate"); wa != `Bearer realm="gatehouse", error="invalid_token"` {
		t.Errorf("a wrong token: WWW-Authenticate %q", wa)
	}
	// Basic instead of Bearer.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth/register", strings.NewReader(`{"grant_types":["client_credentials"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("x", initial)
	dcrWantError(t, srv.Do(t, hc, req), http.StatusUnauthorized, "invalid_token")
	// Without the token even a broken body is 401, not a validation error.
	dcrWantError(t, dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", "", "{not json"), http.StatusUnauthorized, "invalid_token")

	// Guessing from one address is throttled like client authentication: after 5
	// failures a wrong token gets 429 with Retry-After; the right token still works.
	one := srv.HTTPClient()
	var last Response
	for range 7 {
		last = dcrDo(t, srv, one, http.MethodPost, "/oauth/register", wrongSecret(initial), meta)
	}
	if last.Status != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Errorf("7th wrong initial token from one address: %d (Retry-After %q), want 429", last.Status, last.Header.Get("Retry-After"))
	}
	dcrRegister(t, srv, one, initial, map[string]any{"client_name": uniqueName("dcr-after-"), "grant_types": []string{"client_credentials"}})
}

// testDCRInvalid: redirect URIs follow the CLI's rules (invalid_redirect_uri), other
// metadata too (invalid_client_metadata).
func testDCRInvalid(t *testing.T, srv *Server, initial string) {
	hc := srv.HTTPClient()
	web := func(uris ...string) map[string]any {
		return map[string]any{"client_name": uniqueName("dcr-bad-"), "redirect_uris": uris}
	}
	for name, uri := range map[string]string{
		"http not loopback": "http://app.example.com/cb", "fragment": "https://app.example.com/cb#frag",
		"wildcard": "https://*.example.com/cb", "relative": "/cb", "javascript": "javascript:alert(1)",
		"userinfo": "https://user@app.example.com/cb", "custom scheme without dot": "myapp:/cb",
	} {
		t.Run("redirect "+name, func(t *testing.T) {
			dcrWantError(t, dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", initial, web("https://ok.example.com/cb", uri)),
				http.StatusBadRequest, "invalid_redirect_uri")
		})
	}
	dcrWantError(t, dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", initial, map[string]any{"client_name": "no uris"}),
		http.StatusBadRequest, "invalid_redirect_uri")
	for _, tc := range []struct {
		name string
		body any
		code string
	}{
		{"unknown grant type", map[string]any{"grant_types": []string{"urn:example:magic"}}, "invalid_client_metadata"},
		{"implicit grant", map[string]any{"grant_types": []string{"implicit"}, "redirect_uris": []string{"https://a.example.com/cb"}}, "invalid_client_metadata"},
		{"password grant", map[string]any{"grant_types": []string{"password"}}, "invalid_client_metadata"},
		{"token response type", map[string]any{"response_types": []string{"token"}, "redirect_uris": []string{"https://a.example.com/cb"}}, "invalid_client_metadata"},
		{"code without its grant", map[string]any{"response_types": []string{"code"}, "grant_types": []string{"client_credentials"}}, "invalid_client_metadata"},
		{"private_key_jwt", map[string]any{"token_endpoint_auth_method": "private_key_jwt", "grant_types": []string{"client_credentials"}}, "invalid_client_metadata"},
		{"public client credentials", map[string]any{"token_endpoint_auth_method": "none", "grant_types": []string{"client_credentials"}}, "invalid_client_metadata"},
		{"bad scope", map[string]any{"scope": "a\"b", "grant_types": []string{"client_credentials"}}, "invalid_client_metadata"},
		{"redirect_uris not a list", map[string]any{"redirect_uris": "https://a.example.com/cb"}, "invalid_client_metadata"},
		{"NUL in name", map[string]any{"client_name": "a\x00b", "grant_types": []string{"client_credentials"}}, "invalid_client_metadata"},
		{"long name", map[string]any{"client_name": strings.Repeat("n", 201), "grant_types": []string{"client_credentials"}}, "invalid_client_metadata"},
		{"client_id chosen", map[string]any{"client_id": "mine", "grant_types": []string{"client_credentials"}}, "invalid_client_metadata"},
		{"bad post-logout URI", map[string]any{"redirect_uris": []string{"https://a.example.com/cb"}, "post_logout_redirect_uris": []string{"http://evil.example.com/"}}, "invalid_client_metadata"},
		{"software statement", map[string]any{"software_statement": "eyJhbGciOiJub25lIn0.e30.", "grant_types": []string{"client_credentials"}}, "invalid_software_statement"},
		{"not JSON", "{not json", "invalid_client_metadata"},
		{"JSON array", `[1,2]`, "invalid_client_metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dcrWantError(t, dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", initial, tc.body), http.StatusBadRequest, tc.code)
		})
	}
	// Several bad members: the description names each.
	several := dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", initial, map[string]any{"client_name": strings.Repeat("n", 201),
		"redirect_uris": []string{"https://a.example.com/cb"}, "post_logout_redirect_uris": []string{"http://evil.example.com/"}})
	dcrWantError(t, several, http.StatusBadRequest, "invalid_client_metadata")
	if d, _ := several.JSON(t)["error_description"].(string); d != `client name must be 1 to 200 characters; `+
		`post-logout redirect URI "http://evil.example.com/": plain http is allowed only on loopback; use https` {
		t.Errorf("two bad members: error_description %q", d)
	}
	// A name taken by another client.
	name := uniqueName("dcr-taken-")
	dcrRegister(t, srv, hc, initial, map[string]any{"client_name": name, "grant_types": []string{"client_credentials"}})
	dcrWantError(t, dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", initial,
		map[string]any{"client_name": name, "grant_types": []string{"client_credentials"}}), http.StatusBadRequest, "invalid_client_metadata")
	// Form bodies are not metadata.
	r := srv.Do(t, hc, func() *http.Request {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth/register", strings.NewReader("client_name=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+initial)
		return req
	}())
	dcrWantError(t, r, http.StatusBadRequest, "invalid_request")
}

// testDCRManage: read, update and delete with the registration access token, which
// every read and update replaces (RFC 7592 §3: the answer carries it; the old one
// stops working).
func testDCRManage(t *testing.T, srv *Server, initial string) {
	hc := srv.HTTPClient()
	name := uniqueName("dcr-managed-")
	c := dcrRegister(t, srv, hc, initial, map[string]any{
		"client_name": name, "redirect_uris": []string{"https://app.example.com/cb"},
		"grant_types": []string{"authorization_code", "client_credentials"}, "scope": "openid api:read",
	})
	path := "/oauth/register/" + c.ClientID
	rat := c.RegistrationAccessToken
	// next does method with the current token, wants 200 and a new token in the
	// answer, and checks the old one is refused from now on.
	next := func(what, method string, body any) dcrClient {
		t.Helper()
		r := dcrDo(t, srv, hc, method, path, rat, body)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", what, r.Status, r.Body)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", what, r.Header.Get("Cache-Control"))
		}
		var got dcrClient
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatal(err)
		}
		srv.Sensitive(got.RegistrationAccessToken)
		if got.RegistrationAccessToken == "" || got.RegistrationAccessToken == rat {
			t.Fatalf("%s: registration_access_token %q, want a new one (RFC 7592 §3)", what, got.RegistrationAccessToken)
		}
		// From a fresh address (nil client), so that these refusals do not add up to
		// the address's throttle.
		dcrWantError(t, dcrDo(t, srv, nil, http.MethodGet, path, rat, nil), http.StatusUnauthorized, "invalid_token")
		rat = got.RegistrationAccessToken
		return got
	}

	got := next("read", http.MethodGet, nil)
	if got.ClientID != c.ClientID || got.ClientName != name || got.Scope != "openid api:read" || got.ClientSecret != "" ||
		got.RegistrationClientURI != c.RegistrationClientURI ||
		len(got.RedirectURIs) != 1 || got.RedirectURIs[0] != "https://app.example.com/cb" {
		t.Errorf("read: %+v", got)
	}

	update := map[string]any{
		"client_id": c.ClientID, "client_name": name + "-2", "redirect_uris": []string{"https://app.example.com/cb2"},
		"grant_types": []string{"authorization_code", "client_credentials"}, "scope": "openid api:write",
		"require_pushed_authorization_requests": true,
	}
	got = next("update", http.MethodPut, update)
	if got.ClientName != name+"-2" || got.Scope != "openid api:write" || !got.RequirePAR {
		t.Errorf("update's answer: %+v", got)
	}
	got = next("read after update", http.MethodGet, nil)
	if got.ClientName != name+"-2" || got.Scope != "openid api:write" || !got.RequirePAR ||
		len(got.RedirectURIs) != 1 || got.RedirectURIs[0] != "https://app.example.com/cb2" {
		t.Errorf("after update: %+v", got)
	}
	// The update is audited, by the client itself, naming what changed; the reads
	// are not.
	type event struct {
		Actor, Target, IP string
		Details           map[string]any
	}
	var events []event
	srv.CLIJSON(t, &events, "", "audit", "list", "--type", "client.updated")
	updates := 0
	for _, e := range events {
		if e.Target == c.ClientID {
			updates++
			if e.Actor != c.ClientID || e.IP == "" || !strings.Contains(fmt.Sprint(e.Details["fields"]), "redirect_uris") {
				t.Errorf("client.updated event: %+v, want the client as actor, an address, and redirect_uris among the fields", e)
			}
		}
	}
	if updates != 1 {
		t.Errorf("%d client.updated events for the client, want 1", updates)
	}
	// The secret is unchanged and the new scope counts at the token endpoint.
	if tok, err := ccConfig(srv, c.ClientID, c.ClientSecret, "api:write").Token(ctxWith(hc)); err != nil {
		t.Errorf("token after update: %v", err)
	} else {
		srv.Sensitive(tok.AccessToken)
	}
	// The old redirect URI is gone for authorization requests.
	b := newAZBrowser(t, srv)
	wantErrorPage(t, b.get("/oauth/authorize?"+azQuery(azClient{ID: c.ClientID, RedirectURI: "https://app.example.com/cb"}, newAZPKCE(), "s").Encode()), http.StatusBadRequest)

	// A refused update changes nothing, the token included.
	for _, tc := range []struct {
		name string
		kv   []any
		code string
	}{
		{"other client_id", []any{"client_id", "someoneelse"}, "invalid_request"},
		{"no client_id", []any{"client_id", nil}, "invalid_request"},
		{"wrong client_secret", []any{"client_secret", wrongSecret(c.ClientSecret)}, "invalid_request"},
		{"registration_access_token member", []any{"registration_access_token", "x"}, "invalid_request"},
		{"client_id_issued_at member", []any{"client_id_issued_at", 1}, "invalid_request"},
		{"invalid redirect", []any{"redirect_uris", []string{"http://evil.example.com/cb"}}, "invalid_redirect_uri"},
		{"becoming public", []any{"token_endpoint_auth_method", "none"}, "invalid_client_metadata"},
	} {
		t.Run("update "+tc.name, func(t *testing.T) {
			m := map[string]any{}
			for k, v := range update {
				m[k] = v
			}
			if tc.kv[1] == nil {
				delete(m, tc.kv[0].(string))
			} else {
				m[tc.kv[0].(string)] = tc.kv[1]
			}
			dcrWantError(t, dcrDo(t, srv, hc, http.MethodPut, path, rat, m), http.StatusBadRequest, tc.code)
		})
	}
	// The current secret may be repeated; the same metadata again changes only the
	// token, and is not audited.
	update["client_secret"] = c.ClientSecret
	next("update with the current secret", http.MethodPut, update)
	srv.CLIJSON(t, &events, "", "audit", "list", "--type", "client.updated")
	updates = 0
	for _, e := range events {
		if e.Target == c.ClientID {
			updates++
		}
	}
	if updates != 1 {
		t.Errorf("after an update that changed nothing: %d client.updated events, want still 1", updates)
	}

	// Of many reads racing with one token, exactly one gets the next token (each
	// from its own address, so that the losers' refusals are not throttled).
	const racers = 8
	results := make([]Response, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { results[i] = dcrDo(t, srv, nil, http.MethodGet, path, rat, nil) })
	}
	wg.Wait()
	won := 0
	for _, r := range results {
		switch r.Status {
		case http.StatusOK:
			won++
			var got dcrClient
			_ = json.Unmarshal(r.Body, &got)
			srv.Sensitive(got.RegistrationAccessToken)
			rat = got.RegistrationAccessToken
		default:
			dcrWantError(t, r, http.StatusUnauthorized, "invalid_token")
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d racing reads with one registration access token succeeded, want exactly 1", won, racers)
	}

	r := dcrDo(t, srv, hc, http.MethodDelete, path, rat, nil)
	if r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	dcrWantError(t, dcrDo(t, srv, nil, http.MethodGet, path, rat, nil), http.StatusUnauthorized, "invalid_token")
	dcrWantError(t, dcrDo(t, srv, nil, http.MethodDelete, path, rat, nil), http.StatusUnauthorized, "invalid_token")
	_, err := ccConfig(srv, c.ClientID, c.ClientSecret).Token(ctxWith(hc))
	if status, code := retrieveError(t, err); status != http.StatusUnauthorized || code != "invalid_client" {
		t.Errorf("token after delete: %d %s, want 401 invalid_client", status, code)
	}
	srv.CLIJSON(t, &events, "", "audit", "list", "--type", "client.deleted")
	if !slices.ContainsFunc(events, func(e event) bool { return e.Target == c.ClientID && e.Actor == c.ClientID && e.IP != "" }) {
		t.Errorf("no client.deleted event with the client as actor and target, and an address: %+v", events)
	}
	srv.CLIJSON(t, &events, "", "audit", "list", "--type", "client.registered")
	if !slices.ContainsFunc(events, func(e event) bool { return e.Target == c.ClientID && e.IP != "" }) {
		t.Errorf("no client.registered event for the client with an address: %+v", events)
	}
}

// testDCROtherClient: a registration access token manages its own client only; the
// initial token and CLI-made clients are out of reach. The refused requests come from
// fresh addresses (nil client) so that throttling stays out of it.
func testDCROtherClient(t *testing.T, srv *Server, initial string) {
	var hc *http.Client
	meta := func() map[string]any {
		return map[string]any{"client_name": uniqueName("dcr-other-"), "grant_types": []string{"client_credentials"}}
	}
	a, b := dcrRegister(t, srv, hc, initial, meta()), dcrRegister(t, srv, hc, initial, meta())
	cli, _ := srv.CreateClient(t, "--grant-type", "client_credentials")
	for name, tc := range map[string]struct{ id, token string }{
		"another client's token": {b.ClientID, a.RegistrationAccessToken},
		"the initial token":      {b.ClientID, initial},
		"no token":               {b.ClientID, ""},
		"a CLI client":           {cli, a.RegistrationAccessToken},
		"an unknown client":      {"nosuchclient", a.RegistrationAccessToken},
		"a client's secret":      {b.ClientID, b.ClientSecret},
	} {
		t.Run(name, func(t *testing.T) {
			path := "/oauth/register/" + url.PathEscape(tc.id)
			dcrWantError(t, dcrDo(t, srv, hc, http.MethodGet, path, tc.token, nil), http.StatusUnauthorized, "invalid_token")
			dcrWantError(t, dcrDo(t, srv, hc, http.MethodPut, path, tc.token,
				map[string]any{"client_id": tc.id, "grant_types": []string{"client_credentials"}}), http.StatusUnauthorized, "invalid_token")
			dcrWantError(t, dcrDo(t, srv, hc, http.MethodDelete, path, tc.token, nil), http.StatusUnauthorized, "invalid_token")
		})
	}
	// b is untouched.
	if r := dcrDo(t, srv, hc, http.MethodGet, "/oauth/register/"+b.ClientID, b.RegistrationAccessToken, nil); r.Status != http.StatusOK {
		t.Errorf("b after the attempts: %d %s", r.Status, r.Body)
	}
}

// TestDynamicRegistrationOff: by default the endpoint does not exist and is not
// advertised.
func TestDynamicRegistrationOff(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	hc := srv.HTTPClient()
	for _, r := range []Response{
		dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", "anything", map[string]any{"grant_types": []string{"client_credentials"}}),
		dcrDo(t, srv, hc, http.MethodGet, "/oauth/register/someclient", "anything", nil),
		dcrDo(t, srv, hc, http.MethodDelete, "/oauth/register/someclient", "anything", nil),
	} {
		if r.Status != http.StatusNotFound {
			t.Errorf("registration endpoint when off: %d, want 404: %s", r.Status, r.Body)
		}
	}
	for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		if _, ok := srv.Get(t, nil, p).JSON(t)["registration_endpoint"]; ok {
			t.Errorf("%s advertises registration_endpoint while registration is off", p)
		}
	}
}

// TestDynamicRegistrationConfig: on without a good initial access token, start-up
// stops with exit 2 and one line naming the variable.
func TestDynamicRegistrationConfig(t *testing.T) {
	t.Parallel()
	for name, env := range map[string]map[string]string{
		"no token":    {"GATEHOUSE_DYNAMIC_REGISTRATION": "true"},
		"short token": {"GATEHOUSE_DYNAMIC_REGISTRATION": "true", "GATEHOUSE_REGISTRATION_INITIAL_ACCESS_TOKEN": "0123456789abcdef0123456789abcde"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, errOut, code := runCLI(t, cliEnv(t, env), "", "serve")
			wantUsage(t, "serve", out, errOut, code, "GATEHOUSE_REGISTRATION_INITIAL_ACCESS_TOKEN")
		})
	}
}
