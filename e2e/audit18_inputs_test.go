package e2e

// Regression tests of issue 18's audit findings about input handling: scope parsing
// and parameter lengths (1), dynamic registration policy (3), password rehashing (5),
// the sign-up page (6), look-alike usernames (7), public clients and the password
// grant (10), and the errors of a failed code redemption (11). Each reproduces the
// audit's attack over real HTTP (or the real CLI) against the real binary.

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scopeTokens returns n distinct scope tokens of one to three characters from the
// characters a form body carries unescaped, as short as they can be: the audit's
// 16,000 tokens fit in a 64 KiB body that way.
func scopeTokens(n int) []string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
	out := make([]string, 0, n)
	for length := 1; len(out) < n; length++ {
		idx := make([]int, length)
		for len(out) < n {
			b := make([]byte, length)
			for i, x := range idx {
				b[i] = alphabet[x]
			}
			out = append(out, string(b))
			i := length - 1
			for i >= 0 && idx[i] == len(alphabet)-1 {
				idx[i] = 0
				i--
			}
			if i < 0 {
				break
			}
			idx[i]++
		}
	}
	return out
}

// TestAudit18_ScopeParsingIsBounded: finding 1. The audit sent 16,000 distinct scope
// tokens to /oauth/device_authorization with a public client (no authentication
// needed) and spent 0.45 s of CPU per request. Now the scope parameter is refused for
// its length before it is parsed, a scope within the length but over 64 tokens is
// refused after 65 tokens, and every endpoint holds each parameter to its limit.
func TestAudit18_ScopeParsingIsBounded(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	hc := srv.HTTPClient()
	device, _ := srv.CreateClient(t, "--public", "--grant-type", "urn:ietf:params:oauth:grant-type:device_code")

	tokens := scopeTokens(16_000)
	body := url.Values{"client_id": {device}, "scope": {strings.Join(tokens, " ")}}.Encode()
	if len(body) > 64<<10 {
		t.Fatalf("the request body has %d bytes; it must fit in 64 KiB to reach the handler", len(body))
	}
	r := srv.PostForm(t, hc, "/oauth/device_authorization", body, "", "")
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_request")
	if d, _ := r.JSON(t)["error_description"].(string); !strings.Contains(d, "scope") || !strings.Contains(d, "too long") {
		t.Errorf("error_description %q does not say that scope is too long", d)
	}

	// Within the length limit, but over 64 tokens: refused as too many.
	short := strings.Join(tokens[:1000], " ")
	if len(short) > 4096 {
		t.Fatalf("test scope of %d bytes", len(short))
	}
	r = srv.PostForm(t, hc, "/oauth/device_authorization", url.Values{"client_id": {device}, "scope": {short}}.Encode(), "", "")
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_scope")
	if d, _ := r.JSON(t)["error_description"].(string); !strings.Contains(d, "too many scope tokens") {
		t.Errorf("error_description %q", d)
	}

	// Every endpoint caps every parameter: 4 KiB, 16 KiB for whole tokens.
	cc, ccSecret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api:read")
	long, longer := strings.Repeat("a", 4097), strings.Repeat("a", 16<<10+1)
	for _, tc := range []struct {
		path, body, user, pass, param string
	}{
		{"/oauth/token", form("grant_type", "client_credentials", "scope", long), cc, ccSecret, "scope"},
		{"/oauth/token", form("grant_type", "refresh_token", "refresh_token", long), cc, ccSecret, "refresh_token"},
		{"/oauth/token", form("grant_type", "client_credentials", "client_id", cc, "client_assertion_type",
			"urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion", longer), "", "", "client_assertion"},
		{"/oauth/token", form("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token", longer), cc, ccSecret, "subject_token"},
		{"/oauth/introspect", form("token", longer), cc, ccSecret, "token"},
		{"/oauth/revoke", form("token", longer), cc, ccSecret, "token"},
		{"/oauth/par", form("response_type", "code", "state", long), cc, ccSecret, "state"},
		{"/oauth/device_authorization", form("client_id", device, "nonce", strings.Repeat("n", 2049)), "", "", "nonce"},
	} {
		r := srv.PostForm(t, hc, tc.path, tc.body, tc.user, tc.pass)
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_request")
		if d, _ := r.JSON(t)["error_description"].(string); !strings.Contains(d, "parameter "+tc.param+" is too long") {
			t.Errorf("%s %s: error_description %q does not name the parameter", tc.path, tc.param, d)
		}
	}
	// A whole token just within its 16 KiB is read, not refused for its length.
	r = srv.PostForm(t, hc, "/oauth/introspect", form("token", strings.Repeat("a", 16<<10)), cc, ccSecret)
	if r.Status != http.StatusOK || string(r.Body) != `{"active":false}`+"\n" && string(r.Body) != `{"active":false}` {
		t.Errorf("introspection of a 16 KiB token: %d %s", r.Status, r.Body)
	}

	// The authorization endpoint: a trusted client gets an error redirect naming the
	// parameter (state itself is too long to be echoed).
	web := newAZClient(t, srv, "http://127.0.0.1:9/cb")
	resp := newAZBrowser(t, srv).get("/oauth/authorize?" + azQuery(web, newAZPKCE(), long).Encode())
	wantRedirectError(t, srv, resp, web.RedirectURI, "invalid_request", "")
	// A page's query: an error page.
	page := srv.Get(t, hc, "/login?req="+long)
	wantErrorPage(t, page, http.StatusBadRequest)
	if !strings.Contains(strings.ToLower(string(page.Body)), "parameter req is too long") {
		t.Errorf("the login page does not name the parameter:\n%s", page.Body)
	}
}

// TestAudit18_DynamicRegistrationPolicy: finding 3. A registrant holding the initial
// access token gave itself scope admin. Now what it may ask for is the policy of
// GATEHOUSE_DYNAMIC_REGISTRATION_SCOPES and _GRANT_TYPES, at registration and on
// update (RFC 7592 PUT); anything else is invalid_client_metadata naming it; a bad
// policy stops start-up with exit 2 naming the variable.
func TestAudit18_DynamicRegistrationPolicy(t *testing.T) {
	t.Parallel()
	initial := randomString(40)
	dcrEnv := map[string]string{"GATEHOUSE_DYNAMIC_REGISTRATION": "true", "GATEHOUSE_REGISTRATION_INITIAL_ACCESS_TOKEN": initial}
	wantRefused := func(t *testing.T, r Response, mention string) {
		t.Helper()
		dcrWantError(t, r, http.StatusBadRequest, "invalid_client_metadata")
		if d, _ := r.JSON(t)["error_description"].(string); !strings.Contains(d, mention) {
			t.Errorf("error_description %q does not name %q", d, mention)
		}
	}
	runConcurrently(t,
		subtest{"DefaultPolicy", func(t *testing.T) {
			srv := startServer(t, Options{Env: dcrEnv})
			srv.Sensitive(initial)
			hc := srv.HTTPClient()
			register := func(meta map[string]any) Response {
				return dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", initial, meta)
			}
			cc := []string{"client_credentials"}
			wantRefused(t, register(map[string]any{"grant_types": cc, "scope": "openid admin"}), "scope admin")
			wantRefused(t, register(map[string]any{"grant_types": cc, "scope": "api:read"}), "scope api:read")
			wantRefused(t, register(map[string]any{"grant_types": []string{"password"}}), "password")
			wantRefused(t, register(map[string]any{"grant_types": []string{"urn:ietf:params:oauth:grant-type:token-exchange"}}),
				"urn:ietf:params:oauth:grant-type:token-exchange is not open")
			wantRefused(t, register(map[string]any{"grant_types": []string{"urn:ietf:params:oauth:grant-type:device_code"},
				"token_endpoint_auth_method": "none"}), "urn:ietf:params:oauth:grant-type:device_code is not open")

			// Within the policy: registered; without scope, the policy's scopes.
			c := dcrRegister(t, srv, hc, initial, map[string]any{"grant_types": cc, "scope": "openid profile"})
			if c.Scope != "openid profile" {
				t.Errorf("scope %q", c.Scope)
			}
			all := dcrRegister(t, srv, hc, initial, map[string]any{"grant_types": cc})
			if all.Scope != "openid profile email offline_access" {
				t.Errorf("a registration without scope got %q", all.Scope)
			}

			// The same policy on update; the client keeps what it had.
			path := "/oauth/register/" + c.ClientID
			wantRefused(t, dcrDo(t, srv, hc, http.MethodPut, path, c.RegistrationAccessToken,
				map[string]any{"client_id": c.ClientID, "grant_types": cc, "scope": "openid admin"}), "scope admin")
			wantRefused(t, dcrDo(t, srv, hc, http.MethodPut, path, c.RegistrationAccessToken,
				map[string]any{"client_id": c.ClientID, "grant_types": []string{"client_credentials", "password"}}), "password")
			r := dcrDo(t, srv, hc, http.MethodGet, path, c.RegistrationAccessToken, nil)
			if m := r.JSON(t); m["scope"] != "openid profile" {
				t.Errorf("after refused updates: scope %v", m["scope"])
			}
			// And the token endpoint never hands out admin to it.
			tok := srv.PostForm(t, hc, "/oauth/token", form("grant_type", "client_credentials", "scope", "admin"), c.ClientID, c.ClientSecret)
			wantOAuthError(t, tok, http.StatusBadRequest, "invalid_scope")
		}},
		subtest{"OperatorPolicy", func(t *testing.T) {
			env := map[string]string{
				"GATEHOUSE_DYNAMIC_REGISTRATION_SCOPES":      "openid api:read",
				"GATEHOUSE_DYNAMIC_REGISTRATION_GRANT_TYPES": "authorization_code,refresh_token,urn:ietf:params:oauth:grant-type:device_code",
			}
			for k, v := range dcrEnv {
				env[k] = v
			}
			srv := startServer(t, Options{Env: env})
			srv.Sensitive(initial)
			hc := srv.HTTPClient()
			dev := dcrRegister(t, srv, hc, initial, map[string]any{"token_endpoint_auth_method": "none",
				"grant_types": []string{"urn:ietf:params:oauth:grant-type:device_code"}, "scope": "api:read"})
			r := srv.PostForm(t, hc, "/oauth/device_authorization", form("client_id", dev.ClientID, "scope", "api:read"), "", "")
			if r.Status != http.StatusOK {
				t.Errorf("device authorization of the registered client: %d %s", r.Status, r.Body)
			}
			wantRefused(t, dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", initial, map[string]any{
				"token_endpoint_auth_method": "none", "grant_types": []string{"urn:ietf:params:oauth:grant-type:device_code"},
				"scope": "api:read admin"}), "scope admin")
			wantRefused(t, dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", initial,
				map[string]any{"grant_types": []string{"client_credentials"}}), "client_credentials is not open")
		}},
		subtest{"BadPolicyStopsStartUp", func(t *testing.T) {
			for _, tc := range []struct{ variable, value, mention string }{
				{"GATEHOUSE_DYNAMIC_REGISTRATION_GRANT_TYPES", "authorization_code password", "password"},
				{"GATEHOUSE_DYNAMIC_REGISTRATION_GRANT_TYPES", "urn:ietf:params:oauth:grant-type:token-exchange", "token-exchange"},
				{"GATEHOUSE_DYNAMIC_REGISTRATION_GRANT_TYPES", "magic", "unknown grant type"},
				{"GATEHOUSE_DYNAMIC_REGISTRATION_SCOPES", "", "at least one scope"},
				{"GATEHOUSE_DYNAMIC_REGISTRATION_SCOPES", `openid a"b`, "not a scope token"},
				{"GATEHOUSE_DYNAMIC_REGISTRATION_SCOPES", "openid caf\u00e9", "printable ASCII"},
			} {
				out, errOut, code := runCLI(t, cliEnv(t, map[string]string{tc.variable: tc.value}), "", "serve")
				wantUsage(t, tc.variable+"="+tc.value, out, errOut, code, tc.variable, tc.mention)
			}
		}},
	)
}

// TestAudit18_PasswordRehashedOnLogin: finding 5. Stored password hashes were never
// upgraded, so after GATEHOUSE_ARGON2_* changed, a known user's (cheaper or dearer)
// hash took another time than the dummy hash of an unknown user. Now a successful
// sign-in, on the login page or by the password grant, stores a hash with the current
// costs; a wrong password changes nothing.
func TestAudit18_PasswordRehashedOnLogin(t *testing.T) {
	t.Parallel()
	old := startServer(t, Options{}) // the harness's costs: 8 MiB, 1 pass
	const oldPrefix, newPrefix = "$argon2id$v=19$m=8192,t=1,p=1$", "$argon2id$v=19$m=9216,t=2,p=1$"
	page, grant, wrong := uniqueName("rehash-page-"), uniqueName("rehash-grant-"), uniqueName("rehash-wrong-")
	for _, u := range []string{page, grant, wrong} {
		old.CreateUser(t, u, "correct horse battery")
	}
	id, secret := old.CreateClient(t, "--grant-type", "password")
	old.Stop(t)

	srv := startServer(t, Options{DatabaseURL: old.DatabaseURL,
		Env: map[string]string{"GATEHOUSE_ARGON2_MEMORY": "9216", "GATEHOUSE_ARGON2_ITERATIONS": "2"}})
	srv.Sensitive(secret)
	db := openDB(t, srv.DatabaseURL)
	hashOf := func(username string) string {
		t.Helper()
		var h string
		if err := db.NewRaw("SELECT password_hash FROM users WHERE username = ?", username).Scan(t.Context(), &h); err != nil {
			t.Fatalf("read the hash of %s: %v", username, err)
		}
		return h
	}
	for _, u := range []string{page, grant, wrong} {
		if h := hashOf(u); !strings.HasPrefix(h, oldPrefix) {
			t.Fatalf("%s starts with a hash %.40s…, want the old costs", u, h)
		}
	}

	if r := newAZBrowser(t, srv).logIn("/login", page, "correct horse battery"); r.Status != http.StatusSeeOther {
		t.Fatalf("login page: %d %s", r.Status, r.Body)
	}
	hc := srv.HTTPClient()
	r := srv.PostForm(t, hc, "/oauth/token", form("grant_type", "password", "username", grant, "password", "correct horse battery"), id, secret)
	if r.Status != http.StatusOK {
		t.Fatalf("password grant: %d %s", r.Status, r.Body)
	}
	srv.Sensitive(r.JSON(t)["access_token"].(string))
	r = srv.PostForm(t, hc, "/oauth/token", form("grant_type", "password", "username", wrong, "password", "wrong horse battery"), id, secret)
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")

	for _, u := range []string{page, grant} {
		if h := hashOf(u); !strings.HasPrefix(h, newPrefix) {
			t.Errorf("%s after signing in: hash %.40s…, want the current costs %s", u, h, newPrefix)
		}
	}
	if h := hashOf(wrong); !strings.HasPrefix(h, oldPrefix) {
		t.Errorf("a wrong password rehashed: %.40s…", h)
	}
	// The new hash holds the same password.
	if r := newAZBrowser(t, srv).logIn("/login", grant, "correct horse battery"); r.Status != http.StatusSeeOther {
		t.Fatalf("login with the new hash: %d %s", r.Status, r.Body)
	}
}

// signUp fills the registration page from browser b (without a pending request).
func signUp(b *azBrowser, username, email, password string) Response {
	b.t.Helper()
	csrf, _ := b.openForm("/register")
	return b.post("/register", url.Values{"csrf_token": {csrf}, "username": {username}, "email": {email}, "password": {password}})
}

// sessionNoiseRE matches what the sessions of /account differ in by nature: their
// ids, addresses and times.
var sessionNoiseRE = regexp.MustCompile(`name="session_id" value="[^"]+"|\b127\.\d+\.\d+\.\d+\b|\d+ \w+ \d{4} \d\d:\d\d UTC`)

// listedUsers is `users list --json`, by username.
func listedUsers(t *testing.T, srv *Server) map[string]map[string]any {
	t.Helper()
	var list []map[string]any
	srv.CLIJSON(t, &list, "", "users", "list")
	out := map[string]map[string]any{}
	for _, u := range list {
		name, _ := u["username"].(string)
		out[name] = u
	}
	return out
}

// TestAudit18_SignUpDoesNotRevealEmails: finding 6. The sign-up page said "that
// username or email is already taken" for a registered email. Now a taken email goes
// the way a new one goes: the same status, redirect and session, nothing in the page
// about it; the account is made without that email (its owner keeps it). The CLI, for
// the trusted operator, still says plainly that the email is taken.
func TestAudit18_SignUpDoesNotRevealEmails(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	owner := uniqueName("mailowner")
	ownerMail := owner + "@example.com"
	srv.Sensitive("pw-"+owner+"-long", "a good long password")
	var created struct{ ID string }
	srv.CLIJSON(t, &created, "pw-"+owner+"-long\n", "users", "create", "--username", owner, "--email", ownerMail, "--password-stdin")

	fresh, copycat := uniqueName("freshmail"), uniqueName("copycat")
	bFresh, bTaken := newAZBrowser(t, srv), newAZBrowser(t, srv)
	rFresh := signUp(bFresh, fresh, fresh+"@example.com", "a good long password")
	// The owner's address, in other case: the same address (compared case-folded).
	rTaken := signUp(bTaken, copycat, strings.ToUpper(ownerMail), "a good long password")
	for name, r := range map[string]Response{"new email": rFresh, "taken email": rTaken} {
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Errorf("%s: %d to %q, want 303 to /", name, r.Status, r.Header.Get("Location"))
		}
		if !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "gatehouse_session=") {
			t.Errorf("%s: no session cookie: %v", name, r.Header.Values("Set-Cookie"))
		}
		low := strings.ToLower(string(r.Body))
		for _, word := range []string{"taken", "already", "in use", "exists", "another user", "registered"} {
			if strings.Contains(low, word) {
				t.Errorf("%s: the answer says %q:\n%s", name, word, r.Body)
			}
		}
	}
	if len(rFresh.Body) != len(rTaken.Body) {
		t.Errorf("the answers differ in length: %d and %d bytes", len(rFresh.Body), len(rTaken.Body))
	}

	// Nor does any later page or token (SECURITY S48): each account is shown its
	// address, unverified, in the same words, and tokens carry it unverified.
	seen := map[string]string{}
	for name, acct := range map[string]struct {
		b           *azBrowser
		user, email string
	}{"new email": {bFresh, fresh, fresh + "@example.com"}, "taken email": {bTaken, copycat, ownerMail}} {
		for _, page := range []string{"/account", "/verify-email"} {
			r := acct.b.get(page)
			body := string(r.Body)
			if r.Status != http.StatusOK || !strings.Contains(body, acct.email) {
				t.Errorf("%s: %s answers %d without the address %s:\n%s", name, page, r.Status, acct.email, body)
			}
			// What differs by nature: names, the session's id, address and times.
			body = csrfRE.ReplaceAllString(body, "CSRF")
			body = sessionNoiseRE.ReplaceAllString(body, "X")
			key := page + " " + strings.NewReplacer(acct.email, "EMAIL", acct.user, "USER").Replace(body)
			if other, ok := seen[page]; ok && other != key {
				t.Errorf("%s differs between a new and a taken address:\n%s\n----\n%s", page, other, key)
			}
			seen[page] = key
		}
	}
	cfg, _, _ := newPasswordClient(t, srv)
	cfg.Scopes = []string{"openid", "email"}
	for user, want := range map[string]string{fresh: fresh + "@example.com", copycat: ownerMail} {
		tok := passwordToken(t, srv, srv.HTTPClient(), cfg, user, "a good long password")
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		info := srv.Do(t, srv.HTTPClient(), req).JSON(t)
		if info["email"] != want || info["email_verified"] != false {
			t.Errorf("userinfo of %s: %v, want email %s unverified", user, info, want)
		}
	}

	users := listedUsers(t, srv)
	if u, ok := users[copycat]; !ok || u["email"] != "" {
		t.Errorf("the account with a taken email: %v, want it made without an email (the address only claimed)", u)
	}
	if u := users[fresh]; u["email"] != fresh+"@example.com" {
		t.Errorf("the account with a new email: %v", u)
	}
	if u := users[owner]; u["email"] != ownerMail {
		t.Errorf("the owner's account: %v, want it to keep %s", u, ownerMail)
	}
	// The new account works.
	if r := newAZBrowser(t, srv).logIn("/login", copycat, "a good long password"); r.Status != http.StatusSeeOther {
		t.Errorf("login as the new account: %d", r.Status)
	}

	// The CLI names the taken email plainly (exit 2), and the taken username.
	out, errOut, code := srv.CLI(t, "a good long password\n", "users", "create", "--username", uniqueName("cli"),
		"--email", ownerMail, "--password-stdin")
	wantUsage(t, "users create with a taken email", out, errOut, code, "email address belongs to another user")
	out, errOut, code = srv.CLI(t, "a good long password\n", "users", "create", "--username", owner, "--password-stdin")
	wantUsage(t, "users create with a taken username", out, errOut, code, "username is already taken")
}

// TestAudit18_SignUpThrottled: finding 6. The sign-up page was not throttled. Now
// every attempt from an address counts: after the free ones, 429 with Retry-After and
// the form again; another address is not affected.
func TestAudit18_SignUpThrottled(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	b := newAZBrowser(t, srv)
	var throttled Response
	for i := 1; i <= 12 && throttled.Status == 0; i++ {
		name := uniqueName("signupflood")
		r := signUp(b, name, name+"@example.com", "a good long password")
		switch {
		case r.Status == http.StatusTooManyRequests:
			if i <= 5 {
				t.Fatalf("attempt %d throttled; the first 5 are free", i)
			}
			throttled = r
		case r.Status != http.StatusSeeOther:
			t.Fatalf("attempt %d: %d %s", i, r.Status, r.Body)
		}
	}
	if throttled.Status == 0 {
		t.Fatal("12 sign-ups from one address, none throttled")
	}
	if ra, err := strconv.Atoi(throttled.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After %q", throttled.Header.Get("Retry-After"))
	}
	if !strings.Contains(string(throttled.Body), "Too many sign-ups") || !strings.Contains(string(throttled.Body), `action="/register"`) {
		t.Errorf("the 429 is not the form with the reason:\n%s", throttled.Body)
	}
	wantPageHeaders(t, throttled)
	// Another address signs up at once.
	name := uniqueName("signupother")
	if r := signUp(newAZBrowser(t, srv), name, name+"@example.com", "a good long password"); r.Status != http.StatusSeeOther {
		t.Errorf("another address: %d, want 303", r.Status)
	}
}

// TestIssue26_RegistrationMarksOnlyTheWrongField: the registration page outlined the
// username when only the email was taken. Now the form marks (has-error,
// aria-invalid, the message) only the field that is wrong; a taken email is not
// wrong on the page at all (finding 6).
func TestIssue26_RegistrationMarksOnlyTheWrongField(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	taken, _ := azUser(t, srv)
	owner := uniqueName("fieldowner")
	srv.CLIJSON(t, &struct{}{}, "a good long password\n", "users", "create", "--username", owner, "--email", owner+"@example.com", "--password-stdin")
	fresh := uniqueName("fieldfresh")
	for _, tc := range []struct {
		name, username, email, field string
	}{
		{"taken username", taken, fresh + "@example.com", "username"},
		{"taken username and email", taken, owner + "@example.com", "username"},
		{"malformed email", fresh, "not-an-email", "email"},
		{"short password", fresh, fresh + "@example.com", "password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			password := "a good long password"
			if tc.field == "password" {
				password = "short"
			}
			r := signUp(newAZBrowser(t, srv), tc.username, tc.email, password)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400 with the form", r.Status)
			}
			body := string(r.Body)
			for _, f := range []string{"username", "email", "password"} {
				marked := strings.Contains(body, `id="`+f+`-error"`)
				invalid := regexp.MustCompile(`<input id="` + f + `"[^>]*aria-invalid="true"`).MatchString(body)
				if want := f == tc.field; marked != want || invalid != want {
					t.Errorf("field %s: message %v, aria-invalid %v; want %v", f, marked, invalid, want)
				}
			}
			if n := strings.Count(body, "has-error"); n != 1 {
				t.Errorf("%d fields outlined, want 1", n)
			}
		})
	}
}

// TestAudit18_LookAlikeUsernamesRefused: finding 7. "аlice" (a Cyrillic а) and
// "ａlice" (full-width) registered beside alice. Now usernames are canonicalized by
// PRECIS (RFC 8265 UsernameCaseMapped) wherever they are created or looked up, so
// ａlice is alice (signing in as it signs in alice; registering it finds it taken),
// and a username mixing scripts is refused, on the page and in the CLI; a name in
// one other script is welcome.
func TestAudit18_LookAlikeUsernamesRefused(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	alice := uniqueName("alice")
	const pw = "correct horse battery"
	srv.CreateUser(t, alice, pw)
	fullWidth := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'ａ'
		}
		if r >= '0' && r <= '9' {
			return r - '0' + '０'
		}
		return r
	}, alice)
	cyrillic := "\u0430" + alice[1:] // а (U+0430) for a

	// Registration page: the Cyrillic look-alike is refused for its mixed scripts, the
	// full-width one is alice's name, taken.
	for _, tc := range []struct{ username, words string }{
		{cyrillic, "mixes Cyrillic and Latin"},
		// All Cyrillic, but every letter drawn like a Latin one: it reads as "coco".
		{"\u0441\u043e\u0441\u043e" + alice[5:], "reads as a name in Latin letters"},
		{fullWidth, "already taken"},
		{strings.ToUpper(fullWidth), "already taken"},
		// Latin letters drawn like alice's, of her one script: her name, taken.
		{strings.Replace(alice, "i", "\u0131", 1), "too like one already taken"}, // a dotless ı
		{"\u0251" + alice[1:], "too like one already taken"},                     // a Latin alpha ɑ
		{strings.Replace(alice, "c", "\u1D04", 1), "too like one already taken"}, // a small capital ᴄ
		// A user id's form: it could stand for another user's id where admins find users.
		{"9d3f6a2b-5c4e-4f1a-8b7c-6d5e4f3a2b1c", "has the form of a user id"},
	} {
		r := signUp(newAZBrowser(t, srv), tc.username, uniqueName("lookalike")+"@example.com", "a good long password")
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), tc.words) {
			t.Errorf("register %q: %d, want 400 saying %q\n%s", tc.username, r.Status, tc.words, r.Body)
		}
	}
	// The CLI, the same rules.
	out, errOut, code := srv.CLI(t, pw+"\n", "users", "create", "--username", cyrillic, "--password-stdin")
	wantUsage(t, "users create with a mixed-script name", out, errOut, code, "mixes Cyrillic and Latin")
	out, errOut, code = srv.CLI(t, pw+"\n", "users", "create", "--username", "\u0441\u043e\u0441\u043e", "--password-stdin")
	wantUsage(t, "users create with a name that reads as Latin", out, errOut, code, "reads as a name in Latin letters")
	out, errOut, code = srv.CLI(t, pw+"\n", "users", "create", "--username", fullWidth, "--password-stdin")
	wantUsage(t, "users create with a full-width name", out, errOut, code, "already taken")
	out, errOut, code = srv.CLI(t, pw+"\n", "users", "create", "--username", strings.Replace(alice, "i", "\u0131", 1), "--password-stdin")
	wantUsage(t, "users create with a name drawn like alice", out, errOut, code, "too like one already taken")
	out, errOut, code = srv.CLI(t, pw+"\n", "users", "create", "--username", "9D3F6A2B-5C4E-4F1A-8B7C-6D5E4F3A2B1C", "--password-stdin")
	wantUsage(t, "users create with a user id's form", out, errOut, code, "form of a user id")

	// Signing in as the full-width name signs in alice, on the page and by the
	// password grant; the Cyrillic one is nobody.
	b := newAZBrowser(t, srv)
	if r := b.logIn("/login", fullWidth, pw); r.Status != http.StatusSeeOther {
		t.Fatalf("login as %q: %d", fullWidth, r.Status)
	}
	if home := string(b.get("/").Body); !strings.Contains(home, "Welcome, "+alice) {
		t.Errorf("signed in as %q, the home page does not greet %s", fullWidth, alice)
	}
	if r := newAZBrowser(t, srv).logIn("/login", cyrillic, pw); r.Status != http.StatusUnauthorized {
		t.Errorf("login as %q: %d, want 401", cyrillic, r.Status)
	}
	id, secret := srv.CreateClient(t, "--grant-type", "password", "--scope", "openid profile")
	r := srv.PostForm(t, nil, "/oauth/token", form("grant_type", "password", "username", strings.ToUpper(fullWidth),
		"password", pw, "scope", "openid profile"), id, secret)
	if r.Status != http.StatusOK {
		t.Fatalf("password grant as %q: %d %s", strings.ToUpper(fullWidth), r.Status, r.Body)
	}
	at := r.JSON(t)["access_token"].(string)
	srv.Sensitive(at)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	if u := srv.Do(t, nil, req).JSON(t); u["preferred_username"] != alice {
		t.Errorf("userinfo after signing in as %q: %v, want %s", strings.ToUpper(fullWidth), u, alice)
	}

	// Names in one script other than Latin are welcome, stored in canonical form.
	names := []string{"алиса" + randomDigits(6), "山田たろう" + randomDigits(6)}
	for _, name := range names {
		if r := signUp(newAZBrowser(t, srv), strings.ToUpper(name), uniqueName("script")+"@example.com", "a good long password"); r.Status != http.StatusSeeOther {
			t.Errorf("register %q: %d\n%s", name, r.Status, r.Body)
		}
	}
	listed := listedUsers(t, srv)
	for _, name := range names {
		if _, ok := listed[name]; !ok {
			t.Errorf("%q is not listed (in lower case)", name)
		}
	}
	if _, ok := listed[cyrillic]; ok {
		t.Errorf("the look-alike %q exists", cyrillic)
	}
}

// randomDigits returns n random decimal digits.
func randomDigits(n int) string {
	s := randomString(n * 2)
	out := make([]byte, 0, n)
	for i := 0; len(out) < n; i++ {
		out = append(out, '0'+s[i%len(s)]%10)
	}
	return string(out)
}

// TestAudit18_PublicClientPasswordGrantRefused: finding 10. `clients create --public
// --grant-type password` made a client that anyone knowing its id could use to try
// passwords. domain.ValidateClient now refuses it (RFC 9700 §2.4), so the CLI exits 2
// with one line, and nothing is stored; a confidential password client stays possible.
func TestAudit18_PublicClientPasswordGrantRefused(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	name := uniqueName("public-password-")
	for _, args := range [][]string{
		{"clients", "create", "--name", name, "--public", "--grant-type", "password"},
		{"clients", "create", "--name", name, "--public", "--grant-type", "password", "--grant-type", "refresh_token", "--json"},
	} {
		out, errOut, code := srv.CLI(t, "", args...)
		wantUsage(t, strings.Join(args, " "), out, errOut, code, "a public client cannot use the password grant", "RFC 9700")
	}
	var list []CreatedClient
	srv.CLIJSON(t, &list, "", "clients", "list")
	for _, c := range list {
		if c.Name == name {
			t.Errorf("the refused client was stored: %+v", c)
		}
	}
	c := srv.CreateClientJSON(t, "--grant-type", "password")
	if c.Public || c.ClientSecret == "" {
		t.Errorf("a confidential password client: %+v", c)
	}
}

// TestAudit18_CodeRedemptionErrorsArePrecise: finding 11. A code exchange without the
// code_verifier answered "PKCE verification failed", and the retry "invalid, expired
// or already used". The failed attempt still consumes the code (SECURITY S12), so the
// retry is right to say it was used; but the first answer now says what was wrong.
// On every backend: PostgreSQL decides the exchange in SQL, and the grant works out
// from the consumed code which condition failed.
func TestAudit18_CodeRedemptionErrorsArePrecise(t *testing.T) {
	t.Parallel()
	// Confidential clients may skip PKCE here, to get codes issued without a challenge.
	forEachBackend(t, Options{Env: map[string]string{"GATEHOUSE_REQUIRE_PKCE": "false"}}, func(t *testing.T, srv *Server) {
		c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent")
		other := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent")
		user, pass := azUser(t, srv)
		b := newAZBrowser(t, srv)
		p := newAZPKCE()
		withPKCE := azQuery(c, p, "s")
		noPKCE := azQuery(c, p, "s", "code_challenge", "", "code_challenge_method", "")
		noURI := azQuery(c, p, "s", "redirect_uri", "")
		for _, tc := range []struct {
			name     string
			q        url.Values
			by       azClient
			uri      string
			verifier string
			want     string
			// the right redemption, for the retry
			rightURI, rightVerifier string
		}{
			{"code_verifier missing", withPKCE, c, c.RedirectURI, "",
				"code_verifier is missing; the code was issued with a code_challenge", c.RedirectURI, p.Verifier},
			{"code_verifier wrong", withPKCE, c, c.RedirectURI, newAZPKCE().Verifier,
				"code_verifier does not match the code_challenge", c.RedirectURI, p.Verifier},
			{"code_verifier malformed", withPKCE, c, c.RedirectURI, "short",
				"code_verifier must be 43 to 128 unreserved characters", c.RedirectURI, p.Verifier},
			{"code_verifier for a code without challenge", noPKCE, c, c.RedirectURI, p.Verifier,
				"code_verifier sent for a code issued without a code_challenge", c.RedirectURI, ""},
			{"redirect_uri missing", withPKCE, c, "", p.Verifier,
				"redirect_uri is missing", c.RedirectURI, p.Verifier},
			{"redirect_uri different", withPKCE, c, c.RedirectURI + "/other", p.Verifier,
				"redirect_uri differs from the one in the authorization request", c.RedirectURI, p.Verifier},
			{"redirect_uri not in the request", noURI, c, c.RedirectURI, p.Verifier,
				"redirect_uri was not in the authorization request", "", p.Verifier},
			{"another client's code", withPKCE, other, c.RedirectURI, p.Verifier,
				"the authorization code was issued to another client", c.RedirectURI, p.Verifier},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := b.authorize(tc.q, user, pass, "allow")
				code := f.Query.Get("code")
				if code == "" {
					t.Fatalf("no code: %s", f.Location)
				}
				wantGrantError(t, tc.by.exchange(t, srv, b.hc, code, tc.uri, tc.verifier), tc.want)
				// The code is spent: the right redemption now hears that it was used.
				wantGrantError(t, c.exchange(t, srv, b.hc, code, tc.rightURI, tc.rightVerifier), "the authorization code was already used")
			})
		}
		// And an unknown code is said to be invalid.
		wantGrantError(t, c.exchange(t, srv, b.hc, randomString(43), c.RedirectURI, p.Verifier), "the authorization code is invalid")
	})
	// An expired code: codes live one second here.
	forEachBackend(t, Options{Env: map[string]string{"GATEHOUSE_AUTH_CODE_TTL": "1s"}}, func(t *testing.T, srv *Server) {
		c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent")
		user, pass := azUser(t, srv)
		b := newAZBrowser(t, srv)
		p := newAZPKCE()
		f := b.authorize(azQuery(c, p, "s"), user, pass, "allow")
		time.Sleep(1200 * time.Millisecond)
		wantGrantError(t, c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier), "the authorization code has expired")
		wantGrantError(t, c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier), "the authorization code was already used")
	})
}

// wantGrantError checks a 400 invalid_grant whose description contains want.
func wantGrantError(t *testing.T, r Response, want string) {
	t.Helper()
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	if d, _ := r.JSON(t)["error_description"].(string); !strings.Contains(d, want) {
		t.Errorf("error_description %q, want it to say %q", d, want)
	}
}
