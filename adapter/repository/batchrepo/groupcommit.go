package batchrepo

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"gatehouse/adapter/repository/bunrepo"
)

// GroupCommit is the Writer of the token and code repositories (bunrepo.Writer) that
// runs the write transactions of concurrent callers on SQLite as one transaction
// ("group commit"). SQLite has one writer and Gatehouse one connection to it, so
// writers queue anyway; committing them together writes the pages they share (index
// leaves, the table's last page, the WAL header) once per group instead of once per
// caller, and takes the locks once.
//
// Each caller's function runs inside its own SAVEPOINT, so one that fails undoes only
// its own writes and the others still commit; every caller learns its own result only
// after the group's COMMIT, so no caller answers for a write that is not committed.
// The first caller to find no group running leads: it runs every write waiting at that
// moment, its own first, then hands the lead to the oldest waiter, if any, and
// returns. Alone, a caller runs a plain transaction at once.
//
// On PostgreSQL and MariaDB it runs each write in its own transaction
// (bunrepo.TxWriter): a function of Go code between statements would hold row locks of
// unrelated grants together for a round trip each.
type GroupCommit struct {
	plain   *bunrepo.TxWriter
	enabled bool

	// The statements of the hot writes (Prepare), each prepared once on SQLite's
	// connection and run with its arguments bound (exec): parsing each write's SQL
	// anew was a third of the writer's time in a profile of the refresh run, and the
	// writer is what every write on SQLite waits for (BENCHMARKS.md). Prepared by a
	// group's leader before its transaction, never inside one (bunrepo.Statements).
	queries []string
	stmts   *bunrepo.Statements

	mu      sync.Mutex
	pending []*groupWrite
	running bool
	groups  int64 // transactions run for more than one write, for tests
}

var _ bunrepo.Writer = (*GroupCommit)(nil)

type groupWrite struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx bun.Tx) error
	err  error
	lead bool // woken to lead rather than with a result
	done chan struct{}
}

// maxGroupWrites bounds a group, so that the connection is not held from readers for
// long, and a write that just missed a group does not wait long for the next (a
// smaller bound lost throughput, a larger one raised the 99th percentile; see
// BENCHMARKS.md).
const maxGroupWrites = 32

// groupTimeout bounds the preparing of a group's statements.
const groupTimeout = 10 * time.Second

// NewGroupCommit returns the Writer over db: grouped on SQLite, plain elsewhere.
func NewGroupCommit(db *bun.DB) *GroupCommit {
	g := &GroupCommit{plain: bunrepo.NewTxWriter(db), enabled: db.Dialect().Name() == dialect.SQLite,
		stmts: bunrepo.NewStatements(db.DB)}
	g.Prepare(savepointQuery, rollbackToQuery, releaseQuery)
	return g
}

// Prepare names statements that writes run through exec, to be prepared once on
// SQLite. Called while the repositories are built, before any write.
func (g *GroupCommit) Prepare(queries ...string) {
	g.queries = append(g.queries, queries...)
}

// prepare prepares the statements Prepare named that are not yet. One that fails (its
// table not migrated yet) is tried again by the next group; exec meanwhile lets Bun
// format it.
func (g *GroupCommit) prepare() {
	if !g.enabled {
		return
	}
	for _, q := range g.queries {
		if g.stmts.Prepared(q) == nil {
			ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
			_, _ = g.stmts.Prepare(ctx, q)
			cancel()
		}
	}
}

// exec runs query (with ? placeholders) in tx: on SQLite through its prepared
// statement, its arguments bound as Bun would have written them; otherwise, or for
// an argument of a type sqliteArgs does not know, as Bun formats it.
func (g *GroupCommit) exec(ctx context.Context, tx bun.Tx, query string, args ...any) (sql.Result, error) {
	if st := g.stmts.Prepared(query); st != nil && g.enabled {
		if bound, ok := sqliteArgs(args); ok {
			return tx.StmtContext(ctx, st).ExecContext(ctx, bound...)
		}
	}
	return tx.NewRaw(query, args...).Exec(ctx)
}

// sqliteTime is how Bun writes a time into SQLite (schema.BaseDialect.AppendTime),
// which the repositories' reads and comparisons rely on.
const sqliteTime = "2006-01-02 15:04:05.999999-07:00"

// sqliteArgs are args as values to bind that store what Bun's formatting would have:
// times as Bun's text, the rest as they are. false when one is of another type.
func sqliteArgs(args []any) ([]any, bool) {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case nil, string, []byte, int64, int:
			out[i] = v
		case time.Time:
			out[i] = v.UTC().Format(sqliteTime)
		default:
			return nil, false
		}
	}
	return out, true
}

// Write runs fn in a transaction, on SQLite together with the writes of concurrent
// callers. fn must use only the tx and context it is given and may run at most once on
// SQLite; when it returns an error its writes are undone and Write returns that error.
// A caller whose context ends before its write starts gets the context's error and no
// write.
func (g *GroupCommit) Write(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	if !g.enabled || bunrepo.InUnitOfWork(ctx) {
		// A unit of work's write runs in its transaction, never in a group's.
		return g.plain.Write(ctx, fn)
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
func (g *GroupCommit) lead(self *groupWrite) {
	g.mu.Lock()
	n := min(len(g.pending), maxGroupWrites)
	group := make([]*groupWrite, n)
	copy(group, g.pending)
	g.pending = append(g.pending[:0:0], g.pending[n:]...)
	g.mu.Unlock()

	g.prepare()
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
func (g *GroupCommit) execute(group []*groupWrite) {
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
	// A group serves several callers, so it does not end with the context of any one
	// of them, and it has no deadline of its own: a context that can end costs every
	// SQLite statement a goroutine and a progress handler in the driver, to interrupt
	// it. Its statements are keyed writes of a few rows on the server's one
	// connection; the only wait they can meet is for SQLite's write lock, held by
	// another process (a CLI command), which busy_timeout bounds.
	ctx := context.WithoutCancel(live[0].ctx)
	if len(live) == 1 {
		live[0].err = g.plain.Write(ctx, live[0].call)
		return
	}
	g.mu.Lock()
	g.groups++
	g.mu.Unlock()
	err := g.plain.Write(ctx, func(ctx context.Context, tx bun.Tx) error {
		for _, w := range live {
			w.err = nil
			if _, err := g.exec(ctx, tx, savepointQuery); err != nil {
				return bunrepo.WrapErr(err, "open savepoint")
			}
			if w.err = w.call(ctx, tx); w.err != nil {
				if _, err := g.exec(ctx, tx, rollbackToQuery); err != nil {
					return bunrepo.WrapErr(err, "roll back to savepoint")
				}
			}
			if _, err := g.exec(ctx, tx, releaseQuery); err != nil {
				return bunrepo.WrapErr(err, "release savepoint")
			}
		}
		return nil
	})
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
func (g *GroupCommit) groupCount() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.groups
}
