package bunrepo

// signingKeyActivatesAt is the column of migration 20260306000001: when a key starts
// signing. A rotation stores the new key at once, so that every instance publishes
// it, and lets it sign only from this instant (issue 9). NULL, as in every row
// stored before, means from the start.
func signingKeyActivatesAt() (table string, c column) {
	return "signing_keys", nullCol("activates_at", typeTime)
}

// signingKeyRevokedAt is the column of migration 20260310000002: when the key was
// revoked (gatehouse keys revoke). A revoked key neither signs nor is published,
// whatever its other times say; NULL, as in every row stored before, means never.
func signingKeyRevokedAt() (table string, c column) {
	return "signing_keys", nullCol("revoked_at", typeTime)
}
