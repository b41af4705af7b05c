package domain

import "time"

// TOTPFactor is a user's authenticator app (RFC 6238). The shared secret is stored
// only sealed with the server's key (SECURITY S52); LastStep is the last 30-second
// step whose code was accepted, so each code is usable once (SECURITY S50).
type TOTPFactor struct {
	UserID       string
	SealedSecret []byte
	LastStep     int64
	CreatedAt    time.Time
}
