package batchrepo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/infrastructure/database"
)

func openScratchSQLite(t *testing.T) *bun.DB {
	t.Helper()
	db, closeDB, err := database.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeDB)
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE scratch (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return db
}

func scratchKeys(t *testing.T, db *bun.DB) map[string]bool {
	t.Helper()
	var keys []string
	if err := db.NewRaw("SELECT k FROM scratch").Scan(t.Context(), &keys); err != nil {
		t.Fatal(err)
	}
	got := make(map[string]bool, len(keys))
	for _, k := range keys {
		got[k] = true
	}
	return got
}

// TestGroupCommit holds the first write's transaction open until most of a group's
// worth of writes wait, so that they run as one group, in which every fourth write writes and then fails.
// Each caller must get its own result, the failed writes must leave nothing behind,
// and the others must all commit.
func TestGroupCommit(t *testing.T) {
	db := openScratchSQLite(t)
	g := NewGroupCommit(db)
	if !g.enabled {
		t.Fatal("group commit is off on SQLite")
	}
	const waiting = maxGroupWrites - 8
	errBoom := errors.New("boom")
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- g.Write(t.Context(), func(ctx context.Context, tx bun.Tx) error {
			<-release
			_, err := tx.ExecContext(ctx, "INSERT INTO scratch (k, v) VALUES ('first', 0)")
			return err
		})
	}()
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.running })

	errs := make([]error, waiting)
	var wg sync.WaitGroup
	for i := range waiting {
		wg.Go(func() {
			errs[i] = g.Write(t.Context(), func(ctx context.Context, tx bun.Tx) error {
				if _, err := tx.ExecContext(ctx, "INSERT INTO scratch (k, v) VALUES (?, ?)", fmt.Sprint("k", i), i); err != nil {
					return err
				}
				if i%4 == 0 {
					return fmt.Errorf("write %d: %w", i, errBoom)
				}
				return nil
			})
		})
	}
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.pending) == waiting })
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("first write: %v", err)
	}
	if n := g.groupCount(); n != 1 {
		t.Errorf("%d groups ran, want the %d waiting writes in 1", n, waiting)
	}
	keys := scratchKeys(t, db)
	for i, err := range errs {
		k := fmt.Sprint("k", i)
		if i%4 == 0 {
			if !errors.Is(err, errBoom) {
				t.Errorf("write %d: err = %v, want its own error", i, err)
			}
			if keys[k] {
				t.Errorf("write %d failed but its row %s was committed", i, k)
			}
			continue
		}
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
		if !keys[k] {
			t.Errorf("write %d succeeded but its row %s is missing", i, k)
		}
	}
	if !keys["first"] {
		t.Error("the first write's row is missing")
	}
}

// TestGroupCommitSurvivesPanic: a write that panics fails alone, and the writes after
// it, in its group and later, still run.
func TestGroupCommitSurvivesPanic(t *testing.T) {
	db := openScratchSQLite(t)
	g := NewGroupCommit(db)
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- g.Write(t.Context(), func(ctx context.Context, tx bun.Tx) error {
			<-release
			panic("a bug")
		})
	}()
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.running })
	grouped := make(chan error, 2)
	for i := range 2 {
		go func() {
			grouped <- g.Write(t.Context(), func(ctx context.Context, tx bun.Tx) error {
				if i == 0 {
					panic("another bug")
				}
				_, err := tx.ExecContext(ctx, "INSERT INTO scratch (k, v) VALUES ('grouped', 1)")
				return err
			})
		}()
	}
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.pending) == 2 })
	close(release)
	if err := <-first; err == nil || !strings.Contains(err.Error(), "a bug") {
		t.Errorf("panicking write: err = %v", err)
	}
	failed := 0
	for range 2 {
		if err := <-grouped; err != nil {
			failed++
			if !strings.Contains(err.Error(), "another bug") {
				t.Errorf("grouped write: err = %v", err)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d grouped writes failed, want the panicking one", failed)
	}
	if err := g.Write(t.Context(), func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO scratch (k, v) VALUES ('later', 2)")
		return err
	}); err != nil {
		t.Fatalf("a later write: %v", err)
	}
	if keys := scratchKeys(t, db); !keys["grouped"] || !keys["later"] || len(keys) != 2 {
		t.Errorf("rows = %v, want grouped and later", keys)
	}
}

// TestGroupCommitSkipsCancelledWrite: a write whose caller gave up before its group
// started is not run, and its caller hears so; the rest of the group commits.
func TestGroupCommitSkipsCancelledWrite(t *testing.T) {
	db := openScratchSQLite(t)
	g := NewGroupCommit(db)
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- g.Write(t.Context(), func(ctx context.Context, tx bun.Tx) error {
			<-release
			return nil
		})
	}()
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.running })
	ctx, cancel := context.WithCancel(t.Context())
	ran := false
	cancelled := make(chan error, 1)
	go func() {
		cancelled <- g.Write(ctx, func(ctx context.Context, tx bun.Tx) error {
			ran = true
			_, err := tx.ExecContext(ctx, "INSERT INTO scratch (k, v) VALUES ('cancelled', 1)")
			return err
		})
	}()
	kept := make(chan error, 1)
	go func() {
		kept <- g.Write(t.Context(), func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO scratch (k, v) VALUES ('kept', 2)")
			return err
		})
	}()
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.pending) == 2 })
	cancel()
	close(release)
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled write: err = %v, want context.Canceled", err)
	}
	if err := <-kept; err != nil {
		t.Errorf("kept write: %v", err)
	}
	if err := <-first; err != nil {
		t.Errorf("first write: %v", err)
	}
	if ran {
		t.Error("the cancelled write ran")
	}
	if keys := scratchKeys(t, db); keys["cancelled"] || !keys["kept"] {
		t.Errorf("rows = %v, want kept only", keys)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommit_PreparedStoresWhatBunWould writes one row of every argument type the
// hot writes use twice: through a prepared statement with bound arguments (exec) and
// through Bun's formatting, and requires the database to hold the same type and value
// for each, since reads and comparisons (expires_at < ?) rely on Bun's forms. It also
// requires that exec took the prepared path, and fell back to Bun for a type it does
// not know.
func TestGroupCommit_PreparedStoresWhatBunWould(t *testing.T) {
	db := openScratchSQLite(t)
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, "CREATE TABLE typed (k TEXT PRIMARY KEY, s TEXT, b BLOB, n INTEGER, tm TEXT, z TEXT)"); err != nil {
		t.Fatal(err)
	}
	const insert = "INSERT INTO typed (k, s, b, n, tm, z) VALUES (?, ?, ?, ?, ?, ?)"
	g := NewGroupCommit(db)
	g.Prepare(insert)
	when := time.Date(2026, 12, 6, 3, 4, 5, 123456789, time.FixedZone("X", 3600))
	row := func(k string) []any { return []any{k, "it's ü", []byte{0, 1, 0xfe}, int64(42), when, nil} }
	if err := g.Write(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := g.exec(ctx, tx, insert, row("prepared")...)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if g.stmts.Prepared(insert) == nil {
		t.Fatal("the statement was not prepared")
	}
	if _, err := db.NewRaw(insert, row("bun")...).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	const show = "SELECT typeof(s) || ':' || s || '|' || typeof(b) || ':' || hex(b) || '|' || typeof(n) || ':' || n || '|' || " +
		"typeof(tm) || ':' || tm || '|' || typeof(z) FROM typed WHERE k = ?"
	var prepared, formatted string
	if err := db.NewRaw(show, "prepared").Scan(ctx, &prepared); err != nil {
		t.Fatal(err)
	}
	if err := db.NewRaw(show, "bun").Scan(ctx, &formatted); err != nil {
		t.Fatal(err)
	}
	if prepared != formatted {
		t.Fatalf("prepared write stored %q, Bun's %q", prepared, formatted)
	}
	if want := "text:2026-12-06 02:04:05.123456+00:00"; !strings.Contains(prepared, want) {
		t.Fatalf("stored %q, want the time as %q", prepared, want)
	}
	if _, ok := sqliteArgs([]any{true}); ok {
		t.Fatal("sqliteArgs accepted a bool, whose form it does not know")
	}
}

// TestGroupCommit_LockHeldElsewhereEndsWithBusyTimeout: a group runs without a
// deadline of its own (a context that can end would cost each SQLite statement a
// goroutine in the driver), so what bounds it while another process holds SQLite's
// write lock is busy_timeout. Here a second connection, as a CLI command would, holds
// the lock: the group's writes must fail with SQLite's busy error, not wait for ever,
// and a write after the lock is released must commit. (About 10 s: the first write
// runs alone and waits out busy_timeout's 5 s, then the two others as a group.)
func TestGroupCommit_LockHeldElsewhereEndsWithBusyTimeout(t *testing.T) {
	t.Parallel()
	url := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	db, closeDB, err := database.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeDB)
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE scratch (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	other, closeOther, err := database.OpenSide(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeOther)
	held, err := other.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE (_txlock=immediate)
	if err != nil {
		t.Fatal(err)
	}

	g := NewGroupCommit(db)
	start := time.Now()
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			errs[i] = g.Write(context.Background(), func(ctx context.Context, tx bun.Tx) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO scratch (k, v) VALUES (?, ?)", fmt.Sprint("k", i), i)
				return err
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, domain.ErrUnavailable) || !strings.Contains(err.Error(), "SQLITE_BUSY") {
			t.Errorf("write %d while the lock was held elsewhere: err = %v, want SQLite's busy error as ErrUnavailable", i, err)
		}
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the writes took %v to fail; busy_timeout is 5 s", d)
	}

	if err := held.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := g.Write(context.Background(), func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO scratch (k, v) VALUES ('after', 1)")
		return err
	}); err != nil {
		t.Fatalf("write after the lock was released: %v", err)
	}
	if keys := scratchKeys(t, db); !keys["after"] || len(keys) != 1 {
		t.Errorf("rows = %v, want only the write made after the lock was released", keys)
	}
}
