package resourceserver

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

// FuzzVerify: Verify never panics, every failure is a *TokenError, and it accepts
// only the tokens this test had the issuer's keys sign (SECURITY S35). raw is any
// string; the other arguments pick a token of ours and mutate it: a changed,
// inserted or deleted byte, base64 padding or a standard-alphabet spelling, a segment
// from another token, or the other ECDSA signature of the same message (r, n-s).
// Whatever the mutation, the result is refused unless it is byte for byte a token
// we signed.
func FuzzVerify(f *testing.F) {
	keys := []testKey{newKey(f, AlgES256, "es"), newKey(f, AlgRS256, "rs"), newKey(f, AlgEdDSA, "ed")}
	is := newIssuer(f, keys...)
	v := newVerifier(f, is, func(c *Config) { c.RefreshInterval = time.Hour })
	ctx := context.Background()
	signed := map[string]bool{}
	var tokens []string
	for _, k := range keys {
		c := is.claims()
		c["auth_time"] = now0.Add(-time.Minute).Unix()
		other := is.claims()
		other["aud"] = []any{"https://other.example", testAudience}
		delete(other, "scope")
		for _, claims := range []map[string]any{c, other} {
			raw := mint(f, k, nil, claims)
			if _, err := v.Verify(ctx, raw); err != nil {
				f.Fatalf("%s token refused: %v", k.alg, err)
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
		_, err := v.Verify(ctx, raw)
		if err == nil && !signed[raw] {
			t.Fatalf("accepted a token nobody signed: %q", raw)
		}
		var te *TokenError
		if err != nil && (!errors.Is(err, ErrInvalidToken) || !errors.As(err, &te)) {
			t.Fatalf("error %v is not a *TokenError", err)
		}
		orig := tokens[int(which)%len(tokens)]
		m := mutateJWT(orig, tokens, which, mode, pos, b)
		if m == orig || signed[m] {
			return
		}
		if _, err := v.Verify(ctx, m); err == nil {
			t.Fatalf("mutation %d of %q accepted: %q", mode%mutationModes, orig, m)
		}
	})
}

// mutateJWT is the same as adapter/token's (adapters share no code, tests neither).
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
// FuzzVerifyAccessToken in adapter/token). Every character must be base64url or '.'.
func TestSecurity_S35_LineBreaksRefused(t *testing.T) {
	k := newKey(t, AlgEdDSA, "ed")
	is := newIssuer(t, k)
	v := newVerifier(t, is, nil)
	raw := mint(t, k, nil, is.claims())
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	for i := range len(raw) + 1 {
		for _, c := range []string{"\r", "\n", "\r\n", " ", "\t", "="} {
			if _, err := v.Verify(context.Background(), raw[:i]+c+raw[i:]); err == nil {
				t.Fatalf("%q inserted at %d: accepted", c, i)
			}
		}
	}
}
