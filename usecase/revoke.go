package usecase

import (
	"context"
	"errors"
	"fmt"

	"gatehouse/domain"
)

// Revoke is RFC 7009 token revocation. An unknown token, or one of another client, is
// answered with success and left alone (§2.2); a storage failure is an error, never a
// false success.
type Revoke struct {
	auth     *ClientAuthenticator
	tokens   TokenStore
	verifier AccessTokenVerifier
	hasher   SecretHasher
	clock    Clock
}

// NewRevoke builds the revocation endpoint.
func NewRevoke(auth *ClientAuthenticator, tokens TokenStore, verifier AccessTokenVerifier, hasher SecretHasher, clock Clock) *Revoke {
	return &Revoke{auth: auth, tokens: tokens, verifier: verifier, hasher: hasher, clock: clock}
}

// RevokeRequest is a parsed POST to the revocation endpoint.
type RevokeRequest struct {
	Credentials   Credentials
	Token         string
	TokenTypeHint string // access_token, refresh_token or empty; only a hint
}

// Execute revokes the token if it belongs to the calling client.
func (uc *Revoke) Execute(ctx context.Context, req RevokeRequest) error {
	client, err := uc.auth.Authenticate(ctx, req.Credentials)
	if err != nil {
		return err
	}
	if req.Token == "" {
		return domain.ErrInvalidRequest.WithDescription("missing token")
	}
	now := uc.clock.Now()
	// Refresh tokens are opaque, access tokens are JWTs: try the hint's kind first.
	tryRefresh := func() (bool, error) {
		rt, err := uc.tokens.RefreshTokenByHash(ctx, uc.hasher.HashToken(req.Token))
		if errors.Is(err, domain.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("look up refresh token: %w", err)
		}
		if rt.ClientID != client.ID {
			return true, nil
		}
		// Revoking a refresh token revokes its grant: the family's refresh and
		// access tokens (RFC 7009 §2.1, SECURITY S37).
		if err := uc.tokens.RevokeFamily(ctx, rt.FamilyID, now); err != nil {
			return true, fmt.Errorf("revoke token family: %w", err)
		}
		return true, nil
	}
	tryAccess := func() (bool, error) {
		at, err := uc.verifier.VerifyAccessToken(ctx, req.Token)
		if err != nil {
			return false, nil // not one of our live access tokens: nothing to revoke
		}
		if at.ClientID != client.ID {
			return true, nil
		}
		if err := uc.tokens.RevokeAccessToken(ctx, domain.RevokedAccessToken{JTI: at.ID, ExpiresAt: at.ExpiresAt}); err != nil {
			return true, fmt.Errorf("deny-list access token: %w", err)
		}
		return true, nil
	}
	order := []func() (bool, error){tryRefresh, tryAccess}
	if req.TokenTypeHint == "access_token" {
		order = []func() (bool, error){tryAccess, tryRefresh}
	}
	for _, try := range order {
		if found, err := try(); found || err != nil {
			return err
		}
	}
	return nil
}
