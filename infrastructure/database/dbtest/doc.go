// Package dbtest gives tests a fresh, empty database on each backend: a SQLite file in
// t.TempDir(), or a database with a random name created on a running PostgreSQL or
// MySQL/MariaDB server and dropped when the test ends. It knows no schema: tests that
// need Gatehouse's tables open the database through bunrepo/bunrepotest, which
// migrates it.
//
// Servers come from GATEHOUSE_TEST_POSTGRES_URL (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) and
// GATEHOUSE_TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306/). A server that
// cannot be reached skips the test, so `go test ./...` works with nothing but Go;
// GATEHOUSE_TEST_REQUIRE_DBS=1 (CI) turns the skip into a failure.
package dbtest
