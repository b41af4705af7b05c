package token

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
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/domain"
)

// proofKey is a client's DPoP key pair, for building proofs in tests.
type proofKey struct {
	priv   crypto.Signer
	method jwt.SigningMethod
	jwk    map[string]any
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newProofKey(t testing.TB, alg string) proofKey {
	t.Helper()
	switch alg {
	case "ES256":
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		x, y := k.X.FillBytes(make([]byte, 32)), k.Y.FillBytes(make([]byte, 32))
		return proofKey{k, jwt.SigningMethodES256, map[string]any{"kty": "EC", "crv": "P-256", "x": b64u(x), "y": b64u(y)}}
	case "RS256", "PS256":
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		m := jwt.SigningMethod(jwt.SigningMethodRS256)
		if alg == "PS256" {
			m = jwt.SigningMethodPS256
		}
		return proofKey{k, m, map[string]any{"kty": "RSA", "n": b64u(k.N.Bytes()), "e": b64u(big.NewInt(int64(k.E)).Bytes())}}
	case "EdDSA":
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		return proofKey{priv, jwt.SigningMethodEdDSA, map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64u(pub)}}
	}
	t.Fatalf("alg %s", alg)
	return proofKey{}
}

// proof signs claims (defaults filled in) with header overrides; a nil value deletes.
func (k proofKey) proof(t testing.TB, hdr, claims map[string]any) string {
	t.Helper()
	c := jwt.MapClaims{"jti": b64u(sha256.New().Sum([]byte(time.Now().String()))), "htm": "POST",
		"htu": "https://auth.test/oauth/token", "iat": time.Now().Unix()}
	for n, v := range claims {
		if v == nil {
			delete(c, n)
		} else {
			c[n] = v
		}
	}
	tok := jwt.NewWithClaims(k.method, c)
	tok.Header["typ"] = "dpop+jwt"
	tok.Header["jwk"] = k.jwk
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

func TestDPoPParser_Accepts(t *testing.T) {
	p := NewDPoPParser()
	for _, alg := range []string{"ES256", "RS256", "PS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			k := newProofKey(t, alg)
			got, err := p.ParseDPoPProof(k.proof(t, nil, map[string]any{"nonce": "n1", "ath": "abc", "jti": "j-1"}))
			if err != nil {
				t.Fatalf("valid proof refused: %v", err)
			}
			if got.Method != "POST" || got.URL != "https://auth.test/oauth/token" || got.JTI != "j-1" ||
				got.Nonce != "n1" || got.ATH != "abc" || time.Since(got.IssuedAt) > time.Minute {
				t.Errorf("claims %+v", got)
			}
			pk, err := ParsePublicJWK(k.jwk)
			if err != nil || got.JKT != pk.Thumbprint || len(got.JKT) != 43 {
				t.Errorf("jkt %q, want the jwk's thumbprint %q (%v)", got.JKT, pk.Thumbprint, err)
			}
		})
	}
}

// TestJWKThumbprint checks RFC 7638 against a thumbprint computed by hand from the
// required members in lexicographic order, and the RFC's own RSA example.
func TestJWKThumbprint(t *testing.T) {
	k := newProofKey(t, "ES256")
	canonical := `{"crv":"P-256","kty":"EC","x":"` + k.jwk["x"].(string) + `","y":"` + k.jwk["y"].(string) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	withExtras := map[string]any{"kid": "k1", "use": "sig", "alg": "ES256"}
	for n, v := range k.jwk {
		withExtras[n] = v
	}
	got, err := ParsePublicJWK(withExtras)
	if err != nil || got.Thumbprint != b64u(sum[:]) {
		t.Fatalf("thumbprint %q, want %q (%v)", got.Thumbprint, b64u(sum[:]), err)
	}
	// RFC 7638 §3.1.
	rfc := map[string]any{"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
		"n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}
	got, err = ParsePublicJWK(rfc)
	if err != nil || got.Thumbprint != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("RFC 7638 example: thumbprint %q (%v)", got.Thumbprint, err)
	}
}

// TestParsePublicJWK_RSABounds: an RSA key from a client (a DPoP proof's jwk, a
// private_key_jwt JWK Set) has 2048 to 8192 bits and an odd exponent crypto/rsa
// verifies with; a larger modulus is refused before it is used, since verifying with
// it costs as much as hundreds of ordinary requests. The moduli need not be products
// of primes: parsing never looks.
func TestParsePublicJWK_RSABounds(t *testing.T) {
	modulus := func(bits int) string {
		b := make([]byte, (bits+7)/8)
		_, _ = rand.Read(b)
		b[0] |= 0x80 >> ((8 - bits%8) % 8)
		b[0] &= 0xff >> ((8 - bits%8) % 8)
		b[len(b)-1] |= 1
		return b64u(b)
	}
	exponent := func(e uint32) string {
		b := big.NewInt(int64(e)).Bytes()
		return b64u(b)
	}
	for _, tc := range []struct {
		name string
		bits int
		e    uint32
		ok   bool
	}{
		{"2048", 2048, 65537, true},
		{"8192", 8192, 65537, true},
		{"2047", 2047, 65537, false},
		{"8193", 8193, 65537, false},
		{"16384", 16384, 65537, false},
		{"65536", 65536, 65537, false},
		{"ExponentLargestVerifiable", 2048, 1<<31 - 1, true},
		{"ExponentTooLarge", 2048, 1<<31 + 1, false},
		{"ExponentEven", 2048, 65536, false},
		{"ExponentOne", 2048, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jwk := map[string]any{"kty": "RSA", "n": modulus(tc.bits), "e": exponent(tc.e)}
			_, err := ParsePublicJWK(jwk)
			if (err == nil) != tc.ok {
				t.Fatalf("ParsePublicJWK(%d bits, e=%d): err = %v, want accepted %v", tc.bits, tc.e, err, tc.ok)
			}
			set, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
			if err := NewAssertionVerifier(nil, nil).ValidateJWKS(string(set)); (err == nil) != tc.ok {
				t.Fatalf("ValidateJWKS(%d bits, e=%d): err = %v, want accepted %v", tc.bits, tc.e, err, tc.ok)
			}
		})
	}
}

// TestDPoPParser_Refuses: every defect RFC 9449 §4.3 lists that needs no request,
// each an invalid_dpop_proof.
func TestDPoPParser_Refuses(t *testing.T) {
	p := NewDPoPParser()
	ec, other := newProofKey(t, "ES256"), newProofKey(t, "ES256")
	withPrivate := map[string]any{"d": "AAAA"}
	for n, v := range ec.jwk {
		withPrivate[n] = v
	}
	rsaSmall, _ := rsa.GenerateKey(rand.Reader, 1024)
	small := proofKey{rsaSmall, jwt.SigningMethodRS256, map[string]any{"kty": "RSA", "n": b64u(rsaSmall.N.Bytes()), "e": "AQAB"}}

	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"jti": "x", "htm": "POST", "htu": "https://auth.test/oauth/token", "iat": time.Now().Unix()})
		tok.Header["typ"], tok.Header["jwk"] = "dpop+jwt", ec.jwk
		s, _ := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}
	hmac := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"jti": "x", "htm": "POST", "htu": "https://auth.test/oauth/token", "iat": time.Now().Unix()})
		tok.Header["typ"], tok.Header["jwk"] = "dpop+jwt", map[string]any{"kty": "oct", "k": "c2VjcmV0"}
		s, _ := tok.SignedString([]byte("secret"))
		return s
	}
	// Key substitution: signed by one key, naming another in jwk.
	substituted := func() string {
		return other.proof(t, map[string]any{"jwk": ec.jwk}, nil)
	}
	// alg of another family than the key (RS256 header over an EC jwk).
	mismatched := func() string {
		h, _, _ := strings.Cut(newProofKey(t, "RS256").proof(t, map[string]any{"jwk": ec.jwk}, nil), ".")
		_, rest, _ := strings.Cut(ec.proof(t, nil, nil), ".")
		return h + "." + rest
	}
	for _, tc := range []struct {
		name  string
		proof string
	}{
		{"Empty", ""},
		{"NotJWS", "abc.def"},
		{"LineBreak", strings.Replace(ec.proof(t, nil, nil), ".", ".\n", 1)},
		{"AlgNone", none()},
		{"HS256", hmac()},
		{"NoTyp", ec.proof(t, map[string]any{"typ": nil}, nil)},
		{"WrongTyp", ec.proof(t, map[string]any{"typ": "JWT"}, nil)},
		{"NoJWK", ec.proof(t, map[string]any{"jwk": nil}, nil)},
		{"PrivateJWK", ec.proof(t, map[string]any{"jwk": withPrivate}, nil)},
		{"KeySubstitution", substituted()},
		{"AlgKeyMismatch", mismatched()},
		{"SmallRSA", small.proof(t, nil, nil)},
		{"Crit", ec.proof(t, map[string]any{"crit": []string{"exp"}}, nil)},
		{"NoJTI", ec.proof(t, nil, map[string]any{"jti": nil})},
		{"NoHTM", ec.proof(t, nil, map[string]any{"htm": nil})},
		{"NoHTU", ec.proof(t, nil, map[string]any{"htu": nil})},
		{"NoIAT", ec.proof(t, nil, map[string]any{"iat": nil})},
		{"TextIAT", ec.proof(t, nil, map[string]any{"iat": "soon"})},
		{"LongJTI", ec.proof(t, nil, map[string]any{"jti": strings.Repeat("j", 300)})},
		{"TooLarge", ec.proof(t, nil, map[string]any{"pad": strings.Repeat("p", MaxProofSize)})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.ParseDPoPProof(tc.proof)
			if !errors.Is(err, domain.ErrInvalidDPoPProof) {
				t.Fatalf("err = %v, want invalid_dpop_proof", err)
			}
		})
	}
	// An iat that is no JSON number (RFC 7519 NumericDate) is named as the claim's
	// fault, not the header's.
	for _, iat := range []any{nil, "soon", "1700000000", true} {
		_, err := p.ParseDPoPProof(ec.proof(t, nil, map[string]any{"iat": iat}))
		var oe *domain.Error
		if !errors.As(err, &oe) || !strings.Contains(oe.Description, "numeric iat") {
			t.Errorf("iat %#v: %v, want a description naming a numeric iat", iat, err)
		}
	}
}

// TestAccessTokenCnf: a bound token carries cnf.jkt (RFC 9449 §6.1) and the verifier
// reads it back; an unbound token has no cnf at all.
func TestAccessTokenCnf(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	at := sampleAccessToken(t0)
	at.JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	raw, err := f.signer.SignAccessToken(t.Context(), at)
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	parts := strings.Split(raw, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if cnf, _ := claims["cnf"].(map[string]any); cnf["jkt"] != at.JKT {
		t.Fatalf("cnf claim %v, want jkt %s", claims["cnf"], at.JKT)
	}
	got, err := f.verifier.VerifyAccessToken(t.Context(), raw)
	if err != nil || got.JKT != at.JKT {
		t.Fatalf("verified JKT %q (%v), want %q", got.JKT, err, at.JKT)
	}
	at.JKT, at.ID = "", "jti-unbound"
	raw, _ = f.signer.SignAccessToken(t.Context(), at)
	p2, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
	if strings.Contains(string(p2), "cnf") {
		t.Fatal("an unbound token carries cnf")
	}
}
