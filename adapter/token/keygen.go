package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// KeyCipher seals private signing keys at rest (adapter/crypto.Cipher fills it).
// ad is the kid, so that a sealed key cannot be moved to another key row.
type KeyCipher interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(ciphertext, ad []byte) ([]byte, error)
}

// RSAKeyBits is the size of generated RSA keys. 2048 bits is NIST's minimum
// through 2030 (SP 800-57 Part 1 §5.6) and what every OpenID Connect client
// accepts; larger keys make each RS256 signature (the default ID token alg)
// several times slower for little gain while keys rotate.
const RSAKeyBits = 2048

var _ usecase.KeyGenerator = (*KeyGenerator)(nil)

// KeyGenerator makes new signing key pairs, private part sealed.
type KeyGenerator struct {
	cipher KeyCipher
}

// NewKeyGenerator returns a KeyGenerator sealing private keys with c.
func NewKeyGenerator(c KeyCipher) *KeyGenerator { return &KeyGenerator{cipher: c} }

// GenerateKey makes a key pair of alg (ES256, RS256 or EdDSA) created at now.
// Its kid is the RFC 7638 JWK thumbprint: unique per key, and checkable by anyone
// holding the public key.
func (g *KeyGenerator) GenerateKey(alg string, now time.Time) (domain.SigningKey, error) {
	if err := domain.ValidateAlg(alg); err != nil {
		return domain.SigningKey{}, err
	}
	// A kid that begins with "-" would read as a flag on the command line (`keys
	// revoke KID`): such a key (one in 64) is drawn again.
	var priv crypto.Signer
	var kid string
	for kid == "" || strings.HasPrefix(kid, "-") {
		var err error
		if priv, err = newPrivateKey(alg); err != nil {
			return domain.SigningKey{}, fmt.Errorf("generate %s key: %w", alg, err)
		}
		if kid, err = Thumbprint(priv.Public()); err != nil {
			return domain.SigningKey{}, err
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return domain.SigningKey{}, fmt.Errorf("marshal %s private key: %w", alg, err)
	}
	sealed, err := g.cipher.Seal(der, []byte(kid))
	clear(der)
	if err != nil {
		return domain.SigningKey{}, fmt.Errorf("seal %s private key: %w", alg, err)
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return domain.SigningKey{}, fmt.Errorf("marshal %s public key: %w", alg, err)
	}
	return domain.SigningKey{ID: kid, Alg: alg, PrivateKey: sealed, PublicKey: pub, CreatedAt: now}, nil
}

func newPrivateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case domain.AlgES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case domain.AlgRS256:
		return rsa.GenerateKey(rand.Reader, RSAKeyBits)
	case domain.AlgEdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("unknown alg %q", alg)
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of a public key, base64url: the
// hash of the JWK's required members in lexicographic order, without whitespace.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var canonical string
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		x, y, err := ecCoordinates(k)
		if err != nil {
			return "", err
		}
		canonical = `{"crv":"P-256","kty":"EC","x":"` + b64(x) + `","y":"` + b64(y) + `"}`
	case *rsa.PublicKey:
		canonical = `{"e":"` + b64(big.NewInt(int64(k.E)).Bytes()) + `","kty":"RSA","n":"` + b64(k.N.Bytes()) + `"}`
	case ed25519.PublicKey:
		canonical = `{"crv":"Ed25519","kty":"OKP","x":"` + b64(k) + `"}`
	default:
		return "", fmt.Errorf("thumbprint: unsupported public key type %T", pub)
	}
	sum := sha256.Sum256([]byte(canonical))
	return b64(sum[:]), nil
}

// ecCoordinates returns the P-256 point's x and y, each 32 bytes (RFC 7518 §6.2.1.2
// requires the full length, leading zeros kept).
func ecCoordinates(k *ecdsa.PublicKey) (x, y []byte, err error) {
	if k.Curve != elliptic.P256() {
		return nil, nil, fmt.Errorf("EC key on curve %s, want P-256", k.Curve.Params().Name)
	}
	b, err := k.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, nil, fmt.Errorf("encode EC public key: %w", err)
	}
	return b[1:33], b[33:65], nil
}
