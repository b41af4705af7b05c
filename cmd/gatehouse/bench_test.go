package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/infrastructure/config"
	"gatehouse/usecase"
)

// Benchmarks of the token, introspection and refresh paths through the real wiring
// (initApp): Echo handlers, use cases, the Bun repositories on a fresh SQLite file and
// the key ring, called in process (no sockets), so they show what a request costs
// in CPU and allocations apart from HTTP and the load generator. `make bench` runs
// them; the load run (bench/, cmd/loadgen) measures the same paths over loopback.

type benchApp struct {
	app     *App
	handler http.Handler
	ccID    string
	ccAuth  string
	pwID    string
	pwAuth  string
	user    string
	pass    string
}

func newBenchApp(b *testing.B) *benchApp {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	env := config.Env{
		"GATEHOUSE_DATABASE_URL": "sqlite:" + filepath.Join(dir, "bench.db"),
		"GATEHOUSE_SECRET_KEY":   strings.Repeat("k", 40),
		"GATEHOUSE_LOG_LEVEL":    "error",
	}
	cfg, err := config.Load("", env)
	if err != nil {
		b.Fatal(err)
	}
	app, cleanup, err := buildApp(ctx, cfg, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cleanup)
	if err := bunrepo.Migrate(ctx, app.DB); err != nil {
		b.Fatal(err)
	}
	if err := app.Keys.Ensure(ctx); err != nil {
		b.Fatal(err)
	}
	if err := app.KeyRing.Reload(ctx); err != nil {
		b.Fatal(err)
	}
	ba := &benchApp{app: app, handler: app.Echo, user: "bench", pass: "correct horse battery staple"}
	cc, err := app.Admin.CreateClient(ctx, usecase.NewClient{Name: "cc", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"api:read"}})
	if err != nil {
		b.Fatal(err)
	}
	ba.ccID, ba.ccAuth = cc.Client.ID, basic(cc.Client.ID, cc.Secret)
	pw, err := app.Admin.CreateClient(ctx, usecase.NewClient{Name: "pw", GrantTypes: []string{"password", "refresh_token"},
		Scopes: []string{"openid", "api:read"}})
	if err != nil {
		b.Fatal(err)
	}
	ba.pwID, ba.pwAuth = pw.Client.ID, basic(pw.Client.ID, pw.Secret)
	if _, err := app.Admin.CreateUser(ctx, usecase.NewUser{Username: ba.user, Password: ba.pass}); err != nil {
		b.Fatal(err)
	}
	return ba
}

func basic(id, secret string) string {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return r.Header.Get("Authorization")
}

// post runs one form POST through the handler and decodes the JSON answer.
func (ba *benchApp) post(b *testing.B, path, auth, body string, want int) map[string]any {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", auth)
	req.RemoteAddr = "127.0.0.1:40000"
	rec := httptest.NewRecorder()
	ba.handler.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body.String())
	}
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		b.Fatalf("POST %s: %v", path, err)
	}
	return out
}

func BenchmarkTokenClientCredentials(b *testing.B) {
	ba := newBenchApp(b)
	b.ReportAllocs()
	b.ResetTimer() // not the set-up: its argon2id user hash alone took the whole -benchtime
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ba.post(b, "/oauth/token", ba.ccAuth, "grant_type=client_credentials", http.StatusOK)
		}
	})
}

func BenchmarkIntrospectAccessToken(b *testing.B) {
	ba := newBenchApp(b)
	tok := ba.post(b, "/oauth/token", ba.ccAuth, "grant_type=client_credentials", http.StatusOK)["access_token"].(string)
	body := "token=" + url.QueryEscape(tok)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if out := ba.post(b, "/oauth/introspect", ba.ccAuth, body, http.StatusOK); out["active"] != true {
				b.Fatalf("introspection: %v", out)
			}
		}
	})
}

// BenchmarkTokenRefresh follows one rotation chain per goroutine, as clients do.
func BenchmarkTokenRefresh(b *testing.B) {
	ba := newBenchApp(b)
	first := func() string {
		out := ba.post(b, "/oauth/token", ba.pwAuth, "grant_type=password&scope=api%3Aread&username="+ba.user+
			"&password="+url.QueryEscape(ba.pass), http.StatusOK)
		return out["refresh_token"].(string)
	}
	chains := make(chan string, 4*runtime.GOMAXPROCS(0))
	for range cap(chains) {
		chains <- first()
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rt := <-chains
		for pb.Next() {
			out := ba.post(b, "/oauth/token", ba.pwAuth, "grant_type=refresh_token&refresh_token="+url.QueryEscape(rt), http.StatusOK)
			rt = out["refresh_token"].(string)
		}
	})
}
