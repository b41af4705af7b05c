package resourceserver

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testAudience = "https://api.example.test"

var now0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// testKey is a key pair the fake issuer publishes.
type testKey struct {
	kid    string
	alg    string
	signer crypto.Signer
}

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
)

func newKey(t testing.TB, alg, kid string) testKey {
	t.Helper()
	switch alg {
	case AlgES256:
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		return testKey{kid, alg, k}
	case AlgRS256:
		keysOnce.Do(func() { rsaKey, _ = rsa.GenerateKey(rand.Reader, 2048) })
		return testKey{kid, alg, rsaKey}
	case AlgEdDSA:
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		return testKey{kid, alg, k}
	}
	t.Fatalf("alg %s", alg)
	return testKey{}
}

func (k testKey) jwk() map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]any{"kid": k.kid, "alg": k.alg, "use": "sig"}
	switch p := k.signer.Public().(type) {
	case *ecdsa.PublicKey:
		b, _ := p.Bytes()
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", b64(b[1:33]), b64(b[33:])
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(p)
	}
	return m
}

// issuer is a fake authorization server: discovery and a JWKS it can change.
type issuer struct {
	srv        *httptest.Server
	mu         sync.Mutex
	keys       []testKey
	extra      []map[string]any // raw JWKs added to the set
	down       atomic.Bool
	jwksHits   atomic.Int64
	metaIssuer string // overrides the issuer in the metadata
	noOIDC     bool   // 404 on openid-configuration
	noMeta     bool   // 404 on every metadata document
}

func newIssuer(t testing.TB, keys ...testKey) *issuer {
	t.Helper()
	is := &issuer{keys: keys}
	mux := http.NewServeMux()
	meta := func(w http.ResponseWriter, r *http.Request) {
		if is.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if is.noMeta || (is.noOIDC && r.URL.Path == "/.well-known/openid-configuration") {
			http.NotFound(w, r)
			return
		}
		iss := is.srv.URL
		if is.metaIssuer != "" {
			iss = is.metaIssuer
		}
		json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "jwks_uri": is.srv.URL + "/keys"})
	}
	mux.HandleFunc("/.well-known/openid-configuration", meta)
	mux.HandleFunc("/.well-known/oauth-authorization-server", meta)
	jwks := func(w http.ResponseWriter, r *http.Request) {
		is.jwksHits.Add(1)
		if is.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		is.mu.Lock()
		defer is.mu.Unlock()
		set := []map[string]any{}
		for _, k := range is.keys {
			set = append(set, k.jwk())
		}
		set = append(set, is.extra...)
		json.NewEncoder(w).Encode(map[string]any{"keys": set})
	}
	mux.HandleFunc("/keys", jwks)
	mux.HandleFunc("/.well-known/jwks.json", jwks)
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) setKeys(keys ...testKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = keys
}

func (is *issuer) url() string { return is.srv.URL }

// claims are valid access-token claims at now0.
func (is *issuer) claims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": is.url(), "sub": "user-1", "aud": testAudience, "client_id": "client-1",
		"exp": now0.Add(15 * time.Minute).Unix(), "iat": now0.Unix(), "jti": "jti-1",
		"scope": "openid profile api:read",
	}
}

// mint signs claims with k, header typ at+jwt and kid unless overridden.
func mint(t testing.TB, k testKey, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	return mintWith(t, jwt.GetSigningMethod(k.alg), k.signer, k.kid, header, claims)
}

func mintWith(t testing.TB, m jwt.SigningMethod, key any, kid string, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	tok.Header = map[string]any{"alg": m.Alg(), "typ": "at+jwt", "kid": kid}
	for name, v := range header {
		if v == nil {
			delete(tok.Header, name)
		} else {
			tok.Header[name] = v
		}
	}
	raw, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	if m == jwt.SigningMethodES256 {
		raw = lowS(raw)
	}
	return raw
}

// lowS rewrites an ES256 token's signature (r, s) as (r, n-s) when s > n/2: the
// JWT library signs either form, Gatehouse only the low one, the only one Verify
// accepts.
func lowS(raw string) string {
	i := strings.LastIndexByte(raw, '.')
	sig, err := base64.RawURLEncoding.DecodeString(raw[i+1:])
	if err != nil || len(sig) != 64 {
		return raw
	}
	s := new(big.Int).SetBytes(sig[32:])
	if s.Cmp(p256HalfOrder) > 0 {
		s.Sub(elliptic.P256().Params().N, s).FillBytes(sig[32:])
	}
	return raw[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

func newVerifier(t testing.TB, is *issuer, mutate func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{Issuer: is.url(), Audience: testAudience, Now: func() time.Time { return now0 },
		Logger: slog.New(slog.DiscardHandler)}
	if mutate != nil {
		mutate(&cfg)
	}
	v, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fakeMono makes the verifier's rate-limit clock manual; call before any
// concurrent use.
func fakeMono(v *Verifier) *atomic.Int64 {
	var now atomic.Int64
	now.Store(v.monoNow())
	v.monoNow = now.Load
	return &now
}
