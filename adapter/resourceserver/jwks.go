package resourceserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"

	"gatehouse/domain"
)

// verifyKey is one usable public key of the JWKS.
type verifyKey struct {
	alg string
	ec  *ecdsa.PublicKey
	rsa *rsa.PublicKey
	ed  ed25519.PublicKey
}

// keySet is an immutable set of keys by kid.
type keySet struct {
	byKID     map[string]*verifyKey
	fetchedAt int64 // monotonic ns since the verifier's epoch
}

// errNotFound marks a metadata document that does not exist (so the next
// candidate is tried).
var errNotFound = errors.New("not found")

// getJSON fetches url into dst, with the fetch timeout and a size limit.
func (v *Verifier) getJSON(ctx context.Context, u string, dst any) error {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET %s: %w", u, errNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return fmt.Errorf("GET %s: read body: %w", u, err)
	}
	if len(body) > maxDocumentSize {
		return fmt.Errorf("GET %s: body exceeds %d bytes", u, maxDocumentSize)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// discover finds the jwks_uri: OpenID Connect Discovery §4, then RFC 8414 §3
// (the well-known segment goes between host and path), then the conventional
// <issuer>/.well-known/jwks.json. A document whose issuer is not ours is an
// error, never a fallback: it would let another server's keys in (RFC 8414 §3.3).
func (v *Verifier) discover(ctx context.Context) (string, error) {
	iu, _ := url.Parse(v.cfg.Issuer)
	rfc8414 := *iu
	rfc8414.Path = "/.well-known/oauth-authorization-server" + trimSlash(iu.Path)
	rfc8414.RawPath = ""
	candidates := []string{trimSlash(v.cfg.Issuer) + "/.well-known/openid-configuration", rfc8414.String()}
	var errs []error
	for _, u := range candidates {
		var meta struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := v.getJSON(ctx, u, &meta); err != nil {
			errs = append(errs, err)
			continue
		}
		if meta.Issuer != v.cfg.Issuer {
			return "", fmt.Errorf("metadata at %s names issuer %q, want %q", u, meta.Issuer, v.cfg.Issuer)
		}
		if meta.JWKSURI == "" {
			errs = append(errs, fmt.Errorf("metadata at %s has no jwks_uri", u))
			continue
		}
		if err := v.checkJWKSURI(meta.JWKSURI); err != nil {
			return "", err
		}
		return meta.JWKSURI, nil
	}
	fallback := trimSlash(v.cfg.Issuer) + "/.well-known/jwks.json"
	v.log.Debug("resourceserver: no usable discovery document; using the default JWKS location",
		"jwks_uri", fallback, "error", errors.Join(errs...))
	return fallback, nil
}

// checkJWKSURI: absolute http(s), and https whenever the issuer is https (keys
// fetched in the clear could be swapped on the way).
func (v *Verifier) checkJWKSURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("jwks_uri %q is not an absolute http(s) URL", raw)
	}
	if u.Scheme == "http" && len(v.cfg.Issuer) >= 8 && v.cfg.Issuer[:8] == "https://" {
		return fmt.Errorf("jwks_uri %q is plain http for an https issuer", raw)
	}
	return nil
}

// jwk holds the members of a public JSON Web Key we read (RFC 7517 §4, RFC 7518
// §6, RFC 8037 §2). Private members, certificates and URLs are not read.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// fetchKeys fetches and parses the JWKS. Keys that are not for signatures, not
// of an allowed alg, malformed, or without a kid are skipped; a kid used twice
// is dropped altogether, since a token could not say which key it means.
func (v *Verifier) fetchKeys(ctx context.Context) (*keySet, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := v.getJSON(ctx, v.jwksURI, &set); err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	ks := &keySet{byKID: make(map[string]*verifyKey, len(set.Keys)), fetchedAt: v.mono()}
	dup := map[string]bool{}
	for _, raw := range set.Keys {
		var j jwk
		if err := json.Unmarshal(raw, &j); err != nil || j.Kid == "" {
			continue
		}
		k, err := parseJWK(j)
		if err != nil {
			v.log.Debug("resourceserver: JWK skipped", "kid", j.Kid, "error", err)
			continue
		}
		if !v.algs[k.alg] {
			continue
		}
		if _, seen := ks.byKID[j.Kid]; seen || dup[j.Kid] {
			delete(ks.byKID, j.Kid)
			dup[j.Kid] = true
			continue
		}
		ks.byKID[j.Kid] = k
	}
	if len(ks.byKID) == 0 {
		return nil, fmt.Errorf("JWKS at %s has no usable signing key", v.jwksURI)
	}
	return ks, nil
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.Strict().DecodeString(s) }

// parseJWK turns a JWK into a verification key. The alg comes from the JWK or,
// when absent, from its key type; a JWK's alg must fit its key type.
func parseJWK(j jwk) (*verifyKey, error) {
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("use %q", j.Use)
	}
	switch j.Kty {
	case "EC":
		if j.Crv != "P-256" || (j.Alg != "" && j.Alg != AlgES256) {
			return nil, fmt.Errorf("EC key crv %q alg %q", j.Crv, j.Alg)
		}
		x, err1 := b64(j.X)
		y, err2 := b64(j.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("EC coordinates must be 32 bytes of base64url")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("EC point: %w", err) // not on the curve
		}
		return &verifyKey{alg: AlgES256, ec: pub}, nil
	case "RSA":
		if j.Alg != "" && j.Alg != AlgRS256 {
			return nil, fmt.Errorf("RSA key alg %q", j.Alg)
		}
		n, err1 := b64(j.N)
		e, err2 := b64(j.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("RSA n and e must be base64url, e at most 32 bits")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < domain.MinRSAKeyBits || pub.N.BitLen() > domain.MaxRSAKeyBits || pub.E < 3 || pub.E%2 == 0 {
			return nil, fmt.Errorf("RSA key of %d bits, e=%d", pub.N.BitLen(), pub.E)
		}
		return &verifyKey{alg: AlgRS256, rsa: pub}, nil
	case "OKP":
		if j.Crv != "Ed25519" || (j.Alg != "" && j.Alg != AlgEdDSA) {
			return nil, fmt.Errorf("OKP key crv %q alg %q", j.Crv, j.Alg)
		}
		x, err := b64(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 x must be 32 bytes of base64url")
		}
		return &verifyKey{alg: AlgEdDSA, ed: ed25519.PublicKey(x)}, nil
	default:
		return nil, fmt.Errorf("kty %q", j.Kty)
	}
}
