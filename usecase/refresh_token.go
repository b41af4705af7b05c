package usecase

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gatehouse/domain"
)

// RefreshTokenGrant is the refresh token grant (RFC 6749 §6) with rotation and reuse detection
// (RFC 9700 §4.14.2): every use returns a new refresh token; a rotated one presented
// again revokes its whole family.
type RefreshTokenGrant struct {
	tokens TokenStore
	users  UserStore
	hasher SecretHasher
	minter *Minter
	clock  Clock
}

// NewRefreshTokenGrant builds the grant.
func NewRefreshTokenGrant(tokens TokenStore, users UserStore, hasher SecretHasher, minter *Minter, clock Clock) *RefreshTokenGrant {
	return &RefreshTokenGrant{tokens: tokens, users: users, hasher: hasher, minter: minter, clock: clock}
}

var errBadRefreshToken = domain.ErrInvalidGrant.WithDescription("the refresh token is invalid, expired or revoked")

// Execute rotates the refresh token and issues new tokens.
func (uc *RefreshTokenGrant) Execute(ctx context.Context, client domain.Client, req TokenRequest) (domain.IssuedTokens, error) {
	if req.RefreshToken == "" {
		return domain.IssuedTokens{}, domain.ErrInvalidRequest.WithDescription("missing refresh_token")
	}
	now := uc.clock.Now()
	hash := uc.hasher.HashSecret(req.RefreshToken)
	// The successor's secret, hash, times and binding; the grant is the old token's.
	next, secret := uc.minter.newRefreshToken(Subject{Client: client, User: &domain.User{}, JKT: req.DPoPJKT})
	if req.Scope == "" && len(req.Resource) == 0 {
		// The usual refresh keeps the grant: the store checks and rotates in one step.
		old, rotated, err := uc.tokens.RotateUsableRefreshToken(ctx, hash,
			RefreshRotation{ClientID: client.ID, ProofJKT: req.DPoPJKT, Next: next, Now: now})
		switch {
		case errors.Is(err, domain.ErrNotFound):
			return domain.IssuedTokens{}, errBadRefreshToken
		case err != nil:
			return domain.IssuedTokens{}, fmt.Errorf("rotate refresh token: %w", err)
		}
		if !rotated {
			if err := uc.check(ctx, client, req, old, now); err != nil {
				return domain.IssuedTokens{}, err
			}
			// Usable when read: a concurrent refresh with the same token won, or the
			// family was revoked.
			return domain.IssuedTokens{}, errBadRefreshToken
		}
		return uc.issue(ctx, client, req, old, old.Scope, old.Audience, secret)
	}

	old, err := uc.tokens.RefreshTokenByHash(ctx, hash)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.IssuedTokens{}, errBadRefreshToken
	case err != nil:
		return domain.IssuedTokens{}, fmt.Errorf("look up refresh token: %w", err)
	}
	if err := uc.check(ctx, client, req, old, now); err != nil {
		return domain.IssuedTokens{}, err
	}
	scope := old.Scope
	if req.Scope != "" {
		asked, err := domain.ParseScope(req.Scope)
		if err != nil {
			return domain.IssuedTokens{}, err
		}
		if !domain.ScopeCovers(old.Scope, asked) {
			return domain.IssuedTokens{}, domain.ErrInvalidScope.WithDescription("the requested scope exceeds the original grant")
		}
		scope = asked
	}
	aud := old.Audience
	if len(req.Resource) > 0 {
		if !domain.ScopeCovers(old.Audience, req.Resource) {
			return domain.IssuedTokens{}, domain.ErrInvalidTarget.WithDescription("the requested resource exceeds the original grant")
		}
		aud = req.Resource
	}
	// The successor keeps the original grant's scope, so a narrower access token now
	// does not shrink what later refreshes may ask (RFC 6749 §6).
	if err := uc.tokens.RotateRefreshToken(ctx, hash, old.Successor(next), now); err != nil {
		if errors.Is(err, domain.ErrAlreadyUsed) || errors.Is(err, domain.ErrNotFound) {
			// A concurrent request with the same token won the conditional update.
			return domain.IssuedTokens{}, errBadRefreshToken
		}
		return domain.IssuedTokens{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	return uc.issue(ctx, client, req, old, scope, aud, secret)
}

// check refuses a refresh token the client may not use, and revokes the family of
// one presented after its rotation.
func (uc *RefreshTokenGrant) check(ctx context.Context, client domain.Client, req TokenRequest, old domain.RefreshToken, now time.Time) error {
	if old.ClientID != client.ID {
		return errBadRefreshToken // SECURITY S29
	}
	if old.RotatedAt != nil {
		// Reuse of a rotated token: someone holds a copy. Revoke the family.
		if err := uc.tokens.RevokeFamily(ctx, old.FamilyID, now); err != nil {
			return fmt.Errorf("revoke family on refresh token reuse: %w", err)
		}
		return errBadRefreshToken
	}
	if !old.Active(now) {
		return errBadRefreshToken
	}
	if old.DPoPJKT != "" && req.DPoPJKT != old.DPoPJKT {
		// A bound refresh token (public client, RFC 9449 §5) needs a proof by its key.
		return domain.ErrInvalidGrant.WithDescription("the refresh token is bound to a DPoP key; send a proof signed with it")
	}
	return nil
}

// issue mints the access token (and ID token) of a rotated grant.
func (uc *RefreshTokenGrant) issue(ctx context.Context, client domain.Client, req TokenRequest, old domain.RefreshToken,
	scope, aud []string, secret string) (domain.IssuedTokens, error) {
	// The user's claims matter only to an ID token. Without one the user id is all the
	// access token needs: a deleted user's families are revoked (Admin.DeleteUser), and
	// the rotation refuses a revoked family, so no read is saved at a cost.
	user := domain.User{ID: old.UserID}
	if slices.Contains(scope, domain.ScopeOpenID) {
		var err error
		user, err = uc.users.UserByID(ctx, old.UserID)
		switch {
		case errors.Is(err, domain.ErrNotFound), err == nil && user.Disabled:
			return domain.IssuedTokens{}, errBadRefreshToken
		case err != nil:
			return domain.IssuedTokens{}, fmt.Errorf("look up user: %w", err)
		}
	}
	s := Subject{Client: client, User: &user, Scope: scope, Audience: aud, AuthTime: old.AuthTime,
		Nonce: old.Nonce, SessionID: old.SessionID, FamilyID: old.FamilyID, JKT: req.DPoPJKT}
	return uc.minter.finish(ctx, s, secret)
}
