package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// DPoPParser checks DPoP proof JWTs (RFC 9449 §4.2-4.3, steps 1-9 less what needs the
// request, the clock or the replay store, which usecase.DPoP does): one compact JWS,
// typ dpop+jwt, an alg of ClientKeyAlgs, a jwk header holding a public key that fits
// the alg and verifies the signature, and the claims jti, htm, htu and iat.
type DPoPParser struct {
	parser *jwt.Parser
}

var _ usecase.DPoPProofParser = (*DPoPParser)(nil)

// MaxProofSize bounds a proof: an RSA-4096 jwk and its signature fit well within it.
const MaxProofSize = 8 << 10

// NewDPoPParser returns a parser.
func NewDPoPParser() *DPoPParser {
	return &DPoPParser{parser: jwt.NewParser(
		jwt.WithValidMethods(ClientKeyAlgs),
		// iat is checked against the usecase's clock and window; exp/nbf mean nothing here.
		jwt.WithoutClaimsValidation(),
		jwt.WithJSONNumber(),
	)}
}

type dpopClaims struct {
	JTI   string          `json:"jti"`
	HTM   string          `json:"htm"`
	HTU   string          `json:"htu"`
	IAT   json.RawMessage `json:"iat"` // read below, so that a non-number is named as such
	Nonce string          `json:"nonce"`
	ATH   string          `json:"ath"`
}

// GetExpirationTime and the rest make dpopClaims a jwt.Claims; validation is off.
func (dpopClaims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (dpopClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (dpopClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (dpopClaims) GetIssuer() (string, error)                   { return "", nil }
func (dpopClaims) GetSubject() (string, error)                  { return "", nil }
func (dpopClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

func badProof(desc string, detail error) error {
	if detail == nil {
		return domain.ErrInvalidDPoPProof.WithDescription("%s", desc)
	}
	return fmt.Errorf("%w: %w", domain.ErrInvalidDPoPProof.WithDescription("%s", desc), detail)
}

// ParseDPoPProof checks raw and returns its claims and key thumbprint.
func (p *DPoPParser) ParseDPoPProof(raw string) (usecase.DPoPProof, error) {
	if raw == "" || len(raw) > MaxProofSize || !compactJWSChars(raw) || strings.Count(raw, ".") != 2 {
		return usecase.DPoPProof{}, badProof("the DPoP proof is not a compact JWS", nil)
	}
	var c dpopClaims
	var thumb string
	_, err := p.parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); !strings.EqualFold(typ, "dpop+jwt") {
			return nil, errors.New("typ is not dpop+jwt")
		}
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("crit header: no extension is understood")
		}
		m, ok := t.Header["jwk"].(map[string]any)
		if !ok {
			return nil, errors.New("no jwk header")
		}
		k, err := ParsePublicJWK(m)
		if err != nil {
			return nil, err
		}
		if !keyFitsAlg(k.Key, t.Method.Alg()) {
			return nil, fmt.Errorf("alg %s does not fit the jwk", t.Method.Alg())
		}
		thumb = k.Thumbprint
		return k.Key, nil
	})
	if err != nil {
		desc := "the DPoP proof is invalid"
		switch {
		case errors.Is(err, jwt.ErrTokenSignatureInvalid):
			desc = "the DPoP proof signature does not verify with its jwk"
		case errors.Is(err, jwt.ErrTokenUnverifiable) || errors.Is(err, jwt.ErrTokenMalformed):
			desc = "the DPoP proof header is not acceptable (typ dpop+jwt, an asymmetric alg, a public jwk)"
		}
		return usecase.DPoPProof{}, badProof(desc, err)
	}
	// iat is a NumericDate (RFC 7519 §2): a JSON number, not a string.
	var iat float64
	err = json.Unmarshal(c.IAT, &iat)
	if c.JTI == "" || c.HTM == "" || c.HTU == "" || err != nil || math.IsNaN(iat) || iat <= 0 || iat > 1e11 {
		return usecase.DPoPProof{}, badProof("the DPoP proof lacks jti, htm, htu or a numeric iat", err)
	}
	if len(c.JTI) > 256 {
		return usecase.DPoPProof{}, badProof("the DPoP proof jti is too long", nil)
	}
	sec, frac := math.Modf(iat)
	return usecase.DPoPProof{
		JKT: thumb, Method: c.HTM, URL: c.HTU, JTI: c.JTI, Nonce: c.Nonce, ATH: c.ATH,
		IssuedAt: time.Unix(int64(sec), int64(frac*1e9)).UTC(),
	}, nil
}
