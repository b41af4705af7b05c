package usecase

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"gatehouse/domain"
)

// ReplayStore remembers single-use identifiers (DPoP proof jti, client assertion jti)
// until they can no longer be presented, so that a second presentation is refused.
type ReplayStore interface {
	// MarkUsed records jti in namespace until expiresAt. Of any number of callers
	// (on any number of instances) with the same namespace and jti, exactly one gets
	// fresh = true while the record lives.
	MarkUsed(ctx context.Context, namespace, jti string, expiresAt time.Time) (fresh bool, err error)
}

// DPoPProof is a DPoP proof JWT (RFC 9449 §4.2) whose form and signature checked out:
// typ dpop+jwt, an asymmetric alg, a public jwk header that verified the signature.
type DPoPProof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the proof's jwk, base64url.
	JKT      string
	Method   string // htm
	URL      string // htu
	IssuedAt time.Time
	JTI      string
	Nonce    string // empty when absent
	ATH      string // empty when absent
}

// DPoPProofParser checks a proof's form and signature and returns its claims; every
// defect is domain.ErrInvalidDPoPProof (wrapped, with a description for the client).
type DPoPProofParser interface {
	ParseDPoPProof(raw string) (DPoPProof, error)
}

// DPoPNonces issues and checks server-provided nonces (RFC 9449 §8). They are
// stateless (a MAC of a time window), so every instance accepts every other's.
type DPoPNonces interface {
	Nonce(now time.Time) string
	ValidNonce(nonce string, now time.Time) bool
}

// DPoPConfig is the DPoP policy.
type DPoPConfig struct {
	// IATWindow is how far a proof's iat may lie from now, either way.
	IATWindow time.Duration
	// RequireNonce makes the token endpoint demand a server nonce in every proof.
	RequireNonce bool
}

// DPoPNamespace is the replay-store namespace of DPoP proof jtis.
const DPoPNamespace = "dpop"

// DPoP checks proofs of possession (RFC 9449) at the token endpoint and at the
// resources Gatehouse serves itself (userinfo).
type DPoP struct {
	parser DPoPProofParser
	replay ReplayStore
	nonces DPoPNonces
	clock  Clock
	cfg    DPoPConfig
	issuer string
}

// NewDPoP builds the checker.
func NewDPoP(parser DPoPProofParser, replay ReplayStore, nonces DPoPNonces, clock Clock, cfg DPoPConfig, settings Settings) *DPoP {
	if cfg.IATWindow <= 0 {
		cfg.IATWindow = 60 * time.Second
	}
	return &DPoP{parser: parser, replay: replay, nonces: nonces, clock: clock, cfg: cfg,
		issuer: strings.TrimSuffix(string(settings.Issuer), "/")}
}

// DPoPInput is what a request carries for DPoP.
type DPoPInput struct {
	// Proofs holds every DPoP header of the request (RFC 9449 §4.3: exactly one).
	Proofs []string
	Method string
	// Path is the endpoint's path; the expected htu is the issuer plus Path, never
	// built from Host (SECURITY S39).
	Path string
}

// Present reports whether the request carries any DPoP header.
func (in DPoPInput) Present() bool { return len(in.Proofs) > 0 }

// NonceRequired reports whether the token endpoint demands server nonces.
func (d *DPoP) NonceRequired() bool { return d.cfg.RequireNonce }

// Nonce returns a currently valid server nonce.
func (d *DPoP) Nonce() string { return d.nonces.Nonce(d.clock.Now()) }

// TokenRequest checks the proof of a token request and returns its key's
// thumbprint, or "" when the request has no DPoP header.
func (d *DPoP) TokenRequest(ctx context.Context, in DPoPInput) (string, error) {
	if !in.Present() {
		return "", nil
	}
	return d.check(ctx, in, "", d.cfg.RequireNonce)
}

// ResourceRequest checks the proof sent with a DPoP-bound access token (RFC 9449 §7):
// it must hash the token (ath) and be signed by the key the token is bound to.
func (d *DPoP) ResourceRequest(ctx context.Context, in DPoPInput, accessToken, jkt string) error {
	if !in.Present() {
		return domain.ErrInvalidDPoPProof.WithDescription("a DPoP-bound access token needs a DPoP proof")
	}
	got, err := d.check(ctx, in, accessToken, false)
	if err != nil {
		return err
	}
	if got != jkt {
		return domain.ErrInvalidDPoPProof.WithDescription("the DPoP proof is signed by another key than the token is bound to")
	}
	return nil
}

func (d *DPoP) check(ctx context.Context, in DPoPInput, accessToken string, requireNonce bool) (string, error) {
	if len(in.Proofs) != 1 {
		return "", domain.ErrInvalidDPoPProof.WithDescription("send exactly one DPoP header")
	}
	p, err := d.parser.ParseDPoPProof(in.Proofs[0])
	if err != nil {
		return "", err
	}
	if p.Method != in.Method {
		return "", domain.ErrInvalidDPoPProof.WithDescription("htm does not match the request method")
	}
	if !domain.SameHTU(p.URL, d.issuer+in.Path) {
		return "", domain.ErrInvalidDPoPProof.WithDescription("htu does not match the request URL")
	}
	now := d.clock.Now()
	if p.IssuedAt.Before(now.Add(-d.cfg.IATWindow)) || p.IssuedAt.After(now.Add(d.cfg.IATWindow)) {
		return "", domain.ErrInvalidDPoPProof.WithDescription("iat is too far from the current time")
	}
	if accessToken != "" {
		if p.ATH == "" || p.ATH != AccessTokenHash(accessToken) {
			return "", domain.ErrInvalidDPoPProof.WithDescription("ath does not match the access token")
		}
	}
	if requireNonce && (p.Nonce == "" || !d.nonces.ValidNonce(p.Nonce, now)) {
		return "", domain.ErrUseDPoPNonce
	}
	// A proof is acceptable until iat + window; remember its jti that long, counted
	// from the later of iat and now so that clock skew cannot shorten it.
	until := p.IssuedAt
	if now.After(until) {
		until = now
	}
	fresh, err := d.replay.MarkUsed(ctx, DPoPNamespace, p.JKT+":"+p.JTI, until.Add(d.cfg.IATWindow+time.Second))
	if err != nil {
		return "", fmt.Errorf("record DPoP proof jti: %w", err)
	}
	if !fresh {
		return "", domain.ErrInvalidDPoPProof.WithDescription("the DPoP proof was already used")
	}
	return p.JKT, nil
}

// AccessTokenHash is the ath of a proof: base64url SHA-256 of the token (RFC 9449 §4.2).
func AccessTokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
