package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// Client assertions (RFC 7523 §2.2, private_key_jwt) are JWTs a client signs with a
// key it registered: a JWK Set stored with the client, or one at its jwks_uri.
//
// A jwks_uri is supplied by an administrator (clients create --jwks-uri), never by
// a request, and must be https (plain http only to a loopback address): Gatehouse
// fetches it with a timeout, a size limit, no redirects, and a cache of bounded
// age. An assertion naming a kid the cached set lacks triggers a refetch at most
// once per JWKSRefetchInterval per URL, so made-up kids cannot make Gatehouse
// hammer the client's server.

// Limits of jwks_uri fetching and of registered key sets.
const (
	JWKSCacheTTL        = 5 * time.Minute
	JWKSRefetchInterval = 10 * time.Second
	jwksFetchTimeout    = 5 * time.Second
	maxJWKSSize         = 64 << 10
	maxJWKSKeys         = 20
	maxJWKSURIsCached   = 10_000
	maxAssertionSize    = 16 << 10
)

// AssertionVerifier is usecase.ClientAssertionVerifier.
type AssertionVerifier struct {
	parser *jwt.Parser
	client *http.Client
	now    func() time.Time
	log    *slog.Logger

	mu    sync.Mutex
	cache map[string]*jwksEntry // by jwks_uri
}

type jwksEntry struct {
	mu        sync.Mutex // held while fetching: one fetch per URL at a time
	keys      []PublicJWK
	fetchedAt time.Time // zero: never fetched successfully
	triedAt   time.Time
}

var _ usecase.ClientAssertionVerifier = (*AssertionVerifier)(nil)

// NewAssertionVerifier returns a verifier; client nil means one with the fetch
// timeout that follows no redirects.
func NewAssertionVerifier(client *http.Client, log *slog.Logger) *AssertionVerifier {
	if client == nil {
		client = &http.Client{
			Timeout: jwksFetchTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return errors.New("a jwks_uri may not redirect")
			},
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AssertionVerifier{
		parser: jwt.NewParser(jwt.WithValidMethods(ClientKeyAlgs), jwt.WithoutClaimsValidation(), jwt.WithJSONNumber()),
		client: client, now: time.Now, log: log, cache: map[string]*jwksEntry{},
	}
}

// ValidateJWKS checks a JWK Set to register: 1 to 20 public signature keys, kids
// unique.
func (v *AssertionVerifier) ValidateJWKS(raw string) error {
	_, err := parseClientJWKS([]byte(raw))
	return err
}

// parseClientJWKS reads a JWK Set. Every key must parse (a private member anywhere fails
// the whole set: its owner has leaked it); keys for encryption are refused too.
func parseClientJWKS(raw []byte) ([]PublicJWK, error) {
	if len(raw) > maxJWKSSize {
		return nil, fmt.Errorf("the JWK Set exceeds %d bytes", maxJWKSSize)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("the JWK Set is not JSON of the form {\"keys\":[…]}: %w", err)
	}
	if len(set.Keys) == 0 || len(set.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("the JWK Set must hold 1 to %d keys, it has %d", maxJWKSKeys, len(set.Keys))
	}
	keys := make([]PublicJWK, 0, len(set.Keys))
	kids := map[string]bool{}
	for i, m := range set.Keys {
		if use, ok := m["use"]; ok && use != "sig" {
			return nil, fmt.Errorf("key %d: use %v is not sig", i, use)
		}
		k, err := ParsePublicJWK(m)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if k.Kid != "" {
			if kids[k.Kid] {
				return nil, fmt.Errorf("kid %q appears twice", k.Kid)
			}
			kids[k.Kid] = true
		}
		keys = append(keys, k)
	}
	return keys, nil
}

type assertionClaims struct {
	Iss string           `json:"iss"`
	Sub string           `json:"sub"`
	Aud jwt.ClaimStrings `json:"aud"`
	// Dates are NumericDates (RFC 7519 §2): JSON numbers, read as such (a
	// json.Number would also take a string holding digits).
	Exp json.RawMessage `json:"exp"`
	Iat json.RawMessage `json:"iat"`
	Nbf json.RawMessage `json:"nbf"`
	JTI string          `json:"jti"`
}

func (assertionClaims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (assertionClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (assertionClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (assertionClaims) GetIssuer() (string, error)                   { return "", nil }
func (assertionClaims) GetSubject() (string, error)                  { return "", nil }
func (assertionClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// VerifyClientAssertion checks raw's signature with client's keys and returns its
// claims.
func (v *AssertionVerifier) VerifyClientAssertion(ctx context.Context, client domain.Client, raw string) (usecase.ClientAssertion, error) {
	if raw == "" || len(raw) > maxAssertionSize || !compactJWSChars(raw) || strings.Count(raw, ".") != 2 {
		return usecase.ClientAssertion{}, errors.New("client assertion: not a compact JWS")
	}
	var c assertionClaims
	_, err := v.parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("crit header: no extension is understood")
		}
		// Another kind of JWT of ours or the client's is no assertion (RFC 8725 §3.11).
		if typ, _ := t.Header["typ"].(string); IsAccessTokenType(typ) || strings.EqualFold(typ, "dpop+jwt") {
			return nil, fmt.Errorf("typ %q is not a client assertion", typ)
		}
		kid, _ := t.Header["kid"].(string)
		keys, err := v.clientKeys(ctx, client, kid)
		if err != nil {
			return nil, err
		}
		alg := t.Method.Alg()
		var candidates jwt.VerificationKeySet
		for _, k := range keys {
			if (kid == "" || k.Kid == kid) && (k.Alg == "" || k.Alg == alg) && keyFitsAlg(k.Key, alg) {
				candidates.Keys = append(candidates.Keys, k.Key)
			}
		}
		if len(candidates.Keys) == 0 {
			return nil, fmt.Errorf("no key of the client fits kid %q and alg %s", kid, alg)
		}
		return candidates, nil
	})
	if err != nil {
		return usecase.ClientAssertion{}, fmt.Errorf("client assertion: %w", err)
	}
	out := usecase.ClientAssertion{Issuer: c.Iss, Subject: c.Sub, Audience: []string(c.Aud), JTI: c.JTI}
	for _, d := range []struct {
		n   json.RawMessage
		dst *time.Time
	}{{c.Exp, &out.ExpiresAt}, {c.Iat, &out.IssuedAt}, {c.Nbf, &out.NotBefore}} {
		if d.n == nil {
			continue
		}
		var f float64
		if err := json.Unmarshal(d.n, &f); err != nil || math.IsNaN(f) || f <= 0 || f > 1e11 {
			return usecase.ClientAssertion{}, errors.New("client assertion: a date claim is not a NumericDate")
		}
		sec, frac := math.Modf(f)
		*d.dst = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	}
	return out, nil
}

// clientKeys returns the client's registered keys, or those at its jwks_uri.
func (v *AssertionVerifier) clientKeys(ctx context.Context, client domain.Client, kid string) ([]PublicJWK, error) {
	if client.JWKS != "" {
		return parseClientJWKS([]byte(client.JWKS))
	}
	if client.JWKSURI == "" {
		return nil, errors.New("the client has no keys")
	}
	return v.remoteKeys(ctx, client.JWKSURI, kid)
}

// remoteKeys serves the cached set of uri while it is younger than JWKSCacheTTL
// and knows kid; otherwise it refetches, at most once per JWKSRefetchInterval. A
// failed fetch keeps nothing stale beyond the TTL: keys the client withdrew stop
// working within it.
func (v *AssertionVerifier) remoteKeys(ctx context.Context, uri, kid string) ([]PublicJWK, error) {
	v.mu.Lock()
	e := v.cache[uri]
	if e == nil {
		if len(v.cache) >= maxJWKSURIsCached {
			for u := range v.cache { // drop an arbitrary entry; it is only a cache
				delete(v.cache, u)
				break
			}
		}
		e = &jwksEntry{}
		v.cache[uri] = e
	}
	v.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	now := v.now()
	fresh := !e.fetchedAt.IsZero() && now.Sub(e.fetchedAt) < JWKSCacheTTL
	if fresh && (kid == "" || hasKID(e.keys, kid)) {
		return e.keys, nil
	}
	if e.triedAt.IsZero() || now.Sub(e.triedAt) >= JWKSRefetchInterval {
		e.triedAt = now
		keys, err := v.fetchJWKS(ctx, uri)
		if err != nil {
			v.log.WarnContext(ctx, "client jwks_uri fetch failed", "jwks_uri", uri, "err", err)
		} else {
			e.keys, e.fetchedAt, fresh = keys, now, true
		}
	}
	if !fresh {
		return nil, errors.New("the client's jwks_uri could not be fetched")
	}
	return e.keys, nil
}

func hasKID(keys []PublicJWK, kid string) bool {
	for _, k := range keys {
		if k.Kid == kid {
			return true
		}
	}
	return false
}

// fetchJWKS GETs a JWK Set with the fetch timeout and size limit.
func (v *AssertionVerifier) fetchJWKS(ctx context.Context, uri string) ([]PublicJWK, error) {
	if err := domain.ValidateJWKSURI(uri); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("GET jwks_uri: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET jwks_uri: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET jwks_uri: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("GET jwks_uri: %w", err)
	}
	return parseClientJWKS(body)
}
