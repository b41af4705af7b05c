package e2e

// Issue 25, accessibility: axe-core (e2e/axe, pinned in its package-lock.json; `npm ci`
// there) runs in real Chromium on every page and state — light and dark
// (prefers-color-scheme emulated), desktop and a 390 px phone — and must find no
// violation of WCAG 2.1 A or AA. The same pages in the other languages, whose markup
// and colours are the English page's, are checked in light on a desktop. A
// keyboard-only code flow (Tab, Enter; no clicks) signs in and consents.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"golang.org/x/oauth2"

	"gatehouse/adapter/mail/smtptest"
)

// axeSource is axe.min.js from e2e/axe/node_modules; without it the tests skip, or
// fail when a browser is required (CI).
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("axe", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		msg := "axe-core is not installed (cd e2e/axe && npm ci): " + err.Error()
		if os.Getenv("GATEHOUSE_TEST_REQUIRE_BROWSER") == "1" || os.Getenv("GATEHOUSE_TEST_REQUIRE_DBS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return string(b)
}

// colorScheme emulates prefers-color-scheme (light or dark).
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return chromedp.Void{}, err
	}
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeAuditor runs axe on the page a tab shows and fails the test for each WCAG 2.1
// A/AA violation: check in light and dark, on a desktop and a phone width; checkOnce
// in light on a desktop, for a page whose layout and colours check has seen already
// (the same page in another language).
type axeAuditor struct {
	src     string
	checked []string
	modes   int
}

const axeRun = `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})
	.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact || '', help: v.help,
		nodes: v.nodes.slice(0, 6).map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || '').replace(/\s+/g, ' '))}))))`

type axeMode struct {
	scheme        string
	width, height int64
}

var (
	axeEveryMode = []axeMode{{"light", 800, 900}, {"dark", 800, 900}, {"light", 390, 844}, {"dark", 390, 844}}
	axeLightMode = axeEveryMode[:1]
)

func (a *axeAuditor) check(t *testing.T, tab context.Context, name string) {
	t.Helper()
	a.run(t, tab, name, axeEveryMode)
}

func (a *axeAuditor) checkOnce(t *testing.T, tab context.Context, name string) {
	t.Helper()
	a.run(t, tab, name, axeLightMode)
}

func (a *axeAuditor) run(t *testing.T, tab context.Context, name string, modes []axeMode) {
	t.Helper()
	a.checked = append(a.checked, name)
	a.modes += len(modes)
	loc, _ := chromedp.Run(tab, chromedp.Location())
	// axe is injected once per page: changing the emulated media and viewport keeps it.
	loaded, err := chromedp.Run(tab, chromedp.Evaluate[bool]("typeof axe !== 'undefined'"))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !loaded {
		if _, err := chromedp.Run(tab, chromedp.Evaluate[any](a.src+"\n;0")); err != nil {
			t.Fatalf("%s: inject axe: %v", name, err)
		}
	}
	for _, mode := range modes {
		what := fmt.Sprintf("%s (%s, %dpx)", name, mode.scheme, mode.width)
		if err := chromedp.Do(tab, colorScheme(mode.scheme), chromedp.EmulateViewport(mode.width, mode.height)); err != nil {
			t.Fatalf("%s: emulate: %v", what, err)
		}
		out, err := chromedp.Run(tab, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: axe.run: %v", what, err)
		}
		var vs []axeViolation
		if err := json.Unmarshal([]byte(out), &vs); err != nil {
			t.Fatalf("%s: axe result %q: %v", what, out, err)
		}
		for _, v := range vs {
			t.Errorf("%s at %s: axe %s (%s): %s\n    %s", what, loc, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n    "))
		}
	}
	if err := chromedp.Do(tab, colorScheme("light"), chromedp.EmulateViewport(800, 900)); err != nil {
		t.Fatal(err)
	}
}

// TestBrowser_A11y_EveryPage runs the user's pages and the console side by side, each
// in a browser of its own (separate cookies), on one server.
func TestBrowser_A11y_EveryPage(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	client := srv.CreateClientJSON(t, "--name", "Acme Dashboard", "--redirect-uri", "http://127.0.0.1/callback",
		"--scope", "openid profile email offline_access api:read")
	t.Run("pages", func(t *testing.T) {
		t.Parallel()
		a11yUserPages(t, srv, client)
	})
	t.Run("console", func(t *testing.T) {
		t.Parallel()
		a11yConsolePages(t, srv, client)
	})
}

// a11yUserPages: every page a user meets, signed out, in the code and device flows,
// on the account page and at the second factor.
func a11yUserPages(t *testing.T, srv *Server, client CreatedClient) {
	ax := &axeAuditor{src: axeSource(t)}
	browser := newChromium(t)
	cb := newCallback(t)
	user, pass, _, _ := mfaUser(t, srv)
	tab := newTab(t, browser, 800, 900)
	wait := func(what, sel string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 20*time.Second)
		defer cancel()
		run(t, ctx, what, chromedp.WaitVisible(chromedp.CSS(sel)))
	}
	visit := func(name, path, sel string) {
		t.Helper()
		run(t, tab, "open "+path, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.CSS(sel)))
		ax.check(t, tab, name)
	}
	fill := func(sel, text string) chromedp.Action[chromedp.Void] {
		return chromedp.SendKeys(chromedp.CSS(sel), text)
	}
	click := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

	// Signed out.
	visit("home", "/", "h1")
	visit("login", "/login", "#username")
	run(t, tab, "wrong password", fill("#username", user), fill("#password", "wrong"), click(`form[action="/login"] button[type="submit"]`))
	wait("login error", ".alert-error")
	ax.check(t, tab, "login with an error")
	visit("register", "/register", "#username")
	run(t, tab, "register badly", fill("#username", user), fill("#email", "a@b.example"), fill("#password", "a long enough password"),
		click(`form[action="/register"] button[type="submit"]`))
	wait("register errors", ".field-error")
	ax.check(t, tab, "register with errors")
	visit("forgot password", "/forgot-password", "#email")
	run(t, tab, "ask for a reset", fill("#email", "nobody@example.com"), click(`form[action="/forgot-password"] button[type="submit"]`),
		chromedp.WaitNotPresent(chromedp.CSS(`form[action="/forgot-password"]`)))
	wait("reset mail notice", "h1")
	ax.check(t, tab, "forgot password sent")
	visit("reset password, bad link", "/reset-password?token=not-a-token", "h1")
	visit("confirm email, bad link", "/confirm-email?token=not-a-token", "h1")
	visit("error page", "/consent?req=no-such-request", "h1")
	visit("device code entry", "/device", "#user_code")
	run(t, tab, "a wrong device code", fill("#user_code", "BCDF-GHJK"), click(`form[action="/device"] button[type="submit"]`))
	wait("device error", ".alert-error")
	ax.check(t, tab, "device code entry with an error")

	// The code flow: login page of a request, consent.
	conf := &oauth2.Config{ClientID: client.ClientID, ClientSecret: client.ClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: srv.URL + "/oauth/authorize", TokenURL: srv.URL + "/oauth/token"},
		RedirectURL: cb.srv.URL + "/callback", Scopes: []string{"openid", "profile", "email", "offline_access", "api:read"}}
	state := randomToken()
	back := cb.expect(state)
	run(t, tab, "authorize", chromedp.Navigate(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))))
	wait("login page of a request", "#username")
	ax.check(t, tab, "login for an application")
	run(t, tab, "sign in", fill("#username", user), fill("#password", pass), click(`form[action="/login"] button[type="submit"]`))
	wait("consent", `button[value="allow"]`)
	ax.check(t, tab, "consent")
	run(t, tab, "allow", click(`button[value="allow"]`))
	waitCallback(t, back)

	// Device: consent and done.
	dc := newDVClient(t, srv, "--name", "Living-room TV")
	a := dc.authorize(t, srv, srv.HTTPClient(), "openid profile")
	visit("device consent", "/device?user_code="+url.QueryEscape(a.UserCode), `button[value="allow"]`)
	run(t, tab, "allow the device", click(`button[value="allow"]`))
	wait("device done", ".status-icon")
	ax.check(t, tab, "device done")

	// The account, with a notice; a second factor.
	visit("account", "/account", `form[action="/account/profile"]`)
	run(t, tab, "save the profile", click(`form[action="/account/profile"] button[type="submit"]`))
	for i := 0; ; i++ {
		loc, _ := chromedp.Run(tab, chromedp.Location())
		if strings.HasSuffix(loc, "/account/profile") {
			break
		}
		if i == 100 {
			t.Fatalf("saving the profile: still at %s", loc)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wait("account notice", ".alert-info")
	ax.check(t, tab, "account with a notice")
	awayFromStepEdge(20 * time.Second)
	run(t, tab, "set up an authenticator app", chromedp.Navigate(srv.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/account/totp"] button`)), click(`form[action="/account/totp"] button`))
	wait("totp setup", "#totp-secret")
	ax.check(t, tab, "authenticator app setup")
	secret, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`#totp-secret`)))
	secret = strings.TrimSpace(secret)
	srv.Sensitive(secret)
	run(t, tab, "confirm the app", fill("#otp", totpCode(t, secret, 0)), chromedp.Submit(chromedp.CSS(`#otp`)))
	wait("recovery codes", "#recovery-codes")
	ax.check(t, tab, "recovery codes")
	visit("account with a second factor", "/account", `form[action="/account/totp/remove"]`)
	visit("logout", "/logout", `form[action="/logout"] button`)
	run(t, tab, "sign out", click(`form[action="/logout"] button`), chromedp.WaitNotPresent(chromedp.CSS(`form[action="/logout"]`)))
	wait("signed out", `a[href="/login"]`)
	ax.check(t, tab, "signed out")
	visit("login again", "/login", "#username")
	run(t, tab, "password", fill("#username", user), fill("#password", pass), click(`form[action="/login"] button[type="submit"]`))
	wait("second factor", "#otp")
	ax.check(t, tab, "second factor")
	t.Logf("axe checked %d pages, %d page-modes: %s", len(ax.checked), ax.modes, strings.Join(ax.checked, "; "))
}

// a11yConsolePages: every console page, and some in each other language.
func a11yConsolePages(t *testing.T, srv *Server, client CreatedClient) {
	ax := &axeAuditor{src: axeSource(t)}
	fill := func(sel, text string) chromedp.Action[chromedp.Void] {
		return chromedp.SendKeys(chromedp.CSS(sel), text)
	}
	click := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
	adminID, admin, adminPass := newConsoleAdmin(t, srv)
	console := newTab(t, newChromium(t), 800, 900)
	run(t, console, "console sign-in", chromedp.Navigate(srv.URL+"/admin"), chromedp.WaitVisible(chromedp.CSS(`#username`)),
		fill("#username", admin), fill("#password", adminPass), click(`button[type="submit"]`),
		chromedp.WaitVisible(chromedp.CSS(`.console-nav`)))
	ax.check(t, console, "console dashboard")
	for _, p := range []string{"/admin/clients", "/admin/clients/new", "/admin/clients/" + url.PathEscape(client.ClientID),
		"/admin/clients/" + url.PathEscape(client.ClientID) + "/delete", "/admin/users", "/admin/users/new",
		"/admin/users/" + url.PathEscape(adminID), "/admin/users/" + url.PathEscape(adminID) + "/delete",
		"/admin/audit", "/admin/keys"} {
		run(t, console, "open "+p, chromedp.Navigate(srv.URL+p), chromedp.WaitVisible(chromedp.CSS(`.console-nav`)))
		ax.check(t, console, "console "+p)
	}
	run(t, console, "create a client in the console", chromedp.Navigate(srv.URL+"/admin/clients/new"),
		chromedp.WaitVisible(chromedp.CSS(`#client_name`)), fill("#client_name", "Billing app"),
		fill("#redirect_uris", "https://billing.example/callback"), click(`form.form button[type="submit"]`),
		chromedp.WaitVisible(chromedp.CSS(`#client-secret`)))
	if secret, err := chromedp.Run(console, chromedp.Text(chromedp.CSS(`#client-secret`))); err == nil {
		srv.Sensitive(strings.TrimSpace(secret))
	}
	ax.check(t, console, "console client secret")
	// The console in the other languages (the switcher's ?lang=, then its cookie):
	// longer words, other scripts, <html lang> named; one mode, as for the pages.
	for _, l := range []string{"de", "fr", "es", "ja"} {
		for _, p := range []string{"/admin?lang=" + l, "/admin/clients/new", "/admin/users/" + url.PathEscape(adminID)} {
			run(t, console, "open "+p, chromedp.Navigate(srv.URL+p), chromedp.WaitVisible(chromedp.CSS(`.console-nav`)))
			if attr, _ := chromedp.Run(console, chromedp.AttributeValue(chromedp.CSS(`html`), "lang")); attr.Value != l {
				t.Errorf("console %s: <html lang=%q>, want %q", p, attr.Value, l)
			}
			ax.checkOnce(t, console, "console "+p+" ("+l+")")
		}
	}

	t.Logf("axe checked %d pages, %d page-modes: %s", len(ax.checked), ax.modes, strings.Join(ax.checked, "; "))
}

// TestBrowser_A11y_KeyboardOnly: the code flow with the keyboard alone — Tab to each
// field, type, Enter; Tab to Allow, Enter. No mouse event is sent.
func TestBrowser_A11y_KeyboardOnly(t *testing.T) {
	t.Parallel()
	browser := newChromium(t)
	srv := startServer(t, Options{})
	cb := newCallback(t)
	password := "correct horse battery staple"
	id := srv.CreateUser(t, "kim", password)
	client := srv.CreateClientJSON(t, "--name", "Acme Dashboard", "--redirect-uri", "http://127.0.0.1/callback")
	conf := &oauth2.Config{ClientID: client.ClientID, ClientSecret: client.ClientSecret,
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth/authorize", TokenURL: srv.URL + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL: cb.srv.URL + "/callback", Scopes: []string{"openid", "profile"}}
	state, verifier := randomToken(), oauth2.GenerateVerifier()
	back := cb.expect(state)
	tab := newTab(t, browser, 800, 900)
	focused := func() string {
		s, _ := chromedp.Run(tab, chromedp.Evaluate[string](`(() => { const e = document.activeElement;
			return e ? (e.id || e.getAttribute('name') || '') + '|' + (e.value || e.textContent || '').trim() : '' })()`))
		return s
	}
	// tabTo presses Tab until the focused element's "id|value" starts with want.
	tabTo := func(want string) {
		t.Helper()
		for range 30 {
			if strings.HasPrefix(focused(), want) {
				return
			}
			run(t, tab, "Tab", chromedp.KeyEvent(kb.Tab))
		}
		t.Fatalf("Tab never reached %q (at %q)", want, focused())
	}
	run(t, tab, "authorize", chromedp.Navigate(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`#username`)))
	tabTo("username|")
	run(t, tab, "type the username", chromedp.KeyEvent("kim"))
	tabTo("password|")
	run(t, tab, "type the password and press Enter", chromedp.KeyEvent(password), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)))
	tabTo("decision|allow")
	// The focus is visible: an outline on the focused button.
	outline, _ := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.activeElement).outlineStyle`))
	if outline == "none" || outline == "" {
		t.Errorf("the focused Allow button shows no outline (%q)", outline)
	}
	run(t, tab, "Enter on Allow", chromedp.KeyEvent(kb.Enter))
	q := waitCallback(t, back)
	srv.Sensitive(q.Get("code"))
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.HTTPClient())
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	srv.Sensitive(tok.AccessToken, tok.RefreshToken)
	if _, claims := verifyAccessToken(t, srv, tok.AccessToken); claims.Subject != id {
		t.Errorf("access token sub %q, want %q", claims.Subject, id)
	}
}

// TestBrowser_A11y_BrandedDarkAndVerify: a branded server's pages pass axe too (the
// brand colour's button text is chosen for contrast); the login and consent pages in
// dark mode; the email verification page of GATEHOUSE_EMAIL_VERIFICATION=required.
// Screenshots for the README (docs/screenshots with `make screenshots`).
func TestBrowser_A11y_BrandedDarkAndVerify(t *testing.T) {
	t.Parallel()
	ax := &axeAuditor{src: axeSource(t)}
	browser := newChromium(t)
	shots := screenshotDir(t)
	cb := newCallback(t)

	branded := startServer(t, Options{Env: map[string]string{"GATEHOUSE_BRAND_NAME": "Acme ID",
		"GATEHOUSE_BRAND_LOGO_URL": "/static/favicon.svg", "GATEHOUSE_BRAND_COLOR": "#0f766e"}})
	tab := newTab(t, browser, 800, 760)
	run(t, tab, "branded login", chromedp.Navigate(branded.URL+"/login"), chromedp.WaitVisible(chromedp.CSS(`#username`)))
	ax.check(t, tab, "branded login")
	bg, _ := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('.btn-primary')).backgroundColor`))
	if bg != "rgb(15, 118, 110)" {
		t.Errorf("the primary button's colour is %s, want the brand's rgb(15, 118, 110)", bg)
	}
	screenshot(t, tab, shots, "login-branded")
	run(t, tab, "phone", chromedp.EmulateViewport(390, 760, chromedp.EmulateMobile), chromedp.Reload())
	screenshot(t, tab, shots, "login-branded-phone")

	// A light brand colour: black text on it.
	light := startServer(t, Options{Env: map[string]string{"GATEHOUSE_BRAND_COLOR": "#fd0"}})
	run(t, tab, "light brand", chromedp.EmulateViewport(800, 760), chromedp.Navigate(light.URL+"/login"), chromedp.WaitVisible(chromedp.CSS(`#username`)))
	ax.check(t, tab, "login with a light brand colour")

	// Dark mode: login and consent.
	srv := startServer(t, Options{})
	password := "correct horse battery staple"
	srv.CreateUser(t, "ada", password)
	client := srv.CreateClientJSON(t, "--name", "Acme Dashboard", "--redirect-uri", "http://127.0.0.1/callback")
	conf := &oauth2.Config{ClientID: client.ClientID, ClientSecret: client.ClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: srv.URL + "/oauth/authorize", TokenURL: srv.URL + "/oauth/token"},
		RedirectURL: cb.srv.URL + "/callback", Scopes: []string{"openid", "profile", "email", "offline_access"}}
	dark := newTab(t, browser, 800, 760)
	state := randomToken()
	cb.expect(state)
	run(t, dark, "dark login", colorScheme("dark"),
		chromedp.Navigate(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))),
		chromedp.WaitVisible(chromedp.CSS(`#username`)))
	bodyBG, _ := chromedp.Run(dark, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	if bodyBG != "rgb(15, 20, 28)" {
		t.Errorf("dark mode: body background %s, want the dark theme's", bodyBG)
	}
	screenshot(t, dark, shots, "login-dark")
	run(t, dark, "dark phone", chromedp.EmulateViewport(390, 760, chromedp.EmulateMobile))
	screenshot(t, dark, shots, "login-dark-phone")
	run(t, dark, "sign in", chromedp.EmulateViewport(800, 760),
		chromedp.SendKeys(chromedp.CSS(`#username`), "ada"), chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)))
	screenshot(t, dark, shots, "consent-dark")
	run(t, dark, "dark phone consent", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	screenshot(t, dark, shots, "consent-dark-phone")

	// Email verification required: the page after sign-up.
	verify := startServer(t, Options{Env: map[string]string{"GATEHOUSE_EMAIL_VERIFICATION": "required"}})
	vclient := verify.CreateClientJSON(t, "--name", "Acme Dashboard", "--redirect-uri", "http://127.0.0.1/callback")
	vconf := *conf
	vconf.ClientID, vconf.ClientSecret = vclient.ClientID, vclient.ClientSecret
	vconf.Endpoint = oauth2.Endpoint{AuthURL: verify.URL + "/oauth/authorize", TokenURL: verify.URL + "/oauth/token"}
	vtab := newTab(t, browser, 800, 760)
	vstate := randomToken()
	cb.expect(vstate)
	run(t, vtab, "sign up", chromedp.Navigate(vconf.AuthCodeURL(vstate, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))),
		chromedp.WaitVisible(chromedp.CSS(`#username`)), chromedp.Click(chromedp.CSS(`a[href^="/register"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "newbie"), chromedp.SendKeys(chromedp.CSS(`#email`), "newbie@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`form[action="/register"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/verify-email/resend"]`)))
	ax.check(t, vtab, "verify your email address")
}

// TestBrowser_A11y_MFAEnrolment: GATEHOUSE_MFA=required's enrolment page inside the
// sign-in passes axe.
func TestBrowser_A11y_MFAEnrolment(t *testing.T) {
	t.Parallel()
	ax := &axeAuditor{src: axeSource(t)}
	cb := newCallback(t)
	// A second factor required: the enrolment inside the sign-in.
	strict := startServer(t, Options{Env: map[string]string{"GATEHOUSE_MFA": "required"}})
	strict.CreateUser(t, "lee", "correct horse battery staple")
	sclient := strict.CreateClientJSON(t, "--name", "Acme Dashboard", "--redirect-uri", "http://127.0.0.1/callback")
	sconf := &oauth2.Config{ClientID: sclient.ClientID, ClientSecret: sclient.ClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: strict.URL + "/oauth/authorize", TokenURL: strict.URL + "/oauth/token"},
		RedirectURL: cb.srv.URL + "/callback", Scopes: []string{"openid", "profile"}}
	stab := newTab(t, newChromium(t), 800, 900)
	sstate := randomToken()
	cb.expect(sstate)
	step, cancelStep := context.WithTimeout(stab, 30*time.Second)
	defer cancelStep()
	run(t, step, "sign in where a second factor is required",
		chromedp.Navigate(sconf.AuthCodeURL(sstate, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))),
		chromedp.WaitVisible(chromedp.CSS(`#username`)), chromedp.SendKeys(chromedp.CSS(`#username`), "lee"), chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery staple"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`form[action="/account/totp"] button`)))
	if loc, _ := chromedp.Run(stab, chromedp.Location()); !strings.Contains(loc, "/login/mfa") {
		t.Errorf("MFA required: at %s, want the enrolment page", loc)
	}
	ax.check(t, stab, "second factor enrolment")
}

// TestBrowser_A11y_Languages: the pages in German, French, Spanish and Japanese pass
// the same axe rules (in light, on a desktop: the English pages are checked in every
// mode, and only the words differ) and say their language in
// <html lang>: login (chosen with the footer's switcher, then with an error), register
// with errors, the error page, and the login and consent pages of an authorization
// request that asks for the language with ui_locales.
func TestBrowser_A11y_Languages(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	client := srv.CreateClientJSON(t, "--name", "Acme Dashboard", "--redirect-uri", "http://127.0.0.1/callback",
		"--scope", "openid profile email offline_access api:read")
	cb := newCallback(t)
	for _, lang := range []string{"de", "fr", "es", "ja"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			ax := &axeAuditor{src: axeSource(t)}
			user, pass := uniqueName("a11y"+lang), "pw-"+randomString(16)
			srv.CreateUser(t, user, pass)
			tab := newTab(t, newChromium(t), 800, 900)
			fill := func(sel, text string) chromedp.Action[chromedp.Void] {
				return chromedp.SendKeys(chromedp.CSS(sel), text)
			}
			click := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
			check := func(name string) {
				t.Helper()
				htmlLang, err := chromedp.Run(tab, chromedp.Evaluate[string]("document.documentElement.lang"))
				if err != nil || htmlLang != lang {
					t.Errorf("%s: <html lang=%q>, want %q (%v)", name, htmlLang, lang, err)
				}
				ax.checkOnce(t, tab, lang+" "+name)
			}
			waitFor := func(what, sel string) {
				t.Helper()
				ctx, cancel := context.WithTimeout(tab, 20*time.Second)
				defer cancel()
				run(t, ctx, what, chromedp.WaitVisible(chromedp.CSS(sel)))
			}

			run(t, tab, "choose the language", chromedp.Navigate(srv.URL+"/login?lang="+lang), chromedp.WaitVisible(chromedp.CSS("#username")))
			check("login")
			run(t, tab, "wrong password", fill("#username", user), fill("#password", "wrong"), click(`form[action="/login"] button[type="submit"]`))
			waitFor("login error", ".alert-error")
			check("login with an error")
			run(t, tab, "register page", chromedp.Navigate(srv.URL+"/register"), chromedp.WaitVisible(chromedp.CSS("#username")))
			run(t, tab, "register badly", fill("#username", user), fill("#email", "a@b.example"), fill("#password", "a long enough password"),
				click(`form[action="/register"] button[type="submit"]`))
			waitFor("register errors", ".field-error")
			check("register with errors")
			run(t, tab, "error page", chromedp.Navigate(srv.URL+"/consent?req=no-such-request"), chromedp.WaitVisible(chromedp.CSS("h1")))
			check("error page")

			conf := &oauth2.Config{ClientID: client.ClientID, ClientSecret: client.ClientSecret,
				Endpoint:    oauth2.Endpoint{AuthURL: srv.URL + "/oauth/authorize", TokenURL: srv.URL + "/oauth/token"},
				RedirectURL: cb.srv.URL + "/callback", Scopes: []string{"openid", "profile", "email", "offline_access", "api:read"}}
			state := randomToken()
			back := cb.expect(state)
			run(t, tab, "forget the switcher's choice", chromedp.Navigate(srv.URL+"/login?lang=en"), chromedp.WaitVisible(chromedp.CSS("#username")))
			run(t, tab, "authorize in "+lang, chromedp.Navigate(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
				oauth2.SetAuthURLParam("ui_locales", lang))))
			waitFor("login page of the request", "#username")
			check("login for an application")
			run(t, tab, "sign in", fill("#username", user), fill("#password", pass), click(`form[action="/login"] button[type="submit"]`))
			waitFor("consent", `button[value="allow"]`)
			check("consent")
			run(t, tab, "allow", click(`button[value="allow"]`))
			waitCallback(t, back)
		})
	}
}

// TestBrowser_A11y_MorePages: the states the other tests do not reach pass axe too:
// the login page with "Continue with …" buttons of upstream providers, the sign-out
// confirmation an application asked for (RP-initiated logout), and the form a mailed
// password-reset link opens.
func TestBrowser_A11y_MorePages(t *testing.T) {
	t.Parallel()
	ax := &axeAuditor{src: axeSource(t)}
	srv, mx := mailServer(t, map[string]string{"GATEHOUSE_EMAIL_VERIFICATION": "off"})
	for _, up := range [][]string{
		{"--id", "corp", "--name", "Corp SSO", "--type", "oidc", "--issuer", "https://idp.example"},
		{"--id", "hub", "--name", "GitHub", "--type", "github"},
	} {
		args := append([]string{"upstreams", "create", "--client-id", "c", "--client-secret-stdin"}, up...)
		if _, stderr, code := srv.CLI(t, "s3cret-"+randomString(8)+"\n", args...); code != 0 {
			t.Fatalf("upstreams create: %d %s", code, stderr)
		}
	}
	client := srv.CreateClientJSON(t, "--name", "Acme Dashboard", "--redirect-uri", "https://rp.example/cb",
		"--post-logout-redirect-uri", "https://rp.example/bye")
	name, email := uniqueName("a11ymore"), uniqueName("a11ymore")+"@example.com"
	if _, stderr, code := srv.CLI(t, "a long password 1\n", "users", "create", "--username", name, "--email", email,
		"--email-verified", "--password-stdin"); code != 0 {
		t.Fatalf("users create: %d %s", code, stderr)
	}
	tab := newTab(t, newChromium(t), 800, 900)
	visit := func(what, path, sel string) {
		t.Helper()
		run(t, tab, "open "+path, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.CSS(sel)))
		ax.check(t, tab, what)
	}
	visit("login with upstream providers", "/login", `a[href="/login/upstream/corp"]`)
	run(t, tab, "sign in", chromedp.SendKeys(chromedp.CSS("#username"), name), chromedp.SendKeys(chromedp.CSS("#password"), "a long password 1"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)), chromedp.WaitNotPresent(chromedp.CSS("#password")))
	q := url.Values{"client_id": {client.ClientID}, "post_logout_redirect_uri": {"https://rp.example/bye"}, "state": {"s"}}
	visit("sign-out asked by an application", "/logout?"+q.Encode(), `form[action="/logout"] button`)

	run(t, tab, "ask for a reset link", chromedp.Navigate(srv.URL+"/forgot-password"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.Click(chromedp.CSS(`form[action="/forgot-password"] button[type="submit"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`form[action="/forgot-password"]`)))
	link := linkIn(t, srv, mailTo(t, mx, 1, email))
	srv.Sensitive(link, tokenOf(t, link))
	visit("the form of a reset link", link, `#password`)
}

// TestBrowser_A11y_PasskeyPages: with passkeys on (an issuer on localhost), the login
// page with "Sign in with a passkey" (the script shows it) and the account page's
// passkey section pass axe too.
func TestBrowser_A11y_PasskeyPages(t *testing.T) {
	t.Parallel()
	ax := &axeAuditor{src: axeSource(t)}
	mx := smtptest.Start(t, smtptest.Options{})
	srv := startServer(t, Options{Localhost: true, Env: map[string]string{"GATEHOUSE_SMTP_URL": mx.URL()}})
	name, pass, email, _ := mfaUser(t, srv)
	tab := newTab(t, newChromium(t), 800, 900)
	run(t, tab, "login", chromedp.Navigate(srv.URL+"/login"), chromedp.WaitVisible(chromedp.CSS(`#passkey-form button`)))
	ax.check(t, tab, "login with a passkey button")
	run(t, tab, "sign in", chromedp.SendKeys(chromedp.CSS("#username"), name), chromedp.SendKeys(chromedp.CSS("#password"), pass),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)), chromedp.WaitNotPresent(chromedp.CSS("#password")))
	run(t, tab, "account", chromedp.Navigate(srv.URL+"/account"), chromedp.WaitVisible(chromedp.CSS(`#passkeys`)))
	ax.check(t, tab, "account with the passkey section")

	// With a passkey, the page after a password reset lists it.
	addAuthenticator(t, tab, false)
	run(t, tab, "add a passkey", chromedp.SendKeys(chromedp.CSS(`#passkey_name`), "A11y key"),
		chromedp.Click(chromedp.CSS(`#passkey-add button`)), chromedp.WaitVisible(chromedp.CSS(`.alert-info`)))
	run(t, tab, "reset", chromedp.Navigate(srv.URL+resetLinkFor(t, srv, mx, email)), chromedp.WaitVisible(chromedp.CSS(`#password_confirm`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), "a brand new password"),
		chromedp.SendKeys(chromedp.CSS(`#password_confirm`), "a brand new password"),
		chromedp.Submit(chromedp.CSS(`#password_confirm`)), chromedp.WaitVisible(chromedp.CSS(`ul.still-signs-in`)))
	ax.check(t, tab, "after a password reset, what still signs in")
}
