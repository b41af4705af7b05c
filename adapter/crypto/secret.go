package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"sync"

	"gatehouse/usecase"
)

var _ usecase.SecretHasher = (*SecretHasher)(nil)

// SecretHasher hashes high-entropy secrets with HMAC-SHA-256 under a key derived
// from GATEHOUSE_SECRET_KEY. Keyed, so a leaked database alone does not let anyone
// test guesses; fast, because the secrets carry 256 random bits and a slow hash
// would only cost CPU on every token request.
//
// Setting up an HMAC (hashing the padded key into its inner and outer states, and
// allocating them) costs more than hashing a short secret, and it happens on every
// token request; so the keyed HMACs are kept in a pool and Reset between uses, which
// returns them to the keyed state without hashing the key again.
type SecretHasher struct {
	key  []byte
	macs sync.Pool // of hash.Hash keyed with key
}

// NewSecretHasher returns a SecretHasher keyed with keys.SecretHashing.
func NewSecretHasher(keys Keys) (*SecretHasher, error) {
	if len(keys.SecretHashing) < KeySize {
		return nil, fmt.Errorf("secret hashing key must be %d bytes, got %d", KeySize, len(keys.SecretHashing))
	}
	h := &SecretHasher{key: keys.SecretHashing}
	h.macs.New = func() any { return hmac.New(sha256.New, h.key) }
	return h, nil
}

// HashSecret returns the 32-byte HMAC-SHA-256 of secret.
func (h *SecretHasher) HashSecret(secret string) []byte {
	m := h.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(secret))
	sum := m.Sum(make([]byte, 0, sha256.Size))
	h.macs.Put(m)
	return sum
}

// SecretMatches reports whether secret hashes to hash, in constant time
// (SECURITY S22).
func (h *SecretHasher) SecretMatches(hash []byte, secret string) bool {
	return hmac.Equal(hash, h.HashSecret(secret))
}
