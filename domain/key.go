package domain

import (
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

// SigningKey is one asymmetric key pair. At most one key per alg is active (signs);
// a rotated-out key stays published until RetiredAt + the longest token lifetime.
type SigningKey struct {
	ID  string // kid
	Alg string
	// PrivateKey is the private key, encrypted at rest (AES-GCM under a key derived
	// from GATEHOUSE_SECRET_KEY); only the token adapter can open it.
	PrivateKey []byte
	// PublicKey is the public key in PKIX DER form.
	PublicKey []byte
	CreatedAt time.Time
	// RetiredAt is set when a newer key of the same alg takes over signing.
	RetiredAt *time.Time
	// ExpiresAt: after it, no token this key signed can still be valid; the key
	// leaves the JWKS. Zero while the key is active.
	ExpiresAt *time.Time
}

// Active reports whether the key still signs.
func (k SigningKey) Active() bool { return k.RetiredAt == nil }

// Published reports whether the key belongs in the JWKS at now.
func (k SigningKey) Published(now time.Time) bool {
	return k.ExpiresAt == nil || now.Before(*k.ExpiresAt)
}
