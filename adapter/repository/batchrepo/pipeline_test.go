package batchrepo_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"gatehouse/adapter/repository/batchrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/infrastructure/database"
	"gatehouse/infrastructure/database/dbtest"
)

// TestPipeline holds the first write's batch on a row lock until 40 more writes and a
// cancelled one wait, so that they go as one batch, in which every fourth write fails
// (a duplicate key). PostgreSQL then rolls the batch back: each write must run again
// alone and get its own outcome, the failed ones leaving nothing and the others
// committed once; the cancelled write must not run. A second batch without a failure
// commits as one.
func TestPipeline(t *testing.T) {
	ctx := t.Context()
	db := bunrepotest.Open(t, withPool(t, dbtest.Postgres(t), 4))
	for _, q := range []string{
		"CREATE TABLE scratch (k text PRIMARY KEY, v integer NOT NULL)",
		"INSERT INTO scratch (k, v) VALUES ('blocker', 0), ('taken', 0)",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	p := batchrepo.NewPipeline(db)

	release, first := blockPipeline(t, db, p)

	const writes = 40
	errs := make([]error, writes)
	var wg sync.WaitGroup
	for i := range writes {
		wg.Go(func() {
			k := fmt.Sprint("k", i)
			if i%4 == 0 {
				k = "taken"
			}
			var n int64
			n, errs[i] = p.Exec(ctx, k, "INSERT INTO scratch (k, v) VALUES ($1, $2)", k, i)
			if errs[i] == nil && n != 1 {
				errs[i] = fmt.Errorf("%d rows inserted", n)
			}
		})
	}
	cctx, cancel := context.WithCancel(ctx)
	cancelled := make(chan error, 1)
	go func() {
		_, err := p.Exec(cctx, "cancelled", "INSERT INTO scratch (k, v) VALUES ('cancelled', 0)")
		cancelled <- err
	}()
	waitUntil(t, "41 writes wait", func() bool { return p.Waiting() == writes+1 })
	cancel()
	release()
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("first write: %v", err)
	}
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled write: err = %v, want context.Canceled", err)
	}
	if batches, reruns := p.Counts(); batches != 1 || reruns != writes {
		t.Errorf("%d batches and %d writes run again; want the %d waiting writes in 1 batch, then each alone",
			batches, reruns, writes)
	}
	keys := pipelineKeys(t, db)
	for i, err := range errs {
		k := fmt.Sprint("k", i)
		if i%4 == 0 {
			if !database.IsUniqueViolation(err) {
				t.Errorf("write %d: err = %v, want a duplicate key", i, err)
			}
			if keys[k] != 0 {
				t.Errorf("write %d failed but %s was stored", i, k)
			}
			continue
		}
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
		if keys[k] != i {
			t.Errorf("write %d: %s = %d, want %d", i, k, keys[k], i)
		}
	}
	if keys["taken"] != 0 || keys["blocker"] != 1 {
		t.Errorf("taken = %d, blocker = %d; want 0 and 1", keys["taken"], keys["blocker"])
	}
	if _, ok := keys["cancelled"]; ok {
		t.Error("the cancelled write ran")
	}

	// Without a failure the batch commits as one, and its writes see each other's, in
	// the order of their keys.
	release, first = blockPipeline(t, db, p)
	for i := range writes {
		wg.Go(func() {
			// Keys in reverse order of arrival, and each reads the one before it.
			_, errs[i] = p.Exec(ctx, fmt.Sprintf("m%02d", writes-i),
				"INSERT INTO scratch (k, v) SELECT $1::text, 1 + coalesce((SELECT v FROM scratch WHERE k = $2), 0)",
				fmt.Sprintf("m%02d", writes-i), fmt.Sprintf("m%02d", writes-i-1))
		})
	}
	waitUntil(t, "40 writes wait", func() bool { return p.Waiting() == writes })
	release()
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("first write: %v", err)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if batches, reruns := p.Counts(); batches != 2 || reruns != writes {
		t.Errorf("%d batches and %d writes run again; want one more batch and no rerun", batches, reruns)
	}
	if keys := pipelineKeys(t, db); keys["m40"] != writes {
		t.Errorf("m40 = %d, want %d: the batch did not run its writes in the order of their keys", keys["m40"], writes)
	}
}

// TestPipelineSurvivesPanic: a panic while a batch is read (here in a caller's scan)
// fails that batch's writes, closed, instead of killing the server or leaving them
// waiting; the next write goes through.
func TestPipelineSurvivesPanic(t *testing.T) {
	ctx := t.Context()
	db := bunrepotest.Open(t, dbtest.Postgres(t))
	if _, err := db.ExecContext(ctx, "CREATE TABLE scratch (k text PRIMARY KEY, v integer NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	p := batchrepo.NewPipeline(db)
	_, err := p.QueryRow(ctx, "a", "INSERT INTO scratch (k, v) VALUES ('a', 1) RETURNING v",
		func(pgx.Rows) error { panic("a bug") })
	if err == nil || !strings.Contains(err.Error(), "a bug") {
		t.Fatalf("write whose scan panicked: err = %v, want the panic as its error", err)
	}
	var v int
	found, err := p.QueryRow(ctx, "b", "INSERT INTO scratch (k, v) VALUES ('b', 2) RETURNING v",
		func(rows pgx.Rows) error { return rows.Scan(&v) })
	if err != nil || !found || v != 2 {
		t.Fatalf("the next write: found = %v, v = %d, err = %v", found, v, err)
	}
}

// blockPipeline holds the row 'blocker' locked and sends a write of it through p, whose
// batch then waits for the lock; release lets it go, and first gets its outcome.
func blockPipeline(t *testing.T, db *bun.DB, p *batchrepo.Pipeline) (release func(), first chan error) {
	t.Helper()
	ctx := t.Context()
	lock, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lock.Rollback() })
	if _, err := lock.ExecContext(ctx, "SELECT v FROM scratch WHERE k = 'blocker' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	first = make(chan error, 1)
	go func() {
		_, err := p.Exec(ctx, "blocker", "UPDATE scratch SET v = v + 1 WHERE k = 'blocker'")
		first <- err
	}()
	waitUntil(t, "the first batch waits for the row lock", func() bool {
		var n int
		err := db.NewRaw("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "+
			"AND wait_event_type = 'Lock'").Scan(ctx, &n)
		return err == nil && n == 1
	})
	return func() {
		if err := lock.Commit(); err != nil {
			t.Fatal(err)
		}
	}, first
}

func pipelineKeys(t *testing.T, db *bun.DB) map[string]int {
	t.Helper()
	var rows []struct {
		K string `bun:"k"`
		V int    `bun:"v"`
	}
	if err := db.NewRaw("SELECT k, v FROM scratch").Scan(t.Context(), &rows); err != nil {
		t.Fatal(err)
	}
	keys := make(map[string]int, len(rows))
	for _, r := range rows {
		keys[r.K] = r.V
	}
	return keys
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// withPool is u with a pool of n connections.
func withPool(t *testing.T, u string, n int) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	q.Set("max_open_conns", fmt.Sprint(n))
	p.RawQuery = q.Encode()
	return p.String()
}
