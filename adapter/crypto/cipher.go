package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// cipherVersion prefixes every ciphertext so that the format (or the key it is
// sealed under) can change later without guessing.
const cipherVersion byte = 1

// ErrDecrypt is returned when a ciphertext does not open: wrong key, wrong
// associated data, or tampering. It deliberately says no more.
var ErrDecrypt = errors.New("ciphertext cannot be opened (wrong key, wrong associated data or tampered)")

// Cipher seals and opens small secrets with AES-256-GCM and a random 96-bit nonce.
// Private signing keys are sealed with their kid as associated data, so a
// ciphertext copied into another key row does not open.
//
// The output is version(1) || nonce(12) || ciphertext+tag(16). Random nonces are
// safe here: a key seals a few keys a year, far below the 2^32 messages at which
// nonce collisions would matter (NIST SP 800-38D §8.3).
type Cipher struct {
	aead cipher.AEAD
}

// NewCipher returns a Cipher with a 32-byte key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("cipher key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return &Cipher{aead: aead}, nil
}

// NewKeyCipher returns the Cipher for private signing keys (keys.KeyEncryption).
func NewKeyCipher(keys Keys) (*Cipher, error) { return NewCipher(keys.KeyEncryption) }

// Seal encrypts and authenticates plaintext, binding it to ad.
func (c *Cipher) Seal(plaintext, ad []byte) ([]byte, error) {
	ns := c.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+c.aead.Overhead())
	out[0] = cipherVersion
	if _, err := rand.Read(out[1 : 1+ns]); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return c.aead.Seal(out, out[1:1+ns], plaintext, ad), nil
}

// Open authenticates and decrypts a ciphertext made by Seal with the same ad.
func (c *Cipher) Open(ciphertext, ad []byte) ([]byte, error) {
	ns := c.aead.NonceSize()
	if len(ciphertext) < 1+ns+c.aead.Overhead() {
		return nil, fmt.Errorf("ciphertext of %d bytes is too short: %w", len(ciphertext), ErrDecrypt)
	}
	if ciphertext[0] != cipherVersion {
		return nil, fmt.Errorf("unknown ciphertext version %d: %w", ciphertext[0], ErrDecrypt)
	}
	pt, err := c.aead.Open(nil, ciphertext[1:1+ns], ciphertext[1+ns:], ad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
