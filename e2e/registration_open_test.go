package e2e

// Open dynamic registration (GATEHOUSE_DYNAMIC_REGISTRATION=open), as MCP clients
// register: no initial access token, public clients only, within the registration
// scopes, throttled per address, audited; the initial access token keeps its powers.

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

func TestOpenDynamicRegistration(t *testing.T) {
	t.Parallel()
	initial := randomString(40)
	srv := startServer(t, Options{Env: map[string]string{
		"GATEHOUSE_DYNAMIC_REGISTRATION":              "open",
		"GATEHOUSE_REGISTRATION_INITIAL_ACCESS_TOKEN": initial,
		"GATEHOUSE_DYNAMIC_REGISTRATION_SCOPES":       "openid profile offline_access",
	}})
	srv.Sensitive(initial)
	public := func(redirect string) map[string]any {
		return map[string]any{"client_name": uniqueName("mcp-client-"), "redirect_uris": []string{redirect},
			"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
			"token_endpoint_auth_method": "none"}
	}

	t.Run("public client without token", func(t *testing.T) {
		for _, redirect := range []string{"http://127.0.0.1:33418/callback", "http://localhost:8080/cb", "http://[::1]/cb",
			"https://app.example.com/cb"} {
			c := dcrRegister(t, srv, srv.HTTPClient(), "", public(redirect))
			if c.TokenEndpointAuthMethod != "none" || c.ClientSecret != "" || c.Scope != "openid profile offline_access" {
				t.Errorf("%s: registered %+v", redirect, c)
			}
		}
		// Without token_endpoint_auth_method: a public client all the same.
		meta := public("http://127.0.0.1/cb")
		delete(meta, "token_endpoint_auth_method")
		if c := dcrRegister(t, srv, srv.HTTPClient(), "", meta); c.TokenEndpointAuthMethod != "none" {
			t.Errorf("default method %q, want none", c.TokenEndpointAuthMethod)
		}
	})
	t.Run("refusals without token", func(t *testing.T) {
		with := func(k string, v any) map[string]any {
			m := public("http://127.0.0.1/cb")
			m[k] = v
			return m
		}
		for name, tc := range map[string]struct {
			meta map[string]any
			code string
		}{
			"confidential":        {with("token_endpoint_auth_method", "client_secret_basic"), "invalid_client_metadata"},
			"client credentials":  {with("grant_types", []string{"client_credentials"}), "invalid_client_metadata"},
			"device grant":        {with("grant_types", []string{"urn:ietf:params:oauth:grant-type:device_code"}), "invalid_client_metadata"},
			"http not loopback":   {with("redirect_uris", []string{"http://app.example.com/cb"}), "invalid_redirect_uri"},
			"custom scheme":       {with("redirect_uris", []string{"com.example.app:/cb"}), "invalid_redirect_uri"},
			"no redirect uri":     {with("redirect_uris", []string{}), "invalid_redirect_uri"},
			"scope beyond policy": {with("scope", "openid email"), "invalid_client_metadata"},
		} {
			r := dcrDo(t, srv, srv.HTTPClient(), http.MethodPost, "/oauth/register", "", tc.meta)
			if r.Status != http.StatusBadRequest || r.JSON(t)["error"] != tc.code {
				t.Errorf("%s: %d %s, want 400 %s", name, r.Status, r.Body, tc.code)
			}
		}
		// A wrong token is refused, not taken for no token.
		r := dcrDo(t, srv, srv.HTTPClient(), http.MethodPost, "/oauth/register", wrongSecret(initial), public("http://127.0.0.1/cb"))
		dcrWantError(t, r, http.StatusUnauthorized, "invalid_token")
	})
	t.Run("initial access token keeps its powers", func(t *testing.T) {
		c := dcrRegister(t, srv, srv.HTTPClient(), initial, map[string]any{"client_name": uniqueName("machine-"),
			"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "client_secret_basic"})
		if c.ClientSecret == "" {
			t.Fatalf("confidential client without secret: %+v", c)
		}
	})
	t.Run("throttled per address", func(t *testing.T) {
		hc := srv.HTTPClient()
		for i := range 12 {
			r := dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", "", public("http://127.0.0.1/cb"))
			if r.Status == http.StatusTooManyRequests {
				if r.Header.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After")
				}
				if i < 5 {
					t.Errorf("throttled after %d registrations, want at least 5 free", i)
				}
				// Another address is not affected.
				dcrRegister(t, srv, srv.HTTPClient(), "", public("http://127.0.0.1/cb"))
				return
			}
			if r.Status != http.StatusCreated {
				t.Fatalf("registration %d: %d %s", i, r.Status, r.Body)
			}
		}
		t.Fatal("12 registrations from one address in a row were never throttled")
	})
	t.Run("audited", func(t *testing.T) {
		var events []map[string]any
		srv.CLIJSON(t, &events, "", "audit", "list", "--type", "client.registered", "--limit", "1000")
		var open, token int
		for _, e := range events {
			d, _ := e["details"].(map[string]any)
			if d["open"] == true {
				open++
			} else {
				token++
			}
		}
		if open < 5 || token < 1 {
			t.Errorf("client.registered events: %d open, %d with the token; want both kinds", open, token)
		}
	})
	t.Run("code flow to an open resource", func(t *testing.T) {
		resource := "http://127.0.0.1:9091/mcp"
		srv.CLI(t, "", "resources", "create", "--uri", resource, "--name", "Example MCP", "--open")
		b := newAZBrowser(t, srv)
		reg := dcrRegister(t, srv, b.hc, "", public("http://127.0.0.1:33418/callback"))
		c := azClient{ID: reg.ClientID, RedirectURI: "http://127.0.0.1:33418/callback"}
		user, pass := azUser(t, srv)
		p := newAZPKCE()
		f := b.authorize(azQuery(c, p, "mcp", "scope", "openid", "resource", resource), user, pass, "allow")
		if !f.SawConsent || f.Query.Get("code") == "" {
			t.Fatalf("consent %v, redirect %q", f.SawConsent, f.Location)
		}
		r := c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier)
		if r.Status != 200 {
			t.Fatalf("exchange: %d %s", r.Status, r.Body)
		}
		var tok map[string]any
		if err := json.Unmarshal(r.Body, &tok); err != nil {
			t.Fatal(err)
		}
		srv.Sensitive(tok["access_token"].(string))
		if _, claims := verifyAccessToken(t, srv, tok["access_token"].(string)); !slices.Equal(claims.Audience, []string{resource}) {
			t.Fatalf("aud %v", claims.Audience)
		}
		// Without PKCE a public client gets nowhere.
		q := azQuery(c, p, "nopkce", "scope", "openid", "resource", resource, "code_challenge", "", "code_challenge_method", "")
		if f := b.authorize(q, user, pass, "allow"); f.Query.Get("error") != "invalid_request" {
			t.Fatalf("no PKCE: %q", f.Location)
		}
	})
}

// TestOpenDynamicRegistration_Update: a client that registered without the token
// cannot widen itself afterwards with its registration access token.
func TestOpenDynamicRegistration_Update(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_DYNAMIC_REGISTRATION": "open"}})
	hc := srv.HTTPClient()
	c := dcrRegister(t, srv, hc, "", map[string]any{"client_name": uniqueName("mcp-"), "redirect_uris": []string{"http://127.0.0.1/cb"},
		"token_endpoint_auth_method": "none"})
	path := "/oauth/register/" + c.ClientID
	for name, meta := range map[string]map[string]any{
		"custom scheme":     {"client_id": c.ClientID, "redirect_uris": []string{"com.example.app:/cb"}},
		"http off loopback": {"client_id": c.ClientID, "redirect_uris": []string{"http://evil.example/cb"}},
		"device grant": {"client_id": c.ClientID, "redirect_uris": []string{"http://127.0.0.1/cb"},
			"grant_types": []string{"urn:ietf:params:oauth:grant-type:device_code"}},
	} {
		if r := dcrDo(t, srv, hc, http.MethodPut, path, c.RegistrationAccessToken, meta); r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, r.Status, r.Body)
		}
	}
	r := dcrDo(t, srv, hc, http.MethodPut, path, c.RegistrationAccessToken,
		map[string]any{"client_id": c.ClientID, "client_name": "renamed " + c.ClientID, "redirect_uris": []string{"https://app.example.com/cb"}})
	if r.Status != http.StatusOK || r.JSON(t)["token_endpoint_auth_method"] != "none" {
		t.Fatalf("a fair update: %d %s", r.Status, r.Body)
	}
}
