package usecase

import (
	"context"

	"gatehouse/domain"
)

// AuthRequestStore keeps pending authorization requests between page views.
type AuthRequestStore interface {
	// CreateAuthRequest stores r; ErrDuplicate when its id exists, ErrNotFound when its
	// client does not.
	CreateAuthRequest(ctx context.Context, r domain.AuthRequest) error
	// AuthRequestByID returns the request; ErrNotFound when none. Expiry is the
	// caller's to judge.
	AuthRequestByID(ctx context.Context, id string) (domain.AuthRequest, error)
	// UpdateAuthRequest records who logged in for the request (r.UserID, r.AuthTime);
	// nothing else of a request changes. ErrNotFound when it is gone.
	UpdateAuthRequest(ctx context.Context, r domain.AuthRequest) error
	// DeleteAuthRequest removes the request with one conditional delete, so that of
	// any number of concurrent callers exactly one gets nil: that caller completes the
	// request. The others get ErrNotFound.
	DeleteAuthRequest(ctx context.Context, id string) error
}

// Expired requests are purged by the repository's housekeeping, not by the use cases.
