package bunrepo

import (
	"context"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// FactorRepository keeps the users' second factors: authenticator apps and recovery
// codes.
type FactorRepository struct {
	db *bun.DB
}

var _ usecase.FactorStore = (*FactorRepository)(nil)

// NewFactorRepository returns a repository over db.
func NewFactorRepository(db *bun.DB) *FactorRepository { return &FactorRepository{db: db} }

type totpRow struct {
	bun.BaseModel `bun:"table:user_totp"`
	UserID        string    `bun:"user_id,pk"`
	Secret        []byte    `bun:"secret"`
	LastStep      int64     `bun:"last_step"`
	CreatedAt     time.Time `bun:"created_at"`
}

type recoveryCodeRow struct {
	bun.BaseModel `bun:"table:recovery_codes"`
	UserID        string    `bun:"user_id,pk"`
	Hash          []byte    `bun:"hash,pk"`
	CreatedAt     time.Time `bun:"created_at"`
}

// TOTPFactor: see usecase.FactorStore.
func (r *FactorRepository) TOTPFactor(ctx context.Context, userID string) (domain.TOTPFactor, error) {
	var row totpRow
	if err := r.db.NewSelect().Model(&row).Where("user_id = ?", userID).Scan(ctx); err != nil {
		return domain.TOTPFactor{}, wrapErr(err, "select authenticator of user %q", userID)
	}
	return domain.TOTPFactor{UserID: row.UserID, SealedSecret: row.Secret, LastStep: row.LastStep, CreatedAt: utc(row.CreatedAt)}, nil
}

// CreateTOTPFactor: see usecase.FactorStore; the primary key refuses a second one.
func (r *FactorRepository) CreateTOTPFactor(ctx context.Context, f domain.TOTPFactor) error {
	row := totpRow{UserID: f.UserID, Secret: f.SealedSecret, LastStep: f.LastStep, CreatedAt: f.CreatedAt.UTC()}
	if _, err := insert(ctx, r.db, &row); err != nil {
		return wrapErr(err, "insert authenticator of user %q", f.UserID)
	}
	return nil
}

// UseTOTPStep: see usecase.FactorStore. The WHERE decides between racing callers.
func (r *FactorRepository) UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	res, err := r.db.NewRaw("UPDATE user_totp SET last_step = ? WHERE user_id = ? AND last_step < ?", step, userID, step).Exec(ctx)
	n, err := rowsAffected(res, err, "use a code of user %q", userID)
	return n == 1, err
}

// ReplaceRecoveryCodes: see usecase.FactorStore; in one transaction.
func (r *FactorRepository) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, now time.Time) error {
	return inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*recoveryCodeRow)(nil)).Where("user_id = ?", userID).Exec(ctx); err != nil {
			return wrapErr(err, "delete recovery codes of user %q", userID)
		}
		if len(hashes) == 0 {
			return nil
		}
		rows := make([]recoveryCodeRow, len(hashes))
		for i, h := range hashes {
			rows[i] = recoveryCodeRow{UserID: userID, Hash: h, CreatedAt: now.UTC()}
		}
		if _, err := insert(ctx, tx, &rows); err != nil {
			return wrapErr(err, "insert recovery codes of user %q", userID)
		}
		return nil
	})
}

// UseRecoveryCode: see usecase.FactorStore; one DELETE decides between racing callers.
func (r *FactorRepository) UseRecoveryCode(ctx context.Context, userID string, hash []byte) (bool, error) {
	res, err := r.db.NewRaw("DELETE FROM recovery_codes WHERE user_id = ? AND hash = ?", userID, hash).Exec(ctx)
	n, err := rowsAffected(res, err, "use a recovery code of user %q", userID)
	return n == 1, err
}

// RecoveryCodesLeft: see usecase.FactorStore.
func (r *FactorRepository) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	n, err := r.db.NewSelect().Model((*recoveryCodeRow)(nil)).Where("user_id = ?", userID).Count(ctx)
	if err != nil {
		return 0, wrapErr(err, "count recovery codes of user %q", userID)
	}
	return int(n), nil
}

// DeleteFactors: see usecase.FactorStore.
func (r *FactorRepository) DeleteFactors(ctx context.Context, userID string) (bool, error) {
	var n int64
	err := inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		n = 0
		for _, m := range []any{(*totpRow)(nil), (*recoveryCodeRow)(nil)} {
			res, err := tx.NewDelete().Model(m).Where("user_id = ?", userID).Exec(ctx)
			k, err := rowsAffected(res, err, "delete factors of user %q", userID)
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	return n > 0, err
}

// factorsSchema: the authenticator app of a user (its secret sealed, as signing keys
// are) and the user's recovery codes (keyed hashes).
func factorsSchema() []tableDef {
	return []tableDef{{
		name: "user_totp",
		columns: []column{col("user_id", typeID), col("secret", typeBlob), col("last_step", typeBigInt),
			col("created_at", typeTime)},
		primaryKey:  []string{"user_id"},
		foreignKeys: []foreignKey{{"user_id", "users", "id"}},
	}, {
		name:        "recovery_codes",
		columns:     []column{col("user_id", typeID), col("hash", typeHash), col("created_at", typeTime)},
		primaryKey:  []string{"user_id", "hash"},
		foreignKeys: []foreignKey{{"user_id", "users", "id"}},
	}}
}

func sessionAMR() (string, column)       { return "sessions", nullCol("amr", typeText) }
func codeAMR() (string, column)          { return "authorization_codes", nullCol("amr", typeText) }
func refreshAMR() (string, column)       { return "refresh_tokens", nullCol("amr", typeText) }
func clientRequireMFA() (string, column) { return "clients", nullCol("require_mfa", typeBool) }

// factorsMigration is migration 20260318000021 (issue 21): second factors, and how
// each session (and the codes and refresh tokens it led to) was signed in.
func factorsMigration() migrate.Migration {
	ups := []migrationFunc{createTables(factorsSchema)}
	downs := []migrationFunc{dropTables(factorsSchema)}
	for _, def := range []func() (string, column){sessionAMR, codeAMR, refreshAMR, clientRequireMFA} {
		u, d := addColumn(def)
		ups = append(ups, u)
		downs = append([]migrationFunc{d}, downs...)
	}
	return migrate.Migration{Name: "20260318000021", Comment: "mfa_factors", Up: sequence(ups), Down: sequence(downs)}
}
