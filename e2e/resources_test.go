package e2e

import (
	"net/url"
	"slices"
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
		q["resource"] = []string{a, b}
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
	r = refreshWith(rt, b)
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
		"code_verifier": {p.Verifier}, "resource": {a}}
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
