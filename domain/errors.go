package domain

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error is an OAuth error: an RFC 6749 §5.2 / §4.1.2.1 code plus a human description.
// It carries no HTTP status; the HTTP adapter decides that.
type Error struct {
	Code        string
	Description string
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Is makes errors.Is(err, ErrInvalidGrant) true for any *Error with the same code,
// whatever its description.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// WithDescription returns a copy of e with a description meant for the client.
// Never put internal details (SQL, paths, stack traces) in it.
func (e *Error) WithDescription(format string, args ...any) *Error {
	return &Error{Code: e.Code, Description: fmt.Sprintf(format, args...)}
}

// The OAuth error vocabulary (RFC 6749 §4.1.2.1, §5.2; RFC 8628 §3.5; RFC 8707;
// OpenID Connect Core §3.1.2.6; RFC 6750 §3.1).
var (
	ErrInvalidRequest          = &Error{Code: "invalid_request"}
	ErrInvalidClient           = &Error{Code: "invalid_client", Description: "client authentication failed"}
	ErrInvalidGrant            = &Error{Code: "invalid_grant"}
	ErrUnauthorizedClient      = &Error{Code: "unauthorized_client", Description: "the client may not use this grant type"}
	ErrUnsupportedGrantType    = &Error{Code: "unsupported_grant_type"}
	ErrInvalidScope            = &Error{Code: "invalid_scope"}
	ErrInvalidTarget           = &Error{Code: "invalid_target"}
	ErrAccessDenied            = &Error{Code: "access_denied"}
	ErrUnsupportedResponseType = &Error{Code: "unsupported_response_type"}
	ErrServerError             = &Error{Code: "server_error"}
	ErrTemporarilyUnavailable  = &Error{Code: "temporarily_unavailable"}
	ErrLoginRequired           = &Error{Code: "login_required"}
	ErrConsentRequired         = &Error{Code: "consent_required"}
	ErrInteractionRequired     = &Error{Code: "interaction_required"}
	ErrAuthorizationPending    = &Error{Code: "authorization_pending"}
	ErrSlowDown                = &Error{Code: "slow_down"}
	ErrExpiredToken            = &Error{Code: "expired_token"}
	ErrInvalidToken            = &Error{Code: "invalid_token"}
	ErrInsufficientScope       = &Error{Code: "insufficient_scope"}
)

// Storage outcomes that repositories report and use cases translate.
var (
	// ErrNotFound: the row does not exist (repositories map sql.ErrNoRows to it).
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: a unique constraint refused the row (username, client name, ...).
	ErrDuplicate = errors.New("already exists")
	// ErrAlreadyUsed: a single-use item (code, refresh token, device code) was consumed
	// before; the conditional update matched no row.
	ErrAlreadyUsed = errors.New("already used")
	// ErrUnavailable: the storage cannot be reached; the HTTP adapter answers 503.
	ErrUnavailable = errors.New("storage unavailable")
)

// ThrottledError says a caller must wait before trying again (RFC 6585 429).
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many attempts, retry after %s", e.RetryAfter.Round(time.Second))
}

// DPoP errors (RFC 9449 §5.2, §8, §12.2).
var (
	ErrInvalidDPoPProof = &Error{Code: "invalid_dpop_proof"}
	ErrUseDPoPNonce     = &Error{Code: "use_dpop_nonce", Description: "a DPoP nonce is required; use the one in the DPoP-Nonce header"}
)

// DescriptionText keeps only the characters RFC 6749 allows in error_description
// (§4.1.2.1, §5.2: printable ASCII but " and \), for a description that carries
// text a client sent or that goes into a redirect URI.
func DescriptionText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\' || r < 0x20 || r > 0x7e:
			return '?'
		}
		return r
	}, s)
}
