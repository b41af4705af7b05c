package token

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/domain"
)

// validClaims are the claims of a well-formed access token at t0.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer, "sub": "user-1", "aud": "https://api.example.test",
		"exp": t0.Add(15 * time.Minute).Unix(), "iat": t0.Unix(), "jti": "jti-1",
		"client_id": "client-1", "scope": "openid api:read",
	}
}

// mint signs claims with key under header (which replaces the default header).
func mint(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header = map[string]any{"alg": method.Alg()}
	for k, v := range header {
		tok.Header[k] = v
	}
	raw, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	if method == jwt.SigningMethodES256 {
		// The library signs either form of an ECDSA signature; ours is low-s.
		i := strings.LastIndexByte(raw, '.')
		sig, _ := base64.RawURLEncoding.DecodeString(raw[i+1:])
		lowS(sig)
		raw = raw[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
	}
	return raw
}

func (f *fixture) private(t testing.TB, alg string) crypto.Signer {
	return openPrivate(t, f.cipher, f.keys[alg])
}

func (f *fixture) mintValid(t testing.TB, alg string, header map[string]any, mutate func(jwt.MapClaims)) string {
	t.Helper()
	h := map[string]any{"typ": "at+jwt", "kid": f.keys[alg].ID}
	for k, v := range header {
		h[k] = v
	}
	c := validClaims()
	if mutate != nil {
		mutate(c)
	}
	return mint(t, jwt.GetSigningMethod(alg), f.private(t, alg), h, c)
}

func mustReject(t *testing.T, v *Verifier, name, raw string) {
	t.Helper()
	_, err := v.VerifyAccessToken(context.Background(), raw)
	if err == nil {
		t.Fatalf("%s: token accepted", name)
	}
	if !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("%s: err = %v, want domain.ErrInvalidToken", name, err)
	}
	t.Logf("%s: %v", name, err)
}

func mustAccept(t *testing.T, v *Verifier, name, raw string) domain.AccessToken {
	t.Helper()
	at, err := v.VerifyAccessToken(context.Background(), raw)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return at
}

func TestVerifier_AcceptsValidTokensOfEveryAlg(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	for _, alg := range domain.SupportedAlgs {
		mustAccept(t, f.verifier, alg, f.mintValid(t, alg, nil, nil))
	}
	// typ is a media type: case-insensitive, "application/" optional.
	for _, typ := range []string{"at+jwt", "AT+JWT", "application/at+jwt", "Application/At+Jwt"} {
		mustAccept(t, f.verifier, "typ "+typ, f.mintValid(t, domain.AlgES256, map[string]any{"typ": typ}, nil))
	}
	// aud as an array.
	mustAccept(t, f.verifier, "aud array", f.mintValid(t, domain.AlgES256, nil, func(c jwt.MapClaims) {
		c["aud"] = []string{"https://a.example", "https://b.example"}
	}))
}

func TestSecurity_S35_AlgNone(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	kid := f.keys[domain.AlgES256].ID
	raw := mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
		map[string]any{"typ": "at+jwt", "kid": kid}, validClaims())
	mustReject(t, f.verifier, "alg none", raw)
	// Also with a signature segment glued on, and spelled differently.
	good := f.mintValid(t, domain.AlgES256, nil, nil)
	sig := good[strings.LastIndexByte(good, '.'):]
	mustReject(t, f.verifier, "alg none + sig", strings.TrimSuffix(raw, ".")+sig)
	for _, alg := range []string{"None", "NONE", "nOnE", ""} {
		hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `","typ":"at+jwt","kid":"` + kid + `"}`))
		parts := strings.Split(raw, ".")
		mustReject(t, f.verifier, "alg "+alg, hdr+"."+parts[1]+".")
	}
}

// HS256 "signed" with our public key as the HMAC secret: the classic key confusion.
func TestSecurity_S35_HS256WithPublicKeyAsSecret(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	for _, alg := range domain.SupportedAlgs {
		der := f.keys[alg].PublicKey
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		for _, secret := range [][]byte{der, pemBytes} {
			for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS512} {
				raw := mint(t, m, secret, map[string]any{"typ": "at+jwt", "kid": f.keys[alg].ID}, validClaims())
				mustReject(t, f.verifier, m.Alg()+" with "+alg+" public key", raw)
			}
		}
	}
}

func TestSecurity_S35_AlgOutsideAllowList(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	// PS256 with our own RSA key: a valid signature, but not an allowed alg.
	rsaKey := f.private(t, domain.AlgRS256)
	raw := mint(t, jwt.SigningMethodPS256, rsaKey, map[string]any{"typ": "at+jwt", "kid": f.keys[domain.AlgRS256].ID}, validClaims())
	mustReject(t, f.verifier, "PS256", raw)
	// RS512 with our RSA key.
	raw = mint(t, jwt.SigningMethodRS512, rsaKey, map[string]any{"typ": "at+jwt", "kid": f.keys[domain.AlgRS256].ID}, validClaims())
	mustReject(t, f.verifier, "RS512", raw)
	// ES384 with a P-384 key under our ES256 kid.
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	raw = mint(t, jwt.SigningMethodES384, p384, map[string]any{"typ": "at+jwt", "kid": f.keys[domain.AlgES256].ID}, validClaims())
	mustReject(t, f.verifier, "ES384", raw)
}

// The header alg must be the alg of the key named by kid.
func TestSecurity_S35_AlgMustMatchKey(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	raw := mint(t, jwt.SigningMethodRS256, f.private(t, domain.AlgRS256),
		map[string]any{"typ": "at+jwt", "kid": f.keys[domain.AlgES256].ID}, validClaims())
	mustReject(t, f.verifier, "RS256 under an ES256 kid", raw)
}

func TestSecurity_S35_UnknownKID(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw := mint(t, jwt.SigningMethodES256, attacker, map[string]any{"typ": "at+jwt", "kid": "made-up"}, validClaims())
	mustReject(t, f.verifier, "unknown kid", raw)
	raw = mint(t, jwt.SigningMethodES256, attacker, map[string]any{"typ": "at+jwt"}, validClaims())
	mustReject(t, f.verifier, "no kid", raw)
	raw = mint(t, jwt.SigningMethodES256, f.private(t, domain.AlgES256), map[string]any{"typ": "at+jwt", "kid": 42}, validClaims())
	mustReject(t, f.verifier, "numeric kid", raw)
}

// Keys named in jku, x5u or jwk headers are never fetched nor used.
func TestSecurity_S35_HeaderKeysIgnored(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()

	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	x, y, _ := ecCoordinates(&attacker.PublicKey)
	b64 := base64.RawURLEncoding.EncodeToString
	attackerJWK := map[string]any{"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)}
	attackerKID, _ := Thumbprint(&attacker.PublicKey)
	certDER := selfSigned(t, attacker)
	for name, hdr := range map[string]map[string]any{
		"jwk with its own kid":  {"jwk": attackerJWK, "kid": attackerKID},
		"jwk with our kid":      {"jwk": attackerJWK, "kid": f.keys[domain.AlgES256].ID},
		"jku with its own kid":  {"jku": srv.URL + "/jwks.json", "kid": attackerKID},
		"jku with our kid":      {"jku": srv.URL + "/jwks.json", "kid": f.keys[domain.AlgES256].ID},
		"x5u with our kid":      {"x5u": srv.URL + "/cert.pem", "kid": f.keys[domain.AlgES256].ID},
		"x5c with our kid":      {"x5c": []string{base64.StdEncoding.EncodeToString(certDER)}, "kid": f.keys[domain.AlgES256].ID},
		"jwk without any kid":   {"jwk": attackerJWK},
		"jku without any kid":   {"jku": srv.URL + "/jwks.json"},
		"x5u without any kid":   {"x5u": srv.URL + "/cert.pem"},
		"x5c without any kid":   {"x5c": []string{base64.StdEncoding.EncodeToString(certDER)}},
		"jwk + jku + x5u + kid": {"jwk": attackerJWK, "jku": srv.URL, "x5u": srv.URL, "kid": attackerKID},
	} {
		hdr["typ"] = "at+jwt"
		mustReject(t, f.verifier, name, mint(t, jwt.SigningMethodES256, attacker, hdr, validClaims()))
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the verifier fetched a header URL %d times", n)
	}
	// Our own token with those headers added is judged on our key alone.
	mustAccept(t, f.verifier, "ours with jku", f.mintValid(t, domain.AlgES256, map[string]any{"jku": srv.URL}, nil))
}

func selfSigned(t testing.TB, key *ecdsa.PrivateKey) []byte {
	tmpl := &x509.Certificate{SerialNumber: bigOne(), NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestSecurity_S35_Typ(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	for _, typ := range []any{"JWT", "jwt", "at+JWT+x", "application/jwt", "", "secevent+jwt", 1, nil} {
		hdr := map[string]any{"typ": typ}
		raw := f.mintValid(t, domain.AlgES256, hdr, nil)
		mustReject(t, f.verifier, "typ", raw)
	}
	// No typ at all.
	raw := mint(t, jwt.SigningMethodES256, f.private(t, domain.AlgES256), map[string]any{"kid": f.keys[domain.AlgES256].ID}, validClaims())
	mustReject(t, f.verifier, "no typ", raw)
}

func TestSecurity_S35_Issuer(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	for _, iss := range []any{"https://evil.example", testIssuer + "/", strings.ToUpper(testIssuer), "", 7} {
		mustReject(t, f.verifier, "iss", f.mintValid(t, domain.AlgES256, nil, func(c jwt.MapClaims) { c["iss"] = iss }))
	}
	mustReject(t, f.verifier, "no iss", f.mintValid(t, domain.AlgES256, nil, func(c jwt.MapClaims) { delete(c, "iss") }))
}

func TestSecurity_S35_ExpiryAndNotBefore(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	exp := func(d time.Duration) func(jwt.MapClaims) {
		return func(c jwt.MapClaims) { c["exp"] = t0.Add(d).Unix() }
	}
	mustReject(t, f.verifier, "expired", f.mintValid(t, domain.AlgES256, nil, exp(-time.Minute)))
	// No leeway on exp: the server set it, and introspection must say inactive from
	// then on (RFC 7662 §2.2); the leeway is for iat and nbf only.
	mustReject(t, f.verifier, "expired a second ago", f.mintValid(t, domain.AlgES256, nil, exp(-time.Second)))
	mustReject(t, f.verifier, "expiring now", f.mintValid(t, domain.AlgES256, nil, exp(0)))
	mustAccept(t, f.verifier, "expiring in a second", f.mintValid(t, domain.AlgES256, nil, exp(time.Second)))
	mustReject(t, f.verifier, "no exp", f.mintValid(t, domain.AlgES256, nil, func(c jwt.MapClaims) { delete(c, "exp") }))

	nbf := func(d time.Duration) func(jwt.MapClaims) {
		return func(c jwt.MapClaims) { c["nbf"] = t0.Add(d).Unix() }
	}
	mustReject(t, f.verifier, "future nbf", f.mintValid(t, domain.AlgES256, nil, nbf(time.Minute)))
	mustAccept(t, f.verifier, "nbf within leeway", f.mintValid(t, domain.AlgES256, nil, nbf(20*time.Second)))
	mustAccept(t, f.verifier, "past nbf", f.mintValid(t, domain.AlgES256, nil, nbf(-time.Minute)))

	iat := func(d time.Duration) func(jwt.MapClaims) {
		return func(c jwt.MapClaims) { c["iat"] = t0.Add(d).Unix() }
	}
	mustReject(t, f.verifier, "future iat", f.mintValid(t, domain.AlgES256, nil, iat(time.Minute)))
	mustReject(t, f.verifier, "no iat", f.mintValid(t, domain.AlgES256, nil, func(c jwt.MapClaims) { delete(c, "iat") }))

	// The clock moves on: a token signed now expires for the verifier.
	raw, err := f.signer.SignAccessToken(context.Background(), sampleAccessToken(t0))
	if err != nil {
		t.Fatal(err)
	}
	mustAccept(t, f.verifier, "fresh", raw)
	f.clock.add(15*time.Minute + 31*time.Second)
	mustReject(t, f.verifier, "after exp", raw)
}

func TestSecurity_S35_FlippedByte(t *testing.T) {
	for _, alg := range domain.SupportedAlgs {
		f := newFixture(t, alg)
		raw, err := f.signer.SignAccessToken(context.Background(), sampleAccessToken(t0))
		if err != nil {
			t.Fatal(err)
		}
		mustAccept(t, f.verifier, "original", raw)
		parts := strings.Split(raw, ".")
		for seg := range parts {
			dec, err := base64.RawURLEncoding.DecodeString(parts[seg])
			if err != nil {
				t.Fatal(err)
			}
			for i := range dec {
				bad := []byte(string(dec))
				bad[i] ^= 0x01
				p := []string{parts[0], parts[1], parts[2]}
				p[seg] = base64.RawURLEncoding.EncodeToString(bad)
				mustReject(t, f.verifier, alg+" flipped byte", strings.Join(p, "."))
			}
		}
		// Non-canonical base64 (unused trailing bits set) would be a second
		// spelling of one signature; strict decoding refuses it.
		sig := parts[2]
		last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[len(sig)-1])
		if len(sig)%4 != 0 {
			alt := sig[:len(sig)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last^1])
			if alt != sig {
				mustReject(t, f.verifier, alg+" non-canonical base64", parts[0]+"."+parts[1]+"."+alt)
			}
		}
		for name, s := range map[string]string{
			"truncated":   raw[:len(raw)-4],
			"extra part":  raw + ".x",
			"two parts":   parts[0] + "." + parts[1],
			"padded":      raw + "==",
			"swapped sig": parts[0] + "." + parts[1] + "." + parts[0],
			"empty":       "",
			"huge":        raw + strings.Repeat("A", MaxTokenSize),
		} {
			mustReject(t, f.verifier, alg+" "+name, s)
		}
	}
}

func TestSecurity_S35_CritHeader(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	mustReject(t, f.verifier, "crit", f.mintValid(t, domain.AlgES256, map[string]any{"crit": []string{"exp"}, "exp": 1}, nil))
}

func TestVerifier_RequiresRFC9068Claims(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	for _, claim := range []string{"sub", "jti", "client_id", "aud"} {
		mustReject(t, f.verifier, "no "+claim, f.mintValid(t, domain.AlgES256, nil, func(c jwt.MapClaims) { delete(c, claim) }))
	}
	mustReject(t, f.verifier, "malformed scope", f.mintValid(t, domain.AlgES256, nil, func(c jwt.MapClaims) { c["scope"] = "a \"b" }))
	mustReject(t, f.verifier, "numeric sub", f.mintValid(t, domain.AlgES256, nil, func(c jwt.MapClaims) { c["sub"] = 5 }))
}

func TestVerifier_RejectsUnpublishedKey(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	raw := f.mintValid(t, domain.AlgES256, nil, nil)
	// Rotate: the old key stays published for 16 minutes.
	nk, err := f.gen.GenerateKey(domain.AlgES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	f.src.rotate(nk, t0.Add(16*time.Minute))
	if err := f.ring.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustAccept(t, f.verifier, "old key still published", raw)
	// A token that claims a later expiry than its key's publication is refused once
	// the key has left the JWKS.
	long := f.mintValid(t, domain.AlgES256, nil, func(c jwt.MapClaims) { c["exp"] = t0.Add(time.Hour).Unix() })
	f.clock.add(16 * time.Minute)
	mustReject(t, f.verifier, "key no longer published", long)
}
