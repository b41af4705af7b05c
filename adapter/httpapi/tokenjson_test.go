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
			var want bytes.Buffer
			if err := json.NewEncoder(&want).Encode(r); err != nil {
				t.Fatal(err)
			}
			if got := r.appendJSON(nil); !bytes.Equal(got, want.Bytes()) {
				t.Errorf("for %q:\n got %s\nwant %s", s, got, want.Bytes())
			}
		}
	}
}

func FuzzTokenResponseJSON(f *testing.F) {
	f.Add("at", "Bearer", int64(900), "rt", "", "openid <x>")
	f.Fuzz(func(t *testing.T, at, typ string, exp int64, rt, id, scope string) {
		r := tokenResponse{AccessToken: at, TokenType: typ, ExpiresIn: exp, RefreshToken: rt, IDToken: id, Scope: scope}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(r); err != nil {
			t.Fatal(err)
		}
		if got := r.appendJSON(nil); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("got %s\nwant %s", got, want.Bytes())
		}
	})
}
