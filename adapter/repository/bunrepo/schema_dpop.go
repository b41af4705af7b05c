package bunrepo

import (
	"context"

	"github.com/uptrace/bun/migrate"
)

// Migrations of issue #10: DPoP (20260308000001) and private_key_jwt (20260308000002).

// clientRequireDPoP and refreshTokenDPoPJKT are the columns of migration
// 20260308000001: a client that must use DPoP (NULL reads as false), and the DPoP
// key thumbprint a public client's refresh token is bound to (NULL: unbound).
func clientRequireDPoP() (string, column) { return "clients", nullCol("require_dpop", typeBool) }

func refreshTokenDPoPJKT() (string, column) {
	return "refresh_tokens", nullCol("dpop_jkt", typeID)
}

// dpopMigration is migration 20260308000001: the replay table and both columns; its
// down step undoes them in reverse order.
func dpopMigration() (up, down migrationFunc) {
	upCol1, downCol1 := addColumn(clientRequireDPoP)
	upCol2, downCol2 := addColumn(refreshTokenDPoPJKT)
	steps := []migrationFunc{createTables(replaySchema), upCol1, upCol2}
	undo := []migrationFunc{downCol2, downCol1, dropTables(replaySchema)}
	return sequence(steps), sequence(undo)
}

// sequence runs migration steps one after the other, stopping at the first error.
// Each step is idempotent, so a sequence interrupted on MySQL can run again.
func sequence(steps []migrationFunc) migrationFunc {
	return func(ctx context.Context, m *migrate.Migrator, mg *migrate.Migration) error {
		for _, s := range steps {
			if err := s(ctx, m, mg); err != nil {
				return err
			}
		}
		return nil
	}
}

// privateKeyJWTMigration is migration 20260308000002: a client's authentication
// method and its keys for private_key_jwt (a JWK Set, or the URL of one). All
// nullable: older rows read as the default method with no keys.
func privateKeyJWTMigration() (up, down migrationFunc) {
	cols := []func() (string, column){
		func() (string, column) { return "clients", nullCol("token_endpoint_auth_method", typeID) },
		func() (string, column) { return "clients", nullCol("jwks", typeText) },
		func() (string, column) { return "clients", nullCol("jwks_uri", typeText) },
	}
	var ups, downs []migrationFunc
	for i := range cols {
		u, d := addColumn(cols[i])
		ups = append(ups, u)
		downs = append([]migrationFunc{d}, downs...)
	}
	return sequence(ups), sequence(downs)
}
