package domain

import (
	"slices"
	"time"
)

// AuthRequest is an authorization request (RFC 6749 §4.1.1) waiting for the user to
// log in or consent. It is stored between the browser's page views, bound to the
// browser that started it, and deleted when it completes: a request is answered once.
type AuthRequest struct {
	// ID is an unguessable handle (256 random bits) carried in page URLs and forms.
	ID       string
	ClientID string
	// RedirectURI is where the answer goes: the redirect_uri as sent (a loopback URI
	// with the port the client chose), or the only registered one when it was omitted.
	RedirectURI string
	// RedirectURISent records whether redirect_uri was in the request: the token
	// request must then repeat it (RFC 6749 §4.1.3).
	RedirectURISent bool
	Scope           []string
	// Audience is the resolved `aud` of the access tokens (RFC 8707 resources).
	Audience      []string
	State         string // returned byte for byte
	Nonce         string // echoed in the ID token
	CodeChallenge string // S256
	// Claims is the OpenID Connect claims request (Core §5.5), within the claims of
	// the scopes the client may ask.
	Claims ClaimsRequest
	// Prompt holds the OpenID Connect prompt values (none, login, consent, select_account).
	Prompt []string
	// MaxAge is the OpenID Connect max_age; nil when absent.
	MaxAge *time.Duration
	// BrowserHash is the keyed hash of the random browser-binding cookie of the browser
	// that started the request: another browser cannot continue it (SECURITY S40).
	BrowserHash []byte
	// UserID is set once the user is known to be logged in for this request (an
	// existing session at the start, or a login or registration on the way).
	UserID string
	// AuthTime is when that user authenticated (OpenID Connect auth_time).
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Prompt values (OpenID Connect Core §3.1.2.1).
const (
	PromptNone          = "none"
	PromptLogin         = "login"
	PromptConsent       = "consent"
	PromptSelectAccount = "select_account"
)

// ConsentScope is what the user is asked to consent to: the scope, and the scopes
// whose claims the claims request asks for by name (an email asked by name needs the
// consent the email scope would).
func (r AuthRequest) ConsentScope() []string {
	extra := r.Claims.Scopes()
	if len(extra) == 0 {
		return r.Scope
	}
	out := slices.Clone(r.Scope)
	for _, sc := range extra {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// HasPrompt reports whether the request carries prompt value p.
func (r AuthRequest) HasPrompt(p string) bool { return slices.Contains(r.Prompt, p) }

// Expired reports whether the request can no longer be continued at now.
func (r AuthRequest) Expired(now time.Time) bool { return !now.Before(r.ExpiresAt) }

// AuthRequestTTL bounds how long a user may take to log in, register and consent.
const AuthRequestTTL = 30 * time.Minute

// AuthResponse is what an authorization request sends back to the client's redirect
// URI: a code (RFC 6749 §4.1.2) or an error (§4.1.2.1), with the request's state.
// The HTTP adapter writes it into the redirect URI's query, with iss (RFC 9207).
type AuthResponse struct {
	RedirectURI string
	// State is the request's state, returned byte for byte; empty when the request had
	// none (or none that could be echoed).
	State string
	// Code is the authorization code; empty on an error.
	Code string
	// Err is the error; nil with a code.
	Err *Error
}

// AuthorizationError is an error of an authorization request whose client and
// redirect URI are trusted: the browser goes back to the client with it (RFC 6749
// §4.1.2.1). An error before that point is a plain *Error, shown on a page, since no
// redirect is safe without a trusted redirect URI (§4.1.2.1, §10.15).
type AuthorizationError struct {
	Err         *Error
	RedirectURI string
	State       string
}

func (e *AuthorizationError) Error() string { return "authorization error: " + e.Err.Error() }
func (e *AuthorizationError) Unwrap() error { return e.Err }

// Response is the redirect that carries the error to the client.
func (e *AuthorizationError) Response() AuthResponse {
	return AuthResponse{RedirectURI: e.RedirectURI, State: e.State, Err: e.Err}
}
