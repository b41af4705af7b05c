package bunrepo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
)

// Migrations are Go functions rendering per-dialect DDL (schema.go), compiled into the
// binary: nothing to ship beside it, and one list for every backend. Their names sort
// in the order they apply; never rename or edit one that has shipped, add a new one.

const (
	// Own table names, so Gatehouse can share a database with another Bun application.
	migrationsTable     = "gatehouse_migrations"
	migrationLocksTable = "gatehouse_migration_locks"

	// pgMigrationLock is the pg_advisory_lock key serialising migrations ("gatehous").
	pgMigrationLock = 0x6761746568_6f7573
	// migrationLockWait bounds how long a second instance waits for a running migration.
	migrationLockWait = 60 * time.Second
)

// MigrationState is one migration and whether it is applied (gatehouse migrate status).
type MigrationState struct {
	Name       string // e.g. 20260301000001_initial_schema
	Applied    bool
	GroupID    int64     // the run that applied it; Rollback undoes the latest group
	MigratedAt time.Time // UTC; zero when not applied
	// Unknown: applied by a newer version, which this one does not know (listed
	// after the known ones).
	Unknown bool
}

// migrationFunc is the shape of bun's migration functions.
type migrationFunc = func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error

func goMigration(fn func(ctx context.Context, db *bun.DB) error) migrationFunc {
	return func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error {
		return fn(ctx, m.DB())
	}
}

// migrations lists every migration, oldest first. Built on each call: no package state.
func migrations() *migrate.Migrations {
	ms := migrate.NewMigrations()
	add := func(name, comment string, tables func() []tableDef) {
		ms.Add(migrate.Migration{Name: name, Comment: comment, Up: createTables(tables), Down: dropTables(tables)})
	}
	add("20260301000001", "initial_schema", schemaV1)
	add("20260302000001", "authorization_requests", func() []tableDef { return []tableDef{authRequestsTable()} })
	add("20260303000001", "device_authorizations", schemaDevice)
	add("20260304000001", "leases", leasesSchema)
	up, down := addColumn(clientPostLogoutRedirectURIs)
	ms.Add(migrate.Migration{Name: "20260305000001", Comment: "client_post_logout_redirect_uris", Up: up, Down: down})
	up, down = addColumn(signingKeyActivatesAt)
	ms.Add(migrate.Migration{Name: "20260306000001", Comment: "signing_key_activates_at", Up: up, Down: down})
	add("20260307000001", "throttle_counters", throttleSchema)
	up, down = dpopMigration()
	ms.Add(migrate.Migration{Name: "20260308000001", Comment: "dpop", Up: up, Down: down})
	up, down = privateKeyJWTMigration()
	ms.Add(migrate.Migration{Name: "20260308000002", Comment: "client_private_key_jwt", Up: up, Down: down})
	ms.Add(parMigration())
	up, down = addColumn(clientRegistrationTokenHash)
	ms.Add(migrate.Migration{Name: "20260309000002", Comment: "client_registration_token_hash", Up: up, Down: down})
	add("20260310000001", "changes", changesSchema)
	up, down = addColumn(signingKeyRevokedAt)
	ms.Add(migrate.Migration{Name: "20260310000002", Comment: "signing_key_revoked_at", Up: up, Down: down})
	ms.Add(principalsMigration())
	ms.Add(redirectURIConsentsMigration())
	add("20260313000001", "mail_outbox", mailOutboxSchema)
	up, down = addColumn(clientPKCEOptional)
	ms.Add(migrate.Migration{Name: "20260313000002", Comment: "client_pkce_optional", Up: up, Down: down})
	add("20260314000001", "email_tokens", emailTokensSchema)
	ms.Add(backchannelLogoutMigration())
	ms.Add(sessionSeenMigration())
	ms.Add(claimsMigration())
	ms.Add(auditMigration())
	ms.Add(factorsMigration())
	ms.Add(passkeysMigration())
	add("20260402000001", "upstreams", upstreamsSchema)
	add("20260404000001", "protected_resources", protectedResourcesTable)
	ms.Add(unusedClientsMigration())
	add("20260409000001", "scope_descriptions", scopeDescriptionsTable)
	add("20261206000001", "token_issuance", tokenIssuanceTable)
	ms.Add(idTokenAlgMigration())
	up, down = addColumn(userClaimedEmail)
	ms.Add(migrate.Migration{Name: "20261207000001", Comment: "user_claimed_email", Up: up, Down: down})
	ms.Add(usernameSkeletonMigration())
	ms.Add(auditUserMigration())
	return ms
}

// createTables is the up step of a migration that adds tables: each table's DDL for
// the database's dialect (on MySQL in the database's collation, see mysqlCollation).
func createTables(tables func() []tableDef) migrationFunc {
	return goMigration(func(ctx context.Context, db *bun.DB) error {
		d := db.Dialect().Name()
		var coll string
		if d == dialect.MySQL {
			var err error
			if coll, err = mysqlCollation(ctx, db); err != nil {
				return err
			}
		}
		var stmts []string
		for _, t := range tables() {
			stmts = append(stmts, t.createStatements(d, coll)...)
		}
		return execDDL(ctx, db, stmts)
	})
}

// dropTables is the matching down step: referencing tables go first.
func dropTables(tables func() []tableDef) migrationFunc {
	return goMigration(func(ctx context.Context, db *bun.DB) error {
		ts := tables()
		stmts := make([]string, 0, len(ts))
		for i := len(ts) - 1; i >= 0; i-- {
			stmts = append(stmts, ts[i].dropStatement(db.Dialect().Name()))
		}
		return execDDL(ctx, db, stmts)
	})
}

func newMigrator(db *bun.DB) *migrate.Migrator {
	return migrate.NewMigrator(db, migrations(),
		migrate.WithTableName(migrationsTable),
		migrate.WithLocksTableName(migrationLocksTable),
		// Record a migration only once it succeeded, so a failed one runs again.
		migrate.WithMarkAppliedOnSuccess(true),
	)
}

// Migrate applies every pending migration, as one group. Concurrent callers (several
// instances starting at once) are serialised by a database lock.
func Migrate(ctx context.Context, db *bun.DB) error {
	return withMigrationLock(ctx, db, func() error {
		m := newMigrator(db)
		if err := m.Init(ctx); err != nil {
			return wrapErr(err, "create migration tables")
		}
		if _, err := m.Migrate(ctx); err != nil {
			return wrapErr(err, "apply migrations")
		}
		return nil
	})
}

// Rollback undoes the most recently applied group of migrations.
func Rollback(ctx context.Context, db *bun.DB) error {
	return withMigrationLock(ctx, db, func() error {
		m := newMigrator(db)
		if err := m.Init(ctx); err != nil {
			return wrapErr(err, "create migration tables")
		}
		if _, err := m.Rollback(ctx); err != nil {
			return wrapErr(err, "roll back migrations")
		}
		return nil
	})
}

// ErrNoMigrationApplied: RollbackLatest found nothing to roll back.
var ErrNoMigrationApplied = errors.New("no migration is applied")

// UnknownMigrationError: the database holds a migration this binary does not know,
// applied by a newer version. Only that version can undo it, and undoing an older
// one under it could break it.
type UnknownMigrationError struct{ Name string }

func (e *UnknownMigrationError) Error() string {
	return "the database holds migration " + e.Name + ", which this version does not know"
}

// LatestMigration is the migration RollbackLatest would undo, as MigrationState names
// it: ErrNoMigrationApplied when there is none, an *UnknownMigrationError when the
// database holds one this binary does not know.
func LatestMigration(ctx context.Context, db *bun.DB) (string, error) {
	m := newMigrator(db)
	latest, err := latestMigration(ctx, m)
	if err != nil {
		return "", err
	}
	return latest.Name + "_" + latest.Comment, nil
}

// RollbackLatest undoes the latest applied migration alone, not its whole group (on
// a fresh install one group holds every migration, and undoing it drops every
// table), holding the migration lock, and names it. It refuses as LatestMigration
// does.
func RollbackLatest(ctx context.Context, db *bun.DB) (string, error) {
	var name string
	err := withMigrationLock(ctx, db, func() error {
		m := newMigrator(db)
		latest, err := latestMigration(ctx, m)
		if err != nil {
			return err
		}
		name = latest.Name + "_" + latest.Comment
		if latest.Down != nil {
			if err := latest.Down(ctx, m, latest); err != nil {
				return wrapErr(err, "roll back migration %s", name)
			}
		}
		// Marked unapplied once undone, as WithMarkAppliedOnSuccess has bun do.
		if err := m.MarkUnapplied(ctx, latest); err != nil {
			return wrapErr(err, "mark migration %s rolled back", name)
		}
		return nil
	})
	return name, err
}

// latestMigration is the last migration of the latest group, the one bun's Rollback
// undoes first.
func latestMigration(ctx context.Context, m *migrate.Migrator) (*migrate.Migration, error) {
	exists, err := migrationTableExists(ctx, m.DB())
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, ErrNoMigrationApplied
	}
	applied, err := m.AppliedMigrations(ctx)
	if err != nil {
		return nil, wrapErr(err, "read applied migrations")
	}
	known := map[string]bool{}
	for _, mg := range migrations().Sorted() {
		known[mg.Name] = true
	}
	for _, a := range applied {
		if !known[a.Name] {
			return nil, &UnknownMigrationError{Name: a.Name}
		}
	}
	ms, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, wrapErr(err, "read migration status")
	}
	group := ms.LastGroup()
	if len(group.Migrations) == 0 {
		return nil, ErrNoMigrationApplied
	}
	return &group.Migrations[len(group.Migrations)-1], nil
}

// HasSchema reports whether Gatehouse's schema is in the database: at least one
// migration applied. It creates nothing, so the commands that must not create a
// schema can tell a database never migrated (or the wrong one) from theirs.
func HasSchema(ctx context.Context, db *bun.DB) (bool, error) {
	exists, err := migrationTableExists(ctx, db)
	if err != nil || !exists {
		return false, err
	}
	var applied int
	if err := db.NewSelect().Table(migrationsTable).ColumnExpr("count(*)").Scan(ctx, &applied); err != nil {
		return false, wrapErr(err, "count applied migrations")
	}
	return applied > 0, nil
}

// migrationTableExists looks the migrations table up in the catalog (the
// search_path's schemas on PostgreSQL, the connection's database on MySQL).
func migrationTableExists(ctx context.Context, db *bun.DB) (bool, error) {
	var q string
	switch db.Dialect().Name() {
	case dialect.PG:
		q = "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = ? AND schemaname = ANY (current_schemas(false))"
	case dialect.MySQL:
		q = "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
	default:
		q = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	}
	var n int
	if err := db.QueryRowContext(ctx, q, migrationsTable).Scan(&n); err != nil {
		return false, wrapErr(err, "look for the migrations table")
	}
	return n > 0, nil
}

// MigrationStatus lists every known migration, oldest first, with its state. On a
// database without the migrations table every one is pending; nothing is created.
func MigrationStatus(ctx context.Context, db *bun.DB) ([]MigrationState, error) {
	exists, err := migrationTableExists(ctx, db)
	if err != nil {
		return nil, err
	}
	if !exists {
		var out []MigrationState
		for _, mg := range migrations().Sorted() {
			out = append(out, MigrationState{Name: mg.Name + "_" + mg.Comment})
		}
		return out, nil
	}
	m := newMigrator(db)
	ms, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, wrapErr(err, "read migration status")
	}
	out := make([]MigrationState, 0, len(ms))
	known := map[string]bool{}
	for _, mg := range ms {
		known[mg.Name] = true
		s := MigrationState{Name: mg.Name + "_" + mg.Comment, Applied: mg.IsApplied(), GroupID: mg.GroupID}
		if s.Applied {
			s.MigratedAt = mg.MigratedAt.UTC()
		}
		out = append(out, s)
	}
	applied, err := m.AppliedMigrations(ctx)
	if err != nil {
		return nil, wrapErr(err, "read applied migrations")
	}
	for i := len(applied) - 1; i >= 0; i-- { // applied lists the newest first
		a := applied[i]
		if !known[a.Name] {
			name := a.Name
			if a.Comment != "" {
				name += "_" + a.Comment
			}
			out = append(out, MigrationState{Name: name, Applied: true, GroupID: a.GroupID, MigratedAt: a.MigratedAt.UTC(), Unknown: true})
		}
	}
	return out, nil
}

// withMigrationLock runs fn holding a database-wide lock, so that two processes never
// migrate at once. The lock is session-level (PostgreSQL advisory lock, MySQL
// GET_LOCK), so it vanishes with a crashed process instead of wedging every later
// start as a lock row would. SQLite needs none: one process owns the file in practice,
// and its DDL runs in a write transaction.
func withMigrationLock(ctx context.Context, db *bun.DB, fn func() error) error {
	d := db.Dialect().Name()
	if d != dialect.PG && d != dialect.MySQL {
		return fn()
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return wrapErr(err, "reserve a connection for the migration lock")
	}
	defer conn.Close()
	// Release even when ctx is cancelled: the connection goes back to the pool.
	releaseCtx := context.WithoutCancel(ctx)
	if d == dialect.PG {
		lockCtx, cancel := context.WithTimeout(ctx, migrationLockWait)
		defer cancel()
		if _, err := conn.ExecContext(lockCtx, "SELECT pg_advisory_lock(?)", int64(pgMigrationLock)); err != nil {
			return wrapErr(err, "take the migration lock")
		}
		defer func() { _, _ = conn.ExecContext(releaseCtx, "SELECT pg_advisory_unlock(?)", int64(pgMigrationLock)) }()
		return fn()
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(CONCAT('gatehouse_migrate:', DATABASE()), ?)",
		int(migrationLockWait.Seconds())).Scan(&got); err != nil {
		return wrapErr(err, "take the migration lock")
	}
	if !got.Valid || got.Int64 != 1 {
		return fmt.Errorf("take the migration lock: another migration still runs after %s", migrationLockWait)
	}
	defer func() {
		_, _ = conn.ExecContext(releaseCtx, "SELECT RELEASE_LOCK(CONCAT('gatehouse_migrate:', DATABASE()))")
	}()
	return fn()
}

// execDDL runs statements in one transaction where DDL is transactional (PostgreSQL,
// SQLite), so a failure leaves nothing behind. MySQL commits each DDL statement
// implicitly; there the statements are idempotent (IF [NOT] EXISTS) instead.
func execDDL(ctx context.Context, db *bun.DB, stmts []string) error {
	run := func(ctx context.Context, idb bun.IDB) error {
		for _, s := range stmts {
			if _, err := idb.ExecContext(ctx, s); err != nil {
				head, _, _ := strings.Cut(s, " (")
				return fmt.Errorf("%s: %w", head, err)
			}
		}
		return nil
	}
	if db.Dialect().Name() == dialect.MySQL {
		return run(ctx, db)
	}
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return run(ctx, tx) })
}
