package e2e

import (
	"io"
	"net/http"
	"testing"
)

// TestHeadWhereGet: every resource served by GET answers HEAD too (RFC 9110 §9.1, as
// uptime monitors ask), pages, JSON endpoints and the admin API alike: GET's status
// and headers, no body. Where GET is not served, HEAD is a 405 naming what is.
func TestHeadWhereGet(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	hc := srv.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	do := func(method, path string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return res, body
	}
	for _, path := range []string{"/healthz", "/readyz", "/.well-known/openid-configuration",
		"/.well-known/oauth-authorization-server", "/.well-known/jwks.json", "/login", "/register", "/forgot-password",
		"/device", "/account", "/static/gatehouse.css", "/userinfo", "/nowhere"} {
		get, getBody := do(http.MethodGet, path)
		head, headBody := do(http.MethodHead, path)
		if head.StatusCode != get.StatusCode {
			t.Errorf("HEAD %s: %d, GET answers %d", path, head.StatusCode, get.StatusCode)
		}
		if len(headBody) != 0 {
			t.Errorf("HEAD %s: a body of %d bytes", path, len(headBody))
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "Location", "WWW-Authenticate", "Content-Security-Policy"} {
			if head.Header.Get(h) != get.Header.Get(h) {
				t.Errorf("HEAD %s: %s %q, GET's %q", path, h, head.Header.Get(h), get.Header.Get(h))
			}
		}
		if get.StatusCode == http.StatusOK && len(getBody) == 0 {
			t.Errorf("GET %s: no body", path)
		}
	}
	// The admin API too, with its token.
	token, _ := adminToken(t, srv)
	for _, path := range []string{"/admin/api/v1/users", "/admin/api/v1/keys", "/admin/api/v1/users/nobody"} {
		var answers [2]*http.Response
		var bodies [2][]byte
		for i, method := range []string{http.MethodGet, http.MethodHead} {
			req, err := http.NewRequest(method, srv.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			bodies[i], _ = io.ReadAll(res.Body)
			res.Body.Close()
			answers[i] = res
		}
		if answers[1].StatusCode != answers[0].StatusCode || len(bodies[1]) != 0 || len(bodies[0]) == 0 ||
			answers[1].Header.Get("Content-Type") != answers[0].Header.Get("Content-Type") {
			t.Errorf("HEAD %s: %d %q %d bytes; GET: %d %q", path, answers[1].StatusCode, answers[1].Header.Get("Content-Type"),
				len(bodies[1]), answers[0].StatusCode, answers[0].Header.Get("Content-Type"))
		}
	}
	res, body := do(http.MethodHead, "/oauth/token")
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "OPTIONS, POST" || len(body) != 0 {
		t.Errorf("HEAD /oauth/token: %d, Allow %q, %d bytes", res.StatusCode, res.Header.Get("Allow"), len(body))
	}
}
