package e2e

// The audit log (SPEC "Admin API, console and audit log"; SECURITY S56): sign-ins,
// account changes and admin changes are recorded, readable with `gatehouse audit
// list`, and never hold a secret, password, token, code, link or email address.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// auditEvent is one event of `gatehouse audit list --json`.
type auditEvent struct {
	ID      string         `json:"id"`
	Time    time.Time      `json:"time"`
	Type    string         `json:"type"`
	Actor   string         `json:"actor"`
	Target  string         `json:"target"`
	IP      string         `json:"ip"`
	Reason  string         `json:"reason"`
	Details map[string]any `json:"details"`
}

// auditList runs `audit list --json` with args.
func auditList(t *testing.T, srv *Server, args ...string) []auditEvent {
	t.Helper()
	var out []auditEvent
	srv.CLIJSON(t, &out, "", append([]string{"audit", "list"}, args...)...)
	return out
}

func auditTypes(es []auditEvent) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Type
	}
	return out
}

// findEvent is the newest event of type typ (and reason, when given).
// signIns counts the user's user.login.succeeded events.
func signIns(t *testing.T, srv *Server, userID string) int {
	t.Helper()
	n := 0
	for _, e := range auditList(t, srv, "--user", userID, "--type", "user.login.succeeded") {
		if e.Target == userID {
			n++
		}
	}
	return n
}

func findEvent(es []auditEvent, typ, reason string) (auditEvent, bool) {
	for _, e := range es {
		if e.Type == typ && (reason == "" || e.Reason == reason) {
			return e, true
		}
	}
	return auditEvent{}, false
}

// TestSecurity_S56_AuditLogHoldsNoSecrets: a registration, failed sign-ins (a wrong
// password, an unknown user whose "name" is a password typed in the wrong field), a
// sign-in, a password change, a reset by mailed link, an email change by mailed link, a password set by the CLI, a
// client created and its secret rotated are all in the audit log, with the reasons
// of the failures; and no audit row (every column, read through `audit list --json`)
// nor the server log holds any of the passwords, secrets, tokens, links, codes or
// the email address.
func TestSecurity_S56_AuditLogHoldsNoSecrets(t *testing.T) {
	t.Parallel()
	srv, mx := mailServer(t, map[string]string{"GATEHOUSE_EMAIL_VERIFICATION": "off"})
	user, email := uniqueName("s56"), uniqueName("s56")+"@example.com"
	p1, p2, p3, p4 := "first-"+randomString(16), "second-"+randomString(16), "third-"+randomString(16), "fourth-"+randomString(16)
	wrong, typedAsName := "wrong-"+randomString(16), "name-is-a-password-"+randomString(12)
	srv.Sensitive(p1, p2, p3, p4, wrong, typedAsName)

	b := newAZBrowser(t, srv)
	if r := register(t, b, user, email, p1); r.Status != http.StatusSeeOther {
		t.Fatalf("register: %d\n%s", r.Status, r.Body)
	}
	other := newAZBrowser(t, srv)
	if r := other.logIn("/login", user, wrong); r.Status == http.StatusSeeOther {
		t.Fatal("a wrong password signed in")
	}
	if r := other.logIn("/login", typedAsName, wrong); r.Status == http.StatusSeeOther {
		t.Fatal("an unknown user signed in")
	}
	if r := other.logIn("/login", user, p1); r.Status != http.StatusSeeOther {
		t.Fatalf("log in: %d", r.Status)
	}
	csrf, _ := other.openForm("/account")
	wantPageText(t, other.post("/account/password", url.Values{"csrf_token": {csrf}, "current_password": {p1},
		"new_password": {p2}}), http.StatusOK, "every other device was signed out")

	csrf, _ = b.openForm("/forgot-password")
	wantPageText(t, b.post("/forgot-password", url.Values{"csrf_token": {csrf}, "email": {email}}), http.StatusOK, "on its way")
	link := linkMailTo(t, srv, mx, 1, email)
	token := strings.SplitN(link, "token=", 2)[1]
	srv.Sensitive(link, token)
	wantPageText(t, submitLinkForm(t, b, link, "/reset-password", url.Values{"password": {p3}, "password_confirm": {p3}}),
		http.StatusOK, "Your password was changed")

	if _, errOut, code := srv.CLI(t, p4+"\n", "users", "set-password", user, "--password-stdin"); code != 0 {
		t.Fatalf("users set-password: %d %s", code, errOut)
	}
	// The password grant signs in too: a wrong password, then the right one.
	pc, pcID, pcSecret := newPasswordClient(t, srv)
	hc := srv.HTTPClient()
	if _, err := pc.PasswordCredentialsToken(ctxWith(hc), user, wrong); err == nil {
		t.Fatal("a wrong password got tokens")
	}
	tok := passwordToken(t, srv, hc, pc, user, p4)
	srv.Sensitive(pcSecret, tok.AccessToken, tok.RefreshToken)
	if idt, ok := tok.Extra("id_token").(string); ok {
		srv.Sensitive(idt)
	}

	// Two browsers; one ends the other's session from /account, then logs out.
	here, there := newAZBrowser(t, srv), newAZBrowser(t, srv)
	for _, br := range []*azBrowser{here, there} {
		if r := br.logIn("/login", user, p4); r.Status != http.StatusSeeOther {
			t.Fatalf("log in: %d", r.Status)
		}
	}
	csrf, _ = here.openForm("/account")
	wantPageText(t, here.post("/account/sessions/end", url.Values{"csrf_token": {csrf}}), http.StatusOK,
		"Every other device was signed out.")
	// A new email address, confirmed by its mailed link.
	newEmail := uniqueName("s56new") + "@example.com"
	wantPageText(t, changeEmail(t, here, p4, newEmail), http.StatusOK, newEmail)
	changeLink := linkMailTo(t, srv, mx, 1, newEmail)
	srv.Sensitive(changeLink, tokenOf(t, changeLink))
	wantPageText(t, submitLinkForm(t, here, changeLink, "/confirm-email", nil), http.StatusOK, "Your email address is now "+newEmail)
	if r := here.post("/logout", oiLogoutForm(t, here.get("/logout"))); r.Status >= 400 {
		t.Fatalf("logout: %d", r.Status)
	}

	c := srv.CreateClientJSON(t, "--redirect-uri", "https://app.example.com/cb")
	var rotated struct {
		ClientSecret string `json:"client_secret"`
	}
	srv.CLIJSON(t, &rotated, "", "clients", "rotate-secret", c.ClientID)
	if rotated.ClientSecret == "" {
		t.Fatal("rotate-secret printed no secret")
	}
	srv.Sensitive(rotated.ClientSecret)

	var u struct {
		ID string `json:"id"`
	}
	srv.CLIJSON(t, &u, "", "users", "show", user)
	events := auditList(t, srv, "--limit", "10000")
	mine := auditList(t, srv, "--user", user)
	for _, want := range []struct{ typ, reason, actor, target string }{
		{"user.registered", "", u.ID, u.ID},
		{"user.login.failed", "wrong_password", u.ID, u.ID},
		{"user.login.succeeded", "", u.ID, u.ID},
		{"user.password.changed", "", u.ID, u.ID}, // on /account
		{"user.password.reset", "", u.ID, u.ID},
		{"user.logout", "", u.ID, u.ID},
		{"user.email.changed", "", u.ID, u.ID},
	} {
		i := slices.IndexFunc(mine, func(e auditEvent) bool {
			return e.Type == want.typ && e.Reason == want.reason && e.Actor == want.actor && e.Target == want.target
		})
		e, ok := auditEvent{}, i >= 0
		if ok {
			e = mine[i]
		}
		if !ok {
			t.Errorf("no %s %s event by %s on %s among the user's: %v", want.typ, want.reason, want.actor, want.target, auditTypes(mine))
		}
		if ok && strings.HasPrefix(want.typ, "user.login") && e.IP == "" {
			t.Errorf("%s has no address", want.typ)
		}
	}
	if e, ok := findEvent(mine, "user.password.changed", ""); !ok || e.Actor != "cli" {
		// The newest password change is the CLI's.
		t.Errorf("the CLI's set-password is not the newest password change: %+v", e)
	}
	if e, ok := findEvent(events, "session.revoked", ""); !ok || e.Actor != u.ID || e.Target == "" || e.Target == u.ID || e.IP == "" {
		t.Errorf("the session ended from /account: %+v, %v", e, ok)
	}
	grantFailed := slices.IndexFunc(mine, func(e auditEvent) bool {
		return e.Type == "user.login.failed" && e.Reason == "wrong_password" && e.Details["client_id"] == pcID &&
			e.Details["grant"] == "password" && e.IP != ""
	})
	grantSucceeded := slices.IndexFunc(mine, func(e auditEvent) bool {
		return e.Type == "user.login.succeeded" && e.Details["client_id"] == pcID && e.Actor == u.ID
	})
	if grantFailed < 0 || grantSucceeded < 0 {
		t.Errorf("the password grant's sign-ins are not both in the audit log: %+v", mine)
	}
	if e, ok := findEvent(events, "user.login.failed", "unknown_user"); !ok || e.Target != "" || e.Actor != "" {
		t.Errorf("the unknown user's failed sign-in: %+v, %v (want no actor nor target: the typed name is not kept)", e, ok)
	}
	clientEvents := auditList(t, srv, "--user", c.ClientID)
	if got := auditTypes(clientEvents); !slices.Equal(got, []string{"client.secret.rotated", "client.created"}) {
		t.Errorf("the client's events: %v", got)
	}

	raw, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	secrets := append(srv.sensitiveValues(), c.ClientSecret, email, strings.ToUpper(email), link, token, newEmail)
	for _, v := range secrets {
		if strings.Contains(string(raw), v) {
			t.Errorf("SECURITY S56: the audit log holds a secret, token, link or email address (%.6s…)", v)
		}
		if strings.Contains(srv.Log(), v) {
			t.Errorf("SECURITY S56: the server log holds a secret, token, link or email address (%.6s…)", v)
		}
	}
	if !strings.Contains(srv.Log(), "user.login.failed") || !strings.Contains(srv.Log(), "wrong_password") {
		t.Errorf("the server log has no audit line for the failed sign-in:\n%s", tail(srv.Log(), 30))
	}
}

// TestCLI_AuditList: `gatehouse audit list` on the three databases: the events of a
// user (by username or id), of a type, of the last DURATION, as JSON or a table; bad
// flags are one line and exit 2.
func TestCLI_AuditList(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		name, pass := uniqueName("audit"), "pw-"+randomString(16)
		id := srv.CreateUser(t, name, pass)
		if _, errOut, code := srv.CLI(t, "", "users", "update", name, "--disabled", "--name", "Al Ice"); code != 0 {
			t.Fatalf("users update: %d %s", code, errOut)
		}
		b := newAZBrowser(t, srv)
		if r := b.logIn("/login", name, pass); r.Status == http.StatusSeeOther {
			t.Fatal("a disabled user signed in")
		}

		byName := auditList(t, srv, "--user", name)
		if got := auditTypes(byName); !slices.Equal(got, []string{"user.login.failed", "user.updated", "user.created"}) {
			t.Fatalf("the user's events: %v", got)
		}
		if byID := auditList(t, srv, "--user", id); len(byID) != 3 || byID[0].ID != byName[0].ID {
			t.Fatalf("by id: %+v", byID)
		}
		failed, updated, created := byName[0], byName[1], byName[2]
		if failed.Reason != "disabled" || failed.IP == "" || failed.Target != id {
			t.Errorf("failed sign-in: %+v", failed)
		}
		if created.Actor != "cli" || created.Target != id || updated.Actor != "cli" {
			t.Errorf("CLI changes not by cli: %+v %+v", created, updated)
		}
		if fields, _ := updated.Details["fields"].([]any); !slices.Equal(fields, []any{"disabled", "name"}) {
			t.Errorf("update details: %#v", updated.Details)
		}
		if created.ID == "" || time.Since(created.Time) > time.Hour || created.Details == nil {
			t.Errorf("created event: %+v", created)
		}
		if got := auditList(t, srv, "--user", name, "--type", "user.updated"); len(got) != 1 || got[0].ID != updated.ID {
			t.Errorf("--type: %+v", got)
		}
		if got := auditList(t, srv, "--user", name, "--since", "1h"); len(got) != 3 {
			t.Errorf("--since 1h: %d events", len(got))
		}
		if got := auditList(t, srv, "--user", name, "--limit", "1"); len(got) != 1 || got[0].ID != failed.ID {
			t.Errorf("--limit 1: %+v", got)
		}
		if got := auditList(t, srv, "--user", "00000000-0000-4000-8000-00000000dead"); len(got) != 0 {
			t.Errorf("an unknown user's events: %+v", got)
		}
		out, errOut, code := srv.CLI(t, "", "audit", "list", "--user", name)
		if code != 0 || !strings.HasPrefix(out, "TIME") || !strings.Contains(out, "user.login.failed") ||
			!strings.Contains(out, "disabled,name") {
			t.Errorf("table: %d %s\n%s", code, errOut, out)
		}
		for _, args := range [][]string{
			{"--since", "yesterday"}, {"--since", "-1h"}, {"--type", "user.exploded"}, {"--limit", "0"},
			{"--bogus"}, {"extra"},
		} {
			out, errOut, code := srv.CLI(t, "", append([]string{"audit", "list"}, args...)...)
			wantUsage(t, "audit list "+strings.Join(args, " "), out, errOut, code)
		}
	})
}

// TestAudit_ConsentGrantedAndRevoked: approving a client on the consent page records
// consent.granted (the user as actor, the client as target, the scopes granted),
// and revoking it from /account records consent.revoked; denying records nothing.
func TestAudit_ConsentGrantedAndRevoked(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	name, pass := uniqueName("consent"), "pw-"+randomString(16)
	userID := srv.CreateUser(t, name, pass)
	c := newAZClient(t, srv, "https://app.example.com/cb", "--scope", "openid profile")

	denied := newAZBrowser(t, srv).authorize(azQuery(c, newAZPKCE(), "s1"), name, pass, "deny")
	if denied.Query.Get("error") != "access_denied" {
		t.Fatalf("deny: %s", denied.Location)
	}
	if got := auditList(t, srv, "--user", c.ID, "--type", "consent.granted"); len(got) != 0 {
		t.Fatalf("a denied consent was recorded as granted: %+v", got)
	}

	b := newAZBrowser(t, srv)
	f := b.authorize(azQuery(c, newAZPKCE(), "s2"), name, pass, "allow")
	if !f.SawConsent || f.Query.Get("code") == "" {
		t.Fatalf("allow: consent page %v, redirect %s", f.SawConsent, f.Location)
	}
	granted := auditList(t, srv, "--user", c.ID, "--type", "consent.granted")
	if len(granted) != 1 || granted[0].Actor != userID || granted[0].Target != c.ID || granted[0].IP == "" ||
		granted[0].Details["scope"] != "openid profile" {
		t.Fatalf("consent.granted: %+v", granted)
	}

	csrf, _ := b.openForm("/account")
	wantPageText(t, b.post("/account/apps/revoke", url.Values{"csrf_token": {csrf}, "client_id": {c.ID}}),
		http.StatusOK, "no longer has access to your account.")
	revoked := auditList(t, srv, "--user", c.ID, "--type", "consent.revoked")
	if len(revoked) != 1 || revoked[0].Actor != userID {
		t.Fatalf("consent.revoked: %+v", revoked)
	}
}
