package e2e

// The admin console (/admin): its sign-in through the server's own authorization-code
// flow with PKCE, the admin gate checked on every request, CSRF, and each action with
// its audit event (SPEC "Admin API, console and audit log", SECURITY S55, S56).

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/infrastructure/database/dbtest"
)

// consoleSignIn opens target (a console page) in b and follows the sign-in: the
// redirect into /oauth/authorize, the login page as user, the callback, and back to
// target. It returns the last answer (the console page, or a refusal).
func consoleSignIn(t *testing.T, b *azBrowser, target, user, password string) Response {
	t.Helper()
	r, _ := consoleSignInCookies(t, b, target, user, password)
	return r
}

// consoleSignInCookies is consoleSignIn that also returns the cookies the console's
// callback set.
func consoleSignInCookies(t *testing.T, b *azBrowser, target, user, password string) (Response, []*http.Cookie) {
	t.Helper()
	return consoleSignInVia(t, func(int) *azBrowser { return b }, target, user, password)
}

// consoleSignInVia is consoleSignInCookies taking hop i of the sign-in in the browser
// via(i) gives: the same cookies, perhaps another instance of a cluster (whose
// issuer, clIssuer, stands for whichever instance takes the hop).
func consoleSignInVia(t *testing.T, via func(i int) *azBrowser, target, user, password string) (Response, []*http.Cookie) {
	t.Helper()
	b := via(0)
	resp := b.get(target)
	var set []*http.Cookie
	for i := range 10 {
		if resp.Status != http.StatusFound && resp.Status != http.StatusSeeOther {
			return resp, set
		}
		loc := resp.Header.Get("Location")
		b = via(i + 1)
		for _, base := range []string{b.srv.URL, clIssuer} {
			loc = strings.TrimPrefix(loc, base)
		}
		if strings.HasPrefix(loc, "/login") {
			resp = b.logIn(loc, user, password)
			continue
		}
		if !strings.HasPrefix(loc, "/") {
			t.Fatalf("the console sign-in left the server: %s", loc)
		}
		resp = b.get(loc)
		if strings.HasPrefix(loc, "/admin/callback") {
			set = (&http.Response{Header: resp.Header}).Cookies()
		}
	}
	t.Fatalf("no end to the console's redirects")
	return resp, set
}

// newConsoleAdmin creates a user in group admin and returns its id and password.
func newConsoleAdmin(t *testing.T, srv *Server) (id, name, password string) {
	t.Helper()
	name, password = uniqueName("admin"), "console-"+randomString(16)
	id = srv.CreateUser(t, name, password)
	if _, errOut, code := srv.CLI(t, "", "users", "update", id, "--add-group", "admin"); code != 0 {
		t.Fatalf("users update --add-group admin: exit %d %s", code, errOut)
	}
	return id, name, password
}

// consoleCSRF is the CSRF token of a console page's forms.
func consoleCSRF(t *testing.T, page Response) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(string(page.Body))
	if m == nil {
		t.Fatalf("no CSRF token on the page\n%s", page.Body)
	}
	return m[1]
}

func wantConsolePage(t *testing.T, what string, r Response, want string) {
	t.Helper()
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), want) {
		t.Fatalf("%s: %d, want 200 with %q\n%s", what, r.Status, want, r.Body)
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") ||
		strings.Contains(csp, "script-src") {
		t.Errorf("%s: CSP %q", what, csp)
	}
}

func wantConsoleRefused(t *testing.T, what string, r Response) {
	t.Helper()
	if r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "Only administrators can use the console") {
		t.Fatalf("%s: %d, want 403 \"Only administrators can use the console\"\n%s", what, r.Status, r.Body)
	}
}

// TestSecurity_S55_ConsoleSignInAndGate: the console signs in through /oauth/authorize
// as the built-in public client with state, PKCE S256 and a nonce; a non-admin who signs
// in is refused; an admin removed from group admin, or disabled, is refused at once,
// on the next request; signing out ends the console session.
func TestSecurity_S55_ConsoleSignInAndGate(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	adminID, adminName, adminPass := newConsoleAdmin(t, srv)

	b := newAZBrowser(t, srv)
	first := b.get("/admin/users?q=x")
	if first.Status != http.StatusFound {
		t.Fatalf("GET /admin without a session: %d, want 302 into the authorization endpoint", first.Status)
	}
	u, err := url.Parse(first.Header.Get("Location"))
	if err != nil || u.Path != "/oauth/authorize" {
		t.Fatalf("redirect to %q, want /oauth/authorize", first.Header.Get("Location"))
	}
	q := u.Query()
	if q.Get("client_id") != "gatehouse-console" || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
		len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 32 || q.Get("nonce") == "" ||
		q.Get("redirect_uri") != srv.URL+"/admin/callback" {
		t.Errorf("the console's authorization request: %v", q)
	}
	page, set := consoleSignInCookies(t, b, "/admin/users?q=x", adminName, adminPass)
	wantConsolePage(t, "the admin after sign-in", page, "Users")
	if !strings.Contains(string(page.Body), `value="x"`) {
		t.Errorf("the sign-in did not come back to the page asked for, with its query")
	}
	var session, login bool
	for _, c := range set {
		switch c.Name {
		case "gatehouse_console":
			session = c.Value != "" && c.HttpOnly && c.SameSite == http.SameSiteStrictMode && c.Path == "/"
		case "gatehouse_console_login":
			login = c.MaxAge < 0 // used once, then cleared
		}
	}
	if !session || !login {
		t.Errorf("the callback's cookies: %v", set)
	}
	wantConsolePage(t, "the dashboard", b.get("/admin"), "Sign-ins succeeded")

	// A callback with a state this browser did not start is refused.
	if r := b.get("/admin/callback?code=x&state=" + strings.Repeat("A", 43)); r.Status != http.StatusBadRequest {
		t.Errorf("a callback with a foreign state: %d, want 400", r.Status)
	}
	// A forged console cookie is no session.
	other := newAZBrowser(t, srv)
	other.setCookie("gatehouse_console", b.cookie("gatehouse_console"))
	if r := other.get("/admin"); r.Status != http.StatusFound {
		t.Errorf("the console cookie of another browser without its sign-in: %d, want 302 to sign in", r.Status)
	}

	// A non-admin signs in and gets the refusal page.
	userName, userPass := uniqueName("plain"), "plain-"+randomString(16)
	srv.CreateUser(t, userName, userPass)
	nb := newAZBrowser(t, srv)
	wantConsoleRefused(t, "a non-admin after sign-in", consoleSignIn(t, nb, "/admin", userName, userPass))
	wantConsoleRefused(t, "a non-admin's POST", nb.post("/admin/clients", url.Values{"client_name": {"x"}}))

	// Removed from group admin: refused on the very next request.
	if _, errOut, code := srv.CLI(t, "", "users", "update", adminID, "--remove-group", "admin"); code != 0 {
		t.Fatalf("remove from admin: %s", errOut)
	}
	wantConsoleRefused(t, "an admin removed from group admin", b.get("/admin"))
	if _, errOut, code := srv.CLI(t, "", "users", "update", adminID, "--add-group", "admin"); code != 0 {
		t.Fatalf("add to admin: %s", errOut)
	}
	wantConsolePage(t, "back in group admin", b.get("/admin"), "Dashboard")

	// Signing out ends the console session.
	lb := newAZBrowser(t, srv)
	wantConsolePage(t, "second admin browser", consoleSignIn(t, lb, "/admin", adminName, adminPass), "Dashboard")
	csrf, _ := lb.openForm("/logout")
	lb.post("/logout", url.Values{"csrf_token": {csrf}})
	if r := lb.get("/admin"); r.Status != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "/oauth/authorize") {
		t.Errorf("the console after sign-out: %d %s, want a new sign-in", r.Status, r.Header.Get("Location"))
	}

	// Disabled: refused at once (the session ends with the account, and sign-in fails).
	csrf = consoleCSRF(t, b.get("/admin/users/new"))
	if _, errOut, code := srv.CLI(t, "", "users", "update", adminID, "--disabled=true"); code != 0 {
		t.Fatalf("disable: %s", errOut)
	}
	if r := b.get("/admin"); r.Status == http.StatusOK {
		t.Errorf("a disabled admin still sees the console")
	}
	if r := b.post("/admin/clients", url.Values{"csrf_token": {csrf}, "client_name": {"x"}, "grant_authorization_code": {"1"}}); r.Status != http.StatusForbidden {
		t.Errorf("a disabled admin's POST: %d, want 403", r.Status)
	}
	if r := consoleSignIn(t, newAZBrowser(t, srv), "/admin", adminName, adminPass); r.Status == http.StatusOK {
		t.Errorf("a disabled admin signed in to the console")
	}
}

// TestSecurity_S55_ConsoleCSRF: a console POST without the CSRF token, with a wrong
// one, with another session's, or marked cross-site, is refused with 403 and changes
// nothing.
func TestSecurity_S55_ConsoleCSRF(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	_, name, pass := newConsoleAdmin(t, srv)
	b := newAZBrowser(t, srv)
	csrf := consoleCSRF(t, consoleSignIn(t, b, "/admin/clients/new", name, pass))
	b2 := newAZBrowser(t, srv)
	otherCSRF := consoleCSRF(t, consoleSignIn(t, b2, "/admin/clients/new", name, pass))
	clientName := uniqueName("csrf-client")
	form := func(token string) url.Values {
		v := url.Values{"client_name": {clientName}, "grant_client_credentials": {"1"}}
		if token != "" {
			v.Set("csrf_token", token)
		}
		return v
	}
	for _, tc := range []struct {
		name string
		v    url.Values
		site string
	}{
		{"missing", form(""), ""},
		{"wrong", form(wrongSecret(csrf)), ""},
		{"another session's", form(otherCSRF), ""},
		{"cross-site", form(csrf), "cross-site"},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/admin/clients", strings.NewReader(tc.v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tc.site != "" {
			req.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if r := srv.Do(t, b.hc, req); r.Status != http.StatusForbidden {
			t.Errorf("CSRF token %s: %d, want 403", tc.name, r.Status)
		}
	}
	if r := b.get("/admin/clients?q=" + clientName); strings.Contains(string(r.Body), clientName+"</a>") {
		t.Errorf("a POST refused for its CSRF token created the client")
	}
	if r := b.post("/admin/clients", form(csrf)); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "client-secret") {
		t.Errorf("with the right token: %d\n%s", r.Status, r.Body)
	}
}

var (
	consoleClientIDRE = regexp.MustCompile(`<code id="client-id">([^<]+)</code>`)
	consoleSecretRE   = regexp.MustCompile(`<code id="client-secret" class="secret">([^<]+)</code>`)
	consoleUserPathRE = regexp.MustCompile(`^/admin/users/([^/?]+)\?saved=1$`)
)

// wantAuditBy checks that the newest event of type typ on target was done by actor.
func wantAuditBy(t *testing.T, srv *Server, typ, target, actor string) auditEvent {
	t.Helper()
	for _, e := range auditList(t, srv, "--type", typ, "--json") {
		if e.Target == target {
			if e.Actor != actor || e.IP == "" {
				t.Errorf("%s of %s: actor %q ip %q, want actor %q and an address", typ, target, e.Actor, e.IP, actor)
			}
			return e
		}
	}
	t.Errorf("no %s event of %s", typ, target)
	return auditEvent{}
}

// TestConsole_Actions: every console action, on each database, through the pages,
// with its audit event done by the administrator; bad input shows the form again with
// a message, an unknown record is a 404 page, never a 5xx.
func TestConsole_Actions(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		adminID, name, pass := newConsoleAdmin(t, srv)
		b := newAZBrowser(t, srv)
		page := consoleSignIn(t, b, "/admin/clients/new", name, pass)
		csrf := consoleCSRF(t, page)
		post := func(path string, v url.Values) Response {
			t.Helper()
			v.Set("csrf_token", csrf)
			return b.post(path, v)
		}

		// Clients: bad input, create (secret once), edit, rotate, delete.
		r := post("/admin/clients", url.Values{"client_name": {"bad"}, "grant_authorization_code": {"1"}, "redirect_uris": {"not a uri"}})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "field-error") {
			t.Errorf("a client with a bad redirect URI: %d, want the form again with a message\n%s", r.Status, r.Body)
		}
		// Several bad fields are marked at once.
		r = post("/admin/clients", url.Values{"client_name": {strings.Repeat("n", 201)}, "grant_authorization_code": {"1"},
			"redirect_uris": {"javascript:x"}, "scope": {`a"b`}})
		for _, want := range []string{`id="client_name-error"`, `id="redirect_uris-error"`, `id="scope-error"`} {
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), want) {
				t.Errorf("a client with three bad fields: %d, the page lacks %s\n%s", r.Status, want, r.Body)
			}
		}
		// A name and grant types left out do not hide the other fields' problems, and
		// the rules' stand-ins for them (a name, a grant) are said nowhere.
		r = post("/admin/clients", url.Values{"client_name": {""}, "redirect_uris": {"javascript:x"}, "scope": {`a"b`}})
		for _, want := range []string{`id="client_name-error">Enter a name`, `id="grant_types-error">`, `id="redirect_uris-error"`,
			`id="scope-error"`} {
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), want) {
				t.Errorf("a client without name and grants, two fields bad: %d, the page lacks %s\n%s", r.Status, want, r.Body)
			}
		}
		if strings.Contains(string(r.Body), "client_credentials") && strings.Contains(string(r.Body), "cannot use") {
			t.Errorf("the stand-in grant was refused on the page:\n%s", r.Body)
		}
		clientName := uniqueName("console-client")
		r = post("/admin/clients", url.Values{"client_name": {clientName}, "grant_authorization_code": {"1"},
			"redirect_uris": {"https://app.example/cb"}, "scope": {"openid profile"}})
		m, s := consoleClientIDRE.FindSubmatch(r.Body), consoleSecretRE.FindSubmatch(r.Body)
		if r.Status != http.StatusOK || m == nil || s == nil {
			t.Fatalf("create a client: %d\n%s", r.Status, r.Body)
		}
		clientID, secret := string(m[1]), string(s[1])
		srv.Sensitive(secret)
		wantAuditBy(t, srv, "client.created", clientID, adminID)
		if r := b.get("/admin/clients/" + clientID); strings.Contains(string(r.Body), secret) {
			t.Errorf("the client page shows the secret again")
		}
		wantConsolePage(t, "search clients", b.get("/admin/clients?q="+url.QueryEscape(clientName)), clientID)

		r = post("/admin/clients/"+clientID, url.Values{"client_name": {clientName + "-renamed"}, "grant_authorization_code": {"1"},
			"grant_refresh_token": {"1"}, "redirect_uris": {"https://app.example/cb\nhttps://app.example/cb2"}, "scope": {"openid"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("edit the client: %d\n%s", r.Status, r.Body)
		}
		e := wantAuditBy(t, srv, "client.updated", clientID, adminID)
		if f, _ := e.Details["fields"].([]any); len(f) < 3 {
			t.Errorf("client.updated names the fields %v", e.Details)
		}
		wantConsolePage(t, "the edited client", b.get("/admin/clients/"+clientID), "https://app.example/cb2")

		r = post("/admin/clients/"+clientID+"/rotate-secret", url.Values{})
		s = consoleSecretRE.FindSubmatch(r.Body)
		if r.Status != http.StatusOK || s == nil || string(s[1]) == secret {
			t.Fatalf("rotate the secret: %d\n%s", r.Status, r.Body)
		}
		srv.Sensitive(string(s[1]))
		wantAuditBy(t, srv, "client.secret.rotated", clientID, adminID)

		wantConsolePage(t, "the delete confirmation", b.get("/admin/clients/"+clientID+"/delete"), "Delete client")
		if r := post("/admin/clients/"+clientID+"/delete", url.Values{}); r.Status != http.StatusSeeOther {
			t.Fatalf("delete the client: %d\n%s", r.Status, r.Body)
		}
		wantAuditBy(t, srv, "client.deleted", clientID, adminID)
		if r := b.get("/admin/clients/" + clientID); r.Status != http.StatusNotFound {
			t.Errorf("a deleted client's page: %d, want 404", r.Status)
		}
		if r := post("/admin/clients/gatehouse-console/delete", url.Values{}); r.Status != http.StatusBadRequest {
			t.Errorf("delete the console's own client: %d, want 400", r.Status)
		}

		// Users: bad input, create, edit (groups, disable), reset second factors, delete.
		r = post("/admin/users", url.Values{"username": {"x y"}, "password": {"short"}})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `id="username-error"`) ||
			!strings.Contains(string(r.Body), `id="password-error"`) {
			t.Errorf("a user with a bad name and a short password: %d, want both marked\n%s", r.Status, r.Body)
		}
		userName, userPass := uniqueName("console-user"), "user-"+randomString(16)
		srv.Sensitive(userPass)
		r = post("/admin/users", url.Values{"username": {userName}, "password": {userPass}, "email": {userName + "@example.com"},
			"groups": {"staff"}})
		um := consoleUserPathRE.FindStringSubmatch(r.Header.Get("Location"))
		if r.Status != http.StatusSeeOther || um == nil {
			t.Fatalf("create a user: %d %s\n%s", r.Status, r.Header.Get("Location"), r.Body)
		}
		userID := um[1]
		wantAuditBy(t, srv, "user.created", userID, adminID)
		wantConsolePage(t, "search users", b.get("/admin/users?q="+url.QueryEscape(userName)), userID)

		r = post("/admin/users/"+userID, url.Values{"email": {userName + "@example.com"}, "groups": {"staff ops"},
			"name": {"Console User"}, "disabled": {"1"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("edit the user: %d\n%s", r.Status, r.Body)
		}
		wantAuditBy(t, srv, "user.updated", userID, adminID)
		var got struct {
			Disabled bool     `json:"disabled"`
			Groups   []string `json:"groups"`
		}
		srv.CLIJSON(t, &got, "", "users", "show", userID, "--json")
		if !got.Disabled || strings.Join(got.Groups, " ") != "ops staff" {
			t.Errorf("after the edit: %+v", got)
		}
		if r := post("/admin/users/"+userID, url.Values{"email": {"not-an-email"}}); r.Status != http.StatusBadRequest ||
			!strings.Contains(string(r.Body), "field-error") {
			t.Errorf("a bad email: %d", r.Status)
		}
		// Several bad fields are marked at once; one the form keeps hidden (a locale
		// the browser was made to send) is said above the form.
		r = post("/admin/users/"+userID, url.Values{"email": {"not-an-email"}, "given_name": {strings.Repeat("g", 201)}, "phone_number": {"123"},
			"locale": {"english please"}})
		for _, want := range []string{`id="email-error"`, `id="given_name-error"`, `id="phone_number-error"`,
			`aria-describedby="given_name-error"`, `<div class="alert alert-error" role="alert">Language: `} {
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), want) {
				t.Errorf("four bad fields: %d, the page lacks %s\n%s", r.Status, want, r.Body)
			}
		}
		if r := post("/admin/users/"+userID+"/reset-mfa", url.Values{}); r.Status != http.StatusSeeOther {
			t.Errorf("reset second factors: %d", r.Status)
		}
		wantConsolePage(t, "the delete confirmation", b.get("/admin/users/"+userID+"/delete"), "Delete user")
		if r := post("/admin/users/"+userID+"/delete", url.Values{}); r.Status != http.StatusSeeOther {
			t.Fatalf("delete the user: %d\n%s", r.Status, r.Body)
		}
		wantAuditBy(t, srv, "user.deleted", userID, adminID)
		if r := b.get("/admin/users/" + userID); r.Status != http.StatusNotFound {
			t.Errorf("a deleted user's page: %d, want 404", r.Status)
		}
		if r := post("/admin/users/"+adminID+"/delete", url.Values{}); r.Status != http.StatusBadRequest {
			t.Errorf("an admin deleting themselves: %d, want 400", r.Status)
		}
		for _, v := range []url.Values{{"groups": {""}}, {"groups": {"admin"}, "disabled": {"1"}}} {
			if r := post("/admin/users/"+adminID, v); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "cannot disable your own") {
				t.Errorf("an admin locking themselves out (%v): %d", v, r.Status)
			}
		}
		wantConsolePage(t, "still an admin", b.get("/admin"), "Dashboard")

		// Keys: list, rotate.
		wantConsolePage(t, "keys", b.get("/admin/keys"), "RS256")
		if r := post("/admin/keys/rotate", url.Values{"alg": {"RS256"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("rotate keys: %d\n%s", r.Status, r.Body)
		}
		if es := auditList(t, srv, "--type", "key.rotated", "--json"); len(es) == 0 || es[0].Actor != adminID {
			t.Errorf("key.rotated events: %+v", es)
		}
		if r := post("/admin/keys/rotate", url.Values{"alg": {"none"}}); r.Status != http.StatusBadRequest {
			t.Errorf("rotate alg none: %d, want 400", r.Status)
		}

		// S56: no audit row holds a secret or password the console handled.
		all, _, _ := srv.CLI(t, "", "audit", "list", "--json")
		for _, v := range []string{secret, string(s[1]), userPass, pass} {
			if strings.Contains(all, v) {
				t.Errorf("the audit log holds a secret or password the console handled")
			}
		}

		// Audit: filters, bad input.
		wantConsolePage(t, "audit by type", b.get("/admin/audit?type=client.created&since=1h"), clientID)
		wantConsolePage(t, "audit by user", b.get("/admin/audit?user="+url.QueryEscape(name)), "client.secret.rotated")
		if r := b.get("/admin/audit?since=yesterday"); r.Status != http.StatusBadRequest {
			t.Errorf("audit since=yesterday: %d, want 400", r.Status)
		}
		if r := b.get("/admin/audit?type=nope"); r.Status != http.StatusBadRequest {
			t.Errorf("audit type=nope: %d, want 400", r.Status)
		}
		// The dashboard counts the console's own sign-in and its token.
		d := b.get("/admin")
		wantConsolePage(t, "dashboard", d, "<svg class=\"chart\"")
	})
}

// TestConsole_UserSessionsConsentsAndAudit: a user's page shows their sessions and
// consents (the admin API's use cases); ending a session signs the browser out,
// revoking a consent brings the consent page back, each with its event done by the
// administrator; the audit page pages through the log with its cursor.
func TestConsole_UserSessionsConsentsAndAudit(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		adminID, name, pass := newConsoleAdmin(t, srv)
		b := newAZBrowser(t, srv)
		csrf := consoleCSRF(t, consoleSignIn(t, b, "/admin/users/new", name, pass))
		post := func(path string) Response {
			t.Helper()
			return b.post(path, url.Values{"csrf_token": {csrf}})
		}

		userName, userPass := uniqueName("console-subject"), "subject-"+randomString(16)
		userID := srv.CreateUser(t, userName, userPass)
		app := newAZClient(t, srv, "https://app.example/cb")
		ub := newAZBrowser(t, srv)
		if f := ub.authorize(azQuery(app, newAZPKCE(), "s1"), userName, userPass, "allow"); f.Query.Get("code") == "" || !f.SawConsent {
			t.Fatalf("the user's authorization: %+v", f)
		}
		page := b.get("/admin/users/" + userID)
		wantConsolePage(t, "the user page", page, "/consents/"+app.ID+"/revoke")
		sm := regexp.MustCompile(`/admin/users/` + userID + `/sessions/([^/]+)/end`).FindStringSubmatch(string(page.Body))
		if sm == nil {
			t.Fatalf("the user page lists no session\n%s", page.Body)
		}

		if r := post("/admin/users/" + userID + "/consents/" + app.ID + "/revoke"); r.Status != http.StatusSeeOther {
			t.Fatalf("revoke the consent: %d\n%s", r.Status, r.Body)
		}
		wantAuditBy(t, srv, "consent.revoked", app.ID, adminID)
		if f := ub.authorize(azQuery(app, newAZPKCE(), "s2"), userName, userPass, "allow"); !f.SawConsent {
			t.Errorf("after the consent was revoked the consent page did not come back")
		}
		if r := post("/admin/users/" + userID + "/consents/no-such-client/revoke"); r.Status != http.StatusNotFound {
			t.Errorf("revoke a consent that does not exist: %d, want 404", r.Status)
		}

		if r := post("/admin/users/" + userID + "/sessions/" + sm[1] + "/end"); r.Status != http.StatusSeeOther {
			t.Fatalf("end the session: %d\n%s", r.Status, r.Body)
		}
		wantAuditBy(t, srv, "session.revoked", sm[1], adminID)
		if r := ub.get("/account"); r.Status == http.StatusOK && strings.Contains(string(r.Body), userName) {
			t.Errorf("the ended session still shows the account page")
		}
		for _, p := range []string{"/sessions/%00/end", "/sessions/%ff/end", "/consents/%00/revoke"} {
			if r := post("/admin/users/" + userID + p); r.Status != http.StatusNotFound {
				t.Errorf("POST %s: %d, want 404", p, r.Status)
			}
		}
		if r := post("/admin/users/" + adminID + "/sessions/" + sm[1] + "/end"); r.Status != http.StatusNotFound {
			t.Errorf("end a session under another user: %d, want 404", r.Status)
		}

		// A user's second factor, reset from their page.
		mUser, mPass, _, mID := mfaUser(t, srv)
		mb := newAZBrowser(t, srv)
		mb.logIn("/login", mUser, mPass)
		enrolTOTP(t, mb, mPass)
		wantConsolePage(t, "a user with a factor", b.get("/admin/users/"+mID), "Authenticator app set up")
		if r := post("/admin/users/" + mID + "/reset-mfa"); r.Status != http.StatusSeeOther {
			t.Fatalf("reset the factor: %d\n%s", r.Status, r.Body)
		}
		wantAuditBy(t, srv, "user.mfa.removed", mID, adminID)
		wantConsolePage(t, "after the reset", b.get("/admin/users/"+mID+"?saved=mfa"), "signing in asks only for the password")

		// A user without an email cannot be mailed a reset link: the page says so.
		if r := post("/admin/users/" + userID + "/password-reset"); r.Status != http.StatusBadRequest ||
			!strings.Contains(string(r.Body), "No reset link was sent") {
			t.Errorf("password reset without an email: %d", r.Status)
		}

		// The audit log in pages: the first page's Older link leads to older events.
		// 55 changes through the admin API (a CLI process each would take a minute).
		token, _ := adminToken(t, srv)
		api := &adminAPI{t: t, srv: srv, hc: srv.HTTPClient(), token: token}
		etag := api.call(http.MethodGet, "/users/"+userID, nil).Header.Get("ETag")
		for i := range 55 {
			r := api.call(http.MethodPatch, "/users/"+userID, `{"name":"N`+strconv.Itoa(i)+`"}`, "If-Match", etag)
			wantStatus(t, "rename the user", r, http.StatusOK)
			etag = r.Header.Get("ETag")
		}
		first := b.get("/admin/audit?type=user.updated")
		older := regexp.MustCompile(`href="(/admin/audit\?[^"]*before=[^"]+)">Older`).FindStringSubmatch(string(first.Body))
		if first.Status != http.StatusOK || older == nil {
			t.Fatalf("the audit page has no link to older events: %d", first.Status)
		}
		second := b.get(html.UnescapeString(older[1]))
		if second.Status != http.StatusOK || !strings.Contains(string(second.Body), "user.updated") ||
			!strings.Contains(string(second.Body), ">Newest<") {
			t.Errorf("the second audit page: %d\n%s", second.Status, second.Body)
		}
		if r := b.get("/admin/audit?before=garbage"); r.Status != http.StatusOK {
			t.Errorf("a bad audit cursor: %d, want the newest page", r.Status)
		}
	})
}

// TestSecurity_S55_ConsoleCookiesOnHTTPS: behind an https issuer (a proxy in front)
// the console's redirect stays on the server (a path), its redirect URI is the public
// issuer's, and its cookie is __Host-, Secure, HttpOnly.
func TestSecurity_S55_ConsoleCookiesOnHTTPS(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_ISSUER": "https://gatehouse.test"}})
	r := srv.Get(t, nil, "/admin/keys")
	u, err := url.Parse(r.Header.Get("Location"))
	if r.Status != http.StatusFound || err != nil || u.Host != "" || u.Path != "/oauth/authorize" ||
		u.Query().Get("redirect_uri") != "https://gatehouse.test/admin/callback" {
		t.Fatalf("GET /admin/keys: %d %s", r.Status, r.Header.Get("Location"))
	}
	cookies := (&http.Response{Header: r.Header}).Cookies()
	if len(cookies) != 1 || cookies[0].Name != "__Host-gatehouse_console_login" || !cookies[0].Secure || !cookies[0].HttpOnly ||
		cookies[0].Path != "/" || cookies[0].Domain != "" || cookies[0].SameSite != http.SameSiteLaxMode {
		t.Errorf("the console's sign-in cookie on an https issuer: %v", r.Header["Set-Cookie"])
	}
	// The authorization request it starts is one the server takes: the login page.
	if a := srv.Get(t, nil, r.Header.Get("Location")); a.Status != http.StatusFound || !strings.HasPrefix(a.Header.Get("Location"), "/login") {
		t.Errorf("the console's authorization request: %d %s\n%s", a.Status, a.Header.Get("Location"), a.Body)
	}
}

// TestConsole_ListPages: the clients list comes in pages of 25 by a keyset cursor,
// with search; a bad cursor shows the first page with a message, never a 5xx.
func TestConsole_ListPages(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	_, name, pass := newConsoleAdmin(t, srv)
	b := newAZBrowser(t, srv)
	consoleSignIn(t, b, "/admin", name, pass)
	prefix := uniqueName("paged")
	calls := make([]CLICall, 27)
	for i := range calls {
		calls[i] = CLICall{Args: []string{"clients", "create", "--name", prefix + "-" + strconv.Itoa(i), "--grant-type", "client_credentials", "--json"}}
	}
	for _, r := range srv.CLIAll(t, calls...) {
		if r.Exit != 0 {
			t.Fatalf("clients create: %s", r.Stderr)
		}
	}
	rowRE := regexp.MustCompile(`>` + prefix + `-\d+</a>`)
	first := b.get("/admin/clients?q=" + prefix)
	next := regexp.MustCompile(`href="(/admin/clients\?[^"]*after=[^"]+)">Next page`).FindStringSubmatch(string(first.Body))
	if n := len(rowRE.FindAll(first.Body, -1)); first.Status != http.StatusOK || n != 25 || next == nil {
		t.Fatalf("the first page: %d, %d rows, next link %v", first.Status, n, next)
	}
	second := b.get(html.UnescapeString(next[1]))
	if n := len(rowRE.FindAll(second.Body, -1)); second.Status != http.StatusOK || n != 2 ||
		!strings.Contains(string(second.Body), ">First page<") || strings.Contains(string(second.Body), ">Next page<") {
		t.Errorf("the second page: %d, %d rows", second.Status, n)
	}
	for _, q := range []string{"after=garbage", "after=1.", "after=99999999999999999999.x", "q=%00", "q=" + strings.Repeat("x", 300)} {
		if r := b.get("/admin/clients?" + q); r.Status >= 500 {
			t.Errorf("GET /admin/clients?%s: %d", q, r.Status)
		}
		if r := b.get("/admin/users?" + q); r.Status >= 500 || strings.HasPrefix(q, "q=") && !strings.Contains(string(r.Body), "field-error") {
			t.Errorf("GET /admin/users?%s: %d", q, r.Status)
		}
		if r := b.get("/admin/audit?" + q); r.Status >= 500 {
			t.Errorf("GET /admin/audit?%s: %d", q, r.Status)
		}
	}
	if r := b.get("/admin/audit?user=%00"); r.Status != http.StatusBadRequest {
		t.Errorf("GET /admin/audit?user=%%00: %d, want 400", r.Status)
	}
	for _, p := range []string{"/admin/users/%ff", "/admin/users/%00", "/admin/clients/%00", "/admin/clients/%ff/delete", "/admin/users/%2e%2e", "/admin/clients/" + strings.Repeat("a", 300), "/admin/nope", "/admin/users/x/y/z"} {
		if r := b.get(p); r.Status != http.StatusNotFound && r.Status != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 404 or 400", p, r.Status)
		}
	}
}

// TestConsole_AcrossInstances: two instances on one PostgreSQL database started at
// once (each makes sure of the console's client); a sign-in whose every hop lands on
// the other instance works, the console session works on both, and removing the admin
// from group admin shuts them out on both at once.
func TestConsole_AcrossInstances(t *testing.T) {
	t.Parallel()
	c := startCluster(t, dbtest.Postgres(t), 2, nil)
	a, bNode := c.Nodes[0], c.Nodes[1]
	adminID, name, pass := newConsoleAdmin(t, a)
	c.sensitive(pass)
	ba := newAZBrowser(t, a)
	bb := clOn(ba, bNode)
	page, _ := consoleSignInVia(t, func(i int) *azBrowser {
		if i%2 == 0 {
			return ba
		}
		return bb
	}, "/admin/keys", name, pass)
	wantConsolePage(t, "signed in across the instances", page, "Signing keys")
	csrf := consoleCSRF(t, page)
	wantConsolePage(t, "the console on A", ba.get("/admin/audit"), "Audit log")
	r := bb.post("/admin/users", url.Values{"csrf_token": {csrf}, "username": {uniqueName("made-on-b")}, "password": {"pw-" + randomString(16)}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("create a user on B: %d\n%s", r.Status, r.Body)
	}
	// The chart's tokens are every instance's: three issued on A reach B's dashboard
	// once A has added its count to the database (every few seconds).
	before := dashboardTokens(t, bb.get("/admin"))
	issueClientCredentials(t, a, 3, func(v string) { c.sensitive(v) })
	deadline := time.Now().Add(20 * time.Second)
	for n := dashboardTokens(t, bb.get("/admin")); n != before+3; n = dashboardTokens(t, bb.get("/admin")) {
		if n > before+3 || time.Now().After(deadline) {
			t.Fatalf("B's dashboard shows %d tokens issued, want %d (%d before A issued 3)", n, before+3, before)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if _, errOut, code := a.CLI(t, "", "users", "update", adminID, "--remove-group", "admin"); code != 0 {
		t.Fatal(errOut)
	}
	wantConsoleRefused(t, "A after the removal", ba.get("/admin"))
	wantConsoleRefused(t, "B after the removal", bb.get("/admin"))
}

// dashboardTokens reads the console dashboard's count of tokens issued in the last 24
// hours.
func dashboardTokens(t *testing.T, r Response) int {
	t.Helper()
	m := regexp.MustCompile(`<span class="stat-n">(\d+)</span><span class="stat-l"><span class="key key-tokens"`).FindSubmatch(r.Body)
	if r.Status != http.StatusOK || m == nil {
		t.Fatalf("dashboard: %d, no count of tokens issued:\n%s", r.Status, r.Body)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// issueClientCredentials creates a client_credentials client on srv and gets n tokens
// for it there, handing its secret and the tokens to sensitive (kept out of logs).
func issueClientCredentials(t *testing.T, srv *Server, n int, sensitive func(string)) {
	t.Helper()
	out, errOut, code := srv.CLI(t, "", "clients", "create", "--name", uniqueName("cc"), "--grant-type", "client_credentials", "--json")
	if code != 0 {
		t.Fatal(errOut)
	}
	var cc struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &cc); err != nil {
		t.Fatal(err)
	}
	sensitive(cc.ClientSecret)
	for range n {
		r := srv.PostForm(t, nil, "/oauth/token", "grant_type=client_credentials", cc.ClientID, cc.ClientSecret)
		if r.Status != http.StatusOK {
			t.Fatalf("client credentials at %s: %d %s", srv.URL, r.Status, r.Body)
		}
		sensitive(r.JSON(t)["access_token"].(string))
	}
}

// TestConsole_TokensIssuedOutliveTheInstance: the tokens an instance issued just
// before SIGTERM are in the database's counts once it has stopped, which the next
// start charts.
func TestConsole_TokensIssuedOutliveTheInstance(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	issueClientCredentials(t, srv, 4, func(v string) { srv.Sensitive(v) })
	srv.Stop(t) // well within the flush interval: only the shutdown's flush stores them
	db := openDB(t, srv.DatabaseURL)
	var total int64
	if err := db.NewRaw("SELECT COALESCE(SUM(tokens), 0) FROM token_issuance").Scan(context.Background(), &total); err != nil {
		t.Fatal(err)
	}
	if total != 4 {
		t.Fatalf("the database counts %d tokens issued, want 4", total)
	}
}
