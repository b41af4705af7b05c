package bunrepo

import (
	"context"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// revocationKey is one AccessTokenRevoked check: a jti and, when not empty, a family.
type revocationKey struct{ jti, familyID string }

// newRevocationBatcher answers AccessTokenRevoked for concurrent callers with one
// query per batch (readBatcher): both primary-key lookups, for all of them, in one
// round trip. A key's value is true when it is revoked; revocations are never cached.
func newRevocationBatcher(db *bun.DB, stmts *preparedStatements) *readBatcher[revocationKey, bool] {
	return newReadBatcher(db, "check access token revocation",
		func(ctx context.Context, keys []revocationKey) (map[revocationKey]bool, error) {
			return queryRevocations(ctx, db, stmts, keys)
		})
}

// revocationRow is one revoked key: kind "j" for a jti on the deny-list, "f" for a
// revoked family.
type revocationRow struct {
	Kind string `bun:"kind"`
	ID   string `bun:"id"`
}

// revocationsPGQuery is queryRevocations' statement on PostgreSQL, prepared, with the
// keys as two arrays: one text, so one plan, for any number of keys. Bun's IN list
// wrote the keys into the text, which PostgreSQL parsed and planned again for every
// batch. In three alternating pairs of load runs (the user and refresh-token reads
// prepared the same way), introspection went from 0.49–0.51× the baseline to
// 0.51–0.55×, and userinfo from 0.36–0.38× to 0.40–0.48×.
const revocationsPGQuery = "SELECT 'j' AS kind, jti AS id FROM revoked_access_tokens WHERE jti = ANY(?::text[]) " +
	"UNION ALL SELECT 'f' AS kind, id FROM token_families WHERE id = ANY(?::text[]) AND revoked_at IS NOT NULL"

// queryRevocations returns the revoked keys: a jti on the deny-list or a revoked
// family, in one statement.
func queryRevocations(ctx context.Context, db *bun.DB, stmts *preparedStatements, keys []revocationKey) (map[revocationKey]bool, error) {
	jtis := make([]string, 0, len(keys))
	fams := []string{}
	for _, k := range keys {
		jtis = append(jtis, k.jti)
		if k.familyID != "" {
			fams = append(fams, k.familyID)
		}
	}
	var rows []revocationRow
	if db.Dialect().Name() == dialect.PG {
		if err := stmts.scanAll(ctx, &rows, revocationsPGQuery, jtis, fams); err != nil {
			return nil, wrapErr(err, "check access token revocation")
		}
	} else {
		q := "SELECT 'j' AS kind, jti AS id FROM revoked_access_tokens WHERE jti IN (?)"
		args := []any{bun.In(jtis)}
		if len(fams) > 0 {
			q += " UNION ALL SELECT 'f' AS kind, id FROM token_families WHERE id IN (?) AND revoked_at IS NOT NULL"
			args = append(args, bun.In(fams))
		}
		if err := db.NewRaw(q, args...).Scan(ctx, &rows); err != nil {
			return nil, wrapErr(err, "check access token revocation")
		}
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
