package domain

import "time"

// Session is a browser's login at Gatehouse. The cookie holds a random secret; only
// its hash is stored, so a database leak cannot be replayed as a cookie. ID is a
// separate, non-secret identifier that token families refer to (logout revokes them).
type Session struct {
	ID         string
	SecretHash []byte
	UserID     string
	AuthTime   time.Time
	CreatedAt  time.Time
	ExpiresAt  time.Time
	// UserAgent, Address and LastSeenAt are what the account page shows of the
	// session's browser: as last seen, at most a minute old; empty until first seen.
	UserAgent  string
	Address    string
	LastSeenAt time.Time
	// AMR are the authentication methods of the sign-in (RFC 8176: "pwd", "otp",
	// "mfa"); empty for a session older than their recording, read as "pwd".
	AMR []string
}

// HasMFA reports whether the session was signed in with a second factor.
func (s Session) HasMFA() bool {
	for _, m := range s.AMR {
		if m == "mfa" {
			return true
		}
	}
	return false
}
