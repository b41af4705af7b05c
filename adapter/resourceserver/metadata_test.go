package resourceserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestMetadataURL(t *testing.T) {
	for resource, want := range map[string]string{
		"https://api.example.com":         "https://api.example.com/.well-known/oauth-protected-resource",
		"https://api.example.com/":        "https://api.example.com/.well-known/oauth-protected-resource",
		"http://127.0.0.1:9091/mcp":       "http://127.0.0.1:9091/.well-known/oauth-protected-resource/mcp",
		"https://example.com/tenant/mcp/": "https://example.com/.well-known/oauth-protected-resource/tenant/mcp",
	} {
		got, err := MetadataURL(resource)
		if err != nil || got != want {
			t.Errorf("MetadataURL(%q) = %q, %v; want %q", resource, got, err, want)
		}
	}
	for _, bad := range []string{"", "mcp", "ftp://x/y", "https://x/y?q=1", "https://x/y#f", "https://u:p@x/y", "https:///y"} {
		if _, err := MetadataURL(bad); err == nil {
			t.Errorf("MetadataURL(%q) accepted", bad)
		}
	}
}

func TestNew_BadResource(t *testing.T) {
	k := newKey(t, AlgES256, "k")
	is := newIssuer(t, k)
	_, err := New(t.Context(), Config{Issuer: is.url(), Audience: testAudience, Resource: "not a url"})
	if err == nil || !strings.Contains(err.Error(), "Resource") {
		t.Fatalf("err = %v", err)
	}
}

// TestProtectedResourceMetadata: RFC 9728 metadata served at the path-suffixed
// well-known URL, for net/http and Echo, and named in every 401 and 403.
func TestProtectedResourceMetadata(t *testing.T) {
	k := newKey(t, AlgES256, "k")
	is := newIssuer(t, k)
	const resource = "http://127.0.0.1:9091/mcp"
	const metaURL = "http://127.0.0.1:9091/.well-known/oauth-protected-resource/mcp"
	v := newVerifier(t, is, func(c *Config) {
		c.Audience = resource
		c.Resource = resource
		c.ScopesSupported = []string{"openid", "mcp:tools"}
		c.Realm = "mcp"
	})
	if v.MetadataURL() != metaURL || v.MetadataPath() != "/.well-known/oauth-protected-resource/mcp" {
		t.Fatalf("MetadataURL %q, MetadataPath %q", v.MetadataURL(), v.MetadataPath())
	}

	// plain net/http
	mux := http.NewServeMux()
	mux.Handle(v.MetadataPath(), v.MetadataHandler())
	mux.Handle("/mcp", v.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl, ok := ClaimsFromContext(r.Context())
		if !ok {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		w.Write([]byte(cl.Subject))
	})))
	mux.Handle("/admin", v.Handler(RequireScopeHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("admin"))
	}), "admin")))
	// Echo
	e := echo.New()
	e.GET(v.MetadataPath(), echo.WrapHandler(v.MetadataHandler()))
	e.GET("/mcp", func(c echo.Context) error {
		cl, _ := FromContext(c)
		if cl2, ok := ClaimsFromContext(c.Request().Context()); !ok || cl2 != cl {
			return c.String(http.StatusInternalServerError, "claims not on the request context")
		}
		return c.String(http.StatusOK, cl.Subject)
	}, v.Middleware())
	e.GET("/admin", func(c echo.Context) error { return c.String(http.StatusOK, "admin") }, v.Middleware(), RequireScope("admin"))

	do := func(h http.Handler, method, path, authz string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	cl := is.claims()
	cl["aud"] = []any{"https://other.example", resource}
	token := mint(t, k, nil, cl)
	wrong := is.claims()
	wrong["aud"] = "https://other.example"
	wrongToken := mint(t, k, nil, wrong)

	for name, h := range map[string]http.Handler{"net/http": mux, "echo": e} {
		t.Run(name, func(t *testing.T) {
			rec := do(h, http.MethodGet, v.MetadataPath(), "")
			if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Fatalf("metadata: %d %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			var m map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if m["resource"] != resource || !equalJSON(m["authorization_servers"], []any{is.url()}) ||
				!equalJSON(m["scopes_supported"], []any{"openid", "mcp:tools"}) || !equalJSON(m["bearer_methods_supported"], []any{"header"}) {
				t.Fatalf("metadata = %v", m)
			}
			if rec := do(h, http.MethodPost, v.MetadataPath(), ""); rec.Code != http.StatusMethodNotAllowed {
				t.Fatalf("POST metadata: %d", rec.Code)
			}

			rec = do(h, http.MethodGet, "/mcp", "")
			if want := `Bearer realm="mcp", resource_metadata="` + metaURL + `"`; rec.Code != http.StatusUnauthorized ||
				rec.Header().Get("WWW-Authenticate") != want {
				t.Fatalf("no token: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
			rec = do(h, http.MethodGet, "/mcp", "Bearer "+wrongToken)
			if want := `Bearer realm="mcp", resource_metadata="` + metaURL + `", error="invalid_token", error_description="` + descAudience + `"`; rec.Code != http.StatusUnauthorized ||
				rec.Header().Get("WWW-Authenticate") != want {
				t.Fatalf("wrong aud: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
			rec = do(h, http.MethodGet, "/mcp", "Bearer a b")
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `resource_metadata="`+metaURL+`"`) {
				t.Fatalf("malformed: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
			rec = do(h, http.MethodGet, "/mcp", "Bearer "+token)
			if rec.Code != http.StatusOK || rec.Body.String() != "user-1" {
				t.Fatalf("valid: %d %s", rec.Code, rec.Body)
			}
			rec = do(h, http.MethodGet, "/admin", "Bearer "+token)
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `resource_metadata="`+metaURL+`", error="insufficient_scope"`) {
				t.Fatalf("scope: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("without Resource: no metadata, no resource_metadata", func(t *testing.T) {
		v := newVerifier(t, is, nil)
		if v.MetadataPath() != "" {
			t.Fatalf("MetadataPath %q", v.MetadataPath())
		}
		if rec := do(v.MetadataHandler(), http.MethodGet, WellKnownMetadata, ""); rec.Code != http.StatusNotFound {
			t.Fatalf("metadata: %d", rec.Code)
		}
		rec := do(v.Handler(http.NotFoundHandler()), http.MethodGet, "/", "")
		if rec.Code != http.StatusUnauthorized || strings.Contains(rec.Header().Get("WWW-Authenticate"), "resource_metadata") {
			t.Fatalf("%d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	})
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
