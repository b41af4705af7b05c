package token

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"gatehouse/domain"
	"gatehouse/usecase"
)

var (
	_ usecase.AccessTokenSigner = (*Signer)(nil)
	_ usecase.IDTokenSigner     = (*Signer)(nil)
)

// SignerConfig configures a Signer.
type SignerConfig struct {
	// Issuer is the `iss` of every token (GATEHOUSE_ISSUER).
	Issuer string
	// AccessAlg is the alg of access tokens (GATEHOUSE_SIGNING_ALG); empty means ES256.
	AccessAlg string
}

// SignerConfigFromSettings reads the signer's configuration from the settings.
func SignerConfigFromSettings(s usecase.Settings) SignerConfig {
	return SignerConfig{Issuer: string(s.Issuer), AccessAlg: string(s.SigningAlg)}
}

// familyClaim is the private claim (RFC 7519 §4.3) that carries
// domain.AccessToken.FamilyID. A claim of its own rather than a jti prefix: the
// jti stays an opaque unique id, and nothing has to be split or parsed.
const familyClaim = "fid"

// userInfoClaim is the private claim of an access token that carries the claims its
// grant's claims request (OpenID Connect Core §5.5) asked of userinfo, as their
// names separated by spaces: userinfo is answered from the token alone, with nothing
// stored. Absent, as it is unless a claims parameter asked for userinfo claims.
const userInfoClaim = "uic"

// Signer signs access tokens (RFC 9068) and ID tokens (OpenID Connect Core §2)
// with the KeyRing's active keys.
type Signer struct {
	ring      *KeyRing
	issuer    string
	accessAlg string
}

// NewSigner returns a Signer.
func NewSigner(ring *KeyRing, cfg SignerConfig) (*Signer, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("signer: issuer is required")
	}
	if cfg.AccessAlg == "" {
		cfg.AccessAlg = domain.AlgES256
	}
	if err := domain.ValidateAlg(cfg.AccessAlg); err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	return &Signer{ring: ring, issuer: cfg.Issuer, accessAlg: cfg.AccessAlg}, nil
}

// bufPool recycles claim buffers; a token is a few hundred bytes.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// SignAccessToken returns the RFC 9068 JWT of t: header typ at+jwt, alg, kid;
// claims iss sub aud exp iat jti client_id, scope (space-separated) when not
// empty, auth_time when a user authenticated, fid (the token family) when set, and
// act (RFC 8693 §4.1) for a token issued by token exchange.
func (s *Signer) SignAccessToken(ctx context.Context, t domain.AccessToken) (string, error) {
	switch {
	case t.ID == "" || t.Subject == "" || t.ClientID == "":
		return "", errors.New("sign access token: jti, sub and client_id are required")
	case len(t.Audience) == 0:
		return "", errors.New("sign access token: aud is required")
	case !t.ExpiresAt.After(t.IssuedAt):
		return "", errors.New("sign access token: exp must be after iat")
	}
	k, err := s.ring.ActiveKey(ctx, s.accessAlg)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	b := (*bp)[:0]
	b = append(b, `{"iss":`...)
	b = appendString(b, s.issuer)
	b = appendStringMember(b, "sub", t.Subject)
	b = appendAudience(b, t.Audience)
	b = appendIntMember(b, "exp", t.ExpiresAt.Unix())
	b = appendIntMember(b, "iat", t.IssuedAt.Unix())
	b = appendStringMember(b, "jti", t.ID)
	b = appendStringMember(b, "client_id", t.ClientID)
	if len(t.Scope) > 0 {
		b = append(b, `,"scope":"`...)
		for i, sc := range t.Scope {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendEscaped(b, sc)
		}
		b = append(b, '"')
	}
	if !t.AuthTime.IsZero() {
		b = appendIntMember(b, "auth_time", t.AuthTime.Unix())
	}
	b = appendAuthMethods(b, t.AMR)
	if t.FamilyID != "" {
		b = appendStringMember(b, familyClaim, t.FamilyID)
	}
	b = appendActor(b, t.Actor)
	if t.Groups != nil {
		b = appendStringsMember(b, "groups", t.Groups)
	}
	if t.UserInfoClaims != 0 {
		b = appendStringMember(b, userInfoClaim, t.UserInfoClaims.String())
	}
	if t.JKT != "" {
		// RFC 9449 §6.1: the DPoP key's thumbprint in the confirmation claim.
		b = append(b, `,"cnf":{"jkt":`...)
		b = appendString(b, t.JKT)
		b = append(b, '}')
	}
	b = append(b, '}')
	*bp = b
	jwt, err := sign(k, k.atHeader, b, uniquePayload)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return jwt, nil
}

// SignIDToken returns the ID token of t, signed with the active key of t.Alg
// (RS256 when empty, as OpenID Connect Core §15.1 requires every provider to
// support).
func (s *Signer) SignIDToken(ctx context.Context, t domain.IDToken) (string, error) {
	alg := t.Alg
	if alg == "" {
		alg = domain.AlgRS256
	}
	if err := domain.ValidateAlg(alg); err != nil {
		return "", fmt.Errorf("sign id token: %w", err)
	}
	switch {
	case t.Subject == "" || t.Audience == "":
		return "", errors.New("sign id token: sub and aud are required")
	case !t.ExpiresAt.After(t.IssuedAt):
		return "", errors.New("sign id token: exp must be after iat")
	}
	k, err := s.ring.ActiveKey(ctx, alg)
	if err != nil {
		return "", fmt.Errorf("sign id token: %w", err)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	b := (*bp)[:0]
	b = append(b, `{"iss":`...)
	b = appendString(b, s.issuer)
	b = appendStringMember(b, "sub", t.Subject)
	b = appendStringMember(b, "aud", t.Audience)
	b = appendIntMember(b, "exp", t.ExpiresAt.Unix())
	b = appendIntMember(b, "iat", t.IssuedAt.Unix())
	if !t.AuthTime.IsZero() {
		b = appendIntMember(b, "auth_time", t.AuthTime.Unix())
	}
	b = appendAuthMethods(b, t.AMR)
	if t.Nonce != "" {
		b = appendStringMember(b, "nonce", t.Nonce)
	}
	if t.AccessToken != "" {
		b = appendStringMember(b, "at_hash", atHash(alg, t.AccessToken))
	}
	if t.SessionID != "" {
		b = appendStringMember(b, "sid", t.SessionID)
	}
	b = appendUserClaims(b, &t.Claims)
	b = append(b, '}')
	*bp = b
	// With at_hash the payload holds the hash of an access token, which holds its own
	// random jti: no other ID token signs the same input.
	jwt, err := sign(k, k.idHeader, b, t.AccessToken != "")
	if err != nil {
		return "", fmt.Errorf("sign id token: %w", err)
	}
	return jwt, nil
}

// backchannelLogoutEvent is the events member of every logout token (Back-Channel
// Logout 1.0 §2.4).
const backchannelLogoutEvent = `{"http://schemas.openid.net/event/backchannel-logout":{}}`

// SignLogoutToken returns the logout token t, typ logout+jwt (§2.4, RFC 8725 §3.11),
// signed with the active key of the client's ID token alg. It has no nonce, as §2.4
// requires.
func (s *Signer) SignLogoutToken(ctx context.Context, t domain.LogoutToken) (string, error) {
	alg := t.Alg
	if alg == "" {
		alg = domain.AlgRS256
	}
	switch {
	case domain.ValidateAlg(alg) != nil:
		return "", fmt.Errorf("sign logout token: alg %q", alg)
	case t.Subject == "" || t.Audience == "" || t.SessionID == "" || t.ID == "":
		return "", errors.New("sign logout token: jti, sub, sid and aud are required")
	case !t.ExpiresAt.After(t.IssuedAt):
		return "", errors.New("sign logout token: exp must be after iat")
	}
	k, err := s.ring.ActiveKey(ctx, alg)
	if err != nil {
		return "", fmt.Errorf("sign logout token: %w", err)
	}
	b := append([]byte(nil), `{"iss":`...)
	b = appendString(b, s.issuer)
	b = appendStringMember(b, "sub", t.Subject)
	b = appendStringMember(b, "aud", t.Audience)
	b = appendIntMember(b, "iat", t.IssuedAt.Unix())
	b = appendIntMember(b, "exp", t.ExpiresAt.Unix())
	b = appendStringMember(b, "jti", t.ID)
	b = appendStringMember(b, "sid", t.SessionID)
	b = append(b, `,"events":`+backchannelLogoutEvent+`}`...)
	jwt, err := sign(k, encodeHeader(k.Alg, k.ID, "logout+jwt"), b, uniquePayload)
	if err != nil {
		return "", fmt.Errorf("sign logout token: %w", err)
	}
	return jwt, nil
}

// atHash is the access token hash of OpenID Connect Core §3.1.3.6: the base64url
// left half of the hash of the token's ASCII octets, with the hash of the JWS alg —
// SHA-256 for ES256 and RS256, SHA-512 for EdDSA with Ed25519 (the hash Ed25519
// itself uses, as OpenID Connect implementations agree).
func atHash(alg, accessToken string) string {
	if alg == domain.AlgEdDSA {
		sum := sha512.Sum512([]byte(accessToken))
		return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
	}
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// uniquePayload tells sign that the payload holds a jti: 128 random bits drawn for
// this token alone (usecase.Random.ID), which RFC 9068 §2.2 and Back-Channel Logout
// §2.4 require to be unique.
const uniquePayload = true

// sign returns header.payload.signature for the claims in payload. It signs with
// the standard library directly, in one buffer: signing is on the hot path of
// every token request, and the JWT library's string-based Sign would copy the
// signing input and go through big.Int for ES256.
//
// unique says that the payload holds a value drawn at random for this signature
// alone, so no other signature signs the same input. ES256 then derives its nonce
// as RFC 6979 does (HMAC-DRBG over the key and the digest, with SHA-256), else
// hedged (Go's default: fresh random bytes mixed into an HMAC-DRBG with SHA-512).
// Both keep a failing random source from revealing the key. What the hedged
// nonce adds is that signing the same input twice gives different nonces, which
// defeats fault attacks that compare a faulty signature with a correct one of the
// same input; a unique payload already gives every signature its own nonce, and
// the SHA-256 derivation is the cheaper one: most x86 and ARM CPUs run SHA-256,
// not SHA-512, in hardware (BENCHMARKS.md "What bounds it now").
func sign(k *Key, header string, payload []byte, unique bool) (string, error) {
	enc := base64.RawURLEncoding
	n := len(header) + 1 + enc.EncodedLen(len(payload))
	buf := make([]byte, n, n+1+enc.EncodedLen(maxSignatureSize))
	copy(buf, header)
	buf[len(header)] = '.'
	enc.Encode(buf[len(header)+1:], payload)

	var sigBuf [maxSignatureSize]byte
	var sig []byte
	switch key := k.private.(type) {
	case *ecdsa.PrivateKey: // ES256: r || s, 32 bytes each (RFC 7518 §3.4)
		digest := sha256.Sum256(buf)
		der, err := signES256(key, digest[:], unique)
		if err != nil {
			return "", fmt.Errorf("ES256 signature with key %s: %w", k.ID, err)
		}
		if sig, err = asn1ToFixed(der, sigBuf[:64]); err != nil {
			return "", fmt.Errorf("ES256 signature with key %s: %w", k.ID, err)
		}
		lowS(sig)
	case *rsa.PrivateKey: // RS256: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3)
		digest := sha256.Sum256(buf)
		var err error
		if sig, err = rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:]); err != nil {
			return "", fmt.Errorf("RS256 signature with key %s: %w", k.ID, err)
		}
	case ed25519.PrivateKey: // EdDSA over the whole input (RFC 8037 §3.1)
		sig = ed25519.Sign(key, buf)
	default:
		return "", fmt.Errorf("key %s of type %T cannot sign", k.ID, k.private)
	}
	if len(sig) > maxSignatureSize {
		return "", fmt.Errorf("signature of %d bytes with key %s is too long", len(sig), k.ID)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// signES256 signs digest with key, in ASN.1: with an RFC 6979 nonce when the signed
// input is unique (see sign), else with Go's hedged one.
func signES256(key *ecdsa.PrivateKey, digest []byte, unique bool) ([]byte, error) {
	if unique {
		return key.Sign(nil, digest, crypto.SHA256)
	}
	return ecdsa.SignASN1(rand.Reader, key, digest)
}

// ECDSA signatures are malleable: if (r, s) signs a message, so does (r, n-s). Only
// the low-s form (s <= n/2) is produced and accepted, so that a token has one
// spelling: a verifier refuses the other form as a changed token (SECURITY S35).
var p256Order, p256HalfOrder [32]byte

func init() {
	n := elliptic.P256().Params().N
	n.FillBytes(p256Order[:])
	new(big.Int).Rsh(n, 1).FillBytes(p256HalfOrder[:])
}

// lowS replaces s by n-s in an ES256 signature r || s when s > n/2.
func lowS(sig []byte) {
	s := sig[32:64]
	if !highS(sig) {
		return
	}
	borrow := 0
	for i := 31; i >= 0; i-- {
		d := int(p256Order[i]) - int(s[i]) - borrow
		borrow = 0
		if d < 0 {
			d += 256
			borrow = 1
		}
		s[i] = byte(d)
	}
}

// highS reports whether an ES256 signature r || s has s > n/2 (or is not 64 bytes).
func highS(sig []byte) bool {
	return len(sig) != 64 || bytes.Compare(sig[32:], p256HalfOrder[:]) > 0
}

// maxSignatureSize fits an RSA signature of up to 4096 bits.
const maxSignatureSize = 512

// asn1ToFixed turns an ASN.1 ECDSA signature (SEQUENCE of two INTEGERs) into
// r || s, each left-padded to half of dst (RFC 7518 §3.4).
func asn1ToFixed(der, dst []byte) ([]byte, error) {
	half := len(dst) / 2
	in := cryptobyte.String(der)
	var seq, r, s cryptobyte.String
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1(&r, asn1.INTEGER) || !seq.ReadASN1(&s, asn1.INTEGER) || !seq.Empty() {
		return nil, errors.New("malformed ECDSA signature")
	}
	for i, v := range [][]byte{r, s} {
		for len(v) > 0 && v[0] == 0 {
			v = v[1:]
		}
		if len(v) > half {
			return nil, errors.New("ECDSA signature integer too long")
		}
		part := dst[i*half : (i+1)*half]
		clear(part)
		copy(part[half-len(v):], v)
	}
	return dst, nil
}

// appendAuthMethods writes amr (RFC 8176) and the acr they make, when a browser
// sign-in is behind the token.
func appendAuthMethods(b []byte, amr []string) []byte {
	if len(amr) == 0 {
		return b
	}
	b = appendStringsMember(b, "amr", amr)
	return appendStringMember(b, "acr", domain.SessionACR(amr))
}
