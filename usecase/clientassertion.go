package usecase

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gatehouse/domain"
)

// AuthMethodPrivateKeyJWT is client authentication with a JWT the client signed
// (RFC 7523 §2.2, OpenID Connect Core §9 private_key_jwt).
const AuthMethodPrivateKeyJWT = domain.AuthPrivateKeyJWT

// ClientAssertionType is the only client_assertion_type accepted (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// ClientAssertion is a client assertion whose signature verified with one of its
// client's keys; its claims are still to be checked (ClientAuthenticator does).
type ClientAssertion struct {
	Issuer    string
	Subject   string
	Audience  []string
	JTI       string
	ExpiresAt time.Time // zero when absent
	IssuedAt  time.Time // zero when absent
	NotBefore time.Time // zero when absent
}

// ClientAssertionVerifier checks JWTs signed with keys a client registered (its
// JWKS, or the one at its jwks_uri).
type ClientAssertionVerifier interface {
	// VerifyClientAssertion checks raw's form, alg (asymmetric allow-list) and
	// signature against client's keys; any defect is an error, never a pass.
	VerifyClientAssertion(ctx context.Context, client domain.Client, raw string) (ClientAssertion, error)
	// ValidateJWKS checks a JWK Set an administrator registers: public keys only,
	// each usable for signatures.
	ValidateJWKS(raw string) error
}

// ClientAssertionConfig bounds what assertions may claim.
type ClientAssertionConfig struct {
	// MaxLifetime is how far ahead of now exp may lie.
	MaxLifetime time.Duration
	// Leeway is the clock skew tolerated on exp, nbf and iat.
	Leeway time.Duration
}

// DefaultClientAssertionConfig: exp at most 5 minutes ahead, 30 s of clock skew.
func DefaultClientAssertionConfig() ClientAssertionConfig {
	return ClientAssertionConfig{MaxLifetime: 5 * time.Minute, Leeway: 30 * time.Second}
}

// ClientAssertionNamespace is the replay-store namespace of a client's assertion jtis.
func ClientAssertionNamespace(clientID string) string { return "client-assertion:" + clientID }

// AssertionSubject reads the sub of an assertion without verifying it, to find the
// client when the request names none (RFC 7523 §3: client_id is optional). The
// assertion is verified against that client's keys afterwards.
func AssertionSubject(raw string) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || len(raw) > 16<<10 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	// The sub becomes a database key: NUL or invalid UTF-8 would make PostgreSQL and
	// MariaDB fail the query (a 500), so such a sub names no client.
	if len(c.Sub) > 255 || !utf8.ValidString(c.Sub) || strings.ContainsRune(c.Sub, 0) {
		return ""
	}
	return c.Sub
}

// checkAssertion verifies cr's assertion for client (RFC 7523 §3): signature, iss =
// sub = client_id, aud naming this server, exp present and near, jti single-use.
// The reason is empty when the assertion proves client; err is a storage failure only.
func (a *ClientAuthenticator) checkAssertion(ctx context.Context, client domain.Client, cr Credentials) (ClientAuthReason, error) {
	if !client.UsesPrivateKeyJWT() || cr.Method != AuthMethodPrivateKeyJWT || cr.Secret != "" {
		return ClientAuthWrongMethod, nil
	}
	if a.assertions == nil {
		return ClientAuthInvalidAssertion, nil
	}
	as, err := a.assertions.VerifyClientAssertion(ctx, client, cr.Assertion)
	if err != nil {
		return ClientAuthInvalidAssertion, nil
	}
	now := a.clock.Now()
	cfg := a.assertionCfg
	switch {
	case as.Issuer != client.ID || as.Subject != client.ID:
		return ClientAuthAssertionClaims, nil
	case !slices.Contains(as.Audience, a.issuer) && !slices.Contains(as.Audience, a.issuer+"/oauth/token"):
		return ClientAuthAssertionClaims, nil
	case as.ExpiresAt.IsZero() || !now.Before(as.ExpiresAt.Add(cfg.Leeway)) || as.ExpiresAt.After(now.Add(cfg.MaxLifetime+cfg.Leeway)):
		return ClientAuthAssertionClaims, nil
	case !as.NotBefore.IsZero() && as.NotBefore.After(now.Add(cfg.Leeway)):
		return ClientAuthAssertionClaims, nil
	case !as.IssuedAt.IsZero() && as.IssuedAt.After(now.Add(cfg.Leeway)):
		return ClientAuthAssertionClaims, nil
	case as.JTI == "" || len(as.JTI) > 256:
		return ClientAuthAssertionClaims, nil
	}
	fresh, err := a.replay.MarkUsed(ctx, ClientAssertionNamespace(client.ID), as.JTI, as.ExpiresAt.Add(cfg.Leeway))
	if err != nil {
		return "", fmt.Errorf("record client assertion jti: %w", err)
	}
	if !fresh {
		return ClientAuthAssertionReplayed, nil
	}
	return "", nil
}
