package usecase

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/domain"
)

// RefreshTokenGrant is the refresh token grant (RFC 6749 §6) with rotation and reuse detection
// (RFC 9700 §4.14.2): every use returns a new refresh token; a rotated one presented
// again revokes its whole family.
type RefreshTokenGrant struct {
	tokens TokenStore
	hasher SecretHasher
	minter *Minter
	clock  Clock
}

// NewRefreshTokenGrant builds the grant.
func NewRefreshTokenGrant(tokens TokenStore, hasher SecretHasher, minter *Minter, clock Clock) *RefreshTokenGrant {
	return &RefreshTokenGrant{tokens: tokens, hasher: hasher, minter: minter, clock: clock}
}

var errBadRefreshToken = domain.ErrInvalidGrant.WithDescription("the refresh token is invalid, expired or revoked")

// Execute rotates the refresh token and issues new tokens, in one step of the store
// (TokenStore.UpdateRefreshToken): the store reads the token under its family's lock,
// rotation decides, and the store writes the successor (or revokes the family of a
// reused token).
func (uc *RefreshTokenGrant) Execute(ctx context.Context, client domain.Client, req TokenRequest) (domain.IssuedTokens, error) {
	if req.RefreshToken == "" {
		return domain.IssuedTokens{}, domain.ErrInvalidRequest.WithDescription("missing refresh_token")
	}
	start := uc.clock.Now()
	var (
		subject Subject
		secret  string
	)
	err := uc.tokens.UpdateRefreshToken(ctx, uc.hasher.HashToken(req.RefreshToken), func(st RefreshState) (RefreshChange, error) {
		// Under the family's lock: the moment this request rotates, if it does.
		now := uc.clock.Now()
		old := st.Token
		if err := refreshable(client, req, st, now); err != nil {
			return RefreshChange{RevokeFamily: replayed(client, old, start), Now: now}, err
		}
		scope, aud, err := narrowed(old, req)
		if err != nil {
			return RefreshChange{}, err
		}
		subject = Subject{Client: client, User: st.User, Scope: scope, Audience: aud, AuthTime: old.AuthTime, AMR: old.AMR,
			Nonce: old.Nonce, SessionID: old.SessionID, FamilyID: old.FamilyID, JKT: req.DPoPJKT, Claims: old.Claims}
		// The successor keeps the original grant's scope, so a narrower access token now
		// does not shrink what later refreshes may ask (RFC 6749 §6).
		next, s := uc.minter.newRefreshToken(subject)
		secret = s
		succ := old.Successor(next)
		return RefreshChange{Next: &succ, Now: now}, nil
	})
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.IssuedTokens{}, errBadRefreshToken
	case err != nil:
		var oauth *domain.Error
		if errors.As(err, &oauth) {
			return domain.IssuedTokens{}, err
		}
		return domain.IssuedTokens{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	return uc.minter.finish(ctx, subject, secret)
}

// replayed reports whether the token was presented again after its rotation had
// happened, by its own client: someone holds a copy, so the family is revoked (RFC 9700
// §4.14.2). A token rotated at or after this request began was rotated by a concurrent
// request with the same token (two tabs, a retried request): that one won, and this one
// is refused without revoking the grant the winner now holds (SECURITY S32: one
// winner, never two live branches). Times compare at the microsecond the databases
// keep; across instances their clocks' skew blurs the line by as much.
func replayed(client domain.Client, old domain.RefreshToken, start time.Time) bool {
	return old.ClientID == client.ID && old.RotatedAt != nil && old.RotatedAt.Before(start.Truncate(time.Microsecond))
}

// refreshable says why the token, as the store read it, may not be refreshed by this
// request at now, nil when it may.
func refreshable(client domain.Client, req TokenRequest, st RefreshState, now time.Time) error {
	old := st.Token
	switch {
	case old.ClientID != client.ID:
		return errBadRefreshToken // SECURITY S29
	case old.RotatedAt != nil, !old.Active(now), st.FamilyRevoked:
		return errBadRefreshToken
	case old.DPoPJKT != "" && req.DPoPJKT != old.DPoPJKT:
		// A bound refresh token (public client, RFC 9449 §5) needs a proof by its key.
		return domain.ErrInvalidGrant.WithDescription("the refresh token is bound to a DPoP key; send a proof signed with it")
	case st.User == nil || st.User.Disabled:
		return errBadRefreshToken
	}
	return nil
}

// narrowed is the scope and audience a refresh asks, within the original grant's; the
// grant's own when it asks none (RFC 6749 §6, RFC 8707 §2.2).
func narrowed(old domain.RefreshToken, req TokenRequest) (scope, aud []string, err error) {
	scope, aud = old.Scope, old.Audience
	if req.Scope != "" {
		asked, err := domain.ParseScope(req.Scope)
		if err != nil {
			return nil, nil, err
		}
		if !domain.ScopeCovers(old.Scope, asked) {
			return nil, nil, domain.ErrInvalidScope.WithDescription("the requested scope exceeds the original grant")
		}
		scope = asked
	}
	if len(req.Resource) > 0 {
		if !domain.ScopeCovers(old.Audience, req.Resource) {
			return nil, nil, domain.ErrInvalidTarget.WithDescription("the requested resource exceeds the original grant")
		}
		aud = domain.DistinctResources(req.Resource)
	}
	return scope, aud, nil
}
