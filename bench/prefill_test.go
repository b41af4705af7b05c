package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"gatehouse/infrastructure/database"
	"gatehouse/infrastructure/database/dbtest"
)

var serverBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if serverBin.path != "" {
		os.RemoveAll(filepath.Dir(serverBin.path))
	}
	os.Exit(code)
}

// buildServer builds cmd/gatehouse once for the package's tests.
func buildServer(t *testing.T) string {
	t.Helper()
	serverBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-bench-bin-")
		if err != nil {
			serverBin.err = err
			return
		}
		serverBin.path = filepath.Join(dir, "gatehouse")
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			goBin = "go"
		}
		build := exec.Command(goBin, "build", "-o", serverBin.path, "./cmd/gatehouse")
		build.Dir = ".."
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		serverBin.out, serverBin.err = build.CombinedOutput()
	})
	if serverBin.err != nil {
		t.Fatalf("go build ./cmd/gatehouse: %v\n%s", serverBin.err, serverBin.out)
	}
	return serverBin.path
}

// TestPrefill loads a small prefill into SQLite and PostgreSQL and uses it through the
// real server over HTTP: a prefilled client gets a token with its secret (and not
// with another), a prefilled refresh token of it rotates, a prefilled user logs in
// with the password grant; the tables hold the rows asked for.
func TestPrefill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real server; skipped with -short")
	}
	bin := buildServer(t)
	sizes := PrefillSizes{Users: 1000, RefreshTokens: 1000, Clients: 100}
	t.Run("SQLite", func(t *testing.T) {
		dir := t.TempDir()
		testPrefill(t, bin, dir, "sqlite:"+filepath.Join(dir, "gatehouse.db"), sizes)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		admin := os.Getenv(dbtest.EnvPostgresURL)
		if admin == "" {
			admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
		}
		dbURL, drop, err := TempPostgres(context.Background(), admin)
		if err != nil {
			if os.Getenv(dbtest.EnvRequireDBs) == "1" {
				t.Fatal(err)
			}
			t.Skipf("PostgreSQL not available: %v (set %s=1 to fail instead)", err, dbtest.EnvRequireDBs)
		}
		t.Cleanup(func() {
			if err := drop(); err != nil {
				t.Error(err)
			}
		})
		testPrefill(t, bin, t.TempDir(), dbURL, sizes)
	})
}

func testPrefill(t *testing.T, bin, dir, dbURL string, sizes PrefillSizes) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	secretKey := RandomSecret(48)
	srv, err := NewServer(bin, dir, []string{"GATEHOUSE_DATABASE_URL=" + dbURL, "GATEHOUSE_SECRET_KEY=" + secretKey}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.CLI(ctx, "", nil, "migrate"); err != nil {
		t.Fatal(err)
	}
	p, err := Prefill(ctx, PrefillConfig{DatabaseURL: dbURL, SecretKey: secretKey, Audience: srv.URL, Sizes: sizes,
		Seed: RandomSecret(8), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	db, closeDB, err := database.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	for table, want := range map[string]int{"users": sizes.Users, "clients": sizes.Clients,
		"token_families": sizes.RefreshTokens, "refresh_tokens": sizes.RefreshTokens} {
		var n int
		if err := db.NewRaw("SELECT COUNT(*) FROM "+table).Scan(ctx, &n); err != nil || n != want {
			t.Errorf("%s: %d rows (%v), want %d", table, n, err, want)
		}
	}
	closeDB()

	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	}()
	c := NewClient(2, 30*time.Second)
	defer c.CloseIdleConnections()
	tokenReq := func(creds clientCreds, body string) (int, tokenAnswer, string) {
		st, b, err := post(ctx, c, srv.URL+"/oauth/token", creds.basic(), []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		var ans tokenAnswer
		_ = json.Unmarshal(b, &ans)
		return st, ans, string(b)
	}
	clientOf := func(i int) clientCreds {
		id, secret := PrefillClient(p.Seed, i)
		return clientCreds{ID: id, Secret: secret}
	}

	last := clientOf(sizes.Clients - 1)
	if st, ans, body := tokenReq(last, "grant_type=client_credentials&scope=api%3Aread"); st != http.StatusOK || ans.AccessToken == "" {
		t.Errorf("client_credentials with prefilled client %d: %d %s", sizes.Clients-1, st, body)
	}
	wrong := clientCreds{ID: last.ID, Secret: clientOf(0).Secret}
	if st, _, body := tokenReq(wrong, "grant_type=client_credentials"); st != http.StatusUnauthorized {
		t.Errorf("a prefilled client with another's secret: %d %s, want 401", st, body)
	}

	i := sizes.RefreshTokens - 7
	tok, ci := PrefillRefreshToken(p, i)
	st, ans, body := tokenReq(clientOf(ci), "grant_type=refresh_token&refresh_token="+url.QueryEscape(tok))
	if st != http.StatusOK || ans.RefreshToken == "" || ans.RefreshToken == tok {
		t.Fatalf("refresh with prefilled token %d: %d %s; the server's log ends:\n%s", i, st, body, srv.LogTail(5))
	}
	if st, _, body := tokenReq(clientOf(ci), "grant_type=refresh_token&refresh_token="+url.QueryEscape(ans.RefreshToken)); st != http.StatusOK {
		t.Errorf("refresh with the rotated token: %d %s", st, body)
	}
	if st, _, _ := tokenReq(clientOf((ci+1)%sizes.Clients), "grant_type=refresh_token&refresh_token="+url.QueryEscape(tok)); st == http.StatusOK {
		t.Errorf("a prefilled refresh token worked for another client")
	}

	user := PrefillUsername(sizes.Users / 2)
	if st, ans, body := tokenReq(clientOf(3), "grant_type=password&scope=api%3Aread&username="+user+"&password="+url.QueryEscape(p.Password)); st != http.StatusOK || ans.AccessToken == "" {
		t.Errorf("password grant for prefilled user %s: %d %s", user, st, body)
	}
}
