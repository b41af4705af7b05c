package usecase

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"gatehouse/domain"
)

// UserInfo is the OpenID Connect UserInfo endpoint (Core §5.3): the claims of the user
// an access token was issued for, as far as its scopes allow.
type UserInfo struct {
	verifier AccessTokenVerifier
	tokens   TokenStore
	users    UserStore
	dpop     *DPoP
}

// NewUserInfo builds the endpoint.
func NewUserInfo(verifier AccessTokenVerifier, tokens TokenStore, users UserStore, dpop *DPoP) *UserInfo {
	return &UserInfo{verifier: verifier, tokens: tokens, users: users, dpop: dpop}
}

// UserInfoRequest is a request to the endpoint: the token, the Authorization scheme
// it came with (Bearer or DPoP) and the request's DPoP headers.
type UserInfoRequest struct {
	AccessToken string
	// DPoPScheme is true for "Authorization: DPoP <token>" (RFC 9449 §7.1).
	DPoPScheme bool
	DPoP       DPoPInput
}

// Claims are the userinfo claims: sub, and the user's claims that the token's scope
// and its claims request ask for (domain.UserClaims: empty ones are left out).
type Claims struct {
	Subject string
	domain.UserClaims
}

var errTokenInactive = domain.ErrInvalidToken.WithDescription("the access token is invalid, expired or revoked")

// Execute checks a bearer token (signature, expiry, revocation) and returns the claims.
func (uc *UserInfo) Execute(ctx context.Context, accessToken string) (Claims, error) {
	return uc.Request(ctx, UserInfoRequest{AccessToken: accessToken})
}

// ErrDPoPSchemeRequired is wrapped in the refusal of a DPoP-bound access token sent
// with the Bearer scheme, so that the answer challenges with DPoP (RFC 9449 §7.1).
var ErrDPoPSchemeRequired = errors.New("a DPoP-bound access token sent as Bearer")

// Request is Execute for a token of either scheme: a DPoP-bound token needs the DPoP
// scheme and a proof by its key over this request and token (RFC 9449 §7); sent as
// Bearer it is refused, as is an unbound token sent as DPoP.
func (uc *UserInfo) Request(ctx context.Context, req UserInfoRequest) (Claims, error) {
	accessToken := req.AccessToken
	if accessToken == "" {
		return Claims{}, domain.ErrInvalidToken.WithDescription("missing access token")
	}
	at, err := uc.verifier.VerifyAccessToken(ctx, accessToken)
	if err != nil {
		return Claims{}, errTokenInactive
	}
	switch {
	case at.JKT != "" && !req.DPoPScheme:
		return Claims{}, fmt.Errorf("%w: %w",
			domain.ErrInvalidToken.WithDescription("the access token is DPoP-bound; send it with the DPoP scheme and a proof"), ErrDPoPSchemeRequired)
	case at.JKT == "" && req.DPoPScheme:
		return Claims{}, domain.ErrInvalidToken.WithDescription("the access token is not DPoP-bound; send it with the Bearer scheme")
	case at.JKT != "":
		if err := uc.dpop.ResourceRequest(ctx, req.DPoP, accessToken, at.JKT); err != nil {
			return Claims{}, err
		}
	}
	revoked, err := accessTokenRevoked(ctx, uc.tokens, at)
	if err != nil {
		return Claims{}, err
	}
	if revoked {
		return Claims{}, errTokenInactive
	}
	if !slices.Contains(at.Scope, domain.ScopeOpenID) {
		return Claims{}, domain.ErrInsufficientScope.WithDescription("the access token lacks the openid scope")
	}
	if at.Subject == at.ClientID {
		// A client-credentials token: its subject is the client (SECURITY S26 keeps
		// the two kinds of id apart), there is no user to describe.
		return Claims{}, domain.ErrInvalidToken.WithDescription("the access token was issued to a client for itself, not for a user")
	}
	user, err := uc.users.UserByID(ctx, at.Subject)
	if errors.Is(err, domain.ErrNotFound) {
		// A deleted user has no claims.
		return Claims{}, errTokenInactive
	}
	if err != nil {
		return Claims{}, fmt.Errorf("look up user: %w", err)
	}
	if user.Disabled {
		// Its tokens are revoked already (the deny-list); this read says so too.
		return Claims{}, errTokenInactive
	}
	// The claims of the scope (OpenID Connect Core §5.4), and those the grant's claims
	// request asked of userinfo by name (§5.5), which the token carries.
	return Claims{Subject: user.ID, UserClaims: user.Claims(domain.ScopeClaims(at.Scope) | at.UserInfoClaims)}, nil
}
