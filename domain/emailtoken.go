package domain

import "time"

// The purposes of a mailed link: each link does one thing only (SECURITY S47).
const (
	PurposeVerifyEmail   = "verify_email"
	PurposeResetPassword = "reset_password"
	// PurposeChangeEmail is sent to the address a user asked to change to; the
	// token's Email is that new address.
	PurposeChangeEmail = "change_email"
)

// EmailToken is a single-use link sent by mail, stored only as the keyed hash of its
// secret. It is bound to its user, its purpose and the address it was sent to: a
// verification link for an address the user has since changed verifies nothing. A
// change-email link's Email is the new address, the one it was sent to.
type EmailToken struct {
	Hash      []byte
	UserID    string
	Purpose   string
	Email     string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Live reports whether the link may still be used at now.
func (t EmailToken) Live(now time.Time) bool { return now.Before(t.ExpiresAt) }
