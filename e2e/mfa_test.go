package e2e

import (
	"bytes"
	"context"
	"encoding/base32"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"gatehouse/adapter/mail/smtptest"
	"gatehouse/domain"
)

var (
	totpSecretRE   = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`)
	totpURIRE      = regexp.MustCompile(`<code id="totp-uri">([^<]+)</code>`)
	recoveryCodeRE = regexp.MustCompile(`<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>`)
)

// mfaUser creates a user with an email address and returns its name, password and id.
func mfaUser(t *testing.T, srv *Server) (user, pass, email, id string) {
	t.Helper()
	user, pass = uniqueName("mfa"), "pw-"+randomString(16)
	email = user + "@example.com"
	srv.Sensitive(pass)
	var u struct {
		ID string `json:"id"`
	}
	srv.CLIJSON(t, &u, pass+"\n", "users", "create", "--username", user, "--email", email, "--password-stdin")
	return user, pass, email, u.ID
}

// totpCode is the authenticator app's code for the step `steps` away from now.
func totpCode(t testing.TB, secret string, steps int) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, time.Now().Add(time.Duration(steps)*30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// awayFromStepEdge waits, when a 30-second step ends within need, for the next one,
// so that codes computed now stay in the server's window for the test's duration.
func awayFromStepEdge(need time.Duration) {
	left := 30*time.Second - time.Duration(time.Now().UnixNano()%int64(30*time.Second))
	if left < need {
		time.Sleep(left + 100*time.Millisecond)
	}
}

// enrolTOTP sets up the authenticator app from /account of a signed-in browser (the
// password given when the page asks for it) and returns the secret shown as text and
// the recovery codes. The code that confirms it is the previous step's, so the
// current and next steps remain for sign-ins.
func enrolTOTP(t *testing.T, b *azBrowser, password string) (string, []string) {
	t.Helper()
	csrf, _ := b.openForm("/account")
	page := b.post("/account/totp", url.Values{"csrf_token": {csrf}, "current_password": {password}})
	wantPageText(t, page, http.StatusOK, "Set up an authenticator app")
	body := string(page.Body)
	m := totpSecretRE.FindStringSubmatch(body)
	tok := tokenFieldRE.FindStringSubmatch(body)
	if m == nil || tok == nil || !strings.Contains(body, `src="data:image/png;base64,`) || !strings.Contains(body, "otpauth://totp/") {
		t.Fatalf("the setup page lacks the QR code, the secret or the otpauth URI\n%s", body)
	}
	secret := m[1]
	b.srv.Sensitive(secret)
	if _, _, uriSecret := totpURIParts(t, page.Body); uriSecret != secret {
		t.Fatalf("the otpauth URI holds another secret than the page")
	}
	csrf, _ = azFormFields(t, page)
	wrong := b.post("/account/totp/confirm", url.Values{"csrf_token": {csrf}, "token": {tok[1]}, "otp": {wrongCode(t, secret)}})
	wantPageText(t, wrong, http.StatusBadRequest, `id="otp-error"`)
	done := b.post("/account/totp/confirm", url.Values{"csrf_token": {csrf}, "token": {tok[1]}, "otp": {totpCode(t, secret, -1)}})
	wantPageText(t, done, http.StatusOK, "Save your recovery codes")
	var codes []string
	for _, m := range recoveryCodeRE.FindAllStringSubmatch(string(done.Body), -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10\n%s", len(codes), done.Body)
	}
	b.srv.Sensitive(codes...)
	return secret, codes
}

// totpURIParts reads the otpauth URI shown as text on the authenticator set-up page:
// the issuer and account of its label, which must agree with its issuer parameter and
// hold no colon (the Key URI format splits "issuer:account" at its one colon, after
// percent-decoding), and its secret.
func totpURIParts(t testing.TB, page []byte) (issuer, account, secret string) {
	t.Helper()
	m := totpURIRE.FindSubmatch(page)
	if m == nil {
		t.Fatalf("the set-up page shows no otpauth URI\n%s", page)
	}
	raw := html.UnescapeString(string(m[1]))
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("otpauth URI %q: %v", raw, err)
	}
	label := strings.TrimPrefix(u.Path, "/")
	if strings.Count(label, ":") != 1 {
		t.Fatalf("otpauth URI %q: the label %q holds %d colons, want exactly 1", raw, label, strings.Count(label, ":"))
	}
	issuer, account, _ = strings.Cut(label, ":")
	if issuer == "" || account == "" || u.Query().Get("issuer") != issuer {
		t.Fatalf("otpauth URI %q: issuer %q, account %q, issuer parameter %q", raw, issuer, account, u.Query().Get("issuer"))
	}
	return issuer, account, u.Query().Get("secret")
}

// TestMFA_TOTPURIWithoutColons: the authenticator app's set-up URI names the server
// by the issuer's host without its port (or by the brand name), so that apps show it
// and the username as they are, not issuer "localhost" and account "8080:alice".
func TestMFA_TOTPURIWithoutColons(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		opts   Options
		issuer string
	}{
		{"localhost with a port", Options{Localhost: true}, "localhost"},
		{"IP address with a port", Options{}, "127.0.0.1"},
		{"brand name", Options{Env: map[string]string{"GATEHOUSE_BRAND_NAME": "Acme: ID"}}, "Acme ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, tc.opts)
			if u, _ := url.Parse(srv.URL); tc.opts.Env == nil && u.Port() == "" {
				t.Fatalf("issuer %s has no port", srv.URL)
			}
			user, pass, _, _ := mfaUser(t, srv)
			b := newAZBrowser(t, srv)
			if r := b.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
				t.Fatalf("log in: %d", r.Status)
			}
			csrf, _ := b.openForm("/account")
			page := b.post("/account/totp", url.Values{"csrf_token": {csrf}})
			wantPageText(t, page, http.StatusOK, "Set up an authenticator app")
			issuer, account, secret := totpURIParts(t, page.Body)
			srv.Sensitive(secret)
			if issuer != tc.issuer || account != user {
				t.Errorf("issuer %s: the otpauth URI names issuer %q, account %q; want %q, %q", srv.URL, issuer, account, tc.issuer, user)
			}
		})
	}
}

// wrongCode is a 6-digit code matching none of the steps around now.
func wrongCode(t testing.TB, secret string) string {
	near := map[string]bool{}
	for s := -2; s <= 2; s++ {
		near[totpCode(t, secret, s)] = true
	}
	for _, c := range []string{"000000", "111111", "123456", "999999"} {
		if !near[c] {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}

// passwordStep starts an authorization in a fresh browser and gives the password:
// the answer must be the second-factor page, with no session and no code.
func passwordStep(t *testing.T, srv *Server, c azClient, user, pass string) (*azBrowser, azPKCE, string) {
	t.Helper()
	b := newAZBrowser(t, srv)
	pk := newAZPKCE()
	r := b.get("/oauth/authorize?" + azQuery(c, pk, "st-mfa").Encode())
	wantLoginRedirect(t, r)
	r = b.logIn(r.Header.Get("Location"), user, pass)
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login/mfa?req=") {
		t.Fatalf("after the password: %d %q, want the second-factor page", r.Status, loc)
	}
	if strings.Contains(loc, "code=") || b.cookie("gatehouse_session") != "" {
		t.Fatalf("a code or a session exists before the second factor: %q session %q", loc, b.cookie("gatehouse_session"))
	}
	if r := b.get("/account"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("/account between the password and the factor: %d %s", r.Status, r.Header.Get("Location"))
	}
	return b, pk, loc
}

// secondFactor posts the second-factor form at loc with field=value.
func secondFactor(t *testing.T, b *azBrowser, loc, field, value string) Response {
	t.Helper()
	csrf, req := b.openForm(loc)
	return b.post("/login/mfa", url.Values{"csrf_token": {csrf}, "req": {req}, field: {value}})
}

// wantCodeRedirect checks that the flow ended at the client with a code that redeems.
func wantCodeRedirect(t *testing.T, srv *Server, c azClient, pk azPKCE, r Response) {
	t.Helper()
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, c.RedirectURI+"?") {
		t.Fatalf("after the second factor: %d %q, want the client's redirect\n%s", r.Status, loc, r.Body)
	}
	u, _ := url.Parse(loc)
	code := u.Query().Get("code")
	srv.Sensitive(code)
	tok := c.exchange(t, srv, srv.HTTPClient(), code, c.RedirectURI, pk.Verifier)
	if tok.Status != http.StatusOK {
		t.Fatalf("code exchange: %d %s", tok.Status, tok.Body)
	}
	srv.Sensitive(tok.JSON(t)["access_token"].(string))
}

// TestSecurity_S50_SecondFactorCannotBeSkipped: after the right password a user with
// an authenticator app gets the second-factor page and nothing else (no session, no
// code); that page works only in the browser that gave the password; a TOTP code and
// a recovery code each sign in once; wrong codes are throttled; the password grant
// gives such a user no tokens.
func TestSecurity_S50_SecondFactorCannotBeSkipped(t *testing.T) {
	t.Parallel()
	mx := smtptest.Start(t, smtptest.Options{})
	forEachBackend(t, Options{Env: map[string]string{"GATEHOUSE_SMTP_URL": mx.URL()}}, func(t *testing.T, srv *Server) {
		secondFactorCannotBeSkipped(t, srv, mx)
	})
}

func secondFactorCannotBeSkipped(t *testing.T, srv *Server, mx *smtptest.Server) {
	user, pass, email, _ := mfaUser(t, srv)
	awayFromStepEdge(20 * time.Second)
	home := newAZBrowser(t, srv)
	if r := home.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("log in: %d", r.Status)
	}
	secret, codes := enrolTOTP(t, home, "")
	waitMail(t, mx, email, "An authenticator app was added to your account")
	c := newAZClient(t, srv, "http://127.0.0.1:9/cb", "--skip-consent")

	b, pk, loc := passwordStep(t, srv, c, user, pass)

	// Another browser with the pending cookie copied, with or without a browser
	// cookie of its own, or a browser with a forged cookie, gets nowhere.
	pending := b.cookie("gatehouse_mfa")
	if pending == "" {
		t.Fatal("no pending second-factor cookie")
	}
	thief := newAZBrowser(t, srv)
	thief.setCookie("gatehouse_mfa", pending)
	wantPageText(t, thief.get(loc), http.StatusBadRequest, "Sign in again")
	csrf, _ := thief.openForm("/login")
	r := thief.post("/login/mfa", url.Values{"csrf_token": {csrf}, "otp": {totpCode(t, secret, 0)}})
	wantPageText(t, r, http.StatusBadRequest, "Sign in again")
	if thief.cookie("gatehouse_session") != "" {
		t.Fatal("the other browser got a session")
	}
	forged := newAZBrowser(t, srv)
	forged.get("/login")
	forged.setCookie("gatehouse_mfa", strings.Repeat("A", 120))
	wantPageText(t, forged.get("/login/mfa"), http.StatusBadRequest, "Sign in again")

	// A wrong code, then the right one.
	wantPageText(t, secondFactor(t, b, loc, "otp", wrongCode(t, secret)), http.StatusBadRequest, "That code is not right")
	used := totpCode(t, secret, 0)
	wantCodeRedirect(t, srv, c, pk, secondFactor(t, b, loc, "otp", used))
	if b.cookie("gatehouse_session") == "" || b.cookie("gatehouse_mfa") != "" {
		t.Fatal("after the second factor: want a session and no pending cookie")
	}

	// The same code again, in another sign-in: refused. An earlier one too.
	b2, pk2, loc2 := passwordStep(t, srv, c, user, pass)
	wantPageText(t, secondFactor(t, b2, loc2, "otp", used), http.StatusBadRequest, "That code is not right, or was already used")
	wantPageText(t, secondFactor(t, b2, loc2, "otp", totpCode(t, secret, -1)), http.StatusBadRequest, "already used")
	// A recovery code works once.
	wantCodeRedirect(t, srv, c, pk2, secondFactor(t, b2, loc2, "recovery_code", strings.ToUpper(codes[0])))
	b3, pk3, loc3 := passwordStep(t, srv, c, user, pass)
	wantPageText(t, secondFactor(t, b3, loc3, "recovery_code", codes[0]), http.StatusBadRequest, "already used")
	wantCodeRedirect(t, srv, c, pk3, secondFactor(t, b3, loc3, "otp", totpCode(t, secret, 1)))

	// The account page counts the codes left.
	wantPageText(t, b3.get("/account"), http.StatusOK, "9 recovery codes left")

	// The password grant gives the password alone nothing.
	cfg, _, _ := newPasswordClient(t, srv)
	v := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}, "scope": {"openid"}}
	pw := srv.PostForm(t, srv.HTTPClient(), "/oauth/token", v.Encode(), cfg.ClientID, cfg.ClientSecret)
	wantOAuthError(t, pw, http.StatusBadRequest, "invalid_grant")

	// Wrong codes are throttled like wrong passwords, and while throttled even the
	// right code is refused.
	b4, _, loc4 := passwordStep(t, srv, c, user, pass)
	last, sent, wait := lockedOut(t, "wrong codes", 30, 3, func() Response {
		return secondFactor(t, b4, loc4, "recovery_code", "aaaaa-aaaaa")
	}, func(r Response) { wantPageText(t, r, http.StatusBadRequest, "That code is not right") })
	if !strings.Contains(string(last.Body), "Too many wrong codes") {
		t.Errorf("throttled: %s", last.Body)
	}
	refusedWhileLocked(t, "a right code while throttled", sent, wait, secondFactor(t, b4, loc4, "otp", totpCode(t, secret, 1)))

	// The audit log tells administrators what happened: the enrolment, the wrong
	// codes, and the password grant refused for want of the factor.
	events := auditList(t, srv, "--user", user)
	for _, want := range [][2]string{{"user.mfa.enrolled", ""}, {"user.login.failed", "mfa_failed"},
		{"user.login.failed", "second_factor_required"}, {"user.login.succeeded", ""}} {
		found := false
		for _, e := range events {
			found = found || e.Type == want[0] && e.Reason == want[1]
		}
		if !found {
			t.Errorf("no audit event %s %s in %v", want[0], want[1], auditTypes(events))
		}
	}
}

// TestSecurity_S52_FactorSecretsEncryptedAndFreshSignIn: the database holds the TOTP
// secret only sealed; enrolling and removing need a sign-in of less than 5 minutes or
// the password; every enrolment, removal and reset is mailed to the user.
func TestSecurity_S52_FactorSecretsEncryptedAndFreshSignIn(t *testing.T) {
	t.Parallel()
	mx := smtptest.Start(t, smtptest.Options{})
	forEachBackend(t, Options{Env: map[string]string{"GATEHOUSE_SMTP_URL": mx.URL()}}, func(t *testing.T, srv *Server) {
		factorSecretsEncryptedAndFreshSignIn(t, srv, mx)
	})
}

func factorSecretsEncryptedAndFreshSignIn(t *testing.T, srv *Server, mx *smtptest.Server) {
	user, pass, email, id := mfaUser(t, srv)
	awayFromStepEdge(10 * time.Second)
	b := newAZBrowser(t, srv)
	if r := b.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("log in: %d", r.Status)
	}
	// A second browser, signed in with the password before the account has a factor.
	early := newAZBrowser(t, srv)
	if early.hc.Transport == nil {
		early.hc.Transport = http.DefaultTransport
	}
	if r := early.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("log in: %d", r.Status)
	}
	if strings.Contains(string(b.get("/account").Body), `id="totp_password"`) {
		t.Fatal("a fresh sign-in is asked for the password")
	}
	db := openDB(t, srv.DatabaseURL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	age := func() {
		t.Helper()
		if _, err := db.NewRaw("UPDATE sessions SET auth_time = ? WHERE user_id = ?", time.Now().Add(-6*time.Minute).UTC(), id).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	age()
	page := b.get("/account")
	wantPageText(t, page, http.StatusOK, `id="totp_password"`)
	csrf, _ := azFormFields(t, page)
	wantPageText(t, b.post("/account/totp", url.Values{"csrf_token": {csrf}}), http.StatusBadRequest, "enter your password to continue")
	wantPageText(t, b.post("/account/totp", url.Values{"csrf_token": {csrf}, "current_password": {"wrong password"}}),
		http.StatusBadRequest, "That is not your current password.")
	before := signIns(t, srv, id)
	secret, _ := enrolTOTP(t, b, pass)
	waitMail(t, mx, email, "An authenticator app was added to your account")
	// The session now counts as one with the factor, but no one signed in.
	if n := signIns(t, srv, id); n != before {
		t.Errorf("%d sign-ins audited after the enrolment, want still %d", n, before)
	}

	var stored []byte
	if err := db.NewRaw("SELECT secret FROM user_totp WHERE user_id = ?", id).Scan(ctx, &stored); err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) == 0 || bytes.Contains(stored, []byte(secret)) || bytes.Contains(bytes.ToUpper(stored), []byte(secret)) || bytes.Contains(stored, raw) {
		t.Fatalf("the database holds the authenticator secret in the clear (%d bytes)", len(stored))
	}
	var hashes int
	if err := db.NewRaw("SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?", id).Scan(ctx, &hashes); err != nil || hashes != 10 {
		t.Fatalf("%d recovery code rows (%v), want 10", hashes, err)
	}

	// The browser signed in before the factor existed cannot remove it, even with
	// the password: it never gave the factor.
	csrf, _ = early.openForm("/account")
	wantPageText(t, early.post("/account/totp/remove", url.Values{"csrf_token": {csrf}, "current_password": {pass}}),
		http.StatusBadRequest, "This browser signed in without your second factor")
	early.hc.Transport = langTransport{base: early.hc.Transport, accept: "de"}
	wantPageText(t, early.post("/account/totp/remove", url.Values{"csrf_token": {csrf}, "current_password": {pass}}),
		http.StatusBadRequest, "Dieser Browser hat sich ohne Ihren zweiten Faktor angemeldet")

	// Removal: stale, so the password; then mailed.
	age()
	csrf, _ = b.openForm("/account")
	wantPageText(t, b.post("/account/totp/remove", url.Values{"csrf_token": {csrf}}), http.StatusBadRequest, "enter your password to continue")
	wantPageText(t, b.post("/account/totp/remove", url.Values{"csrf_token": {csrf}, "current_password": {pass}}), http.StatusOK,
		"The authenticator app and your recovery codes were removed")
	waitMail(t, mx, email, "The authenticator app was removed from your account")
	if r := newAZBrowser(t, srv).logIn("/login", user, pass); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("sign-in after removal: %d %s, want straight in", r.Status, r.Header.Get("Location"))
	}

	// The administrator's reset removes every factor, and is mailed too.
	enrolTOTP(t, b, pass)
	out, stderr, exit := srv.CLI(t, "", "users", "reset-mfa", user)
	if exit != 0 || !strings.Contains(out, "removed the second factors") {
		t.Fatalf("users reset-mfa: exit %d\n%s%s", exit, out, stderr)
	}
	waitMail(t, mx, email, "The second factor of your account was reset")
	if out, _, exit := srv.CLI(t, "", "users", "reset-mfa", user); exit != 0 || !strings.Contains(out, "had no second factor") {
		t.Fatalf("second reset: exit %d %s", exit, out)
	}
	// --json: the admin API's answer, key for key.
	var reset map[string]any
	srv.CLIJSON(t, &reset, "", "users", "reset-mfa", user)
	if len(reset) != 3 || reset["id"] == "" || reset["status"] != "unchanged" || reset["removed"] != false {
		t.Fatalf("users reset-mfa --json with nothing to remove: %v", reset)
	}
	enrolTOTP(t, b, pass)
	srv.CLIJSON(t, &reset, "", "users", "reset-mfa", user)
	if len(reset) != 3 || reset["status"] != "reset" || reset["removed"] != true {
		t.Fatalf("users reset-mfa --json: %v", reset)
	}
	if _, stderr, exit := srv.CLI(t, "", "users", "reset-mfa", "nobody-"+randomString(6)); exit == 0 || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
		t.Fatalf("reset of an unknown user: exit %d %q", exit, stderr)
	}
	wantPageText(t, b.get("/account"), http.StatusOK, "Set up an authenticator app")
}

// TestMFA_RequiredPolicy: with GATEHOUSE_MFA=required a user without a factor sets
// one up inside the sign-in before the application gets a code; prompt=none gets
// interaction_required meanwhile; the next sign-in asks for the code.
func TestMFA_RequiredPolicy(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_MFA": "required"}})
	user, pass, _, _ := mfaUser(t, srv)
	awayFromStepEdge(15 * time.Second)
	c := newAZClient(t, srv, "http://127.0.0.1:9/cb", "--skip-consent")
	b := newAZBrowser(t, srv)
	pk := newAZPKCE()
	r := b.get("/oauth/authorize?" + azQuery(c, pk, "st-req").Encode())
	wantLoginRedirect(t, r)
	r = b.logIn(r.Header.Get("Location"), user, pass)
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login/mfa?req=") {
		t.Fatalf("after the password: %d %q, want the second-factor page", r.Status, loc)
	}
	// Nor does the password grant give the password alone tokens (SECURITY S50).
	pw, _, _ := newPasswordClient(t, srv)
	wantPasswordGrantRefused(t, srv, pw, user, pass, "a second factor is required")
	// Meanwhile a silent request gets no code.
	silent := b.get("/oauth/authorize?" + azQuery(c, newAZPKCE(), "st-silent", "prompt", "none").Encode())
	wantRedirectError(t, srv, silent, c.RedirectURI, "interaction_required", "st-silent")

	page := b.get(loc)
	wantPageText(t, page, http.StatusOK, "Set up a second step")
	csrf, req := azFormFields(t, page)
	setup := b.post("/account/totp", url.Values{"csrf_token": {csrf}, "req": {req}})
	wantPageText(t, setup, http.StatusOK, "Set up an authenticator app")
	secret := totpSecretRE.FindStringSubmatch(string(setup.Body))[1]
	srv.Sensitive(secret)
	csrf, _ = azFormFields(t, setup)
	tok := tokenFieldRE.FindStringSubmatch(string(setup.Body))[1]
	done := b.post("/account/totp/confirm", url.Values{"csrf_token": {csrf}, "token": {tok}, "req": {req}, "otp": {totpCode(t, secret, -1)}})
	wantPageText(t, done, http.StatusOK, "I saved them, continue")
	next := regexp.MustCompile(`href="(/login\?req=[^"]+)"`).FindStringSubmatch(string(done.Body))
	if next == nil {
		t.Fatalf("no way back into the sign-in\n%s", done.Body)
	}
	wantCodeRedirect(t, srv, c, pk, asSeeOther(b.get(strings.ReplaceAll(next[1], "&amp;", "&"))))

	// The next sign-in asks for a code after the password.
	b2, pk2, loc2 := passwordStep(t, srv, c, user, pass)
	wantCodeRedirect(t, srv, c, pk2, secondFactor(t, b2, loc2, "otp", totpCode(t, secret, 0)))
}

// asSeeOther reads a 302 as the 303 wantCodeRedirect expects.
func asSeeOther(r Response) Response {
	if r.Status == http.StatusFound {
		r.Status = http.StatusSeeOther
	}
	return r
}

// codeTokens follows a flow that must end at the client and redeems its code.
func codeTokens(t *testing.T, srv *Server, c azClient, pk azPKCE, r Response) map[string]any {
	t.Helper()
	loc := r.Header.Get("Location")
	if (r.Status != http.StatusSeeOther && r.Status != http.StatusFound) || !strings.HasPrefix(loc, c.RedirectURI+"?") {
		t.Fatalf("want the client's redirect, got %d %q\n%s", r.Status, loc, r.Body)
	}
	u, _ := url.Parse(loc)
	code := u.Query().Get("code")
	srv.Sensitive(code)
	tok := c.exchange(t, srv, srv.HTTPClient(), code, c.RedirectURI, pk.Verifier)
	if tok.Status != http.StatusOK {
		t.Fatalf("code exchange: %d %s", tok.Status, tok.Body)
	}
	body := tok.JSON(t)
	srv.Sensitive(body["access_token"].(string), body["id_token"].(string))
	return body
}

// wantACR checks the acr and amr of an ID token and its access token.
func wantACR(t *testing.T, tokens map[string]any, acr, amr string) {
	t.Helper()
	for _, name := range []string{"id_token", "access_token"} {
		claims := jwtPayload(t, tokens[name].(string))
		if claims["acr"] != acr || fmt.Sprint(claims["amr"]) != amr {
			t.Fatalf("%s: acr %v amr %v, want %s %s", name, claims["acr"], claims["amr"], acr, amr)
		}
	}
}

// TestSecurity_S53_StepUp: a request asking acr urn:gatehouse:acr:mfa (acr_values, or
// an essential acr claim) of a session signed in with the password alone gets the
// second factor asked (or set up), never a code with the lower acr; prompt=none gets
// interaction_required; phr, which only a passkey reaches (this user has none), gets access_denied;
// tokens carry acr and amr; discovery lists the classes.
func TestSecurity_S53_StepUp(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	user, pass, _, _ := mfaUser(t, srv)
	awayFromStepEdge(20 * time.Second)
	c := newAZClient(t, srv, "http://127.0.0.1:9/cb", "--skip-consent")
	meta := srv.Get(t, srv.HTTPClient(), "/.well-known/openid-configuration").JSON(t)
	if fmt.Sprint(meta["acr_values_supported"]) != "[urn:gatehouse:acr:pwd urn:gatehouse:acr:mfa phr]" {
		t.Fatalf("acr_values_supported = %v", meta["acr_values_supported"])
	}

	// A password session: its tokens say so.
	b := newAZBrowser(t, srv)
	pk := newAZPKCE()
	r := b.get("/oauth/authorize?" + azQuery(c, pk, "s1").Encode())
	wantLoginRedirect(t, r)
	wantACR(t, codeTokens(t, srv, c, pk, b.logIn(r.Header.Get("Location"), user, pass)), domain.ACRPassword, "[pwd]")
	early := newAZBrowser(t, srv) // signed in with the password before the factor exists
	if r := early.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("log in: %d", r.Status)
	}

	// Asking for mfa: never a code at once, not even silently.
	silent := b.get("/oauth/authorize?" + azQuery(c, newAZPKCE(), "s2", "prompt", "none", "acr_values", domain.ACRMFA).Encode())
	wantRedirectError(t, srv, silent, c.RedirectURI, "interaction_required", "s2")
	phr := b.get("/oauth/authorize?" + azQuery(c, newAZPKCE(), "s3", "acr_values", domain.ACRPhishingResistant).Encode())
	wantRedirectError(t, srv, phr, c.RedirectURI, "access_denied", "s3")

	// No factor yet: the step-up is its enrolment, then the same request goes on.
	pk = newAZPKCE()
	r = b.get("/oauth/authorize?" + azQuery(c, pk, "s4", "acr_values", domain.ACRMFA+" "+domain.ACRPhishingResistant).Encode())
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, "/login/mfa?req=") {
		t.Fatalf("acr mfa on a password session: %d %q, want the second-factor page", r.Status, loc)
	}
	page := b.get(loc)
	wantPageText(t, page, http.StatusOK, "Set up a second step")
	csrf, req := azFormFields(t, page)
	setup := b.post("/account/totp", url.Values{"csrf_token": {csrf}, "req": {req}})
	secret := totpSecretRE.FindStringSubmatch(string(setup.Body))[1]
	srv.Sensitive(secret)
	csrf, _ = azFormFields(t, setup)
	tok := tokenFieldRE.FindStringSubmatch(string(setup.Body))[1]
	done := b.post("/account/totp/confirm", url.Values{"csrf_token": {csrf}, "token": {tok}, "req": {req}, "otp": {totpCode(t, secret, -1)}})
	next := regexp.MustCompile(`href="(/login\?req=[^"]+)"`).FindStringSubmatch(string(done.Body))
	if next == nil {
		t.Fatalf("no way back into the sign-in\n%s", done.Body)
	}
	wantACR(t, codeTokens(t, srv, c, pk, b.get(strings.ReplaceAll(next[1], "&amp;", "&"))), domain.ACRMFA, "[pwd otp mfa]")

	// Another browser signed in with the password before the factor existed: an
	// essential acr claim steps it up with a code.
	other := newAZBrowser(t, srv)
	pk = newAZPKCE()
	r = other.get("/oauth/authorize?" + azQuery(c, pk, "s5").Encode())
	wantLoginRedirect(t, r)
	r = other.logIn(r.Header.Get("Location"), user, pass) // the factor exists now: the second step
	loc = r.Header.Get("Location")
	wantACR(t, codeTokens(t, srv, c, pk, secondFactor(t, other, loc, "otp", totpCode(t, secret, 0))), domain.ACRMFA, "[pwd otp mfa]")
	// The browser signed in before the factor existed steps up with a code, in place.
	pk = newAZPKCE()
	r = early.get("/oauth/authorize?" + azQuery(c, pk, "s7", "acr_values", domain.ACRMFA).Encode())
	loc = r.Header.Get("Location")
	if !strings.HasPrefix(loc, "/login/mfa?req=") {
		t.Fatalf("acr mfa on a password session: %d %q", r.Status, loc)
	}
	wantPageText(t, early.get(loc), http.StatusOK, "Code from your authenticator app")
	wantPageText(t, secondFactor(t, early, loc, "otp", totpCode(t, secret, 0)), http.StatusBadRequest, "already used")
	wantACR(t, codeTokens(t, srv, c, pk, secondFactor(t, early, loc, "otp", totpCode(t, secret, 1))), domain.ACRMFA, "[pwd otp mfa]")
	// And a request for mfa of a session that has it goes straight on.
	pk = newAZPKCE()
	claims := `{"id_token":{"acr":{"essential":true,"value":"` + domain.ACRMFA + `"}}}`
	r = other.get("/oauth/authorize?" + azQuery(c, pk, "s6", "claims", claims).Encode())
	wantACR(t, codeTokens(t, srv, c, pk, r), domain.ACRMFA, "[pwd otp mfa]")
	// An essential acr of classes this server does not offer cannot be met: a failed
	// authentication (OpenID Connect Core §5.5.1.1), never a code with another class.
	claims = `{"id_token":{"acr":{"essential":true,"value":"urn:example:acr:gold"}}}`
	r = other.get("/oauth/authorize?" + azQuery(c, newAZPKCE(), "s8", "claims", claims).Encode())
	wantRedirectError(t, srv, r, c.RedirectURI, "access_denied", "s8")
	// As acr_values, unknown classes are a wish, and ignored.
	pk = newAZPKCE()
	r = other.get("/oauth/authorize?" + azQuery(c, pk, "s9", "acr_values", "urn:example:acr:gold").Encode())
	wantACR(t, codeTokens(t, srv, c, pk, r), domain.ACRMFA, "[pwd otp mfa]")
}

// TestMFA_ClientRequiresMFA: a client created with --require-mfa demands the second
// factor for its own requests only; the flag shows and updates through the CLI.
func TestMFA_ClientRequiresMFA(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	user, pass, _, _ := mfaUser(t, srv)
	plain := newAZClient(t, srv, "http://127.0.0.1:9/plain", "--skip-consent")
	strict := newAZClient(t, srv, "http://127.0.0.1:9/strict", "--skip-consent", "--require-mfa")
	var shown struct {
		RequireMFA bool `json:"require_mfa"`
	}
	srv.CLIJSON(t, &shown, "", "clients", "show", strict.ID)
	if !shown.RequireMFA {
		t.Fatal("clients show: require_mfa false")
	}
	b := newAZBrowser(t, srv)
	pk := newAZPKCE()
	r := b.get("/oauth/authorize?" + azQuery(plain, pk, "p1").Encode())
	wantLoginRedirect(t, r)
	wantACR(t, codeTokens(t, srv, plain, pk, b.logIn(r.Header.Get("Location"), user, pass)), domain.ACRPassword, "[pwd]")
	r = b.get("/oauth/authorize?" + azQuery(strict, newAZPKCE(), "s1").Encode())
	if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "/login/mfa?req=") {
		t.Fatalf("the --require-mfa client: %d %q, want the second-factor page", r.Status, loc)
	}
	wantPageText(t, b.get(r.Header.Get("Location")), http.StatusOK, "Set up a second step")
	if _, stderr, exit := srv.CLI(t, "", "clients", "update", strict.ID, "--require-mfa=false"); exit != 0 {
		t.Fatalf("clients update --require-mfa=false: %d %s", exit, stderr)
	}
	time.Sleep(1500 * time.Millisecond) // the client cache drops the old client within a second
	pk = newAZPKCE()
	wantACR(t, codeTokens(t, srv, strict, pk, b.get("/oauth/authorize?"+azQuery(strict, pk, "s2").Encode())), domain.ACRPassword, "[pwd]")

	// The password grant cannot take a second factor: a --require-mfa client gets no
	// tokens by it, another client does (SECURITY S50, S53).
	plainPW, _, _ := newPasswordClient(t, srv)
	strictPW, _, _ := newPasswordClient(t, srv, "--require-mfa")
	passwordToken(t, srv, srv.HTTPClient(), plainPW, user, pass)
	wantPasswordGrantRefused(t, srv, strictPW, user, pass, "a second factor is required")
}

// wantPasswordGrantRefused checks that the password grant of cfg refuses user's right
// password with invalid_grant, saying why.
func wantPasswordGrantRefused(t *testing.T, srv *Server, cfg *oauth2.Config, user, pass, why string) {
	t.Helper()
	v := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}, "scope": {"openid"}}
	r := srv.PostForm(t, srv.HTTPClient(), "/oauth/token", v.Encode(), cfg.ClientID, cfg.ClientSecret)
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	if !strings.Contains(string(r.Body), why) {
		t.Fatalf("password grant refused with %s, want it to say %q", r.Body, why)
	}
}

// TestMFA_DeviceApprovalNeedsTheFactor: a device of a --require-mfa client is approved
// only by a session with the second factor: a password session is sent to set one
// up (then back to the device page), and a forged approval is refused.
func TestMFA_DeviceApprovalNeedsTheFactor(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	user, pass, _, _ := mfaUser(t, srv)
	awayFromStepEdge(10 * time.Second)
	dc := newDVClient(t, srv, "--require-mfa")
	a := dc.authorize(t, srv, srv.HTTPClient(), "openid")
	b := newAZBrowser(t, srv)
	if r := b.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("log in: %d", r.Status)
	}
	device := "/device?user_code=" + url.QueryEscape(a.UserCode)
	r := b.get(device)
	loc := r.Header.Get("Location")
	if r.Status != http.StatusFound || !strings.HasPrefix(loc, "/login/mfa?user_code=") {
		t.Fatalf("device page of a password session: %d %q, want the second-factor page", r.Status, loc)
	}
	page := b.get(loc)
	wantPageText(t, page, http.StatusOK, "Set up a second step")
	csrf, _ := azFormFields(t, page)
	forged := b.post("/device", url.Values{"csrf_token": {csrf}, "user_code": {a.UserCode}, "decision": {"allow"}})
	if forged.Status != http.StatusSeeOther || !strings.HasPrefix(forged.Header.Get("Location"), "/login/mfa?") {
		t.Fatalf("an approval without the factor: %d %q", forged.Status, forged.Header.Get("Location"))
	}
	setup := b.post("/account/totp", url.Values{"csrf_token": {csrf}, "user_code": {a.UserCode}})
	secret := totpSecretRE.FindStringSubmatch(string(setup.Body))[1]
	srv.Sensitive(secret)
	csrf, _ = azFormFields(t, setup)
	tok := tokenFieldRE.FindStringSubmatch(string(setup.Body))[1]
	done := b.post("/account/totp/confirm", url.Values{"csrf_token": {csrf}, "token": {tok}, "user_code": {a.UserCode}, "otp": {totpCode(t, secret, -1)}})
	wantPageText(t, done, http.StatusOK, `href="/device?user_code=`)
	wantPageText(t, b.get(device), http.StatusOK, "Allow access")
}

// TestSecurity_S53_ConsentCannotSkipTheStepUp: found by attacking a running copy. A
// request parked at the second-factor page (a --require-mfa client, or acr_values
// asking for more than the session has) or at "verify your email" must not get past
// it through the consent page: GET /consent sends the browser back to the step it
// skipped, and a consent form posted anyway issues no code.
func TestSecurity_S53_ConsentCannotSkipTheStepUp(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	consentSkip := func(t *testing.T, b *azBrowser, c azClient, q url.Values, wantStep string) {
		t.Helper()
		r := b.get("/oauth/authorize?" + q.Encode())
		loc := r.Header.Get("Location")
		if !strings.HasPrefix(loc, wantStep+"?req=") {
			t.Fatalf("authorize: %d %q, want %s", r.Status, loc, wantStep)
		}
		req := strings.TrimPrefix(loc, wantStep+"?req=")
		if r := b.get("/consent?req=" + req); (r.Status != http.StatusFound && r.Status != http.StatusSeeOther) || r.Header.Get("Location") != loc {
			t.Errorf("GET /consent: %d %q, want back to %s\n%s", r.Status, r.Header.Get("Location"), loc, r.Body)
		}
		csrf, _ := b.openForm("/account") // the session's token, as the consent form's
		r = b.post("/consent", url.Values{"csrf_token": {csrf}, "req": {req}, "decision": {"allow"}})
		if got := r.Header.Get("Location"); r.Status != http.StatusSeeOther || got != loc || strings.Contains(got, "code=") {
			t.Errorf("POST /consent: %d %q, want back to %s and no code", r.Status, got, loc)
		}
	}

	t.Run("require-mfa client", func(t *testing.T) {
		user, pass, _, _ := mfaUser(t, srv)
		b := newAZBrowser(t, srv)
		if r := b.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
			t.Fatalf("log in: %d", r.Status)
		}
		c := newAZClient(t, srv, "http://127.0.0.1:9/strict-consent", "--require-mfa")
		consentSkip(t, b, c, azQuery(c, newAZPKCE(), "rm"), "/login/mfa")
	})
	t.Run("acr_values", func(t *testing.T) {
		user, pass, _, _ := mfaUser(t, srv)
		b := newAZBrowser(t, srv)
		if r := b.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
			t.Fatalf("log in: %d", r.Status)
		}
		for _, skip := range []string{"", "--skip-consent"} {
			args := []string{}
			if skip != "" {
				args = append(args, skip)
			}
			c := newAZClient(t, srv, "http://127.0.0.1:9/acr-consent", args...)
			consentSkip(t, b, c, azQuery(c, newAZPKCE(), "acr", "acr_values", domain.ACRMFA), "/login/mfa")
		}
	})
	t.Run("verify your email", func(t *testing.T) {
		vsrv, _ := mailServer(t, map[string]string{"GATEHOUSE_EMAIL_VERIFICATION": "required"})
		b := newAZBrowser(t, vsrv)
		if r := register(t, b, uniqueName("unverified"), uniqueName("unverified")+"@example.com", "a long enough password"); r.Status != http.StatusSeeOther {
			t.Fatalf("register: %d", r.Status)
		}
		c := newAZClient(t, vsrv, "http://127.0.0.1:9/verify-consent")
		consentSkip(t, b, c, azQuery(c, newAZPKCE(), "ve"), "/verify-email")
	})
}

// TestAccounts_RequiredVerificationHoldsDevices: with GATEHOUSE_EMAIL_VERIFICATION=
// required no device gets tokens for a user whose address is not verified, as no
// application gets a code: "Allow" sends the user to "verify your email" and the
// device keeps waiting; the password grant refuses the right password. Once the
// address is verified, the same approval goes through, and the grant too.
func TestAccounts_RequiredVerificationHoldsDevices(t *testing.T) {
	t.Parallel()
	srv, mx := mailServer(t, map[string]string{"GATEHOUSE_EMAIL_VERIFICATION": "required"})
	b := newAZBrowser(t, srv)
	user, email := uniqueName("tvuser"), uniqueName("tvuser")+"@example.com"
	if r := register(t, b, user, email, "a long enough password"); r.Status != http.StatusSeeOther {
		t.Fatalf("register: %d", r.Status)
	}
	dc := newDVClient(t, srv)
	a := dc.authorize(t, srv, srv.HTTPClient(), "openid")
	approve := func() Response {
		page := b.get("/device?user_code=" + url.QueryEscape(a.UserCode))
		wantPageText(t, page, http.StatusOK, "Allow access")
		csrf, _ := azFormFields(t, page)
		return b.post("/device", url.Values{"csrf_token": {csrf}, "user_code": {a.UserCode}, "decision": {"allow"}})
	}
	if r := approve(); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/verify-email" {
		t.Fatalf("approval by an unverified user: %d %q, want the verify-your-email page", r.Status, r.Header.Get("Location"))
	}
	dvWantError(t, "a poll after the refused approval", dc.poll(t, srv, srv.HTTPClient(), a.DeviceCode), http.StatusBadRequest, "authorization_pending")
	// Nor does the password grant give the password alone tokens meanwhile.
	pw, _, _ := newPasswordClient(t, srv)
	wantPasswordGrantRefused(t, srv, pw, user, "a long enough password", "email address is not verified")

	link := linkIn(t, srv, mailTo(t, mx, 1, email))
	wantPageText(t, submitLinkForm(t, b, link, "/verify-email", nil), http.StatusOK, "your email address is verified")
	wantPageText(t, approve(), http.StatusOK, "Return to your device")
	passwordToken(t, srv, srv.HTTPClient(), pw, user, "a long enough password")
	if r := dc.poll(t, srv, srv.HTTPClient(), a.DeviceCode); r.Status != http.StatusOK {
		t.Fatalf("a poll after the approval: %d %s", r.Status, r.Body)
	} else {
		srv.Sensitive(r.JSON(t)["access_token"].(string))
	}
	srv.Sensitive(tokenOf(t, link))
}
