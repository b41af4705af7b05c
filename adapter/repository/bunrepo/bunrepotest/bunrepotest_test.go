package bunrepotest_test

import (
	"testing"

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
