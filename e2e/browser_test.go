package e2e

// The code flow in a real headless Chromium: the pages as a user sees them, driven by
// chromedp, with golang.org/x/oauth2 as the client and coreos/go-oidc checking the ID
// token. It also saves screenshots of the pages (GATEHOUSE_SCREENSHOT_DIR, used by
// `make screenshots`).
//
// Chromium comes from GATEHOUSE_TEST_CHROMIUM or the PATH; without it the test skips,
// unless GATEHOUSE_TEST_REQUIRE_BROWSER=1 or GATEHOUSE_TEST_REQUIRE_DBS=1 (CI) makes
// that a failure.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// chromiumPath finds the browser, or skips (fails when one is required).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GATEHOUSE_TEST_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found (set GATEHOUSE_TEST_CHROMIUM, or install it: apt-get install -y chromium)"
	if os.Getenv("GATEHOUSE_TEST_REQUIRE_BROWSER") == "1" || os.Getenv("GATEHOUSE_TEST_REQUIRE_DBS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// newChromium starts a headless Chromium with a fresh profile. The flags keep it off
// the network: on a closed machine it would otherwise hang on background connections.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(800, 900),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	return browser
}

// newTab opens a tab in a browser context of its own: its own cookies, as another
// browser would have.
func newTab(t *testing.T, browser context.Context, width, height int64) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return ctx
}

// screenshotDir is where page screenshots go.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("GATEHOUSE_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("%s: %s", what, time.Since(start).Round(time.Millisecond)) }()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
		t.Fatalf("%s: %v (at %s)\n%.2000s", what, err, loc, body)
	}
}

// callback is the client's redirect endpoint: it records what each redirect carried.
type callback struct {
	srv *httptest.Server
	got chan url.Values
}

func newCallback(t *testing.T) *callback {
	t.Helper()
	cb := &callback{got: make(chan url.Values, 8)}
	cb.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		cb.got <- r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>Back at the app</title><h1 id="done">Back at the application</h1>`)
	}))
	t.Cleanup(cb.srv.Close)
	return cb
}

func (cb *callback) wait(t *testing.T) url.Values {
	t.Helper()
	select {
	case q := <-cb.got:
		return q
	case <-time.After(20 * time.Second):
		t.Fatal("the browser never came back to the client's redirect URI")
		return nil
	}
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestBrowser_CodeFlowWithPKCE: login, consent, code, exchange, claims; a browser
// already logged in is not asked again; deny; registration continuing a request;
// the error page. Screenshots of each page.
func TestBrowser_CodeFlowWithPKCE(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	browser := newChromium(t)
	t.Logf("chromium started in %s", time.Since(t0))
	shots := screenshotDir(t)
	srv := startServer(t, Options{})
	t.Logf("server started at %s", time.Since(t0))
	cb := newCallback(t)

	password := "correct horse battery staple"
	srv.Sensitive(password)
	var ada struct {
		ID string `json:"id"`
	}
	srv.CLIJSON(t, &ada, password+"\n", "users", "create", "--username", "ada", "--email", "ada@example.com", "--password-stdin")
	srv.CreateUser(t, "grace", password)
	client := srv.CreateClientJSON(t, "--name", "Acme Dashboard", "--redirect-uri", "http://127.0.0.1/callback")

	conf := &oauth2.Config{
		ClientID: client.ClientID, ClientSecret: client.ClientSecret,
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth/authorize", TokenURL: srv.URL + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader},
		// Any port on loopback (RFC 8252 §7.3): the test server's port was not registered.
		RedirectURL: cb.srv.URL + "/callback",
		Scopes:      []string{"openid", "profile", "email", "offline_access"},
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.HTTPClient())
	authURL := func(extra ...oauth2.AuthCodeOption) (url, state, nonce, verifier string) {
		state, nonce, verifier = randomToken(), randomToken(), oauth2.GenerateVerifier()
		opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce)}, extra...)
		return conf.AuthCodeURL(state, opts...), state, nonce, verifier
	}
	oidcProvider, err := oidc.NewProvider(oidc.ClientContext(ctx, srv.HTTPClient()), srv.URL)
	if err != nil {
		t.Fatalf("OpenID Connect discovery: %v", err)
	}
	idVerifier := oidcProvider.Verifier(&oidc.Config{ClientID: client.ClientID})

	login := func(tab context.Context, user, pass string) {
		t.Helper()
		run(t, tab, "fill the login form",
			chromedp.WaitVisible(chromedp.CSS(`#username`)),
			chromedp.SendKeys(chromedp.CSS(`#username`), user),
			chromedp.SendKeys(chromedp.CSS(`#password`), pass),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		)
	}

	// 1. Log in and allow; the client exchanges the code.
	tab := newTab(t, browser, 800, 760)
	u, state, nonce, verifier := authURL()
	run(t, tab, "open the authorization URL", chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(`#username`)))
	text, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`.card`)))
	if !strings.Contains(text, "Acme Dashboard") {
		t.Errorf("the login page does not name the client:\n%s", text)
	}
	screenshot(t, tab, shots, "login")
	login(tab, "ada", password)
	run(t, tab, "consent page", chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)))
	text, _ = chromedp.Run(tab, chromedp.Text(chromedp.CSS(`.card`)))
	for _, want := range []string{"Acme Dashboard", "See your username", "See your email address", "Stay signed in", "ada"} {
		if !strings.Contains(text, want) {
			t.Errorf("the consent page lacks %q:\n%s", want, text)
		}
	}
	screenshot(t, tab, shots, "consent")
	run(t, tab, "allow", chromedp.Click(chromedp.CSS(`button[value="allow"]`)))
	q := cb.wait(t)
	if q.Get("state") != state || q.Get("iss") != srv.URL || q.Get("code") == "" {
		t.Fatalf("callback %v: want code, the state and iss", q)
	}
	srv.Sensitive(q.Get("code"))
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	srv.Sensitive(tok.AccessToken, tok.RefreshToken)
	_, claims := verifyAccessToken(t, srv, tok.AccessToken)
	if claims.Subject != ada.ID || claims.ClientID != client.ClientID || claims.Scope != "openid profile email offline_access" {
		t.Errorf("access token claims %+v", claims)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token")
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := idVerifier.Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var idClaims struct {
		Nonce    string `json:"nonce"`
		Username string `json:"preferred_username"`
		Email    string `json:"email"`
		AuthTime int64  `json:"auth_time"`
	}
	if err := idt.Claims(&idClaims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != ada.ID || idClaims.Nonce != nonce || idClaims.Username != "ada" || idClaims.Email != "ada@example.com" || idClaims.AuthTime == 0 {
		t.Errorf("ID token: sub %q, claims %+v", idt.Subject, idClaims)
	}

	// 2. The same browser is not asked again: straight back to the client.
	u, state, _, verifier = authURL()
	run(t, tab, "second authorization", chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(`#done`)))
	q = cb.wait(t)
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("second authorization: %v", q)
	}
	if _, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("second exchange: %v", err)
	}

	// 3. Another browser, another user: a wrong password first, then deny.
	tab2 := newTab(t, browser, 800, 760)
	u, state, _, _ = authURL()
	run(t, tab2, "open the authorization URL", chromedp.Navigate(u))
	login(tab2, "grace", "not the password")
	run(t, tab2, "login error", chromedp.WaitVisible(chromedp.CSS(`.alert-error`)))
	if msg, _ := chromedp.Run(tab2, chromedp.Text(chromedp.CSS(`.alert-error`))); !strings.Contains(msg, "Incorrect username or password") {
		t.Errorf("login error message %q", msg)
	}
	screenshot(t, tab2, shots, "login-error")
	run(t, tab2, "retype the password",
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value="deny"]`)),
		chromedp.Click(chromedp.CSS(`button[value="deny"]`)),
	)
	q = cb.wait(t)
	if q.Get("error") != "access_denied" || q.Get("state") != state || q.Get("iss") != srv.URL || q.Has("code") {
		t.Fatalf("deny: callback %v, want access_denied with state and iss", q)
	}

	// 4. Registration from the login page, continuing the pending request.
	tab3 := newTab(t, browser, 800, 760)
	u, state, nonce, verifier = authURL()
	run(t, tab3, "open registration",
		chromedp.Navigate(u),
		chromedp.WaitVisible(chromedp.CSS(`a[href^="/register"]`)),
		chromedp.Click(chromedp.CSS(`a[href^="/register"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
	)
	screenshot(t, tab3, shots, "register")
	run(t, tab3, "register with a bad password",
		chromedp.SendKeys(chromedp.CSS(`#username`), "linus"),
		chromedp.SendKeys(chromedp.CSS(`#email`), "linus@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "linus"),
		// The browser's own minlength check would stop the form; the server's is tested.
		chromedp.SetAttributeValue(chromedp.CSS(`form`), "novalidate", ""),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#password-error`)),
	)
	screenshot(t, tab3, shots, "register-errors")
	srv.Sensitive("a long and new password")
	run(t, tab3, "register",
		chromedp.SendKeys(chromedp.CSS(`#password`), "a long and new password"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
		chromedp.Click(chromedp.CSS(`button[value="allow"]`)),
	)
	q = cb.wait(t)
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("after registration: callback %v", q)
	}
	tok, err = conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange after registration: %v", err)
	}
	idt, err = idVerifier.Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	if err := idt.Claims(&idClaims); err != nil || idClaims.Username != "linus" || idClaims.Nonce != nonce {
		t.Errorf("ID token after registration: %+v (%v)", idClaims, err)
	}

	// 5. Logout confirmation, the error page for an untrusted redirect URI, and the
	// login page on a phone.
	run(t, tab3, "logout page", chromedp.Navigate(srv.URL+"/logout"), chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"]`)))
	screenshot(t, tab3, shots, "logout")
	bad := srv.URL + "/oauth/authorize?" + url.Values{"client_id": {client.ClientID}, "redirect_uri": {"https://evil.example/callback"},
		"response_type": {"code"}}.Encode()
	run(t, tab3, "error page", chromedp.Navigate(bad), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	if loc, _ := chromedp.Run(tab3, chromedp.Location()); !strings.HasPrefix(loc, srv.URL) {
		t.Errorf("an untrusted redirect URI was followed: %s", loc)
	}
	screenshot(t, tab3, shots, "error")
	phone := newTab(t, browser, 390, 760)
	u, _, _, _ = authURL()
	run(t, phone, "login on a phone", chromedp.EmulateViewport(390, 760, chromedp.EmulateMobile), chromedp.Navigate(u),
		chromedp.WaitVisible(chromedp.CSS(`#username`)))
	screenshot(t, phone, shots, "login-phone")
}
