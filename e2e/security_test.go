package e2e

// SECURITY S45 for client credentials on every backend. See docs/SECURITY-TESTS.md for
// where every item is tested.

import (
	"net/http"
	"net/url"
	"testing"
)

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
