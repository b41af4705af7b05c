package bunrepo

import (
	"context"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// schemaDevice is the device authorization grant's table (RFC 8628), added by
// migration 20260303000001.
func schemaDevice() []tableDef {
	return []tableDef{
		{
			// Both codes are keyed hashes. The user code hash is unique over every
			// stored row, live or expired: a new code that collides is simply drawn
			// again, and expired rows are purged an hour after expiry.
			name: "device_authorizations",
			columns: []column{
				col("device_code_hash", typeHash), col("user_code_hash", typeHash),
				col("client_id", typeID), col("scope", typeText), col("audience", typeText),
				col("interval_seconds", typeInt), nullCol("last_polled_at", typeTime),
				col("status", typeID),
				nullCol("user_id", typeID), nullCol("auth_time", typeTime), nullCol("session_id", typeID),
				col("family_id", typeID),
				col("created_at", typeTime), col("expires_at", typeTime), nullCol("consumed_at", typeTime),
			},
			primaryKey:  []string{"device_code_hash"},
			indexes:     []index{uniq("user_code_hash"), idx("client_id"), idx("user_id"), idx("expires_at")},
			foreignKeys: []foreignKey{{"client_id", "clients", "id"}, {"user_id", "users", "id"}},
		},
	}
}

func deviceSchemaUp(ctx context.Context, db *bun.DB) error {
	d := db.Dialect().Name()
	var coll string
	if d == dialect.MySQL {
		var err error
		if coll, err = mysqlCollation(ctx, db); err != nil {
			return err
		}
	}
	var stmts []string
	for _, t := range schemaDevice() {
		stmts = append(stmts, t.createStatements(d, coll)...)
	}
	return execDDL(ctx, db, stmts)
}

func deviceSchemaDown(ctx context.Context, db *bun.DB) error {
	tables := schemaDevice()
	stmts := make([]string, 0, len(tables))
	for i := len(tables) - 1; i >= 0; i-- {
		stmts = append(stmts, tables[i].dropStatement(db.Dialect().Name()))
	}
	return execDDL(ctx, db, stmts)
}
