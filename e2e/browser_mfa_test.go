package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowser_MFA: in real Chromium a user sets up an authenticator app from the
// account page (the test reads the secret shown as text and computes the codes, as
// the app would), saves the recovery codes, signs out, signs in with password and
// code, and then with password and a recovery code. Screenshots of the new pages.
func TestBrowser_MFA(t *testing.T) {
	t.Parallel()
	browser := newChromium(t)
	shots := screenshotDir(t)
	srv, mx := mailServer(t, nil)
	user, pass, email, _ := mfaUser(t, srv)
	awayFromStepEdge(25 * time.Second)
	tab := newTab(t, browser, 800, 1000)
	signIn := func(what string) {
		t.Helper()
		run(t, tab, what,
			chromedp.Navigate(srv.URL+"/login"),
			chromedp.WaitVisible(chromedp.CSS(`#username`)),
			chromedp.SendKeys(chromedp.CSS(`#username`), user),
			chromedp.SendKeys(chromedp.CSS(`#password`), pass),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		)
	}
	signOut := func() {
		t.Helper()
		run(t, tab, "sign out",
			chromedp.Navigate(srv.URL+"/logout"),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
			chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/login"]`)),
		)
	}

	signIn("sign in with the password")
	run(t, tab, "open the setup",
		chromedp.WaitVisible(chromedp.CSS(`a[href="/account"]`)),
		chromedp.Navigate(srv.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/account/totp"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/account/totp"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#totp-secret`)),
		chromedp.WaitVisible(chromedp.CSS(`.qr img`)),
	)
	screenshot(t, tab, shots, "mfa-setup")
	secret, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`#totp-secret`)))
	if err != nil {
		t.Fatal(err)
	}
	secret = strings.TrimSpace(secret)
	srv.Sensitive(secret)
	// The QR code drew: an image loaded from the data: URI the CSP allows.
	width, err := chromedp.Run(tab, chromedp.EvaluateAsDevTools[int](`document.querySelector('.qr img').naturalWidth`))
	if err != nil || width < 100 {
		t.Fatalf("the QR code did not load: width %d, %v", width, err)
	}
	run(t, tab, "confirm with a code",
		// This step's code: the server takes it until the next step ends, at least 30 s
		// (the previous step's code, good only until this one ends, ran out once on a
		// slow machine while Chromium typed it).
		chromedp.SendKeys(chromedp.CSS(`#otp`), totpCode(t, secret, 0)),
		chromedp.Submit(chromedp.CSS(`#otp`)),
		chromedp.WaitVisible(chromedp.CSS(`#recovery-codes`)),
	)
	screenshot(t, tab, shots, "mfa-recovery-codes")
	codesText, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`#recovery-codes`)))
	if err != nil {
		t.Fatal(err)
	}
	codes := strings.Fields(codesText)
	if len(codes) != 10 {
		t.Fatalf("recovery codes shown: %q", codesText)
	}
	srv.Sensitive(codes...)
	waitMail(t, mx, email, "An authenticator app was added to your account")
	run(t, tab, "back to the account", chromedp.Click(chromedp.CSS(`a.btn-primary`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/account/totp/remove"]`)))
	wantCardText(t, tab, "10 recovery codes left")
	signOut()

	signIn("sign in again: the password")
	run(t, tab, "the second step", chromedp.WaitVisible(chromedp.CSS(`#otp`)))
	screenshot(t, tab, shots, "mfa-login")
	run(t, tab, "the code",
		// The next step's code: later than the one that confirmed the app, as a code of
		// a step already used is refused, and taken for the next minute at least.
		chromedp.SendKeys(chromedp.CSS(`#otp`), totpCode(t, secret, 1)),
		chromedp.Submit(chromedp.CSS(`#otp`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/account"]`)),
	)
	wantCardText(t, tab, "Welcome, "+user)
	signOut()

	signIn("sign in with a recovery code")
	run(t, tab, "the recovery code",
		chromedp.WaitVisible(chromedp.CSS(`#recovery_code`)),
		chromedp.SendKeys(chromedp.CSS(`#recovery_code`), codes[0]),
		chromedp.Submit(chromedp.CSS(`#recovery_code`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/account"]`)),
	)
	wantCardText(t, tab, "Welcome, "+user)
	signOut()

	signIn("the same recovery code again")
	run(t, tab, "refused",
		chromedp.WaitVisible(chromedp.CSS(`#recovery_code`)),
		chromedp.SendKeys(chromedp.CSS(`#recovery_code`), codes[0]),
		chromedp.Submit(chromedp.CSS(`#recovery_code`)),
		chromedp.WaitVisible(chromedp.CSS(`#recovery_code-error`)),
	)
	screenshot(t, tab, shots, "mfa-login-error")
	wantCardText(t, tab, "That code is not right, or was already used.")

	// The second step at phone size.
	phone := newTab(t, browser, 390, 844)
	run(t, phone, "the second step on a phone",
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), user),
		chromedp.SendKeys(chromedp.CSS(`#password`), pass),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#otp`)),
	)
	screenshot(t, phone, shots, "mfa-login-phone")
}
