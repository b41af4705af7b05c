package usecase

import (
	"context"
	"time"

	"gatehouse/domain"
)

// PasskeyStore keeps users' passkeys (WebAuthn credentials). They die with their user.
type PasskeyStore interface {
	// CreatePasskey stores p; ErrDuplicate when its credential id is stored already
	// (for this user or another: a credential belongs to one user, SECURITY S51),
	// ErrNotFound when there is no such user.
	CreatePasskey(ctx context.Context, p domain.Passkey) error
	// PasskeysOf lists the user's passkeys, oldest first.
	PasskeysOf(ctx context.Context, userID string) ([]domain.Passkey, error)
	// PasskeyByCredentialID returns the passkey of a credential id; ErrNotFound when none.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (domain.Passkey, error)
	// UsePasskey records a sign-in with the credential: its new signature counter,
	// backup state and time. One conditional UPDATE: it applies only while the stored
	// counter is below signCount, or both are 0 (an authenticator without a counter),
	// so of racing callers with one counter value exactly one gets true, and a counter
	// that went back gets false.
	UsePasskey(ctx context.Context, credentialID []byte, signCount uint32, backupState bool, now time.Time) (bool, error)
	// DeletePasskey removes the user's passkey id; false when the user has none so named.
	DeletePasskey(ctx context.Context, userID, id string) (bool, error)
	// DeletePasskeys removes every passkey of the user; false when there was none.
	DeletePasskeys(ctx context.Context, userID string) (bool, error)
}

// PasskeyUser is the account a WebAuthn ceremony is for. ID is the user handle.
type PasskeyUser struct {
	ID, Name, DisplayName string
	Passkeys              []domain.Passkey
}

// WebAuthnCeremony is a started registration or authentication: Options for the
// browser's navigator.credentials.create or get (JSON), and State, the server's
// memory of it (opaque), whose Challenge is single use.
type WebAuthnCeremony struct {
	Options   []byte
	State     []byte
	Challenge string
}

// PasskeyAssertion is a verified authentication: the credential used, its new
// signature counter and flags. CounterRegressed: the counter did not go up although
// it is in use (WebAuthn L2 §7.2 step 17: a sign the authenticator may be cloned).
type PasskeyAssertion struct {
	CredentialID     []byte
	SignCount        uint32
	BackupState      bool
	UserVerified     bool
	CounterRegressed bool
}

// WebAuthn is the relying party's side of the WebAuthn ceremonies (WebAuthn L2 §7):
// the relying party id is the issuer's host, the origin the issuer's.
type WebAuthn interface {
	// Available is false when the issuer cannot be a relying party (its host is an IP
	// address: WebAuthn needs a domain, such as localhost); passkeys are then not offered.
	Available() bool
	// BeginRegistration starts registering a discoverable credential for u (its
	// passkeys excluded), with user verification required.
	BeginRegistration(u PasskeyUser) (WebAuthnCeremony, error)
	// FinishRegistration verifies the browser's answer (response, JSON) to the
	// ceremony of state and returns the new passkey (without ID, name or times).
	FinishRegistration(u PasskeyUser, state, response []byte) (domain.Passkey, error)
	// BeginLogin starts an authentication: for u's passkeys, or, when u is nil, for
	// any discoverable credential (a passwordless sign-in). userVerification
	// requires the authenticator to verify the user (PIN, biometrics).
	BeginLogin(u *PasskeyUser, userVerification bool) (WebAuthnCeremony, error)
	// AssertionCredential reads which credential an answer claims to be, and the
	// user handle it carries, before anything is verified.
	AssertionCredential(response []byte) (credentialID, userHandle []byte, err error)
	// FinishLogin verifies the answer (signature, challenge, relying party id,
	// origin, user presence and, when the ceremony required it, verification)
	// against the passkeys of u, its owner.
	FinishLogin(u PasskeyUser, state, response []byte) (PasskeyAssertion, error)
}
