package e2e

// SECURITY items that had no test of their own over HTTP (S4, S18's storage, S33's
// logout), and S45 for client credentials on every backend. See docs/SECURITY-TESTS.md for
// where every item is tested.

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSecurity_S4_RegistrationRefusesUnsafeRedirectURIs: `gatehouse clients create`
// (the only way to register a client) refuses fragments, relative URIs,
// javascript:/data: and other dangerous schemes, wildcards, white space, plain http
// except on loopback, and ports other than 1 to 65535 without leading zeros (none
// after a colon, 0, 00080, 99999: the message names the URI); nothing is stored.
// What it accepts, the authorization endpoint then accepts.
func TestSecurity_S4_RegistrationRefusesUnsafeRedirectURIs(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	bad := map[string]string{
		"fragment":              "https://app.example.com/cb#x",
		"empty fragment":        "https://app.example.com/cb#",
		"relative":              "/cb",
		"no scheme":             "app.example.com/cb",
		"javascript":            "javascript:alert(1)",
		"JavaScript":            "JavaScript:alert(1)",
		"data":                  "data:text/html,<script>alert(1)</script>",
		"vbscript":              "vbscript:msgbox(1)",
		"file":                  "file:///etc/passwd",
		"wildcard host":         "https://*.example.com/cb",
		"wildcard path":         "https://app.example.com/*",
		"plain http":            "http://app.example.com/cb",
		"http to a lookalike":   "http://127.0.0.1.evil.example/cb",
		"http to localhost.com": "http://localhost.evil.example/cb",
		"userinfo":              "https://user:pw@app.example.com/cb",
		"space":                 "https://app.example.com/c b",
		"tab":                   "https://app.example.com/c\tb",
		"no-break space":        "https://app.example.com/\u00a0cb",
		"line separator":        "https://app.example.com/cb\u2028",
		"backslash":             "https://app.example.com\\@evil.example/cb",
		"no host":               "https:///cb",
		"upper-case scheme":     "HTTPS://app.example.com/cb",
		"custom scheme, no dot": "myapp:/cb",
	}
	badPorts := map[string]string{
		"empty port":           "https://app.example.com:/cb",
		"port 0":               "https://app.example.com:0/cb",
		"port 00080":           "https://app.example.com:00080/cb",
		"port 99999":           "https://app.example.com:99999/cb",
		"loopback empty port":  "http://127.0.0.1:/cb",
		"loopback port 0":      "http://127.0.0.1:0/cb",
		"loopback port 00080":  "http://127.0.0.1:00080/cb",
		"loopback port 99999":  "http://127.0.0.1:99999/cb",
		"IPv6 loopback port 0": "http://[::1]:0/cb",
		"IPv6 loopback empty":  "http://[::1]:/cb",
		"localhost port 99999": "http://localhost:99999/cb",
		"custom scheme port 0": "com.example.app://host:0/cb",
		"IPv6 port 100000":     "http://[::1]:100000/cb",
		"port 65536":           "https://app.example.com:65536/cb",
	}
	for name, uri := range badPorts {
		bad[name] = uri
	}
	for name, uri := range bad {
		t.Run("refuses "+name, func(t *testing.T) {
			t.Parallel()
			client := uniqueName("s4")
			var mention []string
			if _, ok := badPorts[name]; ok {
				mention = []string{strconv.Quote(uri), "port must be 1 to 65535"}
			}
			out, errOut, code := srv.CLI(t, "", "clients", "create", "--name", client, "--redirect-uri", uri)
			wantUsage(t, uri, out, errOut, code, mention...)
			list, _, _ := srv.CLI(t, "", "clients", "list", "--json")
			if strings.Contains(list, client) {
				t.Errorf("a client with redirect URI %q was stored", uri)
			}
		})
	}
	good := []string{
		"https://app.example.com/cb", "https://app.example.com/cb?x=1", "http://127.0.0.1/cb",
		"http://[::1]:8080/cb", "http://localhost:5000/cb", "com.example.app:/oauth",
		"https://app.example.com:1/cb", "https://app.example.com:65535/cb", "http://127.0.0.1:8080/cb",
	}
	for _, uri := range good {
		t.Run("accepts "+uri, func(t *testing.T) {
			t.Parallel()
			c := newAZClient(t, srv, uri)
			b := newAZBrowser(t, srv)
			wantLoginRedirect(t, b.get("/oauth/authorize?"+azQuery(c, newAZPKCE(), "s4").Encode()))
		})
	}
}

// TestSecurity_S18_SecretsStoredOnlyAsHashes: after a code flow, a refresh, a
// password grant and a logout, the database files hold none of the secrets that went
// over the wire (client secret, password, code, refresh tokens, cookies), neither as
// text nor as the raw bytes they encode. Each carries at least 256 bits.
func TestSecurity_S18_SecretsStoredOnlyAsHashes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := startServer(t, Options{DatabaseURL: "sqlite:" + filepath.Join(dir, "gatehouse.db")})
	c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent", "--grant-type", "password",
		"--grant-type", "authorization_code", "--grant-type", "refresh_token")
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	p := newAZPKCE()
	f := b.authorize(azQuery(c, p, "s18", "scope", "openid offline_access"), user, pass, "allow")
	code := f.Query.Get("code")
	tok := c.exchange(t, srv, b.hc, code, c.RedirectURI, p.Verifier).JSON(t)
	rt1, _ := tok["refresh_token"].(string)
	r := srv.PostForm(t, b.hc, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}}.Encode(), c.ID, c.Secret)
	rt2, _ := r.JSON(t)["refresh_token"].(string)
	r = srv.PostForm(t, b.hc, "/oauth/token", form("grant_type", "password", "username", user, "password", pass), c.ID, c.Secret)
	rt3, _ := r.JSON(t)["refresh_token"].(string)
	srv.Sensitive(rt1, rt2, rt3)
	secrets := map[string]string{
		"client secret": c.Secret, "code": code, "refresh token": rt1, "rotated refresh token": rt2,
		"password-grant refresh token": rt3, "session cookie": b.cookie("gatehouse_session"),
		"browser cookie": b.cookie("gatehouse_browser"),
	}
	for name, s := range secrets {
		if n := randomBytes(t, s); n < 32 {
			t.Errorf("%s %q: %d random bytes, want at least 256 bits of base64url", name, s, n)
		}
	}
	secrets["password"] = pass
	srv.Stop(t) // everything on disk, the WAL checkpointed or not
	var db []byte
	files, _ := filepath.Glob(filepath.Join(dir, "gatehouse.db*"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		db = append(db, b...)
	}
	if len(db) == 0 {
		t.Fatal("no database file")
	}
	for name, s := range secrets {
		if s == "" {
			t.Errorf("no %s", name)
			continue
		}
		if bytes.Contains(db, []byte(s)) {
			t.Errorf("the %s is stored in clear", name)
		}
		if raw, err := base64.RawURLEncoding.DecodeString(s); err == nil && len(raw) >= 16 && bytes.Contains(db, raw) {
			t.Errorf("the %s is stored as its raw bytes", name)
		}
	}
}

// TestSecurity_S33_RefreshTokensDieWithPasswordAndSession: a password change revokes
// the user's refresh tokens (and their access tokens); logging out revokes the
// refresh tokens issued under that session, and only those.
func TestSecurity_S33_RefreshTokensDieWithPasswordAndSession(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newAZClient(t, srv, "https://app.example.com/cb", "--skip-consent", "--grant-type", "password",
		"--grant-type", "authorization_code", "--grant-type", "refresh_token")
	refreshes := func(hc *http.Client, rt string) bool {
		r := srv.PostForm(t, hc, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode(), c.ID, c.Secret)
		if r.Status == http.StatusOK {
			srv.Sensitive(r.JSON(t)["refresh_token"].(string), r.JSON(t)["access_token"].(string))
			return true
		}
		wantOAuthError(t, r, 400, "invalid_grant")
		return false
	}
	codeFlow := func(b *azBrowser, user, pass string) (at, rt string) {
		p := newAZPKCE()
		f := b.authorize(azQuery(c, p, "s33", "scope", "openid offline_access"), user, pass, "allow")
		tok := c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier).JSON(t)
		at, _ = tok["access_token"].(string)
		rt, _ = tok["refresh_token"].(string)
		srv.Sensitive(at, rt)
		return at, rt
	}

	t.Run("logout", func(t *testing.T) {
		user, pass := azUser(t, srv)
		leaving, staying := newAZBrowser(t, srv), newAZBrowser(t, srv)
		_, rtLeaving := codeFlow(leaving, user, pass)
		_, rtStaying := codeFlow(staying, user, pass)
		csrf, _ := leaving.openForm("/logout")
		if r := leaving.post("/logout", url.Values{"csrf_token": {csrf}}); r.Status != http.StatusSeeOther {
			t.Fatalf("logout: %d", r.Status)
		}
		if refreshes(leaving.hc, rtLeaving) {
			t.Error("a refresh token of the ended session still refreshes")
		}
		wantInactive(t, introspect(t, srv, leaving.hc, c.ID, c.Secret, rtLeaving))
		if !refreshes(staying.hc, rtStaying) {
			t.Error("logging out of one browser revoked the other session's refresh token")
		}
	})

	t.Run("password change", func(t *testing.T) {
		user, pass, id := newUser(t, srv)
		hc := srv.HTTPClient()
		r := srv.PostForm(t, hc, "/oauth/token", form("grant_type", "password", "username", user, "password", pass), c.ID, c.Secret)
		if r.Status != http.StatusOK {
			t.Fatalf("password grant: %d %s", r.Status, r.Body)
		}
		at, rt := r.JSON(t)["access_token"].(string), r.JSON(t)["refresh_token"].(string)
		srv.Sensitive(at, rt)
		b := newAZBrowser(t, srv)
		at2, rt2 := codeFlow(b, user, pass)
		other, otherPass := azUser(t, srv)
		_, rtOther := codeFlow(newAZBrowser(t, srv), other, otherPass)

		newPass := "new-" + randomString(16)
		srv.Sensitive(newPass)
		if _, errOut, code := srv.CLI(t, newPass+"\n", "users", "set-password", id, "--password-stdin"); code != 0 {
			t.Fatalf("set-password: exit %d %s", code, errOut)
		}
		for name, rt := range map[string]string{"password grant": rt, "code flow": rt2} {
			if refreshes(hc, rt) {
				t.Errorf("%s: the refresh token survived the password change", name)
			}
		}
		for _, tok := range []string{at, at2} {
			wantInactive(t, introspect(t, srv, hc, c.ID, c.Secret, tok))
		}
		if !refreshes(hc, rtOther) {
			t.Error("another user's refresh token died with this user's password change")
		}
	})
}

// TestSecurity_S45_OddCredentialsOnEveryBackend: client credentials holding a NUL
// byte or invalid UTF-8, in HTTP Basic or in the body, at every endpoint that
// authenticates clients, get a 4xx on SQLite, PostgreSQL and MariaDB alike (a NUL
// reaching PostgreSQL or MariaDB as a query parameter is an error there, once a 500).
func TestSecurity_S45_OddCredentialsOnEveryBackend(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		id, secret := srv.CreateClient(t, "--grant-type", "client_credentials")
		type cred struct{ id, secret string }
		odd := map[string]cred{
			"NUL in the id":          {"a\x00b", "x"},
			"NUL-only id":            {"\x00", "x"},
			"invalid UTF-8 id":       {"\xff\xfe", "x"},
			"overlong UTF-8 id":      {"\xc0\xaf", "x"},
			"NUL in the secret":      {id, secret + "\x00"},
			"invalid UTF-8 secret":   {id, "\xff" + secret},
			"encoded NUL, literally": {"%00", "x"},
		}
		for _, path := range []string{"/oauth/token", "/oauth/revoke", "/oauth/introspect", "/oauth/device_authorization"} {
			for name, cr := range odd {
				body := form("grant_type", "client_credentials", "token", "x")
				if r := srv.PostForm(t, nil, path, body, cr.id, cr.secret); r.Status != http.StatusUnauthorized {
					t.Errorf("%s, Basic, %s: status %d, want 401: %s", path, name, r.Status, r.Body)
				}
				raw := "grant_type=client_credentials&token=x&client_id=" + url.QueryEscape(cr.id) + "&client_secret=" + url.QueryEscape(cr.secret)
				if r := srv.PostForm(t, nil, path, raw, "", ""); r.Status >= 500 || r.Status < 400 {
					t.Errorf("%s, in the body, %s: status %d, want a 4xx: %s", path, name, r.Status, r.Body)
				}
			}
		}
		if r := srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials"), id, secret); r.Status != http.StatusOK {
			t.Errorf("the client itself: %d %s", r.Status, r.Body)
		} else {
			srv.Sensitive(r.JSON(t)["access_token"].(string))
		}
		if r := srv.Get(t, nil, "/healthz"); r.Status != http.StatusOK {
			t.Errorf("/healthz %d", r.Status)
		}
	})
}

// sortedTokenAlphabet is base64url's alphabet in ASCII order, in which refresh tokens
// and codes are written: the time they were made (6 bytes), then 32 random bytes.
var sortedTokenAlphabet = base64.NewEncoding("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz").WithPadding(base64.NoPadding)

// randomBytes is how many random bytes a secret carries (SECURITY S18): a token of
// 51 characters leads with the time it was made, in milliseconds, which must be
// within a minute of now; every other secret is random base64url throughout.
func randomBytes(t *testing.T, s string) int {
	t.Helper()
	if len(s) != 51 {
		raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil {
			return 0
		}
		return len(raw)
	}
	raw, err := sortedTokenAlphabet.Strict().DecodeString(s)
	if err != nil || len(raw) != 38 {
		return 0
	}
	var ms int64
	for _, b := range raw[:6] {
		ms = ms<<8 | int64(b)
	}
	if d := time.Since(time.UnixMilli(ms)); d < -time.Minute || d > time.Minute {
		t.Errorf("token %q says it was made %s ago", s, d)
	}
	return len(raw) - 6
}
