package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestRouteMethodNotAllowed: over HTTP, through a real Echo with the real page routes,
// a method a page route does not serve answers the page's 405 with an Allow header,
// however deep the route (GET /account/profile under /account, not only PUT /login),
// while a path no route has keeps its 404: the page's under a page (/account/nope),
// JSON elsewhere.
func TestRouteMethodNotAllowed(t *testing.T) {
	const issuer = "https://auth.test"
	log := slog.New(slog.DiscardHandler)
	pages, err := NewPages(PageConfig{Issuer: issuer, CSRFKey: []byte(strings.Repeat("k", 32)), Languages: testLanguages(t)}, nil, nil, nil, nil, nil, nil, log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	pages.Mount(NewRouter(e, Responder{Log: log, Pages: pages, Issuer: issuer}))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	const html, json = "text/html; charset=UTF-8", "application/json"
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string // "" means absent
		contentType  string // "" means absent (HEAD, OPTIONS)
		body         string // a substring; "" means an empty body
	}{
		// POST-only pages under another page.
		{"GET", "/account/profile", 405, "OPTIONS, POST", html, "HTTP 405"},
		{"GET", "/account/password", 405, "OPTIONS, POST", html, "HTTP 405"},
		{"GET", "/account/sessions/end", 405, "OPTIONS, POST", html, "HTTP 405"},
		{"GET", "/account/apps/revoke", 405, "OPTIONS, POST", html, "HTTP 405"},
		{"GET", "/account/totp/confirm", 405, "OPTIONS, POST", html, "HTTP 405"},
		{"GET", "/verify-email/resend", 405, "OPTIONS, POST", html, "HTTP 405"},
		{"GET", "/login/switch", 405, "OPTIONS, POST", html, "HTTP 405"},
		{"DELETE", "/account/profile", 405, "OPTIONS, POST", html, "HTTP 405"},
		{"PUT", "/login/mfa", 405, "OPTIONS, GET, HEAD, POST", html, "HTTP 405"},
		{"POST", "/login/upstream/github", 405, "OPTIONS, GET, HEAD", html, "HTTP 405"},
		// Top-level pages answered so before.
		{"PUT", "/login", 405, "OPTIONS, GET, HEAD, POST", html, "HTTP 405"},
		{"PUT", "/account", 405, "OPTIONS, GET, HEAD", html, "HTTP 405"},
		{"PUT", "/oauth/authorize", 405, "OPTIONS, GET, HEAD, POST", html, "HTTP 405"},
		// HEAD where no GET is served: a 405 like the other methods, with its headers and
		// without a body (where GET is, e2e's TestHeadWhereGet answers it).
		{"HEAD", "/login/switch", 405, "OPTIONS, POST", html, ""},
		{"OPTIONS", "/account/profile", 204, "OPTIONS, POST", "", ""},
		// No such path: the page's 404 under a page, JSON elsewhere.
		{"GET", "/account/nope", 404, "", html, "HTTP 404"},
		{"POST", "/account/nope", 404, "", html, "HTTP 404"},
		{"GET", "/account/profile/x", 404, "", html, "HTTP 404"},
		{"GET", "/login/upstream/github/x", 404, "", html, "HTTP 404"},
		{"GET", "/verify-email/x", 404, "", html, "HTTP 404"},
		{"HEAD", "/account/nope", 404, "", html, ""},
		{"GET", "/nowhere", 404, "", json, `"error":"not_found"`},
		{"GET", "/oauth/nope", 404, "", json, `"error":"not_found"`},
	} {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: reading the body: %v", tc.method, tc.path, err)
		}
		if res.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, res.StatusCode, tc.status)
		}
		if got := res.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
		if got := res.Header.Get("Content-Type"); got != tc.contentType {
			t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.path, got, tc.contentType)
		}
		if tc.body == "" && len(body) > 0 {
			t.Errorf("%s %s: a body, want none:\n%.300s", tc.method, tc.path, body)
		} else if !strings.Contains(string(body), tc.body) {
			t.Errorf("%s %s: body lacks %q:\n%.300s", tc.method, tc.path, tc.body, body)
		}
	}
}
