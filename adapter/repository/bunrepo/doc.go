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
//
// Changes that every instance must see at once. Instances keep clients (a few seconds)
// and signing keys (until the next reload) in memory, so every method that updates or
// deletes a client, or writes a signing key, records the change in the same
// transaction with one call, last in the transaction:
//
//	return markChanged(ctx, tx, TopicClients) // or TopicKeys
//
// (a single-statement write becomes a transaction of two statements: the write, then
// the call). markChanged bumps the topic's counter in the changes table and, on
// PostgreSQL, sends a notification that is delivered when the transaction commits; a
// write that fails or finds nothing rolls back and announces nothing. ChangeFeed, run
// by `gatehouse serve`, turns these into "drop the cached clients" and "reload the
// keys" on every instance within a second. Inserting a client needs no call (no
// instance keeps a client it did not find). A new topic (users, upstreams) is a
// constant and a line in Topics; its counter row is created by its first bump.
package bunrepo
