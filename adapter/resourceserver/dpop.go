package resourceserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"gatehouse/domain"
)

// DPoP (RFC 9449 §7): a token whose cnf.jkt names a key is accepted only with
// "Authorization: DPoP <token>" and one DPoP header holding a proof that
//
//   - is a compact JWS with typ dpop+jwt, an alg of proofAlgs (the algs
//     Gatehouse's token endpoint accepts and advertises in
//     dpop_signing_alg_values_supported: ES256/384/512, RS256/384/512,
//     PS256/384/512, EdDSA; never none or HMAC), and a jwk header with a public
//     key of the alg's type (EC on the alg's curve, RSA of at least
//     domain.MinRSAKeyBits, Ed25519; a private member is refused) that verifies
//     its signature;
//   - names this request: htm its method, htu Config.PublicURL plus its path
//     (query and fragment ignored, RFC 9449 §4.3). The URL is configured, never
//     taken from Host or X-Forwarded-*, which a client or proxy can set;
//   - is fresh: iat within Config.DPoPWindow of now, and a jti not seen before;
//   - hashes this token (ath) and is signed by the key the token is bound to
//     (the jwk's RFC 7638 thumbprint equals cnf.jkt).
//
// Seen jtis are kept in memory, per process, for the window (bounded by
// Config.DPoPReplayCacheSize; when full of unexpired entries new proofs are
// refused rather than an entry forgotten, failing closed). Several instances of a
// resource server do not share it: a proof captured in transit could be replayed
// once against each other instance within the window. Keep the window short, or
// put the instances behind one that checks proofs, when that matters.

// Defaults of the DPoP settings.
const (
	DefaultDPoPWindow          = 60 * time.Second
	DefaultDPoPReplayCacheSize = 100_000
	maxProofSize               = 8 << 10
)

// Descriptions of DPoP failures (RFC 9449 §7.1 error invalid_dpop_proof).
const (
	descProofMissing   = "a DPoP-bound access token needs exactly one DPoP proof header"
	descProofInvalid   = "the DPoP proof is malformed (a compact JWS with typ dpop+jwt, a jwk header and the claims jti, htm, htu, iat)"
	descProofAlg       = "the DPoP proof alg is not accepted: it must be one of the algs of the DPoP challenge (never none or HMAC)"
	descProofKey       = "the DPoP proof jwk is not an acceptable public key (EC P-256, P-384 or P-521; RSA of 2048 to 8192 bits; Ed25519)"
	descProofKeyAlg    = "the DPoP proof alg does not fit the type or curve of its jwk"
	descProofSignature = "the DPoP proof signature does not verify with its jwk"
	descProofRequest   = "the DPoP proof does not name this request (htm, htu)"
	descProofStale     = "the DPoP proof iat is too far from the current time"
	descProofReplay    = "the DPoP proof was already used"
	descProofToken     = "the DPoP proof does not match the access token (ath or key)"
	descProofDisabled  = "this resource does not accept DPoP-bound tokens"
)

// proofHeader is the JOSE header of a proof.
type proofHeader struct {
	Alg  string         `json:"alg"`
	Typ  string         `json:"typ"`
	JWK  jsontext.Value `json:"jwk"`
	Crit jsontext.Value `json:"crit"`
}

// proofClaims are the claims of a proof.
type proofClaims struct {
	JTI string  `json:"jti"`
	HTM string  `json:"htm"`
	HTU string  `json:"htu"`
	IAT float64 `json:"iat"`
	ATH string  `json:"ath"`
}

// privateJWKMembers are the members of private and symmetric keys (RFC 7518 §6).
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// checkProof verifies proof for a request with method and path carrying token
// bound to jkt.
func (v *Verifier) checkProof(proof, method, path, token, jkt string) error {
	if v.cfg.PublicURL == "" {
		return errors.New(descProofDisabled)
	}
	if proof == "" || len(proof) > maxProofSize || !compactJWSChars(proof) {
		return errors.New(descProofInvalid)
	}
	h64, rest, ok1 := strings.Cut(proof, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(s64, '.') >= 0 {
		return errors.New(descProofInvalid)
	}
	hb, err1 := strictB64.DecodeString(h64)
	pb, err2 := strictB64.DecodeString(p64)
	sig, err3 := strictB64.DecodeString(s64)
	if err1 != nil || err2 != nil || err3 != nil {
		return errors.New(descProofInvalid)
	}
	var h proofHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return errors.New(descProofInvalid)
	}
	spec, ok := proofAlgSpecs[h.Alg]
	if !ok {
		return errors.New(descProofAlg)
	}
	if !strings.EqualFold(h.Typ, "dpop+jwt") || h.Crit != nil || h.JWK == nil {
		return errors.New(descProofInvalid)
	}
	var members map[string]jsontext.Value
	var j jwk
	if json.Unmarshal(h.JWK, &members) != nil || json.Unmarshal(h.JWK, &j) != nil {
		return errors.New(descProofKey)
	}
	for _, m := range privateJWKMembers {
		if _, ok := members[m]; ok {
			return errors.New(descProofKey)
		}
	}
	// Only the key matters: the jwk's alg, kid and use are not read, and the
	// header's alg must fit the key (RFC 8725 §3.1).
	key, err := parseProofJWK(j)
	if err != nil {
		return errors.New(descProofKey)
	}
	if !key.fits(spec) {
		return errors.New(descProofKeyAlg)
	}
	if !key.verify(spec, []byte(h64+"."+p64), sig) {
		return errors.New(descProofSignature)
	}
	var c proofClaims
	if err := json.Unmarshal(pb, &c); err != nil || c.JTI == "" || len(c.JTI) > 256 || c.HTM == "" || c.HTU == "" ||
		math.IsNaN(c.IAT) || c.IAT <= 0 {
		return errors.New(descProofInvalid)
	}
	if c.HTM != method || !domain.SameHTU(c.HTU, v.cfg.PublicURL+path) {
		return errors.New(descProofRequest)
	}
	now := v.cfg.Now()
	sec, frac := math.Modf(c.IAT)
	iat := time.Unix(int64(sec), int64(frac*1e9))
	if iat.Before(now.Add(-v.cfg.DPoPWindow)) || iat.After(now.Add(v.cfg.DPoPWindow)) {
		return errors.New(descProofStale)
	}
	digest := sha256.Sum256([]byte(token))
	if c.ATH != strictB64.EncodeToString(digest[:]) || j.thumbprint() != jkt {
		return errors.New(descProofToken)
	}
	until := iat
	if now.After(until) {
		until = now
	}
	if !v.replay.fresh(jkt+":"+c.JTI, until.Add(v.cfg.DPoPWindow+time.Second), now) {
		return errors.New(descProofReplay)
	}
	return nil
}

// proofAlgs are the algs of DPoP proofs, in the order of the DPoP challenge's
// algs and of the metadata's dpop_signing_alg_values_supported. They are the algs
// Gatehouse's token endpoint accepts (RFC 9449 §5.1), so that any token it binds
// to a client's key can be used here; this package talks to the issuer over HTTP
// only and cannot import that list, so the tests hold the two equal.
var proofAlgs = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}

// proofAlgsParam is the algs parameter of DPoP challenges.
var proofAlgsParam = strings.Join(proofAlgs, " ")

// proofAlg says what key an alg needs and how it signs (RFC 7518 §3, RFC 8037 §3.1).
type proofAlg struct {
	kty  string      // EC, RSA or OKP
	crv  string      // the curve of an EC alg
	hash crypto.Hash // none for EdDSA
	pss  bool        // RSASSA-PSS rather than PKCS #1 v1.5
}

var proofAlgSpecs = map[string]proofAlg{
	"ES256": {kty: "EC", crv: "P-256", hash: crypto.SHA256},
	"ES384": {kty: "EC", crv: "P-384", hash: crypto.SHA384},
	"ES512": {kty: "EC", crv: "P-521", hash: crypto.SHA512},
	"RS256": {kty: "RSA", hash: crypto.SHA256},
	"RS384": {kty: "RSA", hash: crypto.SHA384},
	"RS512": {kty: "RSA", hash: crypto.SHA512},
	"PS256": {kty: "RSA", hash: crypto.SHA256, pss: true},
	"PS384": {kty: "RSA", hash: crypto.SHA384, pss: true},
	"PS512": {kty: "RSA", hash: crypto.SHA512, pss: true},
	"EdDSA": {kty: "OKP"},
}

// proofPublicKey is the public key of a proof's jwk.
type proofPublicKey struct {
	kty string
	crv string // of an EC key
	ec  *ecdsa.PublicKey
	rsa *rsa.PublicKey
	ed  ed25519.PublicKey
}

// maxRSAExponent is the largest public exponent crypto/rsa verifies with.
const maxRSAExponent = 1<<31 - 1

// parseProofJWK reads a proof's public key as the token endpoint does: EC on
// P-256, P-384 or P-521 (coordinates of the curve's size, a point on the curve),
// RSA of domain.MinRSAKeyBits to domain.MaxRSAKeyBits with n and e in minimal
// form and an odd e, or OKP Ed25519. The caller has refused private members.
func parseProofJWK(j jwk) (*proofPublicKey, error) {
	switch j.Kty {
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("EC curve %q", j.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := b64(j.X)
		y, err2 := b64(j.Y)
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, fmt.Errorf("EC coordinates must be %d bytes of base64url", size)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("EC point: %w", err) // not on the curve
		}
		return &proofPublicKey{kty: "EC", crv: j.Crv, ec: pub}, nil
	case "RSA":
		n, err1 := b64(j.N)
		e, err2 := b64(j.E)
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 || n[0] == 0 || e[0] == 0 {
			return nil, errors.New("RSA n and e must be minimal base64url, e at most 32 bits")
		}
		if len(n)*8 > domain.MaxRSAKeyBits {
			return nil, fmt.Errorf("RSA key of more than %d bits", domain.MaxRSAKeyBits)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < domain.MinRSAKeyBits || pub.E < 3 || pub.E%2 == 0 || pub.E > maxRSAExponent {
			return nil, fmt.Errorf("RSA key of %d bits, e=%d", pub.N.BitLen(), pub.E)
		}
		return &proofPublicKey{kty: "RSA", rsa: pub}, nil
	case "OKP":
		x, err := b64(j.X)
		if j.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("OKP key crv %q: only Ed25519, x of 32 bytes", j.Crv)
		}
		return &proofPublicKey{kty: "OKP", ed: ed25519.PublicKey(x)}, nil
	default:
		return nil, fmt.Errorf("kty %q", j.Kty)
	}
}

// fits reports whether the key is of the type, and for EC the curve, alg needs.
func (k *proofPublicKey) fits(alg proofAlg) bool { return k.kty == alg.kty && k.crv == alg.crv }

// verify checks a proof's signature; the caller has checked that the key fits alg.
// Unlike tokens of the issuer, ES proofs may be in either s form: clients'
// libraries sign both, and a re-spelled proof keeps its jti, so the replay cache
// refuses it all the same. PS salts are of any length, as at the token endpoint
// (golang-jwt verifies with rsa.PSSSaltLengthAuto).
func (k *proofPublicKey) verify(alg proofAlg, input, sig []byte) bool {
	if alg.kty == "OKP" {
		return k.ed != nil && len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, input, sig)
	}
	var digest []byte
	switch alg.hash {
	case crypto.SHA256:
		d := sha256.Sum256(input)
		digest = d[:]
	case crypto.SHA384:
		d := sha512.Sum384(input)
		digest = d[:]
	case crypto.SHA512:
		d := sha512.Sum512(input)
		digest = d[:]
	default:
		return false
	}
	switch {
	case alg.kty == "EC" && k.ec != nil:
		size := (k.ec.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		return ecdsa.Verify(k.ec, digest, new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:]))
	case alg.kty == "RSA" && k.rsa != nil && alg.pss:
		return rsa.VerifyPSS(k.rsa, alg.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	case alg.kty == "RSA" && k.rsa != nil:
		return rsa.VerifyPKCS1v15(k.rsa, alg.hash, digest, sig) == nil
	}
	return false
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of a public JWK: its required
// members in lexicographic order, no white space.
func (j jwk) thumbprint() string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var canonical string
	switch j.Kty {
	case "EC":
		canonical = `{"crv":` + q(j.Crv) + `,"kty":"EC","x":` + q(j.X) + `,"y":` + q(j.Y) + `}`
	case "RSA":
		canonical = `{"e":` + q(j.E) + `,"kty":"RSA","n":` + q(j.N) + `}`
	case "OKP":
		canonical = `{"crv":` + q(j.Crv) + `,"kty":"OKP","x":` + q(j.X) + `}`
	}
	sum := sha256.Sum256([]byte(canonical))
	return strictB64.EncodeToString(sum[:])
}

// replayCache remembers proof jtis until they expire, in memory, with a bound.
type replayCache struct {
	mu   sync.Mutex
	max  int
	seen map[string]time.Time
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: make(map[string]time.Time)}
}

// fresh records key until expires and reports whether it was new. When the cache
// is full it first drops expired entries; still full, it refuses (fails closed).
func (r *replayCache) fresh(key string, expires, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if exp, ok := r.seen[key]; ok && now.Before(exp) {
		return false
	}
	if len(r.seen) >= r.max {
		for k, exp := range r.seen {
			if !now.Before(exp) {
				delete(r.seen, k)
			}
		}
		if len(r.seen) >= r.max {
			return false
		}
	}
	r.seen[key] = expires
	return true
}

// jktOf returns the cnf.jkt of a token's claims, "" when unbound, and an error for a
// cnf that is not an object with a string jkt.
func jktOf(m map[string]any) (string, error) {
	cnf, present := m["cnf"]
	if !present {
		return "", nil
	}
	obj, ok := cnf.(map[string]any)
	if !ok {
		return "", fmt.Errorf("cnf is not an object")
	}
	jkt, ok := obj["jkt"].(string)
	if !ok || jkt == "" {
		return "", fmt.Errorf("cnf without a jkt")
	}
	return jkt, nil
}
