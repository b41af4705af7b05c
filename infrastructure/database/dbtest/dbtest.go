package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/infrastructure/database"
)

// Environment variables read by this package.
const (
	EnvPostgresURL = "GATEHOUSE_TEST_POSTGRES_URL"
	EnvMySQLURL    = "GATEHOUSE_TEST_MYSQL_URL"
	EnvRequireDBs  = "GATEHOUSE_TEST_REQUIRE_DBS"

	defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultMySQLURL    = "mysql://root@127.0.0.1:3306/"

	// NamePrefix starts the name of every database this package creates, so that
	// leftovers of a killed test run are easy to find and drop.
	NamePrefix = "gh_test_"

	serverTimeout = 60 * time.Second // a bound, not a wait: a loaded machine is slow
)

// errUnreachable marks a server that is not there (as opposed to one that refuses us).
var errUnreachable = errors.New("server unreachable")

// SQLite returns the URL of a new SQLite file in t.TempDir().
func SQLite(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "gatehouse.db")
}

// Postgres creates an empty database on the test PostgreSQL server and returns its
// URL; the database is dropped when the test ends. Skips when the server is
// unreachable (fails with GATEHOUSE_TEST_REQUIRE_DBS=1).
func Postgres(t testing.TB) string {
	t.Helper()
	u, err := createDatabase(t, database.Postgres)
	if err != nil {
		unavailable(t, "PostgreSQL", err)
	}
	return u
}

// MySQL is Postgres for the test MySQL/MariaDB server.
func MySQL(t testing.TB) string {
	t.Helper()
	u, err := createDatabase(t, database.MySQL)
	if err != nil {
		unavailable(t, "MySQL", err)
	}
	return u
}

// All returns a fresh database URL per reachable backend, by name: "sqlite",
// "postgres", "mysql". An unreachable server is left out (logged), or fails the test
// with GATEHOUSE_TEST_REQUIRE_DBS=1.
func All(t testing.TB) map[string]string {
	t.Helper()
	urls := map[string]string{"sqlite": SQLite(t)}
	for name, kind := range map[string]database.Kind{"postgres": database.Postgres, "mysql": database.MySQL} {
		u, err := createDatabase(t, kind)
		switch {
		case err == nil:
			urls[name] = u
		case errors.Is(err, errUnreachable) && !required():
			t.Logf("dbtest: leaving out %s: %v (set %s to a reachable server, or %s=1 to fail instead)",
				name, err, envFor(kind), EnvRequireDBs)
		default:
			t.Fatalf("dbtest: %s: %v", name, err)
		}
	}
	return urls
}

// Open opens url as the server would (database.Open) and closes the pool when the
// test ends. It creates no tables: the schema belongs to the repositories
// (bunrepo/bunrepotest opens and migrates).
func Open(t testing.TB, url string) *bun.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), serverTimeout)
	defer cancel()
	db, closeDB, err := database.Open(ctx, url)
	if err != nil {
		t.Fatalf("dbtest: open: %v", err)
	}
	t.Cleanup(closeDB)
	return db
}

func required() bool { return os.Getenv(EnvRequireDBs) == "1" }

func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if errors.Is(err, errUnreachable) && !required() {
		t.Skipf("dbtest: %s not available: %v (set %s=1 to fail instead)", what, err, EnvRequireDBs)
	}
	t.Fatalf("dbtest: %s: %v", what, err)
}

func envFor(kind database.Kind) string {
	if kind == database.Postgres {
		return EnvPostgresURL
	}
	return EnvMySQLURL
}

func serverURL(kind database.Kind) string {
	env, def := EnvMySQLURL, defaultMySQLURL
	if kind == database.Postgres {
		env, def = EnvPostgresURL, defaultPostgresURL
	}
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

// createDatabase creates a randomly named database on the server of kind, registers
// its removal, and returns its URL. The error wraps errUnreachable when the server
// does not answer.
func createDatabase(t testing.TB, kind database.Kind) (string, error) {
	t.Helper()
	admin := serverURL(kind)
	ctx, cancel := context.WithTimeout(context.Background(), serverTimeout)
	defer cancel()
	db, closeDB, err := database.Open(ctx, admin)
	if err != nil {
		if database.IsUnavailable(err) {
			return "", fmt.Errorf("%w: %v", errUnreachable, err)
		}
		return "", err
	}
	defer closeDB()

	name := NamePrefix + randomHex(8)
	create := "CREATE DATABASE " + name
	if kind == database.MySQL {
		create += " CHARACTER SET utf8mb4"
	}
	if _, err := db.ExecContext(ctx, create); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	t.Cleanup(func() { dropDatabase(t, kind, admin, name) })

	u, err := url.Parse(admin)
	if err != nil {
		return "", fmt.Errorf("parse server URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// dropDatabase runs at cleanup, after the test's own pools are closed (cleanups run
// last-registered first). On PostgreSQL, WITH (FORCE) ends any connection a failed
// test leaked.
func dropDatabase(t testing.TB, kind database.Kind, admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), serverTimeout)
	defer cancel()
	db, closeDB, err := database.Open(ctx, admin)
	if err != nil {
		t.Errorf("dbtest: drop database %s: %v", name, err)
		return
	}
	defer closeDB()
	drop := "DROP DATABASE IF EXISTS " + name
	if kind == database.Postgres {
		drop += " WITH (FORCE)"
	}
	if _, err := db.ExecContext(ctx, drop); err != nil {
		t.Errorf("dbtest: drop database %s: %v", name, err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
