package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"gatehouse/adapter/mail/smtptest"
)

// Passkeys in real Chromium, with the DevTools virtual authenticator (CTAP2, internal
// transport, resident keys, user verification) standing for the platform's. The
// server's issuer is http://localhost:PORT: WebAuthn needs a domain as relying party
// id, and browsers allow plain http only on localhost.

// addAuthenticator enables the WebAuthn domain in tab and adds a virtual platform
// authenticator whose credentials are synced (backup eligible and backed up) when
// synced is true.
func addAuthenticator(t *testing.T, tab context.Context, synced bool) webauthn.AuthenticatorID {
	t.Helper()
	id, err := chromedp.Run(tab, chromedp.Action[webauthn.AuthenticatorID](
		func(ctx context.Context, tg *chromedp.Target) (webauthn.AuthenticatorID, error) {
			if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
				return "", err
			}
			res, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
				Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
					Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
					HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
					DefaultBackupEligibility: synced, DefaultBackupState: synced}})
			return res.AuthenticatorID, err
		}))
	if err != nil {
		t.Fatalf("virtual authenticator: %v", err)
	}
	return id
}

// presence makes the authenticator's tests of user presence succeed at once (on) or
// never: a page's conditional request (the username field's autofill) then waits.
func presence(t *testing.T, tab context.Context, auth webauthn.AuthenticatorID, on bool) {
	t.Helper()
	err := chromedp.Do(tab, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, webauthn.SetAutomaticPresenceSimulation,
			webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: auth, Enabled: on})
		return chromedp.Void{}, err
	})
	if err != nil {
		t.Fatalf("presence simulation: %v", err)
	}
}

// badUV makes the authenticator's answers say the user was not verified (the UV flag
// off), whatever the request asked.
func badUV(t *testing.T, tab context.Context, auth webauthn.AuthenticatorID, on bool) {
	t.Helper()
	err := chromedp.Do(tab, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, webauthn.SetResponseOverrideBits,
			webauthn.SetResponseOverrideBitsParams{AuthenticatorID: auth, IsBadUV: &on})
		return chromedp.Void{}, err
	})
	if err != nil {
		t.Fatalf("override the UV flag: %v", err)
	}
}

// credentials are the credentials the virtual authenticator holds.
func credentials(t *testing.T, tab context.Context, auth webauthn.AuthenticatorID) []*webauthn.Credential {
	t.Helper()
	res, err := chromedp.Run(tab, chromedp.Action[webauthn.GetCredentialsResult](
		func(ctx context.Context, tg *chromedp.Target) (webauthn.GetCredentialsResult, error) {
			return cdp.Call(ctx, tg, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth})
		}))
	if err != nil {
		t.Fatalf("get credentials: %v", err)
	}
	return res.Credentials
}

// addCredential is WebAuthn.addCredential without the fields of extensions the
// virtual authenticator lacks (cdproto always sends generateCmtgKeyOnNextOperation).
var addCredential = cdp.Command[addCredentialParams, cdp.Empty]{Method: webauthn.CommandAddCredential}

type addCredentialParams struct {
	AuthenticatorID webauthn.AuthenticatorID `json:"authenticatorId"`
	Credential      plainCredential          `json:"credential"`
}

type plainCredential struct {
	CredentialID         []byte  `json:"credentialId"`
	IsResidentCredential bool    `json:"isResidentCredential"`
	RpID                 string  `json:"rpId"`
	PrivateKey           []byte  `json:"privateKey"`
	UserHandle           []byte  `json:"userHandle,omitempty"`
	SignCount            float64 `json:"signCount"`
	BackupEligibility    bool    `json:"backupEligibility"`
	BackupState          bool    `json:"backupState"`
}

// replaceCredentials makes creds the only credentials of the authenticator.
func replaceCredentials(t *testing.T, tab context.Context, auth webauthn.AuthenticatorID, creds ...*webauthn.Credential) {
	t.Helper()
	err := chromedp.Do(tab, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, tg, webauthn.ClearCredentials, webauthn.ClearCredentialsParams{AuthenticatorID: auth}); err != nil {
			return chromedp.Void{}, err
		}
		for _, c := range creds {
			p := addCredentialParams{AuthenticatorID: auth, Credential: plainCredential{CredentialID: c.CredentialID,
				IsResidentCredential: c.IsResidentCredential, RpID: c.RpID, PrivateKey: c.PrivateKey, UserHandle: c.UserHandle,
				SignCount: c.SignCount, BackupEligibility: c.BackupEligibility, BackupState: c.BackupState}}
			if _, err := cdp.Call(ctx, tg, addCredential, p); err != nil {
				return chromedp.Void{}, err
			}
		}
		return chromedp.Void{}, nil
	})
	if err != nil {
		t.Fatalf("replace credentials: %v", err)
	}
}

// assertJS asks the browser for an assertion to the ceremony of the page's
// #passkey-form, as webauthn.js does but for the credential allow (base64url) when
// given, writes the answer into the form's credential input without posting it, and
// returns it.
func assertJS(allow string) string {
	return fmt.Sprintf(`(async () => {
  const dec = s => { s = s.replace(/-/g, '+').replace(/_/g, '/'); while (s.length %% 4) s += '='; return Uint8Array.from(atob(s), c => c.charCodeAt(0)); };
  const enc = b => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const f = document.querySelector('#passkey-form');
  const pk = JSON.parse(f.getAttribute('data-options')).publicKey;
  pk.challenge = dec(pk.challenge);
  pk.allowCredentials = (pk.allowCredentials || []).map(d => ({type: d.type, id: dec(d.id)}));
  if (%q !== '') pk.allowCredentials = [{type: 'public-key', id: dec(%q)}];
  const c = await navigator.credentials.get({publicKey: pk});
  const r = c.response;
  const out = JSON.stringify({id: c.id, rawId: enc(c.rawId), type: c.type, clientExtensionResults: {},
    response: {clientDataJSON: enc(r.clientDataJSON), authenticatorData: enc(r.authenticatorData), signature: enc(r.signature),
      userHandle: r.userHandle ? enc(r.userHandle) : undefined}});
  f.querySelector('input[name=credential]').value = out;
  return out;
})()`, allow, allow)
}

// formValues reads the fields of the page's form sel.
func formValues(t *testing.T, tab context.Context, sel string) url.Values {
	t.Helper()
	m, err := chromedp.Run(tab, chromedp.Evaluate[map[string]string](fmt.Sprintf(
		`Object.fromEntries(new FormData(document.querySelector(%q)))`, sel)))
	if err != nil {
		t.Fatalf("read the form: %v", err)
	}
	v := url.Values{}
	for k, x := range m {
		v.Set(k, x)
	}
	return v
}

// browserCookies are the tab's cookies for u, as a header.
func browserCookies(t *testing.T, tab context.Context, u string) string {
	t.Helper()
	res, err := chromedp.Run(tab, chromedp.Action[network.GetCookiesResult](
		func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
			return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
		}))
	if err != nil {
		t.Fatalf("cookies: %v", err)
	}
	var parts []string
	for _, c := range res.Cookies {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// TestSecurity_S51_Passkeys: WebAuthn in real Chromium (WebAuthn L2 §7). A user adds
// a passkey on /account (a fresh sign-in; mailed; audited; its synced flag shown),
// steps a password session up to acr phr with it, signs out and signs in with the
// passkey alone through an authorization-code flow (amr hwk user mfa, acr phr), and
// with password then passkey (amr pwd hwk mfa). Refused and audited: a credential of
// another user on the second-factor page, a credential whose user handle names
// another user, a captured assertion posted twice (the challenge is single use), and
// a signature counter that went back. Screenshots of the pages.
func TestSecurity_S51_Passkeys(t *testing.T) {
	t.Parallel()
	browser := newChromium(t)
	shots := screenshotDir(t)
	mx := smtptest.Start(t, smtptest.Options{})
	srv := startServer(t, Options{Localhost: true, Env: map[string]string{"GATEHOUSE_SMTP_URL": mx.URL()}})
	cb := newCallback(t)
	ada, adaPass, adaEmail, adaID := mfaUser(t, srv)
	bob, bobPass, bobEmail, bobID := mfaUser(t, srv)
	client := srv.CreateClientJSON(t, "--redirect-uri", "http://127.0.0.1/callback", "--skip-consent")

	conf := &oauth2.Config{ClientID: client.ClientID, ClientSecret: client.ClientSecret,
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth/authorize", TokenURL: srv.URL + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL: cb.srv.URL + "/callback", Scopes: []string{"openid"}}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.HTTPClient())
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, srv.HTTPClient()), srv.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: client.ClientID})
	type request struct {
		URL, State, Verifier string
		Back                 <-chan url.Values
	}
	newRequest := func(extra ...oauth2.AuthCodeOption) request {
		r := request{State: randomToken(), Verifier: oauth2.GenerateVerifier()}
		r.URL = conf.AuthCodeURL(r.State, append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(r.Verifier)}, extra...)...)
		r.Back = cb.expect(r.State)
		return r
	}
	type claims struct {
		Sub string   `json:"sub"`
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	finish := func(r request) claims {
		t.Helper()
		q := waitCallback(t, r.Back)
		if q.Get("code") == "" {
			t.Fatalf("callback without a code: %v", q)
		}
		srv.Sensitive(q.Get("code"))
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(r.Verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		srv.Sensitive(tok.AccessToken)
		raw, _ := tok.Extra("id_token").(string)
		idt, err := verifier.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("ID token: %v", err)
		}
		var c claims
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	wantMethods := func(c claims, user string, amr []string) {
		t.Helper()
		if c.Sub != user || !slices.Equal(c.AMR, amr) || c.ACR != "phr" {
			t.Fatalf("ID token sub %s amr %v acr %q; want %s %v phr", c.Sub, c.AMR, c.ACR, user, amr)
		}
	}
	password := func(tab context.Context, what, user, pass string) {
		t.Helper()
		run(t, tab, what,
			chromedp.WaitVisible(chromedp.CSS(`#username`)),
			chromedp.SendKeys(chromedp.CSS(`#username`), user),
			chromedp.SendKeys(chromedp.CSS(`#password`), pass),
			chromedp.Submit(chromedp.CSS(`#password`)),
		)
	}
	addPasskey := func(tab context.Context, name string) {
		t.Helper()
		run(t, tab, "add a passkey",
			chromedp.Navigate(srv.URL+"/account"),
			chromedp.WaitVisible(chromedp.CSS(`#passkey-add`)),
			chromedp.SendKeys(chromedp.CSS(`#passkey_name`), name),
			chromedp.Click(chromedp.CSS(`#passkey-add button`)),
			chromedp.WaitVisible(chromedp.CSS(`.alert-info`)),
		)
		wantCardText(t, tab, "Your passkey \u201c"+name+"\u201d was added", name)
	}

	// The password grant gives Ada tokens until she adds a passkey (SECURITY S50).
	pwClient, _, _ := newPasswordClient(t, srv)
	passwordToken(t, srv, srv.HTTPClient(), pwClient, ada, adaPass)

	// Ada signs in with her password and adds a passkey (a synced one).
	tab := newTab(t, browser, 800, 1000)
	adaAuth := addAuthenticator(t, tab, true)
	run(t, tab, "ada's login page", chromedp.Navigate(srv.URL+"/login"))
	password(tab, "ada signs in with her password", ada, adaPass)
	run(t, tab, "home", chromedp.WaitVisible(chromedp.CSS(`a[href="/account"]`)))
	signedIn := signIns(t, srv, adaID)
	addPasskey(tab, "Ada's laptop")
	wantCardText(t, tab, "Synced", "never used")
	if n := signIns(t, srv, adaID); n != signedIn {
		t.Errorf("%d sign-ins audited after adding a passkey, want still %d: adding one is no sign-in", n, signedIn)
	}
	screenshot(t, tab, shots, "passkeys-account")
	waitMail(t, mx, adaEmail, "A passkey was added to your account")
	if e, ok := findEvent(auditList(t, srv, "--user", adaID), "user.mfa.enrolled", ""); !ok ||
		e.Details["factor"] != "passkey" {
		t.Fatalf("no audit event of the enrolment: %+v", e)
	}
	// The console lists the passkey among Ada's second factors, with the reset.
	_, adminName, adminPass := newConsoleAdmin(t, srv)
	page := consoleSignIn(t, newAZBrowser(t, srv), "/admin/users/"+adaID, adminName, adminPass)
	wantConsolePage(t, "ada's page in the console", page, "Passkeys: Ada&#39;s laptop")
	if !strings.Contains(string(page.Body), `action="/admin/users/`+adaID+`/reset-mfa"`) {
		t.Errorf("ada's page in the console offers no reset of her passkey:\n%s", page.Body)
	}
	creds := credentials(t, tab, adaAuth)
	if len(creds) != 1 || !creds[0].IsResidentCredential || string(creds[0].UserHandle) != adaID {
		t.Fatalf("the authenticator holds %+v, want one discoverable credential of %s", creds, adaID)
	}
	adaCred := creds[0]
	wantPasswordGrantRefused(t, srv, pwClient, ada, adaPass, "the account signs in with a second factor")

	// Step-up: the session signed in with the password, and counts as one with a
	// second factor since it added the passkey (amr pwd, mfa), but not as a sign-in
	// with the passkey: an application asking for phr gets the passkey asked for,
	// then acr phr.
	r := newRequest(oauth2.SetAuthURLParam("acr_values", "phr"))
	run(t, tab, "step-up to phr", chromedp.Navigate(r.URL), chromedp.WaitVisible(chromedp.CSS(`#passkey-verify`)))
	wantCardText(t, tab, "phishing-resistant")
	run(t, tab, "the passkey", chromedp.Click(chromedp.CSS(`#passkey-verify`)))
	wantMethods(finish(r), adaID, []string{"pwd", "mfa", "hwk"})

	// Passwordless, through an authorization-code flow.
	run(t, tab, "sign out", chromedp.Navigate(srv.URL+"/logout"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/login"]`)))
	presence(t, tab, adaAuth, false)
	r = newRequest()
	run(t, tab, "the login page offers passkeys", chromedp.Navigate(r.URL), chromedp.WaitVisible(chromedp.CSS(`#passkey-signin`)))
	ac, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('#username').getAttribute('autocomplete')`))
	if err != nil || ac != "username webauthn" {
		t.Fatalf("username autocomplete %q, %v; want conditional UI", ac, err)
	}
	screenshot(t, tab, shots, "passkeys-login")
	presence(t, tab, adaAuth, true)
	run(t, tab, "sign in with the passkey", chromedp.Click(chromedp.CSS(`#passkey-signin`)))
	wantMethods(finish(r), adaID, []string{"hwk", "user", "mfa"})

	// The password, then the passkey as the second factor.
	phone := newTab(t, browser, 390, 844)
	phoneAuth := addAuthenticator(t, phone, false)
	presence(t, phone, phoneAuth, false)
	r = newRequest()
	second := newTab(t, browser, 800, 1000)
	secondAuth := addAuthenticator(t, second, true)
	// The same passkey, synced to the new browser (with its counter as it is now).
	adaCred = credentials(t, tab, adaAuth)[0]
	replaceCredentials(t, second, secondAuth, adaCred)
	presence(t, second, secondAuth, false)
	run(t, second, "a new browser", chromedp.Navigate(r.URL))
	password(second, "ada's password", ada, adaPass)
	run(t, second, "the second step offers the passkey", chromedp.WaitVisible(chromedp.CSS(`#passkey-verify`)))
	screenshot(t, second, shots, "passkeys-mfa")
	presence(t, second, secondAuth, true)
	run(t, second, "the passkey", chromedp.Click(chromedp.CSS(`#passkey-verify`)))
	wantMethods(finish(r), adaID, []string{"pwd", "hwk", "mfa"})

	// Ada also sets up an authenticator app. Signed in with password and code (acr
	// mfa), an application asking for phr gets the passkey asked for, and nothing
	// else offered: the code is not enough.
	awayFromStepEdge(25 * time.Second)
	run(t, second, "set up the app", chromedp.Navigate(srv.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/account/totp"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/account/totp"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#totp-secret`)))
	secret, err := chromedp.Run(second, chromedp.Text(chromedp.CSS(`#totp-secret`)))
	if err != nil {
		t.Fatal(err)
	}
	secret = strings.TrimSpace(secret)
	srv.Sensitive(secret)
	run(t, second, "confirm the app",
		chromedp.SendKeys(chromedp.CSS(`#otp`), totpCode(t, secret, 0)), // good for 30 s at least
		chromedp.Submit(chromedp.CSS(`#otp`)),
		chromedp.WaitVisible(chromedp.CSS(`#recovery-codes`)))
	recoveryCodes, err := chromedp.Run(second, chromedp.Text(chromedp.CSS(`#recovery-codes`)))
	if err != nil {
		t.Fatal(err)
	}
	run(t, second, "sign out",
		chromedp.Navigate(srv.URL+"/logout"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/login"]`)))
	presence(t, second, secondAuth, false)
	run(t, second, "sign in with password and code", chromedp.Navigate(srv.URL+"/login"))
	password(second, "ada's password", ada, adaPass)
	run(t, second, "the second step offers both", chromedp.WaitVisible(chromedp.CSS(`#passkey-verify`)),
		chromedp.WaitVisible(chromedp.CSS(`#otp`)))
	screenshot(t, second, shots, "passkeys-mfa-with-app")
	// A later step than the confirmation's (a used step is refused), good for a minute.
	run(t, second, "the code", chromedp.SendKeys(chromedp.CSS(`#otp`), totpCode(t, secret, 1)),
		chromedp.Submit(chromedp.CSS(`#otp`)), chromedp.WaitVisible(chromedp.CSS(`a[href="/account"]`)))
	presence(t, second, secondAuth, true)
	r = newRequest(oauth2.SetAuthURLParam("acr_values", "phr"))
	run(t, second, "phr asked of an mfa session", chromedp.Navigate(r.URL), chromedp.WaitVisible(chromedp.CSS(`#passkey-verify`)))
	if none, err := chromedp.Run(second, chromedp.Evaluate[bool](`document.querySelector('#otp') === null && document.querySelector('#recovery_code') === null`)); err != nil || !none {
		t.Fatalf("a phr step-up offers the authenticator app too (%v)", err)
	}
	run(t, second, "the passkey", chromedp.Click(chromedp.CSS(`#passkey-verify`)))
	wantMethods(finish(r), adaID, []string{"pwd", "otp", "mfa", "hwk"})
	run(t, phone, "the second step on a phone", chromedp.Navigate(srv.URL+"/login"))
	password(phone, "ada's password on the phone", ada, adaPass)
	run(t, phone, "the passkey button", chromedp.WaitVisible(chromedp.CSS(`#passkey-verify`)))
	screenshot(t, phone, shots, "passkeys-mfa-phone")
	run(t, phone, "the login page on a phone", chromedp.Navigate(srv.URL+"/login"), chromedp.WaitVisible(chromedp.CSS(`#passkey-signin`)))
	screenshot(t, phone, shots, "passkeys-login-phone")

	// Bob, with a passkey of his own, signs in with his password; on his second
	// step the browser answers with Ada's credential: refused.
	bobTab := newTab(t, browser, 800, 1000)
	bobAuth := addAuthenticator(t, bobTab, false)
	run(t, bobTab, "bob's login page", chromedp.Navigate(srv.URL+"/login"))
	password(bobTab, "bob signs in", bob, bobPass)
	run(t, bobTab, "home", chromedp.WaitVisible(chromedp.CSS(`a[href="/account"]`)))
	addPasskey(bobTab, "Bob's key")
	presence(t, bobTab, bobAuth, false)
	wantCardText(t, bobTab, "This device only")
	screenshot(t, bobTab, shots, "passkeys-account-device-only")
	run(t, bobTab, "account on a phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(srv.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`#passkey-add`)))
	screenshot(t, bobTab, shots, "passkeys-account-phone")
	run(t, bobTab, "back to desktop", chromedp.EmulateViewport(800, 1000))
	bobCred := credentials(t, bobTab, bobAuth)[0]
	replaceCredentials(t, bobTab, bobAuth, bobCred, adaCred)
	run(t, bobTab, "sign out", chromedp.Navigate(srv.URL+"/logout"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/login"]`)),
		chromedp.Navigate(srv.URL+"/login"))
	password(bobTab, "bob's password", bob, bobPass)
	run(t, bobTab, "bob's second step", chromedp.WaitVisible(chromedp.CSS(`#passkey-verify`)))
	presence(t, bobTab, bobAuth, true)
	if _, err := chromedp.Run(bobTab, chromedp.Evaluate[string](assertJS(base64.RawURLEncoding.EncodeToString(adaCred.CredentialID)),
		chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("assert with ada's credential: %v", err)
	}
	run(t, bobTab, "post ada's assertion as bob", chromedp.Submit(chromedp.CSS(`#passkey-form button`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-error`)))
	wantCardText(t, bobTab, "That passkey was not accepted")
	if _, ok := findEvent(auditList(t, srv, "--user", bobID), "user.login.failed", "passkey_wrong_user"); !ok {
		t.Fatal("no audit event for another user's passkey")
	}

	// Passwordless: Ada's credential whose user handle says Bob signs in nobody.
	forged := *adaCred
	forged.UserHandle = []byte(bobID)
	replaceCredentials(t, bobTab, bobAuth, &forged)
	// (The autofill's conditional request answers at once: the virtual authenticator
	// needs no one to pick the passkey.)
	run(t, bobTab, "a forged user handle", chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`.alert-error`)))
	wantCardText(t, bobTab, "That passkey was not accepted")
	screenshot(t, bobTab, shots, "passkeys-login-error")

	// A captured assertion posted twice: the second finds its challenge used.
	replaceCredentials(t, bobTab, bobAuth, bobCred)
	presence(t, bobTab, bobAuth, false)
	run(t, bobTab, "bob's second step again", chromedp.Navigate(srv.URL+"/login"))
	password(bobTab, "bob's password", bob, bobPass)
	run(t, bobTab, "the passkey button", chromedp.WaitVisible(chromedp.CSS(`#passkey-verify`)))
	presence(t, bobTab, bobAuth, true)
	if _, err := chromedp.Run(bobTab, chromedp.Evaluate[string](assertJS(""), chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("assert: %v", err)
	}
	body := formValues(t, bobTab, `#passkey-form`).Encode()
	cookies := browserCookies(t, bobTab, srv.URL)
	post := func() Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/login/mfa", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", cookies)
		return srv.Do(t, srv.HTTPClient(), req)
	}
	if first := post(); first.Status != http.StatusSeeOther {
		t.Fatalf("the captured assertion, first post: %d\n%.500s", first.Status, first.Body)
	}
	if again := post(); again.Status != http.StatusBadRequest || !strings.Contains(string(again.Body), "That passkey was not accepted") {
		t.Fatalf("the captured assertion replayed: %d\n%.500s", again.Status, again.Body)
	}
	if _, ok := findEvent(auditList(t, srv, "--user", bobID), "user.login.failed", "passkey_replayed"); !ok {
		t.Fatal("no audit event for the replayed assertion")
	}

	// Without a password the authenticator must verify the user: an answer without
	// the UV flag is refused.
	badUV(t, bobTab, bobAuth, true)
	run(t, bobTab, "a passkey without user verification", chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`.alert-error`)))
	wantCardText(t, bobTab, "That passkey was not accepted")
	badUV(t, bobTab, bobAuth, false)

	// A signature counter that went back (a cloned authenticator): refused, reported.
	used := credentials(t, tab, adaAuth)[0]
	if used.SignCount < 1 {
		t.Fatalf("ada's credential counter %v after sign-ins", used.SignCount)
	}
	cloned := *used
	cloned.SignCount = 0
	replaceCredentials(t, tab, adaAuth, &cloned)
	run(t, tab, "sign out", chromedp.Navigate(srv.URL+"/logout"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/login"]`)))
	run(t, tab, "a cloned passkey", chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`.alert-error`)))
	wantCardText(t, tab, "That passkey was not accepted")
	if _, ok := findEvent(auditList(t, srv, "--user", adaID), "user.login.failed", "passkey_counter_regression"); !ok {
		t.Fatal("no audit event for the counter that went back")
	}
	if !strings.Contains(srv.Log(), "passkey signature counter went back") {
		t.Fatal("the server log does not report the counter that went back")
	}

	// Bob removes his passkey (a fresh sign-in: password and the passkey); then the
	// password alone signs him in again. Mailed and audited.
	presence(t, bobTab, bobAuth, false)
	run(t, bobTab, "bob signs in", chromedp.Navigate(srv.URL+"/login"))
	password(bobTab, "bob's password", bob, bobPass)
	run(t, bobTab, "bob's second step", chromedp.WaitVisible(chromedp.CSS(`#passkey-verify`)))
	presence(t, bobTab, bobAuth, true)
	run(t, bobTab, "the passkey", chromedp.Click(chromedp.CSS(`#passkey-verify`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/account"]`)),
		chromedp.Navigate(srv.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/account/passkeys/remove"] button`)))
	wantCardText(t, bobTab, "Bob's key", "last used")
	run(t, bobTab, "remove the passkey", chromedp.Click(chromedp.CSS(`form[action="/account/passkeys/remove"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-info`)))
	wantCardText(t, bobTab, "The passkey was removed", "You have no passkey yet")
	waitMail(t, mx, bobEmail, "A passkey was removed from your account")
	if e, ok := findEvent(auditList(t, srv, "--user", bobID), "user.mfa.removed", ""); !ok || e.Details["factor"] != "passkey" {
		t.Fatalf("no audit event of the removal: %+v", e)
	}
	presence(t, bobTab, bobAuth, false)
	run(t, bobTab, "sign out", chromedp.Navigate(srv.URL+"/logout"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/login"]`)),
		chromedp.Navigate(srv.URL+"/login"))
	password(bobTab, "the password alone", bob, bobPass)
	run(t, bobTab, "signed in", chromedp.WaitVisible(chromedp.CSS(`a[href="/account"]`)))

	// A client that requires a second step, and Carol, who has none: she adds a
	// passkey inside the sign-in, uses it at once, and the client gets acr phr.
	carol, carolPass, carolEmail, carolID := mfaUser(t, srv)
	strict := srv.CreateClientJSON(t, "--redirect-uri", "http://127.0.0.1/callback", "--skip-consent", "--require-mfa")
	strictConf := *conf
	strictConf.ClientID, strictConf.ClientSecret = strict.ClientID, strict.ClientSecret
	carolTab := newTab(t, browser, 800, 1000)
	carolAuth := addAuthenticator(t, carolTab, false)
	presence(t, carolTab, carolAuth, false)
	st := request{State: randomToken(), Verifier: oauth2.GenerateVerifier()}
	st.URL = strictConf.AuthCodeURL(st.State, oauth2.S256ChallengeOption(st.Verifier))
	st.Back = cb.expect(st.State)
	run(t, carolTab, "a client requiring a second step", chromedp.Navigate(st.URL))
	password(carolTab, "carol's password", carol, carolPass)
	run(t, carolTab, "set up a second step", chromedp.WaitVisible(chromedp.CSS(`#passkey-add`)))
	screenshot(t, carolTab, shots, "passkeys-mfa-enrol")
	presence(t, carolTab, carolAuth, true)
	run(t, carolTab, "add a passkey there", chromedp.SendKeys(chromedp.CSS(`#passkey_name`), "Carol's phone"),
		chromedp.Click(chromedp.CSS(`#passkey-add button`)),
		chromedp.WaitVisible(chromedp.CSS(`#passkey-verify`)),
		chromedp.Click(chromedp.CSS(`#passkey-verify`)))
	q := waitCallback(t, st.Back)
	srv.Sensitive(q.Get("code"))
	tok, err := strictConf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	srv.Sensitive(tok.AccessToken)
	idt, err := provider.Verifier(&oidc.Config{ClientID: strict.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var cc claims
	if err := idt.Claims(&cc); err != nil {
		t.Fatal(err)
	}
	wantMethods(cc, carolID, []string{"pwd", "hwk", "mfa"})

	// Ada resets her password. Her sessions end, but her passkey still signs her in
	// without it: the page after the reset names it, in case someone with the stolen
	// password added it. She has an authenticator app, which stays her second step.
	done := submitLinkForm(t, newAZBrowser(t, srv), resetLinkFor(t, srv, mx, adaEmail), "/reset-password",
		url.Values{"password": {"a brand new password"}, "password_confirm": {"a brand new password"}})
	wantPageText(t, done, http.StatusOK, "What still signs you in", "the passkey \u201cAda&#39;s laptop\u201d, added",
		"If there is one you did not add")
	if strings.Contains(string(done.Body), "administrator") {
		t.Errorf("Ada, who has an authenticator app, is sent to an administrator:\n%s", done.Body)
	}

	// Carol has only her passkey: it is also the second step of her password sign-in,
	// so one she could not use would keep her off her account page; the page says who
	// can help.
	link := resetLinkFor(t, srv, mx, carolEmail)
	run(t, carolTab, "carol's reset link", chromedp.Navigate(srv.URL+link),
		chromedp.WaitVisible(chromedp.CSS(`#password_confirm`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), "a brand new password"),
		chromedp.SendKeys(chromedp.CSS(`#password_confirm`), "a brand new password"),
		chromedp.Submit(chromedp.CSS(`#password_confirm`)),
		chromedp.WaitVisible(chromedp.CSS(`ul.still-signs-in`)))
	wantCardText(t, carolTab, "Your password was changed", "What still signs you in", "the passkey \u201cCarol's phone\u201d, added",
		"If there is one you did not add", "asks for one of these passkeys as a second step", "ask your administrator to reset your second factors")
	screenshot(t, carolTab, shots, "passkeys-after-reset")

	// Ada, signed in with her new password and a recovery code, removes her
	// authenticator app: her passkey stays her second step, and the page and the mail
	// say so, not that the password alone now signs her in; the event names the factor.
	codes := regexp.MustCompile(`[a-z2-7]{5}-[a-z2-7]{5}`).FindAllString(recoveryCodes, -1)
	if len(codes) == 0 {
		t.Fatalf("no recovery code read from %q", recoveryCodes)
	}
	srv.Sensitive(codes...)
	hb := newAZBrowser(t, srv)
	r2 := hb.logIn("/login", ada, "a brand new password")
	if loc := r2.Header.Get("Location"); r2.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login/mfa") {
		t.Fatalf("ada's password: %d %q, want the second step", r2.Status, loc)
	}
	if r2 = secondFactor(t, hb, r2.Header.Get("Location"), "recovery_code", codes[0]); r2.Status != http.StatusSeeOther {
		t.Fatalf("ada's recovery code: %d\n%s", r2.Status, r2.Body)
	}
	csrf, _ := hb.openForm("/account")
	wantPageText(t, hb.post("/account/totp/remove", url.Values{"csrf_token": {csrf}}), http.StatusOK,
		"Signing in still asks for one of your passkeys after your password.")
	if m := waitMail(t, mx, adaEmail, "The authenticator app was removed from your account"); !strings.Contains(m.Text, "one of your passkeys") ||
		strings.Contains(m.Text, "only for your password") {
		t.Errorf("the mail of the removal says:\n%s", m.Text)
	}
	if e, ok := findEvent(auditList(t, srv, "--user", adaID), "user.mfa.removed", ""); !ok || e.Details["factor"] != "totp" {
		t.Errorf("the removal's audit event: %+v, want factor totp", e)
	}
	if r2 = newAZBrowser(t, srv).logIn("/login", ada, "a brand new password"); !strings.HasPrefix(r2.Header.Get("Location"), "/login/mfa") {
		t.Errorf("after the app's removal the password alone signs ada in: %d %q", r2.Status, r2.Header.Get("Location"))
	}
}

// TestPasskeys_UnavailableIsAFormError: on a server whose issuer allows no passkeys
// (http, not localhost) a posted passkey is a 400 on the account page saying so, in
// the page's language, not a 500.
func TestPasskeys_UnavailableIsAFormError(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	name, pass := uniqueName("nopasskey"), "pw-"+randomString(16)
	srv.CreateUser(t, name, pass)
	b := newAZBrowser(t, srv)
	b.logIn("/login", name, pass)
	csrf, _ := b.openForm("/account")
	r := b.post("/account/passkeys", url.Values{"csrf_token": {csrf}, "passkey_name": {"x"}, "current_password": {pass}})
	wantPageText(t, r, http.StatusBadRequest, "Passkeys are not available on this server.")
	csrf, _ = b.openForm("/account?lang=de")
	r = b.post("/account/passkeys", url.Values{"csrf_token": {csrf}, "passkey_name": {"x"}})
	wantPageText(t, r, http.StatusBadRequest, "Passkeys sind auf diesem Server nicht verfügbar.")
}
