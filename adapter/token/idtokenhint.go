package token

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/usecase"
)

var _ usecase.IDTokenHintVerifier = (*HintVerifier)(nil)

// HintVerifier checks ID tokens of ours handed back as the id_token_hint of a
// logout request, against the ring's published keys.
type HintVerifier struct {
	ring   *KeyRing
	issuer string
	clock  usecase.Clock
}

// NewHintVerifier returns a HintVerifier accepting tokens of cfg.Issuer.
func NewHintVerifier(ring *KeyRing, cfg VerifierConfig, clock usecase.Clock) (*HintVerifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("hint verifier: issuer is required")
	}
	return &HintVerifier{ring: ring, issuer: cfg.Issuer, clock: clock}, nil
}

// hintParser checks the signature and alg of an id_token_hint and nothing of its
// claims: exp in particular is not checked (RP-Initiated Logout 1.0 §2 lets an
// expired ID token be a hint). iss, sub and aud are checked by VerifyIDTokenHint.
var hintParser = jwt.NewParser(
	jwt.WithValidMethods(verifiableAlgs),
	jwt.WithoutClaimsValidation(),
	jwt.WithStrictDecoding(),
)

// VerifyIDTokenHint checks an ID token of ours handed back as a logout hint: one of
// our published keys signed it (the kid's alg, never a key from the header), typ is
// not an access token's, iss is ours, sub is set and aud names exactly one client.
// Any defect is domain.ErrInvalidToken.
func (v *HintVerifier) VerifyIDTokenHint(ctx context.Context, raw string) (usecase.IDTokenHint, error) {
	if raw == "" || len(raw) > MaxTokenSize {
		return usecase.IDTokenHint{}, invalid(fmt.Errorf("id_token_hint of %d bytes", len(raw)))
	}
	now := v.clock.Now()
	var c jwt.RegisteredClaims
	_, err := hintParser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != "" && !strings.EqualFold(typ, "JWT") {
			return nil, fmt.Errorf("typ %q is not an ID token's", typ)
		}
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("crit header: no extension is understood")
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid")
		}
		k, err := v.ring.verificationKey(ctx, kid, now)
		if err != nil {
			return nil, fmt.Errorf("kid %q: %w", kid, err)
		}
		if k.Alg != t.Method.Alg() {
			return nil, fmt.Errorf("alg %s does not match the %s key %q", t.Method.Alg(), k.Alg, kid)
		}
		return k.public, nil
	})
	switch {
	case err != nil:
		return usecase.IDTokenHint{}, invalid(err)
	case c.Issuer != v.issuer:
		return usecase.IDTokenHint{}, invalid(fmt.Errorf("iss %q is not ours", c.Issuer))
	case c.Subject == "":
		return usecase.IDTokenHint{}, invalid(errors.New("no sub"))
	case len(c.Audience) != 1 || c.Audience[0] == "":
		return usecase.IDTokenHint{}, invalid(errors.New("aud must name one client"))
	}
	return usecase.IDTokenHint{Subject: c.Subject, ClientID: c.Audience[0]}, nil
}
