package usecase

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gatehouse/domain"
)

// AuthorizeParams are the parameters of an authorization request (RFC 6749 §4.1.1,
// RFC 7636 §4.3, RFC 8707 §2, OpenID Connect Core §3.1.2.1) as the HTTP adapter read
// them. Empty means absent; unknown parameters never get here.
type AuthorizeParams struct {
	ClientID            string
	RedirectURI         string
	ResponseType        string
	Scope               string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              string
	MaxAge              string
	// Request and RequestURI are OpenID Connect request objects (Core §6), which
	// Gatehouse does not support; present, they are refused rather than ignored.
	Request    string
	RequestURI string
	Resource   []string
	// Repeated names the parameters sent more than once (RFC 6749 §3.1); `resource`
	// may repeat and is never listed.
	Repeated []string
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

// StepKind says what the browser does next.
type StepKind int

const (
	// StepLogin: show the login page for RequestID.
	StepLogin StepKind = iota + 1
	// StepConsent: show the consent page for RequestID.
	StepConsent
	// StepRedirect: send the browser to URL, the client's redirect URI with the answer.
	StepRedirect
)

// Step is where an authorization request goes next.
type Step struct {
	Kind      StepKind
	RequestID string
	URL       string
	// RedirectURI is the client redirect URI the request answers to (for the pages'
	// Content-Security-Policy form-action); empty when not known yet.
	RedirectURI string
}

// PageError is an authorization error that must not go back to the client: the client
// or its redirect URI cannot be trusted (RFC 6749 §4.1.2.1, §10.15), or the pending
// request is gone or belongs to another browser. The adapter shows it as a page.
type PageError struct {
	Err *domain.Error
	// Status hints at the HTTP status: 400 unless set.
	Status int
}

func (e *PageError) Error() string { return "authorization page error: " + e.Err.Error() }
func (e *PageError) Unwrap() error { return e.Err }

// RedirectError is an authorization error for a trusted redirect URI: the browser goes
// back to the client with error, error_description, state and iss (RFC 6749
// §4.1.2.1, RFC 9207).
type RedirectError struct {
	Err *domain.Error
	// URL is the redirect URI with the error parameters.
	URL string
}

func (e *RedirectError) Error() string { return "authorization error redirect: " + e.Err.Error() }
func (e *RedirectError) Unwrap() error { return e.Err }

func pageErr(status int, format string, args ...any) *PageError {
	return &PageError{Err: domain.ErrInvalidRequest.WithDescription(format, args...), Status: status}
}

// Bounds on what a request may carry, besides the length of each parameter
// (domain.ParamLimit); longer values are refused, not truncated, so that state always
// comes back byte for byte. A client_id over maxClientIDSize is no client of ours.
const (
	maxMaxAge       = 10 * 365 * 24 * 3600 // ten years, in seconds
	maxClientIDSize = 255
)

// Authorize runs the authorization endpoint (RFC 6749 §4.1; PKCE RFC 7636; RFC 9207
// iss; OpenID Connect prompt and max_age) and the request's way through the login and
// consent pages, up to the code.
type Authorize struct {
	clients  ClientStore
	requests AuthRequestStore
	consents ConsentStore
	codes    CodeStore
	hasher   SecretHasher
	random   Random
	clock    Clock
	settings Settings
	// par serves request_uri values of the PAR endpoint; nil: none are accepted.
	par *PushedAuthorization
}

// NewAuthorize builds the authorization endpoint.
func NewAuthorize(clients ClientStore, requests AuthRequestStore, consents ConsentStore, codes CodeStore,
	hasher SecretHasher, random Random, clock Clock, settings Settings) *Authorize {
	return &Authorize{clients: clients, requests: requests, consents: consents, codes: codes,
		hasher: hasher, random: random, clock: clock, settings: settings}
}

// Start validates a request and decides its first step. Errors: *PageError, or
// *RedirectError, or an infrastructure failure (wrapped).
func (uc *Authorize) Start(ctx context.Context, in AuthorizeInput) (Step, error) {
	p := in.Params
	// A request_uri of ours (RFC 9126); any other is an OpenID Connect request object
	// by reference, refused below with request_uri_not_supported.
	pushed := uc.par != nil && strings.HasPrefix(p.RequestURI, domain.RequestURIPrefix)
	if pushed {
		var err error
		if p, err = uc.par.take(ctx, p); err != nil {
			return Step{}, err
		}
	}
	client, redirectURI, sent, err := uc.trustedClient(ctx, p)
	if err != nil {
		return Step{}, err
	}
	if in.BrowserSecret == "" {
		return Step{}, pageErr(400, "your browser did not keep our cookie; allow cookies for this site and try again")
	}
	state := p.State
	if slices.Contains(p.Repeated, "state") || !cleanParam(state, domain.ParamLimit("state")) {
		state = "" // not echoed: we could not tell which one the client meant
	}
	now := uc.clock.Now()
	req := domain.AuthRequest{
		ID: uc.random.Token(), ClientID: client.ID, RedirectURI: redirectURI, RedirectURISent: sent,
		State: state, BrowserHash: uc.hasher.HashSecret(in.BrowserSecret),
		CreatedAt: now, ExpiresAt: now.Add(domain.AuthRequestTTL),
	}
	if !pushed && uc.parRequired(client) {
		return Step{}, uc.redirectError(req, domain.ErrInvalidRequest.WithDescription(
			"this client must push its authorization requests (PAR, RFC 9126) and send a request_uri"))
	}
	if err := uc.validate(client, p, &req); err != nil {
		return Step{}, uc.redirectError(req, err)
	}

	if s := in.Session; s != nil && !loginNeeded(req, *s, now) {
		req.UserID, req.AuthTime = s.UserID, s.AuthTime
	}
	if req.UserID == "" {
		if req.HasPrompt(domain.PromptNone) {
			return Step{}, uc.redirectError(req, domain.ErrLoginRequired.WithDescription("the user is not logged in"))
		}
		return uc.save(ctx, req, StepLogin)
	}
	need, err := uc.consentNeeded(ctx, client, req)
	if err != nil {
		return Step{}, err
	}
	if need {
		if req.HasPrompt(domain.PromptNone) {
			return Step{}, uc.redirectError(req, domain.ErrConsentRequired.WithDescription("the user has not consented to this client"))
		}
		return uc.save(ctx, req, StepConsent)
	}
	// Nothing to ask: answer at once; the request was never stored.
	return uc.issue(ctx, req, in.Session.ID)
}

// trustedClient finds the client and the redirect URI to answer to. Any failure here
// is a *PageError: without both, no redirect is safe (RFC 6749 §4.1.2.1).
func (uc *Authorize) trustedClient(ctx context.Context, p AuthorizeParams) (domain.Client, string, bool, error) {
	for _, name := range []string{"client_id", "redirect_uri"} {
		if slices.Contains(p.Repeated, name) {
			return domain.Client{}, "", false, pageErr(400, "the %s parameter is repeated", name)
		}
	}
	if p.ClientID == "" {
		return domain.Client{}, "", false, pageErr(400, "the request has no client_id")
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
	uri, sent, perr := redirectFor(client, p)
	if perr != nil {
		return domain.Client{}, "", false, perr
	}
	return client, uri, sent, nil
}

// redirectFor finds the redirect URI a request of client answers to, and whether the
// request named it.
func redirectFor(client domain.Client, p AuthorizeParams) (string, bool, *PageError) {
	if p.RedirectURI == "" {
		// Optional only when there is no choice (RFC 6749 §3.1.2.3).
		if len(client.RedirectURIs) != 1 {
			return "", false, pageErr(400, "the request has no redirect_uri, and the application has several")
		}
		return client.RedirectURIs[0], false, nil
	}
	if err := domain.CheckParam("redirect_uri", p.RedirectURI); err != nil {
		return "", false, &PageError{Err: err, Status: 400}
	}
	uri, ok := client.MatchRedirectURI(p.RedirectURI)
	if !ok {
		return "", false, pageErr(400, "the redirect_uri is not registered for this application")
	}
	return uri, true, nil
}

func unknownClient() *PageError {
	return &PageError{Err: domain.ErrInvalidClient.WithDescription("the application (client_id) is not registered here"), Status: 400}
}

// validate checks everything but the client and redirect URI, filling req. The
// returned error is a *domain.Error for the client.
func (uc *Authorize) validate(client domain.Client, p AuthorizeParams, req *domain.AuthRequest) error {
	if len(p.Repeated) > 0 {
		return domain.ErrInvalidRequest.WithDescription("parameter %q is repeated", p.Repeated[0])
	}
	switch {
	case p.Request != "":
		return &domain.Error{Code: "request_not_supported", Description: "request objects are not supported"}
	case p.RequestURI != "":
		return &domain.Error{Code: "request_uri_not_supported", Description: "request_uri is not supported"}
	}
	for _, v := range []struct{ name, value string }{
		{"state", p.State}, {"nonce", p.Nonce}, {"response_type", p.ResponseType}, {"scope", p.Scope},
		{"code_challenge", p.CodeChallenge}, {"code_challenge_method", p.CodeChallengeMethod},
		{"prompt", p.Prompt}, {"max_age", p.MaxAge},
	} {
		if err := domain.CheckParam(v.name, v.value); err != nil {
			return err
		}
		if !cleanParam(v.value, len(v.value)) {
			return domain.ErrInvalidRequest.WithDescription("%s must be valid text", v.name)
		}
	}
	if err := domain.CheckResourceCount(len(p.Resource)); err != nil {
		return err
	}
	for _, r := range p.Resource {
		if err := domain.CheckParam("resource", r); err != nil {
			return err
		}
		if !cleanParam(r, len(r)) {
			return domain.ErrInvalidTarget.WithDescription("resource must be valid text")
		}
	}
	switch p.ResponseType {
	case "":
		return domain.ErrInvalidRequest.WithDescription("missing response_type")
	case "code":
	default:
		// No implicit or hybrid flow (RFC 9700 §2.1.2).
		return domain.ErrUnsupportedResponseType.WithDescription("only response_type=code is supported")
	}
	if !client.AllowsGrant(domain.GrantAuthorizationCode) {
		return domain.ErrUnauthorizedClient.WithDescription("the client may not use the authorization code flow")
	}

	scope, err := domain.ParseScope(p.Scope)
	if err != nil {
		return err
	}
	if len(scope) == 0 {
		scope = defaultAuthorizeScope(client)
	}
	if req.Scope, err = client.NarrowScope(scope); err != nil {
		return err
	}
	if req.Audience, err = client.Audience(p.Resource, string(uc.settings.Audience)); err != nil {
		return err
	}

	switch {
	case p.CodeChallengeMethod != "" && p.CodeChallengeMethod != domain.PKCEMethodS256:
		return domain.ErrInvalidRequest.WithDescription("code_challenge_method must be S256")
	case p.CodeChallenge == "" && p.CodeChallengeMethod != "":
		return domain.ErrInvalidRequest.WithDescription("code_challenge_method without code_challenge")
	case p.CodeChallenge != "" && p.CodeChallengeMethod == "":
		// An absent method means plain (RFC 7636 §4.3), which is not accepted.
		return domain.ErrInvalidRequest.WithDescription("code_challenge_method must be S256")
	case p.CodeChallenge != "" && !domain.ValidCodeChallenge(p.CodeChallenge):
		return domain.ErrInvalidRequest.WithDescription("code_challenge must be 43 base64url characters (S256)")
	case p.CodeChallenge == "" && (client.Public || uc.settings.RequirePKCE):
		return domain.ErrInvalidRequest.WithDescription("code_challenge is required (PKCE with S256)")
	}
	req.CodeChallenge = p.CodeChallenge

	if req.Prompt, err = parsePrompt(p.Prompt); err != nil {
		return err
	}
	if p.MaxAge != "" {
		n, err := strconv.ParseInt(p.MaxAge, 10, 64)
		if err != nil || n < 0 || n > maxMaxAge {
			return domain.ErrInvalidRequest.WithDescription("max_age must be a number of seconds")
		}
		d := time.Duration(n) * time.Second
		req.MaxAge = &d
	}
	req.Nonce = p.Nonce
	return nil
}

// defaultAuthorizeScope is the scope of a request without one: openid when the client
// may ask it (SPEC "Behaviour that clients rely on"), else all the client may ask, as
// at the token endpoint.
func defaultAuthorizeScope(client domain.Client) []string {
	if slices.Contains(client.Scopes, domain.ScopeOpenID) {
		return []string{domain.ScopeOpenID}
	}
	return slices.Clone(client.Scopes)
}

func parsePrompt(s string) ([]string, error) {
	var out []string
	for _, v := range strings.Fields(s) {
		switch v {
		case domain.PromptNone, domain.PromptLogin, domain.PromptConsent, domain.PromptSelectAccount:
		default:
			return nil, domain.ErrInvalidRequest.WithDescription("unknown prompt value %q", safeValue(v))
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	if slices.Contains(out, domain.PromptNone) && len(out) > 1 {
		return nil, domain.ErrInvalidRequest.WithDescription("prompt=none cannot be combined with other values")
	}
	return out, nil
}

// loginNeeded: prompt=login, or a session older than max_age (OpenID Connect Core
// §3.1.2.1), asks the user to log in again.
func loginNeeded(req domain.AuthRequest, s domain.Session, now time.Time) bool {
	if req.HasPrompt(domain.PromptLogin) {
		return true
	}
	return req.MaxAge != nil && now.Sub(s.AuthTime) > *req.MaxAge
}

// consentNeeded: prompt=consent asks again; otherwise clients registered with
// --skip-consent skip it, and others need a remembered consent covering the scope:
// for a public client, one given at this very redirect URI (its loopback port
// included), so that another program claiming the client's id on another port is
// asked (domain.Client.ConsentRedirectURI; prompt=none then gets consent_required).
func (uc *Authorize) consentNeeded(ctx context.Context, client domain.Client, req domain.AuthRequest) (bool, error) {
	if req.HasPrompt(domain.PromptConsent) {
		return true, nil
	}
	if client.SkipConsent {
		return false, nil
	}
	c, err := uc.consents.ConsentFor(ctx, req.UserID, client.ID, client.ConsentRedirectURI(req.RedirectURI))
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("look up consent: %w", err)
	}
	return !c.Covers(req.Scope), nil
}

// save stores a request that needs a page.
func (uc *Authorize) save(ctx context.Context, req domain.AuthRequest, kind StepKind) (Step, error) {
	if err := uc.requests.CreateAuthRequest(ctx, req); err != nil {
		return Step{}, fmt.Errorf("store authorization request: %w", err)
	}
	return Step{Kind: kind, RequestID: req.ID, RedirectURI: req.RedirectURI}, nil
}

// PendingRequest is a stored request with its client, for the pages.
type PendingRequest struct {
	Request domain.AuthRequest
	Client  domain.Client
}

// Pending returns a stored request, checking that it is alive, that browserSecret is
// the cookie of the browser that started it (SECURITY S40), and that its client and
// redirect URI are still registered. Failures are *PageError.
func (uc *Authorize) Pending(ctx context.Context, id, browserSecret string) (PendingRequest, error) {
	expired := &PageError{Err: domain.ErrInvalidRequest.WithDescription(
		"this sign-in request has expired or was already completed"), Status: 400}
	if id == "" || !cleanParam(id, 128) {
		return PendingRequest{}, expired
	}
	req, err := uc.requests.AuthRequestByID(ctx, id)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return PendingRequest{}, expired
	case err != nil:
		return PendingRequest{}, fmt.Errorf("look up authorization request: %w", err)
	}
	if req.Expired(uc.clock.Now()) {
		return PendingRequest{}, expired
	}
	if browserSecret == "" || !uc.hasher.SecretMatches(req.BrowserHash, browserSecret) {
		return PendingRequest{}, &PageError{Err: domain.ErrAccessDenied.WithDescription(
			"this sign-in request was started in another browser, or this browser does not keep our cookies"), Status: 403}
	}
	client, err := liveClient(ctx, uc.clients, req.ClientID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return PendingRequest{}, unknownClient()
	case err != nil:
		return PendingRequest{}, fmt.Errorf("look up client: %w", err)
	}
	if _, ok := client.MatchRedirectURI(req.RedirectURI); !ok {
		return PendingRequest{}, pageErr(400, "the redirect_uri is no longer registered for this application")
	}
	return PendingRequest{Request: req, Client: client}, nil
}

// NeedsLogin reports whether the login page applies: nobody is logged in for the
// request in this browser's session.
func (p PendingRequest) NeedsLogin(s *domain.Session) bool {
	return s == nil || p.Request.UserID == "" || s.UserID != p.Request.UserID
}

// LoggedIn records that the user of session s logged in for the request just now,
// and moves on.
func (uc *Authorize) LoggedIn(ctx context.Context, id, browserSecret string, s domain.Session) (Step, error) {
	p, err := uc.Pending(ctx, id, browserSecret)
	if err != nil {
		return Step{}, err
	}
	p.Request.UserID, p.Request.AuthTime = s.UserID, s.AuthTime
	if err := uc.requests.UpdateAuthRequest(ctx, p.Request); err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			return Step{}, pageErr(400, "this sign-in request was already completed")
		}
		return Step{}, fmt.Errorf("update authorization request: %w", err)
	}
	return uc.resume(ctx, p, &s)
}

// Resume moves a pending request on from wherever it is (the login page of a browser
// that is already logged in, say).
func (uc *Authorize) Resume(ctx context.Context, id, browserSecret string, s *domain.Session) (Step, error) {
	p, err := uc.Pending(ctx, id, browserSecret)
	if err != nil {
		return Step{}, err
	}
	return uc.resume(ctx, p, s)
}

func (uc *Authorize) resume(ctx context.Context, p PendingRequest, s *domain.Session) (Step, error) {
	req := p.Request
	if p.NeedsLogin(s) {
		return Step{Kind: StepLogin, RequestID: req.ID, RedirectURI: req.RedirectURI}, nil
	}
	need, err := uc.consentNeeded(ctx, p.Client, req)
	if err != nil {
		return Step{}, err
	}
	if need {
		return Step{Kind: StepConsent, RequestID: req.ID, RedirectURI: req.RedirectURI}, nil
	}
	if err := uc.complete(ctx, req.ID); err != nil {
		return Step{}, err
	}
	return uc.issue(ctx, req, s.ID)
}

// complete deletes the request; of concurrent completions only one gets through.
func (uc *Authorize) complete(ctx context.Context, id string) error {
	err := uc.requests.DeleteAuthRequest(ctx, id)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return pageErr(400, "this sign-in request was already completed")
	case err != nil:
		return fmt.Errorf("complete authorization request: %w", err)
	}
	return nil
}

// issue makes the authorization code and the redirect carrying it (RFC 6749 §4.1.2).
// The code is 256 random bits, stored only as a keyed hash (SECURITY S18), bound to
// client, redirect URI, PKCE challenge, scope, nonce, user, auth time and session.
func (uc *Authorize) issue(ctx context.Context, req domain.AuthRequest, sessionID string) (Step, error) {
	now := uc.clock.Now()
	ttl := time.Duration(uc.settings.AuthCodeTTL)
	if ttl <= 0 || ttl > domain.MaxAuthCodeTTL {
		ttl = min(time.Minute, domain.MaxAuthCodeTTL)
	}
	code := uc.random.Token()
	boundURI := req.RedirectURI
	if !req.RedirectURISent {
		boundURI = "" // the token request must then omit it too (RFC 6749 §4.1.3)
	}
	ac := domain.AuthorizationCode{
		Hash: uc.hasher.HashSecret(code), ClientID: req.ClientID, UserID: req.UserID,
		RedirectURI: boundURI, Scope: req.Scope, Audience: req.Audience,
		CodeChallenge: req.CodeChallenge, Nonce: req.Nonce, AuthTime: req.AuthTime,
		SessionID: sessionID, FamilyID: uc.random.FamilyID(),
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	if err := uc.codes.CreateCode(ctx, ac); err != nil {
		return Step{}, fmt.Errorf("store authorization code: %w", err)
	}
	return Step{Kind: StepRedirect, RedirectURI: req.RedirectURI,
		URL: uc.responseURL(req.RedirectURI, "code", code, req.State)}, nil
}

// redirectError wraps e for the client at req's redirect URI. e is a *domain.Error;
// anything else is an internal failure that must not reach the client as text.
func (uc *Authorize) redirectError(req domain.AuthRequest, err error) error {
	var e *domain.Error
	if !errors.As(err, &e) {
		return err
	}
	return &RedirectError{Err: e, URL: uc.errorURL(req.RedirectURI, e, req.State)}
}

func (uc *Authorize) errorURL(redirectURI string, e *domain.Error, state string) string {
	if e.Description != "" {
		return uc.responseURL(redirectURI, "error", e.Code, state, "error_description", descriptionText(e.Description))
	}
	return uc.responseURL(redirectURI, "error", e.Code, state)
}

// responseURL appends the answer to the redirect URI, keeping its own query (RFC 6749
// §3.1.2), with state as received and iss (RFC 9207 §2).
func (uc *Authorize) responseURL(redirectURI, key, value, state string, more ...string) string {
	q := url.Values{}
	q.Set(key, value)
	for i := 0; i+1 < len(more); i += 2 {
		q.Set(more[i], more[i+1])
	}
	if state != "" {
		q.Set("state", state)
	}
	q.Set("iss", string(uc.settings.Issuer))
	sep := "?"
	if strings.Contains(redirectURI, "?") {
		sep = "&"
	}
	return redirectURI + sep + q.Encode()
}

// cleanParam: valid UTF-8, no control characters that no legitimate value holds (NUL),
// at most max bytes.
func cleanParam(s string, max int) bool {
	return len(s) <= max && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// safeValue shortens a client-supplied value before it goes into a description.
func safeValue(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "..."
	}
	return s
}

// descriptionText keeps only the characters RFC 6749 §4.1.2.1 allows in
// error_description (printable ASCII but " and \).
func descriptionText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\' || r < 0x20 || r > 0x7e:
			return '?'
		}
		return r
	}, s)
}
