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

// IDTokenHint is what RP-initiated logout reads from an id_token_hint.
type IDTokenHint struct {
	Subject  string // the user the ID token was issued for
	ClientID string // its aud: the client it was issued to
}

// IDTokenHintVerifier checks an ID token this server issued, handed back as the
// id_token_hint of a logout request (OpenID Connect RP-Initiated Logout 1.0 §2):
// signature with one of our published keys, alg, iss, sub and a single aud. Expiry
// is not checked: an RP typically logs out after its ID token has expired, and the
// hint only says who the RP thinks is logged in. Any defect is domain.ErrInvalidToken.
type IDTokenHintVerifier interface {
	VerifyIDTokenHint(ctx context.Context, raw string) (IDTokenHint, error)
}
