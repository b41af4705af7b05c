package resourceserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"gatehouse/adapter/token"
	"gatehouse/domain"
)

// The token endpoint accepts DPoP proofs in token.ClientKeyAlgs (what discovery
// advertises as dpop_signing_alg_values_supported); a token it binds to a key of
// any of them must be usable at every resource server built with this package.
// The tests take the list, the thumbprint and the verdicts of the token endpoint
// from adapter/token itself, not from a copy, so that the two cannot drift apart.
// (The package itself may not import adapter/token: it is meant for third
// parties and talks to the issuer over HTTP only.)

var (
	proofRSAOnce sync.Once
	proofRSA     *rsa.PrivateKey
)

// newProofKeyFor makes a client's DPoP key for alg; its jkt is the thumbprint the
// token endpoint puts in cnf.jkt.
func newProofKeyFor(t testing.TB, alg string) proofKey {
	t.Helper()
	var priv crypto.Signer
	switch alg {
	case "ES256":
		priv, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		priv, _ = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		proofRSAOnce.Do(func() {
			var err error
			if proofRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				t.Fatal(err)
			}
		})
		priv = proofRSA
	case "EdDSA":
		_, priv, _ = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no test key for alg %s", alg)
	}
	return proofKeyOf(t, alg, priv)
}

// proofKeyOf wraps priv; jkt comes from the token endpoint's JWK parser.
func proofKeyOf(t testing.TB, alg string, priv crypto.Signer) proofKey {
	t.Helper()
	m := publicJWK(priv.Public())
	pub, err := token.ParsePublicJWK(m)
	if err != nil {
		t.Fatalf("the token endpoint refuses the %s test key: %v", alg, err)
	}
	return proofKey{priv: priv, jwk: m, jkt: pub.Thumbprint, alg: alg}
}

// publicJWK is the public JWK of a key, as a client library writes it.
func publicJWK(pub crypto.PublicKey) map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		return map[string]any{"kty": "EC", "crv": p.Curve.Params().Name,
			"x": b64(p.X.FillBytes(make([]byte, size))), "y": b64(p.Y.FillBytes(make([]byte, size)))}
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": b64(p.N.Bytes()), "e": b64(big.NewInt(int64(p.E)).Bytes())}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(p)}
	}
	panic(fmt.Sprintf("key type %T", pub))
}

// signedAs signs a proof of GET /secured/profile for tok whose header says alg but
// whose signature is made with method over key: a proof whose alg does not fit its
// jwk, yet whose signature verifies under the alg that does.
func signedAs(t testing.TB, alg string, method jwt.SigningMethod, key crypto.Signer, jwk map[string]any, tok string) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	proofSeq++
	sum := sha256.Sum256([]byte(tok))
	input := enc(map[string]any{"alg": alg, "typ": "dpop+jwt", "jwk": jwk}) + "." +
		enc(map[string]any{"jti": fmt.Sprintf("mismatch-%d", proofSeq), "htm": "GET",
			"htu": testPublicURL + "/secured/profile", "iat": now0.Unix(),
			"ath": base64.RawURLEncoding.EncodeToString(sum[:])})
	sig, err := method.Sign(input, key)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// challengeAlgs returns the algs parameter of the DPoP challenge in h.
func challengeAlgs(t *testing.T, h http.Header) string {
	t.Helper()
	for _, c := range h.Values("WWW-Authenticate") {
		if !strings.HasPrefix(c, "DPoP ") {
			continue
		}
		_, rest, ok := strings.Cut(c, `algs="`)
		algs, _, ok2 := strings.Cut(rest, `"`)
		if !ok || !ok2 {
			t.Fatalf("DPoP challenge without algs: %q", c)
		}
		return algs
	}
	t.Fatalf("no DPoP challenge in %q", h.Values("WWW-Authenticate"))
	return ""
}

func TestMiddlewareDPoPAlgsOfTheTokenEndpoint(t *testing.T) {
	k := newKey(t, AlgES256, "k")
	is := newIssuer(t, k)
	v := newVerifier(t, is, func(c *Config) { c.PublicURL = testPublicURL })
	endpoint := token.NewDPoPParser()
	if len(token.ClientKeyAlgs) < 10 {
		t.Fatalf("token.ClientKeyAlgs = %v: the test expects the token endpoint's full list", token.ClientKeyAlgs)
	}
	for _, alg := range token.ClientKeyAlgs {
		t.Run(alg, func(t *testing.T) {
			pk := newProofKeyFor(t, alg)
			// The token endpoint takes a proof by this key and binds the token to it.
			got, err := endpoint.ParseDPoPProof(pk.proof(t, "", map[string]any{"htm": "POST",
				"htu": "https://as.example.test/oauth/token", "ath": nil}, nil))
			if err != nil {
				t.Fatalf("token endpoint: %v", err)
			}
			if got.JKT != pk.jkt {
				t.Fatalf("token endpoint jkt %s, want %s", got.JKT, pk.jkt)
			}
			claims := is.claims()
			claims["cnf"] = map[string]any{"jkt": got.JKT}
			bound := mint(t, k, nil, claims)
			proof := pk.proof(t, bound, nil, nil) // with ath
			if tok, _, _ := jwt.NewParser().ParseUnverified(proof, jwt.MapClaims{}); tok.Header["alg"] != alg {
				t.Fatalf("proof alg %v, want %s", tok.Header["alg"], alg)
			}
			rec := serveDPoP(v, http.MethodGet, "", "DPoP "+bound, proof)
			if rec.Code != http.StatusOK || rec.Body.String() != pk.jkt {
				t.Fatalf("%s proof: %d %s %q", alg, rec.Code, rec.Body, rec.Header().Get("WWW-Authenticate"))
			}
			// Same key, same token, a proof without ath: refused.
			rec = serveDPoP(v, http.MethodGet, "", "DPoP "+bound, pk.proof(t, bound, map[string]any{"ath": nil}, nil))
			if rec.Code != http.StatusUnauthorized || body(t, rec)["error"] != "invalid_dpop_proof" {
				t.Fatalf("%s proof without ath: %d %s", alg, rec.Code, rec.Body)
			}
		})
	}
}

func TestMiddlewareDPoPProofAlgRefused(t *testing.T) {
	k := newKey(t, AlgES256, "k")
	is := newIssuer(t, k)
	v := newVerifier(t, is, func(c *Config) { c.PublicURL = testPublicURL })
	endpoint := token.NewDPoPParser()
	bind := func(jkt string) string {
		claims := is.claims()
		claims["cnf"] = map[string]any{"jkt": jkt}
		return mint(t, k, nil, claims)
	}
	refused := func(t *testing.T, tok, proof, want string) {
		t.Helper()
		rec := serveDPoP(v, http.MethodGet, "", "DPoP "+tok, proof)
		if rec.Code != http.StatusUnauthorized || body(t, rec)["error"] != "invalid_dpop_proof" ||
			body(t, rec)["error_description"] != want {
			t.Fatalf("%d %s, want 401 invalid_dpop_proof %q", rec.Code, rec.Body, want)
		}
		if !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error_description="`+want+`"`) {
			t.Fatalf("WWW-Authenticate %q lacks %q", rec.Header().Get("WWW-Authenticate"), want)
		}
		// The token endpoint refuses the same proof.
		if _, err := endpoint.ParseDPoPProof(proof); err == nil {
			t.Fatalf("the token endpoint accepts a proof the resource server refuses")
		}
	}

	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rs := newProofKeyFor(t, "RS256").priv
	for _, tc := range []struct {
		name   string
		alg    string // in the header
		method jwt.SigningMethod
		key    crypto.Signer
	}{
		{"ES384 with an RSA key", "ES384", jwt.SigningMethodRS384, rs},
		{"ES256 with a P-384 key", "ES256", jwt.SigningMethodES384, p384},
		{"ES512 with a P-256 key", "ES512", jwt.SigningMethodES256, p256},
		{"RS256 with a P-256 key", "RS256", jwt.SigningMethodES256, p256},
		{"PS256 with an Ed25519 key", "PS256", jwt.SigningMethodEdDSA, ed},
		{"EdDSA with a P-256 key", "EdDSA", jwt.SigningMethodES256, p256},
		{"EdDSA with an RSA key", "EdDSA", jwt.SigningMethodRS256, rs},
	} {
		t.Run("alg does not fit the key: "+tc.name, func(t *testing.T) {
			pk := proofKeyOf(t, tc.method.Alg(), tc.key)
			tok := bind(pk.jkt)
			// Sanity: signed under the alg that fits, the proof is accepted.
			if rec := serveDPoP(v, http.MethodGet, "", "DPoP "+tok, pk.proof(t, tok, nil, nil)); rec.Code != http.StatusOK {
				t.Fatalf("fitting alg %s: %d %s", tc.method.Alg(), rec.Code, rec.Body)
			}
			refused(t, tok, signedAs(t, tc.alg, tc.method, tc.key, pk.jwk, tok), descProofKeyAlg)
		})
	}

	pk := newProofKeyFor(t, "ES256")
	tok := bind(pk.jkt)
	t.Run("none", func(t *testing.T) {
		proof := pk.proof(t, tok, nil, map[string]any{"alg": "none"})
		proof = proof[:strings.LastIndexByte(proof, '.')+1]
		refused(t, tok, proof, descProofAlg)
	})
	t.Run("HS256", func(t *testing.T) {
		c := jwt.MapClaims{"jti": "hs", "htm": "GET", "htu": testPublicURL + "/secured/profile", "iat": now0.Unix()}
		h := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
		h.Header["typ"], h.Header["jwk"] = "dpop+jwt", map[string]any{"kty": "oct", "k": "c2VjcmV0"}
		s, err := h.SignedString([]byte("secret"))
		if err != nil {
			t.Fatal(err)
		}
		refused(t, tok, s, descProofAlg)
		// An HMAC alg with the client's public key as the jwk: still the alg.
		h.Header["jwk"] = pk.jwk
		s, _ = h.SignedString([]byte("secret"))
		refused(t, tok, s, descProofAlg)
	})
	for _, alg := range []string{"HS384", "HS512", "ES256K", "RS1", "es256", ""} {
		t.Run("alg "+alg, func(t *testing.T) {
			refused(t, tok, signedAs(t, alg, jwt.SigningMethodES256, pk.priv, pk.jwk, tok), descProofAlg)
		})
	}
	t.Run("RSA key under the minimum size", func(t *testing.T) {
		small, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		m := publicJWK(small.Public())
		sum := sha256.Sum256([]byte(`{"e":"` + m["e"].(string) + `","kty":"RSA","n":"` + m["n"].(string) + `"}`))
		jkt := base64.RawURLEncoding.EncodeToString(sum[:])
		tok := bind(jkt)
		weak := proofKey{priv: small, jwk: m, jkt: jkt, alg: "RS256"}
		refused(t, tok, weak.proof(t, tok, nil, nil), descProofKey)
	})
	t.Run("private member in the jwk", func(t *testing.T) {
		jwk := maps(pk.jwk)
		jwk["d"] = "AAAA"
		refused(t, tok, pk.proof(t, tok, nil, map[string]any{"jwk": jwk}), descProofKey)
	})
	t.Run("EC key of an unknown curve", func(t *testing.T) {
		jwk := maps(pk.jwk)
		jwk["crv"] = "secp256k1"
		refused(t, tok, pk.proof(t, tok, nil, map[string]any{"jwk": jwk}), descProofKey)
	})
}

// TestDescProofKeyNamesTheRSABounds: the description spells out the bounds parseProofJWK enforces.
func TestDescProofKeyNamesTheRSABounds(t *testing.T) {
	want := fmt.Sprintf("RSA of %d to %d bits", domain.MinRSAKeyBits, domain.MaxRSAKeyBits)
	if !strings.Contains(descProofKey, want) {
		t.Fatalf("descProofKey %q does not say %q", descProofKey, want)
	}
}

func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestDPoPAlgsAdvertisedAreTheTokenEndpoints(t *testing.T) {
	k := newKey(t, AlgES256, "k")
	is := newIssuer(t, k)
	v := newVerifier(t, is, func(c *Config) {
		c.PublicURL = testPublicURL
		c.Resource = testPublicURL
	})
	want := strings.Join(token.ClientKeyAlgs, " ")

	t.Run("no credentials", func(t *testing.T) {
		rec := serveDPoP(v, http.MethodGet, "", "")
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		if got := challengeAlgs(t, rec.Header()); got != want {
			t.Fatalf("algs=%q, want %q", got, want)
		}
	})
	t.Run("DPoP error", func(t *testing.T) {
		pk := newProofKeyFor(t, "ES384")
		claims := is.claims()
		claims["cnf"] = map[string]any{"jkt": pk.jkt}
		rec := serveDPoP(v, http.MethodGet, "", "DPoP "+mint(t, k, nil, claims))
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		if got := challengeAlgs(t, rec.Header()); got != want {
			t.Fatalf("algs=%q, want %q", got, want)
		}
	})
	t.Run("protected resource metadata", func(t *testing.T) {
		if got := v.Metadata().DPoPSigningAlgValuesSupported; !slices.Equal(got, token.ClientKeyAlgs) {
			t.Fatalf("dpop_signing_alg_values_supported %v, want %v", got, token.ClientKeyAlgs)
		}
		e := echo.New()
		e.GET(v.MetadataPath(), echo.WrapHandler(v.MetadataHandler()))
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, v.MetadataPath(), nil))
		var m struct {
			Algs []string `json:"dpop_signing_alg_values_supported"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || !slices.Equal(m.Algs, token.ClientKeyAlgs) {
			t.Fatalf("served %s (%v), want algs %v", rec.Body, err, token.ClientKeyAlgs)
		}
	})
	t.Run("the list is a copy", func(t *testing.T) {
		m := v.Metadata()
		m.DPoPSigningAlgValuesSupported[0] = "none"
		if got := challengeAlgs(t, serveDPoP(v, http.MethodGet, "", "").Header()); got != want {
			t.Fatalf("algs=%q after a caller changed the metadata's list", got)
		}
	})
}
