package bunrepo

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// CodeRepository stores authorization codes by the hash of the code.
type CodeRepository struct {
	db *bun.DB
}

var _ usecase.CodeStore = (*CodeRepository)(nil)

// NewCodeRepository returns a repository over db.
func NewCodeRepository(db *bun.DB) *CodeRepository { return &CodeRepository{db: db} }

// CreateCode inserts c; ErrDuplicate when the hash exists, ErrNotFound when its
// client or user does not.
func (r *CodeRepository) CreateCode(ctx context.Context, c domain.AuthorizationCode) error {
	row := codeToRow(c)
	if _, err := insert(ctx, r.db, &row); err != nil {
		return wrapErr(err, "insert authorization code")
	}
	return nil
}

// ConsumeCode marks the code used. The decision is one conditional UPDATE, so that of
// concurrent callers the database lets exactly one through (SECURITY S15); the code
// is read afterwards, by everyone, so a replay still learns which family to revoke.
// Expiry is the caller's to judge on the returned code.
func (r *CodeRepository) ConsumeCode(ctx context.Context, hash []byte, now time.Time) (domain.AuthorizationCode, error) {
	res, err := r.db.NewRaw("UPDATE authorization_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL", now, hash).
		Exec(ctx)
	n, err := rowsAffected(res, err, "consume authorization code")
	if err != nil {
		return domain.AuthorizationCode{}, err
	}
	var row codeRow
	if err := r.db.NewSelect().Model(&row).Where("hash = ?", hash).Scan(ctx); err != nil {
		// When n == 1 the code is now burnt without its caller learning it: failing
		// closed is the right side to err on for a single-use credential.
		return domain.AuthorizationCode{}, wrapErr(err, "select authorization code")
	}
	code, err := row.toDomain()
	if err != nil {
		return domain.AuthorizationCode{}, err
	}
	if n == 0 {
		return code, fmt.Errorf("consume authorization code: %w", domain.ErrAlreadyUsed)
	}
	return code, nil
}
