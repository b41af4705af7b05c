package bench

import (
	"context"
	"net/url"
	"os"
	"testing"

	"gatehouse/infrastructure/database"
	"gatehouse/infrastructure/database/dbtest"
)

// TestTempPostgresKeepsPoolParams: Gatehouse's pool settings on the -postgres URL
// reach the server's URL (so a load run can try another pool size) but not the admin
// connection, which PostgreSQL would refuse with an unknown run-time parameter.
func TestTempPostgresKeepsPoolParams(t *testing.T) {
	admin := os.Getenv(dbtest.EnvPostgresURL)
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("max_open_conns", "7")
	q.Set("max_idle_conns", "3")
	u.RawQuery = q.Encode()

	ctx := context.Background()
	dbURL, drop, err := TempPostgres(ctx, u.String())
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
	got, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if got.Query().Get("max_open_conns") != "7" || got.Query().Get("max_idle_conns") != "3" {
		t.Fatalf("server URL %s lost the pool parameters", dbURL)
	}
	db, closeDB, err := database.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	if n := db.DB.Stats().MaxOpenConnections; n != 7 {
		t.Fatalf("the server's pool holds %d connections, want 7", n)
	}
}
