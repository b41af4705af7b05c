package resourceserver

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Claims are the verified contents of an access token (RFC 9068 §2.2).
type Claims struct {
	Subject  string
	ClientID string
	Scope    []string
	Audience []string
	IssuedAt time.Time
	// ExpiresAt is exp; AuthTime is zero when the token has no auth_time.
	ExpiresAt time.Time
	JTI       string
	AuthTime  time.Time
	// Actor is the act claim (RFC 8693 §4.1) of a token issued by token exchange:
	// who acts for Subject. Nil when the token has none.
	Actor *Actor
	// JKT is the thumbprint of the DPoP key the token is bound to (cnf.jkt, RFC
	// 9449 §6); empty for a bearer token. Middleware has checked the proof.
	JKT string
	// Raw holds every claim as decoded from JSON (numbers are float64).
	Raw map[string]any

	realm       string // of the Verifier that checked it, for RequireScope's challenge
	metadataURL string // likewise
}

// HasScope reports whether the token was granted scope s.
func (c *Claims) HasScope(s string) bool { return slices.Contains(c.Scope, s) }

// ErrInvalidToken is what every verification failure Is.
var ErrInvalidToken = errors.New("invalid_token")

// TokenError is a verification failure. Description is safe to show the client
// (it goes into error_description); Err holds the detail, for logs only.
type TokenError struct {
	Description string
	Err         error
}

func (e *TokenError) Error() string {
	if e.Err == nil {
		return "invalid_token: " + e.Description
	}
	return "invalid_token: " + e.Description + ": " + e.Err.Error()
}

func (e *TokenError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrInvalidToken) true.
func (e *TokenError) Is(target error) bool { return target == ErrInvalidToken }

func fail(desc string, detail error) error { return &TokenError{Description: desc, Err: detail} }

// Client-facing descriptions: short, fixed, no internals.
const (
	descMalformed = "the access token is malformed"
	descAlg       = "the access token is signed with an algorithm that is not accepted"
	descType      = "the token is not an access token (typ must be at+jwt)"
	descKey       = "the access token is signed with an unknown key"
	descSignature = "the access token signature is invalid"
	descIssuer    = "the access token was issued by another issuer"
	descAudience  = "the access token is not meant for this resource"
	descExpired   = "the access token has expired"
	descNotYet    = "the access token is not valid yet"
	descClaims    = "the access token lacks required claims"
)

// JSON is decoded with encoding/json/v2's prototype (go-json-experiment/json):
// member names match exactly, duplicate names and invalid UTF-8 are errors
// (RFC 7515 §5.2 and RFC 8725 §3.7 ask for that strictness), and it is several
// times faster than encoding/json on these small documents.

// header is the JOSE header members we read. jku, x5u, jwk and x5c are
// deliberately absent: keys come from the issuer's JWKS only (RFC 8725 §3.10).
type header struct {
	Alg  string         `json:"alg"`
	Kid  string         `json:"kid"`
	Typ  string         `json:"typ"`
	Crit jsontext.Value `json:"crit"`
}

var strictB64 = base64.RawURLEncoding.Strict()

// buffers hold a token and what is decoded from it. json.Unmarshal copies what
// it keeps, so they can be reused once Verify returns.
type buffers struct {
	in, out [MaxTokenSize]byte
}

var bufPool = sync.Pool{New: func() any { return new(buffers) }}

// Verify checks raw, a compact JWS access token, and returns its claims. Every
// failure Is ErrInvalidToken and is a *TokenError.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if raw == "" || len(raw) > MaxTokenSize {
		return nil, fail(descMalformed, fmt.Errorf("token of %d bytes", len(raw)))
	}
	if !compactJWSChars(raw) {
		return nil, fail(descMalformed, errors.New("a character outside base64url and '.'"))
	}
	h64, rest, ok1 := strings.Cut(raw, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(s64, '.') >= 0 {
		return nil, fail(descMalformed, errors.New("not three dot-separated parts"))
	}

	// Header, then key, then signature; the claims are parsed only once the
	// signature holds. The token is copied once into a pooled buffer so that
	// neither decoding nor hashing needs a conversion from string.
	bufs := bufPool.Get().(*buffers)
	defer bufPool.Put(bufs)
	in := bufs.in[:copy(bufs.in[:], raw)]
	hdr, payload, sig := in[:len(h64)], in[len(h64)+1:len(h64)+1+len(p64)], in[len(h64)+1+len(p64)+1:]
	signingInput := in[:len(h64)+1+len(p64)]
	out := bufs.out[:]

	n, err := strictB64.Decode(out, hdr)
	if err != nil {
		return nil, fail(descMalformed, fmt.Errorf("header: %w", err))
	}
	var h header
	if err := json.Unmarshal(out[:n], &h); err != nil {
		return nil, fail(descMalformed, fmt.Errorf("header: %w", err))
	}
	if !v.algs[h.Alg] {
		return nil, fail(descAlg, fmt.Errorf("alg %q is not in the allow-list", h.Alg))
	}
	if !isAccessTokenType(h.Typ) {
		return nil, fail(descType, fmt.Errorf("typ %q", h.Typ))
	}
	if h.Crit != nil {
		return nil, fail(descMalformed, errors.New("crit header: no extension is understood")) // RFC 7515 §4.1.11
	}
	if h.Kid == "" {
		return nil, fail(descKey, errors.New("no kid"))
	}
	k, err := v.key(ctx, h.Kid)
	if err != nil {
		return nil, fail(descKey, fmt.Errorf("kid %q: %w", h.Kid, err))
	}
	if k.alg != h.Alg {
		return nil, fail(descAlg, fmt.Errorf("alg %s for the %s key %q", h.Alg, k.alg, h.Kid))
	}
	if n, err = strictB64.Decode(out, sig); err != nil {
		return nil, fail(descMalformed, fmt.Errorf("signature: %w", err))
	}
	if !k.verify(signingInput, out[:n]) {
		return nil, fail(descSignature, fmt.Errorf("%s signature does not verify with key %q", h.Alg, h.Kid))
	}

	if n, err = strictB64.Decode(out, payload); err != nil {
		return nil, fail(descMalformed, fmt.Errorf("payload: %w", err))
	}
	var m map[string]any
	if err := json.Unmarshal(out[:n], &m); err != nil || m == nil {
		return nil, fail(descMalformed, fmt.Errorf("payload is not a JSON object: %v", err))
	}
	return v.checkClaims(m)
}

// compactJWSChars reports whether raw holds only base64url characters and dots.
// Go's base64 decoders, strict ones too, skip CR and LF: without this check a token
// with a line break inserted anywhere would verify, a second spelling of it.
func compactJWSChars(raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isAccessTokenType: media types compare case-insensitively and may omit
// "application/" (RFC 7515 §4.1.9; RFC 9068 §4).
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

// p256HalfOrder is n/2 of P-256: ES256 signatures with a larger s are refused.
var p256HalfOrder = new(big.Int).Rsh(elliptic.P256().Params().N, 1)

// verify checks sig over input with the key's alg.
func (k *verifyKey) verify(input, sig []byte) bool {
	switch k.alg {
	case AlgES256:
		if len(sig) != 64 {
			return false
		}
		digest := sha256.Sum256(input)
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		// (r, n-s) verifies too; only the low-s form is accepted, so a token has
		// one spelling (the issuer signs that form).
		return s.Cmp(p256HalfOrder) <= 0 && ecdsa.Verify(k.ec, digest[:], r, s)
	case AlgRS256:
		digest := sha256.Sum256(input)
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, digest[:], sig) == nil
	case AlgEdDSA:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, input, sig)
	}
	return false
}

// checkClaims validates the RFC 9068 §4 claims and builds Claims.
func (v *Verifier) checkClaims(m map[string]any) (*Claims, error) {
	c := &Claims{Raw: m, realm: v.cfg.Realm, metadataURL: v.metadataURL}
	iss, _ := m["iss"].(string)
	if iss != v.cfg.Issuer {
		return nil, fail(descIssuer, fmt.Errorf("iss %q", iss))
	}
	switch aud := m["aud"].(type) {
	case string:
		c.Audience = []string{aud}
	case []any:
		c.Audience = make([]string, 0, len(aud))
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				return nil, fail(descMalformed, errors.New("aud array holds a non-string"))
			}
			c.Audience = append(c.Audience, s)
		}
	}
	if !slices.Contains(c.Audience, v.cfg.Audience) && (v.cfg.Resource == "" || !slices.Contains(c.Audience, v.cfg.Resource)) {
		return nil, fail(descAudience, fmt.Errorf("aud %q does not contain %q", c.Audience, v.cfg.Audience))
	}

	now := v.cfg.Now()
	exp, ok, err := numericDate(m, "exp")
	if err != nil || !ok {
		return nil, fail(descClaims, fmt.Errorf("exp: %v", orMissing(err)))
	}
	if !now.Before(exp.Add(v.cfg.Leeway)) {
		return nil, fail(descExpired, fmt.Errorf("exp %s, now %s", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	}
	c.ExpiresAt = exp
	if nbf, ok, err := numericDate(m, "nbf"); err != nil {
		return nil, fail(descMalformed, fmt.Errorf("nbf: %w", err))
	} else if ok && now.Add(v.cfg.Leeway).Before(nbf) {
		return nil, fail(descNotYet, fmt.Errorf("nbf %s", nbf.UTC().Format(time.RFC3339)))
	}
	iat, ok, err := numericDate(m, "iat")
	if err != nil || !ok {
		return nil, fail(descClaims, fmt.Errorf("iat: %v", orMissing(err)))
	}
	if now.Add(v.cfg.Leeway).Before(iat) {
		return nil, fail(descNotYet, fmt.Errorf("iat %s is in the future", iat.UTC().Format(time.RFC3339)))
	}
	c.IssuedAt = iat
	if at, ok, err := numericDate(m, "auth_time"); err != nil {
		return nil, fail(descMalformed, fmt.Errorf("auth_time: %w", err))
	} else if ok {
		c.AuthTime = at
	}

	var sok, cok, jok bool
	c.Subject, sok = m["sub"].(string)
	c.ClientID, cok = m["client_id"].(string)
	c.JTI, jok = m["jti"].(string)
	if !sok || !cok || !jok || c.Subject == "" || c.ClientID == "" || c.JTI == "" {
		return nil, fail(descClaims, errors.New("sub, client_id and jti are required strings"))
	}
	jkt, err := jktOf(m)
	if err != nil {
		return nil, fail(descMalformed, err)
	}
	c.JKT = jkt
	if s, present := m["scope"]; present {
		str, ok := s.(string)
		if !ok {
			return nil, fail(descMalformed, errors.New("scope is not a string"))
		}
		c.Scope = strings.Fields(str)
	}
	act, err := parseActor(m)
	if err != nil {
		return nil, fail(descMalformed, err)
	}
	c.Actor = act
	return c, nil
}

func orMissing(err error) error {
	if err == nil {
		return errors.New("missing")
	}
	return err
}

// numericDate reads an RFC 7519 NumericDate (seconds since the epoch, possibly
// fractional).
func numericDate(m map[string]any, name string) (time.Time, bool, error) {
	v, present := m[name]
	if !present {
		return time.Time{}, false, nil
	}
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
		return time.Time{}, false, fmt.Errorf("%v is not a NumericDate", v)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}
