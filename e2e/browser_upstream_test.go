package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestBrowser_Upstream: in real Chromium an application sends the user to the
// downstream Gatehouse, who clicks "Continue with Upstream House", signs in and
// consents at the upstream Gatehouse, comes back, consents at the downstream, and the
// application redeems the code with x/oauth2: the ID token's sub is the account made
// just in time. /account then lists the linked identity and offers to link GitHub.
// Screenshots of the login page with its upstream buttons and of the linked accounts,
// at desktop and phone widths.
func TestBrowser_Upstream(t *testing.T) {
	t.Parallel()
	browser := newChromium(t)
	shots := screenshotDir(t)
	down := startServer(t, Options{Env: map[string]string{"GATEHOUSE_REGISTRATION_ENABLED": "true"}})
	g := newGatehouseUpstream(t, down)
	gh := newFakeGitHub(t)
	createUpstream(t, down, gh.ClientSecret, "--id", "github", "--name", "GitHub", "--type", "github", "--client-id", gh.ClientID,
		"--client-secret-stdin", "--api-url", gh.srv.URL+"/api/v3", "--web-url", gh.srv.URL)
	cb := newCallback(t)
	client := down.CreateClientJSON(t, "--name", "Acme Dashboard", "--redirect-uri", "http://127.0.0.1/callback")
	conf := &oauth2.Config{ClientID: client.ClientID, ClientSecret: client.ClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: down.URL + "/oauth/authorize", TokenURL: down.URL + "/oauth/token"},
		RedirectURL: cb.srv.URL + "/callback", Scopes: []string{"openid", "profile", "email"}}
	ctx := oidc.ClientContext(context.WithValue(context.Background(), oauth2.HTTPClient, down.HTTPClient()), down.HTTPClient())

	state, verifier := randomToken(), oauth2.GenerateVerifier()
	back := cb.expect(state)
	tab := newTab(t, browser, 800, 1000)
	run(t, tab, "the login page with its upstream buttons",
		chromedp.Navigate(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`a.upstream`)),
	)
	screenshot(t, tab, shots, "login-upstreams")
	phone := newTab(t, browser, 390, 844)
	run(t, phone, "the login page on a phone", chromedp.Navigate(down.URL+"/login"), chromedp.WaitVisible(chromedp.CSS(`a.upstream`)))
	screenshot(t, phone, shots, "login-upstreams-phone")

	run(t, tab, "continue with the upstream, sign in and consent there",
		chromedp.Click(chromedp.CSS(`a.upstream[href^="/login/upstream/gh2"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), g.user),
		chromedp.SendKeys(chromedp.CSS(`#password`), g.password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
		chromedp.Click(chromedp.CSS(`button[value="allow"]`)),
	)
	waitAt(t, tab, down.URL, "/consent")
	run(t, tab, "consent at the downstream",
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
		chromedp.Click(chromedp.CSS(`button[value="allow"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#done`)),
	)
	q := waitCallback(t, back)
	down.Sensitive(q.Get("code"))
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	down.Sensitive(tok.AccessToken, raw)
	p, err := oidc.NewProvider(ctx, down.URL)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: client.ClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var u shownUser
	down.CLIJSON(t, &u, "", "users", "show", g.user)
	if idt.Subject != u.ID || u.Email != g.email || !u.EmailVerified {
		t.Fatalf("sub %s, the account made from the upstream identity: %+v", idt.Subject, u)
	}

	run(t, tab, "the linked accounts on /account",
		chromedp.Navigate(down.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`ul.linked`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/account/upstreams/link"] button`)),
		chromedp.ScrollIntoView(chromedp.CSS(`ul.linked`)),
	)
	text, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`ul.linked`)))
	if err != nil || !strings.Contains(text, "Upstream House") || !strings.Contains(text, g.email) {
		t.Fatalf("linked accounts: %q %v", text, err)
	}
	screenshot(t, tab, shots, "account-linked")
	// The same page on a phone: a browser of its own signs in through the upstream
	// (whose consent it remembers) straight to the downstream's start page.
	phone2 := newTab(t, browser, 390, 844)
	run(t, phone2, "sign in with the upstream on a phone",
		chromedp.Navigate(down.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`a.upstream`)),
		chromedp.Click(chromedp.CSS(`a.upstream[href^="/login/upstream/gh2"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), g.user),
		chromedp.SendKeys(chromedp.CSS(`#password`), g.password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
	)
	waitAt(t, phone2, down.URL, "/")
	run(t, phone2, "the account page on a phone",
		chromedp.Navigate(down.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`ul.linked`)),
	)
	screenshot(t, phone2, shots, "account-linked-phone")
}

// waitAt waits until the tab's page is path at origin (after redirects through
// another server, a selector alone may match the page being left).
func waitAt(t *testing.T, tab context.Context, origin, path string) {
	t.Helper()
	var loc string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var err error
		if loc, err = chromedp.Run(tab, chromedp.Location()); err != nil {
			continue // navigating
		}
		if u, err := url.Parse(loc); err == nil && u.Scheme+"://"+u.Host == origin && u.Path == path {
			if _, err := chromedp.Run(tab, chromedp.Poll[bool](`document.readyState === "complete"`)); err == nil {
				return
			}
		}
	}
	t.Fatalf("never reached %s%s (at %s)", origin, path, loc)
}
