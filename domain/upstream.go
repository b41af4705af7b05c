package domain

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// The kinds of upstream identity providers.
const (
	// UpstreamOIDC is any OpenID Connect provider, found by discovery from its issuer.
	UpstreamOIDC = "oidc"
	// UpstreamGitHub is a GitHub (or GitHub Enterprise) OAuth app: no ID token, the
	// identity comes from its REST API.
	UpstreamGitHub = "github"
)

// GitHub's public endpoints, the defaults of a github upstream.
const (
	GitHubWebURL = "https://github.com"
	GitHubAPIURL = "https://api.github.com"
)

// Upstream is another identity provider users may sign in with ("Continue with
// Name"). Its client secret is stored only sealed with the server's key.
type Upstream struct {
	ID   string
	Name string
	Type string // UpstreamOIDC or UpstreamGitHub
	// Issuer is an oidc upstream's issuer (discovery at Issuer/.well-known/openid-configuration).
	Issuer       string
	ClientID     string
	SealedSecret []byte
	Scopes       []string
	// APIURL and WebURL are a github upstream's REST base and OAuth base.
	APIURL    string
	WebURL    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// LinkedIdentity ties an identity at an upstream (its subject there) to a user here.
// An upstream subject belongs to at most one user; a user may have several.
type LinkedIdentity struct {
	UpstreamID string
	Subject    string
	UserID     string
	// Email and Username are what the upstream said when last seen, for the account page.
	Email      string
	Username   string
	CreatedAt  time.Time
	LastUsedAt time.Time
}

var upstreamIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidUpstreamID reports whether id has the form of an upstream id: anything else
// (a NUL byte in a URL, say) names no upstream and need not be looked up.
func ValidUpstreamID(id string) bool { return upstreamIDPattern.MatchString(id) }

// ValidateUpstream checks an upstream's settings; field names the bad one (the CLI
// flag without its dashes).
func ValidateUpstream(u Upstream) (field string, err error) {
	if !upstreamIDPattern.MatchString(u.ID) {
		return "id", fmt.Errorf("id must be 1 to 63 lower-case letters, digits, - or _, starting with a letter or digit")
	}
	if strings.TrimSpace(u.Name) == "" || len([]rune(u.Name)) > 100 || strings.TrimSpace(u.Name) != u.Name {
		return "name", fmt.Errorf("name must be 1 to 100 characters without leading or trailing spaces")
	}
	for _, r := range u.Name {
		if r < 0x20 || r == 0x7f {
			return "name", fmt.Errorf("name must not contain control characters")
		}
	}
	if u.ClientID == "" || len(u.ClientID) > 255 {
		return "client-id", fmt.Errorf("client id must be 1 to 255 characters")
	}
	switch u.Type {
	case UpstreamOIDC:
		if err := validateUpstreamURL(u.Issuer); err != nil {
			return "issuer", fmt.Errorf("issuer %w", err)
		}
		if u.APIURL != "" || u.WebURL != "" {
			return "api-url", fmt.Errorf("api-url and web-url are for github upstreams only")
		}
		if len(u.Scopes) > 0 && !containsString(u.Scopes, "openid") {
			return "scope", fmt.Errorf("the scope of an oidc upstream must include openid")
		}
	case UpstreamGitHub:
		if u.Issuer != "" {
			return "issuer", fmt.Errorf("issuer is for oidc upstreams only (github takes --api-url and --web-url)")
		}
		if err := validateUpstreamURL(u.APIURL); err != nil {
			return "api-url", fmt.Errorf("api-url %w", err)
		}
		if err := validateUpstreamURL(u.WebURL); err != nil {
			return "web-url", fmt.Errorf("web-url %w", err)
		}
	default:
		return "type", fmt.Errorf("type must be oidc or github")
	}
	for _, s := range u.Scopes {
		if !validScopeToken(s) {
			return "scope", fmt.Errorf("scope %q is not a valid scope", s)
		}
	}
	return "", nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// validScopeToken: RFC 6749 §3.3 scope-token characters.
func validScopeToken(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, r := range s {
		if r < 0x21 || r == 0x22 || r == 0x5c || r > 0x7e {
			return false
		}
	}
	return true
}

// validateUpstreamURL: an absolute http(s) URL without query or fragment.
func validateUpstreamURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("must be an absolute http or https URL without query, fragment or credentials")
	}
	return nil
}

// DefaultUpstreamScopes are the scopes asked of an upstream registered without any.
func DefaultUpstreamScopes(kind string) []string {
	if kind == UpstreamGitHub {
		return []string{"read:user", "user:email"}
	}
	return []string{"openid", "email", "profile"}
}
