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

// Passkey is a user's WebAuthn credential (WebAuthn Level 2 §4 "credential record").
// CredentialID is the authenticator's id of it, unique among all users: a credential
// belongs to one user only (SECURITY S51). SignCount is the last signature counter
// seen; BackupEligible and BackupState say whether the key may be, and is, synced
// (a "synced passkey"); UserVerified whether registration verified the user.
type Passkey struct {
	ID             string
	UserID         string
	CredentialID   []byte
	PublicKey      []byte
	SignCount      uint32
	AAGUID         []byte
	Transports     []string
	BackupEligible bool
	BackupState    bool
	UserVerified   bool
	Name           string
	CreatedAt      time.Time
	LastUsedAt     time.Time // zero until its first sign-in
}
