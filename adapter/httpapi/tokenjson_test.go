package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The hand-built token answer is byte for byte what encoding/json (c.JSON) wrote,
// also for strings it must escape.
func TestTokenResponseJSON_SameAsEncodingJSON(t *testing.T) {
	odd := []string{"", "api:read api:write", `a"b\c`, "<script>&amp;", "tab\there\nnl", "\x00\x1f\x7f",
		"ünïcode ✓", "\u2028\u2029", "bad \xff utf-8", "eyJhbGciOiJFUzI1NiJ9.e30.sig-_"}
	for _, s := range odd {
		for _, r := range []tokenResponse{
			{AccessToken: s, TokenType: "Bearer", ExpiresIn: 900},
			{AccessToken: "at", TokenType: s, ExpiresIn: -1, RefreshToken: s, IDToken: s, Scope: s, IssuedTokenType: s},
			{AccessToken: "at", TokenType: "DPoP", ExpiresIn: 0, Scope: s},
		} {
			assertSameJSON(t, r, r.appendJSON(nil))
		}
	}
}

func FuzzTokenResponseJSON(f *testing.F) {
	f.Add("at", "Bearer", int64(900), "rt", "", "openid <x>")
	f.Fuzz(func(t *testing.T, at, typ string, exp int64, rt, id, scope string) {
		r := tokenResponse{AccessToken: at, TokenType: typ, ExpiresIn: exp, RefreshToken: rt, IDToken: id, Scope: scope}
		assertSameJSON(t, r, r.appendJSON(nil))
	})
}

// The hand-built introspection answer is byte for byte what encoding/json wrote,
// for every field left out or present, and for strings it must escape.
func TestIntrospectionResponseJSON_SameAsEncodingJSON(t *testing.T) {
	odd := []string{"", "api:read api:write", `a"b\c`, "<script>&amp;", "tab\there\nnl", "\x00\x1f\x7f",
		"ünïcode ✓", "\u2028\u2029", "bad \xff utf-8", "https://id.example.com"}
	for _, s := range odd {
		for _, r := range []introspectionResponse{
			{},
			{Active: true, Scope: s, ClientID: s, Sub: s, Aud: []string{s}, Iss: s, Exp: 1700000900, Iat: 1700000000,
				JTI: s, TokenType: s, TokenUse: s, Cnf: &cnf{JKT: s}},
			{Active: true, Aud: []string{"a", s, "c"}, Exp: -1},
			{Active: true, Aud: []string{}, Iat: 5, TokenUse: s},
			{Sub: s, Cnf: &cnf{}},
		} {
			assertSameJSON(t, &r, r.appendJSON(nil))
		}
	}
}

func FuzzIntrospectionResponseJSON(f *testing.F) {
	f.Add(true, "api:read", "client", "user", "aud1", "aud2", int64(1700000900), "jti", "jkt")
	f.Fuzz(func(t *testing.T, active bool, scope, client, sub, aud1, aud2 string, exp int64, jti, jkt string) {
		r := introspectionResponse{Active: active, Scope: scope, ClientID: client, Sub: sub, Exp: exp, Iat: -exp, JTI: jti}
		if aud1 != "" {
			r.Aud = []string{aud1, aud2}
		}
		if jkt != "" {
			r.Cnf = &cnf{JKT: jkt}
		}
		assertSameJSON(t, &r, r.appendJSON(nil))
	})
}

// assertSameJSON fails t unless got is what encoding/json's Encoder writes for v.
func assertSameJSON(t *testing.T, v any, got []byte) {
	t.Helper()
	var want bytes.Buffer
	if err := json.NewEncoder(&want).Encode(v); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("got %s\nwant %s", got, want.Bytes())
	}
}
