package e2e

// Issue 25, the pages' UX defects: a scope without a description shows its name once;
// the consent list is a plain list; a device user code never wraps at its hyphen; and
// "Not you? Sign out" on a consent page keeps the application's sign-in: the user signs
// in as someone else and the same authorization request goes on.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func TestBrowser_Pages25_NotYouContinuesTheRequest(t *testing.T) {
	t.Parallel()
	browser := newChromium(t)
	shots := screenshotDir(t)
	srv := startServer(t, Options{})
	cb := newCallback(t)
	password := "correct horse battery staple"
	srv.Sensitive(password)
	srv.CreateUser(t, "ada", password)
	graceID := srv.CreateUser(t, "grace", password)
	client := srv.CreateClientJSON(t, "--name", "Acme Dashboard", "--redirect-uri", "http://127.0.0.1/callback",
		"--scope", "openid profile api:read")

	conf := &oauth2.Config{
		ClientID: client.ClientID, ClientSecret: client.ClientSecret,
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth/authorize", TokenURL: srv.URL + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL: cb.srv.URL + "/callback",
		Scopes:      []string{"openid", "profile", "api:read"},
	}
	state, verifier := randomToken(), oauth2.GenerateVerifier()
	back := cb.expect(state)
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))

	tab := newTab(t, browser, 390, 844) // a phone
	run(t, tab, "sign in as ada",
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "ada"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
	)
	list, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`ul.scopes`)))
	if strings.Count(list, "api:read") != 1 || strings.Contains(list, "Access to") {
		t.Errorf("the consent list shows a scope without a description as %q, want its name once", list)
	}
	// A neutral round bullet, not a checkmark drawn with borders.
	bullet, _ := chromedp.Run(tab, chromedp.Evaluate[string](`(() => { const s = getComputedStyle(document.querySelector('ul.scopes li'), '::before');
		return s.borderRadius + '|' + s.borderRightWidth + '|' + s.transform })()`))
	if bullet != "50%|0px|none" {
		t.Errorf("consent bullet style %q, want a round dot without a checkmark's borders or rotation", bullet)
	}
	screenshot(t, tab, shots, "consent-phone")

	run(t, tab, "Not you? Sign out",
		chromedp.Click(chromedp.CSS(`.switch-account button`)),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
	)
	loc, _ := chromedp.Run(tab, chromedp.Location())
	if !strings.HasPrefix(loc, srv.URL+"/login?req=") {
		t.Fatalf("after Not you: at %s, want the login page of the same request", loc)
	}
	if text, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`.card`))); !strings.Contains(text, "Acme Dashboard") {
		t.Errorf("the login page after Not you does not name the client:\n%s", text)
	}
	run(t, tab, "sign in as grace and allow",
		chromedp.SendKeys(chromedp.CSS(`#username`), "grace"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
	)
	if text, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`.card`))); !strings.Contains(text, "grace") {
		t.Errorf("the consent page does not say grace is signed in:\n%s", text)
	}
	run(t, tab, "allow", chromedp.Click(chromedp.CSS(`button[value="allow"]`)))
	q := waitCallback(t, back)
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("callback %v", q)
	}
	srv.Sensitive(q.Get("code"))
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.HTTPClient())
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	srv.Sensitive(tok.AccessToken)
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, srv.HTTPClient()), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: client.ClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Subject != graceID {
		t.Errorf("ID token sub %q, want grace's %q", idt.Subject, graceID)
	}
}

// TestPages25_NotYouIsAPostWithCSRF: the switch is a POST whose CSRF token is checked
// (a forged one keeps the session); the consent page has no GET link to /logout; a
// request id of another browser is refused without signing anyone out.
func TestPages25_NotYouIsAPostWithCSRF(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	user := uniqueName("nu")
	srv.CreateUser(t, user, "correct horse battery staple")
	c := newAZClient(t, srv, "https://app.example/cb")
	b := newAZBrowser(t, srv)
	r := b.get("/oauth/authorize?" + azQuery(c, newAZPKCE(), "s1").Encode())
	r = b.logIn(r.Header.Get("Location"), user, "correct horse battery staple")
	consentLoc := r.Header.Get("Location")
	if !strings.HasPrefix(consentLoc, "/consent?") {
		t.Fatalf("after login: %d %q, want the consent page", r.Status, consentLoc)
	}
	page := b.get(consentLoc)
	if strings.Contains(string(page.Body), `href="/logout"`) || !strings.Contains(string(page.Body), `action="/login/switch"`) {
		t.Fatalf("consent page: want a POST form to /login/switch, no link to /logout\n%s", page.Body)
	}
	csrf, req := azFormFields(t, page)

	r = b.post("/login/switch", url.Values{"csrf_token": {"forged"}, "req": {req}})
	if r.Status != http.StatusForbidden {
		t.Errorf("switch with a forged CSRF token: %d, want 403", r.Status)
	}
	if r := b.post("/login/switch", url.Values{"csrf_token": {csrf}, "req": {"not-a-request-of-this-browser"}}); r.Status < 400 || r.Status >= 500 {
		t.Errorf("switch with an unknown request: %d, want a 4xx", r.Status)
	}
	if r := b.get(consentLoc); r.Status != http.StatusOK {
		t.Fatalf("the session should have survived the refused switches: %d %s", r.Status, r.Header.Get("Location"))
	}

	r = b.post("/login/switch", url.Values{"csrf_token": {csrf}, "req": {req}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?req="+url.QueryEscape(req) {
		t.Fatalf("switch: %d %q, want 303 to the same request's login page", r.Status, r.Header.Get("Location"))
	}
	if r := b.get(consentLoc); r.Status != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("after the switch the consent page: %d %q, want the login page (signed out)", r.Status, r.Header.Get("Location"))
	}
}

// TestBrowser_Pages25_DeviceCodeAndNotYou: on a phone the device user code stays on
// one line (it never wraps at its hyphen); "Not you?" on the device confirmation leads
// back to the login page with the same code, and the device gets the other user's
// tokens.
func TestBrowser_Pages25_DeviceCodeAndNotYou(t *testing.T) {
	t.Parallel()
	browser := newChromium(t)
	srv := startServer(t, Options{})
	password := "correct horse battery staple"
	srv.Sensitive(password)
	srv.CreateUser(t, "ada", password)
	graceID := srv.CreateUser(t, "grace", password)
	c := newDVClient(t, srv)
	a := c.authorize(t, srv, srv.HTTPClient(), "openid")

	tab := newTab(t, browser, 320, 700) // narrower than any phone in use
	signIn := func(user string) {
		run(t, tab, "sign in as "+user,
			chromedp.WaitVisible(chromedp.CSS(`#username`)),
			chromedp.SendKeys(chromedp.CSS(`#username`), user),
			chromedp.SendKeys(chromedp.CSS(`#password`), password),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
		)
	}
	run(t, tab, "open the verification URI", chromedp.Navigate(a.VerificationURIComplete))
	signIn("ada")
	lines, _ := chromedp.Run(tab, chromedp.Evaluate[int](`(() => { const e = document.querySelector('.user-code');
		const r = document.createRange(); r.selectNodeContents(e);
		return new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top))).size })()`))
	if lines != 1 {
		t.Errorf("the user code takes %d lines at 320px, want 1", lines)
	}
	// Wherever the code falls on the line, the browser may not break it.
	ws, _ := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('.user-code')).whiteSpace`))
	if ws != "nowrap" {
		t.Errorf("the user code's white-space is %q, want nowrap", ws)
	}
	run(t, tab, "Not you? Sign out", chromedp.Click(chromedp.CSS(`.switch-account button`)))
	signIn("grace")
	loc, _ := chromedp.Run(tab, chromedp.Location())
	if !strings.Contains(loc, "/device") {
		t.Errorf("after signing in again: at %s, want the device confirmation", loc)
	}
	// The done page shows the user code too; wait for the confirmation page to be gone,
	// which happens only once the server has answered the approval.
	run(t, tab, "allow", chromedp.Click(chromedp.CSS(`button[value="allow"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`button[value="allow"]`)), chromedp.WaitVisible(chromedp.CSS(`.user-code`)))
	r := c.poll(t, srv, srv.HTTPClient(), a.DeviceCode)
	if r.Status != http.StatusOK {
		t.Fatalf("poll: %d %s", r.Status, r.Body)
	}
	at, _ := r.JSON(t)["access_token"].(string)
	srv.Sensitive(at)
	if _, claims := verifyAccessToken(t, srv, at); claims.Subject != graceID {
		t.Errorf("device access token sub %q, want grace's %q", claims.Subject, graceID)
	}
}
