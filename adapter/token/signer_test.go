package token

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"gatehouse/domain"
)

// decodeParts returns the JOSE header and claims of a compact JWT, unverified.
func decodeParts(t testing.TB, raw string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.Strict().DecodeString(parts[i])
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("part %d: %v: %s", i, err, b)
		}
	}
	return header, claims
}

// TestSecurity_S34_AccessTokenShape: header typ at+jwt, alg, kid; the RFC 9068 claims.
func TestSecurity_S34_AccessTokenShape(t *testing.T) {
	for _, alg := range domain.SupportedAlgs {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			ctx := context.Background()
			at := sampleAccessToken(t0)
			raw, err := f.signer.SignAccessToken(ctx, at)
			if err != nil {
				t.Fatal(err)
			}
			h, c := decodeParts(t, raw)
			if h["typ"] != "at+jwt" || h["alg"] != alg || h["kid"] != f.keys[alg].ID || len(h) != 3 {
				t.Fatalf("header = %v", h)
			}
			want := map[string]any{
				"iss": testIssuer, "sub": at.Subject, "aud": at.Audience[0],
				"exp": float64(at.ExpiresAt.Unix()), "iat": float64(t0.Unix()), "jti": at.ID,
				"client_id": at.ClientID, "scope": "openid profile api:read",
				"auth_time": float64(at.AuthTime.Unix()), "fid": at.FamilyID,
			}
			if len(c) != len(want) {
				t.Fatalf("claims = %v, want %v", c, want)
			}
			for k, v := range want {
				if c[k] != v {
					t.Fatalf("claim %s = %v, want %v", k, c[k], v)
				}
			}
			// The verifier gives back what was signed, family included.
			got, err := f.verifier.VerifyAccessToken(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			at.IssuedAt, at.ExpiresAt, at.AuthTime = at.IssuedAt.UTC(), at.ExpiresAt.UTC(), at.AuthTime.UTC()
			if got.ID != at.ID || got.ClientID != at.ClientID || got.Subject != at.Subject || got.FamilyID != at.FamilyID ||
				!slices.Equal(got.Audience, at.Audience) || !slices.Equal(got.Scope, at.Scope) ||
				!got.IssuedAt.Equal(at.IssuedAt) || !got.ExpiresAt.Equal(at.ExpiresAt) || !got.AuthTime.Equal(at.AuthTime) {
				t.Fatalf("VerifyAccessToken = %+v, want %+v", got, at)
			}
		})
	}
}

func TestSignAccessToken_OptionalClaims(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	ctx := context.Background()
	// Client credentials: no user, no family, several audiences, no scope.
	at := sampleAccessToken(t0)
	at.AuthTime, at.FamilyID, at.Scope = time.Time{}, "", nil
	at.Audience = []string{"https://a.example", "https://b.example"}
	raw, err := f.signer.SignAccessToken(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	_, c := decodeParts(t, raw)
	for _, absent := range []string{"auth_time", "fid", "scope", "nbf"} {
		if _, ok := c[absent]; ok {
			t.Fatalf("claim %s present: %v", absent, c)
		}
	}
	aud, ok := c["aud"].([]any)
	if !ok || len(aud) != 2 || aud[0] != "https://a.example" || aud[1] != "https://b.example" {
		t.Fatalf("aud = %#v, want an array of two", c["aud"])
	}
	got, err := f.verifier.VerifyAccessToken(ctx, raw)
	if err != nil || got.FamilyID != "" || !got.AuthTime.IsZero() || len(got.Scope) != 0 || len(got.Audience) != 2 {
		t.Fatalf("VerifyAccessToken = %+v, %v", got, err)
	}
}

func TestSignAccessToken_EscapesClaims(t *testing.T) {
	f := newFixture(t, domain.AlgEdDSA)
	at := sampleAccessToken(t0)
	at.Subject = "quote\" backslash\\ nl\n tab\t ctl\x01 é \u2028 bad\xff"
	at.Audience = []string{`https://api.example/"x"`}
	raw, err := f.signer.SignAccessToken(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	_, c := decodeParts(t, raw)
	if want := strings.ToValidUTF8(at.Subject, "\uFFFD"); c["sub"] != want {
		t.Fatalf("sub = %q, want %q", c["sub"], want)
	}
	if c["aud"] != at.Audience[0] {
		t.Fatalf("aud = %q", c["aud"])
	}
}

func TestSignAccessToken_RejectsIncompleteTokens(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	for name, mutate := range map[string]func(*domain.AccessToken){
		"no jti":       func(a *domain.AccessToken) { a.ID = "" },
		"no sub":       func(a *domain.AccessToken) { a.Subject = "" },
		"no client_id": func(a *domain.AccessToken) { a.ClientID = "" },
		"no aud":       func(a *domain.AccessToken) { a.Audience = nil },
		"exp <= iat":   func(a *domain.AccessToken) { a.ExpiresAt = a.IssuedAt },
	} {
		at := sampleAccessToken(t0)
		mutate(&at)
		if _, err := f.signer.SignAccessToken(context.Background(), at); err == nil {
			t.Errorf("%s: SignAccessToken succeeded", name)
		}
	}
}

func TestSignIDToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, domain.AlgES256)
	for _, tc := range []struct {
		alg, wantAlg string
		hash         func(string) []byte
	}{
		{"", domain.AlgRS256, func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:16] }},
		{domain.AlgRS256, domain.AlgRS256, func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:16] }},
		{domain.AlgES256, domain.AlgES256, func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:16] }},
		{domain.AlgEdDSA, domain.AlgEdDSA, func(s string) []byte { h := sha512.Sum512([]byte(s)); return h[:32] }},
	} {
		idt := domain.IDToken{
			Subject: "user-1", Audience: "client-1", Nonce: "n-0S6_WzA2Mj", AuthTime: t0.Add(-time.Minute),
			IssuedAt: t0, ExpiresAt: t0.Add(time.Hour), AccessToken: "the.access.token",
			Claims: domain.UserClaims{PreferredUsername: "alice", Email: "alice@example.test", EmailVerified: new(bool)},
			Alg:    tc.alg,
		}
		raw, err := f.signer.SignIDToken(ctx, idt)
		if err != nil {
			t.Fatal(err)
		}
		h, c := decodeParts(t, raw)
		if h["typ"] != "JWT" || h["alg"] != tc.wantAlg || h["kid"] != f.keys[tc.wantAlg].ID {
			t.Fatalf("alg %q: header = %v", tc.alg, h)
		}
		want := map[string]any{
			"iss": testIssuer, "sub": "user-1", "aud": "client-1", "exp": float64(t0.Add(time.Hour).Unix()),
			"iat": float64(t0.Unix()), "auth_time": float64(t0.Add(-time.Minute).Unix()), "nonce": idt.Nonce,
			"at_hash":            base64.RawURLEncoding.EncodeToString(tc.hash(idt.AccessToken)),
			"preferred_username": "alice", "email": "alice@example.test", "email_verified": false,
		}
		if len(c) != len(want) {
			t.Fatalf("claims = %v, want %v", c, want)
		}
		for k, v := range want {
			if c[k] != v {
				t.Fatalf("alg %q: claim %s = %v, want %v", tc.alg, k, c[k], v)
			}
		}
		// The signature verifies with the published public key.
		pub := f.publicKey(t, tc.wantAlg)
		if _, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return pub, nil },
			jwt.WithValidMethods([]string{tc.wantAlg}), jwt.WithTimeFunc(func() time.Time { return t0 })); err != nil {
			t.Fatalf("alg %q: ID token does not verify: %v", tc.alg, err)
		}
		// An ID token is not an access token (typ JWT).
		if _, err := f.verifier.VerifyAccessToken(ctx, raw); err == nil {
			t.Fatal("an ID token was accepted as an access token")
		}
	}
	// Minimal ID token: no optional claims.
	raw, err := f.signer.SignIDToken(ctx, domain.IDToken{Subject: "u", Audience: "c", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, c := decodeParts(t, raw); len(c) != 5 {
		t.Fatalf("minimal claims = %v", c)
	}
	if _, err := f.signer.SignIDToken(ctx, domain.IDToken{Subject: "u", Audience: "c", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour), Alg: "HS256"}); err == nil {
		t.Fatal("SignIDToken(HS256) succeeded")
	}
}

func (f *fixture) publicKey(t testing.TB, alg string) crypto.PublicKey {
	t.Helper()
	k, err := f.ring.ActiveKey(context.Background(), alg)
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}

func TestNewSigner_Config(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	if _, err := NewSigner(f.ring, SignerConfig{AccessAlg: "ES256"}); err == nil {
		t.Fatal("NewSigner without issuer succeeded")
	}
	if _, err := NewSigner(f.ring, SignerConfig{Issuer: testIssuer, AccessAlg: "HS256"}); err == nil {
		t.Fatal("NewSigner(HS256) succeeded")
	}
	s, err := NewSigner(f.ring, SignerConfig{Issuer: testIssuer})
	if err != nil || s.accessAlg != domain.AlgES256 {
		t.Fatalf("default access alg = %q, %v; want ES256", s.accessAlg, err)
	}
}

func TestASN1ToFixed(t *testing.T) {
	build := func(r, s []byte) []byte {
		var b cryptobyte.Builder
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1BigInt(new(big.Int).SetBytes(r))
			b.AddASN1BigInt(new(big.Int).SetBytes(s))
		})
		return b.BytesOrPanic()
	}
	r := append([]byte{0x00, 0x00}, bytes.Repeat([]byte{0x7f}, 30)...) // short r
	s := bytes.Repeat([]byte{0xff}, 32)                                // DER adds a 0x00
	var dst [64]byte
	got, err := asn1ToFixed(build(r, s), dst[:])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:32], r) || !bytes.Equal(got[32:], s) {
		t.Fatalf("r||s = %x", got)
	}
	for _, bad := range [][]byte{nil, {0x30, 0x00}, build(bytes.Repeat([]byte{1}, 33), s), append(build(r, s), 0)} {
		if _, err := asn1ToFixed(bad, dst[:]); err == nil {
			t.Fatalf("asn1ToFixed(%x) succeeded", bad)
		}
	}
}

// TestSecurity_S35_ECDSASignatureMalleability: (r, n-s) is a valid ECDSA signature
// whenever (r, s) is, so an ES256 token has a second spelling anyone can compute.
// The signer emits only s <= n/2 and the verifier refuses the other form (found by
// FuzzVerifyAccessToken).
func TestSecurity_S35_ECDSASignatureMalleability(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	n := elliptic.P256().Params().N
	half := new(big.Int).Rsh(n, 1)
	for i := range 64 {
		// Each token its own jti, as issued: the nonce is derived from the input
		// (RFC 6979), so the same token would give the same signature 64 times.
		at := sampleAccessToken(t0)
		at.ID = fmt.Sprintf("jti-%02d-0123456789abcdef", i)
		raw, err := f.signer.SignAccessToken(context.Background(), at)
		if err != nil {
			t.Fatal(err)
		}
		dot := strings.LastIndexByte(raw, '.')
		sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
		if err != nil || len(sig) != 64 {
			t.Fatalf("signature %q: %v", raw[dot+1:], err)
		}
		s := new(big.Int).SetBytes(sig[32:])
		if s.Cmp(half) > 0 {
			t.Fatalf("token %d: high s", i)
		}
		mustAccept(t, f.verifier, "low s", raw)
		s.Sub(n, s).FillBytes(sig[32:])
		mustReject(t, f.verifier, "high-s twin", raw[:dot+1]+base64.RawURLEncoding.EncodeToString(sig))
	}
}

// TestSignES256_RFC6979: a unique payload is signed with the nonce of RFC 6979
// §3.2 (HMAC-DRBG with SHA-256); the vector is RFC 6979 A.2.5, P-256, SHA-256,
// message "sample". Its s is above n/2, so the token carries n-s (S35).
func TestSignES256_RFC6979(t *testing.T) {
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	d := unhex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("sample"))
	der, err := signES256(key, digest[:], true)
	if err != nil {
		t.Fatal(err)
	}
	var fixed [64]byte
	sig, err := asn1ToFixed(der, fixed[:])
	if err != nil {
		t.Fatal(err)
	}
	wantR := unhex("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716")
	wantS := unhex("F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8")
	if !bytes.Equal(sig[:32], wantR) || !bytes.Equal(sig[32:], wantS) {
		t.Fatalf("signature = %X, want r = %X, s = %X", sig, wantR, wantS)
	}
	lowS(sig)
	n := elliptic.P256().Params().N
	if got := new(big.Int).Add(new(big.Int).SetBytes(sig[32:]), new(big.Int).SetBytes(wantS)); got.Cmp(n) != 0 {
		t.Fatalf("low s = %X, want n - %X", sig[32:], wantS)
	}
	// Without the promise of a unique input the nonce is hedged: two signatures
	// of the same digest differ, and both verify.
	a, err := signES256(key, digest[:], false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := signES256(key, digest[:], false)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) || bytes.Equal(a, der) {
		t.Fatal("hedged signatures repeat")
	}
	for _, sig := range [][]byte{der, a, b} {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			t.Fatalf("signature %X does not verify", sig)
		}
	}
}

// TestSign_NonceByPayload: access and logout tokens (a random jti each) and ID
// tokens with at_hash are signed with RFC 6979 nonces, the same input giving the
// same token; an ID token without at_hash, which two requests in one second can
// share, is signed with a hedged nonce.
func TestSign_NonceByPayload(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, domain.AlgES256)
	twice := func(name string, sign func() (string, error)) (string, string) {
		t.Helper()
		a, err := sign()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := sign()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return a, b
	}
	at := sampleAccessToken(t0)
	if a, b := twice("access token", func() (string, error) { return f.signer.SignAccessToken(ctx, at) }); a != b {
		t.Error("access token: the same claims gave two signatures")
	}
	lt := domain.LogoutToken{ID: "jti-0123456789abcdef", Subject: "u", Audience: "c", SessionID: "s",
		IssuedAt: t0, ExpiresAt: t0.Add(2 * time.Minute), Alg: domain.AlgES256}
	if a, b := twice("logout token", func() (string, error) { return f.signer.SignLogoutToken(ctx, lt) }); a != b {
		t.Error("logout token: the same claims gave two signatures")
	}
	idt := domain.IDToken{Subject: "u", Audience: "c", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour), Alg: domain.AlgES256}
	if a, b := twice("ID token", func() (string, error) { return f.signer.SignIDToken(ctx, idt) }); a == b {
		t.Error("ID token without at_hash: the same claims gave the same signature")
	}
	idt.AccessToken = "the.access.token"
	if a, b := twice("ID token with at_hash", func() (string, error) { return f.signer.SignIDToken(ctx, idt) }); a != b {
		t.Error("ID token with at_hash: the same claims gave two signatures")
	}
}
