package bunrepo

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"golang.org/x/sync/semaphore"
)

// ConnGate hands the pool's connections to the hot paths (refresh, code exchange,
// revocation, and the batched reads, which are prepared statements on PostgreSQL
// only) in the order they asked, on PostgreSQL and MariaDB. database/sql gives a freed connection to a random waiter: with 64
// requests and a pool of 20, an unlucky one lost that draw again and again, and a
// refresh on PostgreSQL answered in 11 ms at the median but 32 ms at the 99th
// percentile. The gate has as many places as the pool has connections, and a caller
// takes one before it asks the pool, so the pool never has a waiter and the gate's
// queue (semaphore.Weighted) is first come, first served: the same load ran with a
// 99th percentile of 18–23 ms.
//
// One gate serves every repository of a database (Wire builds it once). A caller that
// already holds a place (its context says so) does not wait for another: a
// transaction's nested reads cannot deadlock on the gate. SQLite has no gate: its one
// connection already serves writes in groups (groupCommit) and reads in batches.
//
// On PostgreSQL the gate also carries the database's one pipeline of short writes
// (pgPipeline): the revocations of families.
type ConnGate struct {
	places *semaphore.Weighted // nil: a pool without a limit, nobody waits
	writes *pgPipeline         // PostgreSQL only
}

// NewConnGate returns the gate of db's pool; nil, which lets everything through, for
// SQLite, and for MariaDB with a pool without a limit.
func NewConnGate(db *bun.DB) *ConnGate {
	n := db.DB.Stats().MaxOpenConnections
	pg := db.Dialect().Name() == dialect.PG
	if db.Dialect().Name() == dialect.SQLite || (n <= 0 && !pg) {
		return nil
	}
	g := &ConnGate{}
	if n > 0 {
		g.places = semaphore.NewWeighted(int64(n))
	}
	if pg {
		g.writes = newPGPipeline(db, g)
	}
	return g
}

// pipeline returns PostgreSQL's pipeline of short writes; nil elsewhere.
func (g *ConnGate) pipeline() *pgPipeline {
	if g == nil {
		return nil
	}
	return g.writes
}

// gateKey marks a context whose caller holds a place of the gate it names.
type gateKey struct{}

// enter waits for a place, in order, and returns ctx marked as holding it and the
// function that gives it back. It lets through a nil gate and a caller that holds a
// place already.
func (g *ConnGate) enter(ctx context.Context) (context.Context, func(), error) {
	if g == nil || g.places == nil || ctx.Value(gateKey{}) == g {
		return ctx, func() {}, nil
	}
	if err := g.places.Acquire(ctx, 1); err != nil {
		return ctx, nil, fmt.Errorf("wait for a database connection: %w", err)
	}
	return context.WithValue(ctx, gateKey{}, g), func() { g.places.Release(1) }, nil
}

// inTx is inTx holding a place for the whole transaction, retries included.
func (g *ConnGate) inTx(ctx context.Context, db *bun.DB, opts *sql.TxOptions, fn func(ctx context.Context, tx bun.Tx) error) error {
	ctx, leave, err := g.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	return inTx(ctx, db, opts, fn)
}
