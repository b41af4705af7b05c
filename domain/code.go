package domain

import "time"

// AuthorizationCode is an issued code (RFC 6749 §4.1.2). Only the hash of the code is
// stored; the code itself is shown once, in the redirect.
type AuthorizationCode struct {
	Hash          []byte
	ClientID      string
	UserID        string
	RedirectURI   string
	Scope         []string
	Audience      []string
	CodeChallenge string // S256 challenge, or empty
	Nonce         string
	AuthTime      time.Time
	SessionID     string
	// FamilyID names the token family the code's redemption starts, so that a second
	// redemption can revoke everything the first one issued (RFC 6749 §4.1.2).
	FamilyID  string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// MaxAuthCodeTTL caps the code lifetime whatever the configuration says (RFC 6749 §4.1.2).
const MaxAuthCodeTTL = 10 * time.Minute

// Expired reports whether the code can no longer be redeemed at now.
func (c AuthorizationCode) Expired(now time.Time) bool { return !now.Before(c.ExpiresAt) }
