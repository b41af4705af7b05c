package bunrepo

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// clientPostLogoutRedirectURIs is the column of migration 20260305000001: the
// post-logout redirect URIs of OpenID Connect RP-initiated logout, a JSON list like
// redirect_uris. Nullable, so that adding it to a table with rows needs no default
// (MySQL allows no literal default on a TEXT column); NULL reads as no URIs.
func clientPostLogoutRedirectURIs() (table string, c column) {
	return "clients", nullCol("post_logout_redirect_uris", typeText)
}

// addColumn is a migration adding one nullable column to an existing table, and its
// down step dropping it. ADD COLUMN IF NOT EXISTS is PostgreSQL's and MariaDB's, not
// MySQL's or SQLite's, so both steps look at the catalog instead: before, so that a
// step can run again after an interruption (MySQL cannot roll DDL back), and after a
// failure, because two instances migrating one SQLite file at once (SQLite has no
// migration lock) both see the column missing and one of them loses the race.
func addColumn(def func() (string, column)) (up, down migrationFunc) {
	table, c := def()
	if !c.nullable {
		// A NOT NULL column would need a default for the rows already there.
		panic(fmt.Sprintf("bunrepo: added column %s.%s must be nullable", table, c.name))
	}
	alter := func(want bool) migrationFunc {
		return goMigration(func(ctx context.Context, db *bun.DB) error {
			if exists, err := columnExists(ctx, db, table, c.name); err != nil || exists == want {
				return err
			}
			d := db.Dialect().Name()
			stmt := fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", quoteIdent(d, table), quoteIdent(d, c.name))
			if want {
				stmt = fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s NULL", quoteIdent(d, table), quoteIdent(d, c.name), c.typ.sql(d))
			}
			err := execDDL(ctx, db, []string{stmt})
			if err != nil {
				if exists, cerr := columnExists(ctx, db, table, c.name); cerr == nil && exists == want {
					return nil // another migrator did it meanwhile
				}
			}
			return err
		})
	}
	return alter(true), alter(false)
}

// columnExists reads the catalog of the database's dialect.
func columnExists(ctx context.Context, db *bun.DB, table, col string) (bool, error) {
	var q string
	switch db.Dialect().Name() {
	case dialect.PG:
		q = "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? AND column_name = ?"
	case dialect.MySQL:
		q = "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?"
	default:
		q = "SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?"
	}
	var n int
	if err := db.NewRaw(q, table, col).Scan(ctx, &n); err != nil {
		return false, fmt.Errorf("look for column %s.%s: %w", table, col, err)
	}
	return n > 0, nil
}
