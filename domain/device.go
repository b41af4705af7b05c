package domain

import (
	"errors"
	"strings"
	"time"
)

// DeviceStatus is where a device authorization stands (RFC 8628 §3.3, §3.5).
type DeviceStatus string

// Device authorization states. A pending authorization is approved or denied once, by
// the user on the verification page; an approved one is consumed once, by the device.
const (
	DevicePending  DeviceStatus = "pending"
	DeviceApproved DeviceStatus = "approved"
	DeviceDenied   DeviceStatus = "denied"
)

// DeviceAuthorization is one run of the device authorization grant (RFC 8628): a CLI
// or TV asked for it, shows the user code, and polls the token endpoint with the device
// code while the user approves it in a browser. Both codes are stored only as keyed
// hashes: the device code is a 256-bit bearer secret, and a leaked user code would let
// a reader of the database attach their own account to someone's device.
type DeviceAuthorization struct {
	DeviceCodeHash []byte
	// UserCodeHash is the keyed hash of the normalised user code (NormalizeUserCode),
	// unique among stored authorizations, so the page can find the authorization from
	// what the user typed.
	UserCodeHash []byte
	ClientID     string
	Scope        []string
	// Audience is the resolved `aud` of the access tokens (RFC 8707 resources).
	Audience []string
	// Interval is the least time the device must leave between polls; each slow_down
	// answer makes it DeviceSlowDownStep longer (RFC 8628 §3.5).
	Interval time.Duration
	// LastPolledAt is when the device last polled; zero before the first poll.
	LastPolledAt time.Time
	Status       DeviceStatus
	// UserID, AuthTime and SessionID say who approved, when they logged in, and in
	// which browser session; set on approval.
	UserID    string
	AuthTime  time.Time
	SessionID string
	// AMR are how that session signed in (RFC 8176); set on approval.
	AMR []string
	// FamilyID names the token family the device's tokens start.
	FamilyID   string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	ConsumedAt *time.Time
}

// Expired reports whether the device code and user code are dead at now.
func (d DeviceAuthorization) Expired(now time.Time) bool { return !now.Before(d.ExpiresAt) }

// PollTooSoon reports whether a poll at now comes before the interval has passed since
// the previous one. The first poll is never too soon.
func (d DeviceAuthorization) PollTooSoon(now time.Time) bool {
	return !d.LastPolledAt.IsZero() && now.Before(d.LastPolledAt.Add(d.Interval))
}

// Device flow constants (RFC 8628 §3.2, §3.5, §6.1).
const (
	// DefaultDeviceCodeTTL is how long a device code and its user code live unless
	// configured otherwise.
	DefaultDeviceCodeTTL = 10 * time.Minute
	// MaxDeviceCodeTTL bounds the configured lifetime: a user code is guessable in
	// principle, so it must not stay live for long.
	MaxDeviceCodeTTL = time.Hour
	// DevicePollInterval is the interval the device starts with.
	DevicePollInterval = 5 * time.Second
	// DeviceSlowDownStep is what each slow_down adds to the interval.
	DeviceSlowDownStep = 5 * time.Second
)

// What the verification page can be told about a user code (RFC 8628 §3.3). An
// unknown code and a malformed one look the same, and both count against the
// caller's address.
var (
	ErrUserCodeUnknown = errors.New("the code is not known")
	ErrUserCodeExpired = errors.New("the code has expired")
	ErrUserCodeUsed    = errors.New("the code was already used")
)

// UserCodeAlphabet holds the letters a user code is made of: upper-case consonants
// without vowels (no words, rude or otherwise) and easy to tell apart, the set RFC 8628
// §6.1 suggests. 20 letters and 8 characters give 20^8 ≈ 2^34.6 codes; with user-code
// guessing throttled and codes living minutes, that is enough (RFC 8628 §5.1).
const UserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// UserCodeLength is the number of letters of a user code, without the dash.
const UserCodeLength = 8

// NewUserCode makes a normalised user code from random bytes, taking each byte below
// the largest multiple of the alphabet size (rejection sampling, so every letter is
// equally likely). It reports false when random held too few usable bytes; 32 bytes
// almost always suffice.
func NewUserCode(random []byte) (string, bool) {
	const n = len(UserCodeAlphabet)
	limit := 256 - 256%n
	var b strings.Builder
	for _, r := range random {
		if int(r) >= limit {
			continue
		}
		b.WriteByte(UserCodeAlphabet[int(r)%n])
		if b.Len() == UserCodeLength {
			return b.String(), true
		}
	}
	return "", false
}

// NormalizeUserCode turns what a user typed into the stored form: letters upper-cased,
// dashes and white space dropped. It reports false when the result cannot be a user
// code (wrong length, or a character outside the alphabet), so no lookup is wasted on it.
func NormalizeUserCode(typed string) (string, bool) {
	if len(typed) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range typed {
		switch {
		case r == '-' || r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\u00a0':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		if r > 0x7f || !strings.ContainsRune(UserCodeAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != UserCodeLength {
		return "", false
	}
	return b.String(), true
}

// FormatUserCode shows a normalised user code the way people read it: XXXX-XXXX.
func FormatUserCode(code string) string {
	if len(code) != UserCodeLength {
		return code
	}
	return code[:UserCodeLength/2] + "-" + code[UserCodeLength/2:]
}
