package domain

import "time"

// Consent records that a user let a client act with a set of scopes.
type Consent struct {
	UserID   string
	ClientID string
	// RedirectURI is the redirect URI the consent holds for, byte for byte (a
	// loopback port included); empty when it holds for every redirect URI of the
	// client. See Client.ConsentRedirectURI.
	RedirectURI string
	Scope       []string
	GrantedAt   time.Time
}

// Covers reports whether the consent includes every requested scope.
func (c Consent) Covers(scope []string) bool { return ScopeCovers(c.Scope, scope) }

// ConsentRedirectURI is the redirect URI that a consent given to the client for a
// request answering to redirectURI is remembered for.
//
// A public client: redirectURI itself, exactly as the request used it. Nothing proves
// who sends a public client's id, and a loopback redirect URI matches on any port
// (RFC 8252 §7.3), so any program on the user's machine can claim the id and a port
// of its own: consent given to the real application at one URI must not let another
// program obtain tokens silently at another (RFC 8252 §8.6, RFC 6749 §10.2).
//
// A confidential client: "", every redirect URI. Its codes are useless without its
// credentials at the token endpoint, so the user's consent is to the client.
func (c Client) ConsentRedirectURI(redirectURI string) string {
	if c.Public {
		return redirectURI
	}
	return ""
}
