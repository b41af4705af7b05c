package token

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/domain"
)

// TestValidateJWKS: a client's JWK Set holds 1 to 20 public signature keys with
// distinct kids; anything private or symmetric fails the whole set.
func TestValidateJWKS(t *testing.T) {
	v := NewAssertionVerifier(nil, nil)
	ec, ed, rs := newProofKey(t, "ES256"), newProofKey(t, "EdDSA"), newProofKey(t, "RS256")
	set := func(keys ...map[string]any) string {
		b, _ := json.Marshal(map[string]any{"keys": keys})
		return string(b)
	}
	with := func(m map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for n, x := range m {
			out[n] = x
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	if err := v.ValidateJWKS(set(with(ec.jwk, "kid", "a"), with(ed.jwk, "kid", "b", "use", "sig"), rs.jwk)); err != nil {
		t.Fatalf("a good set refused: %v", err)
	}
	many := make([]map[string]any, 21)
	for i := range many {
		many[i] = ed.jwk
	}
	for name, raw := range map[string]string{
		"not JSON":       "{",
		"no keys":        `{"keys":[]}`,
		"bare key":       string(must(json.Marshal(ec.jwk))),
		"private EC":     set(with(ec.jwk, "d", "AAAA")),
		"private RSA":    set(with(rs.jwk, "p", "AAAA")),
		"symmetric":      `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`,
		"encryption key": set(with(ec.jwk, "use", "enc")),
		"duplicate kid":  set(with(ec.jwk, "kid", "a"), with(ed.jwk, "kid", "a")),
		"too many":       set(many...),
		"unknown curve":  set(with(ec.jwk, "crv", "secp256k1")),
		"off-curve":      set(with(ec.jwk, "y", ec.jwk["x"])),
		"too large":      `{"keys":[` + strings.Repeat(" ", maxJWKSSize) + `]}`,
	} {
		if err := v.ValidateJWKS(raw); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// signAssertion signs claims with k under hdr (nil values delete).
func signAssertion(t *testing.T, k proofKey, hdr map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method, claims)
	for n, x := range hdr {
		if x == nil {
			delete(tok.Header, n)
		} else {
			tok.Header[n] = x
		}
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func withKid(k proofKey, kid, alg string) map[string]any {
	m := map[string]any{"kid": kid}
	if alg != "" {
		m["alg"] = alg
	}
	for n, x := range k.jwk {
		m[n] = x
	}
	return m
}

// TestVerifyClientAssertion: the signature must come from a key of the client that
// fits kid and alg; claims come back as they are (the use case judges them).
func TestVerifyClientAssertion(t *testing.T) {
	v := NewAssertionVerifier(nil, nil)
	ec, rs, stranger := newProofKey(t, "ES256"), newProofKey(t, "RS256"), newProofKey(t, "ES256")
	b, _ := json.Marshal(map[string]any{"keys": []any{withKid(ec, "e", "ES256"), withKid(rs, "r", "")}})
	client := domain.Client{ID: "c1", TokenEndpointAuthMethod: domain.AuthPrivateKeyJWT, JWKS: string(b)}
	now := time.Now().Truncate(time.Second)
	claims := jwt.MapClaims{"iss": "c1", "sub": "c1", "aud": []string{"https://auth.test", "x"}, "jti": "j1",
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "nbf": now.Unix()}

	for _, tc := range []struct {
		name string
		raw  string
	}{
		{"ES256 with kid", signAssertion(t, ec, map[string]any{"kid": "e"}, claims)},
		{"ES256 without kid", signAssertion(t, ec, nil, claims)},
		{"RS256 with kid", signAssertion(t, rs, map[string]any{"kid": "r"}, claims)},
		{"PS256 with an RSA key without alg", signAssertion(t, proofKey{rs.priv, jwt.SigningMethodPS256, nil}, map[string]any{"kid": "r"}, claims)},
	} {
		got, err := v.VerifyClientAssertion(t.Context(), client, tc.raw)
		if err != nil {
			t.Errorf("%s: refused: %v", tc.name, err)
			continue
		}
		if got.Issuer != "c1" || got.Subject != "c1" || len(got.Audience) != 2 || got.JTI != "j1" ||
			!got.ExpiresAt.Equal(now.Add(time.Minute)) || !got.IssuedAt.Equal(now) || !got.NotBefore.Equal(now) {
			t.Errorf("%s: claims %+v", tc.name, got)
		}
	}

	none := func() string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}
	hs := func() string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("c1"))
		return s
	}
	for _, tc := range []struct {
		name string
		raw  string
	}{
		{"stranger's key, kid e", signAssertion(t, stranger, map[string]any{"kid": "e"}, claims)},
		{"stranger's key, no kid", signAssertion(t, stranger, nil, claims)},
		{"unknown kid", signAssertion(t, ec, map[string]any{"kid": "zzz"}, claims)},
		{"kid of a key of another type", signAssertion(t, ec, map[string]any{"kid": "r"}, claims)},
		{"alg other than the JWK's alg", signAssertion(t, proofKey{ec.priv, jwt.SigningMethodES256, nil}, map[string]any{"kid": "e", "alg": "ES384"}, claims)},
		{"typ at+jwt", signAssertion(t, ec, map[string]any{"kid": "e", "typ": "at+jwt"}, claims)},
		{"typ dpop+jwt", signAssertion(t, ec, map[string]any{"kid": "e", "typ": "dpop+jwt"}, claims)},
		{"crit", signAssertion(t, ec, map[string]any{"kid": "e", "crit": []string{"x"}}, claims)},
		{"text exp", signAssertion(t, ec, map[string]any{"kid": "e"}, jwt.MapClaims{"iss": "c1", "sub": "c1", "exp": "soon"})},
		// A NumericDate is a JSON number (RFC 7519 §2), not a string of digits.
		{"quoted numeric exp", signAssertion(t, ec, map[string]any{"kid": "e"}, jwt.MapClaims{"iss": "c1", "sub": "c1", "jti": "j2",
			"aud": "https://auth.test", "exp": strconv.FormatInt(now.Add(time.Minute).Unix(), 10)})},
		{"null exp", signAssertion(t, ec, map[string]any{"kid": "e"}, jwt.MapClaims{"iss": "c1", "sub": "c1", "jti": "j3",
			"aud": "https://auth.test", "exp": nil})},
		{"alg none", none()},
		{"HS256", hs()},
		{"empty", ""},
		{"line break", strings.Replace(signAssertion(t, ec, nil, claims), ".", ".\n", 1)},
	} {
		if _, err := v.VerifyClientAssertion(t.Context(), client, tc.raw); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if _, err := v.VerifyClientAssertion(t.Context(), domain.Client{ID: "c1"}, signAssertion(t, ec, nil, claims)); err == nil {
		t.Error("a client without keys: accepted")
	}
}

// TestJWKSURIFetching: keys come from the URL, cached; an unknown kid refetches at
// most once per JWKSRefetchInterval; redirects, oversized and non-200 answers give
// no keys; the cache expires after JWKSCacheTTL.
func TestJWKSURIFetching(t *testing.T) {
	k1, k2 := newProofKey(t, "ES256"), newProofKey(t, "EdDSA")
	var mu sync.Mutex
	body, hits := "", 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		hits++
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/jwks", http.StatusFound)
		case "/big":
			_, _ = w.Write([]byte(`{"keys":[` + strings.Repeat(" ", maxJWKSSize) + `]}`))
		case "/error":
			http.Error(w, "no", http.StatusInternalServerError)
		default:
			_, _ = w.Write([]byte(body))
		}
	}))
	t.Cleanup(srv.Close)
	set := func(keys ...map[string]any) {
		b, _ := json.Marshal(map[string]any{"keys": keys})
		mu.Lock()
		body = string(b)
		mu.Unlock()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return hits }
	v := NewAssertionVerifier(nil, nil)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	v.now = func() time.Time { return now }
	set(withKid(k1, "k1", ""))
	uri := srv.URL + "/jwks"

	keys, err := v.remoteKeys(t.Context(), uri, "k1")
	if err != nil || len(keys) != 1 || count() != 1 {
		t.Fatalf("first fetch: %d keys, %v, %d hits", len(keys), err, count())
	}
	if _, err := v.remoteKeys(t.Context(), uri, "k1"); err != nil || count() != 1 {
		t.Fatalf("cached: %v, %d hits", err, count())
	}
	set(withKid(k2, "k2", ""))
	if keys, _ := v.remoteKeys(t.Context(), uri, "k2"); hasKID(keys, "k2") || count() != 1 {
		t.Fatalf("an unknown kid within the refetch interval fetched (%d hits)", count())
	}
	now = now.Add(JWKSRefetchInterval)
	if keys, err := v.remoteKeys(t.Context(), uri, "k2"); err != nil || !hasKID(keys, "k2") || count() != 2 {
		t.Fatalf("after the interval: %v, %d hits", err, count())
	}
	// Past the TTL a failed refetch leaves nothing: withdrawn keys stop working.
	now = now.Add(JWKSCacheTTL)
	mu.Lock()
	body = "{"
	mu.Unlock()
	if _, err := v.remoteKeys(t.Context(), uri, "k2"); err == nil {
		t.Fatal("keys served past the TTL after a failed refetch")
	}
	for _, path := range []string{"/redirect", "/big", "/error"} {
		if _, err := v.remoteKeys(t.Context(), srv.URL+path, ""); err == nil {
			t.Errorf("%s: keys", path)
		}
	}
	if _, err := v.fetchJWKS(t.Context(), "http://example.com/jwks"); err == nil {
		t.Error("plain http off loopback fetched")
	}
}
