package usecase

import (
	"context"
	"errors"
	"fmt"

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

var errBadCode = domain.ErrInvalidGrant.WithDescription("the authorization code is invalid, expired or already used")

// Execute consumes the code, then checks its bindings: a failed check still consumes it,
// so a code cannot be guessed at online (SECURITY S12).
func (uc *AuthorizationCodeGrant) Execute(ctx context.Context, client domain.Client, req TokenRequest) (domain.IssuedTokens, error) {
	if req.Code == "" {
		return domain.IssuedTokens{}, domain.ErrInvalidRequest.WithDescription("missing code")
	}
	now := uc.clock.Now()
	code, err := uc.codes.ConsumeCode(ctx, uc.hasher.HashSecret(req.Code), now)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.IssuedTokens{}, errBadCode
	case errors.Is(err, domain.ErrAlreadyUsed):
		// Second redemption: revoke what the first one issued (RFC 6749 §4.1.2).
		if code.ClientID == client.ID {
			if err := uc.tokens.RevokeFamily(ctx, code.FamilyID, now); err != nil {
				return domain.IssuedTokens{}, fmt.Errorf("revoke tokens of a replayed code: %w", err)
			}
		}
		return domain.IssuedTokens{}, errBadCode
	case err != nil:
		return domain.IssuedTokens{}, fmt.Errorf("consume code: %w", err)
	}
	if code.ClientID != client.ID || code.Expired(now) {
		return domain.IssuedTokens{}, errBadCode
	}
	if req.RedirectURI != code.RedirectURI {
		return domain.IssuedTokens{}, domain.ErrInvalidGrant.WithDescription("redirect_uri does not match the authorization request")
	}
	switch {
	case req.CodeVerifier != "" && !domain.ValidCodeVerifier(req.CodeVerifier):
		// Checked after the code is consumed, like every PKCE failure.
		return domain.IssuedTokens{}, domain.ErrInvalidGrant.WithDescription("code_verifier must be 43 to 128 unreserved characters")
	case code.CodeChallenge != "" && !domain.VerifyPKCE(code.CodeChallenge, req.CodeVerifier):
		return domain.IssuedTokens{}, domain.ErrInvalidGrant.WithDescription("PKCE verification failed")
	case code.CodeChallenge == "" && req.CodeVerifier != "":
		// A verifier for a code issued without a challenge: a downgrade attempt (RFC 9700 §4.8.2).
		return domain.IssuedTokens{}, domain.ErrInvalidGrant.WithDescription("code_verifier sent for a code issued without PKCE")
	}
	user, err := uc.users.UserByID(ctx, code.UserID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.IssuedTokens{}, errBadCode
	case err != nil:
		return domain.IssuedTokens{}, fmt.Errorf("look up user: %w", err)
	}
	return uc.minter.IssueForUser(ctx, Subject{Client: client, User: &user, Scope: code.Scope, Audience: code.Audience,
		AuthTime: code.AuthTime, Nonce: code.Nonce, SessionID: code.SessionID, FamilyID: code.FamilyID,
		JKT: req.DPoPJKT})
}
