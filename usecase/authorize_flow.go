package usecase

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gatehouse/domain"
)

// The way of an authorization request through the pages, once Start has validated it:
//
//	Login   (nobody is logged in for it in this browser)
//	Consent (the user has not consented to its scope, at this redirect URI for a public client)
//	Issued  (the code, in a redirect to the client)
//
// A request that needs a page is stored, bound to the browser that started it, and
// moves on each time a page is done (next); it is deleted when it completes, once.

// StepKind says what the browser does next.
type StepKind int

const (
	// StepLogin: show the login page for RequestID.
	StepLogin StepKind = iota + 1
	// StepConsent: show the consent page for RequestID.
	StepConsent
	// StepRedirect: send the browser back to the client with Response.
	StepRedirect
	// StepVerifyEmail: show the "verify your email" page for RequestID.
	StepVerifyEmail
	// StepSecondFactor: show the second-factor page for RequestID (its enrolment for
	// a user without a factor).
	StepSecondFactor
)

// Step is where an authorization request goes next.
type Step struct {
	Kind      StepKind
	RequestID string
	// RedirectURI is the client redirect URI the request answers to (for the pages'
	// Content-Security-Policy form-action); empty when not known yet.
	RedirectURI string
	// Response is the answer for the client, on StepRedirect.
	Response domain.AuthResponse
}

// ScopeView is one requested scope as the consent page shows it.
type ScopeView struct {
	Name        string
	Description string
}

// ConsentView is what the consent page shows.
type ConsentView struct {
	RequestID   string
	ClientName  string
	RedirectURI string
	Scopes      []ScopeView
	// Resources are the open resources the client asks to reach (by name and URI).
	Resources []ResourceView
	// ClientHost is the host of a metadata-document client's client_id: the name is
	// the document's to choose, the host is what vouches for it.
	ClientHost string
}

// ResourceView is a protected resource as the consent page names it.
type ResourceView struct {
	Name string
	URI  string
}

// resourceViews names the resources uris; a resource deleted meanwhile is shown by
// its URI alone.
func (uc *Authorize) resourceViews(ctx context.Context, uris []string) ([]ResourceView, error) {
	var all []domain.Resource
	if uc.resources != nil {
		var err error
		if all, err = uc.resources.ListResources(ctx); err != nil {
			return nil, fmt.Errorf("list resources: %w", err)
		}
	}
	out := make([]ResourceView, 0, len(uris))
	for _, u := range uris {
		v := ResourceView{Name: u, URI: u}
		for _, r := range all {
			if r.URI == u {
				v.Name = r.Name
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// PendingRequest is a stored request with its client, for the pages.
type PendingRequest struct {
	Request domain.AuthRequest
	Client  domain.Client
}

// NeedsLogin reports whether the login page applies: nobody is logged in for the
// request in this browser's session.
func (p PendingRequest) NeedsLogin(s *domain.Session) bool { return needsLogin(p.Request, s) }

func needsLogin(req domain.AuthRequest, s *domain.Session) bool {
	return s == nil || req.UserID == "" || s.UserID != req.UserID
}

// Pending returns a stored request, checking that it is alive, that browserSecret is
// the cookie of the browser that started it (SECURITY S40), and that its client and
// redirect URI are still registered. Failures are for a page.
func (uc *Authorize) Pending(ctx context.Context, id, browserSecret string) (PendingRequest, error) {
	expired := domain.ErrInvalidRequest.WithDescription("this sign-in request has expired or was already completed")
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
		return PendingRequest{}, domain.ErrAccessDenied.WithDescription(
			"this sign-in request was started in another browser, or this browser does not keep our cookies")
	}
	client, err := liveClient(ctx, uc.clients, req.ClientID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return PendingRequest{}, unknownClient()
	case err != nil:
		return PendingRequest{}, fmt.Errorf("look up client: %w", err)
	}
	if _, ok := client.MatchRedirectURI(req.RedirectURI); !ok {
		return PendingRequest{}, domain.ErrInvalidRequest.WithDescription("the redirect_uri is no longer registered for this application")
	}
	return PendingRequest{Request: req, Client: client}, nil
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
			return Step{}, domain.ErrInvalidRequest.WithDescription("this sign-in request was already completed")
		}
		return Step{}, fmt.Errorf("update authorization request: %w", err)
	}
	return uc.next(ctx, p.Request, p.Client, &s, true)
}

// Resume moves a pending request on from wherever it is (the login page of a browser
// that is already logged in, say).
func (uc *Authorize) Resume(ctx context.Context, id, browserSecret string, s *domain.Session) (Step, error) {
	p, err := uc.Pending(ctx, id, browserSecret)
	if err != nil {
		return Step{}, err
	}
	return uc.next(ctx, p.Request, p.Client, s, true)
}

// ConsentPrompt returns what the consent page shows for a pending request. When the
// page does not apply (nobody is logged in for the request in this browser), the step
// says where to go instead; otherwise its Kind is StepConsent.
func (uc *Authorize) ConsentPrompt(ctx context.Context, id, browserSecret string, s *domain.Session) (ConsentView, Step, error) {
	p, err := uc.Pending(ctx, id, browserSecret)
	if err != nil {
		return ConsentView{}, Step{}, err
	}
	req := p.Request
	if p.NeedsLogin(s) {
		return ConsentView{}, pageStep(req, StepLogin), nil
	}
	if step, ok, err := uc.gates(ctx, req, p.Client, s, true); ok {
		// Not signed in enough yet: the consent page is not the next step.
		return ConsentView{}, step, err
	}
	v := ConsentView{RequestID: req.ID, ClientName: p.Client.Name, RedirectURI: req.RedirectURI,
		ClientHost: MetadataClientHost(p.Client.ID)}
	for _, sc := range req.ConsentScope() {
		v.Scopes = append(v.Scopes, ScopeView{Name: sc, Description: domain.DescribeScope(sc)})
	}
	if open := openAudience(p.Client, req, string(uc.settings.Audience)); len(open) > 0 {
		if v.Resources, err = uc.resourceViews(ctx, open); err != nil {
			return ConsentView{}, Step{}, err
		}
	}
	return v, pageStep(req, StepConsent), nil
}

// Decide records the user's answer on the consent page. Deny sends access_denied back
// to the client (RFC 6749 §4.1.2.1); allow remembers the consent and issues the code.
// Either way the request is completed, once.
func (uc *Authorize) Decide(ctx context.Context, id, browserSecret string, s *domain.Session, allow bool) (Step, error) {
	p, err := uc.Pending(ctx, id, browserSecret)
	if err != nil {
		return Step{}, err
	}
	req := p.Request
	if p.NeedsLogin(s) {
		// The session ended or changed in another tab since the page was shown.
		return pageStep(req, StepLogin), nil
	}
	if allow {
		// A form posted before the step that must come first (SECURITY S53); a refusal
		// needs none: access_denied goes back to the client.
		if step, ok, err := uc.gates(ctx, req, p.Client, s, true); ok {
			return step, err
		}
	}
	if err := uc.complete(ctx, req.ID); err != nil {
		return Step{}, err
	}
	if !allow {
		return Step{}, redirectError(req.RedirectURI, req.State, domain.ErrAccessDenied.WithDescription("the user denied the request"))
	}
	// Remember the union with what was granted before (at the same redirect URI, for
	// a public client), so that a client asking for different scopes in turn does not
	// ask again for ones already granted.
	uri := p.Client.ConsentRedirectURI(req.RedirectURI)
	scope := slices.Clone(consentItems(p.Client, req, string(uc.settings.Audience)))
	if old, err := uc.consents.ConsentFor(ctx, req.UserID, req.ClientID, uri); err == nil {
		for _, sc := range old.Scope {
			if !slices.Contains(scope, sc) {
				scope = append(scope, sc)
			}
		}
	}
	c := domain.Consent{UserID: req.UserID, ClientID: req.ClientID, RedirectURI: uri, Scope: scope, GrantedAt: uc.clock.Now()}
	granted := domain.AuditEvent{Type: domain.AuditConsentGranted, Actor: req.UserID, Target: req.ClientID,
		Details: map[string]any{"scope": strings.Join(scope, " ")}}
	if err := uc.audit.Change(ctx, granted, func(ctx context.Context) error {
		return uc.consents.SaveConsent(ctx, c)
	}); err != nil {
		return Step{}, fmt.Errorf("save consent: %w", err)
	}
	return uc.issue(ctx, req, p.Client, s)
}

// next is the one transition of a request with session s: Login while nobody is
// logged in for it, Consent while the user's consent does not cover it, then Issued.
// A request Start has not stored yet (stored false) is stored when it needs a page,
// and answered at once otherwise; with prompt=none, a page it would need is an error
// for the client instead (OpenID Connect Core §3.1.2.6). A stored request is
// completed before its code is issued.
func (uc *Authorize) next(ctx context.Context, req domain.AuthRequest, client domain.Client, s *domain.Session, stored bool) (Step, error) {
	if needsLogin(req, s) {
		return uc.page(ctx, req, StepLogin, stored,
			domain.ErrLoginRequired.WithDescription("the user is not logged in"))
	}
	if step, ok, err := uc.gates(ctx, req, client, s, stored); ok {
		return step, err
	}
	need, err := uc.consentNeeded(ctx, client, req)
	if err != nil {
		return Step{}, err
	}
	if need {
		return uc.page(ctx, req, StepConsent, stored,
			domain.ErrConsentRequired.WithDescription("the user has not consented to this client"))
	}
	if stored {
		if err := uc.complete(ctx, req.ID); err != nil {
			return Step{}, err
		}
	}
	return uc.issue(ctx, req, client, s)
}

// gates are the steps between the sign-in and the consent that a request of a
// signed-in session s may still need: the "verify your email" page (when
// GATEHOUSE_EMAIL_VERIFICATION=required) and the second factor (the level the
// request or the client asks for, SECURITY S53). Every way to the consent page and
// to a code passes them: next, ConsentPrompt and Decide. ok says one applies.
func (uc *Authorize) gates(ctx context.Context, req domain.AuthRequest, client domain.Client, s *domain.Session,
	stored bool) (Step, bool, error) {
	if uc.settings.RequireVerifiedEmail {
		u, err := uc.users.UserByID(ctx, s.UserID)
		if err != nil {
			return Step{}, true, fmt.Errorf("look up the signed-in user: %w", err)
		}
		if !u.EmailVerified {
			step, err := uc.page(ctx, req, StepVerifyEmail, stored,
				domain.ErrInteractionRequired.WithDescription("the user must verify their email address first"))
			return step, true, err
		}
	}
	return uc.secondFactorStep(ctx, req, client, s, stored)
}

// page sends the browser to a page for req, storing a new request first; with
// prompt=none a new request gets noPage instead.
func (uc *Authorize) page(ctx context.Context, req domain.AuthRequest, kind StepKind, stored bool, noPage *domain.Error) (Step, error) {
	if !stored {
		if req.HasPrompt(domain.PromptNone) {
			return Step{}, redirectError(req.RedirectURI, req.State, noPage)
		}
		if err := uc.requests.CreateAuthRequest(ctx, req); err != nil {
			return Step{}, fmt.Errorf("store authorization request: %w", err)
		}
	}
	return pageStep(req, kind), nil
}

func pageStep(req domain.AuthRequest, kind StepKind) Step {
	return Step{Kind: kind, RequestID: req.ID, RedirectURI: req.RedirectURI}
}

// loginNeeded: prompt=login, or a session older than max_age (OpenID Connect Core
// §3.1.2.1), asks the user to log in again. So does prompt=select_account: a session
// holds one account, and the login page is where the user chooses one (the same or
// another); there is no list of accounts to pick from without signing in.
func loginNeeded(req domain.AuthRequest, s domain.Session, now time.Time) bool {
	if req.HasPrompt(domain.PromptLogin) || req.HasPrompt(domain.PromptSelectAccount) {
		return true
	}
	return req.MaxAge != nil && now.Sub(s.AuthTime) > *req.MaxAge
}

// consentNeeded: prompt=consent asks again; otherwise clients registered to skip
// consent skip it, and others need a remembered consent covering the scope: for a
// public client, one given at this very redirect URI (its loopback port included),
// so that another program claiming the client's id on another port is asked
// (domain.Client.ConsentRedirectURI; prompt=none then gets consent_required).
func (uc *Authorize) consentNeeded(ctx context.Context, client domain.Client, req domain.AuthRequest) (bool, error) {
	if req.HasPrompt(domain.PromptConsent) {
		return true, nil
	}
	items := consentItems(client, req, string(uc.settings.Audience))
	if client.SkipConsent && len(items) == len(req.ConsentScope()) {
		// Open resources are consented to even by clients that skip consent otherwise.
		return false, nil
	}
	c, err := uc.consents.ConsentFor(ctx, req.UserID, client.ID, client.ConsentRedirectURI(req.RedirectURI))
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("look up consent: %w", err)
	}
	return !c.Covers(items), nil
}

// complete deletes the request; of concurrent completions only one gets through.
func (uc *Authorize) complete(ctx context.Context, id string) error {
	err := uc.requests.DeleteAuthRequest(ctx, id)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.ErrInvalidRequest.WithDescription("this sign-in request was already completed")
	case err != nil:
		return fmt.Errorf("complete authorization request: %w", err)
	}
	return nil
}

// issue makes the authorization code and the answer carrying it (RFC 6749 §4.1.2).
// The code is 256 random bits, stored only as a keyed hash (SECURITY S18), bound to
// client, redirect URI, PKCE challenge, scope, nonce, user, auth time and session.
func (uc *Authorize) issue(ctx context.Context, req domain.AuthRequest, client domain.Client, s *domain.Session) (Step, error) {
	if !uc.reached(req, client, *s) {
		// gates comes first on every way here; should one ever miss it, no code goes
		// out below the level asked for (SECURITY S53).
		return Step{}, redirectError(req.RedirectURI, req.State, domain.ErrAccessDenied.WithDescription(
			"the sign-in is below the level the application asks for"))
	}
	now := uc.clock.Now()
	ttl := time.Duration(uc.settings.AuthCodeTTL)
	if ttl <= 0 || ttl > domain.MaxAuthCodeTTL {
		ttl = min(time.Minute, domain.MaxAuthCodeTTL)
	}
	code := uc.random.SortedToken()
	boundURI := req.RedirectURI
	if !req.RedirectURISent {
		boundURI = "" // the token request must then omit it too (RFC 6749 §4.1.3)
	}
	ac := domain.AuthorizationCode{
		Hash: uc.hasher.HashToken(code), ClientID: req.ClientID, UserID: req.UserID,
		RedirectURI: boundURI, Scope: req.Scope, Audience: req.Audience,
		CodeChallenge: req.CodeChallenge, Nonce: req.Nonce, AuthTime: req.AuthTime,
		SessionID: s.ID, AMR: sessionAMR(*s), Claims: req.Claims, FamilyID: uc.random.FamilyID(),
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	if err := uc.codes.CreateCode(ctx, ac); err != nil {
		return Step{}, fmt.Errorf("store authorization code: %w", err)
	}
	return Step{Kind: StepRedirect, RedirectURI: req.RedirectURI,
		Response: domain.AuthResponse{RedirectURI: req.RedirectURI, State: req.State, Code: code}}, nil
}
