package domain

import (
	"slices"
	"strings"
	"testing"
)

func TestValidateResource(t *testing.T) {
	good := []Resource{
		{URI: "https://mcp.example.com/mcp", Name: "MCP"},
		{URI: "urn:example:api", Name: "API", Scopes: []string{"a:read", "b"}},
		{URI: "http://127.0.0.1:9091/mcp", Name: "local"},
	}
	for _, r := range good {
		if err := ValidateResource(r); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
	bad := []Resource{
		{Name: "no uri"},
		{URI: "relative/path", Name: "x"},
		{URI: "https://x.example/#f", Name: "x"},
		{URI: "https:///nohost", Name: "x"},
		{URI: "https://x.example/a b", Name: "x"},
		{URI: "https://x.example/" + strings.Repeat("a", MaxResourceURI), Name: "x"},
		{URI: "https://x.example/", Name: ""},
		{URI: "https://x.example/", Name: "line\nbreak"},
		{URI: "https://x.example/", Name: "x", Scopes: []string{"bad scope"}},
		{URI: "https://x.example/", Name: "x", Scopes: []string{"files:read", ScopeAdmin}, Open: true},
	}
	for _, r := range bad {
		if err := ValidateResource(r); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}

func TestResource_OpenScopes(t *testing.T) {
	r := Resource{URI: "https://mcp.example/mcp", Open: true, Scopes: []string{"openid", "files:read", "profile",
		"email", "phone", "groups", "offline_access", ScopeAdmin, "files:write"}}
	if got := r.OpenScopes(); !slices.Equal(got, []string{"files:read", "files:write"}) {
		t.Fatalf("open resource offers %v", got)
	}
	r.Open = false
	if got := r.OpenScopes(); got != nil {
		t.Fatalf("closed resource offers %v", got)
	}
}

func TestAudienceWithOpen(t *testing.T) {
	c := Client{Audiences: []string{"https://own.example/"}}
	aud, consent, err := c.AudienceWithOpen([]string{"https://own.example/", "https://open.example/mcp"}, "iss",
		[]string{"https://open.example/mcp"})
	if err != nil || !slices.Equal(aud, []string{"https://own.example/", "https://open.example/mcp"}) ||
		!slices.Equal(consent, []string{"https://open.example/mcp"}) {
		t.Fatalf("aud %v consent %v err %v", aud, consent, err)
	}
	if aud, _, err := c.AudienceWithOpen(nil, "iss", nil); err != nil || !slices.Equal(aud, []string{"iss"}) {
		t.Fatalf("default: %v %v", aud, err)
	}
	if _, _, err := c.AudienceWithOpen([]string{"https://closed.example/"}, "iss", []string{"https://open.example/mcp"}); err == nil ||
		!strings.Contains(err.Error(), "invalid_target") {
		t.Fatalf("closed resource: %v", err)
	}
}

// TestAudience_RepeatsAreOne: a resource named twice is one entry of aud, in the
// order first given, by both resolutions.
func TestAudience_RepeatsAreOne(t *testing.T) {
	c := Client{Audiences: []string{"https://a.example/", "https://b.example/"}}
	want := []string{"https://b.example/", "https://a.example/"}
	aud, err := c.Audience([]string{"https://b.example/", "https://a.example/", "https://b.example/", "https://a.example/"}, "iss")
	if err != nil || !slices.Equal(aud, want) {
		t.Errorf("Audience: %v %v, want %v", aud, err, want)
	}
	aud, consent, err := c.AudienceWithOpen([]string{"https://b.example/", "https://open.example/", "https://b.example/",
		"https://open.example/", "https://a.example/"}, "iss", []string{"https://open.example/"})
	if err != nil || !slices.Equal(aud, []string{"https://b.example/", "https://open.example/", "https://a.example/"}) ||
		!slices.Equal(consent, []string{"https://open.example/"}) {
		t.Errorf("AudienceWithOpen: %v %v %v", aud, consent, err)
	}
}
