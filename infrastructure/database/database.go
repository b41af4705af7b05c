package database

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"

	// The pure-Go SQLite driver registers itself as "sqlite"; it needs no cgo.
	_ "modernc.org/sqlite"
)

// Pool defaults. A server process shares one pool; these numbers suit a small
// deployment and can be changed on the URL (max_open_conns, max_idle_conns,
// conn_max_lifetime, conn_max_idle_time).
const (
	defaultMaxOpen = 20
	// As many idle as open: with fewer, every burst closed the connections beyond
	// the idle pool and opened them again (a PostgreSQL backend forked each time),
	// which cost introspection on PostgreSQL almost half its rate (BENCHMARKS.md).
	defaultMaxIdle     = 20
	defaultMaxLifetime = 30 * time.Minute
	defaultMaxIdleTime = 5 * time.Minute

	// SQLite has one writer at a time, and a writer that finds the lock taken sleeps
	// in busy_timeout's back-off (1, 2, 5 … 100 ms): with eight connections, refresh
	// under load spent its time asleep. One connection queues the requests in
	// database/sql instead, handed over at once; reads take microseconds in process,
	// so they lose little by waiting their turn, and refresh got faster (BENCHMARKS.md).
	// Raise it with ?max_open_conns=N for a read-mostly load.
	sqliteMaxOpen = 1

	// openPingTimeout bounds the connectivity check in Open.
	openPingTimeout = 10 * time.Second
	// pingTimeout bounds Ping, which readiness probes call often.
	pingTimeout = 2 * time.Second
)

// Open connects to the database named by url:
//
//	sqlite:PATH                         (pure-Go SQLite; the directory is created)
//	postgres://user:pass@host:port/db   (pgx)
//	mysql://user:pass@host:port/db      (go-sql-driver; MySQL 8 or MariaDB 10.11)
//
// Query parameters max_open_conns, max_idle_conns, conn_max_lifetime and
// conn_max_idle_time tune the pool; other parameters go to the driver. Open checks
// that the database answers. An error wrapping ErrInvalidURL means the URL itself is
// wrong. The returned function closes the pool (Wire chains it as a cleanup).
func Open(ctx context.Context, url string) (*bun.DB, func(), error) {
	return open(ctx, url, false)
}

// OpenSide opens the database at url like Open, but with one connection of its own,
// outside the server's pool, for a background task that must neither wait for the
// pool's connections under load nor take one from it: the change feed polls through
// it (SQLite's data_version is per connection). It never creates the SQLite file, and
// starts no checkpointer.
func OpenSide(ctx context.Context, url string) (*bun.DB, func(), error) {
	return open(ctx, url, true)
}

func open(ctx context.Context, url string, side bool) (*bun.DB, func(), error) {
	t, err := parseURL(url)
	if err != nil {
		return nil, nil, err
	}
	if side {
		one := 1
		t.pool = poolOptions{maxOpen: &one, maxIdle: &one}
	}

	var (
		sqldb   *sql.DB
		dialect schema.Dialect
	)
	switch t.kind {
	case SQLite:
		if t.sqlitePath != ":memory:" && !side {
			if err := os.MkdirAll(filepath.Dir(t.sqlitePath), 0o750); err != nil {
				return nil, nil, fmt.Errorf("create directory for %s: %w", t.where, err)
			}
			// The file holds password hashes and sealed private keys: readable by its
			// owner only. SQLite gives its -wal and -shm files the same mode.
			f, err := os.OpenFile(t.sqlitePath, os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				return nil, nil, fmt.Errorf("create %s: %w", t.where, err)
			}
			_ = f.Close()
		}
		sqldb, err = sql.Open("sqlite", t.sqliteDSN)
		if err != nil {
			return nil, nil, fmt.Errorf("open %s: %w", t.where, err)
		}
		dialect = sqlitedialect.New()
	case Postgres:
		sqldb = stdlib.OpenDB(*t.pg)
		dialect = pgdialect.New()
	case MySQL:
		connector, err := mysql.NewConnector(t.my)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: mysql: %v", ErrInvalidURL, err)
		}
		sqldb = sql.OpenDB(connector)
		// Values are written in UTC; without this the dialect would format them in
		// whatever zone the time.Time carries.
		dialect = mysqldialect.New(mysqldialect.WithTimeLocation("UTC"))
	}
	t.configurePool(sqldb)

	// Check before bun.NewDB: the MySQL dialect asks the server's version there to
	// decide which SQL features it may use.
	pingCtx, cancel := context.WithTimeout(ctx, openPingTimeout)
	defer cancel()
	if err := ping(pingCtx, sqldb); err != nil {
		_ = sqldb.Close()
		return nil, nil, fmt.Errorf("connect to %s: %w", t.where, err)
	}

	db := bun.NewDB(sqldb, dialect, bun.WithDiscardUnknownColumns())
	if t.kind == SQLite && t.sqlitePath != ":memory:" && !side {
		ck, err := startCheckpointer(t.sqliteDSN, t.sqlitePath)
		if err != nil {
			_ = db.Close()
			return nil, nil, fmt.Errorf("%s: %w", t.where, err)
		}
		return db, func() { ck.close(); _ = db.Close() }, nil
	}
	return db, func() { _ = db.Close() }, nil
}

// ping checks the connection. A new SQLite connection runs its pragmas, and switching
// a fresh file to WAL needs the write lock: while another process holds it (an
// instance migrating the same file) the ping is retried until ctx ends, instead of
// failing start-up with SQLITE_BUSY.
func ping(ctx context.Context, db *sql.DB) error {
	for {
		err := db.PingContext(ctx)
		if err == nil || !isSQLiteBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (t *target) configurePool(db *sql.DB) {
	maxOpen, maxIdle := defaultMaxOpen, defaultMaxIdle
	lifetime, idleTime := defaultMaxLifetime, defaultMaxIdleTime
	if t.kind == SQLite {
		// Opening a SQLite connection re-runs the pragmas; keep connections around.
		maxOpen, maxIdle, lifetime, idleTime = sqliteMaxOpen, sqliteMaxOpen, 0, 0
		if t.sqlitePath == ":memory:" {
			// Every connection to :memory: is a database of its own: keep exactly one,
			// forever, or the data vanishes.
			maxOpen, maxIdle = 1, 1
		}
	}
	p := t.pool
	if p.maxOpen != nil && !(t.kind == SQLite && t.sqlitePath == ":memory:") {
		maxOpen = *p.maxOpen
	}
	if p.maxIdle != nil {
		maxIdle = *p.maxIdle
	}
	if p.maxLifetime != nil {
		lifetime = *p.maxLifetime
	}
	if p.maxIdleTime != nil {
		idleTime = *p.maxIdleTime
	}
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(maxIdle)
	db.SetConnMaxLifetime(lifetime)
	db.SetConnMaxIdleTime(idleTime)
}

// Ping checks that the database answers, within a short timeout: what /readyz needs.
func Ping(ctx context.Context, db *bun.DB) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}
