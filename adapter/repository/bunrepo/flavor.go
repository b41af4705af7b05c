package bunrepo

import (
	"context"
	"database/sql"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// flavor is what differs between SQLite, PostgreSQL and MariaDB in the transactions
// that read a row, let a use case decide, and write what it decided
// (CodeRepository.RedeemCode, TokenRepository.UpdateRefreshToken), so that those are
// written once for the three.
type flavor struct {
	// forUpdate ends a SELECT whose rows the transaction holds until it ends. SQLite
	// needs none: its transactions begin IMMEDIATE and hold its only write lock.
	forUpdate string
	// txOptions: READ COMMITTED on PostgreSQL and MariaDB, so that a read after a lock
	// sees what the lock's previous holder committed (MariaDB's default REPEATABLE READ
	// would read the snapshot of the transaction's first read). None on SQLite, whose
	// transactions are serial.
	txOptions *sql.TxOptions
	// revokeFamily inserts a revoked family, or marks an existing one revoked keeping
	// its first revocation time; arguments: the id, the creation and the revocation
	// time.
	revokeFamily string
}

func flavorOf(db bun.IDB) flavor {
	readCommitted := &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	switch db.Dialect().Name() {
	case dialect.SQLite:
		return flavor{revokeFamily: revokeFamilyUpsert}
	case dialect.MySQL:
		return flavor{forUpdate: " FOR UPDATE", txOptions: readCommitted,
			revokeFamily: "INSERT INTO token_families (id, created_at, revoked_at) VALUES (?, ?, ?) " +
				"ON DUPLICATE KEY UPDATE revoked_at = COALESCE(revoked_at, VALUES(revoked_at))"}
	default:
		return flavor{forUpdate: " FOR UPDATE", txOptions: readCommitted, revokeFamily: revokeFamilyUpsert}
	}
}

const revokeFamilyUpsert = "INSERT INTO token_families (id, created_at, revoked_at) VALUES (?, ?, ?) " +
	"ON CONFLICT (id) DO UPDATE SET revoked_at = COALESCE(token_families.revoked_at, excluded.revoked_at)"

// revokeFamilyTx marks the family and its refresh tokens revoked inside tx, the family
// first (the lock order of TokenRepository), inserting it revoked when it does not
// exist yet (see TokenRepository.RevokeFamily).
func revokeFamilyTx(ctx context.Context, tx bun.Tx, fl flavor, familyID string, now time.Time) error {
	if _, err := tx.NewRaw(fl.revokeFamily, familyID, now, now).Exec(ctx); err != nil {
		return wrapErr(err, "revoke token family %q", familyID)
	}
	if _, err := tx.NewRaw("UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
		now, familyID).Exec(ctx); err != nil {
		return wrapErr(err, "revoke refresh tokens of family %q", familyID)
	}
	return nil
}

// Writer runs the write transactions of the token and code repositories. NewTxWriter
// runs each in a transaction of its own; a decorator package may run concurrent ones
// together (batchrepo's group commit on SQLite), and Wire chooses.
type Writer interface {
	// Write runs fn in a transaction and commits it unless fn fails. fn must use only
	// the tx and context it is given, and may run again when the database aborted the
	// transaction to break a deadlock.
	Write(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error
}

// TxWriter is the plain Writer: one transaction per write, READ COMMITTED on
// PostgreSQL and MariaDB (flavor), retried after a deadlock.
type TxWriter struct {
	db   *bun.DB
	opts *sql.TxOptions
}

var _ Writer = (*TxWriter)(nil)

// NewTxWriter returns the plain Writer over db.
func NewTxWriter(db *bun.DB) *TxWriter { return &TxWriter{db: db, opts: flavorOf(db).txOptions} }

// Write runs fn in its own transaction.
func (w *TxWriter) Write(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return inTx(ctx, w.db, w.opts, fn)
}
