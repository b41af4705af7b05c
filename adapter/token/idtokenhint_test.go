package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/domain"
)

func sampleIDToken(alg string) domain.IDToken {
	return domain.IDToken{
		Subject: "0b7a4b8e-6a5e-4a57-9b1e-2f4d7f5a9c11", Audience: "client-abc", Nonce: "n",
		AuthTime: t0.Add(-time.Minute), IssuedAt: t0, ExpiresAt: t0.Add(time.Hour), Alg: alg,
	}
}

func newHintVerifier(t *testing.T, f *fixture, issuer string) *HintVerifier {
	t.Helper()
	v, err := NewHintVerifier(f.ring, VerifierConfig{Issuer: issuer}, f.clock)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// An ID token of ours is a valid logout hint with every alg, also long after it
// expired (RP-Initiated Logout 1.0 §2).
func TestHintVerifier_AcceptsOurIDTokensEvenExpired(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	v := newHintVerifier(t, f, testIssuer)
	for _, alg := range domain.SupportedAlgs {
		raw, err := f.signer.SignIDToken(context.Background(), sampleIDToken(alg))
		if err != nil {
			t.Fatal(err)
		}
		for _, later := range []time.Duration{0, 2 * time.Hour} {
			f.clock.set(t0.Add(later))
			h, err := v.VerifyIDTokenHint(context.Background(), raw)
			if err != nil {
				t.Fatalf("%s ID token %s after issue: %v", alg, later, err)
			}
			if h.Subject != "0b7a4b8e-6a5e-4a57-9b1e-2f4d7f5a9c11" || h.ClientID != "client-abc" {
				t.Errorf("%s: hint %+v", alg, h)
			}
		}
		f.clock.set(t0)
	}
}

func TestHintVerifier_Rejects(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	v := newHintVerifier(t, f, testIssuer)
	ctx := context.Background()
	good, err := f.signer.SignIDToken(ctx, sampleIDToken(domain.AlgRS256))
	if err != nil {
		t.Fatal(err)
	}
	access, err := f.signer.SignAccessToken(ctx, sampleAccessToken(t0))
	if err != nil {
		t.Fatal(err)
	}
	kid := f.keys[domain.AlgRS256].ID
	claims := jwt.MapClaims{"iss": testIssuer, "sub": "u", "aud": "client-abc", "exp": t0.Add(time.Hour).Unix(), "iat": t0.Unix()}
	sign := func(m jwt.SigningMethod, key any, header map[string]any, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(m, c)
		for k, val := range header {
			tok.Header[k] = val
		}
		raw, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	with := func(k string, val any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range claims {
			c[kk] = vv
		}
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	rsaKey := f.private(t, domain.AlgRS256)
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	flipped := []byte(good) // another base64url character in the signature
	if i := strings.LastIndexByte(good, '.') + 5; flipped[i] == 'A' {
		flipped[i] = 'B'
	} else {
		flipped[i] = 'A'
	}
	cases := map[string]string{
		"empty":            "",
		"garbage":          "not.a.jwt",
		"access token":     access,
		"flipped byte":     string(flipped),
		"alg none":         sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": kid}, claims),
		"HS256 public key": sign(jwt.SigningMethodHS256, f.keys[domain.AlgRS256].PublicKey, map[string]any{"kid": kid}, claims),
		"another key, our kid": sign(jwt.SigningMethodES256, otherEC,
			map[string]any{"kid": f.keys[domain.AlgES256].ID}, claims),
		"unknown kid":     sign(jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": "nope"}, claims),
		"no kid":          sign(jwt.SigningMethodRS256, rsaKey, nil, claims),
		"wrong iss":       sign(jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": kid}, with("iss", "https://evil.example")),
		"no sub":          sign(jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": kid}, with("sub", nil)),
		"no aud":          sign(jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": kid}, with("aud", nil)),
		"two audiences":   sign(jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": kid}, with("aud", []string{"a", "b"})),
		"typ at+jwt":      sign(jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": kid, "typ": "at+jwt"}, claims),
		"alg of another":  sign(jwt.SigningMethodRS512, rsaKey, map[string]any{"kid": kid}, claims),
		"too long":        strings.Repeat("a", MaxTokenSize+1),
		"crit header":     sign(jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": kid, "crit": []string{"x"}}, claims),
		"foreign jwk hdr": sign(jwt.SigningMethodES256, otherEC, map[string]any{"jwk": map[string]any{"kty": "EC"}}, claims),
	}
	if _, err := v.VerifyIDTokenHint(ctx, sign(jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": kid}, claims)); err != nil {
		t.Fatalf("the control token is refused: %v", err)
	}
	for name, raw := range cases {
		if _, err := v.VerifyIDTokenHint(ctx, raw); !errors.Is(err, domain.ErrInvalidToken) {
			t.Errorf("%s: err = %v, want ErrInvalidToken", name, err)
		}
	}
	// Another issuer's verifier refuses our tokens.
	if _, err := newHintVerifier(t, f, "https://other.example").VerifyIDTokenHint(ctx, good); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("token of another issuer: %v", err)
	}
}
