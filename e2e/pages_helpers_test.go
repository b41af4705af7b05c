package e2e

// Helpers for the authorization endpoint and the pages: a cookie-keeping HTTP
// "browser" that follows the login and consent pages by reading their forms, and the
// code exchange at the token endpoint. Names start with az to stay out of the way of
// the other end-to-end files.

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// azBrowser is an HTTP client with cookies that follows no redirects by itself.
type azBrowser struct {
	t   testing.TB
	srv *Server
	hc  *http.Client
}

func newAZBrowser(t testing.TB, srv *Server) *azBrowser {
	t.Helper()
	hc := srv.HTTPClient()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc.Jar = jar
	return &azBrowser{t: t, srv: srv, hc: hc}
}

func (b *azBrowser) abs(target string) string {
	if strings.HasPrefix(target, "/") {
		return b.srv.URL + target
	}
	return target
}

func (b *azBrowser) get(target string) Response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.abs(target), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.srv.Do(b.t, b.hc, req)
}

func (b *azBrowser) post(path string, v url.Values) Response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.abs(path), strings.NewReader(v.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.srv.Do(b.t, b.hc, req)
}

// cookie returns the value of the browser's cookie name, or "".
func (b *azBrowser) cookie(name string) string {
	u, _ := url.Parse(b.srv.URL)
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// setCookie puts a cookie into the browser (a stolen or stale value, say).
func (b *azBrowser) setCookie(name, value string) {
	u, _ := url.Parse(b.srv.URL)
	b.hc.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

var (
	csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	reqRE  = regexp.MustCompile(`name="req" value="([^"]+)"`)
)

// azFormFields reads the CSRF token and request id from a page's form.
func azFormFields(t testing.TB, page Response) (csrf, req string) {
	t.Helper()
	body := string(page.Body)
	if m := csrfRE.FindStringSubmatch(body); m != nil {
		csrf = m[1]
	}
	if m := reqRE.FindStringSubmatch(body); m != nil {
		req = m[1]
	}
	return csrf, req
}

// openForm GETs a page that must show a form, and returns its fields.
func (b *azBrowser) openForm(target string) (csrf, req string) {
	b.t.Helper()
	page := b.get(target)
	if page.Status != http.StatusOK {
		b.t.Fatalf("GET %s: %d, want a form page\n%s", target, page.Status, page.Body)
	}
	csrf, req = azFormFields(b.t, page)
	if csrf == "" {
		b.t.Fatalf("GET %s: no CSRF token in the form", target)
	}
	return csrf, req
}

// logIn signs in on the login page of target (/login or /login?req=...), and returns
// the answer to the POST.
func (b *azBrowser) logIn(target, user, password string) Response {
	b.t.Helper()
	csrf, req := b.openForm(target)
	v := url.Values{"csrf_token": {csrf}, "username": {user}, "password": {password}}
	if req != "" {
		v.Set("req", req)
	}
	return b.post("/login", v)
}

// azFlow is how an authorization went.
type azFlow struct {
	Location   string     // the final redirect to the client
	Query      url.Values // its query
	SawLogin   bool
	SawConsent bool
	// ConsentPage is the body of the last consent page shown.
	ConsentPage string
}

// authorize sends the browser to the authorization endpoint with q and through the
// pages: it logs in as user when the login page comes, answers the consent page with
// decision ("allow" or "deny"), and returns the redirect to the client.
func (b *azBrowser) authorize(q url.Values, user, password, decision string) azFlow {
	b.t.Helper()
	return b.follow(b.get("/oauth/authorize?"+q.Encode()), user, password, decision)
}

// follow continues from resp through login and consent to the client's redirect.
func (b *azBrowser) follow(resp Response, user, password, decision string) azFlow {
	b.t.Helper()
	var f azFlow
	for range 8 {
		if resp.Status != http.StatusFound && resp.Status != http.StatusSeeOther {
			b.t.Fatalf("want a redirect, got %d\n%s", resp.Status, resp.Body)
		}
		loc := resp.Header.Get("Location")
		switch {
		case strings.HasPrefix(loc, "/login"):
			f.SawLogin = true
			resp = b.logIn(loc, user, password)
		case strings.HasPrefix(loc, "/consent"):
			f.SawConsent = true
			f.ConsentPage = string(b.get(loc).Body)
			csrf, req := b.openForm(loc)
			resp = b.post("/consent", url.Values{"csrf_token": {csrf}, "req": {req}, "decision": {decision}})
		default:
			u, err := url.Parse(loc)
			if err != nil {
				b.t.Fatalf("redirect to %q: %v", loc, err)
			}
			f.Location, f.Query = loc, u.Query()
			return f
		}
	}
	b.t.Fatalf("no end to the redirects")
	return f
}

// azClient is a registered client as the tests use it.
type azClient struct {
	ID, Secret  string
	RedirectURI string
}

// newAZClient registers a client with one redirect URI and the given extra flags.
func newAZClient(t testing.TB, srv *Server, redirectURI string, flags ...string) azClient {
	t.Helper()
	id, secret := srv.CreateClient(t, append([]string{"--redirect-uri", redirectURI}, flags...)...)
	return azClient{ID: id, Secret: secret, RedirectURI: redirectURI}
}

// azPKCE is a fresh verifier and its S256 challenge.
type azPKCE struct{ Verifier, Challenge string }

func newAZPKCE() azPKCE {
	v := oauth2.GenerateVerifier()
	return azPKCE{Verifier: v, Challenge: oauth2.S256ChallengeFromVerifier(v)}
}

// azQuery is an authorization request of c with PKCE p and state, plus extra
// key/value pairs (an empty value deletes the key).
func azQuery(c azClient, p azPKCE, state string, kv ...string) url.Values {
	q := url.Values{
		"client_id": {c.ID}, "redirect_uri": {c.RedirectURI}, "response_type": {"code"},
		"scope": {"openid profile"}, "state": {state},
		"code_challenge": {p.Challenge}, "code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

// exchange redeems a code at the token endpoint as c (HTTP Basic for a confidential
// client, client_id in the body for a public one). Empty redirectURI or verifier are
// left out.
func (c azClient) exchange(t testing.TB, srv *Server, hc *http.Client, code, redirectURI, verifier string) Response {
	t.Helper()
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}}
	if redirectURI != "" {
		v.Set("redirect_uri", redirectURI)
	}
	if verifier != "" {
		v.Set("code_verifier", verifier)
	}
	if c.Secret == "" {
		v.Set("client_id", c.ID)
		return srv.PostForm(t, hc, "/oauth/token", v.Encode(), "", "")
	}
	return srv.PostForm(t, hc, "/oauth/token", v.Encode(), c.ID, c.Secret)
}

// wantOAuthError checks a JSON error answer of the token endpoint.
func wantOAuthError(t testing.TB, r Response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if got := r.JSON(t)["error"]; got != code {
		t.Fatalf("error %v, want %s: %s", got, code, r.Body)
	}
}

// wantErrorPage checks that an authorization error was shown as an HTML page with
// status, never as a redirect (SECURITY S3).
func wantErrorPage(t testing.TB, r Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want an error page with %d; Location %q\n%s", r.Status, status, r.Header.Get("Location"), r.Body)
	}
	if loc := r.Header.Get("Location"); loc != "" {
		t.Fatalf("error page with a Location header %q", loc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type %q, want an HTML page", ct)
	}
	wantPageHeaders(t, r)
}

// wantPageHeaders checks the headers every page carries (SECURITY S8, S41).
func wantPageHeaders(t testing.TB, r Response) {
	t.Helper()
	h := r.Header
	if h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("X-Frame-Options %q, want DENY", h.Get("X-Frame-Options"))
	}
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "style-src 'self'", "img-src 'self'", "form-action 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, d)
		}
	}
	if h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy %q, want no-referrer", h.Get("Referrer-Policy"))
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", h.Get("Cache-Control"))
	}
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("CORS header %s on a page (SECURITY S8)", k)
		}
	}
}

// wantRedirectError checks an error redirect to the client: error, state byte for
// byte (absent when state is ""), iss (SECURITY S5).
func wantRedirectError(t testing.TB, srv *Server, r Response, redirectURI, code, state string) {
	t.Helper()
	wantRedirectErrorStatus(t, srv, r, http.StatusFound, redirectURI, code, state)
}

// wantRedirectErrorStatus is wantRedirectError with another status: 303 after a POST.
func wantRedirectErrorStatus(t testing.TB, srv *Server, r Response, status int, redirectURI, code, state string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want a %d error redirect\n%s", r.Status, status, r.Body)
	}
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, redirectURI+"?") && !strings.HasPrefix(loc, redirectURI+"&") {
		t.Fatalf("Location %q does not start with the redirect URI %q", loc, redirectURI)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("error") != code {
		t.Fatalf("error %q (%s), want %q", q.Get("error"), q.Get("error_description"), code)
	}
	if st, ok := q["state"]; state == "" && ok {
		t.Errorf("state %q echoed, want none", st)
	} else if state != "" && (len(st) != 1 || st[0] != state) {
		t.Errorf("state %q, want %q byte for byte", st, state)
	}
	if q.Get("iss") != srv.URL {
		t.Errorf("iss %q, want %q (RFC 9207)", q.Get("iss"), srv.URL)
	}
	if q.Has("code") {
		t.Errorf("an error redirect carries a code")
	}
}
