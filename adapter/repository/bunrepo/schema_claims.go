package bunrepo

import "github.com/uptrace/bun/migrate"

// claimsMigration is migration 20260317000001: the users' standard profile claims
// and groups, and the OpenID Connect claims request (Core §5.5) that authorization
// requests, codes and refresh tokens carry to the tokens. Every column is nullable:
// older rows read as an empty profile, no groups and no claims request.
//
// Groups are a JSON array of names in the users row (group_names: GROUPS is a
// reserved word in MariaDB), not a table of their own: every grant reads its user
// in the one query that reads the code or refresh token, and a column more costs
// that query nothing, where a table would add a join or a query on the token
// endpoint. Nothing looks users up by group yet; a table can come with that need.
func claimsMigration() migrate.Migration {
	cols := []func() (string, column){
		func() (string, column) { return "users", nullCol("name", typeText) },
		func() (string, column) { return "users", nullCol("given_name", typeText) },
		func() (string, column) { return "users", nullCol("family_name", typeText) },
		func() (string, column) { return "users", nullCol("picture", typeText) },
		func() (string, column) { return "users", nullCol("locale", typeID) },
		func() (string, column) { return "users", nullCol("zoneinfo", typeID) },
		func() (string, column) { return "users", nullCol("phone_number", typeID) },
		func() (string, column) { return "users", nullCol("phone_number_verified", typeBool) },
		func() (string, column) { return "users", nullCol("group_names", typeText) },
		func() (string, column) { return "authorization_requests", nullCol("requested_claims", typeText) },
		func() (string, column) { return "authorization_codes", nullCol("requested_claims", typeText) },
		func() (string, column) { return "refresh_tokens", nullCol("requested_claims", typeText) },
	}
	var ups, downs []migrationFunc
	for _, def := range cols {
		u, d := addColumn(def)
		ups = append(ups, u)
		downs = append([]migrationFunc{d}, downs...)
	}
	return migrate.Migration{Name: "20260317000001", Comment: "user_claims", Up: sequence(ups), Down: sequence(downs)}
}
