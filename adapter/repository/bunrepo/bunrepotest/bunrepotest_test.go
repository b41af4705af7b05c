package bunrepotest_test

import (
	"testing"

	"github.com/uptrace/bun"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/infrastructure/database/dbtest"
)

// TestOpenMigrates: a database from Open has every table, empty, on every backend.
func TestOpenMigrates(t *testing.T) {
	for name, u := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			db := bunrepotest.Open(t, u)
			for _, table := range []string{"users", "clients", "refresh_tokens"} {
				var n int
				if err := db.NewRaw("SELECT COUNT(*) FROM "+table).Scan(t.Context(), &n); err != nil || n != 0 {
					t.Errorf("%s: %d rows, %v; want an empty, migrated table", table, n, err)
				}
			}
		})
	}
}

// TestOpenSQLiteCopiesAreDatabasesOfTheirOwn: each fresh SQLite file starts from the
// process's migrated template, and what one test writes no other sees.
func TestOpenSQLiteCopiesAreDatabasesOfTheirOwn(t *testing.T) {
	a, b := bunrepotest.Open(t, dbtest.SQLite(t)), bunrepotest.Open(t, dbtest.SQLite(t))
	if _, err := a.NewRaw("INSERT INTO scope_descriptions (name, description, localized, created_at) VALUES ('only:a', 'x', '{}', CURRENT_TIMESTAMP)").Exec(t.Context()); err != nil {
		t.Fatalf("insert: %v", err)
	}
	count := func(db *bun.DB) (n int) {
		if err := db.NewRaw("SELECT COUNT(*) FROM scope_descriptions WHERE name = 'only:a'").Scan(t.Context(), &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count(a) != 1 || count(b) != 0 {
		t.Fatalf("rows: %d in the written database, %d in the other; want 1 and 0", count(a), count(b))
	}
	var applied, pending int
	for _, db := range []*bun.DB{a, b} {
		states, err := bunrepo.MigrationStatus(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if s.Applied {
				applied++
			} else {
				pending++
			}
		}
	}
	if applied == 0 || pending != 0 {
		t.Fatalf("%d migrations applied, %d pending; want all applied", applied, pending)
	}
}
