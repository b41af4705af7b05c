package e2e

// The login, consent, registration and logout pages over HTTP: SECURITY S40–S44,
// registration rules, login throttling.

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// azStartRequest has browser b start an authorization request of c and returns the
// pending request's id (from the login page it is sent to).
func azStartRequest(t testing.TB, b *azBrowser, c azClient, p azPKCE) string {
	t.Helper()
	r := b.get("/oauth/authorize?" + azQuery(c, p, "st").Encode())
	wantLoginRedirect(t, r)
	u, _ := url.Parse(r.Header.Get("Location"))
	return u.Query().Get("req")
}

func TestSecurity_S40_CSRFAndBrowserBinding(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb")
	user, pass := azUser(t, srv)
	p := newAZPKCE()

	t.Run("login without or with a wrong token", func(t *testing.T) {
		b := newAZBrowser(t, srv)
		id := azStartRequest(t, b, c, p)
		csrf, _ := b.openForm("/login?req=" + id)
		for name, token := range map[string]string{"missing": "", "wrong": csrf[:len(csrf)-2] + "xx", "other purpose": strings.Repeat("A", 43)} {
			v := url.Values{"req": {id}, "username": {user}, "password": {pass}}
			if token != "" {
				v.Set("csrf_token", token)
			}
			if r := b.post("/login", v); r.Status != http.StatusForbidden {
				t.Errorf("%s token: status %d, want 403", name, r.Status)
			} else {
				wantErrorPage(t, r, http.StatusForbidden)
			}
		}
		if b.cookie("gatehouse_session") != "" {
			t.Error("a session was created by a refused login")
		}
	})

	t.Run("token of another browser", func(t *testing.T) {
		victim, attacker := newAZBrowser(t, srv), newAZBrowser(t, srv)
		attackerToken, _ := attacker.openForm("/login")
		victim.get("/login") // the victim has its own browser cookie
		r := victim.post("/login", url.Values{"csrf_token": {attackerToken}, "username": {user}, "password": {pass}})
		wantErrorPage(t, r, http.StatusForbidden)
	})

	t.Run("cross-site POST with a valid token", func(t *testing.T) {
		b := newAZBrowser(t, srv)
		csrf, _ := b.openForm("/login")
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/login",
			strings.NewReader(url.Values{"csrf_token": {csrf}, "username": {user}, "password": {pass}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		wantErrorPage(t, srv.Do(t, b.hc, req), http.StatusForbidden)
	})

	t.Run("pending request of another browser", func(t *testing.T) {
		// The attacker starts a request and lures the victim, logged in, to approve it.
		attacker, victim := newAZBrowser(t, srv), newAZBrowser(t, srv)
		id := azStartRequest(t, attacker, c, p)
		if r := victim.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
			t.Fatalf("victim login: %d", r.Status)
		}
		wantErrorPage(t, victim.get("/login?req="+id), http.StatusForbidden)
		wantErrorPage(t, victim.get("/consent?req="+id), http.StatusForbidden)
		wantErrorPage(t, victim.get("/register?req="+id), http.StatusForbidden)
		// Forms with the victim's own valid token and the attacker's request id.
		csrf, _ := victim.openForm("/logout")
		for _, decision := range []string{"allow", "deny"} {
			r := victim.post("/consent", url.Values{"csrf_token": {csrf}, "req": {id}, "decision": {decision}})
			wantErrorPage(t, r, http.StatusForbidden)
		}
		r := victim.post("/login", url.Values{"csrf_token": {csrf}, "req": {id}, "username": {user}, "password": {pass}})
		wantErrorPage(t, r, http.StatusForbidden)
		// The request is untouched: its own browser can still complete it.
		f := attacker.follow(attacker.logIn("/login?req="+id, user, pass), user, pass, "deny")
		if f.Query.Get("error") != "access_denied" {
			t.Errorf("the attacker's own browser: %q", f.Location)
		}
	})

	t.Run("consent and logout need the token", func(t *testing.T) {
		b := newAZBrowser(t, srv)
		id := azStartRequest(t, b, c, p)
		if r := b.logIn("/login?req="+id, user, pass); r.Status != http.StatusSeeOther {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		wantErrorPage(t, b.post("/consent", url.Values{"req": {id}, "decision": {"allow"}}), http.StatusForbidden)
		wantErrorPage(t, b.post("/logout", url.Values{}), http.StatusForbidden)
		// Still logged in, and the request can still be approved.
		csrf, _ := b.openForm("/consent?req=" + id)
		f := b.follow(b.post("/consent", url.Values{"csrf_token": {csrf}, "req": {id}, "decision": {"allow"}}), user, pass, "allow")
		if f.Query.Get("code") == "" {
			t.Errorf("approval after refused forms: %q", f.Location)
		}
		// A request is completed once: the same form again is refused.
		r := b.post("/consent", url.Values{"csrf_token": {csrf}, "req": {id}, "decision": {"allow"}})
		wantErrorPage(t, r, http.StatusBadRequest)
	})

	t.Run("registration needs the token", func(t *testing.T) {
		b := newAZBrowser(t, srv)
		b.get("/register")
		r := b.post("/register", url.Values{"username": {uniqueName("csrfreg")}, "email": {"x@example.com"}, "password": {"long enough pw"}})
		wantErrorPage(t, r, http.StatusForbidden)
	})
}

func TestSecurity_S41_PageHeadersAndNoThirdParty(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "http://127.0.0.1/cb", "--public")
	user, pass := azUser(t, srv)
	p := newAZPKCE()
	b := newAZBrowser(t, srv)
	id := azStartRequest(t, b, c, p)
	pages := map[string]Response{
		"login":    b.get("/login?req=" + id),
		"register": b.get("/register?req=" + id),
		"error":    b.get("/oauth/authorize?client_id=nosuch"),
		"home":     b.get("/"),
	}
	b.logIn("/login?req="+id, user, pass)
	pages["consent"] = b.get("/consent?req=" + id)
	pages["logout"] = b.get("/logout")
	external := regexp.MustCompile(`(?i)(src|href|action)\s*=\s*"(https?:)?//`)
	for name, r := range pages {
		t.Run(name, func(t *testing.T) {
			if r.Status != 200 && name != "error" {
				t.Fatalf("status %d\n%s", r.Status, r.Body)
			}
			wantPageHeaders(t, r)
			if m := external.FindString(string(r.Body)); m != "" {
				t.Errorf("a third-party resource or target: %s", m)
			}
			if strings.Contains(string(r.Body), "<script") || strings.Contains(string(r.Body), " style=") {
				t.Error("a script or an inline style (the CSP forbids both)")
			}
		})
	}
	// The consent form ends in a redirect to the client: form-action allows its origin
	// (browsers apply form-action to redirects after a submission), and nothing else.
	csp := pages["consent"].Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "form-action 'self' http://127.0.0.1") {
		t.Errorf("consent CSP %q: want the client's origin in form-action", csp)
	}
	css := b.get("/static/gatehouse.css")
	if css.Status != 200 || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") || len(css.Body) < 500 {
		t.Errorf("stylesheet: %d %q (%d bytes)", css.Status, css.Header.Get("Content-Type"), len(css.Body))
	}
	if strings.Contains(string(css.Body), "@import") || strings.Contains(string(css.Body), "url(") {
		t.Error("the stylesheet loads something else")
	}
}

func TestSecurity_S42_SeeOtherAndNoOpenRedirect(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent")
	user, pass := azUser(t, srv)
	p := newAZPKCE()
	b := newAZBrowser(t, srv)

	// Every POST that succeeds answers 303 (not 302 or 307, which could replay the POST).
	id := azStartRequest(t, b, c, p)
	r := b.logIn("/login?req="+id+"&return_to=https%3A%2F%2Fevil.example", user, pass)
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), c.RedirectURI+"?") {
		t.Errorf("login POST: %d %q, want 303 to the client", r.Status, r.Header.Get("Location"))
	}
	csrf, _ := b.openForm("/logout")
	r = b.post("/logout", url.Values{"csrf_token": {csrf}, "return_to": {"https://evil.example"}, "redirect_uri": {"https://evil.example"}})
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/") || strings.HasPrefix(r.Header.Get("Location"), "//") {
		t.Errorf("logout POST: %d %q, want 303 to our own page", r.Status, r.Header.Get("Location"))
	}
	// Login without a request goes home, whatever the form or query says.
	csrf, _ = b.openForm("/login?return_to=https%3A%2F%2Fevil.example&next=%2F%2Fevil.example")
	r = b.post("/login?return_to=https%3A%2F%2Fevil.example", url.Values{"csrf_token": {csrf}, "username": {user}, "password": {pass},
		"return_to": {"https://evil.example"}, "next": {"//evil.example"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Errorf("plain login POST: %d %q, want 303 to /", r.Status, r.Header.Get("Location"))
	}
	// A request id that is a URL is just an unknown request.
	wantErrorPage(t, b.get("/login?req=https%3A%2F%2Fevil.example"), http.StatusBadRequest)
	wantErrorPage(t, b.get("/consent?req=%2F%2Fevil.example"), http.StatusBadRequest)
}

func TestSecurity_S43_HTMLEscaping(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	evilName := `<script>alert(1)</script> & "Quoted" <img src=x onerror=alert(2)>`
	c := newAZClient(t, srv, "https://app.example.com/cb", "--name", evilName, "--scope", `openid <b>bold</b>`)
	user, pass := azUser(t, srv)
	p := newAZPKCE()
	b := newAZBrowser(t, srv)
	q := azQuery(c, p, `"><script>alert(3)</script>`, "scope", `openid <b>bold</b>`)
	r := b.get("/oauth/authorize?" + q.Encode())
	wantLoginRedirect(t, r)
	login := string(b.get(r.Header.Get("Location")).Body)
	r = b.logIn(r.Header.Get("Location"), user, pass)
	consent := string(b.get(r.Header.Get("Location")).Body)
	// A failed login echoes the username back.
	nb := newAZBrowser(t, srv)
	csrf, _ := nb.openForm("/login")
	failed := string(nb.post("/login", url.Values{"csrf_token": {csrf}, "username": {`"><img src=x onerror=alert(4)>`}, "password": {"wrong password"}}).Body)
	for name, body := range map[string]string{"login": login, "consent": consent, "failed login": failed} {
		for _, raw := range []string{"<script", "<img", "<b>", `"Quoted"`} {
			if strings.Contains(body, raw) {
				t.Errorf("%s page contains %q unescaped", name, raw)
			}
		}
	}
	if !strings.Contains(consent, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(consent, "&lt;b&gt;bold&lt;/b&gt;") {
		t.Errorf("the consent page does not show the escaped client name and scope:\n%s", consent)
	}
	if !strings.Contains(failed, `value="&#34;&gt;&lt;img src=x onerror=alert(4)&gt;"`) {
		t.Errorf("the failed login page does not keep the escaped username:\n%s", failed)
	}
	if strings.Contains(consent, "alert(3)") {
		t.Error("state is reflected in the consent page")
	}
}

func TestSecurity_S44_SessionCookies(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent")
	user, pass := azUser(t, srv)
	p := newAZPKCE()
	b := newAZBrowser(t, srv)

	id := azStartRequest(t, b, c, p)
	r := b.logIn("/login?req="+id, user, pass)
	var session *http.Cookie
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == "gatehouse_session" {
			session = ck
		}
	}
	if session == nil {
		t.Fatalf("no session cookie set at login: %v", r.Header["Set-Cookie"])
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure || session.Path != "/" || session.MaxAge != 0 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure on http, Path=/, no Max-Age", session)
	}
	first := b.cookie("gatehouse_session")

	// Logging in again (prompt=login) gives a new session cookie; the old one is dead.
	f := b.authorize(azQuery(c, p, "again", "prompt", "login"), user, pass, "allow")
	if !f.SawLogin {
		t.Fatal("prompt=login did not ask to log in")
	}
	second := b.cookie("gatehouse_session")
	if second == "" || second == first {
		t.Fatalf("the session cookie did not change at login")
	}
	stale := newAZBrowser(t, srv)
	stale.setCookie("gatehouse_session", first)
	if home := string(stale.get("/").Body); strings.Contains(home, user) {
		t.Error("the session cookie from before the login still works")
	}

	// A refresh token issued under the session dies with it at logout (S33).
	f = b.authorize(azQuery(c, p, "rt", "scope", "openid offline_access"), user, pass, "allow")
	tok := c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier).JSON(t)
	rt := tok["refresh_token"].(string)
	srv.Sensitive(rt, tok["access_token"].(string))
	if home := string(b.get("/").Body); !strings.Contains(home, user) {
		t.Fatalf("the home page does not say who is logged in:\n%s", home)
	}
	csrf, _ := b.openForm("/logout")
	if r := b.post("/logout", url.Values{"csrf_token": {csrf}}); r.Status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.Status)
	}
	// The server forgot the session: replaying the cookie does not log anyone in.
	replay := newAZBrowser(t, srv)
	replay.setCookie("gatehouse_session", second)
	if home := string(replay.get("/").Body); strings.Contains(home, user) {
		t.Error("the session cookie still works after logout")
	}
	wantInactive(t, introspect(t, srv, b.hc, c.ID, c.Secret, rt))
	refreshed := srv.PostForm(t, b.hc, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode(), c.ID, c.Secret)
	wantOAuthError(t, refreshed, 400, "invalid_grant")
	// And the next authorization asks to log in again.
	if f := b.authorize(azQuery(c, p, "after"), user, pass, "allow"); !f.SawLogin {
		t.Error("after logout the browser was not asked to log in")
	}
}

// TestSecurity_S44_SecureCookiesOnHTTPS: an https issuer gets Secure, __Host- cookies.
// The same server has registration turned off.
func TestSecurity_S44_SecureCookiesOnHTTPS(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{
		"GATEHOUSE_ISSUER": "https://gatehouse.test", "GATEHOUSE_REGISTRATION_ENABLED": "false",
	}})
	c := newAZClient(t, srv, "https://app.example.com/cb")
	p := newAZPKCE()
	r := srv.Get(t, nil, "/oauth/authorize?"+azQuery(c, p, "https").Encode())
	wantLoginRedirect(t, r)
	cookies := (&http.Response{Header: r.Header}).Cookies()
	if len(cookies) != 1 || cookies[0].Name != "__Host-gatehouse_browser" || !cookies[0].Secure || !cookies[0].HttpOnly ||
		cookies[0].Path != "/" || cookies[0].Domain != "" || cookies[0].SameSite != http.SameSiteLaxMode {
		t.Errorf("cookies on an https issuer: %v", r.Header["Set-Cookie"])
	}
	if u, _ := url.Parse(r.Header.Get("Location")); u.Host != "" {
		t.Errorf("the login redirect leaves the server: %s", u)
	}
	// Registration is off: the page is a 404, and the login page does not offer it.
	wantErrorPage(t, srv.Get(t, nil, "/register"), http.StatusNotFound)
	if login := string(srv.Get(t, nil, "/login").Body); strings.Contains(login, "/register") {
		t.Error("the login page links to registration while it is off")
	}
}

func TestPages_Registration(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb")
	taken, _ := azUser(t, srv)
	p := newAZPKCE()
	main := newAZBrowser(t, srv)
	b := main
	id := azStartRequest(t, b, c, p)
	// register signs up from browser b, for the pending request when b is its browser.
	register := func(b *azBrowser, username, email, password string) Response {
		path := "/register"
		if b == main {
			path += "?req=" + id
		}
		csrf, req := b.openForm(path)
		return b.post("/register", url.Values{"csrf_token": {csrf}, "req": {req}, "username": {username}, "email": {email}, "password": {password}})
	}
	name := uniqueName("newbie")
	// Every bad field is marked in the same answer: these cases have more than one.
	moreFields := map[string][][2]string{
		"missing everything": {{"email", "Enter your email"}, {"password", "Choose a password"}},
		"every field bad":    {{"email", "not a valid"}, {"password", "8 to 128"}},
		"no email, bad rest": {{"username", "only"}, {"password", "8 to 128"}},
	}
	for label, tc := range map[string]struct {
		username, email, password string
		field, words              string
	}{
		"short password":        {name, name + "@example.com", "short", "password", "8 to 128"},
		"long password":         {name, name + "@example.com", strings.Repeat("x", 129), "password", "8 to 128"},
		"password is username":  {name + "pw", name + "@example.com", name + "pw", "password", "username"},
		"bad email":             {name, "not-an-email", "long enough pw", "email", "not a valid"},
		"bad username":          {"has space", name + "@example.com", "long enough pw", "username", "only"},
		"missing email":         {name, "", "long enough pw", "email", "Enter your email"},
		"missing everything":    {"", "", "", "username", "Choose a username"},
		"duplicate username":    {taken, name + "@example.com", "long enough pw", "username", "already taken"},
		"duplicate, other case": {strings.ToUpper(taken), name + "@example.com", "long enough pw", "username", "already taken"},
		"every field bad":       {"has space", "not-an-email", "short", "username", "only"},
		"no email, bad rest":    {"has space", "", "short", "email", "Enter your email"},
	} {
		t.Run(label, func(t *testing.T) {
			// Each from a browser (an address) of its own: every sign-up attempt from
			// an address counts against its allowance.
			r := register(newAZBrowser(t, srv), tc.username, tc.email, tc.password)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400 with the form again", r.Status)
			}
			body := string(r.Body)
			// The message sits next to its field, after the field's input.
			more := moreFields[label]
			for _, fw := range append([][2]string{{tc.field, tc.words}}, more...) {
				re := regexp.MustCompile(`(?s)id="` + fw[0] + `".*?<p class="field-error" id="` + fw[0] + `-error">[^<]*` + regexp.QuoteMeta(fw[1]))
				if !re.MatchString(body) {
					t.Errorf("no error with %q next to %s:\n%s", fw[1], fw[0], body)
				}
			}
			if n := strings.Count(body, `class="field-error"`); n != 1+len(more) {
				t.Errorf("%d fields marked, want %d:\n%s", n, 1+len(more), body)
			}
			if tc.password != "" && tc.password != tc.username && strings.Contains(body, `value="`+tc.password+`"`) {
				t.Error("the password is echoed back")
			}
		})
	}
	// Success: logged in, and the pending request continues (to consent: a new user).
	r := register(b, name, name+"@example.com", "a good long password")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/consent?req=") {
		t.Fatalf("registration: %d %q, want 303 to consent", r.Status, r.Header.Get("Location"))
	}
	f := b.follow(r, name, "a good long password", "allow")
	if f.SawLogin || f.Query.Get("code") == "" {
		t.Errorf("after registration: login %v, %q", f.SawLogin, f.Location)
	}
	tok := c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier)
	if tok.Status != 200 {
		t.Fatalf("exchange: %d %s", tok.Status, tok.Body)
	}
	// And the account works on the login page of another browser.
	if r := newAZBrowser(t, srv).logIn("/login", name, "a good long password"); r.Status != http.StatusSeeOther {
		t.Errorf("login with the new account: %d", r.Status)
	}
}

func TestPages_LoginMessagesAndThrottling(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	msg := func(r Response) string {
		m := regexp.MustCompile(`role="alert">([^<]*)<`).FindStringSubmatch(string(r.Body))
		if m == nil {
			return ""
		}
		return m[1]
	}
	wrong := b.logIn("/login", user, "wrong password")
	unknown := b.logIn("/login", uniqueName("nobody"), "wrong password")
	if wrong.Status != http.StatusUnauthorized || unknown.Status != http.StatusUnauthorized {
		t.Fatalf("statuses %d and %d, want 401", wrong.Status, unknown.Status)
	}
	if msg(wrong) == "" || msg(wrong) != msg(unknown) {
		t.Errorf("messages %q and %q: want one message for both", msg(wrong), msg(unknown))
	}
	if !strings.Contains(string(wrong.Body), `value="`+user+`"`) {
		t.Error("the username is not kept in the form")
	}
	empty := b.logIn("/login", "", "")
	if empty.Status != http.StatusBadRequest || !strings.Contains(string(empty.Body), "Enter your username") {
		t.Errorf("empty form: %d", empty.Status)
	}
	// Repeated failures for one user are throttled: 429 with a clear message, and
	// even the right password waits.
	last, sent, wait := lockedOut(t, "wrong passwords", 20, 4, func() Response {
		return b.logIn("/login", user, "wrong password")
	}, func(r Response) {
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("a wrong password: %d, want 401", r.Status)
		}
	})
	if !strings.Contains(msg(last), "Too many") {
		t.Errorf("throttled: message %q", msg(last))
	}
	refusedWhileLocked(t, "the right password while throttled", sent, wait, b.logIn("/login", user, pass))
}

func TestPages_LogoutAndHome(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	if home := string(b.get("/").Body); !strings.Contains(home, "not signed in") {
		t.Errorf("home page of a new browser:\n%s", home)
	}
	if logout := b.get("/logout"); logout.Status != 200 || !strings.Contains(string(logout.Body), "not signed in") {
		t.Errorf("logout page without a session: %d", logout.Status)
	}
	b.logIn("/login", user, pass)
	// Already logged in: the login page sends the browser home.
	if r := b.get("/login"); r.Status != http.StatusFound || r.Header.Get("Location") != "/" {
		t.Errorf("GET /login when logged in: %d %q", r.Status, r.Header.Get("Location"))
	}
	logout := b.get("/logout")
	if !strings.Contains(string(logout.Body), user) || !strings.Contains(string(logout.Body), `method="post"`) {
		t.Errorf("logout confirmation:\n%s", logout.Body)
	}
	csrf, _ := azFormFields(t, logout)
	r := b.post("/logout", url.Values{"csrf_token": {csrf}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.Status)
	}
	home := string(b.get(r.Header.Get("Location")).Body)
	if !strings.Contains(home, "signed out") || strings.Contains(home, user) {
		t.Errorf("home after logout:\n%s", home)
	}
	// Logging out twice (another tab) is harmless.
	if r := b.post("/logout", url.Values{"csrf_token": {csrf}}); r.Status != http.StatusSeeOther {
		t.Errorf("second logout: %d", r.Status)
	}
	// Unknown methods on pages get an HTML error page, never a stack trace.
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/login", nil)
	wantErrorPage(t, srv.Do(t, b.hc, req), http.StatusMethodNotAllowed)
}
