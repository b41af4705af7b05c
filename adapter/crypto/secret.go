package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"

	"gatehouse/usecase"
)

var _ usecase.SecretHasher = (*SecretHasher)(nil)

// SecretHasher hashes high-entropy secrets with HMAC-SHA-256 under a key derived
// from GATEHOUSE_SECRET_KEY. Keyed, so a leaked database alone does not let anyone
// test guesses; fast, because the secrets carry 256 random bits and a slow hash
// would only cost CPU on every token request.
type SecretHasher struct {
	key []byte
}

// NewSecretHasher returns a SecretHasher keyed with keys.SecretHashing.
func NewSecretHasher(keys Keys) (*SecretHasher, error) {
	if len(keys.SecretHashing) < KeySize {
		return nil, fmt.Errorf("secret hashing key must be %d bytes, got %d", KeySize, len(keys.SecretHashing))
	}
	return &SecretHasher{key: keys.SecretHashing}, nil
}

// HashSecret returns the 32-byte HMAC-SHA-256 of secret.
func (h *SecretHasher) HashSecret(secret string) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// SecretMatches reports whether secret hashes to hash, in constant time
// (SECURITY S22).
func (h *SecretHasher) SecretMatches(hash []byte, secret string) bool {
	return hmac.Equal(hash, h.HashSecret(secret))
}
