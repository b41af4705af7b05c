package usecase

import (
	"context"
	"time"

	"gatehouse/domain"
)

// FactorStore keeps users' second factors: the authenticator app and the recovery
// codes (stored as keyed hashes). Both die with their user.
type FactorStore interface {
	// TOTPFactor returns the user's authenticator app; ErrNotFound when none.
	TOTPFactor(ctx context.Context, userID string) (domain.TOTPFactor, error)
	// CreateTOTPFactor stores f; ErrDuplicate when the user has one already,
	// ErrNotFound when there is no such user.
	CreateTOTPFactor(ctx context.Context, f domain.TOTPFactor) error
	// UseTOTPStep records step as the last one used, only when it is later than the
	// stored one (one conditional UPDATE): of concurrent callers with one step exactly
	// one gets true; false when there is no factor.
	UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error)
	// ReplaceRecoveryCodes replaces the user's recovery codes by hashes.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, now time.Time) error
	// UseRecoveryCode deletes the user's code with hash: of concurrent callers exactly
	// one gets true; false when the user has no such code.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte) (bool, error)
	// RecoveryCodesLeft counts the user's unused recovery codes.
	RecoveryCodesLeft(ctx context.Context, userID string) (int, error)
	// DeleteFactors removes the user's authenticator app and recovery codes; false
	// when there was neither.
	DeleteFactors(ctx context.Context, userID string) (bool, error)
}
