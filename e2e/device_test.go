package e2e

// The device authorization grant (RFC 8628) end to end: the device authorization
// endpoint, the /device page driven by a cookie-keeping HTTP "browser" that reads the
// forms (CSRF token and hidden fields) like a user would submit them, and the device
// polling the token endpoint, either golang.org/x/oauth2's poller in a goroutine or
// hand-made requests for each error. Names start with dv to stay out of the way of the
// other end-to-end files.

import (
	"context"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const dvGrant = "urn:ietf:params:oauth:grant-type:device_code"

// dvAuthorization is the device authorization response (RFC 8628 §3.2).
type dvAuthorization struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

// dvClient is a registered device client.
type dvClient struct{ ID, Secret string }

func newDVClient(t testing.TB, srv *Server, flags ...string) dvClient {
	t.Helper()
	id, secret := srv.CreateClient(t, append([]string{"--grant-type", dvGrant, "--grant-type", "refresh_token"}, flags...)...)
	return dvClient{ID: id, Secret: secret}
}

// post sends a form to path as the client: HTTP Basic for a confidential client,
// client_id in the body for a public one.
func (c dvClient) post(t testing.TB, srv *Server, hc *http.Client, path string, v url.Values) Response {
	t.Helper()
	if c.Secret == "" {
		v.Set("client_id", c.ID)
		return srv.PostForm(t, hc, path, v.Encode(), "", "")
	}
	return srv.PostForm(t, hc, path, v.Encode(), c.ID, c.Secret)
}

// authorize starts a device authorization and checks the answer's shape.
func (c dvClient) authorize(t testing.TB, srv *Server, hc *http.Client, scope string) dvAuthorization {
	t.Helper()
	v := url.Values{}
	if scope != "" {
		v.Set("scope", scope)
	}
	r := c.post(t, srv, hc, "/oauth/device_authorization", v)
	if r.Status != http.StatusOK {
		t.Fatalf("device authorization: %d %s", r.Status, r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("device authorization: Cache-Control %q, want no-store", cc)
	}
	var a dvAuthorization
	if err := jsonInto(r.Body, &a); err != nil {
		t.Fatalf("device authorization: %v\n%s", err, r.Body)
	}
	srv.Sensitive(a.DeviceCode, a.UserCode)
	return a
}

// poll asks the token endpoint once for the device code.
func (c dvClient) poll(t testing.TB, srv *Server, hc *http.Client, deviceCode string) Response {
	t.Helper()
	v := url.Values{"grant_type": {dvGrant}}
	if deviceCode != "" {
		v.Set("device_code", deviceCode)
	}
	return c.post(t, srv, hc, "/oauth/token", v)
}

// dvWantError checks an RFC 6749 §5.2 error answer.
func dvWantError(t testing.TB, what string, r Response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.Status, status, r.Body)
	}
	if got := r.JSON(t)["error"]; got != code {
		t.Fatalf("%s: error %v, want %s: %s", what, got, code, r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, r.Header.Get("Cache-Control"))
	}
}

// dvBrowser is an HTTP client with cookies that follows no redirects by itself.
type dvBrowser struct {
	t   testing.TB
	srv *Server
	hc  *http.Client
}

func newDVBrowser(t testing.TB, srv *Server) *dvBrowser {
	t.Helper()
	hc := srv.HTTPClient()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc.Jar = jar
	return &dvBrowser{t: t, srv: srv, hc: hc}
}

func (b *dvBrowser) get(target string) Response {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.srv.URL + target
	}
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.srv.Do(b.t, b.hc, req)
}

func (b *dvBrowser) post(path string, v url.Values) Response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+path, strings.NewReader(v.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.srv.Do(b.t, b.hc, req)
}

var dvHiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// dvHidden reads a page's hidden form fields (the CSRF token, the user code).
func dvHidden(t testing.TB, page Response) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range dvHiddenRE.FindAllStringSubmatch(string(page.Body), -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("csrf_token") == "" {
		t.Fatalf("no CSRF token in the page:\n%s", page.Body)
	}
	return v
}

// dvPageShows checks a page's status and that it says each of want.
func dvPageShows(t testing.TB, what string, r Response, status int, want ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d (Location %q)\n%s", what, r.Status, status, r.Header.Get("Location"), r.Body)
	}
	for _, w := range want {
		if !strings.Contains(string(r.Body), w) {
			t.Fatalf("%s: the page does not say %q\n%s", what, w, r.Body)
		}
	}
}

// dvFlow is how a trip through the device page went.
type dvFlow struct {
	SawLogin   bool
	SawConsent bool
	Consent    Response // the confirmation page
	Final      Response // the answer to the decision
}

// decide opens target (the verification_uri_complete, or the code form's redirect),
// logs in when the login page comes, and answers the confirmation with decision.
// The only redirects it accepts are to the login page and back to /device.
func (b *dvBrowser) decide(target, user, password, decision string) dvFlow {
	b.t.Helper()
	var f dvFlow
	resp := b.get(target)
	for range 6 {
		switch {
		case resp.Status == http.StatusFound || resp.Status == http.StatusSeeOther:
			loc := resp.Header.Get("Location")
			if !strings.HasPrefix(loc, "/login?") && !strings.HasPrefix(loc, "/device?") {
				b.t.Fatalf("redirect to %q: the device page only ever goes to /login and back", loc)
			}
			resp = b.get(loc)
		case resp.Status == http.StatusOK && strings.Contains(string(resp.Body), `name="password"`):
			f.SawLogin = true
			v := dvHidden(b.t, resp)
			if v.Get("user_code") == "" {
				b.t.Fatalf("the login page lost the user code:\n%s", resp.Body)
			}
			v.Set("username", user)
			v.Set("password", password)
			resp = b.post("/login", v)
		case resp.Status == http.StatusOK && strings.Contains(string(resp.Body), `name="decision"`):
			f.SawConsent, f.Consent = true, resp
			v := dvHidden(b.t, resp)
			v.Set("decision", decision)
			f.Final = b.post("/device", v)
			return f
		default:
			b.t.Fatalf("device page: unexpected answer %d\n%s", resp.Status, resp.Body)
		}
	}
	b.t.Fatal("device page: no end to the redirects")
	return f
}

func TestDeviceFlow(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		for _, tc := range []struct {
			name string
			f    func(*testing.T, *Server)
		}{
			{"Discovery", testDeviceDiscovery},
			{"CLI", testDeviceCLI},
			{"Endpoint", testDeviceEndpoint},
			{"OAuth2LibraryPollsWhileTheUserApproves", testDeviceWithOAuth2Library},
			{"PollingErrors", testDevicePollingErrors},
			{"ConcurrentPollersAfterApproval", testDeviceConcurrentPollers},
			{"Page", testDevicePage},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.f(t, srv)
			})
		}
	})
}

func testDeviceDiscovery(t *testing.T, srv *Server) {
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		m := srv.Get(t, nil, path).JSON(t)
		if m["device_authorization_endpoint"] != srv.URL+"/oauth/device_authorization" {
			t.Errorf("%s: device_authorization_endpoint %v", path, m["device_authorization_endpoint"])
		}
		grants, _ := m["grant_types_supported"].([]any)
		if !slices.Contains(grants, any(dvGrant)) {
			t.Errorf("%s: grant_types_supported %v lacks the device grant", path, grants)
		}
	}
}

func testDeviceCLI(t *testing.T, srv *Server) {
	c := srv.CreateClientJSON(t, "--grant-type", dvGrant)
	if !slices.Equal(c.GrantTypes, []string{dvGrant}) || c.ClientSecret == "" {
		t.Errorf("a confidential device client without a redirect URI: %+v", c)
	}
	p := srv.CreateClientJSON(t, "--public", "--grant-type", dvGrant, "--scope", "openid api:read")
	if !p.Public || p.ClientSecret != "" {
		t.Errorf("a public device client: %+v", p)
	}
}

func testDeviceEndpoint(t *testing.T, srv *Server) {
	hc := srv.HTTPClient()
	c := newDVClient(t, srv, "--scope", "openid profile", "--audience", "https://tv.example")
	ccOnly := dvClient{}
	ccOnly.ID, ccOnly.Secret = srv.CreateClient(t, "--grant-type", "client_credentials")

	a := c.authorize(t, srv, hc, "openid")
	if len(a.DeviceCode) < 43 || !regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`).MatchString(a.UserCode) {
		t.Errorf("device code %q, user code %q", a.DeviceCode, a.UserCode)
	}
	if a.VerificationURI != srv.URL+"/device" || a.VerificationURIComplete != srv.URL+"/device?user_code="+a.UserCode {
		t.Errorf("verification URIs %q, %q", a.VerificationURI, a.VerificationURIComplete)
	}
	if a.ExpiresIn != 600 || a.Interval != 5 {
		t.Errorf("expires_in %d, interval %d; want 600 (the default) and 5", a.ExpiresIn, a.Interval)
	}
	if b := c.authorize(t, srv, hc, ""); b.UserCode == a.UserCode || b.DeviceCode == a.DeviceCode {
		t.Error("two authorizations share a code")
	}

	wrong := c
	wrong.Secret = "wrong"
	r := wrong.post(t, srv, hc, "/oauth/device_authorization", url.Values{})
	dvWantError(t, "wrong secret", r, http.StatusUnauthorized, "invalid_client")
	if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("wrong secret: WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
	noSecret := dvClient{ID: c.ID}
	dvWantError(t, "confidential client without its secret", noSecret.post(t, srv, hc, "/oauth/device_authorization", url.Values{}),
		http.StatusUnauthorized, "invalid_client")
	dvWantError(t, "client not registered for the grant", ccOnly.post(t, srv, hc, "/oauth/device_authorization", url.Values{}),
		http.StatusBadRequest, "unauthorized_client")
	dvWantError(t, "scope not allowed", c.post(t, srv, hc, "/oauth/device_authorization", url.Values{"scope": {"openid admin"}}),
		http.StatusBadRequest, "invalid_scope")
	dvWantError(t, "resource not allowed", c.post(t, srv, hc, "/oauth/device_authorization", url.Values{"resource": {"https://other.example"}}),
		http.StatusBadRequest, "invalid_target")
	r = c.post(t, srv, hc, "/oauth/device_authorization", url.Values{"resource": {"https://tv.example"}})
	if r.Status != http.StatusOK {
		t.Errorf("an allowed resource: %d %s", r.Status, r.Body)
	}
	if r := srv.Get(t, hc, "/oauth/device_authorization"); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", r.Status)
	}
}

// testDeviceWithOAuth2Library runs the flow the way a CLI would: a public client with
// golang.org/x/oauth2 asks for the codes and polls in a goroutine (interval, slow_down
// and all) while the user approves in a browser.
func testDeviceWithOAuth2Library(t *testing.T, srv *Server) {
	user, pw := uniqueName("dev-user-"), "device flow password"
	uid := srv.CreateUser(t, user, pw)
	c := newDVClient(t, srv, "--public")
	cfg := &oauth2.Config{ClientID: c.ID, Scopes: []string{"openid", "profile", "offline_access"}, Endpoint: oauth2.Endpoint{
		DeviceAuthURL: srv.URL + "/oauth/device_authorization", TokenURL: srv.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}
	ctx := ctxWith(srv.HTTPClient())
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	srv.Sensitive(da.DeviceCode, da.UserCode)

	type result struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	pollCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	go func() {
		tok, err := cfg.DeviceAccessToken(pollCtx, da)
		done <- result{tok, err}
	}()

	b := newDVBrowser(t, srv)
	f := b.decide(da.VerificationURIComplete, user, pw, "allow")
	if !f.SawLogin {
		t.Error("a browser without a session must go through the login page")
	}
	dvPageShows(t, "confirmation", f.Consent, http.StatusOK, da.UserCode, "Confirm your identity", "See your username")
	dvPageShows(t, "after approval", f.Final, http.StatusOK, "You may return to your device")

	res := <-done
	if res.err != nil {
		t.Fatalf("the device's poller: %v", res.err)
	}
	srv.Sensitive(res.tok.AccessToken, res.tok.RefreshToken)
	_, claims := verifyAccessToken(t, srv, res.tok.AccessToken)
	if claims.Subject != uid || claims.ClientID != c.ID || claims.Scope != "openid profile offline_access" {
		t.Errorf("access token claims %+v", claims)
	}
	if res.tok.RefreshToken == "" || res.tok.Extra("id_token") == nil {
		t.Error("a client allowed refresh tokens, asking openid, must get a refresh token and an ID token")
	}
	if _, err := refresh(ctx, cfg, res.tok.RefreshToken); err != nil {
		t.Errorf("refresh: %v", err)
	}
	// The device code was used: a late poll gets nothing.
	dvWantError(t, "poll after success", c.poll(t, srv, nil, da.DeviceCode), http.StatusBadRequest, "invalid_grant")
}

func testDevicePollingErrors(t *testing.T, srv *Server) {
	hc := srv.HTTPClient()
	user, pw := uniqueName("dev-user-"), "device flow password"
	srv.CreateUser(t, user, pw)
	c := newDVClient(t, srv)
	other := newDVClient(t, srv)
	ccOnly := dvClient{}
	ccOnly.ID, ccOnly.Secret = srv.CreateClient(t, "--grant-type", "client_credentials")

	a := c.authorize(t, srv, hc, "openid")
	dvWantError(t, "first poll", c.poll(t, srv, hc, a.DeviceCode), http.StatusBadRequest, "authorization_pending")
	dvWantError(t, "second poll at once", c.poll(t, srv, hc, a.DeviceCode), http.StatusBadRequest, "slow_down")
	dvWantError(t, "third poll at once", c.poll(t, srv, hc, a.DeviceCode), http.StatusBadRequest, "slow_down")
	dvWantError(t, "another client's poll", other.poll(t, srv, hc, a.DeviceCode), http.StatusBadRequest, "invalid_grant")
	dvWantError(t, "a client without the grant", ccOnly.poll(t, srv, hc, a.DeviceCode), http.StatusBadRequest, "unauthorized_client")
	dvWantError(t, "no device_code", c.poll(t, srv, hc, ""), http.StatusBadRequest, "invalid_request")
	dvWantError(t, "an unknown device code", c.poll(t, srv, hc, randomString(43)), http.StatusBadRequest, "invalid_grant")
	dvWantError(t, "the user code as device code", c.poll(t, srv, hc, a.UserCode), http.StatusBadRequest, "invalid_grant")

	// The user denies: the device hears access_denied at once (a decided request is
	// never slow_down), and again on every later poll.
	b := newDVBrowser(t, srv)
	f := b.decide(a.VerificationURIComplete, user, pw, "deny")
	dvPageShows(t, "after denial", f.Final, http.StatusOK, "Access denied", "You may return to your device")
	dvWantError(t, "poll after denial", c.poll(t, srv, hc, a.DeviceCode), http.StatusBadRequest, "access_denied")
	dvWantError(t, "poll after denial, again", c.poll(t, srv, hc, a.DeviceCode), http.StatusBadRequest, "access_denied")
	// Another client still learns nothing.
	dvWantError(t, "another client after denial", other.poll(t, srv, hc, a.DeviceCode), http.StatusBadRequest, "invalid_grant")

	// A logged-in browser is not asked to log in again, and the code cannot be
	// decided twice.
	f = b.decide(c.authorize(t, srv, hc, "").VerificationURIComplete, user, pw, "allow")
	if f.SawLogin {
		t.Error("a logged-in browser was sent to the login page")
	}
	again := b.get(a.VerificationURIComplete)
	dvPageShows(t, "a decided code", again, http.StatusBadRequest, "already used")
}

func testDeviceConcurrentPollers(t *testing.T, srv *Server) {
	user, pw := uniqueName("dev-user-"), "device flow password"
	srv.CreateUser(t, user, pw)
	c := newDVClient(t, srv)
	a := c.authorize(t, srv, srv.HTTPClient(), "openid")
	f := newDVBrowser(t, srv).decide(a.VerificationURIComplete, user, pw, "allow")
	dvPageShows(t, "after approval", f.Final, http.StatusOK, "You may return to your device")

	// Two pollers at once after approval: exactly one gets tokens.
	const pollers = 2
	answers := make([]Response, pollers)
	clients := []*http.Client{srv.HTTPClient(), srv.HTTPClient()}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range pollers {
		wg.Go(func() {
			<-start
			answers[i] = c.poll(t, srv, clients[i], a.DeviceCode)
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, r := range answers {
		switch r.Status {
		case http.StatusOK:
			wins++
			m := r.JSON(t)
			at, _ := m["access_token"].(string)
			rt, _ := m["refresh_token"].(string)
			srv.Sensitive(at, rt)
			if at == "" || rt == "" || m["id_token"] == nil {
				t.Errorf("the winner's tokens: %s", r.Body)
			}
		default:
			dvWantError(t, "the losing poller", r, http.StatusBadRequest, "invalid_grant")
		}
	}
	if wins != 1 {
		t.Fatalf("%d pollers got tokens, want exactly 1", wins)
	}
}

func testDevicePage(t *testing.T, srv *Server) {
	user, pw := uniqueName("dev-user-"), "device flow password"
	srv.CreateUser(t, user, pw)
	c := newDVClient(t, srv, "--skip-consent")
	a := c.authorize(t, srv, srv.HTTPClient(), "openid")
	b := newDVBrowser(t, srv)

	form := b.get("/device")
	dvPageShows(t, "GET /device", form, http.StatusOK, `name="user_code"`)
	for _, h := range []string{"X-Frame-Options", "Content-Security-Policy", "Referrer-Policy"} {
		if form.Header.Get(h) == "" {
			t.Errorf("GET /device: no %s header", h)
		}
	}
	hidden := dvHidden(t, form)

	// Without the CSRF token, or with another browser's: 403.
	r := b.post("/device", url.Values{"user_code": {a.UserCode}})
	dvPageShows(t, "no CSRF token", r, http.StatusForbidden)
	r = newDVBrowser(t, srv).post("/device", url.Values{"csrf_token": {hidden.Get("csrf_token")}, "user_code": {a.UserCode}})
	dvPageShows(t, "another browser's CSRF token", r, http.StatusForbidden)

	// An unknown code: a clear message on the form, no redirect.
	r = b.post("/device", url.Values{"csrf_token": {hidden.Get("csrf_token")}, "user_code": {"BCDF-GHJK"}})
	dvPageShows(t, "an unknown code", r, http.StatusBadRequest, "That code is not valid", `name="user_code"`)

	// Typed in lower case, without the dash, with spaces: the code still works, and
	// leads through the login page to the confirmation, shown even to a client that
	// skips consent (RFC 8628 §5.4).
	typed := strings.ToLower(a.UserCode[:4] + " " + a.UserCode[5:])
	r = b.post("/device", url.Values{"csrf_token": {hidden.Get("csrf_token")}, "user_code": {typed}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?user_code="+a.UserCode {
		t.Fatalf("code form: %d to %q, want 303 to the login page", r.Status, r.Header.Get("Location"))
	}
	f := b.decide(r.Header.Get("Location"), user, pw, "allow")
	if !f.SawConsent {
		t.Error("the confirmation must be shown")
	}
	dvPageShows(t, "after approval", f.Final, http.StatusOK, "You may return to your device")
	tok := c.poll(t, srv, nil, a.DeviceCode)
	if tok.Status != http.StatusOK {
		t.Fatalf("poll after approval: %d %s", tok.Status, tok.Body)
	}
	m := tok.JSON(t)
	at, _ := m["access_token"].(string)
	rt, _ := m["refresh_token"].(string)
	srv.Sensitive(at, rt)

	// Guessing user codes is throttled per address: 429 with Retry-After and a clear
	// message, even for a right code, until the wait is over (SECURITY S28).
	g := newDVBrowser(t, srv)
	gh := dvHidden(t, g.get("/device"))
	live := c.authorize(t, srv, srv.HTTPClient(), "")
	guess := 0
	last, sent, wait := lockedOut(t, "wrong user codes", 20, 3, func() Response {
		guess++
		return g.post("/device", url.Values{"csrf_token": {gh.Get("csrf_token")}, "user_code": {"BCDF-GH" + string("BCDFGHJKLMNP"[guess/12]) + string("BCDFGHJKLMNP"[guess%12])}})
	}, func(r Response) { dvPageShows(t, "a wrong guess", r, http.StatusBadRequest, "That code is not valid") })
	dvPageShows(t, "throttled", last, http.StatusTooManyRequests, "Too many incorrect codes")
	r = g.get("/device?user_code=" + url.QueryEscape(live.UserCode))
	refusedWhileLocked(t, "a right code while throttled", sent, wait, r)
	if r.Status == http.StatusTooManyRequests {
		dvPageShows(t, "a right code while throttled", r, http.StatusTooManyRequests, "Too many incorrect codes")
	}
	// Another address is not affected.
	r = newDVBrowser(t, srv).get("/device?user_code=" + url.QueryEscape(live.UserCode))
	if r.Status != http.StatusFound {
		t.Errorf("another address: %d, want the redirect to the login page", r.Status)
	}
}

// TestDeviceFlowExpiredToken runs servers whose device codes live one second.
func TestDeviceFlowExpiredToken(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{Env: map[string]string{"GATEHOUSE_DEVICE_CODE_TTL": "1s"}}, func(t *testing.T, srv *Server) {
		hc := srv.HTTPClient()
		c := newDVClient(t, srv)
		a := c.authorize(t, srv, hc, "")
		if a.ExpiresIn != 1 {
			t.Errorf("expires_in %d, want the configured 1", a.ExpiresIn)
		}
		user, pw := uniqueName("dev-user-"), "device flow password"
		srv.CreateUser(t, user, pw)
		b := newDVBrowser(t, srv)
		// Log in first, so the page below is about the code, not the session.
		csrf := dvHidden(t, b.get("/login")).Get("csrf_token")
		if r := b.post("/login", url.Values{"csrf_token": {csrf}, "username": {user}, "password": {pw}}); r.Status != http.StatusSeeOther {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		time.Sleep(1100 * time.Millisecond)
		dvWantError(t, "poll after expiry", c.poll(t, srv, hc, a.DeviceCode), http.StatusBadRequest, "expired_token")
		r := b.get(a.VerificationURIComplete)
		dvPageShows(t, "an expired code", r, http.StatusBadRequest, "That code has expired")
	})
}
