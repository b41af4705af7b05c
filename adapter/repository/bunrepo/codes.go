package bunrepo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// CodeRepository stores authorization codes by the hash of the code.
type CodeRepository struct {
	db     *bun.DB
	writes *groupCommit
	stmts  *preparedStatements
}

var _ usecase.CodeStore = (*CodeRepository)(nil)

// NewCodeRepository returns a repository over db.
func NewCodeRepository(db *bun.DB) *CodeRepository {
	return &CodeRepository{db: db, writes: newGroupCommit(db), stmts: newPreparedStatements(db)}
}

// CreateCode inserts c; ErrDuplicate when the hash exists, ErrNotFound when its
// client or user does not.
func (r *CodeRepository) CreateCode(ctx context.Context, c domain.AuthorizationCode) error {
	row := codeToRow(c)
	if _, err := insert(ctx, r.db, &row); err != nil {
		return wrapErr(err, "insert authorization code")
	}
	return nil
}

const (
	consumeCodeQuery = "UPDATE authorization_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL RETURNING *"
	selectCodeQuery  = "SELECT * FROM authorization_codes WHERE hash = ?"
)

// ConsumeCode marks the code used. The decision is one conditional UPDATE, so that of
// concurrent callers the database lets exactly one through (SECURITY S15); the code
// is read afterwards, by everyone, so a replay still learns which family to revoke.
// PostgreSQL and SQLite return the row from the UPDATE itself (one statement for the
// winner); MariaDB has no UPDATE … RETURNING and reads it after. Expiry is the
// caller's to judge on the returned code. On SQLite the statements are prepared and
// concurrent redemptions commit together (groupCommit).
func (r *CodeRepository) ConsumeCode(ctx context.Context, hash []byte, now time.Time) (domain.AuthorizationCode, error) {
	const consume = "UPDATE authorization_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL"
	var row codeRow
	won := false
	switch r.db.Dialect().Name() {
	case dialect.SQLite:
		if err := r.stmts.warm(ctx, consumeCodeQuery, selectCodeQuery); err != nil {
			return domain.AuthorizationCode{}, err
		}
		err := r.writes.run(ctx, func(ctx context.Context, tx bun.Tx) error {
			var err error
			row, won, err = r.consume(ctx, &tx, hash, now)
			return err
		})
		if err != nil {
			return domain.AuthorizationCode{}, err
		}
	case dialect.PG:
		var err error
		if row, won, err = r.consume(ctx, nil, hash, now); err != nil {
			return domain.AuthorizationCode{}, err
		}
	default:
		res, err := r.db.NewRaw("UPDATE authorization_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL",
			now, hash).Exec(ctx)
		n, err := rowsAffected(res, err, "consume authorization code")
		if err != nil {
			return domain.AuthorizationCode{}, err
		}
		won = n == 1
		if err := r.db.NewSelect().Model(&row).Where("hash = ?", hash).Scan(ctx); err != nil {
			// When the UPDATE won the code is now burnt without its caller learning it:
			// failing closed is the right side to err on for a single-use credential.
			return domain.AuthorizationCode{}, wrapErr(err, "select authorization code")
		}
	}
	code, err := row.toDomain()
	if err != nil {
		return domain.AuthorizationCode{}, err
	}
	if !won {
		return code, fmt.Errorf("consume authorization code: %w", domain.ErrAlreadyUsed)
	}
	return code, nil
}

// consume runs the conditional UPDATE … RETURNING with prepared statements (inside tx
// when not nil) and, when it matched nothing, reads the code.
func (r *CodeRepository) consume(ctx context.Context, tx *bun.Tx, hash []byte, now time.Time) (codeRow, bool, error) {
	var row codeRow
	err := r.stmts.scanOne(ctx, tx, &row, consumeCodeQuery, r.stmts.timeArg(now), hash)
	switch {
	case err == nil:
		return row, true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return row, false, wrapErr(err, "consume authorization code")
	}
	if err := r.stmts.scanOne(ctx, tx, &row, selectCodeQuery, hash); err != nil {
		return row, false, wrapErr(err, "select authorization code")
	}
	return row, false, nil
}
