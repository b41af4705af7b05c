package e2e

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestResource_MultipleAudiences: RFC 8707 — several resource parameters give one
// token whose aud lists them all; the token request and a refresh may narrow them,
// never widen them (invalid_target).
func TestResource_MultipleAudiences(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	const a, b, c = "https://a.example.com/api", "https://b.example.com/mcp", "https://c.example.com/"
	cl := newAZClient(t, srv, "https://app.example.com/cb", "--audience", a, "--audience", b, "--audience", c,
		"--grant-type", "authorization_code", "--grant-type", "refresh_token", "--scope", "openid offline_access")
	user, pass := azUser(t, srv)
	br := newAZBrowser(t, srv)
	p := newAZPKCE()
	aud := func(tok map[string]any) []string {
		t.Helper()
		srv.Sensitive(tok["access_token"].(string))
		_, claims := verifyAccessToken(t, srv, tok["access_token"].(string))
		return claims.Audience
	}
	authorize := func(state string) string {
		q := azQuery(cl, p, state, "scope", "openid offline_access")
		q["resource"] = []string{a, b, a} // a named twice is one audience
		return br.authorize(q, user, pass, "allow").Query.Get("code")
	}
	refreshWith := func(rt string, resources ...string) Response {
		v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "resource": resources}
		return srv.PostForm(t, br.hc, "/oauth/token", v.Encode(), cl.ID, cl.Secret)
	}

	// Two resources: one token for both.
	r := cl.exchange(t, srv, br.hc, authorize("two"), cl.RedirectURI, p.Verifier)
	if r.Status != 200 {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	tok := r.JSON(t)
	if got := aud(tok); !slices.Equal(got, []string{a, b}) {
		t.Fatalf("aud %v, want [%s %s]", got, a, b)
	}
	rt := tok["refresh_token"].(string)
	srv.Sensitive(rt)

	// A refresh narrows to one of them, or keeps both when it names none.
	r = refreshWith(rt, b, b)
	if r.Status != 200 {
		t.Fatalf("narrowing refresh: %d %s", r.Status, r.Body)
	}
	tok = r.JSON(t)
	if got := aud(tok); !slices.Equal(got, []string{b}) {
		t.Fatalf("narrowed aud %v, want [%s]", got, b)
	}
	rt = tok["refresh_token"].(string)
	srv.Sensitive(rt)
	r = refreshWith(rt)
	if r.Status != 200 {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	tok = r.JSON(t)
	if got := aud(tok); !slices.Equal(got, []string{a, b}) {
		t.Fatalf("refresh without resource: aud %v, want the grant's [%s %s]", got, a, b)
	}
	rt = tok["refresh_token"].(string)
	srv.Sensitive(rt)
	// Widening, even to a resource the client may ask for, is refused.
	for _, wide := range [][]string{{c}, {a, c}} {
		wantOAuthError(t, refreshWith(rt, wide...), 400, "invalid_target")
	}

	// The token request narrows the access token's audience; the refresh token keeps the grant's.
	code := authorize("narrow-at-token")
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cl.RedirectURI},
		"code_verifier": {p.Verifier}, "resource": {a, a}}
	r = srv.PostForm(t, br.hc, "/oauth/token", v.Encode(), cl.ID, cl.Secret)
	if r.Status != 200 {
		t.Fatalf("exchange with resource: %d %s", r.Status, r.Body)
	}
	tok = r.JSON(t)
	if got := aud(tok); !slices.Equal(got, []string{a}) {
		t.Fatalf("exchange narrowed aud %v, want [%s]", got, a)
	}
	rt = tok["refresh_token"].(string)
	srv.Sensitive(rt)
	r = refreshWith(rt, b)
	if r.Status != 200 || !slices.Equal(aud(r.JSON(t)), []string{b}) {
		t.Fatalf("refresh to the grant's other resource: %d %s", r.Status, r.Body)
	}
	// … and may not widen either.
	code = authorize("widen-at-token")
	v.Set("code", code)
	v["resource"] = []string{a, c}
	wantOAuthError(t, srv.PostForm(t, br.hc, "/oauth/token", v.Encode(), cl.ID, cl.Secret), 400, "invalid_target")
}

// TestResources_CLI: resources create, list, delete, with bad input refused (exit
// 2) and every change in the audit log.
func TestResources_CLI(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	uri := "https://mcp-" + strings.ToLower(uniqueName("r")) + ".example.com/mcp"
	var created map[string]any
	srv.CLIJSON(t, &created, "", "resources", "create", "--uri", uri, "--name", "Example MCP", "--scope", "mcp:tools", "--open")
	if created["uri"] != uri || created["name"] != "Example MCP" || created["open"] != true ||
		!equalAny(created["scopes"], []any{"mcp:tools"}) {
		t.Fatalf("created %v", created)
	}
	for _, bad := range [][]string{
		{"resources", "create", "--name", "x"},
		{"resources", "create", "--uri", "not a uri", "--name", "x"},
		{"resources", "create", "--uri", "https://x.example/#frag", "--name", "x"},
		{"resources", "create", "--uri", uri, "--name", "again"},
		{"resources", "create", "--uri", "https://y.example/", "--name", "x", "--scope", "bad\"scope"},
		{"resources", "delete", "https://never.example/"},
		{"resources", "delete"},
	} {
		if _, stderr, exit := srv.CLI(t, "", bad...); exit != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q: want 2 and one line", bad, exit, stderr)
		}
	}
	var list []map[string]any
	srv.CLIJSON(t, &list, "", "resources", "list")
	found := false
	for _, r := range list {
		found = found || r["uri"] == uri && r["open"] == true
	}
	if !found {
		t.Fatalf("list %v lacks %s", list, uri)
	}
	if out, _, exit := srv.CLI(t, "", "resources", "list"); exit != 0 || !strings.Contains(out, uri) || !strings.Contains(out, "Example MCP") {
		t.Fatalf("list: %d %s", exit, out)
	}
	if _, stderr, exit := srv.CLI(t, "", "resources", "delete", uri); exit != 0 {
		t.Fatalf("delete: %d %s", exit, stderr)
	}
	if out, _, _ := srv.CLI(t, "", "resources", "list"); strings.Contains(out, uri) {
		t.Fatalf("deleted resource still listed: %s", out)
	}
	for _, typ := range []string{"resource.created", "resource.deleted"} {
		var events []map[string]any
		srv.CLIJSON(t, &events, "", "audit", "list", "--type", typ)
		ok := false
		for _, e := range events {
			ok = ok || e["target"] == uri && e["actor"] == "cli"
		}
		if !ok {
			t.Errorf("no %s event for %s: %v", typ, uri, events)
		}
	}
}

// TestResources_OpenResourceNeedsConsent: a client may ask for an open resource it
// does not list, with the user's consent, which names the resource; a resource that is
// not open stays invalid_target.
func TestResources_OpenResourceNeedsConsent(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	sfx := strings.ToLower(uniqueName("r"))
	open := "https://mcp-" + sfx + ".example.com/mcp"
	closed := "https://api-" + sfx + ".example.com/"
	srv.CLI(t, "", "resources", "create", "--uri", open, "--name", "Calendar MCP "+sfx, "--open")
	srv.CLI(t, "", "resources", "create", "--uri", closed, "--name", "Closed API")
	// A client that skips consent for its own scopes must still ask for an open resource.
	cl := newAZClient(t, srv, "https://app.example.com/cb", "--scope", "openid", "--skip-consent")
	user, pass := azUser(t, srv)
	br := newAZBrowser(t, srv)
	p := newAZPKCE()

	f := br.authorize(azQuery(cl, p, "closed", "scope", "openid", "resource", closed), user, pass, "allow")
	if f.Query.Get("error") != "invalid_target" {
		t.Fatalf("a resource that is not open: %q, want invalid_target", f.Location)
	}
	f = br.authorize(azQuery(cl, p, "open", "scope", "openid", "resource", open), user, pass, "allow")
	if !f.SawConsent {
		t.Fatalf("an open resource was granted without consent")
	}
	if !strings.Contains(f.ConsentPage, "Calendar MCP "+sfx) || !strings.Contains(f.ConsentPage, open) {
		t.Fatalf("the consent page does not name the resource:\n%s", f.ConsentPage)
	}
	r := cl.exchange(t, srv, br.hc, f.Query.Get("code"), cl.RedirectURI, p.Verifier)
	if r.Status != 200 {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	tok := r.JSON(t)
	srv.Sensitive(tok["access_token"].(string))
	if _, claims := verifyAccessToken(t, srv, tok["access_token"].(string)); !slices.Equal(claims.Audience, []string{open}) {
		t.Fatalf("aud %v, want [%s]", claims.Audience, open)
	}
	// Remembered: the next request goes straight through.
	if f = br.authorize(azQuery(cl, p, "again", "scope", "openid", "resource", open), user, pass, "allow"); f.SawConsent {
		t.Fatalf("consent to the open resource was not remembered")
	}
	// Deleted: no longer open to this client.
	srv.CLI(t, "", "resources", "delete", open)
	if f = br.authorize(azQuery(cl, p, "deleted", "scope", "openid", "resource", open), user, pass, "allow"); f.Query.Get("error") != "invalid_target" {
		t.Fatalf("a deleted resource: %q, want invalid_target", f.Location)
	}
}

// TestResources_OpenResourceOffersItsScopes: a resource's --scope values are what a
// client that reaches it as an open resource may ask for besides its own scopes (an
// MCP server's "files:read"), with the user's consent, which describes them; never
// without naming the resource, never a user scope, and the admin API's scope cannot
// be put on a resource at all.
func TestResources_OpenResourceOffersItsScopes(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	sfx := strings.ToLower(uniqueName("s"))
	open := "https://files-" + sfx + ".example.com/mcp"
	read, write := "files-"+sfx+":read", "files-"+sfx+":write"
	if _, stderr, code := srv.CLI(t, "", "resources", "create", "--uri", open, "--name", "Files MCP "+sfx,
		"--scope", read, "--scope", write, "--scope", "email", "--open"); code != 0 {
		t.Fatalf("resources create: %s", stderr)
	}
	if _, stderr, code := srv.CLI(t, "", "scopes", "create", "--name", read, "--description", "Read your files "+sfx); code != 0 {
		t.Fatalf("scopes create: %s", stderr)
	}
	_, stderr, code := srv.CLI(t, "", "resources", "create", "--uri", "https://admin-"+sfx+".example.com/", "--name", "x",
		"--scope", "gatehouse:admin", "--open")
	if code != 2 || !strings.Contains(stderr, "gatehouse:admin") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("a resource offering the admin API's scope: exit %d, %q", code, stderr)
	}
	cl := newAZClient(t, srv, "https://app.example.com/cb", "--scope", "openid")
	user, pass := azUser(t, srv)
	br := newAZBrowser(t, srv)
	p := newAZPKCE()

	f := br.authorize(azQuery(cl, p, "offered", "scope", "openid "+read, "resource", open), user, pass, "allow")
	if !f.SawConsent || !strings.Contains(f.ConsentPage, "Read your files "+sfx) || !strings.Contains(f.ConsentPage, "Files MCP "+sfx) {
		t.Fatalf("the consent page does not describe the resource and its scope (consent shown: %v):\n%s", f.SawConsent, f.ConsentPage)
	}
	r := cl.exchange(t, srv, br.hc, f.Query.Get("code"), cl.RedirectURI, p.Verifier)
	if r.Status != 200 {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	tok := r.JSON(t)
	srv.Sensitive(tok["access_token"].(string))
	if _, claims := verifyAccessToken(t, srv, tok["access_token"].(string)); claims.Scope != "openid "+read ||
		!slices.Equal(claims.Audience, []string{open}) {
		t.Fatalf("token scope %q aud %v, want %q for [%s]", claims.Scope, claims.Audience, "openid "+read, open)
	}
	if tok["scope"] != "openid "+read {
		t.Fatalf("token response scope %v", tok["scope"])
	}

	for name, q := range map[string]url.Values{
		"without the resource": azQuery(cl, p, "none", "scope", "openid "+read),
		"a user scope":         azQuery(cl, p, "email", "scope", "openid email", "resource", open),
		"a scope it lacks":     azQuery(cl, p, "lacks", "scope", "openid files-"+sfx+":delete", "resource", open),
	} {
		if f := br.authorize(q, user, pass, "allow"); f.Query.Get("error") != "invalid_scope" {
			t.Errorf("%s: %q, want invalid_scope", name, f.Location)
		}
	}
	// The PAR endpoint validates the same way.
	push := func(scope string) Response {
		q := azQuery(cl, p, "par", "scope", scope, "resource", open)
		return srv.PostForm(t, nil, "/oauth/par", q.Encode(), cl.ID, cl.Secret)
	}
	if r := push("openid " + write); r.Status != 201 {
		t.Fatalf("the resource's scope through PAR: %d %s", r.Status, r.Body)
	}
	wantOAuthError(t, push("openid email"), 400, "invalid_scope")
}

func equalAny(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// TestResources_OpenResourceThroughPAR: the PAR endpoint takes an open resource as
// the authorization endpoint does, and refuses one that is not open.
func TestResources_OpenResourceThroughPAR(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	sfx := strings.ToLower(uniqueName("p"))
	open, closed := "https://mcp-"+sfx+".example.com/mcp", "https://api-"+sfx+".example.com/"
	srv.CLI(t, "", "resources", "create", "--uri", open, "--name", "PAR MCP", "--open")
	srv.CLI(t, "", "resources", "create", "--uri", closed, "--name", "Closed API")
	cl := newAZClient(t, srv, "https://app.example.com/cb", "--scope", "openid")
	p := newAZPKCE()
	push := func(resource string) Response {
		q := azQuery(cl, p, "par", "scope", "openid", "resource", resource)
		return srv.PostForm(t, nil, "/oauth/par", q.Encode(), cl.ID, cl.Secret)
	}
	if r := push(open); r.Status != 201 {
		t.Fatalf("open resource through PAR: %d %s", r.Status, r.Body)
	}
	wantOAuthError(t, push(closed), 400, "invalid_target")
}
