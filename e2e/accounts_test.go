package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/adapter/mail/smtptest"
)

// mailServer starts a real SMTP server and a Gatehouse that sends its mail there.
func mailServer(t *testing.T, env map[string]string) (*Server, *smtptest.Server) {
	t.Helper()
	mx := smtptest.Start(t, smtptest.Options{})
	all := map[string]string{"GATEHOUSE_SMTP_URL": mx.URL()}
	for k, v := range env {
		all[k] = v
	}
	return startServer(t, Options{Env: all}), mx
}

var mailLinkRE = regexp.MustCompile(`https?://[^\s"<>]+\?token=[A-Za-z0-9_%-]+`)

// mailTo waits for the n-th mail in all and returns it, read as a mail program reads
// it, after checking it went to want.
func mailTo(t *testing.T, mx *smtptest.Server, n int, want string) smtptest.Parsed {
	t.Helper()
	got := mx.Wait(t, n, 10*time.Second)
	m := got[n-1]
	if m.To != want {
		t.Fatalf("mail %d went to %q, want %q", n, m.To, want)
	}
	p, err := smtptest.Parse(m.Raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// linkMailTo waits for the n-th mail to want that holds a link and returns the link,
// as a path on srv. Notices without a link ("your password was changed") may come
// between, in either order: each is queued in the background.
func linkMailTo(t *testing.T, srv *Server, mx *smtptest.Server, n int, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var found []smtptest.Parsed
		for _, p := range mailsTo(t, mx, want) {
			if mailLinkRE.MatchString(p.Text) {
				found = append(found, p)
			}
		}
		if len(found) >= n {
			return linkIn(t, srv, found[n-1])
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails with a link to %s within 10 s, want %d", len(found), want, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mailsTo is every mail mx received so far for to, parsed, in the order received.
func mailsTo(t *testing.T, mx *smtptest.Server, to string) []smtptest.Parsed {
	t.Helper()
	var out []smtptest.Parsed
	for _, m := range mx.Mails() {
		if m.To != to {
			continue
		}
		p, err := smtptest.Parse(m.Raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// resetLinkFor asks for a password reset of email from a browser of its own and
// returns the link of the mail it brings, as a path on srv.
func resetLinkFor(t *testing.T, srv *Server, mx *smtptest.Server, email string) string {
	t.Helper()
	b := newAZBrowser(t, srv)
	csrf, _ := b.openForm("/forgot-password")
	b.post("/forgot-password", url.Values{"csrf_token": {csrf}, "email": {email}})
	return linkIn(t, srv, waitMail(t, mx, email, "Reset your password"))
}

// linkIn is the one link of a mail, as a path on srv.
func linkIn(t *testing.T, srv *Server, p smtptest.Parsed) string {
	t.Helper()
	links := mailLinkRE.FindAllString(p.Text, -1)
	if len(links) != 1 || !strings.HasPrefix(links[0], srv.URL+"/") {
		t.Fatalf("want one link to %s in the mail, got %q\n%s", srv.URL, links, p.Text)
	}
	if !strings.Contains(p.HTML, `href="`+strings.ReplaceAll(links[0], "&", "&amp;")+`"`) {
		t.Errorf("the HTML part lacks the link")
	}
	return strings.TrimPrefix(links[0], srv.URL)
}

// tokenFieldRE reads the hidden token of a link's form.
var tokenFieldRE = regexp.MustCompile(`name="token" value="([^"]+)"`)

// submitLinkForm opens a mailed link's page and posts its form with extra fields.
func submitLinkForm(t *testing.T, b *azBrowser, link, action string, extra url.Values) Response {
	t.Helper()
	page := b.get(link)
	if page.Status != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", link, page.Status, page.Body)
	}
	csrf, _ := azFormFields(t, page)
	m := tokenFieldRE.FindStringSubmatch(string(page.Body))
	if csrf == "" || m == nil {
		t.Fatalf("GET %s: no form with a CSRF token and the link's token\n%s", link, page.Body)
	}
	v := url.Values{"csrf_token": {csrf}, "token": {m[1]}}
	for k, vs := range extra {
		v[k] = vs
	}
	return b.post(action, v)
}

// wantPageText checks the status and that the page holds every one of texts.
func wantPageText(t *testing.T, r Response, status int, texts ...string) {
	t.Helper()
	for _, text := range texts {
		if r.Status != status || !strings.Contains(string(r.Body), text) {
			t.Fatalf("status %d, want %d with %q\n%s", r.Status, status, text, r.Body)
		}
	}
}

// register signs up on the registration page.
func register(t *testing.T, b *azBrowser, username, email, password string) Response {
	t.Helper()
	csrf, _ := b.openForm("/register")
	return b.post("/register", url.Values{"csrf_token": {csrf}, "username": {username}, "email": {email}, "password": {password}})
}

// TestAccounts_VerifyEmail: sign-up mails a verification link; its page only shows a
// button (a scanner opening it verifies nothing); the POST verifies; the link is
// single use; a sign-up with an address another account has tells that account's
// owner by mail and nobody on the page.
func TestAccounts_VerifyEmail(t *testing.T) {
	t.Parallel()
	srv, mx := mailServer(t, nil)
	b := newAZBrowser(t, srv)
	user, email := uniqueName("verify"), uniqueName("verify")+"@example.com"
	if r := register(t, b, user, email, "a long enough password"); r.Status != http.StatusSeeOther {
		t.Fatalf("register: %d\n%s", r.Status, r.Body)
	}
	m := mailTo(t, mx, 1, email)
	if m.Subject != "Verify your email address" || !strings.Contains(m.Text, "Hello "+user) {
		t.Fatalf("verification mail: %q\n%s", m.Subject, m.Text)
	}
	link := linkIn(t, srv, m)
	verified := func() bool {
		var u struct {
			EmailVerified bool `json:"email_verified"`
		}
		srv.CLIJSON(t, &u, "", "users", "show", user, "--json")
		return u.EmailVerified
	}
	// Opening the link (as a mail scanner would) verifies nothing.
	other := newAZBrowser(t, srv)
	if r := other.get(link); r.Status != http.StatusOK || verified() {
		t.Fatalf("GET of the link: %d, verified %v", r.Status, verified())
	}
	wantPageText(t, submitLinkForm(t, other, link, "/verify-email", nil), http.StatusOK, "your email address is verified",
		`href="/?lang=de"`) // the language links: the link is used up
	if !verified() {
		t.Fatal("the address is not verified after the POST")
	}
	// Single use.
	wantPageText(t, other.get(link), http.StatusBadRequest, "This link is invalid, was already used, or has expired.")

	// A sign-up with the same address: the page goes on as usual; the owner is told.
	copycat := uniqueName("copycat")
	if r := register(t, newAZBrowser(t, srv), copycat, email, "another long password"); r.Status != http.StatusSeeOther {
		t.Fatalf("register with a taken email: %d\n%s", r.Status, r.Body)
	}
	notice := mailTo(t, mx, 2, email)
	if !strings.Contains(notice.Subject, "Someone tried to create an account") || !strings.Contains(notice.Text, user) ||
		strings.Contains(notice.Text, copycat) || mailLinkRE.MatchString(notice.Text) {
		t.Fatalf("notice to the owner: %q\n%s", notice.Subject, notice.Text)
	}
}

// TestSecurity_S47_ResetPasswordLinks: forgot-password answers the same for a known
// and an unknown address and mails only the known one; a newer link voids the older;
// a bad new password leaves the link usable; the reset ends every session and refresh
// token; the link is single use; the old password no longer signs in.
func TestSecurity_S47_ResetPasswordLinks(t *testing.T) {
	t.Parallel()
	srv, mx := mailServer(t, map[string]string{"GATEHOUSE_EMAIL_VERIFICATION": "off"})
	user, email := uniqueName("reset"), uniqueName("reset")+"@example.com"
	b := newAZBrowser(t, srv)
	if r := register(t, b, user, email, "the old password"); r.Status != http.StatusSeeOther {
		t.Fatalf("register: %d", r.Status)
	}
	cfg, _, _ := newPasswordClient(t, srv)
	hc := srv.HTTPClient()
	before := passwordToken(t, srv, hc, cfg, user, "the old password")

	forgot := func(address string) Response {
		csrf, _ := b.openForm("/forgot-password")
		return b.post("/forgot-password", url.Values{"csrf_token": {csrf}, "email": {address}})
	}
	unknown := forgot(uniqueName("nobody") + "@example.com")
	known := forgot(strings.ToUpper(email))
	for _, r := range []Response{unknown, known} {
		wantPageText(t, r, http.StatusOK, "If an account has that email address, a link to choose a new password is on its way.")
	}
	if string(unknown.Body) != string(known.Body) {
		t.Fatal("the answers for a known and an unknown address differ")
	}
	first := linkIn(t, srv, mailTo(t, mx, 1, email))
	newer := forgot(email)
	wantPageText(t, newer, http.StatusOK, "on its way")
	second := linkIn(t, srv, mailTo(t, mx, 2, email))
	time.Sleep(200 * time.Millisecond)
	if n := len(mx.Mails()); n != 2 {
		t.Fatalf("%d mails, want 2: the unknown address got one", n)
	}
	wantPageText(t, b.get(first), http.StatusBadRequest, "invalid, was already used, or has expired") // voided by the newer

	// Two passwords that differ: the form again, and the link still works.
	r := submitLinkForm(t, b, second, "/reset-password", url.Values{"password": {"a brand new password"}, "password_confirm": {"a brand new passwort"}})
	wantPageText(t, r, http.StatusBadRequest, "The two passwords differ.")
	// Its language links keep the link's token (a GET of /reset-password without it
	// is a dead link); once the password is set they lead to the login page.
	token := strings.TrimPrefix(second, "/reset-password?token=")
	wantPageText(t, r, http.StatusBadRequest, `href="/reset-password?lang=de&amp;token=`+url.QueryEscape(token)+`"`)
	if de := newAZBrowser(t, srv).get("/reset-password?lang=de&token=" + url.QueryEscape(token)); de.Status != http.StatusOK || !strings.Contains(string(de.Body), `name="password_confirm"`) {
		t.Fatalf("the form in German: %d\n%s", de.Status, de.Body)
	}
	r = submitLinkForm(t, b, second, "/reset-password", url.Values{"password": {"a brand new password"}, "password_confirm": {"a brand new password"}})
	wantPageText(t, r, http.StatusOK, "Your password was changed", `href="/login?lang=de"`)
	if strings.Contains(string(r.Body), "What still signs you in") {
		t.Error("the page after the reset lists ways to sign in, for a user who has only the password")
	}
	wantPageText(t, b.get(second), http.StatusBadRequest, "invalid, was already used, or has expired")

	// Every refresh token from before is dead; the old password fails, the new works.
	if rr := refreshForm(t, srv, hc, cfg.ClientID, cfg.ClientSecret, before.RefreshToken, ""); rr.Status != http.StatusBadRequest {
		t.Fatalf("a refresh token from before the reset: %d %s", rr.Status, rr.Body)
	}
	if _, err := cfg.PasswordCredentialsToken(ctxWith(hc), user, "the old password"); err == nil {
		t.Fatal("the old password still signs in")
	}
	after := passwordToken(t, srv, hc, cfg, user, "a brand new password")
	srv.Sensitive(after.AccessToken, after.RefreshToken, before.AccessToken, before.RefreshToken)
}

// TestAccounts_RequiredVerification: with GATEHOUSE_EMAIL_VERIFICATION=required a user
// who signs up during an authorization request is shown "verify your email", with a
// form that resends the link; no code is issued (prompt=none gets
// interaction_required) until the address is verified, and then the same page
// continues to the application.
func TestAccounts_RequiredVerification(t *testing.T) {
	t.Parallel()
	srv, mx := mailServer(t, map[string]string{"GATEHOUSE_EMAIL_VERIFICATION": "required"})
	c := newAZClient(t, srv, "https://app.example.com/verified-cb")
	p := newAZPKCE()
	b := newAZBrowser(t, srv)
	start := b.get("/oauth/authorize?" + azQuery(c, p, "req-verify").Encode())
	wantLoginRedirect(t, start)
	reqID := strings.TrimPrefix(start.Header.Get("Location"), "/login?req=")
	user, email := uniqueName("required"), uniqueName("required")+"@example.com"
	csrf, _ := b.openForm("/register?req=" + reqID)
	r := b.post("/register", url.Values{"csrf_token": {csrf}, "req": {reqID}, "username": {user}, "email": {email},
		"password": {"a long enough password"}})
	if loc := r.Header.Get("Location"); r.Status != http.StatusSeeOther || loc != "/verify-email?req="+reqID {
		t.Fatalf("after sign-up: %d to %q, want the verify-email page", r.Status, loc)
	}
	page := b.get("/verify-email?req=" + reqID)
	wantPageText(t, page, http.StatusOK, "confirm that <strong>"+email+"</strong> is your address")
	welcome := linkIn(t, srv, mailTo(t, mx, 1, email))

	// prompt=none cannot skip it.
	none := b.get("/oauth/authorize?" + azQuery(c, p, "none-state", "prompt", "none").Encode())
	wantRedirectError(t, srv, none, c.RedirectURI, "interaction_required", "none-state")

	// "Continue" before verifying shows the page again; resending voids the first link.
	wantPageText(t, b.get("/verify-email?req="+reqID), http.StatusOK, "Verify your email address")
	csrf, _ = azFormFields(t, page)
	wantPageText(t, b.post("/verify-email/resend", url.Values{"csrf_token": {csrf}, "req": {reqID}}), http.StatusOK,
		"A new link is on its way")
	linkIn(t, srv, mailTo(t, mx, 2, email))
	// A request that is gone (expired while the page was open, or never this
	// browser's) does not turn the resend into an error page after the mail went:
	// the page says the link is on its way.
	wantPageText(t, b.post("/verify-email/resend", url.Values{"csrf_token": {csrf}, "req": {"gone-" + randomString(16)}}),
		http.StatusOK, "A new link is on its way")
	fresh := linkIn(t, srv, mailTo(t, mx, 3, email))
	wantPageText(t, b.get(welcome), http.StatusBadRequest, "invalid, was already used, or has expired")
	wantPageText(t, submitLinkForm(t, b, fresh, "/verify-email", nil), http.StatusOK, "your email address is verified")

	// Now the same page continues to the application.
	flow := b.follow(b.get("/verify-email?req="+reqID), user, "a long enough password", "allow")
	if flow.Query.Get("code") == "" || flow.Query.Get("state") != "req-verify" {
		t.Fatalf("after verifying: %s", flow.Location)
	}
	if r := c.exchange(t, srv, b.hc, flow.Query.Get("code"), c.RedirectURI, p.Verifier); r.Status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	} else {
		m := r.JSON(t)
		srv.Sensitive(m["access_token"].(string), m["id_token"].(string))
	}
}

// TestAccounts_ChangePassword: /account changes the password after checking the
// current one; every other device is signed out and every refresh token revoked,
// while this browser stays signed in.
func TestAccounts_ChangePassword(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	user, pass := azUser(t, srv)
	here, there := newAZBrowser(t, srv), newAZBrowser(t, srv)
	for _, b := range []*azBrowser{here, there} {
		if r := b.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
			t.Fatalf("log in: %d", r.Status)
		}
	}
	cfg, _, _ := newPasswordClient(t, srv)
	hc := srv.HTTPClient()
	before := passwordToken(t, srv, hc, cfg, user, pass)
	srv.Sensitive(before.AccessToken, before.RefreshToken)

	page := here.get("/account")
	wantPageText(t, page, http.StatusOK, "Signed in as <strong>"+user+"</strong>")
	change := func(current, next string) Response {
		csrf, _ := here.openForm("/account")
		return here.post("/account/password", url.Values{"csrf_token": {csrf}, "current_password": {current}, "new_password": {next}})
	}
	wantPageText(t, change("not my password", "a fine new password"), http.StatusBadRequest, "That is not your current password.")
	wantPageText(t, change(pass, "short"), http.StatusBadRequest, `id="new_password-error"`)
	wantPageText(t, change(pass, "a fine new password"), http.StatusOK, "every other device was signed out")

	if r := here.get("/account"); r.Status != http.StatusOK {
		t.Fatalf("this browser was signed out: %d", r.Status)
	}
	if r := there.get("/account"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("the other device is still signed in: %d %s", r.Status, r.Header.Get("Location"))
	}
	if r := refreshForm(t, srv, hc, cfg.ClientID, cfg.ClientSecret, before.RefreshToken, ""); r.Status != http.StatusBadRequest {
		t.Fatalf("a refresh token from before the change: %d %s", r.Status, r.Body)
	}
	after := passwordToken(t, srv, hc, cfg, user, "a fine new password")
	srv.Sensitive(after.AccessToken, after.RefreshToken)
	// Without a session the page sends the browser to sign in.
	if r := newAZBrowser(t, srv).get("/account"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("/account without a session: %d %s", r.Status, r.Header.Get("Location"))
	}
}

// uaTransport sends every request with its User-Agent.
type uaTransport struct {
	ua   string
	next http.RoundTripper
}

func (u uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return u.next.RoundTrip(r)
}

var sessionIDRE = regexp.MustCompile(`name="session_id" value="([^"]+)"`)

// TestAccounts_Sessions: /account lists where the user is signed in, with each
// browser (named from its user agent) and address from the moment it signed in, and
// ends one session, every other one, or this one.
func TestAccounts_Sessions(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	user, pass := azUser(t, srv)
	browsers := map[string]*azBrowser{}
	const (
		hereUA      = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
		thereUA     = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
		elsewhereUA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	)
	for _, ua := range []string{hereUA, thereUA, elsewhereUA} {
		b := newAZBrowser(t, srv)
		next := b.hc.Transport
		if next == nil {
			next = http.DefaultTransport
		}
		b.hc.Transport = uaTransport{ua: ua, next: next}
		if r := b.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
			t.Fatalf("log in: %d", r.Status)
		}
		// No further request: the sign-in itself records the browser and its address.
		browsers[ua] = b
	}
	here := browsers[hereUA]
	page := here.get("/account")
	body := string(page.Body)
	for _, want := range []string{">Firefox on Windows</strong> &middot; <em>this browser</em>", ">Chrome on Android</strong>",
		">Safari on iPhone</strong>", `title="Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"`,
		"<p class=\"muted small\">127.", "last seen"} {
		if !strings.Contains(body, want) {
			t.Fatalf("account page lacks %q:\n%s", want, body)
		}
	}
	// End the Android one by the id the page shows for it.
	ids := sessionIDRE.FindAllStringSubmatch(body, -1)
	var thereID string
	for _, m := range ids {
		i := strings.Index(body, m[0])
		if j := strings.LastIndex(body[:i], "</strong>"); j >= 0 && strings.HasSuffix(body[:j], ">Chrome on Android") {
			thereID = m[1]
		}
	}
	if len(ids) != 3 || thereID == "" {
		t.Fatalf("want three sessions with ids, found %d (there %q)", len(ids), thereID)
	}
	csrf, _ := azFormFields(t, page)
	wantPageText(t, here.post("/account/sessions/end", url.Values{"csrf_token": {csrf}, "session_id": {thereID}}), http.StatusOK, "That device was signed out.")
	if r := browsers[thereUA].get("/account"); r.Status != http.StatusSeeOther {
		t.Fatalf("the ended session still works: %d", r.Status)
	}
	if r := browsers[elsewhereUA].get("/account"); r.Status != http.StatusOK {
		t.Fatalf("another session ended too: %d", r.Status)
	}
	// Another user's session id is not found; nothing ends.
	wantPageText(t, here.post("/account/sessions/end", url.Values{"csrf_token": {csrf}, "session_id": {"not-a-session"}}), http.StatusOK, "That session had already ended.")
	wantPageText(t, here.post("/account/sessions/end", url.Values{"csrf_token": {csrf}}), http.StatusOK, "Every other device was signed out.")
	if r := browsers[elsewhereUA].get("/account"); r.Status != http.StatusSeeOther {
		t.Fatalf("'every other device' left one signed in: %d", r.Status)
	}
	page = here.get("/account")
	if n := len(sessionIDRE.FindAllString(string(page.Body), -1)); n != 1 {
		t.Fatalf("%d sessions listed after ending the others", n)
	}
	own := sessionIDRE.FindStringSubmatch(string(page.Body))[1]
	csrf, _ = azFormFields(t, page)
	r := here.post("/account/sessions/end", url.Values{"csrf_token": {csrf}, "session_id": {own}})
	if r.Status != http.StatusSeeOther || here.get("/account").Status != http.StatusSeeOther {
		t.Fatalf("ending this browser's own session: %d", r.Status)
	}
}
