package usecase

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gatehouse/domain"
)

// PushedAuthorization is the pushed authorization request endpoint (RFC 9126): a
// client authenticates as at the token endpoint and posts its authorization request;
// the request is validated exactly as the authorization endpoint validates it, and
// stored under a one-time request_uri that the browser then carries to the
// authorization endpoint instead of the parameters.
type PushedAuthorization struct {
	auth      *ClientAuthenticator
	authorize *Authorize
	store     PushedRequestStore
	hasher    SecretHasher
	random    Random
	clock     Clock
	settings  PARSettings
}

// NewPushedAuthorization builds the PAR endpoint and makes the authorization endpoint
// accept its request_uri values (and, for clients that must use PAR, only those).
func NewPushedAuthorization(auth *ClientAuthenticator, authorize *Authorize, store PushedRequestStore,
	hasher SecretHasher, random Random, clock Clock, settings PARSettings) *PushedAuthorization {
	uc := &PushedAuthorization{auth: auth, authorize: authorize, store: store,
		hasher: hasher, random: random, clock: clock, settings: settings}
	authorize.par = uc
	return uc
}

// TTL is the lifetime of a new request_uri.
func (uc *PushedAuthorization) TTL() time.Duration {
	if uc.settings.TTL <= 0 || uc.settings.TTL > domain.MaxPushedRequestTTL {
		return domain.DefaultPushedRequestTTL
	}
	return uc.settings.TTL
}

// RequiredForAll reports whether every client must use PAR (GATEHOUSE_REQUIRE_PAR).
func (uc *PushedAuthorization) RequiredForAll() bool { return uc.settings.RequireAll }

// PushInput is one POST to the PAR endpoint.
type PushInput struct {
	Credentials Credentials
	Params      AuthorizeParams
}

// PushResult is the answer (RFC 9126 §2.2).
type PushResult struct {
	RequestURI string
	ExpiresIn  time.Duration
}

// Push authenticates the client, validates its authorization request and stores it.
// Errors are *domain.Error (JSON for the client), or infrastructure failures.
func (uc *PushedAuthorization) Push(ctx context.Context, in PushInput) (PushResult, error) {
	client, err := uc.auth.Authenticate(ctx, in.Credentials)
	if err != nil {
		return PushResult{}, err
	}
	p := in.Params
	if p.RequestURI != "" {
		// RFC 9126 §2.1: a pushed request cannot refer to another one.
		return PushResult{}, domain.ErrInvalidRequest.WithDescription("request_uri must not be pushed")
	}
	if p.ClientID != "" && p.ClientID != client.ID {
		return PushResult{}, domain.ErrInvalidRequest.WithDescription("client_id differs from the authenticated client")
	}
	p.ClientID = client.ID
	redirectURI, sent, perr := redirectFor(client, p)
	if perr != nil {
		return PushResult{}, perr.Err
	}
	req := domain.AuthRequest{ClientID: client.ID, RedirectURI: redirectURI, RedirectURISent: sent}
	if err := uc.authorize.validate(client, p, &req); err != nil {
		return PushResult{}, err
	}
	now := uc.clock.Now()
	ttl := uc.TTL()
	ref := uc.random.Token()
	r := domain.PushedRequest{
		Hash: uc.hasher.HashSecret(ref), ClientID: client.ID,
		RedirectURI: p.RedirectURI, ResponseType: p.ResponseType, Scope: p.Scope, State: p.State,
		Nonce: p.Nonce, CodeChallenge: p.CodeChallenge, CodeChallengeMethod: p.CodeChallengeMethod,
		Prompt: p.Prompt, MaxAge: p.MaxAge, Resource: slices.Clone(p.Resource),
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	if err := uc.store.CreatePushedRequest(ctx, r); err != nil {
		return PushResult{}, fmt.Errorf("store pushed authorization request: %w", err)
	}
	return PushResult{RequestURI: domain.RequestURIPrefix + ref, ExpiresIn: ttl}, nil
}

// take turns an authorization request carrying a request_uri into the pushed request
// it stands for, using it up. Only client_id is read from the query besides
// request_uri; the pushed parameters alone count (RFC 9126 §4). A request_uri that is
// unknown, expired, used, or of another client is a *PageError: no redirect URI is
// trusted yet. A request_uri of another client is not used up.
func (uc *PushedAuthorization) take(ctx context.Context, p AuthorizeParams) (AuthorizeParams, error) {
	for _, name := range []string{"client_id", "request_uri"} {
		if slices.Contains(p.Repeated, name) {
			return AuthorizeParams{}, pageErr(400, "the %s parameter is repeated", name)
		}
	}
	if p.ClientID == "" {
		return AuthorizeParams{}, pageErr(400, "the request has no client_id")
	}
	gone := pageErr(400, "the request_uri is unknown, expired or already used; the application must start again")
	ref, ok := domain.ParseRequestURI(p.RequestURI)
	if !ok {
		return AuthorizeParams{}, gone
	}
	hash := uc.hasher.HashSecret(ref)
	r, err := uc.store.PushedRequestByHash(ctx, hash)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return AuthorizeParams{}, gone
	case err != nil:
		return AuthorizeParams{}, fmt.Errorf("look up pushed authorization request: %w", err)
	}
	if r.ClientID != p.ClientID || r.Expired(uc.clock.Now()) {
		return AuthorizeParams{}, gone
	}
	err = uc.store.ConsumePushedRequest(ctx, hash)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return AuthorizeParams{}, gone
	case err != nil:
		return AuthorizeParams{}, fmt.Errorf("use pushed authorization request: %w", err)
	}
	return AuthorizeParams{
		ClientID: r.ClientID, RedirectURI: r.RedirectURI, ResponseType: r.ResponseType, Scope: r.Scope,
		State: r.State, Nonce: r.Nonce, CodeChallenge: r.CodeChallenge, CodeChallengeMethod: r.CodeChallengeMethod,
		Prompt: r.Prompt, MaxAge: r.MaxAge, Resource: slices.Clone(r.Resource),
	}, nil
}

// parRequired reports whether client may start an authorization only with a
// request_uri from the PAR endpoint (RFC 9126 §5).
func (uc *Authorize) parRequired(client domain.Client) bool {
	return client.RequirePAR || uc.par != nil && uc.par.settings.RequireAll
}
