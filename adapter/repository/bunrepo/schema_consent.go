package bunrepo

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// Migration 20260312000001 (issue 18, finding 2): a public client's consent is
// remembered per exact redirect URI, a confidential client's per client as before.
//
// The consents bound to a redirect URI get a table of their own, keyed by user, client
// and the SHA-256 of the URI (consentURIKey: a URI may be longer than a MySQL key may
// be); consents stays as it was, for the consents that hold for every redirect URI.
// So the migration only adds a table, as every migration before it, and instances of
// the previous release keep working beside it during a rolling upgrade.
//
// Consents of public clients stored before were bound to no redirect URI: nobody knows
// which program they were given to. The migration deletes them, and their users are
// asked once more. Its down step drops the table (users of public clients are asked
// once more by the previous release too).
func redirectURIConsentsTable() []tableDef {
	return []tableDef{{
		name: "redirect_uri_consents",
		columns: []column{
			col("user_id", typeID), col("client_id", typeID),
			col("redirect_uri_hash", typeHash), col("redirect_uri", typeText),
			col("scope", typeText), col("granted_at", typeTime),
		},
		primaryKey:  []string{"user_id", "client_id", "redirect_uri_hash"},
		indexes:     []index{idx("client_id")},
		foreignKeys: []foreignKey{{"user_id", "users", "id"}, {"client_id", "clients", "id"}},
	}}
}

func redirectURIConsentsMigration() migrate.Migration {
	return migrate.Migration{
		Name: "20260312000001", Comment: "redirect_uri_consents",
		Up:   steps(createTables(redirectURIConsentsTable), goMigration(deletePublicClientConsents)),
		Down: dropTables(redirectURIConsentsTable),
	}
}

// deletePublicClientConsents drops the consents of public clients that hold for every
// redirect URI; run again, it finds none (only an instance of the previous release
// still writes them, and no public client's request reads them any more).
func deletePublicClientConsents(ctx context.Context, db *bun.DB) error {
	if _, err := db.NewDelete().TableExpr("consents").
		Where("client_id IN (?)", db.NewSelect().Column("id").TableExpr("clients").Where("?", bun.Ident("public"))).
		Exec(ctx); err != nil {
		return fmt.Errorf("delete the consents of public clients: %w", err)
	}
	return nil
}
