package domain_test

import (
	"strings"
	"testing"
	"time"

	"gatehouse/domain"
)

func TestParseRequestURI(t *testing.T) {
	for uri, want := range map[string]string{
		domain.RequestURIPrefix + "abc_DEF-123":            "abc_DEF-123",
		domain.RequestURIPrefix:                            "",
		"urn:ietf:params:oauth:request_uri":                "",
		"https://example.com/r/abc":                        "",
		"URN:IETF:PARAMS:OAUTH:REQUEST_URI:abc":            "",
		domain.RequestURIPrefix + "a/b":                    "",
		domain.RequestURIPrefix + "a b":                    "",
		domain.RequestURIPrefix + "a%2Fb":                  "",
		domain.RequestURIPrefix + "é":                      "",
		domain.RequestURIPrefix + strings.Repeat("A", 128): strings.Repeat("A", 128),
		domain.RequestURIPrefix + strings.Repeat("A", 129): "",
	} {
		got, ok := domain.ParseRequestURI(uri)
		if got != want || ok != (want != "") {
			t.Errorf("ParseRequestURI(%q) = %q, %v; want %q", uri, got, ok, want)
		}
	}
}

func TestPushedRequestExpired(t *testing.T) {
	now := time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)
	r := domain.PushedRequest{ExpiresAt: now.Add(time.Second)}
	if r.Expired(now) || !r.Expired(now.Add(time.Second)) || !r.Expired(now.Add(time.Minute)) {
		t.Errorf("Expired is wrong around %v", r.ExpiresAt)
	}
}
