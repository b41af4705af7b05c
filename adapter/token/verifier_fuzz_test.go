package token

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"gatehouse/domain"
)

// FuzzVerifyAccessToken: VerifyAccessToken never panics, and accepts only the tokens
// this test had the ring's keys sign (SECURITY S35). raw is any string; the other
// arguments pick a token of ours and mutate it: a changed, inserted or deleted byte,
// base64 padding or a standard-alphabet spelling, a segment from another token, or
// the other ECDSA signature of the same message (r, n-s). Whatever the mutation, the
// result is refused unless it is byte for byte a token we signed.
func FuzzVerifyAccessToken(f *testing.F) {
	fx := newFixture(f, domain.AlgES256)
	signed := map[string]bool{}
	var tokens []string
	ctx := context.Background()
	for _, alg := range domain.SupportedAlgs {
		s, err := NewSigner(fx.ring, SignerConfig{Issuer: testIssuer, AccessAlg: alg})
		if err != nil {
			f.Fatal(err)
		}
		for _, at := range []domain.AccessToken{sampleAccessToken(t0), func() domain.AccessToken {
			at := sampleAccessToken(t0)
			at.Audience, at.Scope, at.AuthTime, at.FamilyID = []string{"a", "b"}, nil, time.Time{}, ""
			return at
		}()} {
			raw, err := s.SignAccessToken(ctx, at)
			if err != nil {
				f.Fatal(err)
			}
			if _, err := fx.verifier.VerifyAccessToken(ctx, raw); err != nil {
				f.Fatalf("%s token refused: %v", alg, err)
			}
			signed[raw] = true
			tokens = append(tokens, raw)
		}
	}
	f.Add("", uint8(0), uint8(0), uint16(0), byte(0))
	f.Add("a.b.c", uint8(1), uint8(0), uint16(5), byte('x'))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", uint8(2), uint8(1), uint16(20), byte('='))
	for mode := range uint8(mutationModes) {
		for i := range tokens {
			f.Add("", uint8(i), mode, uint16(17*int(mode)+i), byte('A'+mode))
		}
	}
	for i := range tokens { // a line break inserted into the header, payload, signature
		for _, pos := range []uint16{20, 200, uint16(len(tokens[i]) - 5)} {
			f.Add("", uint8(i), uint8(1), pos, byte('\r'))
			f.Add("", uint8(i), uint8(1), pos, byte('\n'))
		}
	}
	f.Fuzz(func(t *testing.T, raw string, which, mode uint8, pos uint16, b byte) {
		if _, err := fx.verifier.VerifyAccessToken(ctx, raw); err == nil && !signed[raw] {
			t.Fatalf("accepted a token nobody signed: %q", raw)
		} else if err != nil && !errors.Is(err, domain.ErrInvalidToken) {
			t.Fatalf("error %v is not invalid_token", err)
		}
		orig := tokens[int(which)%len(tokens)]
		m := mutateJWT(orig, tokens, which, mode, pos, b)
		if m == orig || signed[m] {
			return
		}
		if _, err := fx.verifier.VerifyAccessToken(ctx, m); err == nil {
			t.Fatalf("mutation %d of %q accepted: %q", mode%mutationModes, orig, m)
		}
	})
}

const mutationModes = 8

// mutateJWT changes a compact JWS in one of mutationModes ways.
func mutateJWT(tok string, all []string, which, mode uint8, pos uint16, b byte) string {
	parts := strings.Split(tok, ".")
	seg := int(pos) % 3
	switch mode % mutationModes {
	case 0: // replace a byte
		i := int(pos) % len(tok)
		return tok[:i] + string([]byte{b}) + tok[i+1:]
	case 1: // insert a byte
		i := int(pos) % (len(tok) + 1)
		return tok[:i] + string([]byte{b}) + tok[i:]
	case 2: // delete a byte
		i := int(pos) % len(tok)
		return tok[:i] + tok[i+1:]
	case 3: // base64 padding on a segment (1 or 2 '=')
		parts[seg] += strings.Repeat("=", 1+int(b)%2)
	case 4: // standard alphabet, or padded standard base64, for one segment
		dec, err := base64.RawURLEncoding.DecodeString(parts[seg])
		if err != nil {
			return tok
		}
		if b%2 == 0 {
			parts[seg] = base64.StdEncoding.EncodeToString(dec)
		} else {
			parts[seg] = base64.URLEncoding.EncodeToString(dec)
		}
	case 5: // a segment taken from another token
		other := strings.Split(all[int(b)%len(all)], ".")
		parts[seg] = other[seg]
	case 6: // the other ECDSA P-256 signature of the same message: (r, n-s)
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || len(sig) != 64 {
			return tok
		}
		n := elliptic.P256().Params().N
		s := new(big.Int).Sub(n, new(big.Int).SetBytes(sig[32:]))
		s.FillBytes(sig[32:])
		parts[2] = base64.RawURLEncoding.EncodeToString(sig)
	case 7: // flip the unused low bits of a segment's last character
		p := parts[seg]
		if len(p)%4 == 0 || p == "" {
			return tok
		}
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		i := strings.IndexByte(alphabet, p[len(p)-1])
		if i < 0 {
			return tok
		}
		unused := 2 // 3 characters carry 2 bytes and 2 spare bits
		if len(p)%4 == 2 {
			unused = 4 // 2 characters carry 1 byte and 4 spare bits
		}
		mask := 1<<unused - 1
		j := i ^ (1 + int(b)%mask)
		parts[seg] = p[:len(p)-1] + alphabet[j:j+1]
	}
	return strings.Join(parts, ".")
}

// TestSecurity_S35_LineBreaksRefused: base64 decoding in Go skips CR and LF, even in
// strict mode, so a token with a line break inserted anywhere verified (found by
// FuzzVerifyAccessToken). Every character must be base64url or '.'.
func TestSecurity_S35_LineBreaksRefused(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	raw, err := f.signer.SignAccessToken(context.Background(), sampleAccessToken(t0))
	if err != nil {
		t.Fatal(err)
	}
	mustAccept(t, f.verifier, "original", raw)
	for i := range len(raw) + 1 {
		for _, c := range []string{"\r", "\n", "\r\n", " ", "\t", "="} {
			if _, err := f.verifier.VerifyAccessToken(context.Background(), raw[:i]+c+raw[i:]); err == nil {
				t.Fatalf("%q inserted at %d: accepted", c, i)
			}
		}
	}
}
