package bunrepo

import (
	"context"
	"fmt"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// The schema is described once, in Go, and rendered into each dialect's DDL: the
// types differ (BYTEA, VARBINARY, BLOB; TIMESTAMPTZ, DATETIME(6)), and MySQL wants
// its indexes inside CREATE TABLE (it has no CREATE INDEX IF NOT EXISTS), but the
// tables, keys and indexes are the same everywhere.

// colType is a portable column type.
type colType int

const (
	// typeID is a short string that is compared or indexed: ids, names, usernames.
	typeID colType = iota
	// typeText is free text: JSON lists, redirect URIs, password hashes.
	typeText
	// typeHash is a keyed hash used as a key (at most 64 bytes).
	typeHash
	// typeBlob is opaque bytes that are never compared (key material).
	typeBlob
	// typeTime is an instant, stored in UTC with microseconds.
	typeTime
	typeBool
	// typeInt is a small whole number (a count of seconds, say).
	typeInt
	// typeBigInt is a 64-bit counter.
	typeBigInt
)

func (t colType) sql(d dialect.Name) string {
	switch d {
	case dialect.PG:
		return [...]string{"VARCHAR(255)", "TEXT", "BYTEA", "BYTEA", "TIMESTAMPTZ", "BOOLEAN", "INTEGER", "BIGINT"}[t]
	case dialect.MySQL:
		// VARCHAR(255) keeps utf8mb4 keys within InnoDB's 3072-byte index limit;
		// MEDIUMTEXT leaves room for many redirect URIs of up to 2000 characters.
		return [...]string{"VARCHAR(255)", "MEDIUMTEXT", "VARBINARY(64)", "BLOB", "DATETIME(6)", "BOOLEAN", "INTEGER", "BIGINT"}[t]
	default:
		// SQLite: a declared TIMESTAMP makes the driver hand back time.Time.
		return [...]string{"TEXT", "TEXT", "BLOB", "BLOB", "TIMESTAMP", "BOOLEAN", "INTEGER", "INTEGER"}[t]
	}
}

type column struct {
	name     string
	typ      colType
	nullable bool
}

// index is a secondary index; every lookup and every foreign key has one.
type index struct {
	columns []string
	unique  bool
}

// foreignKey references another table's primary key. Rows die with what they
// belong to (ON DELETE CASCADE): deleting a user deletes their sessions, codes,
// consents and refresh tokens.
type foreignKey struct {
	column, refTable, refColumn string
}

type tableDef struct {
	name        string
	columns     []column
	primaryKey  []string
	indexes     []index
	foreignKeys []foreignKey
}

func col(name string, t colType) column     { return column{name: name, typ: t} }
func nullCol(name string, t colType) column { return column{name: name, typ: t, nullable: true} }
func idx(cols ...string) index              { return index{columns: cols} }
func uniq(cols ...string) index             { return index{columns: cols, unique: true} }

// schemaV1 is the first schema, in creation order (referenced tables first).
func schemaV1() []tableDef {
	return []tableDef{
		{
			name: "users",
			columns: []column{
				col("id", typeID), col("username", typeID),
				// NULL when empty: unique indexes ignore NULLs on every backend.
				nullCol("email", typeID),
				col("email_verified", typeBool), col("password_hash", typeText),
				col("created_at", typeTime), col("updated_at", typeTime),
			},
			primaryKey: []string{"id"},
			indexes:    []index{uniq("username"), uniq("email")},
		},
		{
			name: "clients",
			columns: []column{
				col("id", typeID), col("name", typeID),
				nullCol("secret_hash", typeHash), // NULL for public clients
				col("public", typeBool),
				col("redirect_uris", typeText), col("grant_types", typeText),
				col("scopes", typeText), col("audiences", typeText),
				col("skip_consent", typeBool), col("id_token_alg", typeID),
				col("created_at", typeTime), col("updated_at", typeTime),
			},
			primaryKey: []string{"id"},
			indexes:    []index{uniq("name")},
		},
		{
			name: "authorization_codes",
			columns: []column{
				col("hash", typeHash), col("client_id", typeID), col("user_id", typeID),
				col("redirect_uri", typeText), col("scope", typeText), col("audience", typeText),
				col("code_challenge", typeID), col("nonce", typeText),
				nullCol("auth_time", typeTime), col("session_id", typeID), col("family_id", typeID),
				col("created_at", typeTime), col("expires_at", typeTime), nullCol("used_at", typeTime),
			},
			primaryKey:  []string{"hash"},
			indexes:     []index{idx("client_id"), idx("user_id"), idx("expires_at")},
			foreignKeys: []foreignKey{{"client_id", "clients", "id"}, {"user_id", "users", "id"}},
		},
		{
			// A family is the record of one grant. It has no foreign keys: RevokeFamily may
			// create it before its grant does (a placeholder with NULL client and user), and
			// the revocation of a deleted user's families must outlive the user.
			name: "token_families",
			columns: []column{
				col("id", typeID),
				nullCol("client_id", typeID), nullCol("user_id", typeID), nullCol("session_id", typeID),
				col("created_at", typeTime), nullCol("expires_at", typeTime), nullCol("revoked_at", typeTime),
			},
			primaryKey: []string{"id"},
			indexes:    []index{idx("user_id"), idx("session_id"), idx("expires_at")},
		},
		{
			name: "refresh_tokens",
			columns: []column{
				col("hash", typeHash), col("family_id", typeID),
				col("client_id", typeID), col("user_id", typeID),
				col("scope", typeText), col("audience", typeText),
				nullCol("auth_time", typeTime), col("nonce", typeText), col("session_id", typeID),
				col("created_at", typeTime), col("expires_at", typeTime),
				nullCol("rotated_at", typeTime), nullCol("revoked_at", typeTime),
			},
			primaryKey: []string{"hash"},
			indexes:    []index{idx("family_id"), idx("client_id"), idx("user_id"), idx("expires_at")},
			foreignKeys: []foreignKey{
				{"family_id", "token_families", "id"}, {"client_id", "clients", "id"}, {"user_id", "users", "id"},
			},
		},
		{
			name:       "revoked_access_tokens",
			columns:    []column{col("jti", typeID), col("expires_at", typeTime)},
			primaryKey: []string{"jti"},
			indexes:    []index{idx("expires_at")},
		},
		{
			name: "consents",
			columns: []column{
				col("user_id", typeID), col("client_id", typeID),
				col("scope", typeText), col("granted_at", typeTime),
			},
			primaryKey:  []string{"user_id", "client_id"},
			indexes:     []index{idx("client_id")},
			foreignKeys: []foreignKey{{"user_id", "users", "id"}, {"client_id", "clients", "id"}},
		},
		{
			name: "sessions",
			columns: []column{
				col("id", typeID), col("secret_hash", typeHash), col("user_id", typeID),
				col("auth_time", typeTime), col("created_at", typeTime), col("expires_at", typeTime),
			},
			primaryKey:  []string{"id"},
			indexes:     []index{uniq("secret_hash"), idx("user_id"), idx("expires_at")},
			foreignKeys: []foreignKey{{"user_id", "users", "id"}},
		},
		{
			name: "signing_keys",
			columns: []column{
				col("id", typeID), col("alg", typeID),
				// active_alg is alg while the key signs and NULL once retired: its unique
				// index lets the database itself refuse a second active key of an alg,
				// without partial indexes (which MariaDB lacks).
				nullCol("active_alg", typeID),
				col("private_key", typeBlob), col("public_key", typeBlob),
				col("created_at", typeTime), nullCol("retired_at", typeTime), nullCol("expires_at", typeTime),
			},
			primaryKey: []string{"id"},
			indexes:    []index{uniq("active_alg")},
		},
	}
}

func (ix index) name(table string) string {
	suffix := "idx"
	if ix.unique {
		suffix = "key"
	}
	return table + "_" + strings.Join(ix.columns, "_") + "_" + suffix
}

func quoteList(d dialect.Name, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoteIdent(d, n)
	}
	return strings.Join(q, ", ")
}

func quoteIdent(d dialect.Name, name string) string {
	if d == dialect.MySQL {
		return "`" + name + "`"
	}
	return `"` + name + `"`
}

// createStatements renders t for dialect d. Every statement is IF NOT EXISTS, so a
// migration interrupted on MySQL (whose DDL cannot be rolled back) can simply run again.
func (t tableDef) createStatements(d dialect.Name, mysqlCollation string) []string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (\n", quoteIdent(d, t.name))
	var parts []string
	for _, c := range t.columns {
		s := "  " + quoteIdent(d, c.name) + " " + c.typ.sql(d)
		if !c.nullable {
			s += " NOT NULL"
		}
		parts = append(parts, s)
	}
	parts = append(parts, "  PRIMARY KEY ("+quoteList(d, t.primaryKey)+")")
	if d == dialect.MySQL {
		for _, ix := range t.indexes {
			kind := "INDEX"
			if ix.unique {
				kind = "UNIQUE INDEX"
			}
			parts = append(parts, fmt.Sprintf("  %s %s (%s)", kind, quoteIdent(d, ix.name(t.name)), quoteList(d, ix.columns)))
		}
	}
	for _, fk := range t.foreignKeys {
		parts = append(parts, fmt.Sprintf("  CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (%s) ON DELETE CASCADE",
			quoteIdent(d, t.name+"_"+fk.column+"_fkey"), quoteIdent(d, fk.column),
			quoteIdent(d, fk.refTable), quoteIdent(d, fk.refColumn)))
	}
	b.WriteString(strings.Join(parts, ",\n"))
	b.WriteString("\n)")
	if d == dialect.MySQL {
		fmt.Fprintf(&b, " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=%s", mysqlCollation)
	}
	stmts := []string{b.String()}
	if d != dialect.MySQL {
		for _, ix := range t.indexes {
			unique := ""
			if ix.unique {
				unique = "UNIQUE "
			}
			stmts = append(stmts, fmt.Sprintf("CREATE %sINDEX IF NOT EXISTS %s ON %s (%s)",
				unique, quoteIdent(d, ix.name(t.name)), quoteIdent(d, t.name), quoteList(d, ix.columns)))
		}
	}
	return stmts
}

func (t tableDef) dropStatement(d dialect.Name) string {
	return "DROP TABLE IF EXISTS " + quoteIdent(d, t.name)
}

// mysqlCollation picks a binary collation without trailing-space padding, so that
// "app" and "app " are different names, as they are on PostgreSQL and SQLite.
func mysqlCollation(ctx context.Context, db bun.IDB) (string, error) {
	var version string
	if err := db.NewRaw("SELECT VERSION()").Scan(ctx, &version); err != nil {
		return "", fmt.Errorf("read server version: %w", err)
	}
	switch {
	case strings.Contains(strings.ToLower(version), "mariadb"):
		return "utf8mb4_nopad_bin", nil // MariaDB 10.2+
	case version >= "8":
		return "utf8mb4_0900_bin", nil // MySQL 8, NO PAD
	default:
		return "utf8mb4_bin", nil
	}
}
