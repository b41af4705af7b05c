package usecase

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/domain"
)

// Introspect is RFC 7662 token introspection. The caller authenticates as a client.
// Access tokens of any client can be introspected (resource servers are clients too);
// a refresh token only by the client it was issued to.
type Introspect struct {
	auth     *ClientAuthenticator
	tokens   TokenStore
	verifier AccessTokenVerifier
	hasher   SecretHasher
	clock    Clock
	issuer   Issuer
}

// NewIntrospect builds the introspection endpoint.
func NewIntrospect(auth *ClientAuthenticator, tokens TokenStore, verifier AccessTokenVerifier, hasher SecretHasher, clock Clock, settings Settings) *Introspect {
	return &Introspect{auth: auth, tokens: tokens, verifier: verifier, hasher: hasher, clock: clock, issuer: settings.Issuer}
}

// IntrospectRequest is a parsed POST to the introspection endpoint.
type IntrospectRequest struct {
	Credentials   Credentials
	Token         string
	TokenTypeHint string
}

// Introspection is the answer; when Active is false nothing else may be shown.
type Introspection struct {
	Active    bool
	TokenType string // "Bearer" for access tokens, "refresh_token" for refresh tokens
	TokenUse  string // access_token or refresh_token
	ClientID  string
	Subject   string
	Scope     []string
	Audience  []string
	Issuer    string
	JTI       string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// JKT is the DPoP key an access token is bound to (cnf.jkt, RFC 9449 §6.2).
	JKT string
}

// Execute answers whether the token is active and what it carries.
func (uc *Introspect) Execute(ctx context.Context, req IntrospectRequest) (Introspection, error) {
	client, err := uc.auth.Authenticate(ctx, req.Credentials)
	if err != nil {
		return Introspection{}, err
	}
	// A public client's id is no secret, so naming it authenticates nobody; RFC 7662
	// §2.1 requires authorization (SECURITY S38), and the metadata lists only
	// client_secret_basic and client_secret_post for this endpoint.
	if client.Public {
		return Introspection{}, &ClientAuthError{ClientID: client.ID, Known: true, Reason: ClientAuthPublicClient, Err: domain.ErrInvalidClient}
	}
	if req.Token == "" {
		return Introspection{}, domain.ErrInvalidRequest.WithDescription("missing token")
	}
	now := uc.clock.Now()
	if at, err := uc.verifier.VerifyAccessToken(ctx, req.Token); err == nil {
		revoked, err := accessTokenRevoked(ctx, uc.tokens, at)
		if err != nil {
			return Introspection{}, err
		}
		if revoked {
			return Introspection{}, nil
		}
		typ := "Bearer"
		if at.JKT != "" {
			typ = "DPoP"
		}
		return Introspection{Active: true, TokenType: typ, TokenUse: "access_token", ClientID: at.ClientID,
			Subject: at.Subject, Scope: at.Scope, Audience: at.Audience, Issuer: string(uc.issuer), JTI: at.ID,
			IssuedAt: at.IssuedAt, ExpiresAt: at.ExpiresAt, JKT: at.JKT}, nil
	}
	rt, err := uc.tokens.RefreshTokenByHash(ctx, uc.hasher.HashToken(req.Token))
	if errors.Is(err, domain.ErrNotFound) {
		return Introspection{}, nil
	}
	if err != nil {
		return Introspection{}, fmt.Errorf("look up refresh token: %w", err)
	}
	if rt.ClientID != client.ID || !rt.Active(now) {
		return Introspection{}, nil
	}
	return Introspection{Active: true, TokenType: "refresh_token", TokenUse: "refresh_token", ClientID: rt.ClientID,
		Subject: rt.UserID, Scope: rt.Scope, Audience: rt.Audience, Issuer: string(uc.issuer),
		IssuedAt: rt.CreatedAt, ExpiresAt: rt.ExpiresAt}, nil
}

// accessTokenRevoked reports whether a verified access token was revoked before its
// expiry: its jti is on the deny-list, its refresh-token family was revoked, or its
// user or client was disabled or deleted since it was issued (SECURITY S58).
// Introspection, userinfo and token exchange share it, so all refuse exactly the
// same tokens.
func accessTokenRevoked(ctx context.Context, tokens TokenStore, at domain.AccessToken) (bool, error) {
	revoked, err := tokens.AccessTokenRevoked(ctx, revocationCheckOf(at))
	if err != nil {
		return false, fmt.Errorf("check access token revocation: %w", err)
	}
	return revoked, nil
}
