package bunrepo

import (
	"context"

	"github.com/uptrace/bun/migrate"
)

// pushedRequestsTable is the table of pushed authorization requests (RFC 9126), added
// by migration 20260309000001. The key is the keyed hash of the request_uri's random
// part; the authorization parameters are one JSON object. Rows die with their client.
func pushedRequestsTable() []tableDef {
	return []tableDef{{
		name: "pushed_authorization_requests",
		columns: []column{
			col("hash", typeHash), col("client_id", typeID), col("params", typeText),
			col("created_at", typeTime), col("expires_at", typeTime),
		},
		primaryKey:  []string{"hash"},
		indexes:     []index{idx("client_id"), idx("expires_at")},
		foreignKeys: []foreignKey{{"client_id", "clients", "id"}},
	}}
}

// clientPKCEOptional is the column of migration 20260313000002: confidential clients
// that may omit PKCE (clients create --require-pkce=false). NULL reads as false.
func clientPKCEOptional() (table string, c column) {
	return "clients", nullCol("pkce_optional", typeBool)
}

// clientRequirePAR is the other half of migration 20260309000001: clients that must
// use PAR (clients create --require-par). NULL, in older rows, reads as false.
func clientRequirePAR() (table string, c column) {
	return "clients", nullCol("require_par", typeBool)
}

// clientRegistrationTokenHash is migration 20260309000002: the keyed hash of a
// dynamically registered client's registration access token (RFC 7592); NULL for
// clients made by the CLI, which cannot be managed through the registration endpoint.
func clientRegistrationTokenHash() (table string, c column) {
	return "clients", nullCol("registration_token_hash", typeHash)
}

// steps runs migration functions in order.
func steps(fns ...migrationFunc) migrationFunc {
	return func(ctx context.Context, m *migrate.Migrator, mg *migrate.Migration) error {
		for _, fn := range fns {
			if err := fn(ctx, m, mg); err != nil {
				return err
			}
		}
		return nil
	}
}

// parMigration is 20260309000001: the table, then the column; down in reverse.
func parMigration() migrate.Migration {
	colUp, colDown := addColumn(clientRequirePAR)
	return migrate.Migration{
		Name: "20260309000001", Comment: "pushed_authorization_requests",
		Up:   steps(createTables(pushedRequestsTable), colUp),
		Down: steps(colDown, dropTables(pushedRequestsTable)),
	}
}
