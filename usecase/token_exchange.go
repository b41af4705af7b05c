package usecase

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/domain"
)

// TokenExchangeParams are the RFC 8693 §2.1 parameters of a token request. Empty
// strings mean absent.
type TokenExchangeParams struct {
	SubjectToken       string
	SubjectTokenType   string
	ActorToken         string
	ActorTokenType     string
	RequestedTokenType string
	Audience           string
}

// errBadSubjectToken answers a subject token that does not verify, expired, was
// revoked or was not meant for the exchanging client: invalid_request, as RFC 8693
// §2.2.2 requires ("MUST") for a subject token that is invalid for any reason or
// unacceptable by policy, although the other grants answer invalid_grant.
var errBadSubjectToken = domain.ErrInvalidRequest

// TokenExchangeGrant is RFC 8693 token exchange: a confidential client (a resource
// server acting for the user) trades an access token meant for it for a narrower one
// meant for another API, carrying the client as actor (act). Impersonation without
// an act claim and delegation by actor_token are not offered.
type TokenExchangeGrant struct {
	verifier AccessTokenVerifier
	tokens   TokenStore
	minter   *Minter
	clock    Clock
	settings Settings
}

// NewTokenExchangeGrant builds the grant.
func NewTokenExchangeGrant(verifier AccessTokenVerifier, tokens TokenStore, minter *Minter, clock Clock, settings Settings) *TokenExchangeGrant {
	return &TokenExchangeGrant{verifier: verifier, tokens: tokens, minter: minter, clock: clock, settings: settings}
}

// Execute checks the request, the subject token and the policy, then issues the
// exchanged access token; the client is already authenticated and allowed the grant.
func (g *TokenExchangeGrant) Execute(ctx context.Context, client domain.Client, req TokenRequest) (domain.IssuedTokens, error) {
	if client.Public {
		return domain.IssuedTokens{}, domain.ErrUnauthorizedClient.WithDescription("public clients cannot use token exchange")
	}
	x := req.TokenExchange
	switch {
	case x.ActorToken != "" || x.ActorTokenType != "":
		return domain.IssuedTokens{}, domain.ErrInvalidRequest.WithDescription("actor_token is not supported: the authenticated client is the actor")
	case x.RequestedTokenType != "" && x.RequestedTokenType != domain.TokenTypeAccessToken:
		return domain.IssuedTokens{}, domain.ErrInvalidRequest.WithDescription("requested_token_type: only %s can be issued", domain.TokenTypeAccessToken)
	case x.SubjectToken == "":
		return domain.IssuedTokens{}, domain.ErrInvalidRequest.WithDescription("missing subject_token")
	case x.SubjectTokenType == "":
		return domain.IssuedTokens{}, domain.ErrInvalidRequest.WithDescription("missing subject_token_type")
	case x.SubjectTokenType != domain.TokenTypeAccessToken:
		return domain.IssuedTokens{}, domain.ErrInvalidRequest.WithDescription("subject_token_type: only %s is accepted", domain.TokenTypeAccessToken)
	}
	requested, err := domain.ParseScope(req.Scope)
	if err != nil {
		return domain.IssuedTokens{}, err
	}
	aud, err := domain.ExchangeTarget(client, req.Resource, x.Audience)
	if err != nil {
		return domain.IssuedTokens{}, err
	}

	subject, err := g.verifier.VerifyAccessToken(ctx, x.SubjectToken)
	if errors.Is(err, ErrAccessTokenExpired) {
		return domain.IssuedTokens{}, errBadSubjectToken.WithDescription("the subject token has expired")
	}
	if err != nil {
		// Forged, malformed, of another issuer, a refresh token or an ID token: the
		// verifier says which only to the logs.
		return domain.IssuedTokens{}, errBadSubjectToken.WithDescription("the subject token is not a valid access token")
	}
	if !domain.SubjectTokenMeantFor(subject, client, string(g.settings.Audience)) {
		return domain.IssuedTokens{}, errBadSubjectToken.WithDescription("the subject token was not issued for this client")
	}
	revoked, err := accessTokenRevoked(ctx, g.tokens, subject)
	if err != nil {
		return domain.IssuedTokens{}, err
	}
	if revoked {
		return domain.IssuedTokens{}, errBadSubjectToken.WithDescription("the subject token was revoked")
	}
	scope, err := domain.ExchangeScope(subject.Scope, client, requested)
	if err != nil {
		return domain.IssuedTokens{}, err
	}
	return g.minter.IssueExchanged(ctx, subject, client, aud, scope, req.DPoPJKT)
}

// IssueExchanged signs the access token of a token exchange (domain.ExchangedAccessToken):
// no refresh token, no ID token, and expires_in counted to the token's own expiry.
// With a DPoP proof (jkt) the new token is bound to the exchanging client's key; a
// binding of the subject token is never copied (it names the user's client's key).
func (m *Minter) IssueExchanged(ctx context.Context, subject domain.AccessToken, client domain.Client, aud, scope []string, jkt string) (domain.IssuedTokens, error) {
	now := m.clock.Now()
	at, err := domain.ExchangedAccessToken(subject, client, aud, scope, m.random.ID(), now, time.Duration(m.settings.AccessTokenTTL))
	if err != nil {
		return domain.IssuedTokens{}, err
	}
	at.JKT = jkt
	jwt, err := m.access.SignAccessToken(ctx, at)
	if err != nil {
		return domain.IssuedTokens{}, fmt.Errorf("sign exchanged access token: %w", err)
	}
	return domain.IssuedTokens{AccessToken: jwt, TokenType: tokenType(Subject{JKT: jkt}), ExpiresIn: at.ExpiresAt.Sub(now),
		Scope: scope, IssuedTokenType: domain.TokenTypeAccessToken}, nil
}
