package usecase

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gatehouse/domain"
)

// Upstream identity providers (issue 22, SECURITY S54): "Continue with NAME" on the
// login page. The browser goes to the upstream with a state, a nonce and a PKCE
// challenge kept in a sealed cookie bound to this browser (and to the pending
// authorization request); the callback checks them, lets the connector verify what
// the upstream answered, and signs in the user linked to the upstream identity, or
// creates one (registration enabled), or links the identity to the signed-in user
// (from /account). An identity is never linked by email alone.

// UpstreamSettings are what the upstream sign-in needs of the configuration.
type UpstreamSettings struct {
	// Issuer is this server's issuer: callback URLs are below it.
	Issuer string
	// RegistrationEnabled lets an unknown upstream identity create an account
	// (GATEHOUSE_REGISTRATION_ENABLED).
	RegistrationEnabled bool
}

// UpstreamFlowTTL is how long the browser has to come back from the upstream.
const UpstreamFlowTTL = 10 * time.Minute

const (
	upstreamSecretAD  = "gatehouse upstream client secret:"
	upstreamPendingAD = "gatehouse upstream pending"
	upstreamStateNS   = "upstream-state"
	maxUpstreamSecret = 1024
)

// Upstreams manages upstream identity providers (CLI) and signs users in with them.
type Upstreams struct {
	store     UpstreamStore
	users     UserStore
	ids       Identifiers
	connector UpstreamConnector
	sealer    Sealer
	random    Random
	hasher    SecretHasher
	replay    ReplayStore
	clock     Clock
	audit     *Audit
	login     *Login
	accounts  *Accounts
	settings  UpstreamSettings
}

// NewUpstreams builds the upstream use cases.
func NewUpstreams(store UpstreamStore, users UserStore, ids Identifiers, connector UpstreamConnector, sealer Sealer,
	random Random, hasher SecretHasher, replay ReplayStore, clock Clock, audit *Audit, login *Login, accounts *Accounts,
	settings UpstreamSettings) *Upstreams {
	return &Upstreams{store: store, users: users, ids: ids, connector: connector, sealer: sealer, random: random,
		hasher: hasher, replay: replay, clock: clock, audit: audit, login: login, accounts: accounts, settings: settings}
}

// CallbackURL is the redirect URI to register at upstream id.
func (uc *Upstreams) CallbackURL(id string) string {
	return strings.TrimSuffix(uc.settings.Issuer, "/") + "/login/upstream/" + id + "/callback"
}

// UpstreamInput is what creating an upstream takes.
type UpstreamInput struct {
	ID, Name, Type, Issuer, ClientID, ClientSecret string
	Scopes                                         []string
	APIURL, WebURL                                 string
}

// UpstreamUpdate changes the attributes that are set.
type UpstreamUpdate struct {
	Name, Issuer, ClientID, ClientSecret, APIURL, WebURL *string
	Scopes                                               []string
	ScopesSet                                            bool
	// Precondition, when set, is checked on the upstream as stored when the change is
	// written (the admin API's If-Match); its error is returned, nothing changed.
	Precondition func(domain.Upstream) error
}

func (uc *Upstreams) sealSecret(id, secret string) ([]byte, error) {
	if secret == "" || len(secret) > maxUpstreamSecret {
		return nil, &ValidationError{Field: "client-secret", Message: "the client secret must be 1 to 1024 bytes"}
	}
	sealed, err := uc.sealer.Seal([]byte(secret), []byte(upstreamSecretAD+id))
	if err != nil {
		return nil, fmt.Errorf("seal the upstream's client secret: %w", err)
	}
	return sealed, nil
}

func validUpstream(u domain.Upstream) error {
	if field, err := domain.ValidateUpstream(u); err != nil {
		return &ValidationError{Field: field, Message: err.Error()}
	}
	return nil
}

// CreateUpstream validates and stores an upstream, its secret sealed; audited.
func (uc *Upstreams) CreateUpstream(ctx context.Context, in UpstreamInput) (domain.Upstream, error) {
	now := uc.clock.Now()
	u := domain.Upstream{ID: in.ID, Name: strings.TrimSpace(in.Name), Type: in.Type, Issuer: strings.TrimSuffix(in.Issuer, "/"),
		ClientID: in.ClientID, Scopes: in.Scopes, APIURL: strings.TrimSuffix(in.APIURL, "/"),
		WebURL: strings.TrimSuffix(in.WebURL, "/"), CreatedAt: now, UpdatedAt: now}
	if u.Type == domain.UpstreamGitHub {
		if u.APIURL == "" {
			u.APIURL = domain.GitHubAPIURL
		}
		if u.WebURL == "" {
			u.WebURL = domain.GitHubWebURL
		}
	}
	if len(u.Scopes) == 0 {
		u.Scopes = domain.DefaultUpstreamScopes(u.Type)
	}
	if err := validUpstream(u); err != nil {
		return domain.Upstream{}, err
	}
	sealed, err := uc.sealSecret(u.ID, in.ClientSecret)
	if err != nil {
		return domain.Upstream{}, err
	}
	u.SealedSecret = sealed
	err = uc.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditUpstreamCreated, Target: u.ID,
		Details: map[string]any{"type": u.Type}}, func(ctx context.Context) error { return uc.store.CreateUpstream(ctx, u) })
	if errors.Is(err, domain.ErrDuplicate) {
		return domain.Upstream{}, &ValidationError{Field: "id", Message: fmt.Sprintf("an upstream with id %q exists already", u.ID),
			Conflict: true}
	}
	if err != nil {
		return domain.Upstream{}, fmt.Errorf("create upstream: %w", err)
	}
	return u, nil
}

// UpdateUpstream changes an upstream; ErrNotFound when there is none. Audited with
// the names of the fields changed (never the secret's value).
func (uc *Upstreams) UpdateUpstream(ctx context.Context, id string, in UpstreamUpdate) (domain.Upstream, error) {
	u, err := uc.upstream(ctx, id)
	if err != nil {
		return domain.Upstream{}, err
	}
	stored := u
	stored.Scopes = slices.Clone(u.Scopes)
	var fields []string
	set := func(name string, dst *string, v *string, trim bool) {
		if v == nil {
			return
		}
		val := *v
		if trim {
			val = strings.TrimSuffix(val, "/")
		}
		if *dst != val {
			fields = append(fields, name)
		}
		*dst = val
	}
	set("name", &u.Name, in.Name, false)
	set("issuer", &u.Issuer, in.Issuer, true)
	set("client_id", &u.ClientID, in.ClientID, false)
	set("api_url", &u.APIURL, in.APIURL, true)
	set("web_url", &u.WebURL, in.WebURL, true)
	if u.Type == domain.UpstreamGitHub { // emptied: back to github.com
		if u.APIURL == "" {
			u.APIURL = domain.GitHubAPIURL
		}
		if u.WebURL == "" {
			u.WebURL = domain.GitHubWebURL
		}
	}
	if in.ScopesSet {
		scopes := in.Scopes
		if len(scopes) == 0 {
			scopes = domain.DefaultUpstreamScopes(u.Type)
		}
		if !slices.Equal(u.Scopes, scopes) {
			fields = append(fields, "scope")
		}
		u.Scopes = scopes
	}
	if err := validUpstream(u); err != nil {
		return domain.Upstream{}, err
	}
	if in.ClientSecret == nil && reflect.DeepEqual(u, stored) {
		// Nothing to change: no write, so updated_at (the admin API's ETag) stays and no
		// event is recorded, as for users and clients.
		return stored, nil
	}
	if in.ClientSecret != nil {
		if u.SealedSecret, err = uc.sealSecret(u.ID, *in.ClientSecret); err != nil {
			return domain.Upstream{}, err
		}
		fields = append(fields, "client_secret")
	}
	u.UpdatedAt = uc.clock.Now()
	err = uc.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditUpstreamUpdated, Target: u.ID, Details: changedDetails(fields)},
		func(ctx context.Context) error {
			if in.Precondition != nil {
				cur, err := uc.store.Upstream(ctx, id)
				if err != nil {
					return err
				}
				if err := in.Precondition(cur); err != nil {
					return err
				}
			}
			return uc.store.UpdateUpstream(ctx, u)
		})
	if err != nil {
		return domain.Upstream{}, err
	}
	return u, nil
}

// DeleteUpstream removes an upstream and the identities linked through it; audited.
func (uc *Upstreams) DeleteUpstream(ctx context.Context, id string) error {
	if !domain.ValidUpstreamID(id) {
		return fmt.Errorf("upstream %q: %w", id, domain.ErrNotFound)
	}
	return uc.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditUpstreamDeleted, Target: id},
		func(ctx context.Context) error { return uc.store.DeleteUpstream(ctx, id) })
}

// ListUpstreams lists the upstreams (the login page's buttons, the CLI).
func (uc *Upstreams) ListUpstreams(ctx context.Context) ([]domain.Upstream, error) {
	return uc.store.ListUpstreams(ctx)
}

// Upstream returns one upstream; ErrNotFound when there is none.
func (uc *Upstreams) Upstream(ctx context.Context, id string) (domain.Upstream, error) {
	return uc.upstream(ctx, id)
}

// upstream looks id up; an id that cannot be one (from a URL: a NUL byte, say) is
// ErrNotFound without a query.
func (uc *Upstreams) upstream(ctx context.Context, id string) (domain.Upstream, error) {
	if !domain.ValidUpstreamID(id) {
		return domain.Upstream{}, fmt.Errorf("upstream %q: %w", id, domain.ErrNotFound)
	}
	return uc.store.Upstream(ctx, id)
}

// UpstreamFilter selects a page of upstreams (the admin API): Q in the id or name (any
// case), ids after After, at most Limit (PageSize).
type UpstreamFilter struct {
	Q, After string
	Limit    int
}

// UpstreamPage is one page of the upstreams that match f, by id as `upstreams list`;
// next is the id to ask After for the next page, "" on the last one. Upstreams are
// few: they are filtered here.
func (uc *Upstreams) UpstreamPage(ctx context.Context, f UpstreamFilter) (page []domain.Upstream, next string, err error) {
	all, err := uc.store.ListUpstreams(ctx)
	if err != nil {
		return nil, "", err
	}
	slices.SortFunc(all, func(a, b domain.Upstream) int { return strings.Compare(a.ID, b.ID) })
	q := strings.ToLower(f.Q)
	limit := PageSize(f.Limit)
	for _, u := range all {
		if u.ID <= f.After && f.After != "" {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(u.ID), q) && !strings.Contains(strings.ToLower(u.Name), q) {
			continue
		}
		if len(page) == limit {
			return page, page[limit-1].ID, nil
		}
		page = append(page, u)
	}
	return page, "", nil
}

// UpstreamFailed ends an upstream sign-in on the error page naming the upstream.
// Message is safe to show; Upstream is true when the upstream failed or lied (502),
// false when the browser's part was wrong (400: expired, replayed, another browser).
type UpstreamFailed struct {
	Name     string
	Message  string
	Upstream bool
}

func (e *UpstreamFailed) Error() string { return "sign-in with " + e.Name + " failed: " + e.Message }

// UpstreamCodeRefused: the upstream's token endpoint refused the authorization code
// with the OAuth error Code (RFC 6749 §5.2).
type UpstreamCodeRefused struct{ Code string }

func (e *UpstreamCodeRefused) Error() string {
	return fmt.Sprintf("its token endpoint refused the code (%s)", e.Code)
}

// userSideUpstreamError says whether an upstream's authorization error (RFC 6749
// §4.1.2.1, OpenID Connect Core §3.1.2.6) is the user's doing or needs the user, not
// the upstream's failure.
func userSideUpstreamError(code string) bool {
	switch code {
	case "access_denied", "login_required", "consent_required", "interaction_required", "account_selection_required":
		return true
	}
	return false
}

// UpstreamEmailTaken: the upstream identity is new, and its email belongs to an
// account here. Nothing is created or linked: the owner signs in to that account and
// links the identity from /account.
type UpstreamEmailTaken struct{ Name string }

func (e *UpstreamEmailTaken) Error() string {
	return "the email address of this " + e.Name + " account belongs to an account here"
}

// UpstreamNoAccount: the upstream identity is linked to no account, and registration
// is off.
type UpstreamNoAccount struct{ Name string }

func (e *UpstreamNoAccount) Error() string {
	return "no account here is linked to this " + e.Name + " account"
}

// ErrLinkNeedsFreshSignIn: linking an identity needs a sign-in of the last 5 minutes.
var ErrLinkNeedsFreshSignIn = &ValidationError{Field: "upstream",
	Message: "you signed in more than 5 minutes ago: sign out and in again to link another account"}

// ErrLastSignInMethod: the identity is the only way the user can sign in.
var ErrLastSignInMethod = &ValidationError{Field: "upstream",
	Message: "this is the only way you can sign in: set a password or link another account first"}

// upstreamPending is what the sealed cookie holds between the redirect to the
// upstream and the callback.
type upstreamPending struct {
	Upstream string `json:"u"`
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Request  string `json:"r,omitempty"`
	Device   string `json:"d,omitempty"`
	LinkUser string `json:"l,omitempty"`
	Browser  string `json:"b"`
	Expires  int64  `json:"e"`
}

// UpstreamStart is where to send the browser, and the cookie to set first.
type UpstreamStart struct {
	URL    string
	Cookie string
}

// BeginUpstream starts a sign-in with upstream id from the browser with cookie
// browser, for the pending authorization request requestID ("" for none), or for the
// device user code userCode (a sign-in for the device page, RFC 8628). With link set
// (the signed-in user's session) it links the identity instead; that needs a fresh
// sign-in.
func (uc *Upstreams) BeginUpstream(ctx context.Context, id, browser, requestID, userCode string, link *domain.Session) (UpstreamStart, error) {
	up, err := uc.upstream(ctx, id)
	if err != nil {
		return UpstreamStart{}, err
	}
	if browser == "" {
		return UpstreamStart{}, &UpstreamFailed{Name: up.Name, Message: "this browser does not keep cookies; allow them and try again"}
	}
	p := upstreamPending{Upstream: up.ID, State: uc.random.Token(), Nonce: uc.random.Token(), Verifier: uc.random.Token(),
		Request: requestID, Device: userCode, Browser: uc.browserHash(browser), Expires: uc.clock.Now().Add(UpstreamFlowTTL).Unix()}
	if link != nil {
		if uc.clock.Now().Sub(link.AuthTime) > FreshSignIn {
			return UpstreamStart{}, ErrLinkNeedsFreshSignIn
		}
		p.LinkUser, p.Request, p.Device = link.UserID, "", ""
	}
	sum := sha256.Sum256([]byte(p.Verifier))
	target, err := uc.connector.AuthCodeURL(ctx, up, UpstreamAuthRequest{RedirectURI: uc.CallbackURL(up.ID), State: p.State,
		Nonce: p.Nonce, CodeChallenge: base64.RawURLEncoding.EncodeToString(sum[:])})
	if err != nil {
		uc.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserLoginFailed, Reason: domain.AuditReasonUpstreamError,
			Details: map[string]any{"upstream": up.ID}})
		return UpstreamStart{}, &UpstreamFailed{Name: up.Name, Message: err.Error(), Upstream: true}
	}
	plain, err := json.Marshal(p)
	if err != nil {
		return UpstreamStart{}, fmt.Errorf("encode the upstream state: %w", err)
	}
	sealed, err := uc.sealer.Seal(plain, []byte(upstreamPendingAD))
	if err != nil {
		return UpstreamStart{}, fmt.Errorf("seal the upstream state: %w", err)
	}
	return UpstreamStart{URL: target, Cookie: base64.RawURLEncoding.EncodeToString(sealed)}, nil
}

func (uc *Upstreams) browserHash(browser string) string {
	return base64.RawURLEncoding.EncodeToString(uc.hasher.HashSecret("upstream-browser:" + browser))
}

// UpstreamCallback is what the browser brought back from the upstream.
type UpstreamCallback struct {
	Upstream, Browser, Cookie string
	// State, Code and Error are the callback's query parameters; Issuer its iss
	// (RFC 9207), "" when it has none.
	State, Code, Error, Issuer string
	Address                    string
	// Session is the browser's session, nil when none.
	Session *domain.Session
}

// UpstreamOutcome is where a finished upstream sign-in goes on.
type UpstreamOutcome struct {
	Name string
	// RequestID is the pending authorization request the sign-in continues ("" for none).
	RequestID string
	// UserCode is the device user code of a sign-in for the device page ("" for none).
	UserCode string
	// Linked: the identity was linked to the signed-in user (no new session).
	Linked bool
	// Session and Secret: the new session and its cookie secret.
	Session domain.Session
	Secret  string
	// UserID is the user (also set with a *SecondFactorRequired error).
	UserID string
}

// CompleteUpstream finishes the sign-in: the sealed state of this browser (single
// use, alive UpstreamFlowTTL), the upstream's answer (UpstreamConnector.Exchange),
// then the linked user, a new user, or a link to the signed-in user. Errors:
// *UpstreamFailed, *UpstreamEmailTaken, *UpstreamNoAccount, *SecondFactorRequired
// (with the outcome's RequestID and UserID set), domain.ErrUserDisabled,
// domain.ErrNotFound (no such upstream).
func (uc *Upstreams) CompleteUpstream(ctx context.Context, in UpstreamCallback) (UpstreamOutcome, error) {
	ctx = WithAuditIP(ctx, in.Address)
	up, err := uc.upstream(ctx, in.Upstream)
	if err != nil {
		return UpstreamOutcome{}, err
	}
	out := UpstreamOutcome{Name: up.Name}
	fail := func(reason, message string, upstream bool, user string) (UpstreamOutcome, error) {
		uc.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserLoginFailed, Actor: user, Target: user, Reason: reason,
			Details: map[string]any{"upstream": up.ID}})
		return out, &UpstreamFailed{Name: up.Name, Message: message, Upstream: upstream}
	}
	p, ok := uc.openPending(in.Cookie, in.Browser, up.ID)
	if !ok || in.State == "" || subtle.ConstantTimeCompare([]byte(p.State), []byte(in.State)) != 1 {
		return fail(domain.AuditReasonUpstreamError, "this sign-in expired, was already used, or was started in another browser; try again", false, "")
	}
	out.RequestID, out.UserCode = p.Request, p.Device
	fresh, err := uc.replay.MarkUsed(ctx, upstreamStateNS, base64.RawURLEncoding.EncodeToString(uc.hasher.HashSecret(p.State)),
		time.Unix(p.Expires, 0))
	if err != nil {
		return out, fmt.Errorf("mark the upstream state used: %w", err)
	}
	if !fresh {
		return fail(domain.AuditReasonUpstreamError, "this sign-in expired, was already used, or was started in another browser; try again", false, "")
	}
	if in.Issuer != "" && up.Type == domain.UpstreamOIDC && strings.TrimSuffix(in.Issuer, "/") != strings.TrimSuffix(up.Issuer, "/") {
		// RFC 9207 §2.4: an answer naming another issuer is not this upstream's (a mix-up
		// of providers); its code is never sent to this upstream's token endpoint.
		return fail(domain.AuditReasonUpstreamError, "its answer names another issuer", false, "")
	}
	if in.Error != "" {
		// The user's own refusal there, or a sign-in it could not finish without the
		// user, is no fault of the upstream: a 4xx page, not a 502.
		return fail(domain.AuditReasonUpstreamError, "it answered "+safeCode(in.Error), !userSideUpstreamError(in.Error), "")
	}
	if in.Code == "" {
		return fail(domain.AuditReasonUpstreamError, "it sent no authorization code", true, "")
	}
	secret, err := uc.sealer.Open(up.SealedSecret, []byte(upstreamSecretAD+up.ID))
	if err != nil {
		return fail(domain.AuditReasonUpstreamError, "its client secret cannot be read with this server's key; set it again", true, "")
	}
	id, err := uc.connector.Exchange(ctx, up, string(secret), uc.CallbackURL(up.ID), in.Code, p.Verifier, p.Nonce)
	if err != nil {
		// A code the token endpoint calls invalid came so from the browser (altered,
		// used, or too old): no fault of the upstream either.
		var refused *UpstreamCodeRefused
		upstream := !errors.As(err, &refused) || refused.Code != "invalid_grant"
		return fail(domain.AuditReasonUpstreamError, err.Error(), upstream, "")
	}
	if id.Subject == "" || len(id.Subject) > 255 {
		return fail(domain.AuditReasonUpstreamError, "it named no valid subject", true, "")
	}
	id.Email = uc.ids.CanonicalEmail(id.Email)
	if id.Email != "" && domain.ValidateNewEmail(id.Email) != nil {
		id.Email, id.EmailVerified = "", false
	}
	if id.Email == "" {
		id.EmailVerified = false
	}
	if p.LinkUser != "" {
		return uc.link(ctx, up, p, id, in.Session, out)
	}
	linked, err := uc.store.LinkedIdentity(ctx, up.ID, id.Subject)
	switch {
	case err == nil:
		out.UserID = linked.UserID
		if err := uc.store.TouchIdentity(ctx, up.ID, id.Subject, id.Email, id.Username, uc.clock.Now()); err != nil {
			return out, fmt.Errorf("record the identity's use: %w", err)
		}
	case errors.Is(err, domain.ErrNotFound):
		userID, err := uc.register(ctx, up, id)
		if err != nil {
			var taken *UpstreamEmailTaken
			var none *UpstreamNoAccount
			switch {
			case errors.As(err, &taken):
				uc.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserLoginFailed, Reason: domain.AuditReasonUpstreamEmailTaken,
					Details: map[string]any{"upstream": up.ID}})
			case errors.As(err, &none):
				uc.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserLoginFailed, Reason: domain.AuditReasonUnknownUser,
					Details: map[string]any{"upstream": up.ID}})
			}
			return out, err
		}
		out.UserID = userID
		if id.Email != "" && !id.EmailVerified && uc.accounts != nil {
			uc.accounts.Welcome(userID, id.Email) // a link to verify the address, as after a sign-up
		}
	default:
		return out, fmt.Errorf("look up the upstream identity: %w", err)
	}
	u, err := uc.users.UserByID(ctx, out.UserID)
	if err != nil {
		return out, fmt.Errorf("look up the linked user: %w", err)
	}
	if u.Disabled {
		uc.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserLoginFailed, Actor: u.ID, Target: u.ID,
			Reason: domain.AuditReasonDisabled, Details: map[string]any{"upstream": up.ID}})
		return out, domain.ErrUserDisabled
	}
	if err := uc.login.secondFactorNeeded(ctx, u.ID, UpstreamAMR(id)); err != nil {
		return out, err
	}
	out.Session, out.Secret, err = uc.login.startCheckedWith(ctx, u.ID, UpstreamAMR(id), in.Session,
		map[string]any{"upstream": up.ID})
	return out, err
}

// openPending opens the sealed cookie: alive, of this browser and this upstream.
func (uc *Upstreams) openPending(cookie, browser, upstream string) (upstreamPending, bool) {
	var p upstreamPending
	if cookie == "" || browser == "" || len(cookie) > 4096 {
		return p, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(cookie)
	if err != nil {
		return p, false
	}
	plain, err := uc.sealer.Open(raw, []byte(upstreamPendingAD))
	if err != nil || json.Unmarshal(plain, &p) != nil {
		return upstreamPending{}, false
	}
	bh, err := base64.RawURLEncoding.DecodeString(p.Browser)
	if err != nil || p.Upstream != upstream || uc.clock.Now().Unix() > p.Expires ||
		!uc.hasher.SecretMatches(bh, "upstream-browser:"+browser) {
		return upstreamPending{}, false
	}
	return p, true
}

// safeCode keeps an upstream's error code printable and short, for the page.
func safeCode(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return '_'
		}
		return r
	}, s)
}

// registeredAMR are the RFC 8176 values an upstream's amr may bring along. Not "hwk":
// here it stands for a passkey of this server, which alone makes a session
// phishing-resistant (acr phr, domain.SessionACR); an upstream's word that it used a
// hardware key does not make the hop through it so.
var registeredAMR = []string{"face", "fpt", "geo", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd", "rba",
	"retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia"}

// UpstreamAMR is how a session signed in through an upstream is recorded: "fed" (a
// federated sign-in, as Microsoft Entra names it; RFC 8176 has no value for it), then
// the upstream's own amr values that RFC 8176 registers. The session reaches the
// second-factor level only when the upstream says so ("mfa" in amr, or acr naming
// Gatehouse's second-factor class): never more than the upstream vouched for.
func UpstreamAMR(id UpstreamIdentity) []string {
	amr := []string{"fed"}
	mfa := slices.Contains(id.AMR, "mfa") || id.ACR == domain.ACRMFA
	for _, m := range id.AMR {
		if slices.Contains(registeredAMR, m) && !slices.Contains(amr, m) && m != "mfa" {
			amr = append(amr, m)
		}
	}
	if mfa {
		amr = append(amr, "mfa")
	}
	return amr
}

// register creates a user for a new upstream identity, and links it, in one
// transaction with its audit event. Never when the email belongs to an account here
// (verified or not: an identity is never linked by email alone, and an unverified
// claim is not trusted), nor when registration is off. With registration off, an
// unverified email is not even looked up: the answer is the same whether an account
// has it or not (SECURITY S48); a verified one's owner is told to sign in and link.
func (uc *Upstreams) register(ctx context.Context, up domain.Upstream, id UpstreamIdentity) (string, error) {
	if !uc.settings.RegistrationEnabled && !id.EmailVerified {
		return "", &UpstreamNoAccount{Name: up.Name}
	}
	if id.Email != "" {
		_, taken, err := uc.users.Taken(ctx, "", id.Email)
		if err != nil {
			return "", fmt.Errorf("look up the email: %w", err)
		}
		if taken {
			return "", &UpstreamEmailTaken{Name: up.Name}
		}
	}
	if !uc.settings.RegistrationEnabled {
		return "", &UpstreamNoAccount{Name: up.Name}
	}
	now := uc.clock.Now()
	base := uc.usernameBase(id)
	for attempt := 0; attempt < 8; attempt++ {
		name, err := uc.freeUsername(ctx, base, attempt)
		if err != nil {
			return "", err
		}
		u := domain.User{ID: uc.random.UserID(), Username: name, Email: id.Email, EmailVerified: id.EmailVerified,
			CreatedAt: now, UpdatedAt: now}
		if field, perr := domain.ValidateProfile(domain.Profile{Name: id.Name}); perr == nil && field == "" {
			u.Name = id.Name
		}
		l := domain.LinkedIdentity{UpstreamID: up.ID, Subject: id.Subject, UserID: u.ID, Email: id.Email,
			Username: id.Username, CreatedAt: now, LastUsedAt: now}
		err = uc.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditUserRegistered, Actor: u.ID, Target: u.ID,
			Details: map[string]any{"upstream": up.ID}}, func(ctx context.Context) error {
			if err := uc.users.CreateUser(ctx, u); err != nil {
				return err
			}
			return uc.store.LinkIdentity(ctx, l)
		})
		if err == nil {
			return u.ID, nil
		}
		if !errors.Is(err, domain.ErrDuplicate) {
			return "", fmt.Errorf("create the user of an upstream identity: %w", err)
		}
		// A username, the email or the identity was taken meanwhile: look again.
		if _, taken, terr := uc.users.Taken(ctx, "", id.Email); terr == nil && taken && id.Email != "" {
			return "", &UpstreamEmailTaken{Name: up.Name}
		}
		if l, lerr := uc.store.LinkedIdentity(ctx, up.ID, id.Subject); lerr == nil {
			return l.UserID, nil // the same identity signed in twice at once
		}
	}
	return "", fmt.Errorf("no free username for the upstream identity: %w", domain.ErrDuplicate)
}

// usernameBase is a valid username from what the upstream said: its username, else
// the email's local part, else "user".
func (uc *Upstreams) usernameBase(id UpstreamIdentity) string {
	candidates := []string{id.Username}
	if at := strings.IndexByte(id.Email, '@'); at > 0 {
		candidates = append(candidates, id.Email[:at])
	}
	for _, c := range candidates {
		c = strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-", r) {
				return r
			}
			return -1
		}, c)
		if len([]rune(c)) > 56 {
			c = string([]rune(c)[:56])
		}
		name, err := uc.ids.CanonicalUsername(c)
		if err == nil && domain.ValidateUsername(name) == nil {
			return name
		}
	}
	return "user"
}

// freeUsername is base, or base with a number, that no user has yet.
func (uc *Upstreams) freeUsername(ctx context.Context, base string, attempt int) (string, error) {
	for i := 0; i < 20; i++ {
		name := base
		switch {
		case attempt == 0 && i == 0:
		case i < 10 && attempt == 0:
			name = base + strconv.Itoa(i+1)
		default:
			name = base + "-" + strings.ToLower(uc.random.ID()[:6])
		}
		if c, err := uc.ids.CanonicalUsername(name); err == nil && domain.ValidateUsername(c) == nil {
			name = c
		} else {
			continue
		}
		taken, _, err := uc.users.Taken(ctx, name, "")
		if err != nil {
			return "", fmt.Errorf("look up username: %w", err)
		}
		if !taken {
			return name, nil
		}
	}
	return "", fmt.Errorf("no free username near %q: %w", base, domain.ErrDuplicate)
}

// link ties the identity to the signed-in user who asked for it (from /account).
func (uc *Upstreams) link(ctx context.Context, up domain.Upstream, p upstreamPending, id UpstreamIdentity, s *domain.Session,
	out UpstreamOutcome) (UpstreamOutcome, error) {
	if s == nil || s.UserID != p.LinkUser {
		return out, &UpstreamFailed{Name: up.Name, Message: "you are no longer signed in as the account that asked to link it"}
	}
	out.UserID = s.UserID
	existing, err := uc.store.LinkedIdentity(ctx, up.ID, id.Subject)
	switch {
	case err == nil && existing.UserID == s.UserID:
		out.Linked = true
		return out, nil
	case err == nil:
		return out, &UpstreamFailed{Name: up.Name, Message: "that " + up.Name + " account is already linked to another account here"}
	case !errors.Is(err, domain.ErrNotFound):
		return out, fmt.Errorf("look up the upstream identity: %w", err)
	}
	now := uc.clock.Now()
	l := domain.LinkedIdentity{UpstreamID: up.ID, Subject: id.Subject, UserID: s.UserID, Email: id.Email, Username: id.Username,
		CreatedAt: now, LastUsedAt: now}
	err = uc.audit.Change(WithAuditActor(ctx, s.UserID), domain.AuditEvent{Type: domain.AuditIdentityLinked, Target: s.UserID,
		Details: map[string]any{"upstream": up.ID}}, func(ctx context.Context) error { return uc.store.LinkIdentity(ctx, l) })
	if errors.Is(err, domain.ErrDuplicate) {
		return out, &UpstreamFailed{Name: up.Name, Message: "that " + up.Name + " account is already linked to another account here"}
	}
	if err != nil {
		return out, fmt.Errorf("link the upstream identity: %w", err)
	}
	uc.tell(s.UserID, "identity-linked", mailText{key: "mail.identity_linked.subject", english: "Sign-in with {{.Name}} was linked to your account", args: []string{"Name", up.Name}},
		mailText{key: "mail.identity_linked.body", english: "The {{.Name}} account {{.Who}} was linked to your account {{.User}}: it can now sign in to it.",
			args: []string{"Name", up.Name, "Who", firstNonEmpty(id.Username, id.Email, id.Subject)}})
	out.Linked = true
	return out, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// tell mails the user about a change of their sign-in methods, in the background.
func (uc *Upstreams) tell(userID, kind string, subject, body mailText) {
	if uc.accounts == nil {
		return
	}
	uc.accounts.mailUser(kind, userID, func(u domain.User) domain.Mail {
		w := uc.accounts.settings.wordsFor(u)
		return mailIn(w, kind, u, w.text(subject), "", "", w.text(body, "User", u.Username),
			w.say("mail.identity.advice", "If it was not you, remove it at {{.Link}}, change your password, and tell the administrator.",
				"Link", uc.settings.Issuer+"/account"))
	})
}

// LinkedView is a linked identity with its upstream's name, for /account.
type LinkedView struct {
	domain.LinkedIdentity
	UpstreamName string
}

// AccountUpstreams is what /account shows: the user's identities, and the upstreams
// not linked yet.
type AccountUpstreams struct {
	Linked   []LinkedView
	Linkable []domain.Upstream
}

// ForAccount lists the identities of a user and the upstreams it may link.
func (uc *Upstreams) ForAccount(ctx context.Context, userID string) (AccountUpstreams, error) {
	ups, err := uc.store.ListUpstreams(ctx)
	if err != nil {
		return AccountUpstreams{}, err
	}
	ids, err := uc.store.UserIdentities(ctx, userID)
	if err != nil {
		return AccountUpstreams{}, err
	}
	var out AccountUpstreams
	names := map[string]string{}
	for _, u := range ups {
		names[u.ID] = u.Name
	}
	have := map[string]bool{}
	for _, l := range ids {
		out.Linked = append(out.Linked, LinkedView{LinkedIdentity: l, UpstreamName: names[l.UpstreamID]})
		have[l.UpstreamID] = true
	}
	for _, u := range ups {
		if !have[u.ID] {
			out.Linkable = append(out.Linkable, u)
		}
	}
	return out, nil
}

// Unlink removes an identity of the signed-in user; refused when it is the user's
// last way to sign in (no password, no passkey, no other identity). Audited; the user
// is mailed.
func (uc *Upstreams) Unlink(ctx context.Context, s domain.Session, upstreamID, subject string) error {
	u, err := uc.users.UserByID(ctx, s.UserID)
	if err != nil {
		return fmt.Errorf("look up the session's user: %w", err)
	}
	ids, err := uc.store.UserIdentities(ctx, s.UserID)
	if err != nil {
		return err
	}
	found := false
	for _, l := range ids {
		if l.UpstreamID == upstreamID && l.Subject == subject {
			found = true
		}
	}
	if !found {
		return domain.ErrNotFound
	}
	if u.PasswordHash == "" && len(ids) <= 1 {
		// A passkey signs in without a password: then the identity is not the last way.
		var pks []domain.Passkey
		if uc.login != nil && uc.login.factors != nil {
			if pks, err = uc.login.factors.Passkeys(ctx, s.UserID); err != nil {
				return err
			}
		}
		if len(pks) == 0 {
			return ErrLastSignInMethod
		}
	}
	err = uc.audit.Change(WithAuditActor(ctx, s.UserID), domain.AuditEvent{Type: domain.AuditIdentityUnlinked, Target: s.UserID,
		Details: map[string]any{"upstream": upstreamID}}, func(ctx context.Context) error {
		return uc.store.UnlinkIdentity(ctx, s.UserID, upstreamID, subject)
	})
	if err != nil {
		return err
	}
	uc.tell(s.UserID, "identity-unlinked", mailText{key: "mail.identity_unlinked.subject", english: "An account was unlinked from your account"},
		mailText{key: "mail.identity_unlinked.body", english: "The {{.Name}} account linked to your account {{.User}} was removed: it can no longer sign in to it.",
			args: []string{"Name", upstreamID}})
	return nil
}

// UserLinks lists a user's identities with their upstreams' names, oldest first: the
// admin API's users/{id}/identities and the console's user page (Keycloak's
// "Identity provider links").
func (uc *Upstreams) UserLinks(ctx context.Context, userID string) ([]LinkedView, error) {
	got, err := uc.ForAccount(ctx, userID)
	if err != nil {
		return nil, err
	}
	return got.Linked, nil
}

// AdminUnlink removes a user's identities at upstream upstreamID on an
// administrator's behalf (the actor of ctx); ErrNotFound when the user has none
// there. Unlike Unlink it is not refused when it is the user's last way to sign in:
// an administrator may shut a user out, as disabling does. Audited; the user is
// mailed as Unlink mails them.
func (uc *Upstreams) AdminUnlink(ctx context.Context, userID, upstreamID string) error {
	if !domain.ValidUpstreamID(upstreamID) {
		return fmt.Errorf("identity of %q at upstream %q: %w", userID, upstreamID, domain.ErrNotFound)
	}
	ids, err := uc.store.UserIdentities(ctx, userID)
	if err != nil {
		return err
	}
	var subjects []string
	for _, l := range ids {
		if l.UpstreamID == upstreamID {
			subjects = append(subjects, l.Subject)
		}
	}
	if len(subjects) == 0 {
		return fmt.Errorf("identity of %q at upstream %q: %w", userID, upstreamID, domain.ErrNotFound)
	}
	err = uc.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditIdentityUnlinked, Target: userID,
		Details: map[string]any{"upstream": upstreamID}}, func(ctx context.Context) error {
		removed := 0
		for _, sub := range subjects {
			err := uc.store.UnlinkIdentity(ctx, userID, upstreamID, sub)
			if errors.Is(err, domain.ErrNotFound) {
				continue // unlinked meanwhile (from /account, or another administrator)
			}
			if err != nil {
				return err
			}
			removed++
		}
		if removed == 0 {
			return fmt.Errorf("identity of %q at upstream %q: %w", userID, upstreamID, domain.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return err
	}
	uc.tell(userID, "identity-unlinked", mailText{key: "mail.identity_unlinked.subject", english: "An account was unlinked from your account"},
		mailText{key: "mail.identity_unlinked.body", english: "The {{.Name}} account linked to your account {{.User}} was removed: it can no longer sign in to it.",
			args: []string{"Name", upstreamID}})
	return nil
}
