package usecase

import (
	"context"
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
	auth     *ClientAuthenticator
	store    PushedRequestStore
	hasher   SecretHasher
	random   Random
	clock    Clock
	settings PARSettings
	policy   AuthorizePolicy
	// resources: open resources may be asked for by any client (nil: none).
	resources ResourceStore
}

// NewPushedAuthorization builds the PAR endpoint. The authorization endpoint takes
// the requests it stores through the same PushedRequestStore (Authorize.Start).
func NewPushedAuthorization(auth *ClientAuthenticator, store PushedRequestStore,
	hasher SecretHasher, random Random, clock Clock, settings PARSettings, server Settings) *PushedAuthorization {
	return &PushedAuthorization{auth: auth, store: store, hasher: hasher, random: random, clock: clock,
		settings: settings, policy: server.authorizePolicy()}
}

// NewPushedAuthorizationWithResources is NewPushedAuthorization where clients may also
// ask for open resources (gatehouse resources create --open), as at the
// authorization endpoint.
func NewPushedAuthorizationWithResources(auth *ClientAuthenticator, store PushedRequestStore, hasher SecretHasher,
	random Random, clock Clock, settings PARSettings, server Settings, resources ResourceStore) *PushedAuthorization {
	uc := NewPushedAuthorization(auth, store, hasher, random, clock, settings, server)
	uc.resources = resources
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
	if p.IDTokenHint != "" {
		// A pushed request keeps no id_token_hint (RFC 9126 §4: the pushed parameters
		// alone count); refused rather than dropped.
		return PushResult{}, domain.ErrInvalidRequest.WithDescription("id_token_hint cannot be pushed; send it to the authorization endpoint without PAR")
	}
	if _, _, err := RedirectFor(client, p); err != nil {
		return PushResult{}, err
	}
	policy := uc.policy
	if policy.OpenResources, err = openResources(ctx, uc.resources, client, p.Resource); err != nil {
		return PushResult{}, err
	}
	if _, err := ValidateAuthRequest(client, p, policy); err != nil {
		return PushResult{}, err
	}
	if p.ACRValues != "" {
		// Stored folded into the claims request, as an essential acr (SECURITY S53).
		cr, err := domain.ParseClaimsRequest(p.Claims)
		if err != nil {
			return PushResult{}, err
		}
		p.Claims = cr.WithACRValues(p.ACRValues).Encode()
	}
	now := uc.clock.Now()
	ttl := uc.TTL()
	ref := uc.random.Token()
	r := domain.PushedRequest{
		Hash: uc.hasher.HashSecret(ref), ClientID: client.ID,
		RedirectURI: p.RedirectURI, ResponseType: p.ResponseType, Scope: p.Scope, State: p.State,
		Nonce: p.Nonce, CodeChallenge: p.CodeChallenge, CodeChallengeMethod: p.CodeChallengeMethod,
		Prompt: p.Prompt, MaxAge: p.MaxAge, Claims: p.Claims, Resource: slices.Clone(p.Resource),
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	if err := uc.store.CreatePushedRequest(ctx, r); err != nil {
		return PushResult{}, fmt.Errorf("store pushed authorization request: %w", err)
	}
	return PushResult{RequestURI: domain.RequestURIPrefix + ref, ExpiresIn: ttl}, nil
}
