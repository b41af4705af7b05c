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
	tokens TokenStore
	users  UserStore
	hasher SecretHasher
	minter *Minter
	clock  Clock
}

// NewAuthorizationCodeGrant builds the grant.
func NewAuthorizationCodeGrant(codes CodeStore, tokens TokenStore, users UserStore, hasher SecretHasher, minter *Minter, clock Clock) *AuthorizationCodeGrant {
	return &AuthorizationCodeGrant{codes: codes, tokens: tokens, users: users, hasher: hasher, minter: minter, clock: clock}
}

// The answers about the code itself; why a code may not be exchanged by a request is
// domain.AuthorizationCode.ExchangeError's to say.
var (
	errUnknownCode = domain.ErrInvalidGrant.WithDescription("the authorization code is invalid")
	errUsedCode    = domain.ErrInvalidGrant.WithDescription("the authorization code was already used")
	errCodeUser    = domain.ErrInvalidGrant.WithDescription("the authorization code is no longer valid")
)

// Execute consumes the code, then checks its bindings: a failed check still consumes it,
// so a code cannot be guessed at online (SECURITY S12). The usual exchange is one step
// of the store (RedeemCode: consume, check, store the new grant); a malformed verifier
// only consumes the code.
func (uc *AuthorizationCodeGrant) Execute(ctx context.Context, client domain.Client, req TokenRequest) (domain.IssuedTokens, error) {
	if req.Code == "" {
		return domain.IssuedTokens{}, domain.ErrInvalidRequest.WithDescription("missing code")
	}
	now := uc.clock.Now()
	hash := uc.hasher.HashSecret(req.Code)
	if req.CodeVerifier != "" && !domain.ValidCodeVerifier(req.CodeVerifier) {
		code, err := uc.codes.ConsumeCode(ctx, hash, now)
		if err := uc.consumed(ctx, client, code, err, now); err != nil {
			return domain.IssuedTokens{}, err
		}
		return domain.IssuedTokens{}, uc.refusal(client, req, code, now)
	}
	challenge := ""
	if req.CodeVerifier != "" {
		challenge = domain.PKCEChallenge(req.CodeVerifier)
	}
	fam, rt, secret := uc.minter.newGrant(Subject{Client: client, User: &domain.User{}, JKT: req.DPoPJKT})
	res, err := uc.codes.RedeemCode(ctx, hash, CodeRedemption{ClientID: client.ID, RedirectURI: req.RedirectURI,
		Challenge: challenge, Now: now, Family: fam, Refresh: rt})
	code := res.Code
	if errors.Is(err, domain.ErrDuplicate) {
		// The family exists already: revoked by a replay of this code (RFC 6749 §4.1.2).
		return domain.IssuedTokens{}, errUsedCode
	}
	if err := uc.consumed(ctx, client, code, err, now); err != nil {
		return domain.IssuedTokens{}, err
	}
	if !res.Issued {
		return domain.IssuedTokens{}, uc.refusal(client, req, code, now)
	}
	user := res.User
	if user == nil {
		// Deleted meanwhile (the store found no user): the lookup says so.
		u, err := uc.users.UserByID(ctx, code.UserID)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			return domain.IssuedTokens{}, errCodeUser
		case err != nil:
			return domain.IssuedTokens{}, fmt.Errorf("look up user: %w", err)
		}
		user = &u
	}
	return uc.minter.finish(ctx, Subject{Client: client, User: user, Scope: code.Scope, Audience: code.Audience,
		AuthTime: code.AuthTime, Nonce: code.Nonce, SessionID: code.SessionID, FamilyID: code.FamilyID,
		JKT: req.DPoPJKT}, secret)
}

// consumed turns the store's answer to a redemption into the grant's error: an unknown
// code, or a second redemption, which revokes what the first one issued (RFC 6749
// §4.1.2).
func (uc *AuthorizationCodeGrant) consumed(ctx context.Context, client domain.Client, code domain.AuthorizationCode, err error, now time.Time) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, domain.ErrNotFound):
		return errUnknownCode
	case errors.Is(err, domain.ErrAlreadyUsed):
		if code.ClientID == client.ID {
			if err := uc.tokens.RevokeFamily(ctx, code.FamilyID, now); err != nil {
				return fmt.Errorf("revoke tokens of a replayed code: %w", err)
			}
		}
		return errUsedCode
	default:
		return fmt.Errorf("consume code: %w", err)
	}
}

// refusal says why a consumed code may not be exchanged by this request: the store
// decided in one conditional step (CodeRedemption.Matches) and answers the consumed
// code, from which the domain tells which condition failed.
func (uc *AuthorizationCodeGrant) refusal(client domain.Client, req TokenRequest, code domain.AuthorizationCode, now time.Time) error {
	if err := code.ExchangeError(client.ID, req.RedirectURI, req.CodeVerifier, now); err != nil {
		return err
	}
	// The store refused what the rule accepts: they must never disagree.
	return domain.ErrInvalidGrant.WithDescription("the authorization code cannot be exchanged")
}
