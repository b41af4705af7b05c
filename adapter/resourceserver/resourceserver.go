package resourceserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Algorithms this package can verify.
const (
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
	AlgEdDSA = "EdDSA"
)

// Defaults of Config.
const (
	DefaultLeeway          = 30 * time.Second
	DefaultRefreshInterval = 10 * time.Second
	DefaultMaxKeyAge       = 5 * time.Minute
	DefaultFetchTimeout    = 5 * time.Second
	// MaxTokenSize bounds the tokens parsed; Gatehouse's are well under 2 KiB.
	MaxTokenSize = 8 << 10
	// maxDocumentSize bounds a metadata or JWKS response.
	maxDocumentSize = 1 << 20
)

// Config configures a Verifier. Issuer and Audience are required.
type Config struct {
	// Issuer is the authorization server's issuer identifier; tokens' iss must
	// equal it exactly, and so must the discovery document's issuer.
	Issuer string
	// Audience identifies this resource server; tokens' aud must be it or an
	// array containing it (RFC 9068 §4).
	Audience string
	// HTTPClient fetches metadata and keys; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Leeway is the tolerated clock skew on exp, nbf and iat; 0 means 30 s.
	Leeway time.Duration
	// RefreshInterval is the least time between two JWKS fetches caused by an
	// unknown kid, so that made-up kids cannot flood the issuer; 0 means 10 s.
	RefreshInterval time.Duration
	// AllowedAlgs narrows the accepted algs; empty means ES256, RS256 and EdDSA.
	// Anything else (none, HS256, …) is refused by New.
	AllowedAlgs []string
	// MaxKeyAge: cached keys older than this are refreshed in the background, so
	// that keys the issuer withdrew stop being trusted; 0 means 5 minutes.
	MaxKeyAge time.Duration
	// FetchTimeout bounds one metadata or JWKS request; 0 means 5 s.
	FetchTimeout time.Duration
	// Realm is the realm of WWW-Authenticate challenges; empty means Audience.
	Realm string
	// Now gives the time for exp/nbf/iat checks; nil means time.Now.
	Now func() time.Time
	// Logger receives fetch failures (never tokens); nil means slog.Default().
	Logger *slog.Logger
	// PublicURL is this resource server's public base URL (scheme, host, optional
	// path prefix), against which DPoP proofs' htu is checked: the URL clients
	// call, which behind a proxy is not what Host says. Empty: DPoP-bound tokens
	// are refused (see dpop.go).
	PublicURL string
	// Resource is this resource server's identifier (RFC 8707, RFC 9728): an
	// http(s) URL without query or fragment, such as "https://api.example.com" or
	// "https://mcp.example.com/mcp". When set, MetadataHandler serves its RFC 9728
	// metadata at MetadataPath, every 401 and 403 names that document in
	// WWW-Authenticate's resource_metadata, and tokens whose aud holds Resource
	// are accepted as well as those whose aud holds Audience.
	Resource string
	// ScopesSupported is the metadata's scopes_supported (RFC 9728 §2).
	ScopesSupported []string
	// ResourceName is the metadata's human-readable resource_name; optional.
	ResourceName string
	// DPoPWindow is how far a proof's iat may lie from now; 0 means 60 s.
	DPoPWindow time.Duration
	// DPoPReplayCacheSize bounds the proof jtis remembered; 0 means 100 000.
	DPoPReplayCacheSize int
}

// Verifier checks access tokens against the issuer's cached keys. It is safe
// for concurrent use; verification with a known kid takes no lock.
type Verifier struct {
	cfg     Config
	client  *http.Client
	log     *slog.Logger
	jwksURI string
	algs    map[string]bool

	keys atomic.Pointer[keySet]
	// fetchMu serialises fetches; lastFetch (monotonic ns since epoch) is when
	// the latest fetch started, successful or not, and lastKIDFetch the latest that
	// New or an unknown kid started: a background refresh of old keys does not hold
	// off the fetch of a key the issuer has just rotated in.
	epoch        time.Time
	monoNow      func() int64 // nanoseconds since epoch; tests replace it
	fetchMu      sync.Mutex
	lastFetch    atomic.Int64
	lastKIDFetch atomic.Int64
	refreshing   atomic.Bool
	// replay holds the jtis of DPoP proofs seen (dpop.go).
	replay *replayCache
	// metadataURL is where the RFC 9728 metadata is served; empty without Resource.
	metadataURL string
	metadata    []byte
}

// New discovers the issuer's keys and returns a Verifier. It fails when the
// configuration is wrong or no key could be fetched.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("resourceserver: Issuer is required")
	}
	iu, err := url.Parse(cfg.Issuer)
	if err != nil || (iu.Scheme != "https" && iu.Scheme != "http") || iu.Host == "" || iu.RawQuery != "" || iu.Fragment != "" {
		return nil, fmt.Errorf("resourceserver: Issuer %q must be an http(s) URL without query or fragment", cfg.Issuer)
	}
	if cfg.Audience == "" {
		return nil, errors.New("resourceserver: Audience is required (RFC 9068 §4: a resource server must check aud)")
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.MaxKeyAge <= 0 {
		cfg.MaxKeyAge = DefaultMaxKeyAge
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.Realm == "" {
		cfg.Realm = cfg.Audience
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.AllowedAlgs) == 0 {
		cfg.AllowedAlgs = []string{AlgES256, AlgRS256, AlgEdDSA}
	}
	if cfg.PublicURL != "" {
		pu, err := url.Parse(cfg.PublicURL)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || pu.RawQuery != "" || pu.Fragment != "" {
			return nil, fmt.Errorf("resourceserver: PublicURL %q must be an http(s) URL without query or fragment", cfg.PublicURL)
		}
		cfg.PublicURL = trimSlash(cfg.PublicURL)
	}
	if cfg.DPoPWindow <= 0 {
		cfg.DPoPWindow = DefaultDPoPWindow
	}
	if cfg.DPoPReplayCacheSize <= 0 {
		cfg.DPoPReplayCacheSize = DefaultDPoPReplayCacheSize
	}
	v := &Verifier{cfg: cfg, client: cfg.HTTPClient, log: cfg.Logger, algs: map[string]bool{}, epoch: time.Now(),
		replay: newReplayCache(cfg.DPoPReplayCacheSize)}
	v.monoNow = func() int64 { return int64(time.Since(v.epoch)) }
	if cfg.Resource != "" {
		if v.metadataURL, err = MetadataURL(cfg.Resource); err != nil {
			return nil, err
		}
		if v.metadata, err = v.buildMetadata(); err != nil {
			return nil, err
		}
	}
	for _, a := range cfg.AllowedAlgs {
		if a != AlgES256 && a != AlgRS256 && a != AlgEdDSA {
			return nil, fmt.Errorf("resourceserver: alg %q is not allowed; only ES256, RS256 and EdDSA (never none or HMAC)", a)
		}
		v.algs[a] = true
	}
	v.cfg.AllowedAlgs = slices.Clone(cfg.AllowedAlgs)
	if v.client == nil {
		v.client = &http.Client{Timeout: 10 * time.Second}
	}
	if v.log == nil {
		v.log = slog.Default()
	}
	if v.jwksURI, err = v.discover(ctx); err != nil {
		return nil, fmt.Errorf("resourceserver: %w", err)
	}
	v.lastFetch.Store(v.mono())
	v.lastKIDFetch.Store(v.mono())
	ks, err := v.fetchKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("resourceserver: %w", err)
	}
	v.keys.Store(ks)
	return v, nil
}

// JWKSURI returns the URL the keys are fetched from.
func (v *Verifier) JWKSURI() string { return v.jwksURI }

func (v *Verifier) mono() int64 { return v.monoNow() }

// key returns the cached key kid, re-fetching the JWKS once when kid is unknown
// (the issuer rotated), at most once per RefreshInterval.
func (v *Verifier) key(ctx context.Context, kid string) (*verifyKey, error) {
	ks := v.keys.Load()
	if k := ks.byKID[kid]; k != nil {
		if v.mono()-ks.fetchedAt > int64(v.cfg.MaxKeyAge) {
			v.refreshInBackground()
		}
		return k, nil
	}
	last := v.lastKIDFetch.Load()
	if v.mono()-last < int64(v.cfg.RefreshInterval) {
		return nil, errUnknownKID
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	if k := v.keys.Load().byKID[kid]; k != nil {
		return k, nil // a fetch while we waited brought it
	}
	if v.lastKIDFetch.Load() == last { // no unknown kid fetched while we waited
		v.lastKIDFetch.Store(v.mono())
		v.fetchAndStore(ctx)
	}
	if k := v.keys.Load().byKID[kid]; k != nil {
		return k, nil
	}
	return nil, errUnknownKID
}

var errUnknownKID = errors.New("unknown kid")

// fetchAndStore fetches the JWKS and replaces the cache; on failure the cached
// keys stay. The caller holds fetchMu.
func (v *Verifier) fetchAndStore(ctx context.Context) {
	v.lastFetch.Store(v.mono())
	ctx = context.WithoutCancel(ctx) // the result serves every request, not only this one
	ks, err := v.fetchKeys(ctx)
	if err != nil {
		v.log.Warn("resourceserver: JWKS refresh failed, keeping the cached keys", "jwks_uri", v.jwksURI, "error", err)
		return
	}
	v.keys.Store(ks)
}

// refreshInBackground re-fetches old keys without holding up the request.
func (v *Verifier) refreshInBackground() {
	if v.mono()-v.lastFetch.Load() < int64(v.cfg.RefreshInterval) || !v.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer v.refreshing.Store(false)
		v.fetchMu.Lock()
		defer v.fetchMu.Unlock()
		if v.mono()-v.lastFetch.Load() < int64(v.cfg.RefreshInterval) {
			return
		}
		v.fetchAndStore(context.Background())
	}()
}

// trimSlash drops one trailing slash so that issuer + "/.well-known/…" is well formed.
func trimSlash(s string) string { return strings.TrimSuffix(s, "/") }
