package domain

import (
	"strings"
	"time"
)

// Pushed authorization requests (RFC 9126): a client posts its authorization
// request to the PAR endpoint, authenticated, and gets back a request_uri that
// stands for it at the authorization endpoint, once, for a short while.

// RequestURIPrefix starts every request_uri the PAR endpoint issues (RFC 9126 §2.2).
const RequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// Bounds on the lifetime of a pushed request: RFC 9126 §2.2 suggests 5 to 600 seconds.
const (
	DefaultPushedRequestTTL = time.Minute
	MaxPushedRequestTTL     = 10 * time.Minute
)

// PushedRequest is a validated authorization request waiting for its request_uri
// to come back through the browser. Only a keyed hash of the request_uri's random
// part is stored.
type PushedRequest struct {
	Hash     []byte
	ClientID string
	// The authorization request parameters as the client pushed them (empty means
	// absent); they alone count when the request_uri is used (RFC 9126 §4).
	RedirectURI         string
	ResponseType        string
	Scope               string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              string
	MaxAge              string
	Claims              string
	Resource            []string
	CreatedAt           time.Time
	ExpiresAt           time.Time
}

// Expired reports whether the pushed request can no longer be used at now.
func (r PushedRequest) Expired(now time.Time) bool { return !now.Before(r.ExpiresAt) }

// ParseRequestURI returns the random part of a request_uri we issued, or false for
// anything else (another scheme, an empty or over-long reference).
func ParseRequestURI(uri string) (string, bool) {
	ref, ok := strings.CutPrefix(uri, RequestURIPrefix)
	if !ok || ref == "" || len(ref) > 128 {
		return "", false
	}
	for _, c := range ref {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return ref, true
}
