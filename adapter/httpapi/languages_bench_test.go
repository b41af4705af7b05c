package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func BenchmarkRenderErrorPage(b *testing.B) {
	pages, err := NewPages(PageConfig{Issuer: "https://auth.test", CSRFKey: []byte(strings.Repeat("k", 32)), Languages: testLanguages(b)},
		nil, nil, nil, nil, nil, nil, slog.New(slog.DiscardHandler), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	e := echo.New()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/nowhere", nil)
		req.Header.Set("Accept-Language", "de")
		rec := httptest.NewRecorder()
		pages.RenderError(e.NewContext(req, rec), http.StatusNotFound, "not_found", "")
	}
}
