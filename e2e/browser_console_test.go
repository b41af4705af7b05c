package e2e

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowser_Console: in real Chromium an administrator opens /admin, signs in on
// the login page (the console's own authorization-code flow), creates a client, edits
// it, rotates its secret (shown once), disables a user, and finds all of it in the
// audit log; a user who is no administrator is refused. Screenshots of the console at
// desktop and phone width.
func TestBrowser_Console(t *testing.T) {
	t.Parallel()
	browser := newChromium(t)
	shots := screenshotDir(t)
	srv := startServer(t, Options{})
	_, adminName, adminPass := newConsoleAdmin(t, srv)
	subjectName := uniqueName("alice")
	subjectPass := "alice-" + randomString(16)
	subjectID := srv.CreateUser(t, subjectName, subjectPass)
	// An authenticator app, for her page's second factors.
	ab := newAZBrowser(t, srv)
	ab.logIn("/login", subjectName, subjectPass)
	enrolTOTP(t, ab, subjectPass)

	// Some traffic for the dashboard's chart: a failed sign-in and a few tokens.
	hb := newAZBrowser(t, srv)
	hb.logIn("/login", subjectName, "wrong password")
	cc := srv.CreateClientJSON(t, "--grant-type", "client_credentials")
	for range 3 {
		srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials"), cc.ClientID, cc.ClientSecret)
	}

	tab := newTab(t, browser, 1280, 900)
	run(t, tab, "open the console and sign in",
		chromedp.Navigate(srv.URL+"/admin"),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), adminName),
		chromedp.SendKeys(chromedp.CSS(`#password`), adminPass),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart`)),
	)
	wantCardText(t, tab, "Dashboard", "Sign-ins succeeded", "Tokens issued")
	screenshot(t, tab, shots, "console-dashboard")

	clientName := uniqueName("Billing app")
	run(t, tab, "create a client",
		chromedp.Navigate(srv.URL+"/admin/clients/new"),
		chromedp.WaitVisible(chromedp.CSS(`#client_name`)),
		chromedp.SendKeys(chromedp.CSS(`#client_name`), clientName),
		chromedp.SendKeys(chromedp.CSS(`#redirect_uris`), "https://billing.example/callback"),
		chromedp.Click(chromedp.CSS(`form.form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#client-secret`)),
	)
	clientID, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`#client-id`)))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`#client-secret`)))
	if err != nil {
		t.Fatal(err)
	}
	clientID, secret = strings.TrimSpace(clientID), strings.TrimSpace(secret)
	srv.Sensitive(secret)
	wantCardText(t, tab, "shown this once")

	run(t, tab, "edit the client",
		chromedp.Navigate(srv.URL+"/admin/clients/"+url.PathEscape(clientID)),
		chromedp.WaitVisible(chromedp.CSS(`#client_name`)),
		chromedp.SendKeys(chromedp.CSS(`#post_logout_redirect_uris`), "https://billing.example/bye"),
		chromedp.Click(chromedp.CSS(`input[name="require_mfa"]`)),
		chromedp.Click(chromedp.CSS(`form.form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-info`)),
	)
	wantCardText(t, tab, "The client was saved.")
	if v, err := chromedp.Run(tab, chromedp.Value(chromedp.CSS(`#post_logout_redirect_uris`))); err != nil ||
		strings.TrimSpace(v) != "https://billing.example/bye" {
		t.Errorf("the saved post-logout redirect URIs: %q %v", v, err)
	}
	if strings.Contains(cardText(t, tab), secret) {
		t.Errorf("the client page shows the secret again")
	}
	screenshot(t, tab, shots, "console-client-edit")

	run(t, tab, "rotate the secret",
		chromedp.Click(chromedp.CSS(`form[action$="/rotate-secret"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#client-secret`)),
	)
	rotated, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`#client-secret`)))
	if err != nil {
		t.Fatal(err)
	}
	rotated = strings.TrimSpace(rotated)
	srv.Sensitive(rotated)
	if rotated == "" || rotated == secret {
		t.Errorf("the rotated secret %q", rotated)
	}
	wantCardText(t, tab, "The secret was rotated")

	run(t, tab, "the clients list",
		chromedp.Navigate(srv.URL+"/admin/clients"),
		chromedp.WaitVisible(chromedp.CSS(`table.table`)),
	)
	wantCardText(t, tab, clientName)
	screenshot(t, tab, shots, "console-clients")

	run(t, tab, "disable a user",
		chromedp.Navigate(srv.URL+"/admin/users?q="+url.QueryEscape(subjectName)),
		chromedp.WaitVisible(chromedp.CSS(`table.table`)),
		chromedp.Click(chromedp.CSS(`a[href="/admin/users/`+subjectID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="disabled"]`)),
		chromedp.Click(chromedp.CSS(`input[name="disabled"]`)),
		chromedp.Click(chromedp.CSS(`form.form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-info`)),
	)
	wantCardText(t, tab, "The user was saved.", "Authenticator app set up", "Reset second factors")
	screenshot(t, tab, shots, "console-user")
	run(t, tab, "the users list",
		chromedp.Navigate(srv.URL+"/admin/users"),
		chromedp.WaitVisible(chromedp.CSS(`table.table`)),
	)
	wantCardText(t, tab, subjectName, "disabled")
	screenshot(t, tab, shots, "console-users")

	run(t, tab, "the audit log",
		chromedp.Navigate(srv.URL+"/admin/audit"),
		chromedp.WaitVisible(chromedp.CSS(`table.table`)),
	)
	wantCardText(t, tab, "client.created", "client.updated", "client.secret.rotated", "user.updated", subjectID, clientID)
	screenshot(t, tab, shots, "console-audit")

	run(t, tab, "the keys",
		chromedp.Navigate(srv.URL+"/admin/keys"),
		chromedp.WaitVisible(chromedp.CSS(`table.table`)),
	)
	wantCardText(t, tab, "RS256", "active")

	// The same pages at phone width, in the same browser context (the same sign-in).
	for _, p := range []struct{ path, name string }{
		{"/admin", "console-dashboard-phone"},
		{"/admin/clients", "console-clients-phone"},
		{"/admin/clients/" + url.PathEscape(clientID), "console-client-edit-phone"},
		{"/admin/users", "console-users-phone"},
		{"/admin/users/" + subjectID, "console-user-phone"},
		{"/admin/audit", "console-audit-phone"},
	} {
		run(t, tab, p.name,
			chromedp.EmulateViewport(390, 844),
			chromedp.Navigate(srv.URL+p.path),
			chromedp.WaitVisible(chromedp.CSS(`.console-nav`)),
		)
		screenshot(t, tab, shots, p.name)
	}

	// Someone who is no administrator signs in and is refused.
	plainName, plainPass := uniqueName("bob"), "bob-"+randomString(16)
	srv.CreateUser(t, plainName, plainPass)
	other := newTab(t, browser, 1280, 900)
	run(t, other, "a non-admin opens the console",
		chromedp.Navigate(srv.URL+"/admin/users"),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), plainName),
		chromedp.SendKeys(chromedp.CSS(`#password`), plainPass),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.status-icon`)),
	)
	wantCardText(t, other, "Only administrators can use the console")
	if text := cardText(t, other); strings.Contains(text, subjectName) {
		t.Errorf("the refusal page shows console data")
	}
}
