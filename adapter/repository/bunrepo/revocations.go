package bunrepo

import (
	"context"

	"github.com/uptrace/bun"
)

// revocationKey is one AccessTokenRevoked check: a jti and, when not empty, a family.
type revocationKey struct{ jti, familyID string }

// newRevocationBatcher answers AccessTokenRevoked for concurrent callers with one
// query per batch (readBatcher): both primary-key lookups, for all of them, in one
// round trip. A key's value is true when it is revoked; revocations are never cached.
func newRevocationBatcher(db *bun.DB) *readBatcher[revocationKey, bool] {
	return newReadBatcher(db, "check access token revocation",
		func(ctx context.Context, keys []revocationKey) (map[revocationKey]bool, error) {
			return queryRevocations(ctx, db, keys)
		})
}

// queryRevocations returns the revoked keys: a jti on the deny-list or a revoked
// family, in one statement.
func queryRevocations(ctx context.Context, db *bun.DB, keys []revocationKey) (map[revocationKey]bool, error) {
	jtis := make([]string, 0, len(keys))
	var fams []string
	for _, k := range keys {
		jtis = append(jtis, k.jti)
		if k.familyID != "" {
			fams = append(fams, k.familyID)
		}
	}
	q := "SELECT 'j' AS kind, jti AS id FROM revoked_access_tokens WHERE jti IN (?)"
	args := []any{bun.In(jtis)}
	if len(fams) > 0 {
		q += " UNION ALL SELECT 'f' AS kind, id FROM token_families WHERE id IN (?) AND revoked_at IS NOT NULL"
		args = append(args, bun.In(fams))
	}
	var rows []struct {
		Kind string `bun:"kind"`
		ID   string `bun:"id"`
	}
	if err := db.NewRaw(q, args...).Scan(ctx, &rows); err != nil {
		return nil, wrapErr(err, "check access token revocation")
	}
	revokedJTI := make(map[string]bool, len(rows))
	revokedFam := make(map[string]bool, len(rows))
	for _, r := range rows {
		if r.Kind == "j" {
			revokedJTI[r.ID] = true
		} else {
			revokedFam[r.ID] = true
		}
	}
	revoked := make(map[revocationKey]bool, len(keys))
	for _, k := range keys {
		revoked[k] = revokedJTI[k.jti] || k.familyID != "" && revokedFam[k.familyID]
	}
	return revoked, nil
}
