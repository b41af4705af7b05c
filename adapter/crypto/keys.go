package crypto

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"unicode/utf8"
)

// MinSecretLength is the least number of characters GATEHOUSE_SECRET_KEY may have.
const MinSecretLength = 32

// KeySize is the length in bytes of every derived key (256 bits).
const KeySize = 32

// HKDF info labels. Each purpose has its own label, so the derived keys are
// independent (RFC 5869 §3.2). Changing a label changes the key: existing
// ciphertexts and hashes made under the old one would no longer open or match.
const (
	infoKeyEncryption    = "gatehouse/v1/signing-key-encryption"
	infoSecretHashing    = "gatehouse/v1/secret-hashing"
	infoCookieSigning    = "gatehouse/v1/cookie-signing"
	infoCookieEncryption = "gatehouse/v1/cookie-encryption"
	infoDPoPNonce        = "gatehouse/v1/dpop-nonce"
)

// Keys are the purpose keys derived from GATEHOUSE_SECRET_KEY. Each is KeySize
// bytes; never reuse one for another purpose.
type Keys struct {
	// KeyEncryption is the AES-256-GCM key that seals private signing keys at rest.
	KeyEncryption []byte
	// SecretHashing is the HMAC-SHA-256 key for client secrets, codes, refresh
	// tokens and session secrets.
	SecretHashing []byte
	// CookieSigning authenticates cookies (HMAC).
	CookieSigning []byte
	// CookieEncryption encrypts cookies (AES-256).
	CookieEncryption []byte
	// DPoPNonce authenticates DPoP server nonces (HMAC), so every instance accepts them.
	DPoPNonce []byte
}

// DeriveKeys derives the purpose keys from the configured secret with
// HKDF-SHA-256. The secret must have at least MinSecretLength characters.
//
// No salt is used: the secret is meant to be high-entropy already, and a fixed
// salt would add nothing over the distinct info labels; every instance sharing a
// database must derive the same keys from the same secret.
func DeriveKeys(secret string) (Keys, error) {
	if n := utf8.RuneCountInString(secret); n < MinSecretLength {
		// Never echo the secret itself.
		return Keys{}, fmt.Errorf("secret key must have at least %d characters, it has %d", MinSecretLength, n)
	}
	var k Keys
	for _, d := range []struct {
		info string
		dst  *[]byte
	}{
		{infoKeyEncryption, &k.KeyEncryption},
		{infoSecretHashing, &k.SecretHashing},
		{infoCookieSigning, &k.CookieSigning},
		{infoCookieEncryption, &k.CookieEncryption},
		{infoDPoPNonce, &k.DPoPNonce},
	} {
		key, err := hkdf.Key(sha256.New, []byte(secret), nil, d.info, KeySize)
		if err != nil {
			return Keys{}, fmt.Errorf("derive %s key: %w", d.info, err)
		}
		*d.dst = key
	}
	return k, nil
}
