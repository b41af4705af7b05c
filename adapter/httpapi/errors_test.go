package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// TestClassify: every kind of error on every surface → status, code, headers and
// form. This table is the one map from errors to HTTP; the end-to-end tests check the
// same answers over the wire.
func TestClassify(t *testing.T) {
	const J, B, P = SurfaceJSON, SurfaceBearer, SurfacePage
	denied := domain.ErrAccessDenied.WithDescription("the user denied the request")
	authz := &domain.AuthorizationError{Err: denied, RedirectURI: "https://app.test/cb", State: "s"}
	clientAuth := usecase.ClientAuthFailed("c1", usecase.ClientAuthWrongSecret)
	for _, tc := range []struct {
		name      string
		err       error
		s         Surface
		status    int
		code      string
		retry     int
		challenge Challenge
		form      Form
	}{
		{"throttled", &domain.ThrottledError{RetryAfter: 3 * time.Second}, J, 429, "invalid_request", 3, ChallengeNone, FormJSON},
		{"throttled under a second", &domain.ThrottledError{RetryAfter: 300 * time.Millisecond}, J, 429, "invalid_request", 1, ChallengeNone, FormJSON},
		{"throttled, bearer", &domain.ThrottledError{RetryAfter: 2 * time.Second}, B, 429, "invalid_request", 2, ChallengeNone, FormJSON},
		{"throttled, page", &domain.ThrottledError{RetryAfter: 2 * time.Second}, P, 429, "invalid_request", 2, ChallengeNone, FormPage},
		{"invalid_client", domain.ErrInvalidClient, J, 401, "invalid_client", 0, ChallengeBasic, FormJSON},
		{"client authentication failed", clientAuth, J, 401, "invalid_client", 0, ChallengeBasic, FormJSON},
		{"invalid_client, page", domain.ErrInvalidClient.WithDescription("not registered"), P, 400, "invalid_client", 0, ChallengeNone, FormPage},
		{"invalid_token (registration)", domain.ErrInvalidToken, J, 401, "invalid_token", 0, ChallengeBearer, FormJSON},
		{"invalid_token, bearer", domain.ErrInvalidToken, B, 401, "invalid_token", 0, ChallengeResource, FormJSON},
		{"no token, bearer", errNoToken, B, 401, "invalid_token", 0, ChallengeNoToken, FormJSON},
		{"insufficient_scope", domain.ErrInsufficientScope, J, 403, "insufficient_scope", 0, ChallengeNone, FormJSON},
		{"insufficient_scope, bearer", domain.ErrInsufficientScope, B, 403, "insufficient_scope", 0, ChallengeResource, FormJSON},
		{"invalid_dpop_proof", domain.ErrInvalidDPoPProof, J, 400, "invalid_dpop_proof", 0, ChallengeNone, FormJSON},
		{"invalid_dpop_proof, bearer", domain.ErrInvalidDPoPProof, B, 401, "invalid_dpop_proof", 0, ChallengeResource, FormJSON},
		{"invalid_request, bearer", domain.ErrInvalidRequest, B, 400, "invalid_request", 0, ChallengeResource, FormJSON},
		{"access_denied (device polling)", domain.ErrAccessDenied, J, 400, "access_denied", 0, ChallengeNone, FormJSON},
		{"access_denied, page", domain.ErrAccessDenied, P, 403, "access_denied", 0, ChallengeNone, FormPage},
		{"invalid_grant", domain.ErrInvalidGrant, J, 400, "invalid_grant", 0, ChallengeNone, FormJSON},
		{"invalid_grant, login form", domain.ErrInvalidGrant, P, 401, "invalid_grant", 0, ChallengeNone, FormPage},
		{"other OAuth error", domain.ErrInvalidScope, J, 400, "invalid_scope", 0, ChallengeNone, FormJSON},
		{"other OAuth error, page", domain.ErrInvalidRequest, P, 400, "invalid_request", 0, ChallengeNone, FormPage},
		{"server_error", domain.ErrServerError, J, 500, "server_error", 0, ChallengeNone, FormJSON},
		{"temporarily_unavailable", domain.ErrTemporarilyUnavailable, J, 503, "temporarily_unavailable", 0, ChallengeNone, FormJSON},
		{"storage unavailable", fmt.Errorf("look up client: %w", domain.ErrUnavailable), J, 503, "temporarily_unavailable", 5, ChallengeNone, FormJSON},
		{"storage unavailable, page", fmt.Errorf("x: %w", domain.ErrUnavailable), P, 503, "temporarily_unavailable", 5, ChallengeNone, FormPage},
		{"no route", echo.ErrNotFound, J, 404, "not_found", 0, ChallengeNone, FormJSON},
		{"no route, page", echo.ErrNotFound, P, 404, "not_found", 0, ChallengeNone, FormPage},
		{"wrong method", echo.ErrMethodNotAllowed, J, 405, "invalid_request", 0, ChallengeNone, FormJSON},
		{"body too large", errTooLarge, J, 413, "invalid_request", 0, ChallengeNone, FormJSON},
		{"headers too large", echo.NewHTTPError(431), J, 431, "invalid_request", 0, ChallengeNone, FormJSON},
		{"echo 5xx", echo.NewHTTPError(502, "upstream said something"), J, 500, "server_error", 0, ChallengeNone, FormJSON},
		{"internal", fmt.Errorf("select client: %w", errors.New("pq: relation does not exist")), J, 500, "server_error", 0, ChallengeNone, FormJSON},
		{"internal, bearer", errors.New("boom"), B, 500, "server_error", 0, ChallengeNone, FormJSON},
		{"internal, page", errors.New("boom"), P, 500, "server_error", 0, ChallengeNone, FormPage},
		{"authorization error, page", authz, P, 302, "access_denied", 0, ChallengeNone, FormRedirect},
		{"authorization error elsewhere", authz, J, 400, "access_denied", 0, ChallengeNone, FormJSON},
		{"CSRF", errCSRF, P, 403, "invalid_request", 0, ChallengeNone, FormPage},
		{"sign-up off", errRegistrationOff, P, 404, "not_found", 0, ChallengeNone, FormPage},
		{"user disabled", domain.ErrUserDisabled, P, 403, "access_denied", 0, ChallengeNone, FormPage},
		{"validation", &usecase.ValidationError{Field: "username", Message: "that username is already taken"}, P, 400, "invalid_request", 0, ChallengeNone, FormPage},
		{"unknown user code", domain.ErrUserCodeUnknown, P, 400, "invalid_request", 0, ChallengeNone, FormPage},
	} {
		a := Classify(tc.err, tc.s)
		if a.Status != tc.status || a.Code != tc.code || a.RetryAfter != tc.retry || a.Challenge != tc.challenge || a.Form != tc.form {
			t.Errorf("%s: %+v\nwant status %d, code %s, Retry-After %d, challenge %d, form %d",
				tc.name, a, tc.status, tc.code, tc.retry, tc.challenge, tc.form)
		}
		if a.Internal != (tc.code == "server_error" && !errors.Is(tc.err, domain.ErrServerError)) {
			t.Errorf("%s: internal %v", tc.name, a.Internal)
		}
		if a.Status >= 500 && a.Status != 503 && a.Description != "" {
			t.Errorf("%s: a server error with a description %q", tc.name, a.Description)
		}
		if (a.Form == FormRedirect) != (a.Redirect != nil) {
			t.Errorf("%s: form %d with redirect %v", tc.name, a.Form, a.Redirect)
		}
	}
	if a := Classify(authz, P); *a.Redirect != authz.Response() {
		t.Errorf("authorization error redirects to %+v, want %+v", *a.Redirect, authz.Response())
	}
	if a := Classify(errors.New("pq: password authentication failed for user"), J); a.Description != "" {
		t.Errorf("an internal error's text reached the description: %q", a.Description)
	}
}

// TestErrorAnswers: what the error handler writes for each surface, through a real
// Echo and the real error page: headers (WWW-Authenticate, Retry-After, caching,
// the page headers), body form, and the redirect to the client.
func TestErrorAnswers(t *testing.T) {
	const issuer = "https://auth.test"
	log := slog.New(slog.DiscardHandler)
	pages, err := NewPages(PageConfig{Issuer: issuer, CSRFKey: []byte(strings.Repeat("k", 32)), Languages: testLanguages(t)}, nil, nil, nil, nil, nil, nil, log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	r := NewRouter(e, Responder{Log: log, Pages: pages, Issuer: issuer, DPoPAlgs: []string{"ES256", "EdDSA"}})
	fails := func(err error) echo.HandlerFunc { return func(echo.Context) error { return err } }
	dpop := func(err error) echo.HandlerFunc {
		return func(c echo.Context) error { c.Set(ctxDPoPScheme, true); return err }
	}
	api, resource, page := r.Group(SurfaceJSON), r.Group(SurfaceBearer), r.Group(SurfacePage, pages.pageHeaders)
	api.POST("/token", fails(domain.ErrInvalidClient))
	api.POST("/throttled", fails(&domain.ThrottledError{RetryAfter: 4 * time.Second}))
	api.POST("/register", fails(domain.ErrInvalidToken.WithDescription("the access token is missing")))
	api.POST("/down", fails(fmt.Errorf("ping: %w", domain.ErrUnavailable)))
	resource.GET("/userinfo", fails(errNoToken))
	resource.GET("/userinfo-bad", fails(domain.ErrInvalidToken.WithDescription(`a "bad" token`)))
	resource.GET("/userinfo-dpop", dpop(domain.ErrInvalidToken.WithDescription("expired")))
	resource.GET("/userinfo-proof", fails(domain.ErrInvalidDPoPProof.WithDescription("htm does not match")))
	page.GET("/authorize", fails(&domain.AuthorizationError{Err: domain.ErrInvalidScope.WithDescription("scope \"x\""),
		RedirectURI: "https://app.test/cb?k=v", State: "s 1"}))
	page.POST("/consent", fails(&domain.AuthorizationError{Err: domain.ErrAccessDenied, RedirectURI: "https://app.test/cb"}))
	page.GET("/login", fails(domain.ErrAccessDenied.WithDescription("this sign-in request was started in another browser")))
	page.GET("/broken", fails(errors.New("secret internal detail")))

	for _, tc := range []struct {
		method, path string
		status       int
		header       map[string]string // "" means absent
		body         []string          // substrings
	}{
		{"POST", "/token", 401, map[string]string{"WWW-Authenticate": `Basic realm="gatehouse", charset="UTF-8"`,
			"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json"}, []string{`"error":"invalid_client"`}},
		{"POST", "/throttled", 429, map[string]string{"Retry-After": "4", "WWW-Authenticate": ""},
			[]string{`"error_description":"too many failed attempts; retry after 4 seconds"`}},
		// No Authorization header: a challenge without an error code (RFC 6750 §3.1);
		// e2e's testDCRInitialToken sees the one with error= for a wrong token.
		{"POST", "/register", 401, map[string]string{"WWW-Authenticate": `Bearer realm="gatehouse"`}, []string{`"invalid_token"`}},
		{"POST", "/down", 503, map[string]string{"Retry-After": "5"}, []string{`"temporarily_unavailable"`}},
		{"GET", "/userinfo", 401, map[string]string{"WWW-Authenticate": `Bearer realm="https://auth.test"`}, []string{`"missing access token"`}},
		{"GET", "/userinfo-bad", 401, map[string]string{"WWW-Authenticate": `Bearer realm="https://auth.test", error="invalid_token", error_description="a 'bad' token"`}, nil},
		{"GET", "/userinfo-dpop", 401, map[string]string{"WWW-Authenticate": `DPoP realm="https://auth.test", error="invalid_token", error_description="expired", algs="ES256 EdDSA"`}, nil},
		{"GET", "/userinfo-proof", 401, map[string]string{"WWW-Authenticate": `DPoP realm="https://auth.test", error="invalid_dpop_proof", error_description="htm does not match", algs="ES256 EdDSA"`}, nil},
		{"PUT", "/userinfo", 405, map[string]string{"WWW-Authenticate": "", "Content-Type": "application/json"}, []string{`"method not allowed"`}},
		{"GET", "/authorize", 302, map[string]string{"Location": "https://app.test/cb?k=v&error=invalid_scope&error_description=scope+%27x%27&iss=https%3A%2F%2Fauth.test&state=s+1",
			"X-Frame-Options": "DENY"}, nil},
		{"POST", "/consent", 303, map[string]string{"Location": "https://app.test/cb?error=access_denied&iss=https%3A%2F%2Fauth.test"}, nil},
		{"GET", "/login", 403, map[string]string{"Content-Type": "text/html; charset=UTF-8", "X-Frame-Options": "DENY", "Cache-Control": "no-store"},
			[]string{"This sign-in request was started in another browser.", "<code>access_denied</code> &middot; HTTP 403"}},
		{"PUT", "/login", 405, map[string]string{"Content-Type": "text/html; charset=UTF-8", "X-Frame-Options": "DENY"}, []string{"HTTP 405"}},
		{"GET", "/login/typo", 404, map[string]string{"Content-Type": "text/html; charset=UTF-8", "X-Frame-Options": "DENY"}, []string{"HTTP 404"}},
		{"GET", "/broken", 500, map[string]string{"Content-Type": "text/html; charset=UTF-8"}, []string{"An unexpected error happened on our side."}},
		{"GET", "/nowhere", 404, map[string]string{"Content-Type": "application/json"}, []string{`"not_found"`}},
	} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("%s %s: status %d, want %d\n%s", tc.method, tc.path, rec.Code, tc.status, rec.Body)
		}
		for k, want := range tc.header {
			if got := rec.Header().Get(k); got != want {
				t.Errorf("%s %s: %s %q, want %q", tc.method, tc.path, k, got, want)
			}
		}
		for _, want := range tc.body {
			if !strings.Contains(rec.Body.String(), want) {
				t.Errorf("%s %s: body lacks %q:\n%s", tc.method, tc.path, want, rec.Body)
			}
		}
		if strings.Contains(rec.Body.String(), "secret internal detail") {
			t.Errorf("%s %s: an internal error reached the client", tc.method, tc.path)
		}
	}
	// Without credentials: the DPoP scheme is offered too (RFC 9449 §7.1).
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/userinfo", nil))
	if got := rec.Header().Values("WWW-Authenticate"); len(got) != 2 || got[1] != `DPoP algs="ES256 EdDSA"` {
		t.Errorf("challenges without a token: %q", got)
	}
}
