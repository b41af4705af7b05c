package usecase

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"gatehouse/domain"
)

// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a
// client_id that is an https URL names a JSON document describing the client, which
// the server fetches (with the limits of SECURITY S57) instead of a registration.
// MCP clients identify themselves so.

// ClientMetadataFetcher fetches a client ID metadata document: its body, and until
// when its caching headers let it be reused.
type ClientMetadataFetcher interface {
	FetchClientMetadata(ctx context.Context, rawURL string) ([]byte, time.Time, error)
}

// ClientIDMetadataSettings configure metadata documents.
type ClientIDMetadataSettings struct {
	// Enabled: GATEHOUSE_CLIENT_ID_METADATA_DOCUMENTS.
	Enabled bool
	// Scopes are all such a client may ask for (the dynamic registration policy's);
	// empty means DefaultRegistrationScopes.
	Scopes []string
	// MaxCached bounds the documents remembered; 0 means 1000.
	MaxCached int
}

// ClientIDMetadata is the client store that knows metadata-document clients: an
// https client_id is fetched, checked, and kept as a client row (so that codes,
// consents and tokens can refer to it) that is refreshed whenever the document's
// caching headers say it is stale. Any other client_id goes to the store it wraps.
// A client so made that is never used goes after a day (unused_expires_at), as an
// openly registered one does.
type ClientIDMetadata struct {
	inner    ClientStore
	store    ClientRegistrationStore
	forget   ClientForgetter
	fetcher  ClientMetadataFetcher
	clock    Clock
	log      *slog.Logger
	audit    *Audit
	settings ClientIDMetadataSettings

	mu     sync.Mutex
	fresh  map[string]time.Time // client_id → until when its document needs no refetch
	fetchs map[string]*sync.Mutex
	// refused: client_id → why its document was refused, until when that answer is
	// kept (RefusedDocumentTTL), so that requests naming a slow or hostile document
	// again and again do not each cost a fetch.
	refused map[string]refusal
	// inflight bounds the fetches under way at once (MaxConcurrentFetches).
	inflight chan struct{}
}

type refusal struct {
	err   error
	until time.Time
}

// RefusedDocumentTTL is how long a refused document stays refused without a new
// fetch; MaxConcurrentFetches how many documents are fetched at once at most (each
// may take up to the fetcher's 5 s): a request beyond it is refused at once.
const (
	RefusedDocumentTTL   = 30 * time.Second
	MaxConcurrentFetches = 16
)

// errTooManyFetches: MaxConcurrentFetches fetches are under way.
var errTooManyFetches = errors.New("too many client metadata documents are being fetched; try again shortly")

// NewClientIDMetadata wraps inner.
func NewClientIDMetadata(inner ClientStore, store ClientRegistrationStore, forget ClientForgetter,
	fetcher ClientMetadataFetcher, clock Clock, log *slog.Logger, audit *Audit, settings ClientIDMetadataSettings) *ClientIDMetadata {
	if settings.MaxCached <= 0 {
		settings.MaxCached = 1000
	}
	if len(settings.Scopes) == 0 {
		settings.Scopes = DefaultRegistrationScopes
	}
	if log == nil {
		log = slog.Default()
	}
	return &ClientIDMetadata{inner: inner, store: store, forget: forget, fetcher: fetcher, clock: clock, log: log, audit: audit,
		settings: settings, fresh: map[string]time.Time{}, fetchs: map[string]*sync.Mutex{}, refused: map[string]refusal{},
		inflight: make(chan struct{}, MaxConcurrentFetches)}
}

// Enabled reports whether metadata documents are on (discovery says so).
func (m *ClientIDMetadata) Enabled() bool { return m.settings.Enabled }

// IsMetadataClientID reports whether id has the form of a metadata-document client_id.
func IsMetadataClientID(id string) bool { return strings.HasPrefix(id, "https://") }

// ClientByID returns the client; for an https client_id, from its document.
func (m *ClientIDMetadata) ClientByID(ctx context.Context, id string) (domain.Client, error) {
	if !m.settings.Enabled || !IsMetadataClientID(id) {
		return m.inner.ClientByID(ctx, id)
	}
	if err := checkClientIDURL(id); err != nil {
		return domain.Client{}, fmt.Errorf("client_id %q: %w: %w", id, err, domain.ErrNotFound)
	}
	lock := m.fetchLock(id)
	lock.Lock()
	defer lock.Unlock()
	now := m.clock.Now()
	m.mu.Lock()
	until, ok := m.fresh[id]
	m.mu.Unlock()
	if ok && now.Before(until) {
		c, err := m.inner.ClientByID(ctx, id)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, domain.ErrNotFound) {
			return domain.Client{}, err
		}
	}
	if err := m.refusedRecently(id, now); err != nil {
		return domain.Client{}, fmt.Errorf("client ID metadata document %s: %w: %w", id, err, domain.ErrNotFound)
	}
	select {
	case m.inflight <- struct{}{}:
	default:
		m.log.Warn("client ID metadata document not fetched", "client_id", id, "error", errTooManyFetches)
		return domain.Client{}, fmt.Errorf("client ID metadata document %s: %w: %w", id, errTooManyFetches, domain.ErrNotFound)
	}
	c, until, err := m.fetch(ctx, id)
	<-m.inflight
	if err != nil {
		m.log.Warn("client ID metadata document refused", "client_id", id, "error", err)
		m.refuse(id, err, now.Add(RefusedDocumentTTL))
		return domain.Client{}, fmt.Errorf("client ID metadata document %s: %w: %w", id, err, domain.ErrNotFound)
	}
	c, err = m.save(ctx, c)
	if err != nil {
		return domain.Client{}, err
	}
	m.remember(id, until)
	return c, nil
}

// refusedRecently is the reason id's document was refused, while that is kept.
func (m *ClientIDMetadata) refusedRecently(id string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.refused[id]
	if !ok {
		return nil
	}
	if !now.Before(r.until) {
		delete(m.refused, id)
		return nil
	}
	return r.err
}

// refuse keeps why id's document was refused until until, within MaxCached entries.
func (m *ClientIDMetadata) refuse(id string, err error, until time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.refused) >= m.settings.MaxCached {
		clear(m.refused)
	}
	m.refused[id] = refusal{err: err, until: until}
}

func (m *ClientIDMetadata) fetchLock(id string) *sync.Mutex {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.fetchs[id]
	if !ok {
		if len(m.fetchs) >= m.settings.MaxCached {
			clear(m.fetchs) // held locks stay with their holders
		}
		l = &sync.Mutex{}
		m.fetchs[id] = l
	}
	return l
}

// remember keeps until for id, within MaxCached entries: the stale ones go first,
// then any.
func (m *ClientIDMetadata) remember(id string, until time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.fresh) >= m.settings.MaxCached {
		now := m.clock.Now()
		for k, t := range m.fresh {
			if !now.Before(t) {
				delete(m.fresh, k)
			}
		}
		for k := range m.fresh {
			if len(m.fresh) < m.settings.MaxCached {
				break
			}
			delete(m.fresh, k)
		}
	}
	m.fresh[id] = until
}

// save stores c as a client row, created or brought up to date; an administrator's
// disabling is kept.
func (m *ClientIDMetadata) save(ctx context.Context, c domain.Client) (domain.Client, error) {
	old, err := m.inner.ClientByID(ctx, c.ID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		now := m.clock.Now()
		c.CreatedAt, c.UpdatedAt, c.UnusedExpiresAt = now, now, now.Add(OpenRegistrationTTL)
		create := func() error {
			return m.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditClientRegistered, Target: c.ID,
				Details: map[string]any{"metadata_document": true, "public": true}},
				func(ctx context.Context) error { return m.store.CreateClient(ctx, c) })
		}
		err := create()
		if errors.Is(err, domain.ErrDuplicate) {
			// Another request made it meanwhile, or the name is another client's.
			if again, err2 := m.inner.ClientByID(ctx, c.ID); err2 == nil {
				return again, nil
			}
			c.Name = c.ID
			err = create()
		}
		if err != nil && !errors.Is(err, domain.ErrDuplicate) {
			return domain.Client{}, fmt.Errorf("store metadata document client: %w", err)
		}
		m.forget.Forget(c.ID)
		return m.inner.ClientByID(ctx, c.ID)
	case err != nil:
		return domain.Client{}, err
	}
	if old.Name == c.Name && slices.Equal(old.RedirectURIs, c.RedirectURIs) && slices.Equal(old.GrantTypes, c.GrantTypes) &&
		slices.Equal(old.Scopes, c.Scopes) && slices.Equal(old.PostLogoutRedirectURIs, c.PostLogoutRedirectURIs) {
		return old, nil
	}
	next := old
	next.Name, next.RedirectURIs, next.GrantTypes, next.Scopes = c.Name, c.RedirectURIs, c.GrantTypes, c.Scopes
	next.PostLogoutRedirectURIs, next.UpdatedAt = c.PostLogoutRedirectURIs, m.clock.Now()
	update := func() error {
		fields := fieldsChanged(auditField{"name", old.Name != next.Name},
			auditField{"redirect_uris", !slices.Equal(old.RedirectURIs, next.RedirectURIs)},
			auditField{"grant_types", !slices.Equal(old.GrantTypes, next.GrantTypes)},
			auditField{"scope", !slices.Equal(old.Scopes, next.Scopes)},
			auditField{"post_logout_redirect_uris", !slices.Equal(old.PostLogoutRedirectURIs, next.PostLogoutRedirectURIs)})
		details := changedDetails(fields)
		details["metadata_document"] = true
		return m.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditClientUpdated, Actor: next.ID, Target: next.ID,
			Details: details}, func(ctx context.Context) error { return m.store.UpdateRegisteredClient(ctx, next, nil) })
	}
	err = update()
	if errors.Is(err, domain.ErrDuplicate) {
		next.Name = next.ID
		err = update()
	}
	if err != nil {
		return domain.Client{}, fmt.Errorf("update metadata document client: %w", err)
	}
	m.forget.Forget(c.ID)
	return next, nil
}

// checkClientIDURL: the draft's form of a client_id URL (§3): https, a host, a path,
// no fragment, no user information, no dot segments; at most maxClientIDSize bytes.
func checkClientIDURL(id string) error {
	if len(id) > maxClientIDSize || !cleanParam(id, maxClientIDSize) {
		return errors.New("too long or not clean text")
	}
	u, err := url.Parse(id)
	switch {
	case err != nil, u.Scheme != "https", u.Host == "", u.User != nil:
		return errors.New("not an https URL with a host")
	case u.Fragment != "" || strings.Contains(id, "#"):
		return errors.New("has a fragment")
	case u.Path == "" || u.Path == "/":
		return errors.New("has no path")
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return errors.New("has a dot segment")
		}
	}
	return nil
}

// metadataDocument is the part of a document Gatehouse reads (RFC 7591 §2 names).
type metadataDocument struct {
	ClientID                string   `json:"client_id"`
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris"`
	ClientSecret            *string  `json:"client_secret"`
	ClientSecretExpiresAt   any      `json:"client_secret_expires_at"`
}

// fetch gets and checks the document of id, and returns the client it describes.
func (m *ClientIDMetadata) fetch(ctx context.Context, id string) (domain.Client, time.Time, error) {
	body, until, err := m.fetcher.FetchClientMetadata(ctx, id)
	if err != nil {
		return domain.Client{}, time.Time{}, err
	}
	var doc metadataDocument
	if err := json.Unmarshal(body, &doc); err != nil {
		return domain.Client{}, time.Time{}, fmt.Errorf("not a JSON object of client metadata: %w", err)
	}
	c, err := m.documentClient(id, doc)
	return c, until, err
}

// documentClient checks doc (draft §4.1) and turns it into a public client: the
// document must name itself as client_id, hold redirect URIs, and use no secret;
// only public clients (token_endpoint_auth_method none) are taken, with the
// authorization code grant (and refresh tokens) and scopes within the policy.
func (m *ClientIDMetadata) documentClient(id string, doc metadataDocument) (domain.Client, error) {
	if doc.ClientID != id {
		return domain.Client{}, fmt.Errorf("the document names client_id %q, not its own URL", safeValue(doc.ClientID))
	}
	if doc.ClientSecret != nil || doc.ClientSecretExpiresAt != nil {
		return domain.Client{}, errors.New("a metadata document must not hold a client secret")
	}
	if doc.TokenEndpointAuthMethod != "" && doc.TokenEndpointAuthMethod != AuthMethodNone {
		return domain.Client{}, errors.New("only public clients (token_endpoint_auth_method none) are taken")
	}
	if len(doc.RedirectURIs) == 0 {
		return domain.Client{}, errors.New("the document has no redirect_uris")
	}
	grants := doc.GrantTypes
	if len(grants) == 0 {
		grants = []string{domain.GrantAuthorizationCode}
	}
	for _, g := range grants {
		if g != domain.GrantAuthorizationCode && g != domain.GrantRefreshToken {
			return domain.Client{}, fmt.Errorf("grant type %s is not taken from a metadata document", safeValue(g))
		}
	}
	for _, r := range doc.ResponseTypes {
		if r != "code" {
			return domain.Client{}, errors.New("only response type code is supported")
		}
	}
	scopes, err := domain.ParseScope(doc.Scope)
	if err != nil {
		return domain.Client{}, errors.New("scope is not a list of scope tokens")
	}
	for _, s := range scopes {
		if !slices.Contains(m.settings.Scopes, s) {
			return domain.Client{}, fmt.Errorf("scope %s is not open to metadata document clients", safeValue(s))
		}
	}
	if len(scopes) == 0 {
		scopes = slices.Clone(m.settings.Scopes)
	}
	name := strings.TrimSpace(doc.ClientName)
	if name == "" || len(name) > 100 || !cleanParam(name, 100) {
		name = id
	}
	c := domain.Client{ID: id, Name: name, Public: true, RedirectURIs: slices.Clone(doc.RedirectURIs), GrantTypes: grants,
		Scopes: scopes, IDTokenAlg: domain.AlgRS256, PostLogoutRedirectURIs: slices.Clone(doc.PostLogoutRedirectURIs)}
	if err := domain.ValidateClient(c); err != nil {
		return domain.Client{}, fmt.Errorf("client metadata: %w", err)
	}
	return c, nil
}

// MetadataClientHost is the host of a metadata-document client_id, which the
// consent page shows: the name in the document is the document's to choose, the
// host is what the user can trust. Empty for any other client.
func MetadataClientHost(id string) string {
	if !IsMetadataClientID(id) {
		return ""
	}
	u, err := url.Parse(id)
	if err != nil {
		return ""
	}
	return u.Host
}

// CachedClient is the wrapped store's (ClientRefresher) for an ordinary client id.
// For a metadata document's URL it holds none: ClientByID decides whether the
// document is fetched again.
func (m *ClientIDMetadata) CachedClient(id string) (domain.Client, bool) {
	if r, ok := m.inner.(ClientRefresher); ok && (!m.settings.Enabled || !IsMetadataClientID(id)) {
		return r.CachedClient(id)
	}
	return domain.Client{}, false
}

// RefreshClient reads the client past any cache (ClientRefresher), as the client
// authenticator does after a failure: the wrapped store's when it can.
func (m *ClientIDMetadata) RefreshClient(ctx context.Context, id string) (domain.Client, error) {
	if r, ok := m.inner.(ClientRefresher); ok {
		return r.RefreshClient(ctx, id)
	}
	return m.inner.ClientByID(ctx, id)
}

var _ ClientRefresher = (*ClientIDMetadata)(nil)
