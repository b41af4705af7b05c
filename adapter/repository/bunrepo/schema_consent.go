package bunrepo

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
)

// Migration 20260312000001 (issue 18, finding 2): a public client's consent is
// remembered per exact redirect URI, a confidential client's per client as before.
// The consents table gets the redirect URI and, as part of the primary key, its
// SHA-256 (consentURIKey: a URI may be longer than a MySQL key may be); a confidential
// client's consent has the URI "" and the hash of "".
//
// Consents of public clients stored before were not bound to any redirect URI, so
// nobody knows which program they were given to: the migration deletes them, and
// their users are asked once more. Its down step deletes the consents bound to a
// redirect URI (the older key cannot hold two per client) and keeps the others.

// consentsPerRedirectURI is the consents table after the migration.
func consentsPerRedirectURI() tableDef {
	return tableDef{
		name: "consents",
		columns: []column{
			col("user_id", typeID), col("client_id", typeID),
			col("redirect_uri_hash", typeHash), col("redirect_uri", typeText),
			col("scope", typeText), col("granted_at", typeTime),
		},
		primaryKey:  []string{"user_id", "client_id", "redirect_uri_hash"},
		indexes:     []index{idx("client_id")},
		foreignKeys: []foreignKey{{"user_id", "users", "id"}, {"client_id", "clients", "id"}},
	}
}

// consentsPerClient is the consents table before the migration, as schemaV1 made it.
func consentsPerClient() tableDef {
	for _, t := range schemaV1() {
		if t.name == "consents" {
			return t
		}
	}
	panic("bunrepo: schemaV1 has no consents table")
}

func consentsPerRedirectURIMigration() migrate.Migration {
	return migrate.Migration{Name: "20260312000001", Comment: "consents_per_redirect_uri",
		Up: migrateConsents(true), Down: migrateConsents(false)}
}

// migrateConsents is the up (perURI) or down step. It looks at the catalog first, in
// the same transaction as the change where DDL is transactional (PostgreSQL, SQLite:
// there a second process migrating the same file waits for the first, then finds the
// work done), and before it on MySQL, whose DDL commits at once: a step interrupted
// there can run again.
func migrateConsents(perURI bool) migrationFunc {
	return goMigration(func(ctx context.Context, db *bun.DB) error {
		d := db.Dialect().Name()
		change, always := consentStatements(d, perURI)
		run := func(ctx context.Context, idb bun.IDB) error {
			done, err := columnExists(ctx, idb, "consents", "redirect_uri_hash")
			if err != nil || done == perURI {
				return err
			}
			return execStatements(ctx, idb, change)
		}
		var err error
		if d == dialect.MySQL {
			err = run(ctx, db)
		} else {
			err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return run(ctx, tx) })
		}
		if err != nil {
			if done, cerr := columnExists(ctx, db, "consents", "redirect_uri_hash"); cerr == nil && done == perURI {
				return nil // another migrator did it meanwhile
			}
			return err
		}
		return execStatements(ctx, db, always)
	})
}

// consentStatements are the statements of the up (perURI) or down step on dialect d:
// change runs once, always after it on every run (MySQL's fix-up, which may have been
// interrupted after its ALTER).
func consentStatements(d dialect.Name, perURI bool) (change, always []string) {
	q := func(name string) string { return quoteIdent(d, name) }
	emptyKey := hex.EncodeToString(consentURIKey(""))
	keyLiteral := "X'" + emptyKey + "'"
	if d == dialect.PG {
		keyLiteral = "decode('" + emptyKey + "', 'hex')"
	}
	if !perURI {
		change = []string{fmt.Sprintf("DELETE FROM %s WHERE %s <> ''", q("consents"), q("redirect_uri"))}
		switch d {
		case dialect.PG:
			return append(change, `ALTER TABLE "consents" DROP CONSTRAINT "consents_pkey", DROP COLUMN "redirect_uri_hash",
				DROP COLUMN "redirect_uri", ADD PRIMARY KEY ("user_id", "client_id")`), nil
		case dialect.MySQL:
			return append(change, "ALTER TABLE `consents` DROP PRIMARY KEY, DROP COLUMN `redirect_uri_hash`,"+
				" DROP COLUMN `redirect_uri`, ADD PRIMARY KEY (`user_id`, `client_id`)"), nil
		default:
			return append(change, rebuildSQLiteTable(consentsPerRedirectURI(), consentsPerClient(),
				`"user_id", "client_id", "scope", "granted_at"`)...), nil
		}
	}

	// Consents of public clients carry no redirect URI: nobody knows whom they were for.
	change = []string{fmt.Sprintf("DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s)",
		q("consents"), q("client_id"), q("id"), q("clients"), q("public"))}
	switch d {
	case dialect.PG:
		// Nullable first, filled, then NOT NULL: no default is left behind that would
		// make a row written without a URI hold for every URI.
		return append(change,
			`ALTER TABLE "consents" ADD COLUMN "redirect_uri_hash" BYTEA, ADD COLUMN "redirect_uri" TEXT`,
			`UPDATE "consents" SET "redirect_uri_hash" = `+keyLiteral+`, "redirect_uri" = ''`,
			`ALTER TABLE "consents" ALTER COLUMN "redirect_uri_hash" SET NOT NULL, ALTER COLUMN "redirect_uri" SET NOT NULL,
				DROP CONSTRAINT "consents_pkey", ADD PRIMARY KEY ("user_id", "client_id", "redirect_uri_hash")`), nil
	case dialect.MySQL:
		// One ALTER: the rows get the implicit '' of both NOT NULL columns (no default
		// stays), then the hash of "" in the fix-up.
		return append(change, "ALTER TABLE `consents` ADD COLUMN `redirect_uri_hash` VARBINARY(64) NOT NULL,"+
				" ADD COLUMN `redirect_uri` MEDIUMTEXT NOT NULL,"+
				" DROP PRIMARY KEY, ADD PRIMARY KEY (`user_id`, `client_id`, `redirect_uri_hash`)"),
			[]string{"UPDATE `consents` SET `redirect_uri_hash` = " + keyLiteral + " WHERE `redirect_uri` = ''"}
	default:
		return append(change, rebuildSQLiteTable(consentsPerClient(), consentsPerRedirectURI(),
			`"user_id", "client_id", `+keyLiteral+`, '', "scope", "granted_at"`)...), nil
	}
}

// rebuildSQLiteTable turns table from into to on SQLite, which cannot change a
// primary key in place: from is renamed away and its indexes dropped, to is created
// under the real name (constraint and index names as on the other databases), the
// rows are copied with selectList (one expression per column of to, over from's
// columns), and the old table is dropped. Nothing references the table, so its
// foreign keys can stay on; they are checked for the copied rows.
func rebuildSQLiteTable(from, to tableDef, selectList string) []string {
	d := dialect.SQLite
	old := from.name + "_old"
	stmts := []string{fmt.Sprintf("ALTER TABLE %s RENAME TO %s", quoteIdent(d, from.name), quoteIdent(d, old))}
	for _, ix := range from.indexes {
		stmts = append(stmts, "DROP INDEX "+quoteIdent(d, ix.name(from.name)))
	}
	stmts = append(stmts, to.createStatements(d, "")...)
	names := make([]string, len(to.columns))
	for i, c := range to.columns {
		names[i] = c.name
	}
	return append(stmts,
		fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s", quoteIdent(d, to.name), quoteList(d, names), selectList, quoteIdent(d, old)),
		"DROP TABLE "+quoteIdent(d, old))
}

// execStatements runs statements in order on idb (a transaction, or the database).
func execStatements(ctx context.Context, idb bun.IDB, stmts []string) error {
	for _, s := range stmts {
		if _, err := idb.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%.60s: %w", s, err)
		}
	}
	return nil
}
