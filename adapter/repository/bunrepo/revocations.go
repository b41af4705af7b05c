package bunrepo

import (
	"context"
	"slices"
	"strings"
	"time"

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

// AccessTokensRevoked answers AccessTokenRevoked for each of checks, in one query: the
// revoked keys among them (a jti on the deny-list, a revoked family, or a subject
// or client revoked as a principal at or after the token's issue,
// domain.PrincipalRevocation.Kills), decided here from the rows found. A decorator
// batches concurrent checks through it.
func (r *TokenRepository) AccessTokensRevoked(ctx context.Context, checks []usecase.RevocationCheck) ([]bool, error) {
	var jtis, fams, principals []string
	for _, c := range checks {
		jtis = appendKey(jtis, c.JTI)
		fams = appendKey(fams, c.FamilyID)
		principals = appendKey(appendKey(principals, c.Subject), c.ClientID)
	}
	jtis, fams, principals = distinct(jtis), distinct(fams), distinct(principals)
	var rows []revocationRow
	if len(principals)+len(jtis)+len(fams) > 0 {
		keys := [][]any{keysOf(principals), keysOf(jtis), keysOf(fams)}
		if err := r.reads.scanLists(ctx, revocationsQuery, keys, &rows); err != nil {
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

func appendKey(list []string, key string) []string {
	if key == "" {
		return list
	}
	return append(list, key)
}

// distinct sorts list and drops repeated keys.
func distinct(list []string) []string {
	slices.Sort(list)
	return slices.Compact(list)
}

// revocationsQuery is AccessTokensRevoked's statement for scanLists: the parts whose
// lists of keys are not empty (an empty IN list is a syntax error), principals, jtis
// and families in that order. The principals come first, so that the column's type
// is the one of revoked_at.
func revocationsQuery(lists []string) string {
	parts := make([]string, 0, 3)
	for i, part := range []string{
		"SELECT 'p' AS kind, id, revoked_at FROM revoked_principals WHERE id IN (%s)",
		"SELECT 'j' AS kind, jti AS id, NULL AS revoked_at FROM revoked_access_tokens WHERE jti IN (%s)",
		"SELECT 'f' AS kind, id, NULL AS revoked_at FROM token_families WHERE id IN (%s) AND revoked_at IS NOT NULL",
	} {
		if lists[i] != "" {
			parts = append(parts, strings.Replace(part, "%s", lists[i], 1))
		}
	}
	return strings.Join(parts, " UNION ALL ")
}
