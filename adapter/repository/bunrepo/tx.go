package bunrepo

import (
	"context"
	"database/sql"

	"github.com/uptrace/bun"

	"gatehouse/usecase"
)

// txKey carries the transaction of a unit of work (Transactor.InTx) in a context.
type txKey struct{}

// conn is what a repository method runs its statements on: the transaction of the
// unit of work ctx belongs to, if any, else the pool. Every statement of a method
// reached inside InTx must go through it: a statement on the pool would wait for the
// locks of the transaction (forever on a one-connection SQLite pool).
func conn(ctx context.Context, db *bun.DB) bun.IDB {
	if tx, ok := ctx.Value(txKey{}).(bun.Tx); ok {
		return tx
	}
	return db
}

// InUnitOfWork reports whether ctx belongs to a unit of work (Transactor.InTx), for
// the decorators of these repositories: they must not batch its statements with
// others' on connections of their own.
func InUnitOfWork(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{}).(bun.Tx)
	return ok
}

// Transactor runs units of work: every repository call made with the context it
// passes on runs in one database transaction, which commits when the function
// succeeds and rolls back when it fails (an admin change and its audit event,
// SECURITY S56).
type Transactor struct {
	db   *bun.DB
	opts *sql.TxOptions
}

var _ usecase.Transactor = (*Transactor)(nil)

// NewTransactor returns the Transactor over db.
func NewTransactor(db *bun.DB) *Transactor { return &Transactor{db: db, opts: flavorOf(db).txOptions} }

// InTx runs fn in a transaction, or in the one of ctx when there is one already. The
// whole runs again when the database aborted it to break a deadlock, so fn must have
// no effect outside the database.
func (t *Transactor) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return inTx(ctx, t.db, t.opts, func(ctx context.Context, _ bun.Tx) error { return fn(ctx) })
}
