package token

import (
	"encoding/json"
	"strings"
	"testing"
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
