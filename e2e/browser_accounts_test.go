package e2e

// The account pages in a real headless Chromium, one full path per feature as a user
// takes it: the mail arrives over SMTP at a real server in the test, and the browser
// opens its link.

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"gatehouse/adapter/mail/smtptest"
)

// waitMail waits for a mail to to with subject (mails of parallel tests interleave)
// and returns it parsed.
func waitMail(t *testing.T, mx *smtptest.Server, to, subject string) smtptest.Parsed {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range mailsTo(t, mx, to) {
			if p.Subject == subject {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no mail %q to %s", subject, to)
	return smtptest.Parsed{}
}

// cardText is the visible text of the page's card.
func cardText(t *testing.T, tab context.Context) string {
	t.Helper()
	text, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`.card`)))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	return text
}

func wantCardText(t *testing.T, tab context.Context, wants ...string) {
	t.Helper()
	text := cardText(t, tab)
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Fatalf("the page lacks %q:\n%s", w, text)
		}
	}
}

// TestBrowser_Accounts: register and verify the address from the mail; forget the
// password, reset it from the mail and sign in with the new one; change the email,
// confirm it from the mail at the new address, the old address being told; authorize
// an application, see it under connected apps, revoke it, and its refresh token no
// longer works. Screenshots of the pages.
func TestBrowser_Accounts(t *testing.T) {
	t.Parallel()
	browser := newChromium(t)
	shots := screenshotDir(t)
	srv, mx := mailServer(t, nil)
	const password = "correct horse battery staple"
	srv.Sensitive(password, "a brand new password")
	createUser := func(t *testing.T, prefix string) (user, email string) {
		t.Helper()
		user, email = uniqueName(prefix), uniqueName(prefix)+"@example.com"
		srv.CLIJSON(t, &struct{}{}, password+"\n", "users", "create", "--username", user, "--email", email, "--password-stdin")
		return user, email
	}
	login := func(t *testing.T, tab context.Context, user, pass string) {
		t.Helper()
		run(t, tab, "sign in",
			chromedp.WaitVisible(chromedp.CSS(`#username`)),
			chromedp.SendKeys(chromedp.CSS(`#username`), user),
			chromedp.SendKeys(chromedp.CSS(`#password`), pass),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		)
	}
	follow := func(t *testing.T, tab context.Context, what string, m smtptest.Parsed, button string) {
		t.Helper()
		link := linkIn(t, srv, m)
		srv.Sensitive(tokenOf(t, link))
		run(t, tab, what, chromedp.Navigate(srv.URL+link), chromedp.WaitVisible(chromedp.CSS(button)))
	}

	t.Run("RegisterAndVerify", func(t *testing.T) {
		t.Parallel()
		tab := newTab(t, browser, 800, 900)
		user, email := uniqueName("brreg"), uniqueName("brreg")+"@example.com"
		run(t, tab, "register",
			chromedp.Navigate(srv.URL+"/register"),
			chromedp.WaitVisible(chromedp.CSS(`#email`)),
			chromedp.SendKeys(chromedp.CSS(`#username`), user),
			chromedp.SendKeys(chromedp.CSS(`#email`), email),
			chromedp.SendKeys(chromedp.CSS(`#password`), password),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/account"]`)),
		)
		follow(t, tab, "open the verification link", waitMail(t, mx, email, "Verify your email address"),
			`form[action="/verify-email"] button`)
		screenshot(t, tab, shots, "verify-email")
		run(t, tab, "verify", chromedp.Click(chromedp.CSS(`form[action="/verify-email"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`.alert-info`)))
		wantCardText(t, tab, "your email address is verified")
		run(t, tab, "account page", chromedp.Navigate(srv.URL+"/account"), chromedp.WaitVisible(chromedp.CSS(`#new_email`)))
		wantCardText(t, tab, email+" · verified")
	})

	t.Run("ForgotAndReset", func(t *testing.T) {
		t.Parallel()
		tab := newTab(t, browser, 800, 900)
		user, email := createUser(t, "brreset")
		run(t, tab, "ask for a reset link",
			chromedp.Navigate(srv.URL+"/login"),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/forgot-password"]`)),
			chromedp.Click(chromedp.CSS(`a[href="/forgot-password"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#email`)),
			chromedp.SendKeys(chromedp.CSS(`#email`), email),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.alert-info`)),
		)
		wantCardText(t, tab, "a link to choose a new password is on its way")
		follow(t, tab, "open the reset link", waitMail(t, mx, email, "Reset your password"), `#password_confirm`)
		screenshot(t, tab, shots, "reset-password")
		run(t, tab, "choose a new password",
			chromedp.SendKeys(chromedp.CSS(`#password`), "a brand new password"),
			chromedp.SendKeys(chromedp.CSS(`#password_confirm`), "a brand new password"),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.alert-info`)),
		)
		wantCardText(t, tab, "Your password was changed")
		run(t, tab, "go to sign in", chromedp.Click(chromedp.CSS(`a.btn-primary`)))
		login(t, tab, user, "a brand new password")
		run(t, tab, "signed in", chromedp.WaitVisible(chromedp.CSS(`a[href="/account"]`)))
		wantCardText(t, tab, "Welcome, "+user)
	})

	t.Run("ChangeEmail", func(t *testing.T) {
		t.Parallel()
		tab := newTab(t, browser, 800, 1100)
		user, old := createUser(t, "brchange")
		next := uniqueName("brchange-new") + "@example.com"
		run(t, tab, "open the login page", chromedp.Navigate(srv.URL+"/login"))
		login(t, tab, user, password)
		run(t, tab, "ask for the change",
			chromedp.WaitVisible(chromedp.CSS(`a[href="/account"]`)),
			chromedp.Click(chromedp.CSS(`a[href="/account"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#new_email`)),
			chromedp.SendKeys(chromedp.CSS(`#new_email`), next),
			chromedp.SendKeys(chromedp.CSS(`#email_password`), password),
			chromedp.Click(chromedp.CSS(`form[action="/account/email"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.alert-info`)),
		)
		wantCardText(t, tab, "We sent a link to "+next, old+" · not verified yet")
		screenshot(t, tab, shots, "account-email-sent")
		follow(t, tab, "open the link at the new address", waitMail(t, mx, next, "Confirm your new email address"),
			`form[action="/confirm-email"] button`)
		screenshot(t, tab, shots, "confirm-email")
		run(t, tab, "confirm", chromedp.Click(chromedp.CSS(`form[action="/confirm-email"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`.alert-info`)))
		wantCardText(t, tab, "Your email address is now "+next)
		notice := waitMail(t, mx, old, "Your email address was changed")
		if !strings.Contains(notice.Text, next) || mailLinkRE.MatchString(notice.Text) {
			t.Fatalf("notice to the old address:\n%s", notice.Text)
		}
		run(t, tab, "back to the account", chromedp.Click(chromedp.CSS(`a.btn-primary`)), chromedp.WaitVisible(chromedp.CSS(`#new_email`)))
		wantCardText(t, tab, next+" · verified")
	})

	t.Run("Profile", func(t *testing.T) {
		t.Parallel()
		tab := newTab(t, browser, 800, 1400)
		cb := newCallback(t)
		user, _ := createUser(t, "brprofile")
		run(t, tab, "open the login page", chromedp.Navigate(srv.URL+"/login"))
		login(t, tab, user, password)
		run(t, tab, "fill in the profile, the phone number without + and the locale with _",
			chromedp.WaitVisible(chromedp.CSS(`a[href="/account"]`)),
			chromedp.Click(chromedp.CSS(`a[href="/account"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#given_name`)),
			chromedp.SendKeys(chromedp.CSS(`#name`), "Ada Lovelace"),
			chromedp.SendKeys(chromedp.CSS(`#given_name`), "Ada"),
			chromedp.SendKeys(chromedp.CSS(`#family_name`), "Lovelace"),
			chromedp.SendKeys(chromedp.CSS(`#locale`), "en_GB"),
			chromedp.SendKeys(chromedp.CSS(`#zoneinfo`), "Europe/London"),
			chromedp.SendKeys(chromedp.CSS(`#phone_number`), "020 7946 0000"),
			chromedp.Click(chromedp.CSS(`form[action="/account/profile"] button[type="submit"]`)),
			// Both are marked in one answer.
			chromedp.WaitVisible(chromedp.CSS(`#locale-error`)),
			chromedp.WaitVisible(chromedp.CSS(`#phone_number-error`)),
		)
		screenshot(t, tab, shots, "account-profile-error")
		kept, err := chromedp.Run(tab, chromedp.Value(chromedp.CSS(`#given_name`)))
		if err != nil || kept != "Ada" {
			t.Fatalf("after the error, given name %q (%v), want what was typed", kept, err)
		}
		run(t, tab, "correct the phone number and the locale",
			chromedp.SetValue(chromedp.CSS(`#locale`), "en-GB"),
			chromedp.SetValue(chromedp.CSS(`#phone_number`), "+442079460000"),
			chromedp.Click(chromedp.CSS(`form[action="/account/profile"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.alert-info`)),
		)
		wantCardText(t, tab, "Your profile was saved")
		screenshot(t, tab, shots, "account")
		run(t, tab, "the account page on a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
			chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#given_name`)))
		screenshot(t, tab, shots, "account-phone")

		// An app that asks for profile sees the new claims in its ID token.
		client := srv.CreateClientJSON(t, "--name", uniqueName("Profile App "), "--redirect-uri", "http://127.0.0.1/callback",
			"--skip-consent")
		conf := &oauth2.Config{ClientID: client.ClientID, ClientSecret: client.ClientSecret,
			Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth/authorize", TokenURL: srv.URL + "/oauth/token",
				AuthStyle: oauth2.AuthStyleInHeader},
			RedirectURL: cb.srv.URL + "/callback", Scopes: []string{"openid", "profile"}}
		state, verifier := randomToken(), oauth2.GenerateVerifier()
		back := cb.expect(state)
		run(t, tab, "sign in to the app", chromedp.Navigate(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))))
		q := waitCallback(t, back)
		srv.Sensitive(q.Get("code"))
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.HTTPClient())
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		srv.Sensitive(tok.AccessToken, raw)
		provider, err := oidc.NewProvider(oidc.ClientContext(ctx, srv.HTTPClient()), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: client.ClientID}).Verify(oidc.ClientContext(ctx, srv.HTTPClient()), raw)
		if err != nil {
			t.Fatalf("go-oidc refuses the ID token: %v", err)
		}
		var claims map[string]any
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]any{"name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace",
			"locale": "en-GB", "zoneinfo": "Europe/London", "preferred_username": user} {
			if claims[k] != want {
				t.Errorf("ID token %s = %v, want %v", k, claims[k], want)
			}
		}
		if _, ok := claims["phone_number"]; ok {
			t.Errorf("phone_number without the phone scope: %v", claims)
		}
	})

	t.Run("ConnectedApps", func(t *testing.T) {
		t.Parallel()
		tab := newTab(t, browser, 800, 1100)
		cb := newCallback(t)
		user, _ := createUser(t, "brapps")
		name := uniqueName("Browser App ")
		client := srv.CreateClientJSON(t, "--name", name, "--redirect-uri", "http://127.0.0.1/callback")
		conf := &oauth2.Config{
			ClientID: client.ClientID, ClientSecret: client.ClientSecret,
			Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth/authorize", TokenURL: srv.URL + "/oauth/token",
				AuthStyle: oauth2.AuthStyleInHeader},
			RedirectURL: cb.srv.URL + "/callback",
			Scopes:      []string{"openid", "email", "offline_access"},
		}
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.HTTPClient())
		authorize := func() (url.Values, string) {
			state, verifier := randomToken(), oauth2.GenerateVerifier()
			back := cb.expect(state)
			run(t, tab, "open the authorization URL", chromedp.Navigate(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))))
			return waitOrConsent(t, tab, back), verifier
		}
		state, verifier := randomToken(), oauth2.GenerateVerifier()
		back := cb.expect(state)
		run(t, tab, "open the authorization URL", chromedp.Navigate(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))))
		login(t, tab, user, password)
		run(t, tab, "consent", chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
			chromedp.Click(chromedp.CSS(`button[value="allow"]`)))
		q := waitCallback(t, back)
		srv.Sensitive(q.Get("code"))
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("exchange: %v (refresh token %v)", err, tok != nil && tok.RefreshToken != "")
		}
		srv.Sensitive(tok.AccessToken, tok.RefreshToken)

		run(t, tab, "connected apps", chromedp.Navigate(srv.URL+"/account"),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/account/apps/revoke"] button`)))
		wantCardText(t, tab, "Connected apps", name, "See your email address")
		screenshot(t, tab, shots, "account-connected-apps")
		run(t, tab, "revoke", chromedp.Click(chromedp.CSS(`form[action="/account/apps/revoke"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`.alert-info`)))
		wantCardText(t, tab, name+" no longer has access to your account.", "No application has access to your account.")

		_, err = refresh(ctx, conf, tok.RefreshToken)
		if status, code := retrieveError(t, err); status != 400 || code != "invalid_grant" {
			t.Fatalf("refresh after revoking: %d %q, want 400 invalid_grant", status, code)
		}
		// The next authorization asks again.
		if q, _ := authorize(); q != nil {
			t.Fatalf("after revoking, the browser went straight back to the app: %v", q)
		}
	})
}

// waitOrConsent waits for the consent page (nil) or the browser's return to the app
// (its query), whichever comes first.
func waitOrConsent(t *testing.T, tab context.Context, back <-chan url.Values) url.Values {
	t.Helper()
	consent := make(chan error, 1)
	go func() {
		consent <- chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)))
	}()
	select {
	case q := <-back:
		return q
	case err := <-consent:
		if err != nil {
			t.Fatalf("neither the consent page nor the app: %v", err)
		}
		return nil
	case <-time.After(90 * time.Second):
		t.Fatal("neither the consent page nor the app")
		return nil
	}
}
