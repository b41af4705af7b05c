package bunrepo

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
)

// Migration 20260311000001 (issue 18 finding 4, SECURITY S58): disabled users and
// clients, the deny-list of principals whose tokens are dead, and the indexes the
// revocation of a client's or a session's grants reads.

// revokedPrincipalsTable is the deny-list of principals (domain.PrincipalRevocation):
// a user or client id, the instant at or before which its tokens are dead (NULL: all
// of them, while it is disabled or after it was deleted), and when the row may go
// (NULL: kept while the principal is disabled).
func revokedPrincipalsTable() []tableDef {
	return []tableDef{{
		name:       "revoked_principals",
		columns:    []column{col("id", typeID), nullCol("revoked_at", typeTime), nullCol("expires_at", typeTime)},
		primaryKey: []string{"id"},
		indexes:    []index{idx("expires_at")},
	}}
}

// The disabled flags; NULL, in rows older than the migration, reads as false.
func userDisabled() (string, column)   { return "users", nullCol("disabled", typeBool) }
func clientDisabled() (string, column) { return "clients", nullCol("disabled", typeBool) }

// principalIndexes are read when a client's grants are revoked (families by client)
// and when a session's are (its codes and device approvals, whose families are
// revoked before they exist).
func principalIndexes() []struct {
	table string
	ix    index
} {
	return []struct {
		table string
		ix    index
	}{
		{"token_families", idx("client_id")},
		{"authorization_codes", idx("session_id")},
		{"device_authorizations", idx("session_id")},
	}
}

// principalsMigration is 20260311000001: the table, the columns, the indexes; its down
// step undoes them in reverse order. Each step is idempotent (see addColumn), so an
// interrupted run on MySQL can run again.
func principalsMigration() migrate.Migration {
	ups := []migrationFunc{createTables(revokedPrincipalsTable)}
	downs := []migrationFunc{dropTables(revokedPrincipalsTable)}
	for _, def := range []func() (string, column){userDisabled, clientDisabled} {
		u, d := addColumn(def)
		ups = append(ups, u)
		downs = append([]migrationFunc{d}, downs...)
	}
	for _, pi := range principalIndexes() {
		u, d := addIndex(pi.table, pi.ix)
		ups = append(ups, u)
		downs = append([]migrationFunc{d}, downs...)
	}
	return migrate.Migration{Name: "20260311000001", Comment: "principals", Up: sequence(ups), Down: sequence(downs)}
}

// addIndex is a migration adding one index to an existing table, and its down step
// dropping it. MySQL has no CREATE INDEX IF NOT EXISTS, so, as addColumn does, both
// steps look at the catalog before, and again after a failure (a concurrent migrator
// on one SQLite file may have done it meanwhile).
func addIndex(table string, ix index) (up, down migrationFunc) {
	name := ix.name(table)
	alter := func(want bool) migrationFunc {
		return goMigration(func(ctx context.Context, db *bun.DB) error {
			if exists, err := indexExists(ctx, db, table, name); err != nil || exists == want {
				return err
			}
			d := db.Dialect().Name()
			var stmt string
			switch {
			case want:
				kind := "INDEX"
				if ix.unique {
					kind = "UNIQUE INDEX"
				}
				stmt = fmt.Sprintf("CREATE %s %s ON %s (%s)", kind, quoteIdent(d, name), quoteIdent(d, table), quoteList(d, ix.columns))
			case d == dialect.MySQL:
				stmt = fmt.Sprintf("DROP INDEX %s ON %s", quoteIdent(d, name), quoteIdent(d, table))
			default:
				stmt = "DROP INDEX IF EXISTS " + quoteIdent(d, name)
			}
			err := execDDL(ctx, db, []string{stmt})
			if err != nil {
				if exists, cerr := indexExists(ctx, db, table, name); cerr == nil && exists == want {
					return nil // another migrator did it meanwhile
				}
			}
			return err
		})
	}
	return alter(true), alter(false)
}

// indexExists reads the catalog of the database's dialect.
func indexExists(ctx context.Context, db *bun.DB, table, name string) (bool, error) {
	var q string
	args := []any{table, name}
	switch db.Dialect().Name() {
	case dialect.PG:
		q = "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ? AND indexname = ?"
	case dialect.MySQL:
		q = "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ?"
	default:
		q = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND name = ?"
	}
	var n int
	if err := db.NewRaw(q, args...).Scan(ctx, &n); err != nil {
		return false, fmt.Errorf("look for index %s: %w", name, err)
	}
	return n > 0, nil
}
