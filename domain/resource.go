package domain

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Resource is a protected resource (RFC 8707, RFC 9728) an administrator registered:
// an API or an MCP server that accepts Gatehouse's access tokens. A client may ask
// for a resource in its own audience list; an Open resource may be asked for by any
// client, with the user's consent (how dynamically registered clients, such as MCP
// clients, reach an MCP server).
type Resource struct {
	// URI is the resource identifier, the value of `resource` and of tokens' aud.
	URI  string
	Name string
	// Scopes are the scopes the resource understands (its RFC 9728 scopes_supported).
	Scopes    []string
	Open      bool
	CreatedAt time.Time
}

// MaxResourceURI bounds a registered resource identifier (it is a key in the database).
const MaxResourceURI = 255

// checkResourceURI says why s is not an RFC 8707 §2 resource indicator (an absolute
// URI without fragment; with a host for http and https), as the end of a sentence
// naming it; nil when it is one.
func checkResourceURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Fragment != "" || u.RawFragment != "" || containsCTL(s) || strings.ContainsAny(s, " \"\\<>") {
		return fmt.Errorf("%q must be an absolute URI without fragment (RFC 8707 §2)", s)
	}
	if (u.Scheme == "https" || u.Scheme == "http") && u.Host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	return nil
}

// ValidateResource checks what an administrator registers: an absolute URI without
// fragment (RFC 8707 §2), a name, valid scope tokens.
func ValidateResource(r Resource) error {
	if r.URI == "" {
		return errors.New("the resource URI is required")
	}
	if len(r.URI) > MaxResourceURI || !utf8.ValidString(r.URI) {
		return fmt.Errorf("the resource URI must be valid text of at most %d bytes", MaxResourceURI)
	}
	if err := checkResourceURI(r.URI); err != nil {
		return fmt.Errorf("the resource URI %w", err)
	}
	if r.Name == "" || utf8.RuneCountInString(r.Name) > 100 || !utf8.ValidString(r.Name) || containsCTL(r.Name) {
		return errors.New("the resource name is required: text of at most 100 characters")
	}
	for _, s := range r.Scopes {
		if !ValidScopeToken(s) {
			return fmt.Errorf("scope %q is not a valid scope token", s)
		}
		if s == ScopeAdmin {
			// The admin API's scope is an administrator's to give, client by client
			// (SECURITY S55); an open resource would offer it to any client.
			return fmt.Errorf("scope %q is the admin API's, which an administrator gives to clients one by one", s)
		}
	}
	return nil
}

// OpenScopes are the scopes an open resource lets any client that asks for it ask
// for too, beyond the client's own list, with the user's consent: the resource's own
// scopes (an MCP server's "files:read"), not those that say what a client learns of
// the user (openid, profile, email, phone, groups, offline_access: each client's own
// list says that), and never the admin API's.
func (r Resource) OpenScopes() []string {
	if !r.Open {
		return nil
	}
	var out []string
	for _, s := range r.Scopes {
		if !IsUserScope(s) && s != ScopeAdmin {
			out = append(out, s)
		}
	}
	return out
}

func containsCTL(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// AudienceWithOpen is Audience, where a resource outside the client's audience list
// is allowed too when it is one of open (resources registered as open). It returns
// the audience and the open resources it used, which the user must consent to.
func (c Client) AudienceWithOpen(resources []string, def string, open []string) (aud, consent []string, err error) {
	if len(resources) == 0 {
		return []string{def}, nil, nil
	}
	for _, r := range resources {
		switch {
		case slices.Contains(c.Audiences, r):
		case slices.Contains(open, r):
			if !slices.Contains(consent, r) {
				consent = append(consent, r)
			}
		default:
			return nil, nil, ErrInvalidTarget.WithDescription("the client may not ask for resource %q", r)
		}
	}
	return DistinctResources(resources), consent, nil
}

// DistinctResources is resources without repeats, in the order first given: a
// resource named twice is one audience (RFC 8707 §2), not two entries of aud.
func DistinctResources(resources []string) []string {
	out := make([]string, 0, len(resources))
	for _, r := range resources {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// ResourceConsentPrefix marks, in a remembered consent's scope list, a consent to an
// open resource (ResourceConsentItem); no scope token starts so.
const ResourceConsentPrefix = "resource:"

// ResourceConsentItem is how a consent to open resource uri is remembered.
func ResourceConsentItem(uri string) string { return ResourceConsentPrefix + uri }
