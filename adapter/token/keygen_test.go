package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"gatehouse/domain"
)

func openPrivate(t testing.TB, c KeyCipher, k domain.SigningKey) crypto.Signer {
	t.Helper()
	der, err := c.Open(k.PrivateKey, []byte(k.ID))
	if err != nil {
		t.Fatalf("open private key %s: %v", k.ID, err)
	}
	p, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return p.(crypto.Signer)
}

func TestKeyGenerator(t *testing.T) {
	c, keys := sharedKeySet(t)
	seen := map[string]bool{}
	for _, alg := range domain.SupportedAlgs {
		k := keys[alg]
		if k.Alg != alg || !k.CreatedAt.Equal(t0.Add(-time.Hour)) || !k.Current() || !k.ActivatesAt.IsZero() || k.ExpiresAt != nil {
			t.Fatalf("%s: key %+v", alg, k)
		}
		if seen[k.ID] {
			t.Fatalf("kid %s repeated", k.ID)
		}
		seen[k.ID] = true
		pub, err := x509.ParsePKIXPublicKey(k.PublicKey)
		if err != nil {
			t.Fatalf("%s: public key is not PKIX DER: %v", alg, err)
		}
		switch p := pub.(type) {
		case *ecdsa.PublicKey:
			if alg != domain.AlgES256 || p.Curve != elliptic.P256() {
				t.Fatalf("%s: got an EC key on %v", alg, p.Curve)
			}
		case *rsa.PublicKey:
			if alg != domain.AlgRS256 || p.N.BitLen() != RSAKeyBits {
				t.Fatalf("%s: RSA key of %d bits", alg, p.N.BitLen())
			}
		case ed25519.PublicKey:
			if alg != domain.AlgEdDSA {
				t.Fatalf("%s: got an Ed25519 key", alg)
			}
		default:
			t.Fatalf("%s: unexpected key type %T", alg, pub)
		}
		if kid, _ := Thumbprint(pub); kid != k.ID {
			t.Fatalf("%s: kid %s is not the RFC 7638 thumbprint %s", alg, k.ID, kid)
		}
		// The private key is sealed: not PKCS#8 in the clear, opens only with its kid.
		if _, err := x509.ParsePKCS8PrivateKey(k.PrivateKey); err == nil {
			t.Fatalf("%s: private key is stored in the clear", alg)
		}
		if _, err := c.Open(k.PrivateKey, []byte("another-kid")); err == nil {
			t.Fatalf("%s: private key opens under another kid", alg)
		}
		priv := openPrivate(t, c, k)
		if !priv.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Fatalf("%s: private and public keys do not match", alg)
		}
	}
	if _, err := NewKeyGenerator(c).GenerateKey("HS256", t0); err == nil {
		t.Fatal("GenerateKey(HS256) succeeded")
	}
}

// RFC 7638 §3.1 example.
func TestThumbprint_RFC7638Example(t *testing.T) {
	n := "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	nb, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: 65537}
	got, err := Thumbprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("thumbprint = %s, want %s", got, want)
	}
}

// TestGenerateKey_KidNeverLooksLikeAFlag: one thumbprint in 64 begins with "-", which
// `gatehouse keys revoke KID` would read as a flag; 640 EdDSA keys (about ten such
// draws expected) all get a kid that does not.
func TestGenerateKey_KidNeverLooksLikeAFlag(t *testing.T) {
	gen := NewKeyGenerator(newTestCipher(t))
	for range 640 {
		k, err := gen.GenerateKey("EdDSA", t0)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(k.ID, "-") {
			t.Fatalf("kid %q begins with -", k.ID)
		}
	}
}
