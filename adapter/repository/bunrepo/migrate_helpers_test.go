package bunrepo_test

import (
	"testing"

	"github.com/uptrace/bun"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/infrastructure/database"
)

// openTestDB opens the test database at url, closed when the test ends.
func openTestDB(t *testing.T, url string) *bun.DB {
	t.Helper()
	db, closeDB, err := database.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeDB)
	return db
}

// openAtRelease opens the test database at url migrated up to migration, the schema
// of the release before the one under test.
func openAtRelease(t *testing.T, url, migration string) *bun.DB {
	t.Helper()
	db := openTestDB(t, url)
	if err := bunrepo.MigrateUpTo(t.Context(), db, migration); err != nil {
		t.Fatalf("migrate to the previous release: %v", err)
	}
	return db
}
