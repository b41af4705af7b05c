package adminapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestAuthorize_TwoAuthorizationHeaders: SECURITY S21, the admin API's Bearer check
// refuses two Authorization headers (400, RFC 6750 §3.1 invalid_request) before it
// looks at either token.
func TestAuthorize_TwoAuthorizationHeaders(t *testing.T) {
	a := &API{cfg: Config{Issuer: "https://issuer.example"}}
	h := a.authorize(func(c echo.Context) error {
		t.Error("the handler ran")
		return c.NoContent(http.StatusNoContent)
	})
	for _, authz := range [][]string{{"Bearer a", "Bearer b"}, {"Bearer a", "Bearer a"}, {"Bearer a", ""}} {
		req := httptest.NewRequest(http.MethodGet, "/admin/api/clients", nil)
		for _, v := range authz {
			req.Header.Add("Authorization", v)
		}
		rec := httptest.NewRecorder()
		if err := h(echo.New().NewContext(req, rec)); err != nil {
			t.Fatal(err)
		}
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%q: status %d, want 400", authz, rec.Code)
		}
		if ch := rec.Header().Get("WWW-Authenticate"); !strings.Contains(ch, `error="invalid_request"`) {
			t.Errorf("%q: WWW-Authenticate %q", authz, ch)
		}
		var p problemDoc
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != http.StatusBadRequest ||
			!strings.Contains(p.Detail, "more than one Authorization header") {
			t.Errorf("%q: body %s (%v)", authz, rec.Body, err)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%q: Content-Type %q", authz, ct)
		}
	}
}
