// Package bunrepo stores Gatehouse's entities with Bun, on SQLite, PostgreSQL and
// MySQL/MariaDB alike: one set of row models, one set of Go migrations that render
// per-dialect DDL from a single table description, and one repository per port of
// package usecase.
//
// Storage choices, the same on every backend:
//   - hashes (codes, refresh tokens, session secrets, client secrets) are raw bytes:
//     BYTEA, VARBINARY(64) (a key on MariaDB cannot be a BLOB), BLOB in SQLite;
//   - lists (redirect URIs, grant types, scopes, audiences) are JSON arrays in a text
//     column: portable, and safe for any string, unlike a separator;
//   - times are UTC with microsecond precision (TIMESTAMPTZ, DATETIME(6), text in
//     SQLite) and are read back in UTC; a zero optional time is NULL;
//   - text comparisons are byte-exact (binary collation on MariaDB), so a username or
//     client name is unique exactly as PostgreSQL and SQLite see it;
//   - an empty email is NULL, so any number of users may have none.
//
// Repositories speak the error vocabulary of the ports: sql.ErrNoRows becomes
// domain.ErrNotFound, unique violations domain.ErrDuplicate, a missing referenced row
// (foreign key) domain.ErrNotFound, an unreachable database a wrapped
// domain.ErrUnavailable; everything else is wrapped with what was being done.
// Single use (codes, refresh-token rotation) is decided by conditional updates in the
// database, never by a read followed by a write in Go.
package bunrepo
