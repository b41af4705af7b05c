package e2e

// The command line contract of SPEC.md "Command line", against the real binary: output
// shapes of --json, exit status 2 and one stderr line for bad input, 1 for failures at
// run time, and the effect of admin commands on a running server.

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// wantUsage checks a bad-input exit: status 2, nothing on stdout, exactly one line on
// stderr containing every one of mention.
func wantUsage(t *testing.T, what, stdout, stderr string, code int, mention ...string) {
	t.Helper()
	wantOneLineExit(t, what, 2, stdout, stderr, code, mention...)
}

func wantOneLineExit(t *testing.T, what string, want int, stdout, stderr string, code int, mention ...string) {
	t.Helper()
	if code != want {
		t.Errorf("%s: exit %d, want %d (stderr %q)", what, code, want, stderr)
	}
	if stdout != "" {
		t.Errorf("%s: stdout %q, want nothing", what, stdout)
	}
	if !strings.HasSuffix(stderr, "\n") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("%s: stderr %q, want exactly one line", what, stderr)
	}
	for _, m := range mention {
		if !strings.Contains(stderr, m) {
			t.Errorf("%s: stderr %q does not mention %q", what, stderr, m)
		}
	}
}

// jsonKeys decodes a JSON object and returns its sorted keys.
func jsonKeys(t *testing.T, s string) (map[string]any, []string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, s)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return m, keys
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestCLI runs the admin commands against a running server on every backend.
func TestCLI(t *testing.T) {
	t.Parallel()
	opts := Options{Env: map[string]string{
		// The server re-reads keys every second, so `keys rotate` shows at once, and
		// signs access tokens with EdDSA, so rotating that alg replaces the signing key.
		"GATEHOUSE_KEY_REFRESH_INTERVAL": "1s",
		"GATEHOUSE_SIGNING_ALG":          "EdDSA",
	}}
	forEachBackend(t, opts, func(t *testing.T, srv *Server) {
		runConcurrently(t,
			subtest{"UsersCreate", func(t *testing.T) { testCLIUsersCreate(t, srv) }},
			subtest{"UsersListAndDelete", func(t *testing.T) { testCLIUsersListDelete(t, srv) }},
			subtest{"UsersSetPassword", func(t *testing.T) { testCLISetPassword(t, srv) }},
			subtest{"UsersShowAndUpdate", func(t *testing.T) { testCLIUsersShowUpdate(t, srv) }},
			subtest{"UsersProfileAndGroups", func(t *testing.T) { testCLIUsersProfileAndGroups(t, srv) }},
			subtest{"ClientsShowAndUpdate", func(t *testing.T) { testCLIClientsShowUpdate(t, srv) }},
			subtest{"ClientsCreate", func(t *testing.T) { testCLIClientsCreate(t, srv) }},
			subtest{"ClientsListNeverShowsSecrets", func(t *testing.T) { testCLIClientsList(t, srv) }},
			subtest{"ClientsRotateSecret", func(t *testing.T) { testCLIRotateSecret(t, srv) }},
			subtest{"ClientsDelete", func(t *testing.T) { testCLIClientsDelete(t, srv) }},
			subtest{"KeysRotate", func(t *testing.T) { testCLIKeysRotate(t, srv) }},
			subtest{"MigrateStatus", func(t *testing.T) { testCLIMigrateStatus(t, srv) }},
		)
	})
}

func testCLIUsersCreate(t *testing.T, srv *Server) {
	name := uniqueName("cliuser")
	pwd := "pw-" + randomString(16)
	srv.Sensitive(pwd)
	out, errOut, code := srv.CLI(t, pwd+"\n", "users", "create", "--username", name, "--email", name+"@example.com",
		"--password-stdin", "--json")
	if code != 0 {
		t.Fatalf("users create: exit %d: %s", code, errOut)
	}
	m, keys := jsonKeys(t, out)
	if !slices.Equal(keys, []string{"id", "username"}) {
		t.Errorf("users create --json printed keys %v, want exactly id and username: %s", keys, out)
	}
	id, _ := m["id"].(string)
	if m["username"] != name || !uuidRE.MatchString(id) {
		t.Errorf("users create --json: %s", out)
	}
	if strings.Contains(out+errOut, pwd) {
		t.Errorf("users create echoed the password")
	}

	// The trailing newline is not part of the password; CRLF neither.
	cfg, _, _ := newPasswordClient(t, srv)
	passwordToken(t, srv, srv.HTTPClient(), cfg, name, pwd)
	name2, pwd2 := uniqueName("cliuser"), "pw-"+randomString(16)
	srv.Sensitive(pwd2)
	if _, errOut, code := srv.CLI(t, pwd2+"\r\nsecond line\n", "users", "create", "--username", name2, "--password-stdin"); code != 0 {
		t.Fatalf("users create with CRLF: exit %d: %s", code, errOut)
	}
	passwordToken(t, srv, srv.HTTPClient(), cfg, name2, pwd2)

	// Duplicates: exit 2 and one line, whatever the case.
	for _, dup := range []string{name, strings.ToUpper(name)} {
		out, errOut, code = srv.CLI(t, pwd+"\n", "users", "create", "--username", dup, "--password-stdin", "--json")
		wantUsage(t, "duplicate username "+dup, out, errOut, code)
	}
	// Other bad input (all at once: they are independent).
	bad := []struct {
		name, stdin string
		args        []string
	}{
		{"no username", pwd + "\n", []string{"--password-stdin"}},
		{"empty password", "\n", []string{"--username", uniqueName("u"), "--password-stdin"}},
		{"no password on stdin", "", []string{"--username", uniqueName("u"), "--password-stdin"}},
		{"password too short", "abc\n", []string{"--username", uniqueName("u"), "--password-stdin"}},
		{"bad username", pwd + "\n", []string{"--username", "no spaces allowed", "--password-stdin"}},
		{"bad email", pwd + "\n", []string{"--username", uniqueName("u"), "--email", "not-an-email", "--password-stdin"}},
		{"stdin not a terminal", "", []string{"--username", uniqueName("u")}},
		{"stray argument", pwd + "\n", []string{"--username", uniqueName("u"), "--password-stdin", "extra"}},
	}
	var calls []CLICall
	for _, tc := range bad {
		calls = append(calls, CLICall{Stdin: tc.stdin, Args: append([]string{"users", "create"}, tc.args...)})
	}
	for i, r := range srv.CLIAll(t, calls...) {
		wantUsage(t, "users create: "+bad[i].name, r.Stdout, r.Stderr, r.Exit)
	}
	// Several bad values: one line that names each of them.
	_, errOut, code = srv.CLI(t, "abc\n", "users", "create", "--username", uniqueName("u"), "--email", "not-an-email",
		"--locale", "english", "--password-stdin")
	if want := `gatehouse: email "not-an-email" is not a valid address; password must be 8 to 128 characters; ` +
		"locale: must be a language tag like en-US or fr\n"; code != 2 || errOut != want {
		t.Errorf("users create with three bad values: exit %d, stderr %q, want 2, %q", code, errOut, want)
	}
}

type userRow struct {
	ID       string `json:"id"`
	Username string `json:"username"`
}

func testCLIUsersListDelete(t *testing.T, srv *Server) {
	name, pwd, id := newUser(t, srv)
	var users []map[string]any
	srv.CLIJSON(t, &users, "", "users", "list")
	found := false
	for _, u := range users {
		if u["id"] == id && u["username"] == name {
			found = true
		}
		// Every key always, so that a script reads "" rather than a missing key.
		if keys := slices.Sorted(maps.Keys(u)); !slices.Equal(keys, []string{"created_at", "disabled", "email",
			"email_verified", "groups", "id", "name", "username"}) {
			t.Errorf("users list --json: keys %v", keys)
		}
		for k := range u {
			if strings.Contains(k, "password") || strings.Contains(k, "hash") {
				t.Errorf("users list shows %q", k)
			}
		}
	}
	if !found {
		t.Errorf("users list --json lacks %s", name)
	}
	if out, _, _ := srv.CLI(t, "", "users", "list"); !strings.Contains(out, name) || strings.Contains(out, pwd) {
		t.Errorf("users list (text): %q", out)
	}

	// Deleting an unknown id: exit 2, one line.
	out, errOut, code := srv.CLI(t, "", "users", "delete", "00000000-0000-4000-8000-000000000000")
	wantUsage(t, "users delete unknown", out, errOut, code)
	out, errOut, code = srv.CLI(t, "", "users", "delete")
	wantUsage(t, "users delete without id", out, errOut, code)

	// Deleting a user ends their tokens and logins.
	cfg, cid, csecret := newPasswordClient(t, srv)
	hc := srv.HTTPClient()
	tok := passwordToken(t, srv, hc, cfg, name, pwd)
	if _, errOut, code := srv.CLI(t, "", "users", "delete", id); code != 0 {
		t.Fatalf("users delete: exit %d: %s", code, errOut)
	}
	var after []userRow
	srv.CLIJSON(t, &after, "", "users", "list")
	if slices.ContainsFunc(after, func(u userRow) bool { return u.ID == id }) {
		t.Errorf("deleted user still listed")
	}
	if _, err := refresh(ctxWith(hc), cfg, tok.RefreshToken); err == nil {
		t.Errorf("a deleted user's refresh token still works")
	}
	wantInactive(t, introspect(t, srv, hc, cid, csecret, tok.AccessToken))
	if _, err := cfg.PasswordCredentialsToken(ctxWith(hc), name, pwd); err == nil {
		t.Errorf("a deleted user can still log in")
	}
	out, errOut, code = srv.CLI(t, "", "users", "delete", id)
	wantUsage(t, "users delete twice", out, errOut, code)
}

func testCLISetPassword(t *testing.T, srv *Server) {
	name, pwd, id := newUser(t, srv)
	cfg, cid, csecret := newPasswordClient(t, srv)
	hc := srv.HTTPClient()
	tok := passwordToken(t, srv, hc, cfg, name, pwd)

	newPwd := "new-" + randomString(16)
	srv.Sensitive(newPwd)
	out, errOut, code := srv.CLI(t, newPwd+"\n", "users", "set-password", id, "--password-stdin", "--json")
	if code != 0 {
		t.Fatalf("users set-password: exit %d: %s", code, errOut)
	}
	if strings.Contains(out+errOut, newPwd) {
		t.Errorf("set-password echoed the password")
	}
	// Refresh tokens are revoked (SECURITY S33), and their access tokens with them.
	_, err := refresh(ctxWith(hc), cfg, tok.RefreshToken)
	if status, ecode := retrieveError(t, err); status != 400 || ecode != "invalid_grant" {
		t.Errorf("refresh after a password change: %d %s, want 400 invalid_grant", status, ecode)
	}
	wantInactive(t, introspect(t, srv, hc, cid, csecret, tok.AccessToken))
	if _, err := cfg.PasswordCredentialsToken(ctxWith(hc), name, pwd); err == nil {
		t.Errorf("the old password still works")
	}
	passwordToken(t, srv, hc, cfg, name, newPwd)

	out, errOut, code = srv.CLI(t, newPwd+"\n", "users", "set-password", "00000000-0000-4000-8000-000000000000", "--password-stdin")
	wantUsage(t, "set-password unknown user", out, errOut, code)
	out, errOut, code = srv.CLI(t, "x\n", "users", "set-password", id, "--password-stdin")
	wantUsage(t, "set-password too short", out, errOut, code)
}

// testCLIUsersShowUpdate: users show and users update by id or username, their text
// and --json, and the effect of --disabled on a running server.
func testCLIUsersShowUpdate(t *testing.T, srv *Server) {
	name, pwd, id := newUser(t, srv)
	for _, ref := range []string{name, id, strings.ToUpper(name)} {
		out := cliOK(t, srv, "users", "show", ref, "--json")
		m, keys := jsonKeys(t, out)
		if !slices.Equal(keys, []string{"created_at", "disabled", "email", "email_verified", "family_name", "given_name",
			"groups", "id", "locale", "name", "phone_number", "phone_number_verified", "picture", "updated_at", "username", "zoneinfo"}) {
			t.Errorf("users show --json printed keys %v", keys)
		}
		if m["id"] != id || m["username"] != name || m["disabled"] != false || m["email_verified"] != false || m["email"] != "" ||
			m["name"] != "" || fmt.Sprint(m["groups"]) != "[]" {
			t.Errorf("users show %s --json: %s", ref, out)
		}
	}
	out := cliOK(t, srv, "users", "show", name)
	for _, want := range []string{"id:", id, "username:", name, "email_verified: false", "status:", "active"} {
		if !strings.Contains(out, want) {
			t.Errorf("users show (text) lacks %q:\n%s", want, out)
		}
	}

	mail := name + "@example.org"
	out = cliOK(t, srv, "users", "update", name, "--email", mail, "--email-verified=true", "--json")
	if m, _ := jsonKeys(t, out); m["email"] != mail || m["email_verified"] != true || m["disabled"] != false {
		t.Errorf("users update --email --email-verified --json: %s", out)
	}
	// A new address is unverified unless said otherwise.
	mail2 := name + "@example.net"
	if m, _ := jsonKeys(t, cliOK(t, srv, "users", "update", id, "--email", mail2, "--json")); m["email"] != mail2 || m["email_verified"] != false {
		t.Errorf("a new email kept its verification: %v", m)
	}

	out = cliOK(t, srv, "users", "update", name, "--disabled=true")
	if !strings.HasPrefix(out, "updated user "+name+"\n") || !strings.Contains(out, "disabled") {
		t.Errorf("users update --disabled=true (text): %q", out)
	}
	var list []map[string]any
	srv.CLIJSON(t, &list, "", "users", "list")
	if i := slices.IndexFunc(list, func(m map[string]any) bool { return m["id"] == id }); i < 0 || list[i]["disabled"] != true {
		t.Errorf("users list --json does not show the user disabled")
	}
	if out := cliOK(t, srv, "users", "list"); !strings.Contains(out, "STATUS") || !regexp.MustCompile(name+`\s.*\sdisabled\s`).MatchString(out) {
		t.Errorf("users list (text) does not show the user disabled:\n%s", out)
	}
	cfg, _, _ := newPasswordClient(t, srv)
	hc := srv.HTTPClient()
	if _, err := cfg.PasswordCredentialsToken(ctxWith(hc), name, pwd); err == nil {
		t.Error("a disabled user got tokens")
	}
	cliOK(t, srv, "users", "update", name, "--disabled=false")
	passwordToken(t, srv, hc, cfg, name, pwd)

	bad := [][]string{
		{"users", "update", name},
		{"users", "update", "nobody-" + randomString(6), "--disabled=true"},
		{"users", "update", name, "--email", "not-an-email"},
		{"users", "update", name, "--disabled=maybe"},
		{"users", "update", name, "--picture", "ftp://example.com/me.png"},
		{"users", "update"},
		{"users", "show"},
		{"users", "show", "nobody-" + randomString(6)},
	}
	var calls []CLICall
	for _, args := range bad {
		calls = append(calls, CLICall{Args: args})
	}
	for i, r := range srv.CLIAll(t, calls...) {
		wantUsage(t, strings.Join(bad[i], " "), r.Stdout, r.Stderr, r.Exit)
	}
	out, errOut, code := srv.CLI(t, "", "users", "show", "nobody-x")
	wantUsage(t, "users show unknown", out, errOut, code, `no user with id or username "nobody-x"`)

	// Deleting by username.
	other, _, otherID := newUser(t, srv)
	if out := cliOK(t, srv, "users", "delete", other, "--json"); !strings.Contains(out, otherID) {
		t.Errorf("users delete by username --json: %s", out)
	}
}

// testCLIClientsShowUpdate: clients show and clients update, their text and --json,
// refusals, and the effect of --disabled on a running server.
func testCLIClientsShowUpdate(t *testing.T, srv *Server) {
	c := srv.CreateClientJSON(t, "--grant-type", "client_credentials", "--scope", "api:read")
	out := cliOK(t, srv, "clients", "show", c.ClientID, "--json")
	m, keys := jsonKeys(t, out)
	if m["client_id"] != c.ClientID || m["disabled"] != false || slices.Contains(keys, "client_secret") || m["scope"] != "api:read" {
		t.Errorf("clients show --json: %s", out)
	}
	out = cliOK(t, srv, "clients", "show", c.ClientID)
	for _, want := range []string{"client_id:", c.ClientID, "status:", "active", "scope:", "api:read"} {
		if !strings.Contains(out, want) {
			t.Errorf("clients show (text) lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, c.ClientSecret) {
		t.Error("clients show printed the secret")
	}

	name := uniqueName("renamed-")
	out = cliOK(t, srv, "clients", "update", c.ClientID, "--name", name, "--scope", "api:read api:write",
		"--audience", "https://orders.example.com", "--json")
	m, keys = jsonKeys(t, out)
	if m["name"] != name || m["scope"] != "api:read api:write" || m["client_id"] != c.ClientID || slices.Contains(keys, "client_secret") {
		t.Errorf("clients update --json: %s", out)
	}
	// The id and the secret stay: the new scope and audience work at once... (the
	// server may hold the client for GATEHOUSE_CLIENT_CACHE_TTL).
	body := form("grant_type", "client_credentials", "scope", "api:write", "resource", "https://orders.example.com")
	clEventually(t, 7*time.Second, "the updated client", func() error {
		r := srv.PostForm(t, nil, "/oauth/token", body, c.ClientID, c.ClientSecret)
		if r.Status != http.StatusOK {
			return fmt.Errorf("%d %s", r.Status, r.Body)
		}
		srv.Sensitive(r.JSON(t)["access_token"].(string))
		return nil
	})

	r := srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials"), c.ClientID, c.ClientSecret)
	if r.Status != http.StatusOK {
		t.Fatalf("client credentials: %d %s", r.Status, r.Body)
	}
	tok := r.JSON(t)["access_token"].(string)
	srv.Sensitive(tok)
	out = cliOK(t, srv, "clients", "update", c.ClientID, "--disabled=true")
	if !strings.HasPrefix(out, "updated client "+c.ClientID+"\n") || !strings.Contains(out, "disabled") {
		t.Errorf("clients update --disabled=true (text): %q", out)
	}
	rsID, rsSecret := srv.CreateClient(t, "--grant-type", "client_credentials")
	wantInactive(t, introspect(t, srv, nil, rsID, rsSecret, tok))
	clEventually(t, 7*time.Second, "the disabled client is refused", func() error {
		r := srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials"), c.ClientID, c.ClientSecret)
		if r.Status == http.StatusOK {
			srv.Sensitive(r.JSON(t)["access_token"].(string))
		}
		if r.Status != http.StatusUnauthorized || r.JSON(t)["error"] != "invalid_client" {
			return fmt.Errorf("%d %s", r.Status, r.Body)
		}
		return nil
	})
	var list []map[string]any
	srv.CLIJSON(t, &list, "", "clients", "list")
	if i := slices.IndexFunc(list, func(m map[string]any) bool { return m["client_id"] == c.ClientID }); i < 0 || list[i]["disabled"] != true {
		t.Errorf("clients list --json does not show the client disabled")
	}
	if out := cliOK(t, srv, "clients", "list"); !strings.Contains(out, "STATUS") ||
		!regexp.MustCompile(c.ClientID+`\s.*\sdisabled\s`).MatchString(out) {
		t.Errorf("clients list (text) does not show the client disabled:\n%s", out)
	}

	// Enabled again: it works (once no instance holds the disabled client in memory),
	// and the token from before stays dead.
	cliOK(t, srv, "clients", "update", c.ClientID, "--disabled=false")
	clEventually(t, 7*time.Second, "the re-enabled client", func() error {
		r := srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials"), c.ClientID, c.ClientSecret)
		if r.Status != http.StatusOK {
			return fmt.Errorf("%d %s", r.Status, r.Body)
		}
		srv.Sensitive(r.JSON(t)["access_token"].(string))
		return nil
	})
	wantInactive(t, introspect(t, srv, nil, rsID, rsSecret, tok))

	other := srv.CreateClientJSON(t, "--grant-type", "client_credentials")
	bad := []struct {
		args    []string
		mention string
	}{
		{[]string{c.ClientID}, "at least one"},
		{[]string{c.ClientID, "--public"}, "public"},
		{[]string{c.ClientID, "--auth-method", "private_key_jwt", "--jwks-uri", "https://keys.example.com/jwks.json"}, "authenticates"},
		{[]string{c.ClientID, "--redirect-uri", "javascript:alert(1)"}, ""},
		{[]string{c.ClientID, "--grant-type", "implicit"}, "implicit"},
		{[]string{c.ClientID, "--name", other.Name}, other.Name},
		{[]string{c.ClientID, "--scope", `a"b`}, "--scope"},
		{[]string{c.ClientID, "--disabled=maybe"}, ""},
		{[]string{"nosuchclient00000000000000", "--name", "x"}, "nosuchclient00000000000000"},
		{[]string{}, ""},
	}
	var calls []CLICall
	for _, tc := range bad {
		calls = append(calls, CLICall{Args: append([]string{"clients", "update"}, tc.args...)})
	}
	calls = append(calls, CLICall{Args: []string{"clients", "show", "nosuchclient00000000000000"}})
	for i, r := range srv.CLIAll(t, calls...) {
		if i == len(bad) {
			wantUsage(t, "clients show unknown", r.Stdout, r.Stderr, r.Exit, "nosuchclient00000000000000")
			continue
		}
		var mention []string
		if bad[i].mention != "" {
			mention = append(mention, bad[i].mention)
		}
		wantUsage(t, "clients update "+strings.Join(bad[i].args, " "), r.Stdout, r.Stderr, r.Exit, mention...)
	}
	// A refused update changed nothing.
	if m, _ := jsonKeys(t, cliOK(t, srv, "clients", "show", c.ClientID, "--json")); m["name"] != name || m["public"] != false {
		t.Errorf("a refused update changed the client: %v", m)
	}
}

func testCLIClientsCreate(t *testing.T, srv *Server) {
	c := srv.CreateClientJSON(t, "--grant-type", "client_credentials", "--scope", "api:read")
	if c.ClientID == "" || c.ClientSecret == "" || c.Public {
		t.Fatalf("confidential client: %+v", c)
	}
	if tok, err := ccConfig(srv, c.ClientID, c.ClientSecret).Token(ctxWith(srv.HTTPClient())); err != nil {
		t.Errorf("the printed secret does not work: %v", err)
	} else {
		srv.Sensitive(tok.AccessToken)
	}

	// Defaults: authorization_code and refresh_token, the default scopes.
	d := srv.CreateClientJSON(t, "--redirect-uri", "https://app.example.com/cb")
	if !slices.Equal(d.GrantTypes, []string{"authorization_code", "refresh_token"}) || d.Scope != "openid profile email offline_access" {
		t.Errorf("client defaults: grants %v scope %q", d.GrantTypes, d.Scope)
	}

	// A public client has no secret, not even an empty one.
	out, errOut, code := srv.CLI(t, "", "clients", "create", "--name", uniqueName("public-"), "--public",
		"--grant-type", "urn:ietf:params:oauth:grant-type:device_code", "--json")
	if code != 0 {
		t.Fatalf("clients create --public: exit %d: %s", code, errOut)
	}
	m, keys := jsonKeys(t, out)
	if slices.Contains(keys, "client_secret") || m["public"] != true || m["client_id"] == "" {
		t.Errorf("public client JSON: %s", out)
	}
	// Text output: the secret once, for confidential clients only.
	name := uniqueName("text-")
	out, _, code = srv.CLI(t, "", "clients", "create", "--name", name, "--grant-type", "client_credentials")
	if code != 0 || !strings.Contains(out, "client_id: ") || !strings.Contains(out, "client_secret: ") {
		t.Errorf("clients create (text): exit %d %q", code, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(line, "client_secret: "); ok {
			srv.Sensitive(s)
		}
	}

	// Bad input: exit 2 and one line; a client field is named by the flag that sets
	// it where the line names it (domain.FieldError, mapped by the CLI).
	bad := []struct {
		name string
		args []string
		line string // the exact stderr line after "gatehouse: ", when given
	}{
		{"no name", []string{"--grant-type", "client_credentials"}, "--name is required"},
		{"duplicate name", []string{"--name", name, "--grant-type", "client_credentials"}, fmt.Sprintf("a client named %q already exists", name)},
		{"unknown grant", []string{"--name", uniqueName("c"), "--grant-type", "implicit"}, ""},
		{"code grant without redirect URI", []string{"--name", uniqueName("c")}, "the authorization_code grant needs at least one redirect URI"},
		{"javascript redirect URI", []string{"--name", uniqueName("c"), "--redirect-uri", "javascript:alert(1)"},
			`redirect URI "javascript:alert(1)" uses a forbidden scheme`},
		{"http redirect URI off loopback", []string{"--name", uniqueName("c"), "--redirect-uri", "http://app.example.com/cb"},
			`redirect URI "http://app.example.com/cb": plain http is allowed only on loopback; use https`},
		{"fragment", []string{"--name", uniqueName("c"), "--redirect-uri", "https://app.example.com/cb#x"}, ""},
		{"bad scope", []string{"--name", uniqueName("c"), "--grant-type", "client_credentials", "--scope", `a"b`}, ""},
		{"public client_credentials", []string{"--name", uniqueName("c"), "--public", "--grant-type", "client_credentials"},
			"a public client cannot use client_credentials"},
		{"public password", []string{"--name", uniqueName("c"), "--public", "--grant-type", "password"}, ""},
		{"bad id token alg", []string{"--name", uniqueName("c"), "--grant-type", "password", "--id-token-alg", "HS256"},
			`--id-token-alg "HS256" is not one of RS256, ES256, EdDSA`},
		{"keys without private_key_jwt", []string{"--name", uniqueName("c"), "--grant-type", "client_credentials", "--jwks-uri", "https://keys.example.com/j"},
			"--jwks and --jwks-uri are for --auth-method private_key_jwt"},
		{"private_key_jwt without keys", []string{"--name", uniqueName("c"), "--grant-type", "client_credentials", "--auth-method", "private_key_jwt"},
			"private_key_jwt needs exactly one of --jwks and --jwks-uri"},
		{"unknown auth method", []string{"--name", uniqueName("c"), "--grant-type", "client_credentials", "--auth-method", "client_secret_jwt"},
			`--auth-method "client_secret_jwt" is not private_key_jwt (leave it out for a client secret)`},
		{"jwks-uri over http", []string{"--name", uniqueName("c"), "--grant-type", "client_credentials", "--auth-method", "private_key_jwt",
			"--jwks-uri", "http://keys.example.com/j"}, `--jwks-uri "http://keys.example.com/j" must use https (plain http only to 127.0.0.1 or [::1])`},
		{"unknown flag", []string{"--name", uniqueName("c"), "--colour", "red"}, ""},
		{"several bad values", []string{"--name", uniqueName("c"), "--public", "--grant-type", "client_credentials",
			"--redirect-uri", "javascript:x", "--id-token-alg", "HS256"},
			`a public client cannot use client_credentials; redirect URI "javascript:x" uses a forbidden scheme; ` +
				`--id-token-alg "HS256" is not one of RS256, ES256, EdDSA`},
	}
	var calls []CLICall
	for _, tc := range bad {
		calls = append(calls, CLICall{Args: append([]string{"clients", "create"}, tc.args...)})
	}
	for i, r := range srv.CLIAll(t, calls...) {
		wantUsage(t, "clients create: "+bad[i].name, r.Stdout, r.Stderr, r.Exit)
		if want := "gatehouse: " + bad[i].line + "\n"; bad[i].line != "" && r.Stderr != want {
			t.Errorf("clients create: %s: stderr %q, want %q", bad[i].name, r.Stderr, want)
		}
	}
}

func testCLIClientsList(t *testing.T, srv *Server) {
	c := srv.CreateClientJSON(t, "--grant-type", "client_credentials")
	secrets := srv.sensitiveValues()
	var list []map[string]any
	srv.CLIJSON(t, &list, "", "clients", "list")
	if !slices.ContainsFunc(list, func(m map[string]any) bool { return m["client_id"] == c.ClientID }) {
		t.Errorf("clients list --json lacks %s", c.ClientID)
	}
	for _, m := range list {
		for k := range m {
			if strings.Contains(k, "secret") || strings.Contains(k, "hash") {
				t.Errorf("clients list --json shows %q", k)
			}
		}
	}
	for _, args := range [][]string{{"clients", "list", "--json"}, {"clients", "list"}} {
		out, _, code := srv.CLI(t, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%v shows a secret", args)
			}
		}
	}
}

// testCLIRotateSecret: the printed secret works at once; the old one stops working
// (within a second through the change feed, TestChanges_ReachEveryInstanceWithinASecond
// holds that; here within the cache TTL, its backstop).
func testCLIRotateSecret(t *testing.T, srv *Server) {
	id, old := srv.CreateClient(t, "--grant-type", "client_credentials")
	body := form("grant_type", "client_credentials")
	// Use the client first, so that the server has it in memory.
	if r := srv.PostForm(t, nil, "/oauth/token", body, id, old); r.Status != 200 {
		t.Fatalf("before rotation: %d %s", r.Status, r.Body)
	} else {
		srv.Sensitive(r.JSON(t)["access_token"].(string))
	}
	out, errOut, code := srv.CLI(t, "", "clients", "rotate-secret", id, "--json")
	if code != 0 {
		t.Fatalf("rotate-secret: exit %d: %s", code, errOut)
	}
	m, keys := jsonKeys(t, out)
	if !slices.Equal(keys, []string{"client_id", "client_secret"}) || m["client_id"] != id {
		t.Fatalf("rotate-secret --json printed %s, want exactly client_id and client_secret", out)
	}
	newSecret, _ := m["client_secret"].(string)
	srv.Sensitive(newSecret)
	if newSecret == "" || newSecret == old {
		t.Fatalf("rotate-secret printed no new secret")
	}
	if r := srv.PostForm(t, nil, "/oauth/token", body, id, newSecret); r.Status != 200 {
		t.Errorf("the new secret right after rotation: %d %s", r.Status, r.Body)
	} else {
		srv.Sensitive(r.JSON(t)["access_token"].(string))
	}
	deadline := time.Now().Add(5*time.Second + 2*time.Second)
	for {
		r := srv.PostForm(t, nil, "/oauth/token", body, id, old)
		if r.Status == 401 && r.JSON(t)["error"] == "invalid_client" {
			break
		}
		if r.Status == 200 {
			srv.Sensitive(r.JSON(t)["access_token"].(string))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old secret still works 7 s after rotation: %d %s", r.Status, r.Body)
		}
		time.Sleep(250 * time.Millisecond)
	}

	out, errOut, code = srv.CLI(t, "", "clients", "rotate-secret", "nosuchclient00000000000000", "--json")
	wantUsage(t, "rotate-secret unknown", out, errOut, code)
	pub := srv.CreateClientJSON(t, "--public", "--grant-type", "urn:ietf:params:oauth:grant-type:device_code")
	out, errOut, code = srv.CLI(t, "", "clients", "rotate-secret", pub.ClientID)
	wantUsage(t, "rotate-secret of a public client", out, errOut, code)
}

// testCLIClientsDelete: a deleted client stops authenticating, also when the server
// had it in memory (within a second through the change feed,
// TestSecurity_S58_DeletedClientCannotAuthenticateAnywhere holds that; here within the
// cache TTL, its backstop).
func testCLIClientsDelete(t *testing.T, srv *Server) {
	id, secret := srv.CreateClient(t, "--grant-type", "client_credentials")
	body := form("grant_type", "client_credentials")
	if r := srv.PostForm(t, nil, "/oauth/token", body, id, secret); r.Status != 200 {
		t.Fatalf("before deletion: %d %s", r.Status, r.Body)
	} else {
		srv.Sensitive(r.JSON(t)["access_token"].(string))
	}
	if _, errOut, code := srv.CLI(t, "", "clients", "delete", id); code != 0 {
		t.Fatalf("clients delete: exit %d: %s", code, errOut)
	}
	deadline := time.Now().Add(7 * time.Second)
	for {
		r := srv.PostForm(t, nil, "/oauth/token", body, id, secret)
		if r.Status == 401 && r.JSON(t)["error"] == "invalid_client" {
			break
		}
		if r.Status == 200 {
			srv.Sensitive(r.JSON(t)["access_token"].(string))
		}
		if time.Now().After(deadline) {
			t.Fatalf("a deleted client still authenticates 7 s later: %d %s", r.Status, r.Body)
		}
		time.Sleep(250 * time.Millisecond)
	}
	out, errOut, code := srv.CLI(t, "", "clients", "delete", id)
	wantUsage(t, "clients delete twice", out, errOut, code)
}

type keyRow struct {
	KID    string `json:"kid"`
	Alg    string `json:"alg"`
	Status string `json:"status"`
}

// testCLIKeysRotate: the new key is published by the running server at its next key
// refresh and signs from then on; tokens signed before still verify (SECURITY S36).
func testCLIKeysRotate(t *testing.T, srv *Server) {
	id, secret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api")
	hc := srv.HTTPClient()
	before, err := ccConfig(srv, id, secret).Token(ctxWith(hc))
	if err != nil {
		t.Fatal(err)
	}
	srv.Sensitive(before.AccessToken)
	oldTok, _ := verifyAccessToken(t, srv, before.AccessToken)
	oldKid, _ := oldTok.Header["kid"].(string)
	if oldTok.Header["alg"] != "EdDSA" {
		t.Fatalf("GATEHOUSE_SIGNING_ALG=EdDSA but the token is %v", oldTok.Header["alg"])
	}

	var k keyRow
	if strings.HasPrefix(srv.DatabaseURL, "sqlite:") {
		srv.CLIJSON(t, &k, "", "keys", "rotate", "--alg", "EdDSA")
	} else {
		// A shared database publishes a rotated key for the activation delay (here
		// 1s + 60s + 5s) before it signs; --now signs at once, with a warning.
		out, errOut, code := srv.CLI(t, "", "keys", "rotate", "--alg", "EdDSA", "--now", "--json")
		if code != 0 || json.Unmarshal([]byte(out), &k) != nil {
			t.Fatalf("keys rotate --now --json: exit %d, %s %s", code, out, errOut)
		}
		if strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "warning") || !strings.Contains(errOut, "--now") {
			t.Errorf("keys rotate --now on a shared database: stderr %q, want one warning line", errOut)
		}
	}
	if k.KID == "" || k.Alg != "EdDSA" || k.KID == oldKid || k.Status != "active" {
		t.Fatalf("keys rotate --json: %+v", k)
	}

	// Published within a few key refreshes (1 s each here).
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, ok := fetchJWKS(t, srv)[k.KID]; ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rotated key %s never appeared in the JWKS", k.KID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	jwks := fetchJWKS(t, srv)
	if _, ok := jwks[oldKid]; !ok {
		t.Errorf("the retired key %s left the JWKS while its tokens live", oldKid)
	}
	hasRS256 := false
	for _, key := range jwks {
		hasRS256 = hasRS256 || key.Alg == "RS256"
	}
	if !hasRS256 {
		t.Errorf("the JWKS has no RS256 key for ID tokens")
	}
	// The token signed before the rotation still verifies against the JWKS...
	verifyAccessToken(t, srv, before.AccessToken)
	if m := introspect(t, srv, hc, id, secret, before.AccessToken); m["active"] != true {
		t.Errorf("a token signed by the retired key is inactive: %v", m)
	}
	// ...and new tokens are signed with the new key.
	after, err := ccConfig(srv, id, secret).Token(ctxWith(hc))
	if err != nil {
		t.Fatal(err)
	}
	srv.Sensitive(after.AccessToken)
	newTok, _ := verifyAccessToken(t, srv, after.AccessToken)
	if newTok.Header["kid"] != k.KID {
		t.Errorf("a token issued after the rotation was published is signed by %v, want %s", newTok.Header["kid"], k.KID)
	}

	var keys []keyRow
	srv.CLIJSON(t, &keys, "", "keys", "list")
	status := map[string]string{}
	for _, row := range keys {
		status[row.KID] = row.Status
	}
	if status[k.KID] != "active" || !strings.HasPrefix(status[oldKid], "retired") {
		t.Errorf("keys list: new %q, old %q", status[k.KID], status[oldKid])
	}

	out, errOut, code := srv.CLI(t, "", "keys", "rotate", "--alg", "HS256")
	wantUsage(t, "keys rotate --alg HS256", out, errOut, code, "HS256")
}

func testCLIMigrateStatus(t *testing.T, srv *Server) {
	var rows []struct {
		Name    string `json:"name"`
		Applied bool   `json:"applied"`
	}
	srv.CLIJSON(t, &rows, "", "migrate", "status")
	if len(rows) == 0 {
		t.Fatalf("migrate status --json: no migrations")
	}
	for _, r := range rows {
		if r.Name == "" || !r.Applied {
			t.Errorf("migration %+v not applied on a served database", r)
		}
	}
	// up on an up-to-date schema is a no-op.
	if _, errOut, code := srv.CLI(t, "", "migrate", "up"); code != 0 {
		t.Errorf("migrate up: exit %d: %s", code, errOut)
	}
	out, errOut, code := srv.CLI(t, "", "migrate", "sideways")
	wantUsage(t, "migrate sideways", out, errOut, code)
}

// cliEnv is an environment for the binary on a fresh SQLite database, no server.
func cliEnv(t *testing.T, extra map[string]string) []string {
	env := map[string]string{
		"GATEHOUSE_DATABASE_URL":      "sqlite:" + t.TempDir() + "/gatehouse.db",
		"GATEHOUSE_ARGON2_MEMORY":     "8192",
		"GATEHOUSE_ARGON2_ITERATIONS": "1",
	}
	for k, v := range extra {
		env[k] = v
	}
	return buildEnv(env)
}

// TestCLI_BadInput: flags, commands and configuration values that are wrong end with
// exit status 2 and one line on stderr naming what is wrong (SPEC "Command line",
// "Configuration").
func TestCLI_BadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		mention []string
	}{
		{"unknown command", nil, []string{"frobnicate"}, []string{"frobnicate"}},
		{"unknown subcommand", nil, []string{"users", "frobnicate"}, []string{"frobnicate"}},
		{"group without subcommand", nil, []string{"users"}, nil},
		{"unknown flag", nil, []string{"users", "list", "--frobnicate"}, []string{"frobnicate"}},
		{"flag without value", nil, []string{"clients", "create", "--name"}, []string{"name"}},
		{"stray argument", nil, []string{"version", "extra"}, nil},
		{"missing id", nil, []string{"clients", "rotate-secret"}, nil},
		{"bad alg", nil, []string{"keys", "rotate", "--alg", "none"}, nil},
		{"missing config file", nil, []string{"users", "list", "--config", "/nonexistent/gatehouse.yaml"}, []string{"--config"}},
		{"bad duration", map[string]string{"GATEHOUSE_ACCESS_TOKEN_TTL": "soon"}, []string{"users", "list"}, []string{"GATEHOUSE_ACCESS_TOKEN_TTL"}},
		{"bad duration on serve", map[string]string{"GATEHOUSE_ACCESS_TOKEN_TTL": "soon"}, []string{"serve"}, []string{"GATEHOUSE_ACCESS_TOKEN_TTL"}},
		{"duration out of range", map[string]string{"GATEHOUSE_AUTH_CODE_TTL": "1h"}, []string{"serve"}, []string{"GATEHOUSE_AUTH_CODE_TTL"}},
		{"short secret key", map[string]string{"GATEHOUSE_SECRET_KEY": "short"}, []string{"users", "list"}, []string{"GATEHOUSE_SECRET_KEY"}},
		{"short secret key on serve", map[string]string{"GATEHOUSE_SECRET_KEY": "short"}, []string{"serve"}, []string{"GATEHOUSE_SECRET_KEY"}},
		{"no secret key with PostgreSQL", map[string]string{"GATEHOUSE_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x"},
			[]string{"serve"}, []string{"GATEHOUSE_SECRET_KEY"}},
		{"bad database URL", map[string]string{"GATEHOUSE_DATABASE_URL": "ftp://example.com/db"}, []string{"serve"}, []string{"GATEHOUSE_DATABASE_URL"}},
		{"bad signing alg", map[string]string{"GATEHOUSE_SIGNING_ALG": "HS256"}, []string{"serve"}, []string{"GATEHOUSE_SIGNING_ALG"}},
		{"bad issuer", map[string]string{"GATEHOUSE_ISSUER": "not a url"}, []string{"serve"}, []string{"GATEHOUSE_ISSUER"}},
		{"bad boolean", map[string]string{"GATEHOUSE_AUTO_MIGRATE": "perhaps"}, []string{"serve"}, []string{"GATEHOUSE_AUTO_MIGRATE"}},
		{"bad log format", map[string]string{"GATEHOUSE_LOG_FORMAT": "xml"}, []string{"serve"}, []string{"GATEHOUSE_LOG_FORMAT"}},
		{"bad throttle store", map[string]string{"GATEHOUSE_THROTTLE_STORE": "redis"}, []string{"serve"}, []string{"GATEHOUSE_THROTTLE_STORE"}},
		{"bad address", map[string]string{"GATEHOUSE_HTTP_ADDR": "nonsense"}, []string{"serve"}, []string{"GATEHOUSE_HTTP_ADDR"}},
		{"address not ours", map[string]string{"GATEHOUSE_HTTP_ADDR": "192.0.2.1:8080"}, []string{"serve"}, []string{"GATEHOUSE_HTTP_ADDR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, errOut, code := runCLI(t, cliEnv(t, tc.env), "", tc.args...)
			wantUsage(t, strings.Join(tc.args, " "), out, errOut, code, tc.mention...)
		})
	}
}

// TestCLI_ServeAddressInUse: serve on an address another process holds exits 2 with
// one line naming GATEHOUSE_HTTP_ADDR, before touching the database.
func TestCLI_ServeAddressInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dbURL := "sqlite:" + t.TempDir() + "/gatehouse.db"
	out, errOut, code := runCLI(t, cliEnv(t, map[string]string{"GATEHOUSE_HTTP_ADDR": ln.Addr().String(), "GATEHOUSE_DATABASE_URL": dbURL}), "", "serve")
	wantUsage(t, "serve on a taken address", out, errOut, code, "GATEHOUSE_HTTP_ADDR")
}

// TestCLI_RuntimeFailure: a database that does not answer is a failure at run time:
// exit 1, one line.
func TestCLI_RuntimeFailure(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	env := cliEnv(t, map[string]string{
		"GATEHOUSE_DATABASE_URL": "postgres://postgres@" + addr + "/gatehouse?sslmode=disable&connect_timeout=2",
		"GATEHOUSE_SECRET_KEY":   randomString(40),
	})
	out, errOut, code := runCLI(t, env, "", "users", "list")
	wantOneLineExit(t, "users list without a database", 1, out, errOut, code)
}

// TestCLI_Version: `version` prints the version; --json as an object.
func TestCLI_Version(t *testing.T) {
	t.Parallel()
	out, errOut, code := runCLI(t, cliEnv(t, nil), "", "version")
	if code != 0 || !strings.HasPrefix(out, "gatehouse ") || errOut != "" {
		t.Errorf("version: exit %d stdout %q stderr %q", code, out, errOut)
	}
	out, _, code = runCLI(t, cliEnv(t, nil), "", "version", "--json")
	if m, keys := jsonKeys(t, out); code != 0 || !slices.Equal(keys, []string{"version"}) || m["version"] == "" {
		t.Errorf("version --json: exit %d %s", code, out)
	}
	// Help is not an error.
	if out, _, code := runCLI(t, cliEnv(t, nil), "", "--help"); code != 0 || !strings.Contains(out, "serve") {
		t.Errorf("--help: exit %d", code)
	}
}

// TestCLI_ServeStopsGracefully: on SIGTERM serve shuts down in order and exits 0 (the
// harness checks the exit status of every server it stops), and stops answering.
func TestCLI_ServeStopsGracefully(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	hc := srv.HTTPClient()
	if r := srv.Get(t, hc, "/healthz"); r.Status != 200 {
		t.Fatalf("healthz %d", r.Status)
	}
	srv.Stop(t)
	if !strings.Contains(srv.Log(), "stopped") {
		t.Errorf("no orderly shutdown in the log:\n%s", tail(srv.Log(), 5))
	}
	if _, err := hc.Get(srv.URL + "/healthz"); err == nil {
		t.Errorf("the server still answers after SIGTERM")
	}
}

// TestCLIKeyActivation: with an activation delay, `keys rotate` says when the new key
// starts signing and `keys list` shows it as next; the running server publishes it
// at once but keeps signing with the old key. A second rotation while it is pending
// is refused (exit 2), also when two race; --now replaces it at once. On every backend.
func TestCLIKeyActivation(t *testing.T) {
	t.Parallel()
	opts := Options{Env: map[string]string{
		"GATEHOUSE_KEY_REFRESH_INTERVAL": "1s",
		"GATEHOUSE_KEY_ACTIVATION_DELAY": "1h",
	}}
	forEachBackend(t, opts, func(t *testing.T, srv *Server) {
		shared := !strings.HasPrefix(srv.DatabaseURL, "sqlite:")
		id, secret := srv.CreateClient(t, "--grant-type", "client_credentials")
		hc := srv.HTTPClient()
		kid := func() string {
			t.Helper()
			tok, err := ccConfig(srv, id, secret).Token(ctxWith(hc))
			if err != nil {
				t.Fatal(err)
			}
			srv.Sensitive(tok.AccessToken)
			return rsKID(t, tok.AccessToken)
		}
		oldKID := kid()

		before := time.Now()
		var next keyListRow
		srv.CLIJSON(t, &next, "", "keys", "rotate")
		if next.State != "next" || next.Status != "next" || next.Alg != "ES256" ||
			next.ActivatesAt.Before(before.Add(time.Hour-time.Second)) || next.ActivatesAt.After(time.Now().Add(time.Hour)) {
			t.Fatalf("keys rotate --json with a 1h delay: %+v", next)
		}
		// Published by the running server within its refresh interval; not signing.
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if _, ok := fetchJWKS(t, srv)[next.KID]; ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the pending key %s never appeared in the JWKS", next.KID)
			}
		}
		if k := kid(); k != oldKID {
			t.Fatalf("the server signs with %s before the activation, want %s", k, oldKID)
		}

		var rows []keyListRow
		srv.CLIJSON(t, &rows, "", "keys", "list")
		byKID := map[string]keyListRow{}
		for _, r := range rows {
			byKID[r.KID] = r
		}
		if r := byKID[next.KID]; r.State != "next" || !r.ActivatesAt.Equal(next.ActivatesAt) {
			t.Errorf("keys list: the pending key is %+v", r)
		}
		if r := byKID[oldKID]; r.State != "active" || r.Status != "active" || r.RetiredAt == nil || !r.RetiredAt.Equal(next.ActivatesAt) {
			t.Errorf("keys list: the signing key is %+v, want active until the new one's activation", r)
		}
		text, errOut, code := srv.CLI(t, "", "keys", "list")
		if code != 0 || !strings.Contains(text, "ACTIVATES") || !regexp.MustCompile(next.KID+`\s+ES256\s+next\s`).MatchString(text) {
			t.Errorf("keys list (text): exit %d %s\n%s", code, errOut, text)
		}

		// A second delayed rotation is refused while one is pending.
		out, errOut, code := srv.CLI(t, "", "keys", "rotate", "--json")
		wantUsage(t, "keys rotate while a key is pending", out, errOut, code, next.KID, "pending", "--now")

		// Two racing rotations of another alg: one is stored, the other refused.
		rs := srv.CLIAll(t, CLICall{Args: []string{"keys", "rotate", "--alg", "RS256"}},
			CLICall{Args: []string{"keys", "rotate", "--alg", "RS256"}})
		won := 0
		for _, r := range rs {
			switch {
			case r.Exit == 0:
				won++
				if !strings.Contains(r.Stdout, "is published; it starts signing at ") {
					t.Errorf("keys rotate (text) with a delay printed %q", r.Stdout)
				}
			default:
				wantUsage(t, "the losing racing rotation", r.Stdout, r.Stderr, r.Exit, "pending")
			}
		}
		if won != 1 {
			t.Errorf("%d of two racing rotations succeeded, want 1: %+v", won, rs)
		}

		// --now replaces the pending key at once; it signs within a key refresh.
		text, errOut, code = srv.CLI(t, "", "keys", "rotate", "--now")
		if code != 0 || !strings.HasPrefix(text, "new ES256 signing key ") || !strings.HasSuffix(text, " is active\n") {
			t.Fatalf("keys rotate --now: exit %d, %q %q", code, text, errOut)
		}
		if shared != (errOut != "") || (shared && (!strings.Contains(errOut, "warning") || strings.Count(errOut, "\n") != 1)) {
			t.Errorf("keys rotate --now (shared database %v): stderr %q", shared, errOut)
		}
		freshKID := strings.Fields(text)[4]
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if kid() == freshKID {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server does not sign with the key of --now %s", freshKID)
			}
		}
		srv.CLIJSON(t, &rows, "", "keys", "list")
		for _, r := range rows {
			byKID[r.KID] = r
		}
		if byKID[freshKID].State != "active" || byKID[next.KID].State != "retired" || byKID[oldKID].State != "retired" {
			t.Errorf("after --now: fresh %q, replaced pending %q, old %q", byKID[freshKID].State, byKID[next.KID].State, byKID[oldKID].State)
		}
		jwks := fetchJWKS(t, srv)
		for _, k := range []string{oldKID, next.KID, freshKID} {
			if _, ok := jwks[k]; !ok {
				t.Errorf("key %s left the JWKS", k)
			}
		}
	})
}
