package domain

import "time"

// AccessToken is what goes into a JWT access token (RFC 9068 §2.2).
type AccessToken struct {
	ID        string // jti
	ClientID  string
	Subject   string // user id, or the client id for client credentials
	Audience  []string
	Scope     []string
	AuthTime  time.Time // zero when no user authenticated
	IssuedAt  time.Time
	ExpiresAt time.Time
	// AMR are the authentication methods of the browser sign-in behind the grant (RFC
	// 8176); with them come the amr and acr claims. Empty for other grants.
	AMR []string
	// FamilyID ties the token to its refresh-token family so that revoking the family
	// makes introspection and userinfo refuse it. Empty for client credentials.
	FamilyID string
	// Actor is the act claim (RFC 8693 §4.1) of a token issued by token exchange: the
	// client acting for Subject, and the actors before it. Nil otherwise.
	Actor *Actor
	// JKT is the RFC 7638 thumbprint of the DPoP key the token is bound to (claim
	// cnf.jkt, RFC 9449 §6); empty for a bearer token.
	JKT string
	// Groups is the groups claim, set (maybe empty) when the groups scope was granted;
	// nil leaves the claim out.
	Groups []string
	// UserInfoClaims are the claims the grant's claims request (OpenID Connect Core
	// §5.5) asked of userinfo by name; 0, the usual case, adds nothing to the token.
	UserInfoClaims ClaimSet
}

// RefreshToken is one link of a rotating chain (RFC 9700 §4.14.2). Every rotation
// creates a new token in the same family; presenting a rotated one revokes the family.
type RefreshToken struct {
	Hash     []byte
	FamilyID string
	ClientID string
	UserID   string
	Scope    []string
	Audience []string
	AuthTime time.Time
	// AMR are the authentication methods of the sign-in the family started from.
	AMR       []string
	Nonce     string
	SessionID string
	// Claims is the claims request of the grant (OpenID Connect Core §5.5): each
	// refresh's ID token and access token honour it again.
	Claims    ClaimsRequest
	CreatedAt time.Time
	ExpiresAt time.Time
	RotatedAt *time.Time
	RevokedAt *time.Time
	// DPoPJKT binds the token to a DPoP key (RFC 9449 §5: public clients' refresh
	// tokens): a refresh must prove possession of that key. Empty when unbound.
	DPoPJKT string
}

// Active reports whether the refresh token may be used at now.
func (t RefreshToken) Active(now time.Time) bool {
	return t.RotatedAt == nil && t.RevokedAt == nil && now.Before(t.ExpiresAt)
}

// UsableBy reports whether clientID may refresh with the token at now, proving
// possession of the DPoP key with thumbprint jkt (empty: no proof) when it is bound.
func (t RefreshToken) UsableBy(clientID, jkt string, now time.Time) bool {
	return t.ClientID == clientID && t.Active(now) && (t.DPoPJKT == "" || t.DPoPJKT == jkt)
}

// Successor is the token that replaces t on rotation: the same grant (family, client,
// user, scope, audience, authentication, session) with next's hash, times and DPoP
// binding.
func (t RefreshToken) Successor(next RefreshToken) RefreshToken {
	return RefreshToken{
		Hash: next.Hash, FamilyID: t.FamilyID, ClientID: t.ClientID, UserID: t.UserID,
		Scope: t.Scope, Audience: t.Audience, AuthTime: t.AuthTime, Nonce: t.Nonce, SessionID: t.SessionID,
		Claims: t.Claims, CreatedAt: next.CreatedAt, ExpiresAt: next.ExpiresAt, DPoPJKT: next.DPoPJKT,
	}
}

// IssuedTokens is the result of a successful grant (RFC 6749 §5.1).
type IssuedTokens struct {
	AccessToken  string
	TokenType    string // "Bearer", or "DPoP" for a DPoP-bound access token
	ExpiresIn    time.Duration
	RefreshToken string // empty when none is issued
	IDToken      string // empty unless scope openid
	Scope        []string
	// IssuedTokenType is RFC 8693 §2.2.1 issued_token_type; empty for other grants.
	IssuedTokenType string
}

// IDToken is what goes into an OpenID Connect ID token (Core §2).
type IDToken struct {
	Subject     string
	Audience    string
	Nonce       string
	AuthTime    time.Time
	IssuedAt    time.Time
	ExpiresAt   time.Time
	AccessToken string // for at_hash; empty when none
	// AMR: as AccessToken.AMR.
	AMR []string
	// Claims are the user's claims the scope and the claims request ask for.
	Claims UserClaims
	// SessionID is the sid of the browser session the tokens came from (OpenID Connect
	// Back-Channel Logout 1.0 §2.4); empty for grants without one.
	SessionID string
	Alg       string
}

// LogoutToken is an OpenID Connect Back-Channel Logout 1.0 logout token (§2.4): it
// tells the client Audience that the session SessionID of Subject ended.
type LogoutToken struct {
	ID        string // jti
	Subject   string
	Audience  string
	SessionID string
	IssuedAt  time.Time
	ExpiresAt time.Time
	Alg       string // the client's ID token alg
}

// RevokedAccessToken is a deny-list entry: an access token revoked before expiry.
type RevokedAccessToken struct {
	JTI       string
	ExpiresAt time.Time
}
