package bunrepotest

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/infrastructure/database/dbtest"
)

// migrateTimeout bounds the migrations; it is not a wait: they crawl on a loaded
// machine.
const migrateTimeout = 60 * time.Second

// Open opens url (usually from dbtest.SQLite, dbtest.Postgres, dbtest.MySQL or
// dbtest.All), applies every migration, and closes the pool when the test ends.
func Open(t testing.TB, url string) *bun.DB {
	t.Helper()
	db := dbtest.Open(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
	defer cancel()
	if err := bunrepo.Migrate(ctx, db); err != nil {
		t.Fatalf("bunrepotest: migrate: %v", err)
	}
	return db
}
