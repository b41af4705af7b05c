package usecase

import (
	"context"
	"time"

	"gatehouse/domain"
)

// PushedRequestStore keeps pushed authorization requests (RFC 9126) by the hash of
// their request_uri, in the database, so that any instance can serve the
// authorization step.
type PushedRequestStore interface {
	// CreatePushedRequest stores r; ErrDuplicate when its hash exists, ErrNotFound
	// when its client does not.
	CreatePushedRequest(ctx context.Context, r domain.PushedRequest) error
	// PushedRequestByHash returns the request; ErrNotFound when none. Expiry is the
	// caller's to judge.
	PushedRequestByHash(ctx context.Context, hash []byte) (domain.PushedRequest, error)
	// ConsumePushedRequest removes the request with one conditional delete, so that
	// of any number of concurrent callers exactly one gets nil: that caller uses the
	// request_uri. The others get ErrNotFound.
	ConsumePushedRequest(ctx context.Context, hash []byte) error
}

// ClientRegistrationStore changes dynamically registered clients (RFC 7591, 7592).
type ClientRegistrationStore interface {
	ClientAdminStore
	// UpdateRegisteredClient replaces the metadata of c (name, redirect URIs, grant
	// types, scopes, post-logout redirect URIs, registration token hash, updated_at);
	// its id, secret and creation time stay. With a non-nil tokenHash the write
	// happens only while the stored registration token hash is still tokenHash, so
	// that of two requests holding one registration access token only one rotates
	// it (RFC 7592 §3). ErrNotFound when there is no such client or its hash moved
	// on, ErrDuplicate when the new name is taken.
	UpdateRegisteredClient(ctx context.Context, c domain.Client, tokenHash []byte) error
}

// PARSettings configure pushed authorization requests.
type PARSettings struct {
	// TTL is the lifetime of a request_uri; zero means domain.DefaultPushedRequestTTL.
	TTL time.Duration
	// RequireAll makes every client use PAR (GATEHOUSE_REQUIRE_PAR).
	RequireAll bool
}
