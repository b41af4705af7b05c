package usecase

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gatehouse/domain"
)

// TokenRequest is a parsed POST to the token endpoint (RFC 6749 §4, §6; RFC 8628 §3.4).
// Empty strings mean absent.
type TokenRequest struct {
	GrantType     string
	Credentials   Credentials
	Scope         string
	Resource      []string
	Username      string
	Password      string
	RefreshToken  string
	Code          string
	RedirectURI   string
	CodeVerifier  string
	DeviceCode    string
	TokenExchange TokenExchangeParams // RFC 8693
	// DPoP is the request's DPoP headers (RFC 9449); DPoPJKT is the thumbprint of
	// the key a valid proof showed, filled by Exchange for the grants.
	DPoP    DPoPInput
	DPoPJKT string
}

// Grant is one grant type's handler, run after the client is authenticated and known
// to be allowed the grant.
type Grant interface {
	Execute(ctx context.Context, client domain.Client, req TokenRequest) (domain.IssuedTokens, error)
}

// Grants is every grant the token endpoint can serve, one field each: the one list of
// grants. Wire fills it (wire.Struct); a nil field is a grant this build does not serve.
type Grants struct {
	ClientCredentials *ClientCredentialsGrant
	Password          *PasswordGrant
	RefreshToken      *RefreshTokenGrant
	AuthorizationCode *AuthorizationCodeGrant
	DeviceCode        *DeviceCodeGrant
	TokenExchange     *TokenExchangeGrant
}

// byType maps each grant type to its grant, leaving out the nil ones (a nil pointer in
// an interface would not compare equal to nil).
func (g Grants) byType() map[string]Grant {
	out := make(map[string]Grant, 6)
	add := func(grantType string, grant Grant, present bool) {
		if present {
			out[grantType] = grant
		}
	}
	add(domain.GrantClientCredentials, g.ClientCredentials, g.ClientCredentials != nil)
	add(domain.GrantPassword, g.Password, g.Password != nil)
	add(domain.GrantRefreshToken, g.RefreshToken, g.RefreshToken != nil)
	add(domain.GrantAuthorizationCode, g.AuthorizationCode, g.AuthorizationCode != nil)
	add(domain.GrantDeviceCode, g.DeviceCode, g.DeviceCode != nil)
	add(domain.GrantTokenExchange, g.TokenExchange, g.TokenExchange != nil)
	return out
}

// Token is the token endpoint: shared steps once, then the grant.
type Token struct {
	auth   *ClientAuthenticator
	grants map[string]Grant
	dpop   *DPoP
	// issued counts the tokens answered, per hour, for the console's chart.
	issued *IssuanceCounter
}

// NewToken builds the token endpoint from the grants it serves; issued (nil: none)
// counts what it issues.
func NewToken(auth *ClientAuthenticator, grants Grants, dpop *DPoP, issued *IssuanceCounter) *Token {
	return &Token{auth: auth, dpop: dpop, grants: grants.byType(), issued: issued}
}

// Issued is the count of tokens issued per hour (the console's chart).
func (t *Token) Issued() *IssuanceCounter { return t.issued }

// GrantTypes lists the grants the endpoint serves, for discovery.
func (t *Token) GrantTypes() []string {
	out := make([]string, 0, len(t.grants))
	for _, g := range domain.KnownGrantTypes {
		if _, ok := t.grants[g]; ok {
			out = append(out, g)
		}
	}
	return out
}

// Exchange authenticates the client, checks the grant and runs it.
func (t *Token) Issue(ctx context.Context, req TokenRequest) (domain.IssuedTokens, error) {
	if req.GrantType == "" {
		return domain.IssuedTokens{}, domain.ErrInvalidRequest.WithDescription("missing grant_type")
	}
	grant, ok := t.grants[req.GrantType]
	if !ok {
		return domain.IssuedTokens{}, domain.ErrUnsupportedGrantType.WithDescription("grant_type %q is not supported", req.GrantType)
	}
	client, err := t.auth.Authenticate(ctx, req.Credentials)
	if err != nil {
		return domain.IssuedTokens{}, err
	}
	if !client.AllowsGrant(req.GrantType) {
		return domain.IssuedTokens{}, domain.ErrUnauthorizedClient
	}
	// DPoP (RFC 9449 §5): a valid proof binds the tokens to its key; a client
	// registered with --require-dpop gets nothing without one.
	jkt, err := t.dpop.TokenRequest(ctx, req.DPoP)
	if err != nil {
		return domain.IssuedTokens{}, err
	}
	if jkt == "" && client.RequireDPoP {
		return domain.IssuedTokens{}, domain.ErrInvalidDPoPProof.WithDescription("this client must send a DPoP proof")
	}
	req.DPoPJKT = jkt
	out, err := grant.Execute(ctx, client, req)
	if err == nil {
		t.issued.Add()
	}
	return out, err
}

// requestedScope parses and narrows a requested scope against the client's.
func requestedScope(client domain.Client, raw string) ([]string, error) {
	req, err := domain.ParseScope(raw)
	if err != nil {
		return nil, err
	}
	return client.NarrowScope(req)
}

// Minter builds, signs and stores the tokens every grant hands out, so each grant
// only decides who and what.
type Minter struct {
	access   AccessTokenSigner
	ids      IDTokenSigner
	tokens   TokenStore
	users    UserStore
	random   Random
	hasher   SecretHasher
	clock    Clock
	settings Settings
}

// NewMinter builds the shared token minting.
func NewMinter(access AccessTokenSigner, ids IDTokenSigner, tokens TokenStore, users UserStore,
	random Random, hasher SecretHasher, clock Clock, settings Settings) *Minter {
	return &Minter{access: access, ids: ids, tokens: tokens, users: users, random: random,
		hasher: hasher, clock: clock, settings: settings}
}

// Subject is who a set of tokens is for and how they came about.
type Subject struct {
	Client   domain.Client
	User     *domain.User // nil for client credentials
	Scope    []string
	Audience []string
	AuthTime time.Time
	// AMR are the authentication methods of the browser sign-in (RFC 8176); empty for
	// grants without one.
	AMR       []string
	Nonce     string
	SessionID string
	FamilyID  string // the family these tokens join; empty for client credentials
	// JKT is the DPoP key thumbprint the tokens are bound to; empty for bearer tokens.
	JKT string
	// Claims is the grant's claims request (OpenID Connect Core §5.5); zero for none.
	Claims domain.ClaimsRequest
}

// accessToken signs an access token for s.
func (m *Minter) accessToken(ctx context.Context, s Subject) (string, error) {
	now := m.clock.Now()
	sub := s.Client.SubjectID()
	if s.User != nil {
		sub = s.User.ID
	}
	at := domain.AccessToken{
		ID:        m.random.ID(),
		ClientID:  s.Client.ID,
		Subject:   sub,
		Audience:  s.Audience,
		Scope:     s.Scope,
		AuthTime:  s.AuthTime,
		AMR:       s.AMR,
		IssuedAt:  now,
		ExpiresAt: now.Add(time.Duration(m.settings.AccessTokenTTL)),
		FamilyID:  s.FamilyID,
		JKT:       s.JKT,
	}
	if s.User != nil {
		if slices.Contains(s.Scope, domain.ScopeGroups) {
			at.Groups = s.User.Claims(domain.ClaimGroups).Groups
		}
		at.UserInfoClaims = s.Claims.UserInfo
	}
	jwt, err := m.access.SignAccessToken(ctx, at)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return jwt, nil
}

// idToken signs an ID token when the scope asks for one (OpenID Connect Core §3.1.3.3).
func (m *Minter) idToken(ctx context.Context, s Subject, accessToken string) (string, error) {
	if s.User == nil || !slices.Contains(s.Scope, domain.ScopeOpenID) {
		return "", nil
	}
	now := m.clock.Now()
	t := domain.IDToken{
		Subject:     s.User.ID,
		Audience:    s.Client.ID,
		Nonce:       s.Nonce,
		AuthTime:    s.AuthTime,
		AMR:         s.AMR,
		IssuedAt:    now,
		ExpiresAt:   now.Add(time.Duration(m.settings.IDTokenTTL)),
		AccessToken: accessToken,
		SessionID:   s.SessionID,
		Alg:         s.Client.IDTokenAlg,
		// The claims of the scope (OpenID Connect Core §5.4) and those the claims
		// request asked of the ID token by name (§5.5).
		Claims: s.User.Claims(domain.ScopeClaims(s.Scope) | s.Claims.IDToken),
	}
	jwt, err := m.ids.SignIDToken(ctx, t)
	if err != nil {
		return "", fmt.Errorf("sign id token: %w", err)
	}
	return jwt, nil
}

// newRefreshToken makes a refresh token of s's family and returns it with its secret.
func (m *Minter) newRefreshToken(s Subject) (domain.RefreshToken, string) {
	now := m.clock.Now()
	secret := m.random.SortedToken()
	// A public client's refresh token is bound to its DPoP key (RFC 9449 §5); a
	// confidential client's is already bound to its credentials.
	jkt := ""
	if s.Client.Public {
		jkt = s.JKT
	}
	return domain.RefreshToken{
		Hash:      m.hasher.HashToken(secret),
		FamilyID:  s.FamilyID,
		ClientID:  s.Client.ID,
		UserID:    s.User.ID,
		Scope:     s.Scope,
		Audience:  s.Audience,
		AuthTime:  s.AuthTime,
		AMR:       s.AMR,
		Nonce:     s.Nonce,
		SessionID: s.SessionID,
		Claims:    s.Claims,
		CreatedAt: now,
		ExpiresAt: now.Add(time.Duration(m.settings.RefreshTokenTTL)),
		DPoPJKT:   jkt,
	}, secret
}

// IssueForUser starts a new family for a user grant (password, code, device): access
// token, ID token when asked, and a refresh token when the client may refresh.
func (m *Minter) IssueForUser(ctx context.Context, s Subject) (domain.IssuedTokens, error) {
	if s.FamilyID == "" {
		s.FamilyID = m.random.FamilyID()
	}
	fam, rt, rtSecret := m.newGrant(s)
	if err := m.tokens.CreateFamily(ctx, fam, rt); err != nil {
		if errors.Is(err, domain.ErrDuplicate) {
			// The family was revoked before it existed: the device authorization was
			// voided (its user, client or session ended) while this grant was in flight.
			return domain.IssuedTokens{}, errGrantRevoked
		}
		return domain.IssuedTokens{}, fmt.Errorf("store token family: %w", err)
	}
	// Disabling or deleting the user or client writes its deny-list entry and then
	// revokes its families; a grant that read them live before may store its family
	// after that. Checking the deny-list after storing the family closes the gap:
	// either this check sees the entry, or the revocation came later and found the
	// family (SECURITY S58).
	revoked, err := m.tokens.AccessTokenRevoked(ctx, RevocationCheck{FamilyID: fam.ID, Subject: s.User.ID,
		ClientID: s.Client.ID, IssuedAt: fam.CreatedAt})
	if err != nil {
		return domain.IssuedTokens{}, fmt.Errorf("check the new grant's revocation: %w", err)
	}
	if revoked {
		if err := m.tokens.RevokeFamily(ctx, fam.ID, m.clock.Now()); err != nil {
			return domain.IssuedTokens{}, fmt.Errorf("revoke a grant of a revoked user or client: %w", err)
		}
		return domain.IssuedTokens{}, errGrantRevoked
	}
	return m.finish(ctx, s, rtSecret)
}

var errGrantRevoked = domain.ErrInvalidGrant.WithDescription("the grant was revoked")

// newGrant is the family of a new user grant and its first refresh token (nil when
// the client may not refresh), with that token's secret.
func (m *Minter) newGrant(s Subject) (TokenFamily, *domain.RefreshToken, string) {
	now := m.clock.Now()
	fam := TokenFamily{ID: s.FamilyID, ClientID: s.Client.ID, UserID: s.User.ID, SessionID: s.SessionID,
		CreatedAt: now, ExpiresAt: now.Add(time.Duration(m.settings.RefreshTokenTTL))}
	if !s.Client.AllowsGrant(domain.GrantRefreshToken) {
		return fam, nil, ""
	}
	tok, secret := m.newRefreshToken(s)
	return fam, &tok, secret
}

// finish signs the access and ID tokens around an already stored refresh token.
func (m *Minter) finish(ctx context.Context, s Subject, refreshSecret string) (domain.IssuedTokens, error) {
	at, err := m.accessToken(ctx, s)
	if err != nil {
		return domain.IssuedTokens{}, err
	}
	idt, err := m.idToken(ctx, s, at)
	if err != nil {
		return domain.IssuedTokens{}, err
	}
	return domain.IssuedTokens{
		AccessToken:  at,
		TokenType:    tokenType(s),
		ExpiresIn:    time.Duration(m.settings.AccessTokenTTL),
		RefreshToken: refreshSecret,
		IDToken:      idt,
		Scope:        s.Scope,
	}, nil
}

// IssueForClient issues an access token to a client acting for itself.
func (m *Minter) IssueForClient(ctx context.Context, s Subject) (domain.IssuedTokens, error) {
	s.User, s.FamilyID = nil, ""
	at, err := m.accessToken(ctx, s)
	if err != nil {
		return domain.IssuedTokens{}, err
	}
	return domain.IssuedTokens{AccessToken: at, TokenType: tokenType(s),
		ExpiresIn: time.Duration(m.settings.AccessTokenTTL), Scope: s.Scope}, nil
}

// tokenType is the token_type of s's access token: DPoP when bound (RFC 9449 §5).
func tokenType(s Subject) string {
	if s.JKT != "" {
		return "DPoP"
	}
	return "Bearer"
}
