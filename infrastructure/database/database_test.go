package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url       string
		kind      Kind
		checkDSN  func(t *testing.T, tg *target)
		wantOpen  *int
		wantError string // substring; empty means success
	}{
		{url: "sqlite:./data/gatehouse.db", kind: SQLite, checkDSN: func(t *testing.T, tg *target) {
			if tg.sqlitePath != "./data/gatehouse.db" {
				t.Errorf("path = %q", tg.sqlitePath)
			}
			for _, want := range []string{"_txlock=immediate", "busy_timeout(5000)", "foreign_keys(1)", "journal_mode(WAL)"} {
				if !strings.Contains(tg.sqliteDSN, want) {
					t.Errorf("DSN %q lacks %q", tg.sqliteDSN, want)
				}
			}
		}},
		{url: "sqlite:///var/lib/gh.db?max_open_conns=3", kind: SQLite, wantOpen: ptr(3), checkDSN: func(t *testing.T, tg *target) {
			if tg.sqlitePath != "/var/lib/gh.db" {
				t.Errorf("path = %q", tg.sqlitePath)
			}
			if strings.Contains(tg.sqliteDSN, "max_open_conns") {
				t.Errorf("pool option reached the driver: %q", tg.sqliteDSN)
			}
		}},
		{url: "sqlite::memory:", kind: SQLite},
		{url: "sqlite:file:./gh.db", kind: SQLite, checkDSN: func(t *testing.T, tg *target) {
			if tg.sqlitePath != "./gh.db" {
				t.Errorf("path = %q", tg.sqlitePath)
			}
		}},
		{url: "postgres://u:secret@db.example:6543/gh?sslmode=disable&max_open_conns=7&conn_max_lifetime=1m",
			kind: Postgres, wantOpen: ptr(7), checkDSN: func(t *testing.T, tg *target) {
				if tg.pg.Host != "db.example" || tg.pg.Port != 6543 || tg.pg.Database != "gh" || tg.pg.Password != "secret" {
					t.Errorf("pg config = %s:%d/%s", tg.pg.Host, tg.pg.Port, tg.pg.Database)
				}
				if _, ok := tg.pg.RuntimeParams["max_open_conns"]; ok {
					t.Error("pool option reached the driver as a runtime parameter")
				}
				if tg.pg.DefaultQueryExecMode != pgx.QueryExecModeExec {
					t.Errorf("exec mode = %v", tg.pg.DefaultQueryExecMode)
				}
				if *tg.pool.maxLifetime != time.Minute {
					t.Errorf("lifetime = %v", *tg.pool.maxLifetime)
				}
			}},
		{url: "postgresql://localhost/gh", kind: Postgres},
		{url: "mysql://gh:p%40ss:w@db:3307/gatehouse?max_idle_conns=2&tls=false", kind: MySQL, checkDSN: func(t *testing.T, tg *target) {
			c := tg.my
			if c.User != "gh" || c.Passwd != "p@ss:w" || c.Addr != "db:3307" || c.DBName != "gatehouse" {
				t.Errorf("mysql config = %s %s %s", c.User, c.Addr, c.DBName)
			}
			if !c.ParseTime || c.Loc != time.UTC || !c.ClientFoundRows {
				t.Error("parseTime, UTC and clientFoundRows must be on")
			}
			if _, ok := c.Params["max_idle_conns"]; ok {
				t.Error("pool option reached the driver")
			}
		}},
		{url: "mysql://root@127.0.0.1/", kind: MySQL, checkDSN: func(t *testing.T, tg *target) {
			if tg.my.Addr != "127.0.0.1:3306" {
				t.Errorf("addr = %q, want the default port", tg.my.Addr)
			}
		}},

		{url: "", wantError: "empty"},
		{url: "./gatehouse.db", wantError: "no scheme"},
		{url: "oracle://x", wantError: `unsupported scheme "oracle"`},
		{url: "sqlite:", wantError: "no path"},
		{url: "sqlite:x.db?max_open_conns=-1", wantError: "max_open_conns"},
		{url: "postgres://u:pw@h/db?conn_max_lifetime=soon", wantError: "conn_max_lifetime"},
		{url: "mysql://u:pw@h:notaport/db", wantError: "port"},
		{url: "mysql:///db", wantError: "no host"},
		{url: "mysql://u:pw@h/db?max_open_conns=many", wantError: "max_open_conns"},
		{url: "mysql://u:pw@h/db?tls=maybe", wantError: "mysql URL"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			tg, err := parseURL(tt.url)
			if tt.wantError != "" {
				if err == nil {
					t.Fatalf("no error, want one containing %q", tt.wantError)
				}
				if !errors.Is(err, ErrInvalidURL) {
					t.Errorf("error %v does not wrap ErrInvalidURL", err)
				}
				if !strings.Contains(err.Error(), tt.wantError) {
					t.Errorf("error %q does not contain %q", err, tt.wantError)
				}
				if strings.Contains(err.Error(), "pw") {
					t.Errorf("error %q repeats the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tg.kind != tt.kind {
				t.Errorf("kind = %s, want %s", tg.kind, tt.kind)
			}
			if strings.Contains(tg.where, "secret") {
				t.Errorf("description %q holds the password", tg.where)
			}
			if tt.wantOpen != nil && (tg.pool.maxOpen == nil || *tg.pool.maxOpen != *tt.wantOpen) {
				t.Errorf("max_open_conns not taken")
			}
			if tt.checkDSN != nil {
				tt.checkDSN(t, tg)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestOpenSQLiteCreatesDirectoryAndSetsPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "gh.db")
	db, closeDB, err := Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	ctx := context.Background()
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000", "temp_store": "2",
		"wal_autocheckpoint": fmt.Sprint(sqliteAutoCheckpoint)} {
		var got string
		if err := db.NewRaw("PRAGMA "+pragma).Scan(ctx, &got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
	if err := Ping(ctx, db); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if got := db.DB.Stats().MaxOpenConnections; got != sqliteMaxOpen {
		t.Errorf("max open = %d", got)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := st.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("%s has mode %v, want owner-only", filepath.Base(p), mode)
		}
	}
}

// TestCheckpointerBacksOff: each look at an unchanged WAL doubles the wait, from
// sqliteCheckpointEvery to at most sqliteCheckpointIdle.
func TestCheckpointerBacksOff(t *testing.T) {
	wait, looks := sqliteCheckpointEvery, 0
	for wait < sqliteCheckpointIdle {
		next := backOff(wait)
		if next <= wait {
			t.Fatalf("backOff(%s) = %s: no longer", wait, next)
		}
		wait, looks = next, looks+1
	}
	if wait != sqliteCheckpointIdle || backOff(wait) != sqliteCheckpointIdle {
		t.Errorf("the wait ends at %s, then %s; want %s", wait, backOff(wait), sqliteCheckpointIdle)
	}
	if looks > 8 {
		t.Errorf("%d looks before the wait reaches %s", looks, sqliteCheckpointIdle)
	}
}

// TestSQLiteCheckpointsInBackground: pages committed to the WAL reach the database
// file while the pool is open, though far fewer than the writer's own checkpoint
// waits for (the checkpointer copied them), and the checkpointer stops with the pool.
func TestSQLiteCheckpointsInBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gh.db")
	db, closeDB, err := Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (x BLOB)"); err != nil {
		t.Fatal(err)
	}
	const rows, size = 500, 4000 // about 500 pages: an eighth of sqliteAutoCheckpoint
	commit := func() {
		t.Helper()
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			for range rows {
				if _, err := tx.ExecContext(ctx, "INSERT INTO t (x) VALUES (randomblob(?))", size); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	waitForFile := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() >= want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the database file holds %d bytes 10 s after commits of %d: nothing checkpointed it", st.Size(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	commit()
	waitForFile(rows * size)
	// Idle, the checkpointer looks less and less often, but at least every
	// sqliteCheckpointIdle: a commit after a quiet spell is copied too.
	time.Sleep(3 * sqliteCheckpointIdle)
	commit()
	waitForFile(2 * rows * size)
	var n int
	if err := db.NewRaw("SELECT count(*) FROM t").Scan(ctx, &n); err != nil || n != 2*rows {
		t.Fatalf("count = %d, %v; want %d", n, err, 2*rows)
	}
	closeDB() // stops the checkpointer too; a second pool opens the file cleanly
	db2, close2, err := Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer close2()
	if err := db2.NewRaw("SELECT count(*) FROM t").Scan(ctx, &n); err != nil || n != 2*rows {
		t.Fatalf("after reopening: count = %d, %v; want %d", n, err, 2*rows)
	}
}

func TestOpenSQLiteInMemory(t *testing.T) {
	db, closeDB, err := Open(context.Background(), "sqlite::memory:?max_open_conns=5")
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	ctx := context.Background()
	// Every statement must reach the same (only) connection, or the table vanishes.
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if got := db.DB.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("max open = %d, want 1 for :memory:", got)
	}
}

// Concurrent write transactions on SQLite must queue on the lock, not fail with
// SQLITE_BUSY: BEGIN IMMEDIATE plus busy_timeout.
func TestSQLiteConcurrentWriteTransactions(t *testing.T) {
	db, closeDB, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "gh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE counter (n INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO counter (n) VALUES (0)"); err != nil {
		t.Fatal(err)
	}
	const workers = 32
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			// Read, then write: the pattern that deadlocks deferred transactions.
			errs <- db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				var n int
				if err := tx.QueryRowContext(ctx, "SELECT n FROM counter").Scan(&n); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, "UPDATE counter SET n = ?", n+1)
				return err
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("transaction: %v", err)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT n FROM counter").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != workers {
		t.Errorf("counter = %d, want %d (lost updates)", n, workers)
	}
}

func TestOpenInvalidURL(t *testing.T) {
	_, _, err := Open(context.Background(), "postgres://u:pw@host:99999999/db")
	if !errors.Is(err, ErrInvalidURL) {
		t.Fatalf("err = %v, want ErrInvalidURL", err)
	}
}

func TestOpenUnreachableIsUnavailable(t *testing.T) {
	port := closedPort(t)
	for _, url := range []string{
		fmt.Sprintf("postgres://u:pw@127.0.0.1:%d/db?connect_timeout=2", port),
		fmt.Sprintf("mysql://u:pw@127.0.0.1:%d/db?timeout=2s", port),
	} {
		_, _, err := Open(context.Background(), url)
		if err == nil {
			t.Fatalf("%s: no error", url)
		}
		if errors.Is(err, ErrInvalidURL) {
			t.Errorf("%s: %v is not a URL problem", url, err)
		}
		if !IsUnavailable(err) {
			t.Errorf("%s: IsUnavailable(%v) = false", url, err)
		}
		if strings.Contains(err.Error(), "pw") {
			t.Errorf("error %q holds the password", err)
		}
	}
}

func TestIsUnavailable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{sql.ErrNoRows, false},
		{errors.New("syntax error"), false},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{fmt.Errorf("query: %w", sql.ErrConnDone), true},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, true},
	} {
		if got := IsUnavailable(tt.err); got != tt.want {
			t.Errorf("IsUnavailable(%v) = %v", tt.err, got)
		}
	}
}

// closedPort returns a local TCP port nothing listens on.
func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}
