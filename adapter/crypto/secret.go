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
	return h.appendMAC(make([]byte, 0, sha256.Size), secret)
}

// HashToken returns the key under which a code or refresh token is stored. For a
// token of SortedToken's shape, that is its first 8 characters, the time it was made
// (no secret: its 256 random bits follow), then HashSecret of the whole token: keys
// then sort by time, so a new token's key goes to the end of the primary-key index.
// For any other string (tokens made before SortedToken) it is HashSecret alone. The
// key is a function of the token only, so a lookup by it finds what was stored.
func (h *SecretHasher) HashToken(token string) []byte {
	if !isSortedToken(token) {
		return h.HashSecret(token)
	}
	return h.appendMAC(append(make([]byte, 0, sortedTokenTime+sha256.Size), token[:sortedTokenTime]...), token)
}

// appendMAC appends the HMAC-SHA-256 of secret to dst, with a pooled keyed HMAC.
func (h *SecretHasher) appendMAC(dst []byte, secret string) []byte {
	m := h.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(secret))
	dst = m.Sum(dst)
	h.macs.Put(m)
	return dst
}

// sortedTokenTime is the number of characters of a SortedToken that hold its time.
const sortedTokenTime = 8

// isSortedToken reports whether token has SortedToken's length and its first
// characters are of its alphabet.
func isSortedToken(token string) bool {
	if len(token) != SortedTokenLength {
		return false
	}
	for i := range sortedTokenTime {
		c := token[i]
		if !(c == '-' || c == '_' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// SecretMatches reports whether secret hashes to hash, in constant time
// (SECURITY S22).
func (h *SecretHasher) SecretMatches(hash []byte, secret string) bool {
	return hmac.Equal(hash, h.HashSecret(secret))
}
