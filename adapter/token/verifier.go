package token

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/domain"
	"gatehouse/usecase"
)

var _ usecase.AccessTokenVerifier = (*Verifier)(nil)

// DefaultLeeway is the clock skew tolerated on iat and nbf (not on exp: the server's
// own tokens end at their exp).
const DefaultLeeway = 30 * time.Second

// MaxTokenSize bounds the tokens a Verifier parses; ours are well under 2 KiB.
const MaxTokenSize = 8 << 10

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Issuer is the only `iss` accepted, compared exactly.
	Issuer string
	// Leeway is the tolerated clock skew; zero means DefaultLeeway.
	Leeway time.Duration
}

// VerifierConfigFromSettings reads the verifier's configuration from the settings.
func VerifierConfigFromSettings(s usecase.Settings) VerifierConfig {
	return VerifierConfig{Issuer: string(s.Issuer)}
}

// verifiableAlgs is the allow-list (RFC 8725 §3.1): asymmetric algs we sign with,
// never "none" or an HMAC alg, whose "secret" an attacker could take from our JWKS.
var verifiableAlgs = []string{domain.AlgES256, domain.AlgRS256, domain.AlgEdDSA}

// Verifier checks access tokens issued by this server (for /userinfo,
// introspection and revocation). It checks signature, alg, kid, typ, iss, exp,
// iat and nbf, but not aud: those endpoints accept any audience of ours.
// Revocation (deny-list, family) is the use case's business.
type Verifier struct {
	ring   *KeyRing
	clock  usecase.Clock
	parser *jwt.Parser
	cache  *verifiedCache
}

// NewVerifier returns a Verifier using the ring's published keys and clock for
// the current time.
func NewVerifier(ring *KeyRing, cfg VerifierConfig, clock usecase.Clock) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("verifier: issuer is required")
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = DefaultLeeway
	}
	return &Verifier{
		ring:  ring,
		clock: clock,
		cache: newVerifiedCache(verifiedCacheSize),
		parser: jwt.NewParser(
			jwt.WithValidMethods(verifiableAlgs),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithStrictDecoding(), // one token string per signature: no malleable base64
			jwt.WithTimeFunc(clock.Now),
		),
	}, nil
}

// accessClaims are the claims of an RFC 9068 access token.
type accessClaims struct {
	jwt.RegisteredClaims
	ClientID string           `json:"client_id"`
	Scope    string           `json:"scope"`
	AuthTime *jwt.NumericDate `json:"auth_time"`
	FamilyID string           `json:"fid"`
	Actor    *actClaim        `json:"act"`
	Cnf      *struct {
		JKT string `json:"jkt"`
	} `json:"cnf"`
	Groups         []string `json:"groups"`
	UserInfoClaims string   `json:"uic"`
}

// invalid wraps a defect as domain.ErrInvalidToken; the detail is for logs only.
func invalid(err error) error { return fmt.Errorf("%w: %w", domain.ErrInvalidToken, err) }

// IsAccessTokenType reports whether a JOSE typ names an RFC 9068 access token
// (media types compare case-insensitively; the "application/" prefix may be
// left out, RFC 7515 §4.1.9).
func IsAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
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

// VerifyAccessToken checks raw and returns what it carries, FamilyID included.
// Any defect is domain.ErrInvalidToken.
func (v *Verifier) VerifyAccessToken(ctx context.Context, raw string) (domain.AccessToken, error) {
	if raw == "" || len(raw) > MaxTokenSize {
		return domain.AccessToken{}, invalid(fmt.Errorf("token of %d bytes", len(raw)))
	}
	if !compactJWSChars(raw) {
		return domain.AccessToken{}, invalid(errors.New("a character outside base64url and '.'"))
	}
	now := v.clock.Now()
	key := sha256.Sum256([]byte(raw))
	if v.cache != nil {
		if at, ok := v.cache.get(key, now, v.ring); ok {
			return at, nil
		}
	}
	var c accessClaims
	var kid string
	_, err := v.parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		// The header's jku, x5u, jwk and x5c are never read: keys come from our
		// ring only (RFC 8725 §3.10).
		if typ, _ := t.Header["typ"].(string); !IsAccessTokenType(typ) {
			return nil, fmt.Errorf("typ %q is not at+jwt", typ)
		}
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("crit header: no extension is understood") // RFC 7515 §4.1.11
		}
		kid, _ = t.Header["kid"].(string)
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
		if k.Alg == domain.AlgES256 && highS(t.Signature) {
			return nil, errors.New("ES256 signature not in low-s form") // see lowS
		}
		return k.public, nil
	})
	if err != nil {
		return domain.AccessToken{}, invalid(err)
	}
	switch {
	case !now.Before(c.ExpiresAt.Time):
		// Without the leeway: this server set exp itself, so it ends the token at
		// exp (RFC 7662 §2.2), as token exchange does; the leeway stays for iat and
		// nbf, which another instance's clock may have set a little ahead.
		return domain.AccessToken{}, invalid(usecase.ErrAccessTokenExpired)
	case c.Subject == "" || c.ID == "" || c.ClientID == "":
		return domain.AccessToken{}, invalid(errors.New("sub, jti and client_id are required"))
	case len(c.Audience) == 0:
		return domain.AccessToken{}, invalid(errors.New("aud is required"))
	case c.IssuedAt == nil:
		return domain.AccessToken{}, invalid(errors.New("iat is required"))
	}
	scope, err := domain.ParseScope(c.Scope)
	if err != nil {
		return domain.AccessToken{}, invalid(fmt.Errorf("scope: %w", err))
	}
	actor, err := c.Actor.toActor()
	if err != nil {
		return domain.AccessToken{}, invalid(err)
	}
	at := domain.AccessToken{
		ID:        c.ID,
		ClientID:  c.ClientID,
		Subject:   c.Subject,
		Audience:  []string(c.Audience),
		Scope:     scope,
		IssuedAt:  c.IssuedAt.UTC(),
		ExpiresAt: c.ExpiresAt.UTC(),
		FamilyID:  c.FamilyID,
		Actor:     actor,
		Groups:    c.Groups,
	}
	if c.UserInfoClaims != "" {
		at.UserInfoClaims = domain.ParseClaimNames(c.UserInfoClaims)
	}
	if c.Cnf != nil {
		if c.Cnf.JKT == "" {
			return domain.AccessToken{}, invalid(errors.New("cnf without jkt"))
		}
		at.JKT = c.Cnf.JKT
	}
	if c.AuthTime != nil {
		at.AuthTime = c.AuthTime.UTC()
	}
	if v.cache != nil {
		v.cache.put(key, kid, at, now)
	}
	return at, nil
}
