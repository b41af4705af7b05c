package bunrepo

// authRequestsTable holds authorization requests waiting for the login and consent
// pages (domain.AuthRequest). Rows die with their client or user, and are deleted
// when the request completes or, once expired, by housekeeping.
func authRequestsTable() tableDef {
	return tableDef{
		name: "authorization_requests",
		columns: []column{
			col("id", typeID), col("client_id", typeID),
			col("redirect_uri", typeText), col("redirect_uri_sent", typeBool),
			col("scope", typeText), col("audience", typeText),
			col("state", typeText), col("nonce", typeText), col("code_challenge", typeID),
			col("prompt", typeText),
			// Seconds as decimal text; NULL when the request had no max_age.
			nullCol("max_age", typeID),
			col("browser_hash", typeHash),
			// NULL until someone is logged in for the request.
			nullCol("user_id", typeID), nullCol("auth_time", typeTime),
			col("created_at", typeTime), col("expires_at", typeTime),
		},
		primaryKey:  []string{"id"},
		indexes:     []index{idx("client_id"), idx("user_id"), idx("expires_at")},
		foreignKeys: []foreignKey{{"client_id", "clients", "id"}, {"user_id", "users", "id"}},
	}
}
