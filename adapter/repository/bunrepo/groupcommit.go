package bunrepo

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// groupCommit runs the write transactions of concurrent callers on SQLite as one
// transaction ("group commit"). SQLite has one writer and Gatehouse one connection to
// it, so writers queue anyway; committing them together writes the pages they share
// (index leaves, the table's last page, the WAL header) once per group instead of
// once per caller, and takes the locks once. A refresh-token rotation measured 215 µs
// of connection time alone, 92 µs in groups of 8 and 62–78 µs in groups of 32.
//
// Each caller's function runs inside its own SAVEPOINT, so one that fails undoes only
// its own writes and the others still commit; every caller learns its own result only
// after the group's COMMIT, so no caller answers for a write that is not committed.
// The first caller to find no group running leads: it runs every write waiting at that
// moment, its own first, then hands the lead to the oldest waiter, if any, and
// returns. Alone, a caller runs a plain transaction at once, as before.
//
// PostgreSQL and MariaDB run each of these writes in its own transaction (inTx): a
// function of Go code between statements would hold row locks of unrelated grants
// together for a round trip each. PostgreSQL's hot writes, which are single
// statements, are batched instead by pgPipeline, which orders each batch by key and
// runs a batch that deadlocked or failed again one write at a time.
type groupCommit struct {
	db      *bun.DB
	gate    *ConnGate // PostgreSQL and MariaDB: their transactions go through it
	enabled bool
	stmts   *preparedStatements // the savepoint statements

	mu      sync.Mutex
	pending []*groupWrite
	running bool
	groups  int64 // transactions run for more than one write, for tests
}

type groupWrite struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx bun.Tx) error
	err  error
	lead bool // woken to lead rather than with a result
	done chan struct{}
}

// maxGroupWrites bounds a group, so that the connection is not held from readers for
// long, and a write that just missed a group does not wait long for the next. Groups
// of 32 rather than 64 answered code exchanges with a 99th percentile of 22.7 ms
// twice against 24.8 and 27.7 ms, and refreshes with 20.1 and 18.0 ms against 21.6
// and 19.3 ms, at the same throughput (alternating load runs; 16 did no better and
// lost refresh throughput once).
const maxGroupWrites = 32

// groupTimeout bounds a group's transaction. It serves several callers, so it does not
// end with the context of any one of them.
const groupTimeout = 10 * time.Second

func newGroupCommit(db *bun.DB, gate *ConnGate) *groupCommit {
	return &groupCommit{db: db, gate: gate, enabled: db.Dialect().Name() == dialect.SQLite,
		stmts: newPreparedStatements(db, nil)}
}

// run runs fn in a transaction, on SQLite together with the writes of concurrent
// callers. fn must use only the tx and context it is given and may run at most once;
// when it returns an error its writes are undone and run returns that error. A caller
// whose context ends before its write starts gets the context's error and no write.
func (g *groupCommit) run(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	if !g.enabled {
		return g.gate.inTx(ctx, g.db, flavorOf(g.db).txOptions, fn)
	}
	w := &groupWrite{ctx: ctx, fn: fn, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, w)
	if g.running {
		g.mu.Unlock()
		// Not ctx.Done(): once the group has started, the write may commit, and its
		// caller must learn that. The group checks ctx before it starts the write.
		<-w.done
		if !w.lead {
			return w.err
		}
	} else {
		g.running = true
		g.mu.Unlock()
	}
	g.lead(w)
	return w.err
}

// lead runs one group, which holds self (the oldest waiting write), and passes the lead
// on to the next waiting write, if any.
func (g *groupCommit) lead(self *groupWrite) {
	g.mu.Lock()
	n := min(len(g.pending), maxGroupWrites)
	group := make([]*groupWrite, n)
	copy(group, g.pending)
	g.pending = append(g.pending[:0:0], g.pending[n:]...)
	g.mu.Unlock()

	g.execute(group)
	for _, w := range group {
		if w != self {
			close(w.done)
		}
	}

	g.mu.Lock()
	if len(g.pending) > 0 {
		next := g.pending[0]
		next.lead = true
		close(next.done)
	} else {
		g.running = false
	}
	g.mu.Unlock()
}

// execute runs the group's writes and sets each one's err.
func (g *groupCommit) execute(group []*groupWrite) {
	live := group[:0:0]
	for _, w := range group {
		if err := w.ctx.Err(); err != nil {
			w.err = fmt.Errorf("write not started: %w", err)
			continue
		}
		live = append(live, w)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(live[0].ctx), groupTimeout)
	defer cancel()
	if len(live) == 1 {
		live[0].err = inTx(ctx, g.db, nil, live[0].call)
		return
	}
	g.mu.Lock()
	g.groups++
	g.mu.Unlock()
	// Prepared, as the writes' own statements are: parsed once, not twice per write.
	err := g.stmts.warm(ctx, savepointQuery, rollbackToQuery, releaseQuery)
	if err == nil {
		err = inTx(ctx, g.db, nil, func(ctx context.Context, tx bun.Tx) error {
			for _, w := range live {
				w.err = nil
				if _, err := g.stmts.exec(ctx, &tx, savepointQuery); err != nil {
					return wrapErr(err, "open savepoint")
				}
				if w.err = w.call(ctx, tx); w.err != nil {
					if _, err := g.stmts.exec(ctx, &tx, rollbackToQuery); err != nil {
						return wrapErr(err, "roll back to savepoint")
					}
				}
				if _, err := g.stmts.exec(ctx, &tx, releaseQuery); err != nil {
					return wrapErr(err, "release savepoint")
				}
			}
			return nil
		})
	}
	if err != nil {
		// Nothing of the group committed: every write fails with the group's error,
		// unless it had failed on its own already.
		for _, w := range live {
			if w.err == nil {
				w.err = err
			}
		}
	}
}

const (
	savepointQuery  = "SAVEPOINT group_write"
	rollbackToQuery = "ROLLBACK TO group_write"
	releaseQuery    = "RELEASE group_write"
)

// call runs the write's function. A panic becomes its error: the leader runs other
// callers' writes, and a panic escaping it would leave them waiting for ever.
func (w *groupWrite) call(ctx context.Context, tx bun.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	return w.fn(ctx, tx)
}

// groupCount returns how many transactions ran more than one write.
func (g *groupCommit) groupCount() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.groups
}
