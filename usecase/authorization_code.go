package usecase

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/domain"
)

// AuthorizationCodeGrant redeems a code at the token endpoint (RFC 6749 §4.1.3,
// RFC 7636 §4.6): single use, bound to client, redirect URI and PKCE challenge.
type AuthorizationCodeGrant struct {
	codes  CodeStore
	hasher SecretHasher
	minter *Minter
	clock  Clock
}

// NewAuthorizationCodeGrant builds the grant.
func NewAuthorizationCodeGrant(codes CodeStore, hasher SecretHasher, minter *Minter, clock Clock) *AuthorizationCodeGrant {
	return &AuthorizationCodeGrant{codes: codes, hasher: hasher, minter: minter, clock: clock}
}

// The answers about the code itself; why a code may not be exchanged by a request is
// domain.AuthorizationCode.ExchangeError's to say.
var (
	errUnknownCode = domain.ErrInvalidGrant.WithDescription("the authorization code is invalid")
	errUsedCode    = domain.ErrInvalidGrant.WithDescription("the authorization code was already used")
	errCodeUser    = domain.ErrInvalidGrant.WithDescription("the authorization code is no longer valid")
)

// Execute redeems the code in one step of the store (CodeStore.RedeemCode): the store
// reads and consumes the code, redeem decides, and the store writes the new grant (or
// revokes a replayed code's family). A failed check still consumes the code, so a code
// cannot be guessed at online (SECURITY S12).
func (uc *AuthorizationCodeGrant) Execute(ctx context.Context, client domain.Client, req TokenRequest) (domain.IssuedTokens, error) {
	if req.Code == "" {
		return domain.IssuedTokens{}, domain.ErrInvalidRequest.WithDescription("missing code")
	}
	now := uc.clock.Now()
	var (
		subject Subject
		secret  string
	)
	err := uc.codes.RedeemCode(ctx, uc.hasher.HashToken(req.Code), now, func(r CodeRedemption) (CodeOutcome, error) {
		if err := redeemable(client, req, r, now); err != nil {
			// A replay by the code's own client revokes what the first redemption issued
			// (RFC 6749 §4.1.2); another client's says nothing about the grant.
			return CodeOutcome{RevokeFamily: r.Code.UsedAt != nil && r.Code.ClientID == client.ID}, err
		}
		c := r.Code
		// RFC 8707 §2.2: resource at the token endpoint narrows the access token's
		// audience to some of those the code was granted; the refresh token keeps them all.
		if len(req.Resource) > 0 && !domain.ScopeCovers(c.Audience, req.Resource) {
			return CodeOutcome{}, domain.ErrInvalidTarget.WithDescription("the requested resource exceeds the authorization grant")
		}
		subject = Subject{Client: client, User: r.User, Scope: c.Scope, Audience: c.Audience, AuthTime: c.AuthTime, AMR: c.AMR,
			Nonce: c.Nonce, SessionID: c.SessionID, FamilyID: c.FamilyID, JKT: req.DPoPJKT, Claims: c.Claims}
		fam, rt, s := uc.minter.newGrant(subject)
		secret = s
		if len(req.Resource) > 0 {
			subject.Audience = domain.DistinctResources(req.Resource)
		}
		return CodeOutcome{Grant: &NewGrant{Family: fam, Refresh: rt}}, nil
	})
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.IssuedTokens{}, errUnknownCode
	case errors.Is(err, domain.ErrDuplicate):
		// The family was created meanwhile: a revocation voided the code as it was redeemed.
		return domain.IssuedTokens{}, errUsedCode
	case err != nil:
		var oauth *domain.Error
		if errors.As(err, &oauth) {
			return domain.IssuedTokens{}, err
		}
		return domain.IssuedTokens{}, fmt.Errorf("redeem code: %w", err)
	}
	return uc.minter.finish(ctx, subject, secret)
}

// redeemable says why the code, as the store read it, may not start its grant for this
// request at now, nil when it may: unused, not voided, exchangeable by this request
// (domain.AuthorizationCode.ExchangeError), and its user, client and browser session
// still there and enabled.
func redeemable(client domain.Client, req TokenRequest, r CodeRedemption, now time.Time) error {
	switch {
	case r.Code.UsedAt != nil, r.FamilyExists:
		// Used before, or voided: its family was revoked before it could start.
		return errUsedCode
	}
	if err := r.Code.ExchangeError(client.ID, req.RedirectURI, req.CodeVerifier, now); err != nil {
		return err
	}
	if r.User == nil || r.User.Disabled || r.ClientDisabled || !r.SessionLive {
		return errCodeUser
	}
	return nil
}
