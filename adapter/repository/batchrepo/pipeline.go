package batchrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"

	"gatehouse/adapter/repository/bunrepo"
)

// pgPipeline sends the short writes of concurrent callers (one or two statements each:
// a refresh, a family's revocation) to PostgreSQL together ("natural batching", as
// readBatcher does for reads): one pgx batch, so one
// round trip, and one implicit transaction, so one commit and one WAL flush, for every
// write waiting at that moment. A statement's fixed costs (the round trip, waking a
// backend, its snapshot and its commit) are most of a refresh on PostgreSQL
// (BENCHMARKS.md). Alone, a caller's statement goes at once.
//
// Each write is the same statement it would be alone, so its outcome is too: the
// statements are conditional (an UPDATE that matches or not), and every statement
// takes its own snapshot (READ COMMITTED), so a later one sees an earlier one's
// writes, as if they had run one after the other. Its caller learns the outcome only
// after the batch has committed. Three things differ, each handled:
//   - One failing statement rolls back the whole batch. When PostgreSQL says which
//     statement failed (an error it sent), nothing was committed, so every write runs
//     again, alone; without such an answer (a lost connection) the outcome is unknown
//     and every write fails, closed.
//   - A write's row locks last until its batch commits. The writes of a batch run in
//     the order of their keys (the hash of the token or code, the family's id), so two
//     batches that both use two tokens lock them in the same order and cannot deadlock
//     on them. A deadlock with a transaction outside the pipeline (a logout revoking
//     several families) is broken by PostgreSQL; the batch then runs again as above.
//   - A batch holds one connection. A caller gives up with its context while its batch
//     waits for one.
//
// One batch runs at a time (maxPipelines); writes that arrive meanwhile wait for the
// next, which takes all of them, up to maxPipelined.
type pgPipeline struct {
	db *bun.DB

	mu      sync.Mutex
	pending []*pipelineCall
	running int
	batches int64 // batches of more than one write, for tests
	reruns  int64 // writes run again alone after their batch was rolled back, for tests
}

// pipelineCall is one caller's write, one or more statements run in a row, and, once
// done is closed, its outcome.
type pipelineCall struct {
	ctx   context.Context
	key   []byte // orders the writes of a batch
	stmts []pipelineStmt
	scan  func(pgx.Rows) error // reads the last statement's first row, if any; nil for none

	state atomic.Int32   // callWaiting, callStarted or callWithdrawn
	batch *pipelineBatch // the batch it is in, once there (under pgPipeline.mu)

	found bool  // the last statement returned a row (scan ran on it)
	rows  int64 // rows the last statement changed or returned
	err   error
	done  chan struct{}
}

// pipelineStmt is a statement (placeholders $1, $2…) and its arguments.
type pipelineStmt struct {
	query string
	args  []any
}

// maxPipelined bounds a batch, so that its locks and its connection are held briefly.
const maxPipelined = 64

// maxPipelines is how many batches of a pipeline run at once. One: while it runs, the
// next batch gathers every write that arrives, and PostgreSQL spends the least per
// write; more at a time raised the 99th percentile at the same throughput
// (BENCHMARKS.md).
const maxPipelines = 1

// pipelineTimeout bounds a batch. It serves several callers, so it does not end with
// the context of any one of them.
const pipelineTimeout = 10 * time.Second

func newPGPipeline(db *bun.DB) *pgPipeline {
	return &pgPipeline{db: db}
}

// queryRow runs query with args (placeholders $1, $2…) and calls scan with its first
// row; found is false when it returned none. key orders the writes of a batch.
func (p *pgPipeline) queryRow(ctx context.Context, key []byte, query string, args []any, scan func(pgx.Rows) error) (found bool, err error) {
	c, err := p.run(ctx, &pipelineCall{key: key, stmts: []pipelineStmt{{query, args}}, scan: scan})
	if err != nil {
		return false, err
	}
	return c.found, nil
}

// exec runs the statements one after the other, in one batch, and returns how many
// rows the last one changed.
func (p *pgPipeline) exec(ctx context.Context, key []byte, stmts ...pipelineStmt) (int64, error) {
	c, err := p.run(ctx, &pipelineCall{key: key, stmts: stmts})
	if err != nil {
		return 0, err
	}
	return c.rows, nil
}

func (p *pgPipeline) run(ctx context.Context, c *pipelineCall) (*pipelineCall, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("wait for a database connection: %w", err)
	}
	c.ctx, c.done = ctx, make(chan struct{})
	p.mu.Lock()
	p.pending = append(p.pending, c)
	lead := p.running < maxPipelines
	if lead {
		p.running++
	}
	p.mu.Unlock()
	if lead {
		// In its own goroutine, so that this caller can give up with its context.
		go p.runBatches()
	}
	select {
	case <-c.done:
		return c, c.err
	case <-ctx.Done():
		p.mu.Lock()
		withdrawn := c.state.CompareAndSwap(callWaiting, callWithdrawn)
		if withdrawn && c.batch != nil && c.batch.waiting.Add(-1) == 0 {
			c.batch.giveUp() // nobody waits for its connection any more
		}
		p.mu.Unlock()
		if withdrawn {
			return nil, fmt.Errorf("wait for a database connection: %w", ctx.Err())
		}
		// Its batch has started: the write may commit, and its caller must learn that.
		<-c.done
		return c, c.err
	}
}

// pipelineBatch counts the callers of a batch still waiting for it to start.
type pipelineBatch struct {
	waiting atomic.Int32
	giveUp  context.CancelFunc
}

// A call's state: waiting for its batch to start it, started, or withdrawn by a
// caller who gave up before.
const (
	callWaiting int32 = iota
	callStarted
	callWithdrawn
)

// runBatches runs the writes waiting now, then, while more arrived meanwhile, the next.
func (p *pgPipeline) runBatches() {
	for {
		p.mu.Lock()
		n := min(len(p.pending), maxPipelined)
		if n == 0 {
			p.running--
			p.mu.Unlock()
			return
		}
		batch := p.pending[:n:n]
		p.pending = p.pending[n:]
		p.mu.Unlock()

		p.executeGuarded(batch)
		for _, c := range batch {
			close(c.done)
		}
	}
}

// executeGuarded is execute with a panic turned into every write's error: it runs on
// no caller's goroutine, so nothing else would recover it, and the callers would wait
// for ever. Whether the batch committed is then unknown, so every write fails, closed.
func (p *pgPipeline) executeGuarded(batch []*pipelineCall) {
	defer func() {
		if r := recover(); r != nil {
			for _, c := range batch {
				c.err = fmt.Errorf("write batch panicked: %v", r)
			}
		}
	}()
	p.execute(batch)
}

// execute runs the batch's writes, on one connection, and sets each one's outcome.
func (p *pgPipeline) execute(batch []*pipelineCall) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), pipelineTimeout)
	defer cancel()
	// The wait for a connection ends early when every caller has given up.
	waitCtx, giveUp := context.WithCancel(ctx)
	defer giveUp()
	b := &pipelineBatch{giveUp: giveUp}
	p.mu.Lock()
	for _, c := range batch {
		if c.state.Load() == callWaiting {
			c.batch = b
			b.waiting.Add(1)
		}
	}
	empty := b.waiting.Load() == 0
	p.mu.Unlock()
	if empty {
		return
	}
	err := p.withConn(waitCtx, func(pc *pgx.Conn) {
		// The writes whose callers still wait start now; the others never will.
		live := make([]*pipelineCall, 0, len(batch))
		for _, c := range batch {
			if c.state.CompareAndSwap(callWaiting, callStarted) {
				live = append(live, c)
			}
		}
		slices.SortStableFunc(live, func(a, b *pipelineCall) int { return bytes.Compare(a.key, b.key) })
		switch len(live) {
		case 0:
			return
		case 1:
			live[0].err = bunrepo.Retried(ctx, func() error { return send(ctx, pc, live) })
			return
		}
		p.mu.Lock()
		p.batches++
		p.mu.Unlock()
		err := send(ctx, pc, live)
		if err == nil {
			return
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) {
			// No answer from PostgreSQL: the batch may have committed or not.
			for _, c := range live {
				c.err = err
			}
			return
		}
		// PostgreSQL rolled the batch back: every write runs again, alone, and gets its
		// own outcome (the one that failed fails again, unless what failed it changed).
		p.mu.Lock()
		p.reruns += int64(len(live))
		p.mu.Unlock()
		for _, c := range live {
			c.err = bunrepo.Retried(ctx, func() error { return send(ctx, pc, []*pipelineCall{c}) })
		}
	})
	if err != nil {
		// No connection: no write started.
		for _, c := range batch {
			if c.state.CompareAndSwap(callWaiting, callStarted) {
				c.err = err
			}
		}
	}
}

// withConn runs fn on a connection of the pool; ctx bounds the wait for it.
func (p *pgPipeline) withConn(ctx context.Context, fn func(pc *pgx.Conn)) error {
	conn, err := p.db.DB.Conn(ctx) // ctx bounds the wait only, not the connection's use
	if err != nil {
		return bunrepo.WrapErr(err, "get a database connection")
	}
	defer func() { _ = conn.Close() }()
	return conn.Raw(func(driverConn any) error {
		sc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("pipeline: connection is a %T, not pgx's", driverConn)
		}
		fn(sc.Conn())
		return nil
	})
}

// send runs calls as one batch on pc and sets each call's found and rows. The error
// is the batch's: nil only when it committed.
func send(ctx context.Context, pc *pgx.Conn, calls []*pipelineCall) error {
	b := &pgx.Batch{}
	for _, c := range calls {
		for _, s := range c.stmts {
			// Prepared once per connection: the name is the text, and pgx keeps it.
			if _, err := pc.Prepare(ctx, s.query, s.query); err != nil {
				return fmt.Errorf("prepare statement: %w", err)
			}
			b.Queue(s.query, s.args...)
		}
	}
	br := pc.SendBatch(ctx, b)
	var err error
	for _, c := range calls {
		// After an error PostgreSQL skips the rest of the batch; Close reads it.
		if err = c.read(br); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// read reads the results of the call's statements from the batch.
func (c *pipelineCall) read(br pgx.BatchResults) error {
	for range len(c.stmts) - 1 {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	c.found, c.rows = false, 0
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		c.found = true
		if c.scan != nil {
			if err := c.scan(rows); err != nil {
				return err
			}
		}
	}
	rows.Close() // reads what is left of the result
	if err := rows.Err(); err != nil {
		return err
	}
	c.rows = rows.CommandTag().RowsAffected()
	return nil
}

// counts returns how many batches ran more than one write and how many writes ran
// again alone.
func (p *pgPipeline) counts() (batches, reruns int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.batches, p.reruns
}
