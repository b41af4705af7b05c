package database

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"
)

// A SQLite database in WAL mode appends every commit to its -wal file; a checkpoint
// copies those pages back into the database file. By default the committing
// connection checkpoints itself once the WAL passes 1,000 pages, and Gatehouse has
// one connection, which every write waits for: a code exchange under load spent a
// quarter of its transaction there, and each such checkpoint stalled every queued
// write at once.
//
// So a checkpointer with a connection of its own copies the pages in the background,
// on the other core, PASSIVE (it never waits for, nor blocks, the writer or readers),
// soon after each change of the WAL. The writer's own checkpoint stays as the
// backstop at sqliteAutoCheckpoint pages (it then finds most pages copied already);
// it is what lets SQLite start the WAL over. Under load, refresh answered more
// requests with a lower 99th percentile, and the code exchange did not move
// (BENCHMARKS.md, "What the speed comes from").
const (
	sqliteCheckpointEvery = 10 * time.Millisecond
	sqliteAutoCheckpoint  = 4000 // pages of 4 KiB: 16 MiB
	// sqliteCheckpointIdle: a WAL that looks unchanged is checkpointed this often (see
	// run), and looked at no less often.
	sqliteCheckpointIdle = time.Second
)

// checkpointer runs PRAGMA wal_checkpoint(PASSIVE) on its own connection whenever the
// -wal file of path changed since its last look. It looks every sqliteCheckpointEvery
// while the WAL keeps changing; each look that finds it unchanged doubles the wait, up
// to sqliteCheckpointIdle, so an idle server is not woken a hundred times a second.
type checkpointer struct {
	db      *sql.DB
	walPath string
	stop    chan struct{}
	done    chan struct{}
}

// startCheckpointer opens the checkpointer's connection with dsn (the pool's pragmas)
// and starts it; stop ends it and closes that connection.
func startCheckpointer(dsn, path string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open the checkpointer's connection: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	c := &checkpointer{db: db, walPath: path + "-wal", stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer close(c.done)
	wait := sqliteCheckpointEvery
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var seen os.FileInfo
	var last time.Time
	for {
		select {
		case <-c.stop:
			return
		case <-timer.C:
		}
		fi, err := os.Stat(c.walPath)
		// Size and modification time tell that the WAL changed, but not always: a
		// commit may rewrite frames its own transaction wrote before (SQLite reuses
		// them in place), so the size stays, and the time has the kernel's coarse
		// resolution. So an unchanged-looking WAL is checkpointed anyway once
		// sqliteCheckpointIdle has passed; with nothing to copy that costs a fraction of
		// a millisecond.
		unchanged := err != nil || seen != nil && fi.Size() == seen.Size() && fi.ModTime().Equal(seen.ModTime())
		if unchanged {
			wait = backOff(wait)
		} else {
			wait = sqliteCheckpointEvery
		}
		if err == nil && (!unchanged || time.Since(last) >= sqliteCheckpointIdle) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			// A failure costs nothing but this pass: the writer's own checkpoint remains.
			if _, err := c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err == nil {
				seen, last = fi, time.Now()
			}
			cancel()
		}
		timer.Reset(wait)
	}
}

// backOff is the checkpointer's next wait after a look that found nothing new.
func backOff(wait time.Duration) time.Duration {
	return min(2*wait, sqliteCheckpointIdle)
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() {
	close(c.stop)
	<-c.done
	_ = c.db.Close()
}
