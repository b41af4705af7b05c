package e2e

// Taking access away (issue 18 findings 4 and 8, SECURITY S58): deleting or disabling
// a user or client kills every token, code and session of it at once; the end of a
// session voids the codes issued in it. All through the real CLI and HTTP.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// grantSet is what a user holds at a client after signing in through the browser:
// the tokens of one code flow, and a second code not redeemed yet.
type grantSet struct {
	app           azClient
	browser       *azBrowser
	access        string
	refresh       string
	pendingCode   string
	pendingVerify string
}

// newGrantSet signs user in at a new client (code flow with consent skipped) and
// leaves a second code unredeemed.
func newGrantSet(t *testing.T, srv *Server, user, pass string) grantSet {
	t.Helper()
	g := grantSet{app: newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent",
		"--grant-type", "authorization_code", "--grant-type", "refresh_token"), browser: newAZBrowser(t, srv)}
	p := newAZPKCE()
	f := g.browser.authorize(azQuery(g.app, p, "s58", "scope", "openid offline_access"), user, pass, "allow")
	r := g.app.exchange(t, srv, g.browser.hc, f.Query.Get("code"), g.app.RedirectURI, p.Verifier)
	if r.Status != http.StatusOK {
		t.Fatalf("code exchange: %d %s", r.Status, r.Body)
	}
	tok := r.JSON(t)
	g.access, _ = tok["access_token"].(string)
	g.refresh, _ = tok["refresh_token"].(string)
	srv.Sensitive(g.access, g.refresh)
	p2 := newAZPKCE()
	f2 := g.browser.authorize(azQuery(g.app, p2, "s58b", "scope", "openid offline_access"), user, pass, "allow")
	g.pendingCode, g.pendingVerify = f2.Query.Get("code"), p2.Verifier
	if g.pendingCode == "" {
		t.Fatalf("no second code: %s", f2.Location)
	}
	return g
}

// redeemPending redeems the code left unredeemed.
func (g grantSet) redeemPending(t *testing.T, srv *Server) Response {
	t.Helper()
	r := g.app.exchange(t, srv, g.browser.hc, g.pendingCode, g.app.RedirectURI, g.pendingVerify)
	if r.Status == http.StatusOK {
		srv.Sensitive(r.JSON(t)["access_token"].(string))
	}
	return r
}

func (g grantSet) refreshOnce(t *testing.T, srv *Server) Response {
	t.Helper()
	r := srv.PostForm(t, g.browser.hc, "/oauth/token", form("grant_type", "refresh_token", "refresh_token", g.refresh),
		g.app.ID, g.app.Secret)
	if r.Status == http.StatusOK {
		srv.Sensitive(r.JSON(t)["access_token"].(string), r.JSON(t)["refresh_token"].(string))
	}
	return r
}

// hasSession reports whether the browser is still signed in: an authorization
// request with prompt=none gets a code rather than login_required.
func (g grantSet) hasSession(t *testing.T, srv *Server) bool {
	t.Helper()
	r := g.browser.get("/oauth/authorize?" + azQuery(g.app, newAZPKCE(), "none", "prompt", "none").Encode())
	if r.Status != http.StatusFound {
		t.Fatalf("prompt=none: %d %s", r.Status, r.Body)
	}
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case u.Query().Get("code") != "":
		return true
	case u.Query().Get("error") == "login_required":
		return false
	}
	t.Fatalf("prompt=none answered %s", r.Header.Get("Location"))
	return false
}

// wantRefused checks a token endpoint answer: one of the statuses and error codes
// given as "400 invalid_grant".
func wantRefused(t *testing.T, what string, r Response, allowed ...string) {
	t.Helper()
	got := ""
	if r.Status != http.StatusOK {
		e, _ := r.JSON(t)["error"].(string)
		got = fmt.Sprintf("%d %s", r.Status, e)
	}
	for _, a := range allowed {
		if got == a {
			return
		}
	}
	t.Errorf("%s: %d %s, want %v", what, r.Status, r.Body, allowed)
}

// wantUserinfo401 checks that /userinfo refuses an access token.
func wantUserinfo401(t *testing.T, srv *Server, hc *http.Client, token string) {
	t.Helper()
	if r := clBearer(t, srv, hc, "/userinfo", token); r.Status != http.StatusUnauthorized {
		t.Errorf("userinfo: %d %s, want 401", r.Status, r.Body)
	}
}

func cliOK(t *testing.T, srv *Server, args ...string) string {
	t.Helper()
	out, errOut, code := srv.CLI(t, "", args...)
	if code != 0 {
		t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// TestSecurity_S58_DisableOrDeleteKillsEverything: on every backend, disabling or
// deleting a user or client takes effect at once: introspection says inactive,
// userinfo 401, refresh and code redemption fail, and a user's browser sessions end.
// A client the server still holds in its cache may pass authentication for up to
// GATEHOUSE_CLIENT_CACHE_TTL; its tokens and codes are refused all the same.
func TestSecurity_S58_DisableOrDeleteKillsEverything(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		rsID, rsSecret := srv.CreateClient(t, "--grant-type", "client_credentials")
		cases := []struct {
			name   string
			user   bool     // the action is on the user (else on the client)
			action []string // CLI arguments; USER and CLIENT are replaced
		}{
			{"UserDisabled", true, []string{"users", "update", "USER", "--disabled=true"}},
			{"UserDeleted", true, []string{"users", "delete", "USER"}},
			{"ClientDisabled", false, []string{"clients", "update", "CLIENT", "--disabled=true"}},
			{"ClientDeleted", false, []string{"clients", "delete", "CLIENT"}},
		}
		var tests []subtest
		for _, tc := range cases {
			tests = append(tests, subtest{tc.name, func(t *testing.T) {
				user, pass := azUser(t, srv)
				g := newGrantSet(t, srv, user, pass)
				// A bystander: another user at the same client, or the same user at
				// another client, keeps everything.
				var other grantSet
				if tc.user {
					u2, p2 := azUser(t, srv)
					other = newGrantSet(t, srv, u2, p2)
				} else {
					other = newGrantSet(t, srv, user, pass)
				}
				args := make([]string, len(tc.action))
				for i, a := range tc.action {
					args[i] = strings.NewReplacer("USER", user, "CLIENT", g.app.ID).Replace(a)
				}
				cliOK(t, srv, args...)

				hc := srv.HTTPClient()
				wantInactive(t, introspect(t, srv, hc, rsID, rsSecret, g.access))
				wantUserinfo401(t, srv, hc, g.access)
				if tc.user {
					wantInactive(t, introspect(t, srv, hc, other.app.ID, other.app.Secret, g.refresh))
					wantRefused(t, "refresh", g.refreshOnce(t, srv), "400 invalid_grant")
					wantRefused(t, "code redemption", g.redeemPending(t, srv), "400 invalid_grant")
					if g.hasSession(t, srv) {
						t.Error("the browser session lives")
					}
				} else {
					// Within the client cache's TTL the client may still authenticate.
					wantRefused(t, "refresh", g.refreshOnce(t, srv), "400 invalid_grant", "401 invalid_client")
					wantRefused(t, "code redemption", g.redeemPending(t, srv), "400 invalid_grant", "401 invalid_client")
					clEventually(t, 7*time.Second, "the client is refused", func() error {
						r := srv.PostForm(t, hc, "/oauth/token", form("grant_type", "refresh_token", "refresh_token", g.refresh),
							g.app.ID, g.app.Secret)
						if r.Status != http.StatusUnauthorized {
							return fmt.Errorf("%d %s", r.Status, r.Body)
						}
						return nil
					})
				}
				// The bystander is untouched.
				m := introspect(t, srv, hc, rsID, rsSecret, other.access)
				if m["active"] != true {
					t.Errorf("a bystander's token died: %v", m)
				}
				if r := other.refreshOnce(t, srv); r.Status != http.StatusOK {
					t.Errorf("a bystander's refresh: %d %s", r.Status, r.Body)
				}
			}})
		}
		runConcurrently(t, tests...)
	})
}

// TestAudit18_DeletedClientTokensDie: finding 4. Deleting a client leaves none of its
// access tokens active: neither its own (client credentials) nor its users'.
func TestAudit18_DeletedClientTokensDie(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	rsID, rsSecret := srv.CreateClient(t, "--grant-type", "client_credentials")
	id, secret := srv.CreateClient(t, "--grant-type", "client_credentials", "--grant-type", "password",
		"--grant-type", "refresh_token", "--scope", "openid api:read")
	hc := srv.HTTPClient()
	r := srv.PostForm(t, hc, "/oauth/token", form("grant_type", "client_credentials"), id, secret)
	if r.Status != http.StatusOK {
		t.Fatalf("client credentials: %d %s", r.Status, r.Body)
	}
	own := r.JSON(t)["access_token"].(string)
	srv.Sensitive(own)
	user, pass, _ := newUser(t, srv)
	tok := passwordToken(t, srv, hc, userConfig(srv, id, secret, "openid", "api:read"), user, pass)
	for name, at := range map[string]string{"own": own, "user": tok.AccessToken} {
		if m := introspect(t, srv, hc, rsID, rsSecret, at); m["active"] != true {
			t.Fatalf("%s token before the deletion: %v", name, m)
		}
	}

	cliOK(t, srv, "clients", "delete", id)
	for _, at := range []string{own, tok.AccessToken} {
		wantInactive(t, introspect(t, srv, hc, rsID, rsSecret, at))
	}
	wantUserinfo401(t, srv, hc, tok.AccessToken)
	r = srv.PostForm(t, hc, "/oauth/token", form("grant_type", "refresh_token", "refresh_token", tok.RefreshToken), id, secret)
	wantRefused(t, "refresh", r, "400 invalid_grant", "401 invalid_client")
}

// TestAudit18_DisabledUserCannotSignIn: a disabled user cannot sign in, on the login
// page or with the password grant, and is told so only after the right password;
// enabled again, they can, and their earlier tokens stay dead.
func TestAudit18_DisabledUserCannotSignIn(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	user, pass, id := newUser(t, srv)
	cfg, cid, csecret := newPasswordClient(t, srv)
	hc := srv.HTTPClient()
	before := passwordToken(t, srv, hc, cfg, user, pass)

	out := cliOK(t, srv, "users", "update", user, "--disabled=true", "--json")
	if m, _ := jsonKeys(t, out); m["disabled"] != true || m["id"] != id {
		t.Fatalf("users update --json: %s", out)
	}
	wantInactive(t, introspect(t, srv, hc, cid, csecret, before.AccessToken))

	passwordGrant := func(pw string) Response {
		return srv.PostForm(t, srv.HTTPClient(), "/oauth/token", form("grant_type", "password", "username", user, "password", pw), cid, csecret)
	}
	r := passwordGrant(pass)
	wantOAuthError(t, r, 400, "invalid_grant")
	if d := r.JSON(t)["error_description"]; d != "the account is disabled" {
		t.Errorf("password grant of a disabled user: %q", d)
	}
	r = passwordGrant("wrong-" + pass)
	if d := r.JSON(t)["error_description"]; d != "invalid username or password" {
		t.Errorf("a wrong password for a disabled user says %q: it must not tell the account is disabled", d)
	}

	b := newAZBrowser(t, srv)
	page := b.logIn("/login", user, "wrong-"+pass)
	if page.Status != http.StatusUnauthorized || strings.Contains(string(page.Body), "disabled") ||
		!strings.Contains(string(page.Body), "Incorrect username or password.") {
		t.Errorf("login with a wrong password: %d, body mentions disabled: %v", page.Status, strings.Contains(string(page.Body), "disabled"))
	}
	page = b.logIn("/login", user, pass)
	if page.Status != http.StatusForbidden || !strings.Contains(string(page.Body), "This account is disabled.") {
		t.Errorf("login of a disabled user: %d %s", page.Status, page.Body)
	}
	if b.cookie("gatehouse_session") != "" || b.cookie("__Host-gatehouse_session") != "" {
		t.Error("a disabled user got a session cookie")
	}

	cliOK(t, srv, "users", "update", id, "--disabled=false")
	time.Sleep(1100 * time.Millisecond) // a token of the second of re-enabling counts as issued before it
	after := passwordToken(t, srv, hc, cfg, user, pass)
	if m := introspect(t, srv, hc, cid, csecret, after.AccessToken); m["active"] != true {
		t.Errorf("a token after re-enabling: %v", m)
	}
	wantInactive(t, introspect(t, srv, hc, cid, csecret, before.AccessToken))
	if _, err := refresh(ctxWith(hc), cfg, before.RefreshToken); err == nil {
		t.Error("a refresh token from before the disabling works again")
	}
	if page := newAZBrowser(t, srv).logIn("/login", user, pass); page.Status != http.StatusSeeOther {
		t.Errorf("login after re-enabling: %d", page.Status)
	}
}

// TestAudit18_CodeVoidedByLogout: finding 8. A code issued just before logout does not
// redeem after it.
func TestAudit18_CodeVoidedByLogout(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	user, pass := azUser(t, srv)
	g := newGrantSet(t, srv, user, pass)
	csrf, _ := g.browser.openForm("/logout")
	if r := g.browser.post("/logout", url.Values{"csrf_token": {csrf}}); r.Status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.Status)
	}
	wantRefused(t, "redeeming a code of the ended session", g.redeemPending(t, srv), "400 invalid_grant")
	wantRefused(t, "refresh", g.refreshOnce(t, srv), "400 invalid_grant")
}

// TestAudit18_CodeVoidedByPasswordChange: finding 8. A code issued just before a
// password change does not redeem after it.
func TestAudit18_CodeVoidedByPasswordChange(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	user, pass := azUser(t, srv)
	g := newGrantSet(t, srv, user, pass)
	newPass := "new-" + randomString(16)
	srv.Sensitive(newPass)
	if _, errOut, code := srv.CLI(t, newPass+"\n", "users", "set-password", user, "--password-stdin"); code != 0 {
		t.Fatalf("set-password: exit %d %s", code, errOut)
	}
	wantRefused(t, "redeeming a code issued before the password change", g.redeemPending(t, srv), "400 invalid_grant")
	if g.hasSession(t, srv) {
		t.Error("the session outlived the password change")
	}
}
