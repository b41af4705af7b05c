package e2e

import (
	"context"
	"gatehouse/adapter/mail/smtptest"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// badLinkText is what every unusable mailed link shows.
const badLinkText = "This link is invalid, was already used, or has expired."

// userEmail reads a user's email and whether it is verified, through the CLI.
func userEmail(t *testing.T, srv *Server, user string) (string, bool) {
	t.Helper()
	var u struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}
	srv.CLIJSON(t, &u, "", "users", "show", user, "--json")
	return u.Email, u.EmailVerified
}

// changeEmail posts the account page's email change form.
func changeEmail(t *testing.T, b *azBrowser, password, email string) Response {
	t.Helper()
	csrf, _ := b.openForm("/account")
	return b.post("/account/email", url.Values{"csrf_token": {csrf}, "new_email": {email}, "current_password": {password}})
}

// tokenOf is the secret of a mailed link (a path with ?token=).
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("no token in %q", link)
	}
	return u.Query().Get("token")
}

// TestSecurity_S47_ChangeEmailLinks: an email change needs the CSRF token and the
// current password; its link goes to the new address only; a newer link voids the
// older; a forged, voided, expired, used or other-purpose link, and someone else's
// link in a signed-in browser, all end on the bad-link page and change nothing; the
// right link changes the address, verified, and the old address is told.
func TestSecurity_S47_ChangeEmailLinks(t *testing.T) {
	t.Parallel()
	srv, mx := mailServer(t, map[string]string{"GATEHOUSE_EMAIL_VERIFICATION": "off"})
	user, email, pass := uniqueName("chg"), uniqueName("chg")+"@example.com", "a long enough password"
	other, otherEmail := uniqueName("other"), uniqueName("other")+"@example.com"
	srv.Sensitive(pass)
	a, b := newAZBrowser(t, srv), newAZBrowser(t, srv)
	if r := register(t, a, user, email, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("register: %d\n%s", r.Status, r.Body)
	}
	if r := register(t, b, other, otherEmail, "another long password"); r.Status != http.StatusSeeOther {
		t.Fatalf("register: %d\n%s", r.Status, r.Body)
	}
	unchanged := func(what string) {
		t.Helper()
		if got, _ := userEmail(t, srv, user); got != email {
			t.Fatalf("%s: the email is now %q", what, got)
		}
	}

	// Without the CSRF token, or with a wrong password: refused, nothing mailed.
	first, second := uniqueName("first")+"@example.com", uniqueName("second")+"@example.com"
	r := a.post("/account/email", url.Values{"new_email": {first}, "current_password": {pass}})
	wantErrorPage(t, r, http.StatusForbidden)
	wantPageText(t, changeEmail(t, a, "not my password", first), http.StatusBadRequest, "That is not your current password.")
	wantPageText(t, changeEmail(t, a, pass, "not an address"), http.StatusBadRequest, `id="new_email-error"`)
	// Without the password, a bad address is named too: one answer, both fields.
	r = changeEmail(t, a, "", "not an address")
	wantPageText(t, r, http.StatusBadRequest, `id="new_email-error"`)
	wantPageText(t, r, http.StatusBadRequest, "Enter your current password.")
	wantPageText(t, r, http.StatusBadRequest, "That is not a valid email address.")
	wantPageText(t, changeEmail(t, a, pass, strings.ToUpper(email)), http.StatusBadRequest, "That is already your email address.")

	// Two requests: the first link is voided by the second.
	wantPageText(t, changeEmail(t, a, pass, first), http.StatusOK, "We sent a link to "+first)
	voided := linkIn(t, srv, mailTo(t, mx, 1, first))
	wantPageText(t, changeEmail(t, a, pass, second), http.StatusOK, "We sent a link to "+second)
	m := mailTo(t, mx, 2, second)
	if m.Subject != "Confirm your new email address" || !strings.HasPrefix(linkIn(t, srv, m), "/confirm-email?token=") {
		t.Fatalf("change mail: %q\n%s", m.Subject, m.Text)
	}
	link := linkIn(t, srv, m)
	unchanged("after the requests")
	wantPageText(t, a.get(voided), http.StatusBadRequest, badLinkText)

	// Forged, and another purpose's link (a reset link) on this page.
	csrf, _ := a.openForm("/account")
	wantPageText(t, a.get("/confirm-email?token=forged-"+randomString(20)), http.StatusBadRequest, badLinkText)
	// The language links of a refused POST lead to the page it offers, not to a GET
	// of /confirm-email without a token.
	wantPageText(t, a.post("/confirm-email", url.Values{"csrf_token": {csrf}, "token": {"forged"}}), http.StatusBadRequest, badLinkText,
		`href="/account?lang=de"`)
	fcsrf, _ := a.openForm("/forgot-password")
	wantPageText(t, a.post("/forgot-password", url.Values{"csrf_token": {fcsrf}, "email": {email}}), http.StatusOK, "on its way")
	reset := linkIn(t, srv, mailTo(t, mx, 3, email))
	wantPageText(t, a.post("/confirm-email", url.Values{"csrf_token": {csrf}, "token": {tokenOf(t, reset)}}), http.StatusBadRequest, badLinkText)
	// And the change link is no reset or verification link.
	wantPageText(t, a.get(strings.Replace(link, "/confirm-email", "/reset-password", 1)), http.StatusBadRequest, badLinkText)
	wantPageText(t, a.post("/verify-email", url.Values{"csrf_token": {csrf}, "token": {tokenOf(t, link)}}), http.StatusBadRequest, badLinkText)

	// Someone else's link, in a browser signed in as another user: refused, both ways.
	wantPageText(t, b.get(link), http.StatusBadRequest, badLinkText)
	bcsrf, _ := b.openForm("/account")
	wantPageText(t, b.post("/confirm-email", url.Values{"csrf_token": {bcsrf}, "token": {tokenOf(t, link)}}), http.StatusBadRequest, badLinkText)
	if got, _ := userEmail(t, srv, other); got != otherEmail {
		t.Fatalf("the other user's email changed to %q", got)
	}
	unchanged("after someone else's attempts")

	// Without the CSRF token the link is not used.
	wantErrorPage(t, a.post("/confirm-email", url.Values{"token": {tokenOf(t, link)}}), http.StatusForbidden)
	unchanged("after a POST without CSRF token")

	// The right link, in a browser with no session (another device): the address
	// changes, verified; the old address is told; the link is used up.
	phone := newAZBrowser(t, srv)
	wantPageText(t, phone.get(link), http.StatusOK, "Use this email address")
	wantPageText(t, submitLinkForm(t, phone, link, "/confirm-email", nil), http.StatusOK, "Your email address is now "+second,
		`href="/account?lang=de"`) // the language links: the link is used up
	if got, verified := userEmail(t, srv, user); got != second || !verified {
		t.Fatalf("after the change: %q verified %v", got, verified)
	}
	notice := mailTo(t, mx, 4, email)
	if notice.Subject != "Your email address was changed" || mailLinkRE.MatchString(notice.Text) || !strings.Contains(notice.Text, second) {
		t.Fatalf("notice to the old address: %q\n%s", notice.Subject, notice.Text)
	}
	wantPageText(t, phone.get(link), http.StatusBadRequest, badLinkText)
	wantPageText(t, a.post("/confirm-email", url.Values{"csrf_token": {csrf}, "token": {tokenOf(t, link)}}), http.StatusBadRequest, badLinkText)
	page := a.get("/account")
	wantPageText(t, page, http.StatusOK, second+" &middot; verified")

	// Expired: a link past its time changes nothing.
	third := uniqueName("third") + "@example.com"
	wantPageText(t, changeEmail(t, a, pass, third), http.StatusOK, "We sent a link to "+third)
	expired := linkIn(t, srv, mailTo(t, mx, 5, third))
	db := clDB(t, srv.DatabaseURL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.NewRaw("UPDATE email_tokens SET expires_at = ? WHERE purpose = ?", time.Now().Add(-time.Second).UTC(), "change_email").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	wantPageText(t, phone.get(expired), http.StatusBadRequest, badLinkText)
	pcsrf, _ := phone.openForm("/forgot-password")
	wantPageText(t, phone.post("/confirm-email", url.Values{"csrf_token": {pcsrf}, "token": {tokenOf(t, expired)}}), http.StatusBadRequest, badLinkText)
	if got, _ := userEmail(t, srv, user); got != second {
		t.Fatalf("an expired link changed the email to %q", got)
	}
	srv.Sensitive(tokenOf(t, link), tokenOf(t, voided), tokenOf(t, expired), tokenOf(t, reset))
}

// TestSecurity_S48_ChangeEmailToATakenAddress: asking for an address another account
// has answers exactly as for a free one; that account's owner is mailed a notice and
// no link goes out; an address taken between the mail and the link makes the link a
// bad link; nothing changes.
func TestSecurity_S48_ChangeEmailToATakenAddress(t *testing.T) {
	t.Parallel()
	srv, mx := mailServer(t, map[string]string{"GATEHOUSE_EMAIL_VERIFICATION": "off"})
	user, email, pass := uniqueName("taker"), uniqueName("taker")+"@example.com", "a long enough password"
	owner, ownerEmail := uniqueName("owner"), uniqueName("owner")+"@example.com"
	a := newAZBrowser(t, srv)
	if r := register(t, a, user, email, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("register: %d", r.Status)
	}
	if r := register(t, newAZBrowser(t, srv), owner, ownerEmail, "the owner's password"); r.Status != http.StatusSeeOther {
		t.Fatalf("register: %d", r.Status)
	}
	free := uniqueName("free") + "@example.com"
	taken := changeEmail(t, a, pass, strings.ToUpper(ownerEmail[:1])+ownerEmail[1:])
	wantPageText(t, taken, http.StatusOK, "We sent a link to "+ownerEmail)
	notice := mailTo(t, mx, 1, ownerEmail)
	if notice.Subject != "Someone tried to use your email address" || mailLinkRE.MatchString(notice.Text) ||
		!strings.Contains(notice.Text, owner) || strings.Contains(notice.Text, user) {
		t.Fatalf("notice to the owner: %q\n%s", notice.Subject, notice.Text)
	}
	freeAnswer := changeEmail(t, a, pass, free)
	if strings.ReplaceAll(string(taken.Body), ownerEmail, "ADDRESS") != strings.ReplaceAll(string(freeAnswer.Body), free, "ADDRESS") ||
		taken.Status != freeAnswer.Status {
		t.Fatalf("the answers for a taken and a free address differ:\n%s\n---\n%s", taken.Body, freeAnswer.Body)
	}
	link := linkIn(t, srv, mailTo(t, mx, 2, free))
	time.Sleep(200 * time.Millisecond)
	if n := len(mx.Mails()); n != 2 {
		t.Fatalf("%d mails, want 2: the taken address got a link", n)
	}
	if got, _ := userEmail(t, srv, user); got != email {
		t.Fatalf("the email changed to %q", got)
	}

	// The free address is taken meanwhile: the link is a bad link, nothing changes.
	if _, errOut, code := srv.CLI(t, "", "users", "update", owner, "--email", free); code != 0 {
		t.Fatalf("users update: %d %s", code, errOut)
	}
	wantPageText(t, submitLinkForm(t, a, link, "/confirm-email", nil), http.StatusBadRequest, badLinkText)
	if got, _ := userEmail(t, srv, user); got != email {
		t.Fatalf("the email changed to %q", got)
	}
	if got, _ := userEmail(t, srv, owner); got != free {
		t.Fatalf("the owner's email is %q", got)
	}
	srv.Sensitive(tokenOf(t, link))
}

// TestAccounts_ConnectedApps: a client the user consented to is listed on /account;
// revoking it needs the CSRF token, deletes the consent and revokes its refresh
// tokens, and its next authorization asks for consent again; another user cannot
// revoke it.
func TestAccounts_ConnectedApps(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	user, pass := azUser(t, srv)
	name := uniqueName("Listed App")
	c := newAZClient(t, srv, "https://apps.example.com/cb", "--name", name)
	b := newAZBrowser(t, srv)
	p := newAZPKCE()
	flow := b.authorize(azQuery(c, p, "apps-1", "scope", "openid email offline_access"), user, pass, "allow")
	if !flow.SawConsent || flow.Query.Get("code") == "" {
		t.Fatalf("first authorization: consent %v, %s", flow.SawConsent, flow.Location)
	}
	tok := c.exchange(t, srv, b.hc, flow.Query.Get("code"), c.RedirectURI, p.Verifier).JSON(t)
	rt, _ := tok["refresh_token"].(string)
	if rt == "" {
		t.Fatalf("no refresh token: %v", tok)
	}
	srv.Sensitive(rt, tok["access_token"].(string))

	page := b.get("/account")
	body := string(page.Body)
	for _, want := range []string{"<strong>" + name + "</strong>", "See your email address", `name="client_id" value="` + c.ID + `"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("the account page lacks %q:\n%s", want, body)
		}
	}
	csrf, _ := azFormFields(t, page)
	// Without the CSRF token: refused.
	wantErrorPage(t, b.post("/account/apps/revoke", url.Values{"client_id": {c.ID}}), http.StatusForbidden)
	// Another user revoking it: nothing of this user's goes.
	stranger, spass := azUser(t, srv)
	sb := newAZBrowser(t, srv)
	if r := sb.logIn("/login", stranger, spass); r.Status != http.StatusSeeOther {
		t.Fatalf("log in: %d", r.Status)
	}
	scsrf, _ := sb.openForm("/account")
	wantPageText(t, sb.post("/account/apps/revoke", url.Values{"csrf_token": {scsrf}, "client_id": {c.ID}}), http.StatusOK, "That app had no access to your account.")
	if r := refreshForm(t, srv, b.hc, c.ID, c.Secret, rt, ""); r.Status != http.StatusOK {
		t.Fatalf("refresh before the revocation: %d %s", r.Status, r.Body)
	} else {
		m := r.JSON(t)
		rt = m["refresh_token"].(string)
		srv.Sensitive(rt, m["access_token"].(string))
	}

	r := b.post("/account/apps/revoke", url.Values{"csrf_token": {csrf}, "client_id": {c.ID}})
	wantPageText(t, r, http.StatusOK, name+" no longer has access to your account.")
	if strings.Contains(string(r.Body), `value="`+c.ID+`"`) {
		t.Fatal("the revoked app is still listed")
	}
	wantOAuthError(t, refreshForm(t, srv, b.hc, c.ID, c.Secret, rt, ""), http.StatusBadRequest, "invalid_grant")
	again := b.authorize(azQuery(c, p, "apps-2", "scope", "openid email offline_access"), user, pass, "allow")
	if !again.SawConsent {
		t.Fatal("after revoking, the next authorization did not ask for consent")
	}
}

// TestAccounts_Profile: the account page's profile form needs the CSRF token and a
// session; each bad value gets its message next to its field (400, nothing saved);
// good values are saved, shown, and the phone number is unverified; an empty field
// clears its claim.
func TestAccounts_Profile(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	if r := b.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("log in: %d", r.Status)
	}
	good := url.Values{"name": {"Grace Hopper"}, "given_name": {"Grace"}, "family_name": {"Hopper"},
		"picture": {"https://pics.example.com/grace.png"}, "locale": {"en-US"}, "zoneinfo": {"America/New_York"},
		"phone_number": {"+12025550123"}}
	post := func(v url.Values) Response {
		csrf, _ := b.openForm("/account")
		form := url.Values{"csrf_token": {csrf}}
		for k, vs := range v {
			form[k] = vs
		}
		return b.post("/account/profile", form)
	}
	wantErrorPage(t, b.post("/account/profile", good), http.StatusForbidden)
	if r := newAZBrowser(t, srv).post("/account/profile", good); r.Status != http.StatusForbidden && r.Status != http.StatusSeeOther {
		t.Fatalf("without a session: %d", r.Status)
	}
	for field, bad := range map[string]string{"picture": "javascript:alert(1)", "locale": "not a locale!",
		"zoneinfo": "Mars/Olympus_Mons", "phone_number": "12345", "name": strings.Repeat("x", 201)} {
		v := url.Values{}
		for k, vs := range good {
			v[k] = vs
		}
		v.Set(field, bad)
		r := post(v)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `id="`+field+`-error"`) {
			t.Fatalf("%s = %q: %d, want 400 with the error next to the field:\n%s", field, bad, r.Status, r.Body)
		}
	}
	var shown struct {
		Name string `json:"name"`
	}
	srv.CLIJSON(t, &shown, "", "users", "show", user, "--json")
	if shown.Name != "" {
		t.Fatalf("a refused form saved the name %q", shown.Name)
	}
	wantPageText(t, post(good), http.StatusOK, "Your profile was saved.")
	var u struct {
		Name                string `json:"name"`
		GivenName           string `json:"given_name"`
		Zoneinfo            string `json:"zoneinfo"`
		PhoneNumber         string `json:"phone_number"`
		PhoneNumberVerified bool   `json:"phone_number_verified"`
	}
	srv.CLIJSON(t, &u, "", "users", "show", user, "--json")
	if u.Name != "Grace Hopper" || u.GivenName != "Grace" || u.Zoneinfo != "America/New_York" || u.PhoneNumber != "+12025550123" ||
		u.PhoneNumberVerified {
		t.Fatalf("saved %+v", u)
	}
	if page := string(b.get("/account").Body); !strings.Contains(page, `value="America/New_York"`) {
		t.Fatal("the account page does not show the saved time zone")
	}
	cleared := url.Values{}
	for k, vs := range good {
		cleared[k] = vs
	}
	cleared.Set("phone_number", "")
	wantPageText(t, post(cleared), http.StatusOK, "Your profile was saved.")
	srv.CLIJSON(t, &u, "", "users", "show", user, "--json")
	if u.PhoneNumber != "" || u.Name != "Grace Hopper" {
		t.Fatalf("after clearing the phone number: %+v", u)
	}
}

// TestSecurity_S47_PasswordChangeVoidsPendingLinks: someone who knows a user's
// password asks, from their own browser, for an email change to their mailbox. The
// user resets the password: the pending change link dies with the old password, so
// it cannot hand the account (and with it the next reset) back to the intruder. A
// reset link asked for before a password change on /account is void after it too.
func TestSecurity_S47_PasswordChangeVoidsPendingLinks(t *testing.T) {
	t.Parallel()
	srv, mx := mailServer(t, map[string]string{"GATEHOUSE_EMAIL_VERIFICATION": "off"})
	user, email, pass := uniqueName("victim"), uniqueName("victim")+"@example.com", "the password that leaked"
	owner := newAZBrowser(t, srv)
	if r := register(t, owner, user, email, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("register: %d", r.Status)
	}
	intruder := newAZBrowser(t, srv)
	if r := intruder.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("the intruder's login: %d", r.Status)
	}
	theirs := uniqueName("intruder") + "@example.net"
	wantPageText(t, changeEmail(t, intruder, pass, theirs), http.StatusOK, "We sent a link to "+theirs)
	changeLink := linkIn(t, srv, mailTo(t, mx, 1, theirs))

	// The user takes the account back with a reset.
	csrf, _ := owner.openForm("/forgot-password")
	owner.post("/forgot-password", url.Values{"csrf_token": {csrf}, "email": {email}})
	reset := linkMailTo(t, srv, mx, 1, email)
	r := submitLinkForm(t, owner, reset, "/reset-password", url.Values{"password": {"the new password"}, "password_confirm": {"the new password"}})
	wantPageText(t, r, http.StatusOK, "Your password was changed")

	// The intruder, signed out by the reset, opens the change link in a fresh browser.
	wantPageText(t, newAZBrowser(t, srv).get(changeLink), http.StatusBadRequest, badLinkText)
	if got, _ := userEmail(t, srv, user); got != email {
		t.Fatalf("the email changed to %q", got)
	}

	// A reset link from before a password change on /account resets nothing after it.
	csrf, _ = owner.openForm("/forgot-password")
	owner.post("/forgot-password", url.Values{"csrf_token": {csrf}, "email": {email}})
	early := linkMailTo(t, srv, mx, 2, email)
	if r := owner.logIn("/login", user, "the new password"); r.Status != http.StatusSeeOther {
		t.Fatalf("login with the new password: %d", r.Status)
	}
	csrf, _ = owner.openForm("/account")
	r = owner.post("/account/password", url.Values{"csrf_token": {csrf}, "current_password": {"the new password"},
		"new_password": {"a third password"}})
	wantPageText(t, r, http.StatusOK, "every other device was signed out")
	wantPageText(t, newAZBrowser(t, srv).get(early), http.StatusBadRequest, badLinkText)
	srv.Sensitive(tokenOf(t, changeLink), tokenOf(t, reset), tokenOf(t, early))

	// Each change was mailed to the user, with the way to take the account back.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var notices []smtptest.Parsed
		for _, m := range mx.Mails() {
			if p, err := smtptest.Parse(m.Raw); err == nil && m.To == email && p.Subject == "Your password was changed" {
				notices = append(notices, p)
			}
		}
		if len(notices) == 2 {
			for _, p := range notices {
				if !strings.Contains(p.Text, user) || !strings.Contains(p.Text, srv.URL+"/forgot-password") {
					t.Errorf("the notice lacks the user or the way back:\n%s", p.Text)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d password-changed notices, want 2 (the reset and the change on /account)", len(notices))
		}
	}
}
