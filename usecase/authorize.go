package usecase

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gatehouse/domain"
)

// Authorize runs the authorization endpoint (RFC 6749 §4.1; PKCE RFC 7636; OpenID
// Connect prompt and max_age; pushed requests RFC 9126) and the request's way through
// the login and consent pages, up to the code (authorize_flow.go). What the request
// may ask is ValidateAuthRequest's to say (authorize_request.go); how the answer is
// written into the client's redirect URI is the HTTP adapter's.
type Authorize struct {
	users    UserStore
	clients  ClientStore
	requests AuthRequestStore
	consents ConsentStore
	codes    CodeStore
	pushed   PushedRequestStore
	hasher   SecretHasher
	random   Random
	clock    Clock
	settings Settings
	par      PARSettings
	// audit records each consent granted with it (nil in unit tests: none).
	audit *Audit
	// passkeys tells whether a user can reach the phishing-resistant level (nil: none can).
	passkeys PasskeyStore
	// resources are the registered protected resources: an open one may be asked
	// for by any client, with the user's consent. Nil: none.
	resources ResourceStore
	// hints checks an id_token_hint, as for RP-initiated logout. Nil: no hint can be
	// verified, and a request carrying one is refused rather than the hint ignored.
	hints IDTokenHintVerifier
}

// NewAuthorize builds the authorization endpoint. It takes the requests the PAR
// endpoint stored through pushed, and par.RequireAll makes it take only those.
func NewAuthorize(users UserStore, clients ClientStore, requests AuthRequestStore, consents ConsentStore, codes CodeStore,
	pushed PushedRequestStore, hasher SecretHasher, random Random, clock Clock, settings Settings, par PARSettings, audit *Audit,
	passkeys PasskeyStore) *Authorize {
	return &Authorize{users: users, clients: clients, requests: requests, consents: consents, codes: codes, pushed: pushed,
		hasher: hasher, random: random, clock: clock, settings: settings, par: par, audit: audit, passkeys: passkeys}
}

// NewAuthorizeWithHints is NewAuthorize where clients may also ask for the open
// resources of resources (gatehouse resources create --open), and the id_token_hint of
// a request (OpenID Connect Core §3.1.2.1) is checked with hints, the verifier of
// RP-initiated logout. The server is built with it; NewAuthorize serves tests that
// need neither.
func NewAuthorizeWithHints(users UserStore, clients ClientStore, requests AuthRequestStore, consents ConsentStore,
	codes CodeStore, pushed PushedRequestStore, hasher SecretHasher, random Random, clock Clock, settings Settings,
	par PARSettings, audit *Audit, passkeys PasskeyStore, resources ResourceStore, hints IDTokenHintVerifier) *Authorize {
	a := NewAuthorize(users, clients, requests, consents, codes, pushed, hasher, random, clock, settings, par, audit, passkeys)
	a.resources, a.hints = resources, hints
	return a
}

// AuthorizeInput is one GET of the authorization endpoint.
type AuthorizeInput struct {
	Params AuthorizeParams
	// Session is the browser's live session (Login.Session), nil when none.
	Session *domain.Session
	// BrowserSecret is the value of the browser-binding cookie (set before the call
	// when the browser had none).
	BrowserSecret string
}

// Start validates a request and decides its first step. Errors: a *domain.Error while
// the client or its redirect URI is not trusted (for a page), then a
// *domain.AuthorizationError (for the client's redirect URI), or an infrastructure
// failure (wrapped).
func (uc *Authorize) Start(ctx context.Context, in AuthorizeInput) (Step, error) {
	p := in.Params
	// A request_uri of ours stands for a pushed request; any other is an OpenID
	// Connect request object by reference, refused by validation.
	pushed := strings.HasPrefix(p.RequestURI, domain.RequestURIPrefix)
	if pushed {
		var err error
		if p, err = uc.takePushed(ctx, p); err != nil {
			return Step{}, err
		}
	}
	client, redirectURI, sent, err := uc.trustedClient(ctx, p)
	if err != nil {
		return Step{}, err
	}
	if in.BrowserSecret == "" {
		return Step{}, domain.ErrInvalidRequest.WithDescription("your browser did not keep our cookie; allow cookies for this site and try again")
	}
	state := echoState(p)
	if !pushed && (client.RequirePAR || uc.par.RequireAll) {
		// RFC 9126 §5: this client's requests come through the PAR endpoint only.
		return Step{}, redirectError(redirectURI, state, domain.ErrInvalidRequest.WithDescription(
			"this client must push its authorization requests (PAR, RFC 9126) and send a request_uri"))
	}
	policy := uc.settings.authorizePolicy()
	if policy.OpenResources, err = openResources(ctx, uc.resources, client, p.Resource); err != nil {
		return Step{}, err
	}
	req, err := ValidateAuthRequest(client, p, policy)
	if err != nil {
		return Step{}, redirectError(redirectURI, state, err)
	}
	hintSubject, err := uc.hintSubject(ctx, client, p.IDTokenHint)
	if err != nil {
		return Step{}, redirectError(redirectURI, state, err)
	}
	now := uc.clock.Now()
	req.ID, req.RedirectURI, req.RedirectURISent, req.State = uc.random.Token(), redirectURI, sent, state
	req.BrowserHash, req.CreatedAt, req.ExpiresAt = uc.hasher.HashSecret(in.BrowserSecret), now, now.Add(domain.AuthRequestTTL)
	if s := in.Session; s != nil && !loginNeeded(req, *s, now) {
		if hintSubject != "" && hintSubject != s.UserID {
			// The client expects another user than the one signed in here: no code for
			// this one without asking (OpenID Connect Core §3.1.2.1). The login page
			// asks, as for prompt=login; prompt=none cannot ask.
			if req.HasPrompt(domain.PromptNone) {
				return Step{}, redirectError(redirectURI, state, domain.ErrLoginRequired.WithDescription(
					"the user signed in is not the one the id_token_hint names"))
			}
		} else {
			req.UserID, req.AuthTime = s.UserID, s.AuthTime
		}
	}
	return uc.next(ctx, req, client, in.Session, false)
}

// hintSubject checks the request's id_token_hint, if any, and returns the user it
// names (empty without a hint). The hint must be an ID token of this server (our key,
// our iss; it may have expired: it only says whom the client expects) issued to this
// very client: another client's ID token is not the requester's to hand back, and
// would let it ask whether the browser's user is the user of another client. Any
// defect is an invalid_request for the client.
func (uc *Authorize) hintSubject(ctx context.Context, client domain.Client, raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	invalid := domain.ErrInvalidRequest.WithDescription("the id_token_hint is not an ID token this server issued")
	if uc.hints == nil {
		return "", invalid
	}
	hint, err := uc.hints.VerifyIDTokenHint(ctx, raw)
	switch {
	case errors.Is(err, domain.ErrInvalidToken):
		return "", invalid
	case err != nil:
		return "", fmt.Errorf("verify id_token_hint: %w", err)
	case hint.ClientID != client.ID:
		return "", domain.ErrInvalidRequest.WithDescription("the id_token_hint was issued to another application")
	}
	return hint.Subject, nil
}

// trustedClient finds the client and the redirect URI to answer to. Any failure here
// is for a page: without both, no redirect is safe (RFC 6749 §4.1.2.1).
func (uc *Authorize) trustedClient(ctx context.Context, p AuthorizeParams) (domain.Client, string, bool, error) {
	for _, name := range []string{"client_id", "redirect_uri"} {
		if slices.Contains(p.Repeated, name) {
			return domain.Client{}, "", false, domain.ErrInvalidRequest.WithDescription("the %s parameter is repeated", name)
		}
	}
	if p.ClientID == "" {
		return domain.Client{}, "", false, domain.ErrInvalidRequest.WithDescription("the request has no client_id")
	}
	if !cleanParam(p.ClientID, maxClientIDSize) {
		return domain.Client{}, "", false, unknownClient()
	}
	client, err := liveClient(ctx, uc.clients, p.ClientID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.Client{}, "", false, unknownClient()
	case err != nil:
		return domain.Client{}, "", false, fmt.Errorf("look up client: %w", err)
	}
	uri, sent, err := RedirectFor(client, p)
	if err != nil {
		return domain.Client{}, "", false, err
	}
	return client, uri, sent, nil
}

// takePushed turns an authorization request carrying a request_uri into the pushed
// request it stands for, using it up. Only client_id is read from the query besides
// request_uri; the pushed parameters alone count (RFC 9126 §4). A request_uri that is
// unknown, expired, used, or of another client is for a page: no redirect URI is
// trusted yet. A request_uri of another client is not used up.
func (uc *Authorize) takePushed(ctx context.Context, p AuthorizeParams) (AuthorizeParams, error) {
	for _, name := range []string{"client_id", "request_uri"} {
		if slices.Contains(p.Repeated, name) {
			return AuthorizeParams{}, domain.ErrInvalidRequest.WithDescription("the %s parameter is repeated", name)
		}
	}
	if p.ClientID == "" {
		return AuthorizeParams{}, domain.ErrInvalidRequest.WithDescription("the request has no client_id")
	}
	gone := domain.ErrInvalidRequest.WithDescription("the request_uri is unknown, expired or already used; the application must start again")
	ref, ok := domain.ParseRequestURI(p.RequestURI)
	if !ok {
		return AuthorizeParams{}, gone
	}
	hash := uc.hasher.HashSecret(ref)
	r, err := uc.pushed.PushedRequestByHash(ctx, hash)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return AuthorizeParams{}, gone
	case err != nil:
		return AuthorizeParams{}, fmt.Errorf("look up pushed authorization request: %w", err)
	}
	if r.ClientID != p.ClientID || r.Expired(uc.clock.Now()) {
		return AuthorizeParams{}, gone
	}
	err = uc.pushed.ConsumePushedRequest(ctx, hash)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return AuthorizeParams{}, gone
	case err != nil:
		return AuthorizeParams{}, fmt.Errorf("use pushed authorization request: %w", err)
	}
	return AuthorizeParams{
		ClientID: r.ClientID, RedirectURI: r.RedirectURI, ResponseType: r.ResponseType, Scope: r.Scope,
		State: r.State, Nonce: r.Nonce, CodeChallenge: r.CodeChallenge, CodeChallengeMethod: r.CodeChallengeMethod,
		Prompt: r.Prompt, MaxAge: r.MaxAge, Claims: r.Claims, Resource: slices.Clone(r.Resource),
	}, nil
}

// redirectError sends err back to the client at redirectURI, with state. err is a
// *domain.Error; anything else is an internal failure that must not reach the client
// as text, and is returned as it is.
func redirectError(redirectURI, state string, err error) error {
	var e *domain.Error
	if !errors.As(err, &e) {
		return err
	}
	return &domain.AuthorizationError{Err: e, RedirectURI: redirectURI, State: state}
}

// unknownClient: the client_id is no client of ours (or a disabled one).
func unknownClient() *domain.Error {
	return domain.ErrInvalidClient.WithDescription("the application (client_id) is not registered here")
}

// openResources returns those of the resources asked for that are outside the
// client's audience list and registered as open.
func openResources(ctx context.Context, store ResourceStore, client domain.Client, asked []string) ([]domain.Resource, error) {
	var others []string
	for _, r := range asked {
		if !slices.Contains(client.Audiences, r) {
			others = append(others, r)
		}
	}
	if store == nil || len(others) == 0 || len(asked) > domain.MaxResourceParams {
		return nil, nil
	}
	open, err := store.OpenResources(ctx, others)
	if err != nil {
		return nil, fmt.Errorf("look up open resources: %w", err)
	}
	return open, nil
}

// consentItems is what the user consents to for req: its scopes and the open
// resources (outside the client's own audience list) its token would reach.
func consentItems(client domain.Client, req domain.AuthRequest, defaultAudience string) []string {
	items := req.ConsentScope()
	extra := openAudience(client, req, defaultAudience)
	if len(extra) == 0 {
		return items
	}
	items = slices.Clone(items)
	for _, r := range extra {
		items = append(items, domain.ResourceConsentItem(r))
	}
	return items
}

// openAudience is the part of req's audience the client holds only because the
// resources are open.
func openAudience(client domain.Client, req domain.AuthRequest, defaultAudience string) []string {
	var out []string
	for _, r := range req.Audience {
		if r != defaultAudience && !slices.Contains(client.Audiences, r) {
			out = append(out, r)
		}
	}
	return out
}
