package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// authzContext is an echo context of a request with the Authorization headers given,
// each its own header line.
func authzContext(method, body string, authz ...string) echo.Context {
	req := httptest.NewRequest(method, "/", strings.NewReader(body))
	if body != "" {
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
	}
	for _, a := range authz {
		req.Header.Add(echo.HeaderAuthorization, a)
	}
	return echo.New().NewContext(req, httptest.NewRecorder())
}

// isTwoHeaders reports whether err is invalid_request for two Authorization headers.
func isTwoHeaders(err error) bool {
	var de *domain.Error
	return errors.As(err, &de) && de.Code == domain.ErrInvalidRequest.Code &&
		strings.Contains(de.Description, "more than one Authorization header")
}

// TestCredentials_TwoAuthorizationHeaders: SECURITY S21, client authentication is
// unambiguous: two Authorization headers authenticate no one, whatever they hold,
// while one still does.
func TestCredentials_TwoAuthorizationHeaders(t *testing.T) {
	a, b := basicHeader("Basic", "client-a", "secret-a"), basicHeader("Basic", "client-b", "secret-b")
	for _, tc := range []struct {
		name  string
		body  string
		authz []string
	}{
		{"two clients", "grant_type=client_credentials", []string{a, b}},
		{"the same client twice", "grant_type=client_credentials", []string{a, a}},
		{"Basic and an empty header", "grant_type=client_credentials", []string{a, ""}},
		{"an empty header and Basic", "grant_type=client_credentials", []string{"", a}},
		{"two empty headers", "grant_type=client_credentials&client_id=client-a", []string{"", ""}},
		{"two headers and client_id in the body", "grant_type=client_credentials&client_id=client-a", []string{a, b}},
		{"two headers and a client assertion", "grant_type=client_credentials&client_assertion_type=" +
			strings.ReplaceAll(usecase.ClientAssertionType, ":", "%3A") + "&client_assertion=x.y.z", []string{a, b}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseFormBody(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			cr, err := credentials(authzContext(http.MethodPost, tc.body, tc.authz...), f)
			if !isTwoHeaders(err) {
				t.Fatalf("credentials = %+v, %v; want invalid_request for two Authorization headers", cr, err)
			}
			if cr.ClientID != "" || cr.Secret != "" {
				t.Errorf("credentials kept %q, %q", cr.ClientID, cr.Secret)
			}
		})
	}
	t.Run("one header", func(t *testing.T) {
		f, _ := parseFormBody("grant_type=client_credentials")
		cr, err := credentials(authzContext(http.MethodPost, "grant_type=client_credentials", a), f)
		if err != nil || cr.ClientID != "client-a" || cr.Secret != "secret-a" || cr.Method != usecase.AuthMethodBasic {
			t.Fatalf("credentials = %+v, %v", cr, err)
		}
	})
}

// TestAccessToken_TwoAuthorizationHeaders: a protected resource (userinfo) refuses
// two Authorization headers as a malformed request, Bearer or DPoP.
func TestAccessToken_TwoAuthorizationHeaders(t *testing.T) {
	for _, authz := range [][]string{
		{"Bearer token-a", "Bearer token-b"},
		{"Bearer token-a", "Bearer token-a"},
		{"DPoP token-a", "Bearer token-b"},
		{"Bearer token-a", ""},
	} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			tok, _, err := accessToken(authzContext(method, "", authz...))
			if !isTwoHeaders(err) || tok != "" {
				t.Errorf("%s %q: accessToken = %q, %v; want invalid_request", method, authz, tok, err)
			}
		}
	}
	tok, dpop, err := accessToken(authzContext(http.MethodGet, "", "Bearer token-a"))
	if err != nil || tok != "token-a" || dpop {
		t.Errorf("one header: accessToken = %q, %v, %v", tok, dpop, err)
	}
}

// TestRegistrationCaller_TwoAuthorizationHeaders: the registration access token
// (RFC 7592) is read from one Authorization header, never from the first of two.
func TestRegistrationCaller_TwoAuthorizationHeaders(t *testing.T) {
	h := &RegistrationHandler{}
	if got, err := h.caller(authzContext(http.MethodGet, "", "Bearer token-a", "Bearer token-b")); !isTwoHeaders(err) || got.Token != "" {
		t.Errorf("two headers: caller = %+v, %v", got, err)
	}
	if got, err := h.caller(authzContext(http.MethodGet, "", "Bearer token-a")); err != nil || got.Token != "token-a" {
		t.Errorf("one header: caller = %+v, %v", got, err)
	}
	if got, err := h.caller(authzContext(http.MethodGet, "")); err != nil || got.Token != "" {
		t.Errorf("no header: caller = %+v, %v", got, err)
	}
}
