package domain

import "testing"

// TestSameHTU: RFC 9449 §4.3 compares htu without query and fragment, after the
// normalisations of RFC 3986 §6.2.2-6.2.3, and nothing more.
func TestSameHTU(t *testing.T) {
	const want = "https://auth.test/oauth/token"
	for _, tc := range []struct {
		htu  string
		same bool
	}{
		{"https://auth.test/oauth/token", true},
		{"https://auth.test/oauth/token?x=1", true},
		{"https://auth.test/oauth/token#frag", true},
		{"HTTPS://AUTH.test/oauth/token", true},
		{"https://auth.test:443/oauth/token", true},
		{"https://auth.test/oauth/tok%65n", true},
		{"https://auth.test/%6Fauth/token", true},
		{"https://auth.test/oauth/./token", true},
		{"https://auth.test/oauth/x/../token", true},
		{"https://auth.test/x/../../oauth/token", true},
		{"https://auth.test/oauth/token/", false},
		{"https://auth.test/oauth%2Ftoken", false},
		{"https://auth.test/oauth/tok%6", false},
		{"https://auth.test/oauth/token/..", false},
		{"https://auth.test/OAUTH/token", false},
		{"http://auth.test/oauth/token", false},
		{"https://auth.test:8443/oauth/token", false},
		{"https://evil.test/oauth/token", false},
		{"https://user@auth.test/oauth/token", false},
		{"/oauth/token", false},
		{"ftp://auth.test/oauth/token", false},
		{"", false},
	} {
		if got := SameHTU(tc.htu, want); got != tc.same {
			t.Errorf("SameHTU(%q) = %v, want %v", tc.htu, got, tc.same)
		}
	}
	if !SameHTU("https://auth.test/a%2fb", "https://auth.test/a%2Fb") {
		t.Error("percent-encoding hex digits differ only in case")
	}
	if SameHTU("https://auth.test/a%2Fb", "https://auth.test/a/b") {
		t.Error("an encoded slash is not a slash")
	}
	if !SameHTU("http://[::1]:80/x", "http://[::1]/x") {
		t.Error("IPv6 host with default port")
	}
}
