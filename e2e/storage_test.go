package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/infrastructure/database"
	"gatehouse/infrastructure/database/dbtest"
)

// TestSecurity_S37_StorageFailureIsNot200: while the database refuses connections,
// revocation answers 503 temporarily_unavailable with Retry-After, never a false 200
// (RFC 7009 §2.2.1), and so do the other endpoints that need it; readiness fails and
// liveness holds; once the database is back, everything works again. PostgreSQL only:
// it can lock one database's connections out without touching the others.
func TestSecurity_S37_StorageFailureIsNot200(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.Postgres(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin := *u
	admin.Path = "/postgres"

	srv := startServer(t, Options{DatabaseURL: dbURL})
	cfg, id, secret := newPasswordClient(t, srv)
	user, pwd, _ := newUser(t, srv)
	hc := srv.HTTPClient()
	tok := passwordToken(t, srv, hc, cfg, user, pwd)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, closeDB, err := database.Open(ctx, admin.String())
	if err != nil {
		t.Fatalf("admin connection: %v", err)
	}
	defer closeDB()
	exec := func(q string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Lock the database out and end the server's connections.
	exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false")
	restored := false
	restore := func() {
		if !restored {
			exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true")
			restored = true
		}
	}
	defer restore()
	exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + name + "' AND pid <> pg_backend_pid()")

	for _, tc := range []struct {
		path, body string
	}{
		{"/oauth/revoke", form("token", tok.RefreshToken)},
		{"/oauth/revoke", form("token", tok.AccessToken, "token_type_hint", "access_token")},
		{"/oauth/introspect", form("token", tok.AccessToken)},
		{"/oauth/token", form("grant_type", "refresh_token", "refresh_token", tok.RefreshToken)},
		{"/oauth/token", form("grant_type", "password", "username", user, "password", pwd)},
	} {
		r := srv.PostForm(t, hc, tc.path, tc.body, id, secret)
		if r.Status != http.StatusServiceUnavailable || r.JSON(t)["error"] != "temporarily_unavailable" {
			t.Errorf("%s while the database is down: %d %s, want 503 temporarily_unavailable", tc.path, r.Status, r.Body)
			continue
		}
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", tc.path)
		}
		checkTokenHeaders(t, r)
		checkDescription(t, r.JSON(t))
	}
	if r := srv.Get(t, hc, "/readyz"); r.Status != http.StatusServiceUnavailable {
		t.Errorf("/readyz while the database is down: %d", r.Status)
	}
	if r := srv.Get(t, hc, "/healthz"); r.Status != http.StatusOK {
		t.Errorf("/healthz while the database is down: %d", r.Status)
	}

	restore()
	deadline := time.Now().Add(20 * time.Second)
	for srv.Get(t, hc, "/readyz").Status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("not ready again 20 s after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The refresh token survived the outage; revoking it now works for real.
	if m := introspect(t, srv, hc, id, secret, tok.RefreshToken); m["active"] != true {
		t.Fatalf("refresh token after the outage: %v", m)
	}
	if r := revoke(t, srv, hc, id, secret, tok.RefreshToken, ""); r.Status != 200 {
		t.Fatalf("revoke after the outage: %d %s", r.Status, r.Body)
	}
	wantInactive(t, introspect(t, srv, hc, id, secret, tok.RefreshToken))
}
