package bunrepo

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// revocationRow is one revoked key: kind "j" for a jti on the deny-list, "f" for a
// revoked family, "p" for a principal on its deny-list, with the instant its tokens
// are dead up to (nil: all of them).
type revocationRow struct {
	Kind      string     `bun:"kind"`
	ID        string     `bun:"id"`
	RevokedAt *time.Time `bun:"revoked_at"`
}

// AccessTokensRevoked answers AccessTokenRevoked for each of checks, in one query:
// the revoked keys among them (a jti on the deny-list, a revoked family, or a subject
// or client revoked as a principal at or after the token's issue,
// domain.PrincipalRevocation.Kills), decided here from the rows found. A decorator
// batches concurrent checks through it.
func (r *TokenRepository) AccessTokensRevoked(ctx context.Context, checks []usecase.RevocationCheck) ([]bool, error) {
	jtis, fams, principals := []string{}, []string{}, []string{}
	seen := map[string]bool{}
	addPrincipal := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			principals = append(principals, id)
		}
	}
	for _, c := range checks {
		if c.JTI != "" {
			jtis = append(jtis, c.JTI)
		}
		if c.FamilyID != "" {
			fams = append(fams, c.FamilyID)
		}
		addPrincipal(c.Subject)
		addPrincipal(c.ClientID)
	}
	var rows []revocationRow
	if q, args := revocationsQuery(principals, jtis, fams); q != "" {
		if err := conn(ctx, r.db).NewRaw(q, args...).Scan(ctx, &rows); err != nil {
			return nil, wrapErr(err, "check access token revocation")
		}
	}
	revokedJTI := make(map[string]bool, len(rows))
	revokedFam := make(map[string]bool, len(rows))
	revokedPrincipal := make(map[string]domain.PrincipalRevocation, len(rows))
	for _, r := range rows {
		switch r.Kind {
		case "j":
			revokedJTI[r.ID] = true
		case "f":
			revokedFam[r.ID] = true
		default:
			revokedPrincipal[r.ID] = domain.PrincipalRevocation{ID: r.ID, RevokedAt: r.RevokedAt}
		}
	}
	kills := func(id string, issuedAt time.Time) bool {
		p, ok := revokedPrincipal[id]
		return ok && p.Kills(issuedAt)
	}
	revoked := make([]bool, len(checks))
	for i, c := range checks {
		revoked[i] = c.JTI != "" && revokedJTI[c.JTI] || c.FamilyID != "" && revokedFam[c.FamilyID] ||
			kills(c.Subject, c.IssuedAt) || kills(c.ClientID, c.IssuedAt)
	}
	return revoked, nil
}

// revocationsQuery is AccessTokensRevoked's statement: IN lists, and only the parts
// that have keys (an empty IN list is a syntax error). The principals come
// first, so that the column's type is the one of revoked_at.
func revocationsQuery(principals, jtis, fams []string) (string, []any) {
	var parts []string
	var args []any
	if len(principals) > 0 {
		parts = append(parts, "SELECT 'p' AS kind, id, revoked_at FROM revoked_principals WHERE id IN (?)")
		args = append(args, bun.In(principals))
	}
	if len(jtis) > 0 {
		parts = append(parts, "SELECT 'j' AS kind, jti AS id, NULL AS revoked_at FROM revoked_access_tokens WHERE jti IN (?)")
		args = append(args, bun.In(jtis))
	}
	if len(fams) > 0 {
		parts = append(parts, "SELECT 'f' AS kind, id, NULL AS revoked_at FROM token_families WHERE id IN (?) AND revoked_at IS NOT NULL")
		args = append(args, bun.In(fams))
	}
	return strings.Join(parts, " UNION ALL "), args
}
