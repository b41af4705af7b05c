// Command clientjwt makes the JWTs a client signs with its own key, for trying
// Gatehouse's DPoP (RFC 9449) and private_key_jwt (RFC 7523) with curl:
//
//	clientjwt key FILE                          make an ES256 key (PEM, mode 0600) unless FILE exists; print its public JWK Set
//	clientjwt dpop FILE METHOD URL [TOKEN [NONCE]]  print a DPoP proof for a request (with ath when TOKEN is given)
//	clientjwt assertion FILE CLIENT_ID AUDIENCE  print a client assertion (exp in 60 s, fresh jti)
//
// It is a walk-through aid, not a client library: real clients use their OAuth
// library's DPoP and private_key_jwt support.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage:
  clientjwt key FILE
  clientjwt dpop FILE METHOD URL [ACCESS_TOKEN [NONCE]]
  clientjwt assertion FILE CLIENT_ID AUDIENCE`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var out string
	var err error
	switch cmd, file, rest := args[0], args[1], args[2:]; {
	case cmd == "key" && len(rest) == 0:
		out, err = keyCmd(file)
	case cmd == "dpop" && len(rest) >= 2 && len(rest) <= 4:
		out, err = dpopCmd(file, rest)
	case cmd == "assertion" && len(rest) == 2:
		out, err = assertionCmd(file, rest[0], rest[1])
	default:
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "clientjwt:", err)
		return 1
	}
	fmt.Fprintln(stdout, out)
	return 0
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// publicJWK is the key's public JWK, its kid the RFC 7638 thumbprint.
func publicJWK(k *ecdsa.PrivateKey) map[string]string {
	pub, _ := k.PublicKey.Bytes() // uncompressed point: 0x04 || x || y
	x, y := b64(pub[1:33]), b64(pub[33:])
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": b64(sum[:]), "alg": "ES256", "use": "sig"}
}

func keyCmd(file string) (string, error) {
	k, err := loadKey(file)
	if errors.Is(err, fs.ErrNotExist) {
		if k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return "", err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	b, err := json.Marshal(map[string]any{"keys": []any{publicJWK(k)}})
	return string(b), err
}

func loadKey(file string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: not a P-256 key", file)
	}
	return ec, nil
}

func jti() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b64(b)
}

func dpopCmd(file string, rest []string) (string, error) {
	k, err := loadKey(file)
	if err != nil {
		return "", err
	}
	jwk := publicJWK(k)
	delete(jwk, "kid")
	delete(jwk, "alg")
	delete(jwk, "use")
	claims := map[string]any{"jti": jti(), "htm": rest[0], "htu": rest[1], "iat": time.Now().Unix()}
	if len(rest) > 2 && rest[2] != "" {
		sum := sha256.Sum256([]byte(rest[2]))
		claims["ath"] = b64(sum[:])
	}
	if len(rest) > 3 {
		claims["nonce"] = rest[3]
	}
	return sign(k, map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}, claims)
}

func assertionCmd(file, clientID, aud string) (string, error) {
	k, err := loadKey(file)
	if err != nil {
		return "", err
	}
	now := time.Now()
	return sign(k, map[string]any{"alg": "ES256", "kid": publicJWK(k)["kid"]},
		map[string]any{"iss": clientID, "sub": clientID, "aud": aud, "jti": jti(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
}

// sign makes a compact ES256 JWS (r || s, 32 bytes each).
func sign(k *ecdsa.PrivateKey, header, claims map[string]any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64(h) + "." + b64(c)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64(sig), nil
}
