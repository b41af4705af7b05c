// Package bunrepotest gives tests a database with Gatehouse's schema: a fresh database
// from infrastructure/database/dbtest (a SQLite file in t.TempDir(), or a database
// created on the test PostgreSQL or MySQL/MariaDB server and dropped when the test
// ends), opened and migrated by bunrepo. A new SQLite file starts as a copy of one
// the process migrated once.
//
// The schema belongs to the repositories, so this helper lives beside them and dbtest
// stays below the adapters: it only makes, opens and drops databases.
package bunrepotest
