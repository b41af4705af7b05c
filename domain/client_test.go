package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestMatchRedirectURI(t *testing.T) {
	c := Client{RedirectURIs: []string{
		"https://app.example.com/cb",
		"https://app.example.com/q?a=1&b=2",
		"http://127.0.0.1/loopback",
		"http://[::1]/v6",
		"http://localhost:8000/local",
		"com.example.app:/oauth",
	}}
	cases := []struct {
		uri  string
		want bool
	}{
		{"https://app.example.com/cb", true},
		{"https://app.example.com/cb/", false},
		{"https://APP.example.com/cb", false},
		{"https://app.example.com/CB", false},
		{"https://app.example.com/cb?x=1", false},
		{"https://app.example.com/q?b=2&a=1", false},
		{"https://app.example.com/q?a=1&b=2", true},
		{"https://app.example.com%2Fcb", false},
		{"https://app.example.com/x/../cb", false},
		{"https://app.example.com/cb;x", false},
		{"https://evil@app.example.com/cb", false},
		{"https://app.example.com\\@evil.com/cb", false},
		{"https://sub.app.example.com/cb", false},
		{"https://app.example.com.evil.com/cb", false},
		{"https://app.example.com:8443/cb", false},
		{"http://app.example.com/cb", false},
		{"https://app.example.com/cb#frag", false},
		{"http://127.0.0.1:53111/loopback", true},
		{"http://127.0.0.1/loopback", true},
		{"http://127.0.0.1:53111/loopback/", false},
		{"http://127.0.0.1:53111/loopback?x", false},
		{"http://127.0.0.1:abc/loopback", false},
		{"http://user@127.0.0.1:5000/loopback", false},
		{"https://127.0.0.1:53111/loopback", false},
		{"http://[::1]:60000/v6", true},
		// Only the port may differ, byte for byte (found by FuzzMatchRedirectURI).
		{"HTTP://127.0.0.1:5000/loopback", false},
		{"http://127.0.0.1:5000/loopback#", false},
		{"http://127.0.0.1:5000/loopback?", false},
		{"http://127.0.0.1:5000/%6coopback", false},
		// A port is 1 to 65535 without leading zeros, or absent with its colon
		// (RFC 3986 §3.2.3, SECURITY S2).
		{"http://127.0.0.1:/loopback", false},
		{"http://127.0.0.1:0/loopback", false},
		{"http://127.0.0.1:00080/loopback", false},
		{"http://127.0.0.1:080/loopback", false},
		{"http://127.0.0.1:65536/loopback", false},
		{"http://127.0.0.1:99999/loopback", false},
		{"http://127.0.0.1:+80/loopback", false},
		{"http://127.0.0.1:1/loopback", true},
		{"http://127.0.0.1:65535/loopback", true},
		{"http://[::1]:/v6", false},
		{"http://[::1]:0/v6", false},
		{"http://[::1]:00080/v6", false},
		{"http://[::1]:99999/v6", false},
		{"http://[::1]:80/v6", true},
		{"http://localhost:9000/local", false},
		{"http://localhost:8000/local", true},
		{"com.example.app:/oauth", true},
		{"com.example.app:/oauth2", false},
		{"", false},
	}
	for _, tc := range cases {
		if _, got := c.MatchRedirectURI(tc.uri); got != tc.want {
			t.Errorf("MatchRedirectURI(%q) = %v, want %v", tc.uri, got, tc.want)
		}
	}
}

func TestValidPort(t *testing.T) {
	for p, want := range map[string]bool{
		"1": true, "80": true, "443": true, "8080": true, "65535": true,
		"": false, "0": false, "00": false, "00080": false, "080": false, "01": false, "65536": false, "99999": false,
		"100000": false, "4294967377": false, "+80": false, "-1": false, " 80": false, "80 ": false, "8a": false, "\u0668": false,
	} {
		if got := validPort(p); got != want {
			t.Errorf("validPort(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestValidateRedirectURI(t *testing.T) {
	good := []string{"https://app.example.com/cb", "http://127.0.0.1/cb", "http://[::1]:8080/cb", "http://localhost/cb", "com.example.app:/cb", "https://app.example.com/cb?x=1",
		"https://app.example.com:1/cb", "https://app.example.com:65535/cb", "http://127.0.0.1:8080/cb", "http://localhost:5000/cb", "com.example.app://host:8080/cb"}
	bad := []string{"", "/relative", "app.example.com/cb", "https://app.example.com/cb#x", "https://*.example.com/cb", "javascript:alert(1)",
		"data:text/html,x", "http://app.example.com/cb", "https://user:pw@app.example.com/cb", "myapp:/cb", "https:///nohost", "HTTPS://app.example.com/cb",
		"https://app.example.com/\u00a0cb", "https://app.example.com/cb\u2028", "https://app.example.com/\u0085",
		// Ports: none after a colon, 0, leading zeros, above 65535 (SECURITY S2, S4).
		"https://app.example.com:/cb", "https://app.example.com:0/cb", "https://app.example.com:00080/cb", "https://app.example.com:080/cb",
		"https://app.example.com:65536/cb", "https://app.example.com:99999/cb", "https://app.example.com:100000/cb",
		"http://127.0.0.1:/cb", "http://127.0.0.1:0/cb", "http://127.0.0.1:00080/cb", "http://127.0.0.1:99999/cb",
		"http://[::1]:/cb", "http://[::1]:0/cb", "http://[::1]:00080/cb", "http://[::1]:99999/cb",
		"http://localhost:/cb", "http://localhost:0/cb", "http://localhost:00080/cb", "http://localhost:99999/cb",
		"https://app.example.com:", "com.example.app://host:0/cb"}
	for _, u := range good {
		if err := ValidateRedirectURI(u); err != nil {
			t.Errorf("%q refused: %v", u, err)
		}
	}
	for _, u := range bad {
		if err := ValidateRedirectURI(u); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}

func TestPostLogoutRedirectURIs(t *testing.T) {
	c := Client{Name: "rp", GrantTypes: []string{GrantClientCredentials},
		PostLogoutRedirectURIs: []string{"https://app.example.com/bye", "http://127.0.0.1:8080/bye"}}
	if err := ValidateClient(c); err != nil {
		t.Fatalf("valid client refused: %v", err)
	}
	for uri, want := range map[string]bool{
		"https://app.example.com/bye":  true,
		"http://127.0.0.1:8080/bye":    true,
		"":                             false,
		"https://app.example.com/bye/": false,
		"https://app.example.com/BYE":  false,
		"https://app.example.com/bye?": false,
		// Exact, unlike redirect_uri at the authorization endpoint: no loopback port exception.
		"http://127.0.0.1:9090/bye": false,
		"https://evil.example/bye":  false,
	} {
		if got := c.AllowsPostLogoutRedirectURI(uri); got != want {
			t.Errorf("AllowsPostLogoutRedirectURI(%q) = %v, want %v", uri, got, want)
		}
	}
	for _, bad := range []string{"https://app.example.com/bye#x", "javascript:alert(1)", "http://app.example.com/bye", "/bye"} {
		c.PostLogoutRedirectURIs = []string{bad}
		if err := ValidateClient(c); err == nil || !strings.Contains(err.Error(), "post-logout") {
			t.Errorf("post-logout redirect URI %q: %v, want refused", bad, err)
		}
	}
}

func TestNarrowScopeAndAudience(t *testing.T) {
	c := Client{Scopes: []string{"openid", "api:read"}, Audiences: []string{"https://api"}}
	if s, err := c.NarrowScope(nil); err != nil || len(s) != 2 {
		t.Fatalf("empty request: %v %v", s, err)
	}
	if _, err := c.NarrowScope([]string{"api:write"}); !errors.Is(err, ErrInvalidScope) {
		t.Fatalf("wider scope: %v", err)
	}
	if aud, err := c.Audience(nil, "https://default"); err != nil || aud[0] != "https://default" {
		t.Fatalf("default audience: %v %v", aud, err)
	}
	if _, err := c.Audience([]string{"https://other"}, "d"); !errors.Is(err, ErrInvalidTarget) {
		t.Fatalf("foreign resource: %v", err)
	}
}

func TestParseScope(t *testing.T) {
	cases := []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 0, true}, {"openid", 1, true}, {"openid  profile openid", 2, true}, {"api:read", 1, true},
		{"a\"b", 0, false}, {"a\\b", 0, false}, {"caf\u00e9", 0, false}, {"a\tb", 0, false},
	}
	for _, tc := range cases {
		got, err := ParseScope(tc.in)
		if (err == nil) != tc.ok || len(got) != tc.want {
			t.Errorf("ParseScope(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestPKCE(t *testing.T) {
	v := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 Appendix B
	ch := "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if !ValidCodeChallenge(ch) || !VerifyPKCE(ch, v) {
		t.Fatal("RFC 7636 example must verify")
	}
	if VerifyPKCE(ch, v[:42]) || VerifyPKCE(ch, v+"x") || ValidCodeChallenge(ch[:42]) || ValidCodeChallenge(ch[:42]+"=") {
		t.Fatal("malformed inputs must fail")
	}
	if ValidCodeVerifier(string(make([]byte, 129))) {
		t.Fatal("129-character verifier accepted")
	}
}

func TestErrorIsByCode(t *testing.T) {
	err := ErrInvalidGrant.WithDescription("x")
	if !errors.Is(err, ErrInvalidGrant) || errors.Is(err, ErrInvalidScope) {
		t.Fatal("errors.Is must compare codes")
	}
}
