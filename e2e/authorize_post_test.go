package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAuthorize_PostForm: POST /oauth/authorize with a form body is the same request
// as GET (OpenID Connect Core §3.1.2.1): the same sign-in and consent, a code that
// redeems, the same error redirects; the query of a POST is not read, and a body that
// is not a form is refused on an error page, not sent anywhere.
func TestAuthorize_PostForm(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/post-cb")
	user, pass := azUser(t, srv)
	p := newAZPKCE()
	b := newAZBrowser(t, srv)

	flow := b.follow(b.post("/oauth/authorize", azQuery(c, p, "post-state")), user, pass, "allow")
	if !flow.SawLogin || !flow.SawConsent || flow.Query.Get("state") != "post-state" || flow.Query.Get("code") == "" {
		t.Fatalf("POST authorization: %+v", flow)
	}
	if r := c.exchange(t, srv, b.hc, flow.Query.Get("code"), c.RedirectURI, p.Verifier); r.Status != http.StatusOK {
		t.Fatalf("code from a POST authorization: %d %s", r.Status, r.Body)
	} else {
		m := r.JSON(t)
		srv.Sensitive(m["access_token"].(string), m["id_token"].(string))
	}

	// The same error redirect as GET for a request the client can be told about, with
	// 303 so that the browser follows it with a GET.
	bad := b.post("/oauth/authorize", azQuery(c, p, "post-bad", "response_type", "token"))
	wantRedirectErrorStatus(t, srv, bad, http.StatusSeeOther, c.RedirectURI, "unsupported_response_type", "post-bad")

	// The query of a POST is not read: these parameters alone are no request.
	q := azQuery(c, p, "in-query")
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth/authorize?"+q.Encode(), strings.NewReader(url.Values{"state": {"x"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	wantErrorPage(t, srv.Do(t, b.hc, req), http.StatusBadRequest)

	// A body that is not a form: an error page, never a redirect.
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/oauth/authorize", strings.NewReader(`{"client_id":"`+c.ID+`"}`))
	req.Header.Set("Content-Type", "application/json")
	wantErrorPage(t, srv.Do(t, b.hc, req), http.StatusBadRequest)
	// Too large: 413, not a 5xx.
	big := azQuery(c, p, "big")
	big.Set("padding", strings.Repeat("a", 70<<10))
	if r := b.post("/oauth/authorize", big); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized POST: %d", r.Status)
	}
}
