package resourceserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

const testPublicURL = "https://api.example.test"

// proofKey is a client's DPoP key.
type proofKey struct {
	priv crypto.Signer
	jwk  map[string]any
	jkt  string
	alg  string // of its proofs; empty means ES256
}

func newProofKey(t testing.TB) proofKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	x, y := b64(k.X.FillBytes(make([]byte, 32))), b64(k.Y.FillBytes(make([]byte, 32)))
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return proofKey{k, map[string]any{"kty": "EC", "crv": "P-256", "x": x, "y": y}, b64(sum[:]), AlgES256}
}

var proofSeq int

// proof signs a proof of a GET of /secured/profile for token at now0; claims and
// hdr override or (nil) delete members.
func (k proofKey) proof(t testing.TB, token string, claims, hdr map[string]any) string {
	t.Helper()
	proofSeq++
	sum := sha256.Sum256([]byte(token))
	c := jwt.MapClaims{"jti": fmt.Sprintf("proof-%d", proofSeq),
		"htm": "GET", "htu": testPublicURL + "/secured/profile", "iat": now0.Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(sum[:])}
	for n, v := range claims {
		if v == nil {
			delete(c, n)
		} else {
			c[n] = v
		}
	}
	method := jwt.SigningMethod(jwt.SigningMethodES256)
	if k.alg != "" {
		method = jwt.GetSigningMethod(k.alg)
	}
	tok := jwt.NewWithClaims(method, c)
	tok.Header["typ"], tok.Header["jwk"] = "dpop+jwt", k.jwk
	for n, v := range hdr {
		if v == nil {
			delete(tok.Header, n)
		} else {
			tok.Header[n] = v
		}
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// serveDPoP runs one request through the middleware.
func serveDPoP(v *Verifier, method, host, authz string, proofs ...string) *httptest.ResponseRecorder {
	e := echo.New()
	h := func(c echo.Context) error {
		cl, _ := FromContext(c)
		return c.String(http.StatusOK, cl.JKT)
	}
	e.Group("/secured", v.Middleware()).Match([]string{http.MethodGet, http.MethodPost}, "/profile", h)
	req := httptest.NewRequest(method, "/secured/profile", nil)
	req.Host = host
	req.Header.Set("Authorization", authz)
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestMiddlewareDPoP(t *testing.T) {
	k := newKey(t, AlgES256, "k")
	is := newIssuer(t, k)
	v := newVerifier(t, is, func(c *Config) { c.PublicURL = testPublicURL + "/" })
	pk, other := newProofKey(t), newProofKey(t)
	claims := is.claims()
	claims["cnf"] = map[string]any{"jkt": pk.jkt}
	bound := mint(t, k, nil, claims)
	unbound := mint(t, k, nil, is.claims())

	wantDPoPError := func(t *testing.T, rec *httptest.ResponseRecorder, code string) {
		t.Helper()
		if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "DPoP ") ||
			!strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="`+code+`"`) || body(t, rec)["error"] != code {
			t.Fatalf("%d %q %s, want 401 DPoP error %s", rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body, code)
		}
	}

	t.Run("valid proof", func(t *testing.T) {
		// Host is whatever the proxy says; htu is checked against PublicURL only.
		rec := serveDPoP(v, http.MethodGet, "internal:8080", "DPoP "+bound, pk.proof(t, bound, nil, nil))
		if rec.Code != http.StatusOK || rec.Body.String() != pk.jkt {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("proof replay", func(t *testing.T) {
		p := pk.proof(t, bound, nil, nil)
		if rec := serveDPoP(v, http.MethodGet, "", "DPoP "+bound, p); rec.Code != http.StatusOK {
			t.Fatalf("first use: %d %s", rec.Code, rec.Body)
		}
		wantDPoPError(t, serveDPoP(v, http.MethodGet, "", "DPoP "+bound, p), "invalid_dpop_proof")
	})
	t.Run("bound token as Bearer", func(t *testing.T) {
		wantDPoPError(t, serveDPoP(v, http.MethodGet, "", "Bearer "+bound, pk.proof(t, bound, nil, nil)), "invalid_token")
	})
	t.Run("unbound token as DPoP", func(t *testing.T) {
		wantDPoPError(t, serveDPoP(v, http.MethodGet, "", "DPoP "+unbound, pk.proof(t, unbound, nil, nil)), "invalid_token")
		if rec := serveDPoP(v, http.MethodGet, "", "Bearer "+unbound); rec.Code != http.StatusOK {
			t.Fatalf("unbound token as Bearer: %d %s", rec.Code, rec.Body)
		}
	})
	for _, tc := range []struct {
		name   string
		method string
		proofs []string
	}{
		{"no proof", http.MethodGet, nil},
		{"two proofs", http.MethodGet, []string{pk.proof(t, bound, nil, nil), pk.proof(t, bound, nil, nil)}},
		{"proof by another key", http.MethodGet, []string{other.proof(t, bound, nil, nil)}},
		{"key substitution", http.MethodGet, []string{other.proof(t, bound, nil, map[string]any{"jwk": pk.jwk})}},
		{"htu of the Host header", http.MethodGet, []string{pk.proof(t, bound, map[string]any{"htu": "https://evil.example/secured/profile"}, nil)}},
		{"htu other path", http.MethodGet, []string{pk.proof(t, bound, map[string]any{"htu": testPublicURL + "/secured/admin"}, nil)}},
		{"htm mismatch", http.MethodPost, []string{pk.proof(t, bound, nil, nil)}},
		{"stale iat", http.MethodGet, []string{pk.proof(t, bound, map[string]any{"iat": now0.Add(-2 * time.Minute).Unix()}, nil)}},
		{"future iat", http.MethodGet, []string{pk.proof(t, bound, map[string]any{"iat": now0.Add(2 * time.Minute).Unix()}, nil)}},
		{"no ath", http.MethodGet, []string{pk.proof(t, bound, map[string]any{"ath": nil}, nil)}},
		{"ath of another token", http.MethodGet, []string{pk.proof(t, unbound, nil, nil)}},
		{"wrong typ", http.MethodGet, []string{pk.proof(t, bound, nil, map[string]any{"typ": "JWT"})}},
		{"private jwk", http.MethodGet, []string{pk.proof(t, bound, nil, map[string]any{"jwk": map[string]any{
			"kty": "EC", "crv": "P-256", "x": pk.jwk["x"], "y": pk.jwk["y"], "d": "AAAA"}})}},
		{"alg none", http.MethodGet, []string{func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"jti": "n", "htm": "GET", "htu": testPublicURL + "/secured/profile", "iat": now0.Unix()})
			tok.Header["typ"], tok.Header["jwk"] = "dpop+jwt", pk.jwk
			s, _ := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}()}},
		{"HS256", http.MethodGet, []string{func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"jti": "h", "htm": "GET", "htu": testPublicURL + "/secured/profile", "iat": now0.Unix()})
			tok.Header["typ"], tok.Header["jwk"] = "dpop+jwt", map[string]any{"kty": "oct", "k": "c2VjcmV0"}
			s, _ := tok.SignedString([]byte("secret"))
			return s
		}()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantDPoPError(t, serveDPoP(v, tc.method, "evil.example", "DPoP "+bound, tc.proofs...), "invalid_dpop_proof")
		})
	}
	t.Run("no PublicURL: bound tokens refused", func(t *testing.T) {
		plain := newVerifier(t, is, nil)
		wantDPoPError(t, serveDPoP(plain, http.MethodGet, "", "DPoP "+bound, pk.proof(t, bound, nil, nil)), "invalid_dpop_proof")
	})
	t.Run("replay cache full: fails closed", func(t *testing.T) {
		small := newVerifier(t, is, func(c *Config) { c.PublicURL = testPublicURL; c.DPoPReplayCacheSize = 2 })
		for i := range 2 {
			if rec := serveDPoP(small, http.MethodGet, "", "DPoP "+bound, pk.proof(t, bound, nil, nil)); rec.Code != http.StatusOK {
				t.Fatalf("proof %d: %d %s", i, rec.Code, rec.Body)
			}
		}
		wantDPoPError(t, serveDPoP(small, http.MethodGet, "", "DPoP "+bound, pk.proof(t, bound, nil, nil)), "invalid_dpop_proof")
	})
}
