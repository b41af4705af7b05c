package dbtest_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"gatehouse/infrastructure/database"
	"gatehouse/infrastructure/database/dbtest"
)

// tablesQuery counts the tables of the database a connection is using, per backend.
var tablesQuery = map[string]string{
	"sqlite":   "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
	"postgres": "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
	"mysql":    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()",
}

// TestDatabasesAreFreshAndDropped: each call gives a new database without a single
// table (dbtest knows no schema), and the server databases are gone once the test
// that made them ends.
func TestDatabasesAreFreshAndDropped(t *testing.T) {
	var made map[string]string
	t.Run("make", func(t *testing.T) {
		made = dbtest.All(t)
		again := dbtest.All(t)
		for name, u := range made {
			if again[name] == u {
				t.Errorf("%s: two calls gave the same database %s", name, u)
			}
			db := dbtest.Open(t, u)
			var n int
			if err := db.NewRaw(tablesQuery[name]).Scan(t.Context(), &n); err != nil || n != 0 {
				t.Errorf("%s: %d tables, %v; want an empty database", name, n, err)
			}
		}
	})
	for name, u := range made {
		if name == "sqlite" {
			continue
		}
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		dbName := strings.TrimPrefix(parsed.Path, "/")
		if !strings.HasPrefix(dbName, dbtest.NamePrefix) {
			t.Errorf("%s: database %q lacks the %q prefix", name, dbName, dbtest.NamePrefix)
		}
		// Connecting to the dropped database must fail.
		_, closeDB, err := database.Open(context.Background(), u)
		if err == nil {
			closeDB()
			t.Errorf("%s: database %s still exists after its test", name, dbName)
		}
	}
}
