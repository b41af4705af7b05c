// Package database opens Gatehouse's SQL database from one URL and knows the three
// drivers behind it: the pure-Go SQLite (modernc.org/sqlite, so the binary builds with
// CGO_ENABLED=0), PostgreSQL through pgx, and MySQL/MariaDB through go-sql-driver.
//
// It also classifies driver errors (unreachable, unique or foreign-key violation,
// deadlock) so that repositories can translate them into domain errors without
// importing any driver themselves. It holds no OAuth rules.
package database
