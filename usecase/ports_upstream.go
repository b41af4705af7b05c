package usecase

import (
	"context"
	"time"

	"gatehouse/domain"
)

// UpstreamStore keeps the upstream identity providers and the identities of users
// at them (issue 22).
type UpstreamStore interface {
	// CreateUpstream stores u; ErrDuplicate when its id is taken.
	CreateUpstream(ctx context.Context, u domain.Upstream) error
	// UpdateUpstream replaces every setting of the upstream with u's id; ErrNotFound
	// when there is none.
	UpdateUpstream(ctx context.Context, u domain.Upstream) error
	// DeleteUpstream removes the upstream and every identity linked through it;
	// ErrNotFound when there is none.
	DeleteUpstream(ctx context.Context, id string) error
	// Upstream returns one upstream; ErrNotFound when there is none.
	Upstream(ctx context.Context, id string) (domain.Upstream, error)
	// ListUpstreams lists every upstream, by id.
	ListUpstreams(ctx context.Context) ([]domain.Upstream, error)

	// LinkIdentity stores l; ErrDuplicate when the upstream subject is linked
	// already (to this user or another), ErrNotFound when the user or upstream is
	// gone.
	LinkIdentity(ctx context.Context, l domain.LinkedIdentity) error
	// LinkedIdentity returns the identity of subject at upstream; ErrNotFound when
	// none is linked.
	LinkedIdentity(ctx context.Context, upstreamID, subject string) (domain.LinkedIdentity, error)
	// UserIdentities lists the identities linked to a user, oldest first.
	UserIdentities(ctx context.Context, userID string) ([]domain.LinkedIdentity, error)
	// TouchIdentity records a sign-in with the identity: what the upstream said of it
	// now, and when.
	TouchIdentity(ctx context.Context, upstreamID, subject, email, username string, now time.Time) error
	// UnlinkIdentity removes the user's identity; ErrNotFound when the user has no
	// such identity.
	UnlinkIdentity(ctx context.Context, userID, upstreamID, subject string) error
}

// UpstreamIdentity is what an upstream vouched for, after every check (signature,
// iss, aud, exp, nonce; or GitHub's API over TLS).
type UpstreamIdentity struct {
	Subject       string
	Email         string
	EmailVerified bool
	// Username is the upstream's preferred_username or GitHub login.
	Username string
	Name     string
	// AMR and ACR are the upstream's amr and acr claims, when it sent them.
	AMR []string
	ACR string
}

// UpstreamAuthRequest is what the browser carries to the upstream.
type UpstreamAuthRequest struct {
	RedirectURI, State, Nonce, CodeChallenge string
}

// UpstreamConnector speaks to upstream identity providers: OpenID Connect (discovery,
// JWKS, ID token checks) and GitHub (its OAuth endpoints and REST API).
type UpstreamConnector interface {
	// AuthCodeURL is the upstream's authorization URL for r (PKCE S256).
	AuthCodeURL(ctx context.Context, up domain.Upstream, r UpstreamAuthRequest) (string, error)
	// Exchange redeems code (with the PKCE verifier) and returns the identity the
	// upstream vouches for; for OIDC it checks the ID token's signature against the
	// upstream's JWKS, iss, aud, exp and that its nonce is nonce. Any failure is an
	// error whose text may be shown (it names no secret).
	Exchange(ctx context.Context, up domain.Upstream, clientSecret, redirectURI, code, verifier, nonce string) (UpstreamIdentity, error)
}
