package e2e

// Authorization request parameters that used to be ignored: response_mode (only query
// is supported), id_token_hint (OpenID Connect Core §3.1.2.1) and
// prompt=select_account.

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestAuthorize_ResponseMode: a response_mode other than query is refused at the
// client's redirect URI (state, iss, a description naming the mode), never answered
// with a code in the query; query, or none, proceeds. The PAR endpoint refuses it too.
func TestAuthorize_ResponseMode(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent")
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	p := newAZPKCE()
	if r := b.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.Status)
	}
	for _, mode := range []string{"form_post", "fragment", "xyz"} {
		r := b.get("/oauth/authorize?" + azQuery(c, p, "rm-"+mode, "response_mode", mode).Encode())
		wantRedirectError(t, srv, r, c.RedirectURI, "invalid_request", "rm-"+mode)
		u, _ := url.Parse(r.Header.Get("Location"))
		want := "response_mode " + mode + " is not supported; this server answers in the query"
		if got := u.Query().Get("error_description"); got != want {
			t.Errorf("response_mode=%s: error_description %q, want %q", mode, got, want)
		}
		// The PAR endpoint validates as the authorization endpoint does.
		wantOAuthError(t, parPush(t, srv, b.hc, c, azQuery(c, p, "s", "response_mode", mode)), http.StatusBadRequest, "invalid_request")
	}
	f := b.authorize(azQuery(c, p, "rm-query", "response_mode", "query"), user, pass, "allow")
	if f.SawLogin || f.Query.Get("code") == "" || f.Query.Get("state") != "rm-query" {
		t.Errorf("response_mode=query: %q, want a code at once", f.Location)
	}
	parRequestURI(t, srv, b.hc, c, azQuery(c, p, "s", "response_mode", "query"), 60)
}

// TestAuthorize_IDTokenHint: the hint must be an ID token of this server issued to
// the requesting client; naming another user than the one signed in, it gets
// login_required with prompt=none and the login page without, never a code for the
// signed-in user.
func TestAuthorize_IDTokenHint(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent")
	other := newAZClient(t, srv, "https://other.example.com/cb", "--skip-consent")
	alice, alicePass := azUser(t, srv)
	bob, bobPass := azUser(t, srv)
	p := newAZPKCE()
	idToken := func(b *azBrowser, c azClient, user, pass string) string {
		t.Helper()
		f := b.authorize(azQuery(c, p, "hint"), user, pass, "allow")
		r := c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier)
		if r.Status != http.StatusOK {
			t.Fatalf("exchange: %d %s", r.Status, r.Body)
		}
		tok, _ := r.JSON(t)["id_token"].(string)
		if tok == "" {
			t.Fatalf("no ID token: %s", r.Body)
		}
		srv.Sensitive(tok)
		return tok
	}
	ab, bb := newAZBrowser(t, srv), newAZBrowser(t, srv)
	aliceHint, bobHint := idToken(ab, c, alice, alicePass), idToken(bb, c, bob, bobPass)
	otherClientHint := idToken(ab, other, alice, alicePass)
	get := func(kv ...string) Response { return ab.get("/oauth/authorize?" + azQuery(c, p, "h1", kv...).Encode()) }

	// The signed-in user's own hint: a code, with prompt=none too.
	r := get("prompt", "none", "id_token_hint", aliceHint)
	if r.Status != http.StatusFound || !strings.Contains(r.Header.Get("Location"), "code=") {
		t.Fatalf("prompt=none, hint of the signed-in user: %d %q, want a code", r.Status, r.Header.Get("Location"))
	}
	// Another user's: login_required with prompt=none; the login page without, where
	// signing in as the hinted user gives a code for that user.
	wantRedirectError(t, srv, get("prompt", "none", "id_token_hint", bobHint), c.RedirectURI, "login_required", "h1")
	r = get("id_token_hint", bobHint)
	wantLoginRedirect(t, r)
	f := ab.follow(r, bob, bobPass, "allow")
	if !f.SawLogin || f.Query.Get("code") == "" {
		t.Fatalf("hint of another user: login %v, %q, want the login page then a code", f.SawLogin, f.Location)
	}
	tr := c.exchange(t, srv, ab.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier)
	if sub, want := azJWTClaims(t, tr.JSON(t)["id_token"].(string))["sub"], azJWTClaims(t, bobHint)["sub"]; sub != want {
		t.Errorf("code after signing in as the hinted user: sub %v, want %v", sub, want)
	}

	// A pushed request cannot keep a hint: refused at the PAR endpoint, not dropped.
	wantOAuthError(t, parPush(t, srv, ab.hc, c, azQuery(c, p, "s", "id_token_hint", aliceHint)), http.StatusBadRequest, "invalid_request")

	// Hints that are no ID token of ours for this client: invalid_request.
	for name, hint := range map[string]string{
		"garbage":          "garbage",
		"altered":          bobHint[:len(bobHint)-4] + "AAAA",
		"unsigned":         "eyJhbGciOiJub25lIn0.eyJpc3MiOiIiLCJzdWIiOiJ4In0.",
		"another client's": otherClientHint,
	} {
		t.Run(name, func(t *testing.T) {
			wantRedirectError(t, srv, get("prompt", "none", "id_token_hint", hint), c.RedirectURI, "invalid_request", "h1")
		})
	}
}

// TestAuthorize_PromptSelectAccount: select_account shows the login page even to a
// signed-in browser, where the user may sign in with another account; discovery lists
// it; with none it is refused.
func TestAuthorize_PromptSelectAccount(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent")
	alice, alicePass := azUser(t, srv)
	bob, bobPass := uniqueName("azuser"), "pw-"+randomString(16)
	bobID := srv.CreateUser(t, bob, bobPass)
	b := newAZBrowser(t, srv)
	p := newAZPKCE()
	if r := b.logIn("/login", alice, alicePass); r.Status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.Status)
	}
	get := func(kv ...string) Response { return b.get("/oauth/authorize?" + azQuery(c, p, "sa", kv...).Encode()) }

	wantRedirectError(t, srv, get("prompt", "none select_account"), c.RedirectURI, "invalid_request", "sa")
	r := get("prompt", "select_account")
	wantLoginRedirect(t, r)
	f := b.follow(r, bob, bobPass, "allow")
	if !f.SawLogin || f.Query.Get("code") == "" {
		t.Fatalf("prompt=select_account: login %v, %q, want the login page then a code", f.SawLogin, f.Location)
	}
	tr := c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier)
	if got := azJWTClaims(t, tr.JSON(t)["id_token"].(string))["sub"]; got != bobID {
		t.Errorf("account chosen on the login page: sub %v, want %s", got, bobID)
	}

	m := srv.Get(t, nil, "/.well-known/openid-configuration").JSON(t)
	prompts, _ := m["prompt_values_supported"].([]any)
	if !slices.Contains(prompts, any("select_account")) {
		t.Errorf("prompt_values_supported %v lacks select_account", prompts)
	}
	if modes, _ := m["response_modes_supported"].([]any); !slices.Equal(modes, []any{"query"}) {
		t.Errorf("response_modes_supported %v, want [query]", modes)
	}
}
