package bunrepo

import ()

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
