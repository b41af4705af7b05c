package usecase

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"gatehouse/domain"
)

// Dynamic client registration (RFC 7591) and its management protocol (RFC 7592): with
// the operator's initial access token a program registers a client and gets a
// registration access token, with which it reads, updates and deletes that client
// alone. Off unless GATEHOUSE_DYNAMIC_REGISTRATION is true.

// Registration errors (RFC 7591 §3.2.2).
var (
	ErrInvalidRedirectURI    = &domain.Error{Code: "invalid_redirect_uri"}
	ErrInvalidClientMetadata = &domain.Error{Code: "invalid_client_metadata"}
)

// ClientMetadata is the registered metadata (RFC 7591 §2) Gatehouse understands;
// other metadata is ignored, as §2 says. Empty means absent.
type ClientMetadata struct {
	RedirectURIs            []string
	TokenEndpointAuthMethod string
	GrantTypes              []string
	ResponseTypes           []string
	ClientName              string
	Scope                   string
	PostLogoutRedirectURIs  []string
	// RequirePAR is RFC 9126 §6 require_pushed_authorization_requests.
	RequirePAR bool
	// BackchannelLogoutURI is Back-Channel Logout 1.0 §2.2 backchannel_logout_uri:
	// a URL the registrant chose, so it is called at public addresses only
	// (SECURITY S57). Logout tokens always carry sid, whatever
	// backchannel_logout_session_required says.
	BackchannelLogoutURI string
	// SoftwareStatement is refused: Gatehouse trusts no software publisher.
	SoftwareStatement string
	// For updates (RFC 7592 §2.2): client_id must match, client_secret, when sent,
	// must be the current one.
	ClientID     string
	ClientSecret string
}

// RegisteredClient is a client as the registration endpoint describes it (RFC 7591
// §3.2.1); Secret and RegistrationToken only when just issued.
type RegisteredClient struct {
	Client            domain.Client
	Metadata          ClientMetadata
	Secret            string
	RegistrationToken string
}

// URLPolicy checks a URL an untrusted party chose before it is stored: what can be
// refused before any DNS lookup (an IP literal of a private network, localhost);
// the address is checked again at each connection (adapter/outbound.Policy).
type URLPolicy interface {
	CheckURL(raw string) error
}

// ClientForgetter drops a client from an instance's cache, so that its new metadata
// or deletion counts at once here (other instances within their cache TTL).
type ClientForgetter interface {
	Forget(id string)
}

// RegistrationSettings configure dynamic registration.
type RegistrationSettings struct {
	Enabled bool
	// Open (GATEHOUSE_DYNAMIC_REGISTRATION=open) also takes registrations without
	// the initial access token, for public clients only (openPolicy).
	Open bool
	// InitialAccessToken is the bearer token POST /oauth/register requires.
	InitialAccessToken string
	// Scopes are all a dynamically registered client may ask for, at registration
	// and on update; a registration that names no scope gets them all. Empty means
	// DefaultRegistrationScopes.
	Scopes []string
	// GrantTypes are the grant types a dynamically registered client may give itself
	// (ValidateRegistrationGrantTypes). Empty means DefaultRegistrationGrantTypes.
	GrantTypes []string
}

// DefaultRegistrationScopes: what a registrant may ask for unless the operator says
// otherwise. A registrant chooses its own metadata, so it gets the scopes that name
// the user's own identity and no API's: an API scope (or an `admin`) is the
// operator's to hand out with `clients create`, or to list here.
var DefaultRegistrationScopes = []string{domain.ScopeOpenID, domain.ScopeProfile, domain.ScopeEmail, domain.ScopeOfflineAccess}

// DefaultRegistrationGrantTypes: the code flow, its refresh tokens, and client
// credentials (whose tokens carry only the client's own scopes, within the policy).
// The device grant stays out unless listed: a device code is easily phished (RFC 8628
// §5.4), and an operator should choose the clients that may use it.
var DefaultRegistrationGrantTypes = []string{domain.GrantAuthorizationCode, domain.GrantRefreshToken, domain.GrantClientCredentials}

// ValidateRegistrationScopes checks the registration scope policy: at least one
// scope, each an RFC 6749 scope token, and no more than a client may hold.
func ValidateRegistrationScopes(scopes []string) error {
	if len(scopes) == 0 {
		return errors.New("name at least one scope")
	}
	for _, s := range scopes {
		if !domain.ValidScopeToken(s) {
			return fmt.Errorf("%q is not a scope token", s)
		}
		if s == domain.ScopeAdmin {
			// The admin API's scope is an administrator's to give (SECURITY S55).
			return fmt.Errorf("%q cannot be offered to dynamically registered clients", s)
		}
	}
	if len(scopes) > domain.MaxScopeTokens || len(domain.ScopeString(scopes)) > domain.MaxParamBytes {
		return fmt.Errorf("at most %d scopes, %d bytes together", domain.MaxScopeTokens, domain.MaxParamBytes)
	}
	return nil
}

// ValidateRegistrationGrantTypes checks the registration grant policy: known grant
// types, never the password grant (RFC 9700 §2.4: it hands a client the user's
// password, the operator's decision alone) nor token exchange (a client that may
// trade users' tokens towards other audiences is no registrant's to create).
func ValidateRegistrationGrantTypes(grants []string) error {
	if len(grants) == 0 {
		return errors.New("name at least one grant type")
	}
	for _, g := range grants {
		switch {
		case g == domain.GrantPassword || g == domain.GrantTokenExchange:
			return fmt.Errorf("%s cannot be open to dynamically registered clients", g)
		case !slices.Contains(domain.KnownGrantTypes, g):
			return fmt.Errorf("unknown grant type %q (known: %s)", g, strings.Join(domain.KnownGrantTypes, ", "))
		}
	}
	return nil
}

func (s RegistrationSettings) scopes() []string {
	if len(s.Scopes) == 0 {
		return DefaultRegistrationScopes
	}
	return s.Scopes
}

func (s RegistrationSettings) grantTypes() []string {
	if len(s.GrantTypes) == 0 {
		return DefaultRegistrationGrantTypes
	}
	return s.GrantTypes
}

// Registration is the client registration endpoint and its management protocol.
type Registration struct {
	admin    *Admin
	clients  ClientRegistrationStore
	cache    ClientForgetter
	throttle Throttle
	hasher   SecretHasher
	random   Random
	clock    Clock
	urls     URLPolicy
	settings RegistrationSettings
}

// NewRegistration builds the registration endpoint.
func NewRegistration(admin *Admin, clients ClientRegistrationStore, cache ClientForgetter, throttle Throttle,
	hasher SecretHasher, random Random, clock Clock, urls URLPolicy, settings RegistrationSettings) *Registration {
	return &Registration{admin: admin, clients: clients, cache: cache, throttle: throttle, hasher: hasher,
		random: random, clock: clock, urls: urls, settings: settings}
}

// Caller is who calls the registration endpoint: the bearer token shown and the
// network address, for throttling failed tokens (as client authentication does, and
// also only after a failure).
type Caller struct {
	Token   string
	Address string
}

// refuse answers a bad token: 429 while the address is locked, else the failure
// counts and the answer is invalid_token.
func (uc *Registration) refuse(ctx context.Context, address string) error {
	key := "registration:" + domain.ThrottleAddress(address)
	if err := uc.throttle.Check(ctx, key); err != nil {
		return err
	}
	uc.throttle.Failure(ctx, key)
	return errBadRegistrationToken
}

// Enabled reports whether dynamic registration is on.
func (uc *Registration) Enabled() bool { return uc.settings.Enabled }

var errBadRegistrationToken = domain.ErrInvalidToken.WithDescription("the access token is missing, invalid, or not for this client")

// OpenRegistrationTTL is how long a client of open dynamic registration lives without
// being used: housekeeping deletes it after that unless it got a token.
const OpenRegistrationTTL = 24 * time.Hour

// Admit says whether a registration may go on, before its body is read: with the
// initial access token, or, when registration is open, without any token (open
// true), while the address is not throttled.
func (uc *Registration) Admit(ctx context.Context, caller Caller) (open bool, err error) {
	if uc.settings.Enabled && uc.settings.Open && caller.Token == "" {
		return true, uc.throttle.Check(ctx, openRegistrationKey(caller.Address))
	}
	return false, uc.CheckInitialToken(ctx, caller)
}

func openRegistrationKey(address string) string {
	return "registration-open:" + domain.ThrottleAddress(address)
}

// Register checks the initial access token (in constant time) or, without one when
// registration is open, the address's throttle; validates the metadata with the
// rules of `clients create` (and, for an open registration, those of a public
// client: openPolicy); and stores a new client with a registration access token, of
// which only a keyed hash is kept. Every registration is audited (client.registered).
func (uc *Registration) Register(ctx context.Context, caller Caller, m ClientMetadata) (RegisteredClient, error) {
	open, err := uc.Admit(ctx, caller)
	if err != nil {
		return RegisteredClient{}, err
	}
	if open {
		// Every attempt counts: FreeFailures registrations per address, then a
		// growing delay (domain.ThrottlePolicy).
		uc.throttle.Failure(ctx, openRegistrationKey(caller.Address))
	}
	if m.ClientID != "" || m.ClientSecret != "" {
		return RegisteredClient{}, ErrInvalidClientMetadata.WithDescription("client_id and client_secret are issued by the server")
	}
	if open {
		if err := openPolicy(&m); err != nil {
			return RegisteredClient{}, err
		}
	}
	c, err := uc.metadataToClient(m)
	if err != nil {
		return RegisteredClient{}, err
	}
	token := uc.random.Token()
	in := NewClient{
		Name: c.Name, RedirectURIs: c.RedirectURIs, GrantTypes: c.GrantTypes, Scopes: c.Scopes, Public: c.Public,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, RequirePAR: c.RequirePAR,
		BackchannelLogoutURI:  c.BackchannelLogoutURI,
		RegistrationTokenHash: uc.hasher.HashSecret(token),
		Registered:            true,
	}
	if open {
		in.UnusedExpiresAt = uc.clock.Now().Add(OpenRegistrationTTL)
	}
	created, err := uc.admin.CreateClient(ctx, in)
	if err != nil {
		return RegisteredClient{}, metadataError(err)
	}
	return RegisteredClient{Client: created.Client, Metadata: describe(created.Client),
		Secret: created.Secret, RegistrationToken: token}, nil
}

// CheckInitialToken checks the bearer token of a registration, in constant time:
// invalid_token unless it is the initial access token.
func (uc *Registration) CheckInitialToken(ctx context.Context, caller Caller) error {
	if !uc.settings.Enabled || len(uc.settings.InitialAccessToken) < 32 || !equalSecrets(caller.Token, uc.settings.InitialAccessToken) {
		return uc.refuse(ctx, caller.Address)
	}
	return nil
}

// Read returns the client the registration access token manages (RFC 7592 §2.1),
// with a new registration access token: the answer must carry one (§3), and only a
// keyed hash of the old is kept, so it is replaced, as Keycloak does on every use.
// The old token stops working; of two reads racing with one token, one gets the new
// token and the other invalid_token.
func (uc *Registration) Read(ctx context.Context, clientID string, caller Caller) (RegisteredClient, error) {
	c, err := uc.managed(ctx, clientID, caller)
	if err != nil {
		return RegisteredClient{}, err
	}
	next, token := uc.withNewToken(c)
	if err := uc.clients.UpdateRegisteredClient(ctx, next, c.RegistrationTokenHash); err != nil {
		return RegisteredClient{}, uc.lostToken(err, "rotate the registration access token")
	}
	return RegisteredClient{Client: next, Metadata: describe(next), RegistrationToken: token}, nil
}

// CheckToken checks the registration access token of clientID without using it up:
// an update's token is checked before its body, so that a caller without it learns
// nothing from the body's checks.
func (uc *Registration) CheckToken(ctx context.Context, clientID string, caller Caller) error {
	_, err := uc.managed(ctx, clientID, caller)
	return err
}

// withNewToken returns c under a new registration access token, and the token.
func (uc *Registration) withNewToken(c domain.Client) (domain.Client, string) {
	token := uc.random.Token()
	c.RegistrationTokenHash = uc.hasher.HashSecret(token)
	return c, token
}

// lostToken maps a failed conditional write: ErrNotFound means the client went away
// or another request with the same token replaced it first, so the token shown is no
// longer good (not counted as a failure for throttling: it was good a moment ago).
func (uc *Registration) lostToken(err error, doing string) error {
	if errors.Is(err, domain.ErrNotFound) {
		return errBadRegistrationToken
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// Update replaces the client's metadata with m (RFC 7592 §2.2: omitted fields take
// their defaults) and its registration access token (as Read does), in one
// conditional write. The client id, secret and kind (public or confidential) stay. A
// change of metadata is audited as client.updated, by the client itself.
func (uc *Registration) Update(ctx context.Context, clientID string, caller Caller, m ClientMetadata) (RegisteredClient, error) {
	old, err := uc.managed(ctx, clientID, caller)
	if err != nil {
		return RegisteredClient{}, err
	}
	if m.ClientID != old.ID {
		return RegisteredClient{}, domain.ErrInvalidRequest.WithDescription("client_id must be the client's own")
	}
	if m.ClientSecret != "" && (old.Public || !uc.hasher.SecretMatches(old.SecretHash, m.ClientSecret)) {
		return RegisteredClient{}, domain.ErrInvalidRequest.WithDescription("client_secret cannot be changed here")
	}
	if uc.settings.Open && old.Public {
		// With open registration a public client may have registered itself without
		// the token: its updates keep to the same rules.
		if err := openPolicy(&m); err != nil {
			return RegisteredClient{}, err
		}
	}
	c, err := uc.metadataToClient(m)
	if err != nil {
		return RegisteredClient{}, err
	}
	if c.Public != old.Public {
		return RegisteredClient{}, ErrInvalidClientMetadata.WithDescription(
			"token_endpoint_auth_method cannot change between none and a client secret; register a new client")
	}
	if m.ClientName == "" {
		c.Name = old.Name
	}
	// What UpdateRegisteredClient writes; the rest (secret, audiences, the operator's
	// settings) stays as it is.
	next := old
	next.Name, next.RedirectURIs, next.GrantTypes, next.Scopes = c.Name, c.RedirectURIs, c.GrantTypes, c.Scopes
	next.PostLogoutRedirectURIs, next.RequirePAR, next.BackchannelLogoutURI = c.PostLogoutRedirectURIs, c.RequirePAR, c.BackchannelLogoutURI
	if err := domain.ValidateClient(next); err != nil {
		return RegisteredClient{}, metadataError(err)
	}
	next, token := uc.withNewToken(next)
	save := func(ctx context.Context) error {
		return uc.clients.UpdateRegisteredClient(ctx, next, old.RegistrationTokenHash)
	}
	if changed := clientFieldsChanged(old, next); len(changed) == 0 {
		err = save(ctx) // only the token changes
	} else {
		next.UpdatedAt = uc.clock.Now()
		err = uc.admin.audit.Change(WithAuditActor(ctx, next.ID), domain.AuditEvent{Type: domain.AuditClientUpdated,
			Target: next.ID, Details: changedDetails(changed)}, save)
	}
	if errors.Is(err, domain.ErrDuplicate) {
		return RegisteredClient{}, ErrInvalidClientMetadata.WithDescription("a client named %q already exists", next.Name)
	}
	if err != nil {
		return RegisteredClient{}, uc.lostToken(err, "update registered client")
	}
	uc.cache.Forget(next.ID)
	return RegisteredClient{Client: next, Metadata: describe(next), RegistrationToken: token}, nil
}

// Delete removes the client (RFC 7592 §2.3) as `clients delete` does (Admin): every
// token and code of it dies at once, and its consents go with it. The audit log names
// the client as the actor of its own deletion.
func (uc *Registration) Delete(ctx context.Context, clientID string, caller Caller) error {
	if _, err := uc.managed(ctx, clientID, caller); err != nil {
		return err
	}
	switch err := uc.admin.DeleteClient(WithAuditActor(ctx, clientID), clientID); {
	case errors.Is(err, domain.ErrNotFound):
		return errBadRegistrationToken
	case err != nil:
		return fmt.Errorf("delete registered client: %w", err)
	}
	uc.cache.Forget(clientID)
	return nil
}

// managed returns the client when token is its registration access token. An unknown
// client, a client made by the CLI and a wrong token all answer invalid_token
// (RFC 7592 §2.1: 401 for a client that does not exist).
func (uc *Registration) managed(ctx context.Context, clientID string, caller Caller) (domain.Client, error) {
	token := caller.Token
	if !uc.settings.Enabled || token == "" || clientID == "" || !cleanParam(clientID, maxClientIDSize) {
		return domain.Client{}, uc.refuse(ctx, caller.Address)
	}
	c, err := liveClient(ctx, uc.clients, clientID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		uc.hasher.SecretMatches(dummySecretHash, token)
		return domain.Client{}, uc.refuse(ctx, caller.Address)
	case err != nil:
		return domain.Client{}, fmt.Errorf("look up registered client: %w", err)
	}
	hash := c.RegistrationTokenHash
	if len(hash) == 0 {
		hash = dummySecretHash
	}
	if !uc.hasher.SecretMatches(hash, token) || len(c.RegistrationTokenHash) == 0 {
		return domain.Client{}, uc.refuse(ctx, caller.Address)
	}
	return c, nil
}

// openPolicy holds a registration without initial access token to a public client
// (SPEC "Protected resources and AI agents"): token_endpoint_auth_method none (the
// default here), the authorization code grant (with refresh tokens at most), whose
// PKCE every public client needs, and redirect URIs on loopback or https only.
func openPolicy(m *ClientMetadata) error {
	switch m.TokenEndpointAuthMethod {
	case "":
		m.TokenEndpointAuthMethod = AuthMethodNone
	case AuthMethodNone:
	default:
		return ErrInvalidClientMetadata.WithDescription(
			"without an initial access token only public clients register: token_endpoint_auth_method must be none")
	}
	for _, g := range m.GrantTypes {
		if g != domain.GrantAuthorizationCode && g != domain.GrantRefreshToken {
			return ErrInvalidClientMetadata.WithDescription(
				"without an initial access token only the authorization_code and refresh_token grants register")
		}
	}
	if len(m.RedirectURIs) == 0 {
		return ErrInvalidRedirectURI.WithDescription("at least one redirect URI is required")
	}
	for _, r := range m.RedirectURIs {
		if !loopbackOrHTTPS(r) {
			return ErrInvalidRedirectURI.WithDescription(
				"without an initial access token redirect URIs must be https, or http on a loopback address")
		}
	}
	return nil
}

// loopbackOrHTTPS: an https URL with a host, or an http URL at 127.0.0.1, [::1] or
// localhost (RFC 8252 §7.3).
func loopbackOrHTTPS(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		return h == "127.0.0.1" || h == "::1" || h == "localhost"
	}
	return false
}

// Token endpoint authentication methods a registered client may ask for. Gatehouse
// takes both secret methods from every confidential client.
var registrationAuthMethods = []string{AuthMethodBasic, AuthMethodPost, AuthMethodNone}

// metadataToClient applies RFC 7591 §2's defaults and Gatehouse's rules. Redirect
// URI problems are invalid_redirect_uri, everything else invalid_client_metadata.
func (uc *Registration) metadataToClient(m ClientMetadata) (domain.Client, error) {
	if m.SoftwareStatement != "" {
		return domain.Client{}, &domain.Error{Code: "invalid_software_statement", Description: "software statements are not accepted"}
	}
	method := m.TokenEndpointAuthMethod
	if method == "" {
		method = AuthMethodBasic
	}
	if !slices.Contains(registrationAuthMethods, method) {
		return domain.Client{}, ErrInvalidClientMetadata.WithDescription(
			"token_endpoint_auth_method must be client_secret_basic, client_secret_post or none")
	}
	grants := slices.Clone(m.GrantTypes)
	if len(grants) == 0 {
		grants = []string{domain.GrantAuthorizationCode} // RFC 7591 §2
	}
	for _, g := range grants {
		switch {
		case g == domain.GrantPassword:
			// The password grant stays an operator's decision (RFC 9700 §2.4).
			return domain.Client{}, ErrInvalidClientMetadata.WithDescription("the password grant cannot be registered here")
		case g == "implicit" || !slices.Contains(domain.KnownGrantTypes, g):
			return domain.Client{}, ErrInvalidClientMetadata.WithDescription("unsupported grant type %s", domain.DescriptionText(safeValue(g)))
		case !slices.Contains(uc.settings.grantTypes(), g):
			return domain.Client{}, ErrInvalidClientMetadata.WithDescription(
				"grant type %s is not open to dynamically registered clients (allowed: %s)", g, strings.Join(uc.settings.grantTypes(), " "))
		}
	}
	responses := m.ResponseTypes
	code := slices.Contains(grants, domain.GrantAuthorizationCode)
	for _, r := range responses {
		if r != "code" {
			return domain.Client{}, ErrInvalidClientMetadata.WithDescription("only response type code is supported")
		}
	}
	if len(responses) > 0 && !code {
		return domain.Client{}, ErrInvalidClientMetadata.WithDescription("response type code needs the authorization_code grant")
	}
	if code && m.ResponseTypes != nil && len(responses) == 0 {
		return domain.Client{}, ErrInvalidClientMetadata.WithDescription("the authorization_code grant needs response type code")
	}
	if code && len(m.RedirectURIs) == 0 {
		return domain.Client{}, ErrInvalidRedirectURI.WithDescription("the authorization_code grant needs at least one redirect URI")
	}
	for _, r := range m.RedirectURIs {
		if err := domain.ValidateRedirectURI(r); err != nil {
			return domain.Client{}, metadataError(err)
		}
	}
	scopes, err := domain.ParseScope(m.Scope)
	if err != nil {
		return domain.Client{}, ErrInvalidClientMetadata.WithDescription("scope is not a list of scope tokens")
	}
	allowed := uc.settings.scopes()
	for _, s := range scopes {
		if !slices.Contains(allowed, s) {
			return domain.Client{}, ErrInvalidClientMetadata.WithDescription(
				"scope %s is not open to dynamically registered clients", safeValue(s))
		}
	}
	if len(scopes) == 0 {
		scopes = slices.Clone(allowed)
	}
	name := m.ClientName
	if name == "" {
		name = "dynamic " + uc.random.ID()
	}
	c := domain.Client{
		Name: name, Public: method == AuthMethodNone, RedirectURIs: slices.Clone(m.RedirectURIs), GrantTypes: grants,
		Scopes: scopes, PostLogoutRedirectURIs: slices.Clone(m.PostLogoutRedirectURIs), RequirePAR: m.RequirePAR,
		IDTokenAlg: domain.AlgRS256, BackchannelLogoutURI: m.BackchannelLogoutURI,
	}
	if err := domain.ValidateClient(c); err != nil {
		return domain.Client{}, metadataError(err)
	}
	if u := m.BackchannelLogoutURI; u != "" {
		// Back-Channel Logout 1.0 §2.2: plain http only for a confidential client.
		if c.Public && !strings.HasPrefix(u, "https://") {
			return domain.Client{}, ErrInvalidClientMetadata.WithDescription("backchannel_logout_uri must use https for a public client")
		}
		if err := uc.urls.CheckURL(u); err != nil {
			return domain.Client{}, ErrInvalidClientMetadata.WithDescription(
				"backchannel_logout_uri must lead to a public address: %s", domain.DescriptionText(err.Error()))
		}
	}
	return c, nil
}

// describe is the metadata of c as registered. A confidential client is described as
// client_secret_basic whichever secret method it asked for: Gatehouse takes both from
// every confidential client and keeps no per-client choice (RFC 7591 §3.2.1 lets the
// server answer other values than those asked).
func describe(c domain.Client) ClientMetadata {
	method := AuthMethodBasic
	if c.Public {
		method = AuthMethodNone
	}
	var responses []string
	if c.AllowsGrant(domain.GrantAuthorizationCode) {
		responses = []string{"code"}
	}
	return ClientMetadata{
		RedirectURIs: slices.Clone(c.RedirectURIs), TokenEndpointAuthMethod: method, GrantTypes: slices.Clone(c.GrantTypes),
		ResponseTypes: responses, ClientName: c.Name, Scope: domain.ScopeString(c.Scopes),
		PostLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs), RequirePAR: c.RequirePAR,
		BackchannelLogoutURI: c.BackchannelLogoutURI,
	}
}

// metadataError maps bad metadata to the errors of RFC 7591 §3.2.2: a redirect URI
// is invalid_redirect_uri, any other field invalid_client_metadata. The fields are
// named as RFC 7591 names them (domain.FieldError), the registrant's own words.
func metadataError(err error) error {
	var fe *domain.FieldError
	var ve *ValidationError
	switch {
	case errors.As(err, &fe) && fe.Field == "redirect_uris":
		return ErrInvalidRedirectURI.WithDescription("%s", fe.Error())
	case errors.As(err, &fe):
		return ErrInvalidClientMetadata.WithDescription("%s", fe.Error())
	case errors.As(err, &ve):
		return ErrInvalidClientMetadata.WithDescription("%s", ve.Message)
	}
	return err
}

// equalSecrets compares two secrets in constant time (their SHA-256, so that the
// length does not show either).
func equalSecrets(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// ClientIDIssuedAt is client_id_issued_at (RFC 7591 §3.2.1).
func (r RegisteredClient) ClientIDIssuedAt() time.Time { return r.Client.CreatedAt }
