package domain

import (
	"errors"
	"fmt"
	"time"
)

// JWS algorithms Gatehouse signs with.
const (
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
	AlgEdDSA = "EdDSA"
)

// SupportedAlgs is the allow-list of signing algorithms.
var SupportedAlgs = []string{AlgES256, AlgRS256, AlgEdDSA}

// ValidateAlg reports whether alg is one Gatehouse can sign with.
func ValidateAlg(alg string) error {
	for _, a := range SupportedAlgs {
		if a == alg {
			return nil
		}
	}
	return fmt.Errorf("signing alg %q is not one of ES256, RS256, EdDSA", alg)
}

// MinRSAKeyBits and MaxRSAKeyBits bound the modulus of an RSA key Gatehouse verifies
// with but did not make: a client's (DPoP proofs, private_key_jwt), a passkey's, and
// the issuer's as the resource-server middleware reads it. The upper bound is the one
// Go's crypto/tls puts on certificate keys (CVE-2023-29409): RSA verification grows
// with the square of the modulus, and a key of a few tens of thousands of bits in a
// DPoP proof, which anyone may send, would make each request cost hundreds of
// ordinary ones.
const (
	MinRSAKeyBits = 2048
	MaxRSAKeyBits = 8192
)

// KeyState is where a signing key is in its life at a given instant.
type KeyState string

// The states of a signing key. A rotation publishes the new key at once (next) and
// lets it sign only from its activation time, so that every instance and every
// resource server has it before the first token it signs arrives (issue 9, as Dex
// does); the old key signs until that instant and is then retired.
const (
	KeyNext    KeyState = "next"    // published, signs from ActivatesAt
	KeyActive  KeyState = "active"  // signs
	KeyRetired KeyState = "retired" // signs no more; published until ExpiresAt
	KeyRevoked KeyState = "revoked" // compromised: never signs, never published again
)

// SigningKey is one asymmetric key pair. Of the keys of an alg, one at a time signs:
// the one whose window [ActivatesAt, RetiredAt) holds the instant. Each key's window
// ends where its successor's begins; a retired key stays published until ExpiresAt,
// when no token it signed can still be valid.
type SigningKey struct {
	ID  string // kid
	Alg string
	// PrivateKey is the private key, encrypted at rest (AES-GCM under a key derived
	// from GATEHOUSE_SECRET_KEY); only the token adapter can open it.
	PrivateKey []byte
	// PublicKey is the public key in PKIX DER form.
	PublicKey []byte
	CreatedAt time.Time
	// ActivatesAt is when the key starts signing. Zero means from the start: a key
	// made on first start, or stored before keys had activation times.
	ActivatesAt time.Time
	// RetiredAt is when the key stops signing: set, at a rotation, to the instant its
	// successor starts, which may still be ahead.
	RetiredAt *time.Time
	// ExpiresAt: after it, no token this key signed can still be valid; the key
	// leaves the JWKS. Nil while the key is current.
	ExpiresAt *time.Time
	// RevokedAt is when the key was revoked (gatehouse keys revoke): a compromised
	// key. From then on it neither signs nor is published, whatever its other times
	// say, so every token it signed is refused. Nil for a key never revoked.
	RevokedAt *time.Time
}

// Current reports whether the key is the newest of its alg, the one that signs now
// or will sign next: no rotation has retired it yet. The store keeps at most one
// current key per alg. A revoked key is never current.
func (k SigningKey) Current() bool { return k.RetiredAt == nil && k.RevokedAt == nil }

// Revoked reports whether the key was revoked.
func (k SigningKey) Revoked() bool { return k.RevokedAt != nil }

// ActivationTime is when the key starts (or started) signing.
func (k SigningKey) ActivationTime() time.Time {
	if k.ActivatesAt.IsZero() {
		return k.CreatedAt
	}
	return k.ActivatesAt
}

// State returns the key's state at now.
func (k SigningKey) State(now time.Time) KeyState {
	switch {
	case k.RevokedAt != nil:
		return KeyRevoked
	case k.RetiredAt != nil && !now.Before(*k.RetiredAt):
		return KeyRetired
	case !k.ActivatesAt.IsZero() && now.Before(k.ActivatesAt):
		return KeyNext
	}
	return KeyActive
}

// SignsAt reports whether the key signs at now.
func (k SigningKey) SignsAt(now time.Time) bool { return k.State(now) == KeyActive }

// Published reports whether the key belongs in the JWKS at now: from the moment it
// is stored (a next key too) until ExpiresAt; a revoked key never.
func (k SigningKey) Published(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// SignsNowOrLater reports whether the key signs at now or would from a later
// activation: it is neither revoked nor retired at now. Revoking such a key leaves
// its alg without a signer, so it needs a replacement.
func (k SigningKey) SignsNowOrLater(now time.Time) bool {
	return k.RevokedAt == nil && (k.RetiredAt == nil || now.Before(*k.RetiredAt))
}

// SigningKeyAt returns the key of alg that signs at now: of the keys whose window
// holds now, the one activated last (there is one unless the store was edited by
// hand). False when none does.
func SigningKeyAt(keys []SigningKey, alg string, now time.Time) (SigningKey, bool) {
	var best SigningKey
	found := false
	for _, k := range keys {
		if k.Alg != alg || !k.SignsAt(now) {
			continue
		}
		if !found || laterActivation(k, best) {
			best, found = k, true
		}
	}
	return best, found
}

// laterActivation orders keys by activation time, then by creation.
func laterActivation(a, b SigningKey) bool {
	if c := a.ActivationTime().Compare(b.ActivationTime()); c != 0 {
		return c > 0
	}
	return a.CreatedAt.After(b.CreatedAt)
}

// CurrentKey returns the current key of alg (see SigningKey.Current).
func CurrentKey(keys []SigningKey, alg string) (SigningKey, bool) {
	var best SigningKey
	found := false
	for _, k := range keys {
		if k.Alg == alg && k.Current() && (!found || laterActivation(k, best)) {
			best, found = k, true
		}
	}
	return best, found
}

// RotationDue reports whether scheduled rotation (every interval) should replace the
// current key of alg at now: it is older than interval and signs already, so no
// successor is pending. It returns the key to replace.
func RotationDue(keys []SigningKey, alg string, now time.Time, interval time.Duration) (SigningKey, bool) {
	if interval <= 0 {
		return SigningKey{}, false
	}
	cur, ok := CurrentKey(keys, alg)
	if !ok || cur.State(now) != KeyActive || now.Sub(cur.CreatedAt) < interval {
		return SigningKey{}, false
	}
	return cur, true
}

// Rotation outcomes that the key store reports.
var (
	// ErrKeyPending: a rotation with an activation delay was refused because the alg
	// already has a next key; it is a *KeyPendingError.
	ErrKeyPending = errors.New("a new signing key is already pending")
	// ErrKeyRotated: a rotation meant to replace one key found another current (a
	// rotation elsewhere got there first).
	ErrKeyRotated = errors.New("the signing key was rotated meanwhile")
)

// KeyRevocation is the outcome of revoking a signing key.
type KeyRevocation struct {
	// Key is the revoked key as stored after the revocation.
	Key SigningKey
	// AlreadyRevoked: the key had been revoked before; nothing changed.
	AlreadyRevoked bool
	// Replacement is the key of the same alg that signs from the revocation on, when
	// the revoked key signed then or was to sign later; nil otherwise.
	Replacement *SigningKey
}

// KeyPendingError says which key is pending, and until when.
type KeyPendingError struct {
	Alg         string
	KID         string
	ActivatesAt time.Time
}

func (e *KeyPendingError) Error() string {
	return fmt.Sprintf("a new %s key (%s) is already pending: it starts signing at %s",
		e.Alg, e.KID, e.ActivatesAt.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrKeyPending) true.
func (e *KeyPendingError) Is(target error) bool { return target == ErrKeyPending }
