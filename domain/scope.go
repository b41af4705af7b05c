package domain

import (
	"slices"
	"strings"
)

// Well-known scopes.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
)

// IsUserScope reports whether s is one of the scopes that say what a client learns of
// the user or may do in the user's absence (OpenID Connect Core §5.4, offline_access,
// groups), rather than a scope of some API.
func IsUserScope(s string) bool {
	switch s {
	case ScopeOpenID, ScopeProfile, ScopeEmail, ScopePhone, ScopeGroups, ScopeOfflineAccess:
		return true
	}
	return false
}

// DefaultClientScopes is what a client may ask when registered without --scope.
var DefaultClientScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeOfflineAccess}

// MaxScopeTokens bounds how many scope tokens one request may carry, a repeated token
// counting each time it appears: no client needs more, and ParseScope reads no further.
const MaxScopeTokens = 64

// ParseScope splits an RFC 6749 §3.3 scope string into tokens, dropping duplicates and
// keeping order. Each token must be 1*( %x21 / %x23-5B / %x5D-7E ); tokens are separated
// by single spaces, but runs of spaces are tolerated as clients send them.
//
// Its work is bounded by MaxScopeTokens whatever the input: it stops with "too many
// scope tokens" at the first token past the limit, without reading the rest, and
// each token is compared with at most MaxScopeTokens kept before it. (It once split
// the whole string first and compared every token with every other, so 16,000
// distinct tokens cost a fraction of a second of CPU before the limit was checked.)
// Callers cap the string's length before (MaxParamBytes at the endpoints).
func ParseScope(s string) ([]string, error) {
	var out []string
	read := 0
	for rest := s; rest != ""; {
		var f string
		f, rest, _ = strings.Cut(rest, " ")
		if f == "" {
			continue
		}
		if read++; read > MaxScopeTokens {
			return nil, ErrInvalidScope.WithDescription("too many scope tokens (at most %d)", MaxScopeTokens)
		}
		if !ValidScopeToken(f) {
			return nil, ErrInvalidScope.WithDescription("malformed scope token")
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// ValidScopeToken reports whether s is a scope-token of RFC 6749 §3.3.
func ValidScopeToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5C || c > 0x7E {
			return false
		}
	}
	return true
}

// ScopeString joins scope tokens with single spaces.
func ScopeString(scope []string) string { return strings.Join(scope, " ") }

// ScopeCovers reports whether every token of want is in have.
func ScopeCovers(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// SameScope reports whether a and b hold the same tokens, in any order.
func SameScope(a, b []string) bool {
	return ScopeCovers(a, b) && ScopeCovers(b, a)
}

// ScopeDescriptions tell a user on the consent page what each well-known scope allows.
var ScopeDescriptions = map[string]string{
	ScopeOpenID:        "Confirm your identity (your user id)",
	ScopeProfile:       "See your username, name, picture, language and time zone",
	ScopeEmail:         "See your email address",
	ScopePhone:         "See your phone number",
	ScopeGroups:        "See the groups you are in",
	ScopeOfflineAccess: "Stay signed in: keep access while you are away",
}

// DescribeScope returns the words shown for a scope on the consent page, or "" for a
// scope without a description: the page then shows the scope's name, once (not
// "Access to api:read" next to the name again).
func DescribeScope(s string) string {
	return ScopeDescriptions[s]
}
