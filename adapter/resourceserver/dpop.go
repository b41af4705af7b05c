package resourceserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
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
//   - is a compact JWS with typ dpop+jwt, an asymmetric alg (ES256, RS256, EdDSA),
//     and a jwk header with a public key (a private member is refused) that
//     verifies its signature;
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
	descProofMissing  = "a DPoP-bound access token needs exactly one DPoP proof header"
	descProofInvalid  = "the DPoP proof is malformed or its signature does not verify with its jwk"
	descProofRequest  = "the DPoP proof does not name this request (htm, htu)"
	descProofStale    = "the DPoP proof iat is too far from the current time"
	descProofReplay   = "the DPoP proof was already used"
	descProofToken    = "the DPoP proof does not match the access token (ath or key)"
	descProofDisabled = "this resource does not accept DPoP-bound tokens"
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
	if err := json.Unmarshal(hb, &h); err != nil || !strings.EqualFold(h.Typ, "dpop+jwt") || h.Crit != nil || h.JWK == nil {
		return errors.New(descProofInvalid)
	}
	if h.Alg != AlgES256 && h.Alg != AlgRS256 && h.Alg != AlgEdDSA {
		return errors.New(descProofInvalid)
	}
	var members map[string]jsontext.Value
	var j jwk
	if json.Unmarshal(h.JWK, &members) != nil || json.Unmarshal(h.JWK, &j) != nil {
		return errors.New(descProofInvalid)
	}
	for _, m := range privateJWKMembers {
		if _, ok := members[m]; ok {
			return errors.New(descProofInvalid)
		}
	}
	j.Alg, j.Kid, j.Use = "", "", "" // only the key matters; the header's alg is checked against it
	key, err := parseJWK(j)
	if err != nil || key.alg != h.Alg || !key.verifyProof([]byte(h64+"."+p64), sig) {
		return errors.New(descProofInvalid)
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

// verifyProof checks a proof's signature. Unlike tokens of the issuer, ES256
// proofs may be in either s form: clients' libraries sign both, and a re-spelled
// proof keeps its jti, so the replay cache refuses it all the same.
func (k *verifyKey) verifyProof(input, sig []byte) bool {
	switch k.alg {
	case AlgES256:
		if len(sig) != 64 {
			return false
		}
		digest := sha256.Sum256(input)
		return ecdsa.Verify(k.ec, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	case AlgRS256:
		digest := sha256.Sum256(input)
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, digest[:], sig) == nil
	case AlgEdDSA:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, input, sig)
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
