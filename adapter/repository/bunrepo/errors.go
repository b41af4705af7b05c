package bunrepo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/infrastructure/database"
)

// wrapErr translates a driver error into the ports' vocabulary and says what was being
// done (ARCHITECTURE "Errors travel one way"). The driver's own text is kept in the
// chain for logs; it never reaches a client.
func wrapErr(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", what, domain.ErrNotFound)
	case database.IsUniqueViolation(err):
		return fmt.Errorf("%s: %w (%v)", what, domain.ErrDuplicate, err)
	case database.IsForeignKeyViolation(err):
		// The row points at a user, client or family that does not exist (deleted
		// meanwhile, or never created).
		return fmt.Errorf("%s: referenced row: %w (%v)", what, domain.ErrNotFound, err)
	case database.IsUnavailable(err):
		return fmt.Errorf("%s: %w: %w", what, domain.ErrUnavailable, err)
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}

// maxTxAttempts bounds how often a transaction that lost a deadlock or serialization
// race is run again.
const maxTxAttempts = 5

// inTx runs fn in a transaction, and again (after a short random pause, so the
// contenders do not collide once more) when the database aborted it only to break a
// deadlock: PostgreSQL and InnoDB pick a victim, and retrying is the documented answer.
// fn must return errors that wrap the driver's, so the retry can see them. Failures
// to begin or commit are classified like any other (a lost connection is
// ErrUnavailable).
func inTx(ctx context.Context, db *bun.DB, opts *sql.TxOptions, fn func(ctx context.Context, tx bun.Tx) error) error {
	if outer, ok := ctx.Value(txKey{}).(bun.Tx); ok {
		// Part of a unit of work (Transactor.InTx): its transaction commits, or
		// rolls back, everything together, and retries it as a whole. fn runs in a
		// savepoint, so that when it fails the unit of work can go on (PostgreSQL
		// refuses every statement of a transaction after a failed one).
		return outer.RunInTx(ctx, nil, fn)
	}
	return retried(ctx, func() error { return runTx(ctx, db, opts, fn) })
}

// retried runs the transaction tx, and again as inTx does when the database aborted it
// to break a deadlock.
func retried(ctx context.Context, tx func() error) error {
	var err error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		err = tx()
		if err == nil || !database.IsRetryable(err) || attempt == maxTxAttempts {
			return err
		}
		pause := time.Duration(attempt) * (time.Millisecond + rand.N(5*time.Millisecond))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
	return err
}

func runTx(ctx context.Context, db *bun.DB, opts *sql.TxOptions, fn func(ctx context.Context, tx bun.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return wrapErr(err, "begin transaction")
	}
	if err := fn(context.WithValue(ctx, txKey{}, tx), tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return wrapErr(err, "commit transaction")
	}
	return nil
}

// rowsAffected turns "no row matched" into domain.ErrNotFound. MySQL connections
// report matched rows (clientFoundRows), like PostgreSQL and SQLite.
func rowsAffected(res sql.Result, err error, format string, args ...any) (int64, error) {
	if err != nil {
		return 0, wrapErr(err, format, args...)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrapErr(err, format, args...)
	}
	return n, nil
}

// mustAffect is rowsAffected for updates and deletes of one row by key.
func mustAffect(res sql.Result, err error, format string, args ...any) error {
	n, err := rowsAffected(res, err, format, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), domain.ErrNotFound)
	}
	return nil
}

// insert stores one row model. Returning("NULL") stops Bun from reading back the
// columns it left to their defaults (RETURNING on PostgreSQL, SQLite and MariaDB):
// the row is already known, and the token path needs no extra work.
func insert(ctx context.Context, db bun.IDB, model any) (sql.Result, error) {
	return db.NewInsert().Model(model).Returning("NULL").Exec(ctx)
}

// WrapErr is wrapErr for the decorators of these repositories (batchrepo): the same
// translation into the ports' vocabulary.
func WrapErr(err error, format string, args ...any) error { return wrapErr(err, format, args...) }

// Retried runs tx, and again when the database aborted it to break a deadlock (as
// inTx does), for the decorators of these repositories.
func Retried(ctx context.Context, tx func() error) error { return retried(ctx, tx) }
