package usecase

import (
	"context"
	"time"

	"gatehouse/domain"
)

// DeviceStore keeps device authorizations (RFC 8628). Every change of state is one
// conditional update in the database, so that concurrent page submissions and polls
// cannot both win: a pending authorization is approved or denied once, and an
// approved one is consumed once.
type DeviceStore interface {
	// CreateDeviceAuthorization stores d; ErrDuplicate when its device code hash or
	// user code hash exists, ErrNotFound when its client does not.
	CreateDeviceAuthorization(ctx context.Context, d domain.DeviceAuthorization) error
	// DeviceAuthorizationByUserCode finds an authorization by the hash of its normalised
	// user code; ErrNotFound when none. Expiry is the caller's to judge.
	DeviceAuthorizationByUserCode(ctx context.Context, userCodeHash []byte) (domain.DeviceAuthorization, error)
	// DeviceAuthorizationByDeviceCode finds an authorization by the hash of its device
	// code; ErrNotFound when none.
	DeviceAuthorizationByDeviceCode(ctx context.Context, deviceCodeHash []byte) (domain.DeviceAuthorization, error)
	// ApproveDeviceAuthorization records the user's approval, only while the
	// authorization is pending and not expired at now; otherwise ErrAlreadyUsed
	// (ErrNotFound when it does not exist).
	ApproveDeviceAuthorization(ctx context.Context, deviceCodeHash []byte, a DeviceApproval, now time.Time) error
	// DenyDeviceAuthorization records the user's refusal, under the same conditions.
	DenyDeviceAuthorization(ctx context.Context, deviceCodeHash []byte, now time.Time) error
	// PollDeviceAuthorization records a poll at now and returns the authorization as
	// the poll left it. While it is pending, a poll sooner than the interval after the
	// previous one is answered slowDown=true and lengthens the stored interval by
	// domain.DeviceSlowDownStep (RFC 8628 §3.5). Of concurrent polls inside one
	// interval at most one is let through: the check and the write are one conditional
	// update. ErrNotFound when it does not exist.
	PollDeviceAuthorization(ctx context.Context, deviceCodeHash []byte, now time.Time) (d domain.DeviceAuthorization, slowDown bool, err error)
	// ConsumeDeviceAuthorization marks an approved, unexpired authorization consumed
	// with one conditional update: of any number of concurrent callers exactly one
	// gets nil; the others get ErrAlreadyUsed (ErrNotFound when it does not exist).
	ConsumeDeviceAuthorization(ctx context.Context, deviceCodeHash []byte, now time.Time) error
}

// DeviceApproval is who approved a device authorization.
type DeviceApproval struct {
	UserID    string
	AuthTime  time.Time
	SessionID string
	// AMR are the authentication methods of the approving session (RFC 8176).
	AMR []string
}
