package e2e

// The code flow in a real headless Chromium: the pages as a user sees them, driven by
// chromedp, with golang.org/x/oauth2 as the client and coreos/go-oidc checking the ID
// token. It also saves screenshots of the pages (GATEHOUSE_TEST_SCREENSHOT_DIR, used by
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
	"sync"
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

// chromium is the one headless Chromium the browser tests open their tabs in; newTab
// gives each tab a browser context of its own (its own cookies, as another browser
// would have). One start for the package instead of one per test: under the suite's
// load a start takes seconds, and a dozen browsers would run beside the servers.
// runMain stops it.
var chromium struct {
	once sync.Once
	ctx  context.Context
	stop func()
	err  error
}

// newChromium returns the shared Chromium, starting it on first use (skipping the test
// when there is none, unless GATEHOUSE_TEST_REQUIRE_BROWSER says otherwise).
func newChromium(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	chromium.once.Do(func() { chromium.ctx, chromium.stop, chromium.err = startChromium(path) })
	if chromium.err != nil {
		t.Fatalf("start Chromium: %v", chromium.err)
	}
	return chromium.ctx
}

// startChromium starts a headless Chromium with a fresh profile. The flags keep it off
// the network: on a closed machine it would otherwise hang on background connections.
// No deadline on the browser itself, which lives as long as the package's tests; its
// start has one, and each tab (newTab) another.
func startChromium(path string) (context.Context, func(), error) {
	dir, err := os.MkdirTemp("", "gatehouse-e2e-chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-proxy-server", true),
		// The tests' tabs need no process per site nor a GPU process of their own:
		// without them Chromium starts far fewer processes (the suite opens hundreds of
		// pages on one machine with the servers it tests).
		chromedp.Flag("disable-site-isolation-trials", true),
		chromedp.Flag("disable-features", "site-per-process,IsolateOrigins,Translate,OptimizationHints,MediaRouter,BackForwardCache"),
		chromedp.Flag("in-process-gpu", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(800, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	stop := func() {
		cancelBrowser()
		cancelAlloc()
		os.RemoveAll(dir)
	}
	if err := boundedBy(browserStartTimeout, cancelBrowser, func() error { return chromedp.Do(browser) }); err != nil {
		stop()
		return nil, nil, err
	}
	return browser, stop, nil
}

// stopChromium stops the shared Chromium, if it started.
func stopChromium() {
	if chromium.stop != nil {
		chromium.stop()
	}
}

// Bounds of the browser tests, generous: Chromium starts slowly on a loaded machine.
const (
	browserStartTimeout = 4 * time.Minute
	// tabTimeout bounds everything a tab does, from when newTab opens it (the
	// accessibility test walks every page in one tab).
	tabTimeout = 6 * time.Minute
)

// within runs fn, failing t when it fails or has not returned after d, then calling
// abandon, which must make fn return (a chromedp cancel). The first Run on a
// chromedp context binds the browser's or the tab's life to the context it is given,
// so its bound cannot be a context deadline.
func within(t *testing.T, d time.Duration, abandon func(), what string, fn func() error) {
	t.Helper()
	if err := boundedBy(d, abandon, fn); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// boundedBy runs fn and returns its error, or, when it has not returned after d,
// calls abandon (which must make fn return), waits for it, and says it was not done.
func boundedBy(d time.Duration, abandon func(), fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		abandon()
		<-done
		return fmt.Errorf("not done after %s", d)
	}
}

// newTab opens a tab in a browser context of its own: its own cookies, as another
// browser would have. What it does must be done within tabTimeout of opening it.
func newTab(t *testing.T, browser context.Context, width, height int64) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	within(t, tabTimeout, cancel, "open tab", func() error { return chromedp.Do(ctx, chromedp.EmulateViewport(width, height)) })
	tab, cancelTab := context.WithTimeout(ctx, tabTimeout)
	t.Cleanup(cancelTab)
	return tab
}

// screenshotDir is where page screenshots go: GATEHOUSE_TEST_SCREENSHOT_DIR (`make
// screenshots`), or "" for none: nothing reads them back, and rendering and encoding
// full pages is a visible share of Chromium's work on a machine the suite keeps busy.
func screenshotDir(t *testing.T) string {
	d := os.Getenv("GATEHOUSE_TEST_SCREENSHOT_DIR")
	if d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// screenshot saves the page as dir/name.png; with no dir it takes none.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	if dir == "" {
		return
	}
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

// callback is the client's redirect endpoint: it hands what each redirect carried to
// whoever waits for its state, so that flows in parallel tabs do not mix.
type callback struct {
	srv     *httptest.Server
	mu      sync.Mutex
	waiting map[string]chan url.Values
}

func newCallback(t *testing.T) *callback {
	t.Helper()
	cb := &callback{waiting: map[string]chan url.Values{}}
	cb.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/callback":
			// The page reports itself loaded with the query it got: a test that
			// navigated the tab on as soon as the request arrived raced the page's
			// own commit, and Chromium aborted the test's navigation.
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!doctype html><title>Back at the app</title><h1 id="done">Back at the application</h1>`+
				`<script>fetch("/loaded" + location.search)</script>`)
		case "/loaded":
			q := r.URL.Query()
			cb.mu.Lock()
			ch := cb.waiting[q.Get("state")]
			cb.mu.Unlock()
			if ch != nil {
				ch <- q
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(cb.srv.Close)
	return cb
}

// expect registers a state before the browser goes off with it.
func (cb *callback) expect(state string) <-chan url.Values {
	ch := make(chan url.Values, 4)
	cb.mu.Lock()
	cb.waiting[state] = ch
	cb.mu.Unlock()
	return ch
}

func waitCallback(t *testing.T, ch <-chan url.Values) url.Values {
	t.Helper()
	select {
	case q := <-ch:
		return q
	case <-time.After(90 * time.Second):
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
// the error page. Screenshots of each page. The flows run in parallel tabs, each in a
// browser context of its own (its own cookies).
func TestBrowser_CodeFlowWithPKCE(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	browser := newChromium(t)
	t.Logf("chromium started in %s", time.Since(t0).Round(time.Millisecond))
	shots := screenshotDir(t)
	srv := startServer(t, Options{})
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
	type authRequest struct {
		URL, State, Nonce, Verifier string
		Back                        <-chan url.Values
	}
	newRequest := func(extra ...oauth2.AuthCodeOption) authRequest {
		r := authRequest{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier()}
		opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(r.Verifier), oauth2.SetAuthURLParam("nonce", r.Nonce)}, extra...)
		r.URL, r.Back = conf.AuthCodeURL(r.State, opts...), cb.expect(r.State)
		return r
	}
	oidcProvider, err := oidc.NewProvider(oidc.ClientContext(ctx, srv.HTTPClient()), srv.URL)
	if err != nil {
		t.Fatalf("OpenID Connect discovery: %v", err)
	}
	idVerifier := oidcProvider.Verifier(&oidc.Config{ClientID: client.ClientID})
	type idClaims struct {
		Nonce    string `json:"nonce"`
		Username string `json:"preferred_username"`
		Email    string `json:"email"`
		AuthTime int64  `json:"auth_time"`
	}
	// exchange redeems the code the callback got and verifies the ID token.
	exchange := func(t *testing.T, r authRequest, q url.Values) (*oauth2.Token, *oidc.IDToken, idClaims) {
		t.Helper()
		if q.Get("state") != r.State || q.Get("iss") != srv.URL || q.Get("code") == "" {
			t.Fatalf("callback %v: want code, the state and iss", q)
		}
		srv.Sensitive(q.Get("code"))
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(r.Verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		srv.Sensitive(tok.AccessToken, tok.RefreshToken)
		rawID, _ := tok.Extra("id_token").(string)
		idt, err := idVerifier.Verify(ctx, rawID)
		if err != nil {
			t.Fatalf("ID token: %v", err)
		}
		var c idClaims
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		if c.Nonce != r.Nonce {
			t.Errorf("ID token nonce %q, want %q", c.Nonce, r.Nonce)
		}
		return tok, idt, c
	}
	login := func(t *testing.T, tab context.Context, user, pass string) {
		t.Helper()
		run(t, tab, "fill the login form",
			chromedp.WaitVisible(chromedp.CSS(`#username`)),
			chromedp.SendKeys(chromedp.CSS(`#username`), user),
			chromedp.SendKeys(chromedp.CSS(`#password`), pass),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		)
	}

	t.Run("LoginConsentExchange", func(t *testing.T) {
		t.Parallel()
		tab := newTab(t, browser, 800, 760)
		r := newRequest()
		run(t, tab, "open the authorization URL", chromedp.Navigate(r.URL), chromedp.WaitVisible(chromedp.CSS(`#username`)))
		if text, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`.card`))); !strings.Contains(text, "Acme Dashboard") {
			t.Errorf("the login page does not name the client:\n%s", text)
		}
		screenshot(t, tab, shots, "login")
		login(t, tab, "ada", password)
		run(t, tab, "consent page", chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)))
		text, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`.card`)))
		for _, want := range []string{"Acme Dashboard", "See your username", "See your email address", "Stay signed in", "ada"} {
			if !strings.Contains(text, want) {
				t.Errorf("the consent page lacks %q:\n%s", want, text)
			}
		}
		screenshot(t, tab, shots, "consent")
		run(t, tab, "allow", chromedp.Click(chromedp.CSS(`button[value="allow"]`)))
		tok, idt, c := exchange(t, r, waitCallback(t, r.Back))
		_, claims := verifyAccessToken(t, srv, tok.AccessToken)
		if claims.Subject != ada.ID || claims.ClientID != client.ClientID || claims.Scope != "openid profile email offline_access" {
			t.Errorf("access token claims %+v", claims)
		}
		if tok.RefreshToken == "" {
			t.Error("no refresh token")
		}
		if idt.Subject != ada.ID || c.Username != "ada" || c.Email != "ada@example.com" || c.AuthTime == 0 {
			t.Errorf("ID token: sub %q, claims %+v", idt.Subject, c)
		}

		// The same browser is not asked again: straight back to the client.
		r = newRequest()
		run(t, tab, "second authorization", chromedp.Navigate(r.URL), chromedp.WaitVisible(chromedp.CSS(`#done`)))
		exchange(t, r, waitCallback(t, r.Back))

		run(t, tab, "logout page", chromedp.Navigate(srv.URL+"/logout"), chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"]`)))
		screenshot(t, tab, shots, "logout")
	})

	t.Run("WrongPasswordThenDeny", func(t *testing.T) {
		t.Parallel()
		tab := newTab(t, browser, 800, 760)
		r := newRequest()
		run(t, tab, "open the authorization URL", chromedp.Navigate(r.URL))
		login(t, tab, "grace", "not the password")
		run(t, tab, "login error", chromedp.WaitVisible(chromedp.CSS(`.alert-error`)))
		if msg, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`.alert-error`))); !strings.Contains(msg, "Incorrect username or password") {
			t.Errorf("login error message %q", msg)
		}
		screenshot(t, tab, shots, "login-error")
		run(t, tab, "retype the password and deny",
			chromedp.SendKeys(chromedp.CSS(`#password`), password),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`button[value="deny"]`)),
			chromedp.Click(chromedp.CSS(`button[value="deny"]`)),
		)
		q := waitCallback(t, r.Back)
		if q.Get("error") != "access_denied" || q.Get("state") != r.State || q.Get("iss") != srv.URL || q.Has("code") {
			t.Fatalf("deny: callback %v, want access_denied with state and iss", q)
		}
	})

	t.Run("RegistrationContinuesRequest", func(t *testing.T) {
		t.Parallel()
		tab := newTab(t, browser, 800, 760)
		r := newRequest()
		run(t, tab, "open registration",
			chromedp.Navigate(r.URL),
			chromedp.WaitVisible(chromedp.CSS(`a[href^="/register"]`)),
			chromedp.Click(chromedp.CSS(`a[href^="/register"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#email`)),
		)
		screenshot(t, tab, shots, "register")
		run(t, tab, "register with a bad email and a bad password",
			chromedp.SendKeys(chromedp.CSS(`#username`), "linus"),
			chromedp.SendKeys(chromedp.CSS(`#email`), "linus.example.com"),
			chromedp.SendKeys(chromedp.CSS(`#password`), "linus"),
			// The browser's own checks (type=email, minlength) would stop the form; the
			// server's are tested.
			chromedp.SetAttributeValue(chromedp.CSS(`form`), "novalidate", ""),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
			// Both are marked in one answer.
			chromedp.WaitVisible(chromedp.CSS(`#email-error`)),
			chromedp.WaitVisible(chromedp.CSS(`#password-error`)),
		)
		screenshot(t, tab, shots, "register-errors")
		srv.Sensitive("a long and new password")
		run(t, tab, "register",
			chromedp.SetValue(chromedp.CSS(`#email`), "linus@example.com"),
			chromedp.SendKeys(chromedp.CSS(`#password`), "a long and new password"),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
			chromedp.Click(chromedp.CSS(`button[value="allow"]`)),
		)
		if _, _, c := exchange(t, r, waitCallback(t, r.Back)); c.Username != "linus" {
			t.Errorf("ID token after registration: %+v", c)
		}
	})

	t.Run("ErrorPageAndPhone", func(t *testing.T) {
		t.Parallel()
		tab := newTab(t, browser, 800, 760)
		bad := srv.URL + "/oauth/authorize?" + url.Values{"client_id": {client.ClientID},
			"redirect_uri": {"https://evil.example/callback"}, "response_type": {"code"}}.Encode()
		run(t, tab, "error page", chromedp.Navigate(bad), chromedp.WaitVisible(chromedp.CSS(`h1`)))
		if loc, _ := chromedp.Run(tab, chromedp.Location()); !strings.HasPrefix(loc, srv.URL) {
			t.Errorf("an untrusted redirect URI was followed: %s", loc)
		}
		screenshot(t, tab, shots, "error")
		phone := newTab(t, browser, 390, 760)
		r := newRequest()
		run(t, phone, "login on a phone", chromedp.EmulateViewport(390, 760, chromedp.EmulateMobile), chromedp.Navigate(r.URL),
			chromedp.WaitVisible(chromedp.CSS(`#username`)))
		screenshot(t, phone, shots, "login-phone")
	})
}
