// Command clientjwt makes the JWTs a client signs with its own key, for trying
// Gatehouse's DPoP (RFC 9449) and private_key_jwt (RFC 7523) with curl:
//
//	clientjwt key FILE                          make an ES256 key (PEM, mode 0600) unless FILE exists; print its public JWK Set
//	                                            (stderr says which private key file it wrote or reused)
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
	"path/filepath"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage:
  clientjwt key FILE
  clientjwt dpop FILE METHOD URL [ACCESS_TOKEN [NONCE]]
  clientjwt assertion FILE CLIENT_ID AUDIENCE`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(stdout, usage)
		return 0
	}
	if len(args) > 0 && args[0] != "key" && args[0] != "dpop" && args[0] != "assertion" {
		fmt.Fprintf(stderr, "clientjwt: unknown command %q (key, dpop or assertion; see clientjwt --help)\n", args[0])
		return 2
	}
	if len(args) < 2 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var out string
	var err error
	switch cmd, file, rest := args[0], args[1], args[2:]; {
	case cmd == "key" && len(rest) == 0:
		out, err = keyCmd(file, stderr)
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

// keyCmd prints the public JWK Set of the key in file, making the key first when
// file does not exist. An existing file is never overwritten: it is the key a client
// already registered. The private key is written with mode 0600, and stderr names
// the file, so that it is not left behind unnoticed (the repository's .gitignore
// covers *.pem and *-jwks.json).
func keyCmd(file string, stderr io.Writer) (string, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	k, err := loadKey(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if k, err = writeNewKey(file); err != nil {
			return "", err
		}
		fmt.Fprintf(stderr, "clientjwt: wrote a new ES256 private key to %s (mode 0600); keep it out of version control\n", abs)
	case err != nil:
		return "", err
	default:
		fmt.Fprintf(stderr, "clientjwt: %s exists; using its key (not overwritten)\n", abs)
		if st, err := os.Stat(file); err == nil && st.Mode().Perm()&0o077 != 0 {
			fmt.Fprintf(stderr, "clientjwt: warning: %s is readable by others (mode %04o); chmod 600 it\n", abs, st.Mode().Perm())
		}
	}
	b, err := json.Marshal(map[string]any{"keys": []any{publicJWK(k)}})
	return string(b), err
}

// writeNewKey makes a P-256 key and writes it to file as PKCS #8 PEM, mode 0600;
// O_EXCL: a file that appeared meanwhile is not overwritten.
func writeNewKey(file string) (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
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
