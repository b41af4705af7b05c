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
	consumeCodeSQLite = "UPDATE authorization_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL RETURNING *"
	selectCodeQuery   = "SELECT * FROM authorization_codes WHERE hash = ?"
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
	won, loaded := false, false
	if r.db.Dialect().Name() == dialect.SQLite {
		if err := r.stmts.warm(ctx, consumeCodeSQLite, selectCodeQuery); err != nil {
			return domain.AuthorizationCode{}, err
		}
		err := r.writes.run(ctx, func(ctx context.Context, tx bun.Tx) error {
			row, won = codeRow{}, false
			err := r.stmts.scanOne(ctx, &tx, &row, consumeCodeSQLite, r.stmts.timeArg(now), hash)
			switch {
			case err == nil:
				won = true
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return wrapErr(err, "consume authorization code")
			}
			if err := r.stmts.scanOne(ctx, &tx, &row, selectCodeQuery, hash); err != nil {
				return wrapErr(err, "select authorization code")
			}
			return nil
		})
		if err != nil {
			return domain.AuthorizationCode{}, err
		}
		loaded = true
	} else if r.db.Dialect().Name() == dialect.MySQL {
		res, err := r.db.NewRaw(consume, now, hash).Exec(ctx)
		n, err := rowsAffected(res, err, "consume authorization code")
		if err != nil {
			return domain.AuthorizationCode{}, err
		}
		won = n == 1
	} else {
		err := r.db.NewRaw(consume+" RETURNING *", now, hash).Scan(ctx, &row)
		switch {
		case err == nil:
			won = true
		case !errors.Is(err, sql.ErrNoRows):
			return domain.AuthorizationCode{}, wrapErr(err, "consume authorization code")
		}
	}
	if !loaded && (!won || row.Hash == nil) {
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
