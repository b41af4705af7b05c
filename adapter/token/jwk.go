package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"gatehouse/domain"
)

// Keys held by clients (DPoP proof keys, private_key_jwt keys) arrive as JWKs (RFC
// 7517). Only public asymmetric keys are accepted: a JWK with a private member is
// refused outright, never stripped, since a client that sends one has leaked it.

// ClientKeyAlgs is the allow-list of algs for JWTs signed by client keys (DPoP
// proofs, client assertions): asymmetric only, never "none" or an HMAC alg.
var ClientKeyAlgs = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}

// maxRSAExponent is the largest public exponent crypto/rsa verifies with.
const maxRSAExponent = 1<<31 - 1

// privateMembers are the JWK members of private and symmetric keys (RFC 7518 §6).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// PublicJWK is a parsed public JWK.
type PublicJWK struct {
	Key crypto.PublicKey
	Kid string
	// Alg is the JWK's alg member; empty when absent.
	Alg string
	// Thumbprint is the RFC 7638 SHA-256 thumbprint, base64url without padding.
	Thumbprint string
}

// ParsePublicJWK reads one JWK from its JSON members: EC (P-256, P-384, P-521), RSA
// (at least 2048 bits) or OKP Ed25519. Any private member, an unknown kty or curve,
// or a point off its curve is an error.
func ParsePublicJWK(m map[string]any) (PublicJWK, error) {
	for _, p := range privateMembers {
		if _, ok := m[p]; ok {
			return PublicJWK{}, fmt.Errorf("the JWK holds the private or symmetric member %q", p)
		}
	}
	str := func(name string) string { s, _ := m[name].(string); return s }
	bytesOf := func(name string) ([]byte, error) {
		s := str(name)
		if s == "" {
			return nil, fmt.Errorf("the JWK lacks %q", name)
		}
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("the JWK member %q is not base64url", name)
		}
		return b, nil
	}
	out := PublicJWK{Kid: str("kid"), Alg: str("alg")}
	var canonical map[string]string // the RFC 7638 required members
	switch kty := str("kty"); kty {
	case "EC":
		crv := str("crv")
		var curve elliptic.Curve
		switch crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return PublicJWK{}, fmt.Errorf("EC curve %q is not accepted", crv)
		}
		x, err := bytesOf("x")
		if err != nil {
			return PublicJWK{}, err
		}
		y, err := bytesOf("y")
		if err != nil {
			return PublicJWK{}, err
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return PublicJWK{}, errors.New("EC coordinates of the wrong length")
		}
		// The uncompressed point form lets crypto/ecdh-backed parsing check the
		// point is on the curve.
		point := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return PublicJWK{}, fmt.Errorf("EC point: %w", err)
		}
		out.Key = pub
		canonical = map[string]string{"crv": crv, "kty": kty, "x": str("x"), "y": str("y")}
	case "RSA":
		n, err := bytesOf("n")
		if err != nil {
			return PublicJWK{}, err
		}
		e, err := bytesOf("e")
		if err != nil {
			return PublicJWK{}, err
		}
		if len(e) > 4 || n[0] == 0 || e[0] == 0 {
			return PublicJWK{}, errors.New("RSA members not in minimal form")
		}
		if len(n)*8 > domain.MaxRSAKeyBits {
			return PublicJWK{}, fmt.Errorf("RSA key of more than %d bits; at most %d are accepted", domain.MaxRSAKeyBits, domain.MaxRSAKeyBits)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < domain.MinRSAKeyBits {
			return PublicJWK{}, fmt.Errorf("RSA key of %d bits; at least %d are required", pub.N.BitLen(), domain.MinRSAKeyBits)
		}
		if pub.E < 3 || pub.E%2 == 0 || pub.E > maxRSAExponent {
			return PublicJWK{}, errors.New("RSA exponent is not acceptable")
		}
		out.Key = pub
		canonical = map[string]string{"e": str("e"), "kty": kty, "n": str("n")}
	case "OKP":
		if crv := str("crv"); crv != "Ed25519" {
			return PublicJWK{}, fmt.Errorf("OKP curve %q is not accepted", crv)
		}
		x, err := bytesOf("x")
		if err != nil {
			return PublicJWK{}, err
		}
		if len(x) != ed25519.PublicKeySize {
			return PublicJWK{}, errors.New("Ed25519 key of the wrong length")
		}
		out.Key = ed25519.PublicKey(x)
		canonical = map[string]string{"crv": "Ed25519", "kty": kty, "x": str("x")}
	default:
		return PublicJWK{}, fmt.Errorf("key type %q is not accepted", kty)
	}
	// encoding/json writes map keys sorted and without white space: RFC 7638 §3's form.
	b, err := json.Marshal(canonical)
	if err != nil {
		return PublicJWK{}, fmt.Errorf("thumbprint: %w", err)
	}
	sum := sha256.Sum256(b)
	out.Thumbprint = base64.RawURLEncoding.EncodeToString(sum[:])
	return out, nil
}

// keyFitsAlg reports whether a JWS alg can be verified with key (RFC 7518 §3).
func keyFitsAlg(key crypto.PublicKey, alg string) bool {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		want := map[string]string{"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg]
		return want != "" && k.Curve.Params().Name == want
	case *rsa.PublicKey:
		return slices.Contains([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, alg)
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}
