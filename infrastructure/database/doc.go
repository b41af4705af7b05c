// Package database opens Gatehouse's SQL database from one URL and knows the three
// drivers behind it: the pure-Go SQLite (modernc.org/sqlite, so the binary builds with
// CGO_ENABLED=0), PostgreSQL through pgx, and MySQL/MariaDB through go-sql-driver.
//
// Besides the pool, it opens connections of their own for background work that must
// neither wait for the pool nor take from it: OpenSide (one connection; the change feed
// polls SQLite's data_version or MariaDB's counters through it) and ListenPostgres (a
// pgx connection LISTENing on a channel, reconnecting with back-off).
//
// It also classifies driver errors (unreachable, unique or foreign-key violation,
// deadlock) so that repositories can translate them into domain errors without
// importing any driver themselves. It holds no OAuth rules.
package database
