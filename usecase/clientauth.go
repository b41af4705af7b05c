package usecase

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gatehouse/domain"
)

// Client authentication methods (RFC 6749 §2.3, OpenID Connect Core §9).
const (
	AuthMethodBasic = "client_secret_basic"
	AuthMethodPost  = "client_secret_post"
	AuthMethodNone  = "none"
)

// Credentials is what a request presented to authenticate its client. The HTTP adapter
// fills it and has already refused requests that use two methods at once.
type Credentials struct {
	ClientID string
	Secret   string
	Method   string
	// Address is the caller's network address, for throttling.
	Address string
	// Assertion is the client_assertion of private_key_jwt (Method
	// AuthMethodPrivateKeyJWT; the adapter has checked client_assertion_type).
	Assertion string
}

// ClientRefresher is a ClientStore that may answer from a cache and can read one
// client afresh (renewing its cache entry).
type ClientRefresher interface {
	RefreshClient(ctx context.Context, id string) (domain.Client, error) // domain.ErrNotFound
}

// ClientAuthenticator runs once before every grant, revocation and introspection, so
// no endpoint can forget it (the way Dex shares its client checks).
type ClientAuthenticator struct {
	clients  ClientStore
	hasher   SecretHasher
	throttle Throttle
	// private_key_jwt (clientassertion.go); assertions nil refuses every assertion.
	assertions   ClientAssertionVerifier
	replay       ReplayStore
	clock        Clock
	assertionCfg ClientAssertionConfig
	issuer       string
}

// NewClientAuthenticator builds the shared client check.
func NewClientAuthenticator(clients ClientStore, hasher SecretHasher, throttle Throttle) *ClientAuthenticator {
	return &ClientAuthenticator{clients: clients, hasher: hasher, throttle: throttle}
}

// NewClientAuthenticatorWithAssertions is NewClientAuthenticator that also accepts
// private_key_jwt client assertions (RFC 7523 §2.2).
func NewClientAuthenticatorWithAssertions(clients ClientStore, hasher SecretHasher, throttle Throttle,
	assertions ClientAssertionVerifier, replay ReplayStore, clock Clock, cfg ClientAssertionConfig, settings Settings) *ClientAuthenticator {
	a := NewClientAuthenticator(clients, hasher, throttle)
	a.assertions, a.replay, a.clock, a.assertionCfg = assertions, replay, clock, cfg
	a.issuer = strings.TrimSuffix(string(settings.Issuer), "/")
	return a
}

// liveClient is store.ClientByID for every path that serves a client: a disabled
// client is as unknown as one that does not exist (ErrNotFound), so that nothing,
// not even timing, tells the two apart (SECURITY S58).
func liveClient(ctx context.Context, store ClientStore, id string) (domain.Client, error) {
	c, err := store.ClientByID(ctx, id)
	if err == nil && c.Disabled {
		return domain.Client{}, fmt.Errorf("client %q is disabled: %w", id, domain.ErrNotFound)
	}
	return c, err
}

// dummySecretHash is compared against when the client is unknown, so an unknown
// client and a wrong secret cost the same (SECURITY S22).
var dummySecretHash = make([]byte, 32)

// Authenticate returns the client the credentials prove, or ErrInvalidClient. An
// unknown client, a wrong secret and a wrong method all give the same error.
//
// The throttle (per address, SECURITY S28) is consulted only once authentication has
// failed: a locked address gets a 429 for a wrong secret instead of a 401, and a
// failure is counted only while the address is not locked, so the lock and its
// Retry-After grow exactly as when every attempt was checked first. A right secret
// is never held back. Client secrets are 256 random bits drawn by the server: no
// number of guesses finds one, so throttling a correct secret protects nothing,
// whereas checking first would cost every successful request a read of the
// throttle, a database round trip with the shared store (GATEHOUSE_THROTTLE_STORE=
// database) on the token endpoint's hottest path. Passwords, login and device user
// codes, which people choose or which are short, are checked before every attempt.
func (a *ClientAuthenticator) Authenticate(ctx context.Context, cr Credentials) (domain.Client, error) {
	if cr.Method == AuthMethodPrivateKeyJWT && cr.ClientID == "" {
		cr.ClientID = AssertionSubject(cr.Assertion)
	}
	if cr.ClientID == "" {
		return domain.Client{}, domain.ErrInvalidClient
	}
	client, ok, err := a.verify(ctx, cr)
	if err != nil {
		return domain.Client{}, err
	}
	if !ok {
		return domain.Client{}, a.failed(ctx, cr.Address)
	}
	return client, nil
}

// failed answers a failed authentication from address: 429 while the address is
// locked (the failure is then not counted, as it would not have been tried), else
// the failure is counted and the answer is invalid_client. A throttle that cannot be
// read fails closed (its error, a 503).
func (a *ClientAuthenticator) failed(ctx context.Context, address string) error {
	key := "client-auth:" + address
	if err := a.throttle.Check(ctx, key); err != nil {
		return err
	}
	a.throttle.Failure(ctx, key)
	return domain.ErrInvalidClient
}

// verify reports whether the credentials prove their client; the error is a storage
// failure only.
func (a *ClientAuthenticator) verify(ctx context.Context, cr Credentials) (domain.Client, bool, error) {
	client, err := liveClient(ctx, a.clients, cr.ClientID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		a.hasher.SecretMatches(dummySecretHash, cr.Secret)
		return domain.Client{}, false, nil
	case err != nil:
		return domain.Client{}, false, fmt.Errorf("authenticate client: %w", err)
	}
	ok := false
	if cr.Method == AuthMethodPrivateKeyJWT || client.UsesPrivateKeyJWT() {
		// Only an assertion proves a private_key_jwt client; an assertion proves no
		// other client (no downgrade to a secret, no upgrade of a secret client).
		ok, err = a.checkAssertion(ctx, client, cr)
		if err != nil {
			return domain.Client{}, false, err
		}
		if !ok {
			return domain.Client{}, false, nil
		}
		return client, true, nil
	}
	if client.Public {
		ok = cr.Method == AuthMethodNone && cr.Secret == ""
	} else {
		ok = cr.Method != AuthMethodNone && a.hasher.SecretMatches(client.SecretHash, cr.Secret)
		if !ok && cr.Method != AuthMethodNone {
			// The store may answer from memory: a secret rotated a moment ago (by the
			// CLI or another instance) must work at once, so a mismatch is checked once
			// more against the stored client. The old secret still works until the
			// cached entry expires; a wrong secret costs one database read, as it did
			// before any cache.
			if r, cached := a.clients.(ClientRefresher); cached {
				fresh, err := r.RefreshClient(ctx, cr.ClientID)
				switch {
				case err == nil:
					client = fresh
					ok = !fresh.Public && !fresh.Disabled && a.hasher.SecretMatches(fresh.SecretHash, cr.Secret)
				case !errors.Is(err, domain.ErrNotFound):
					return domain.Client{}, false, fmt.Errorf("authenticate client: %w", err)
				}
			}
		}
	}
	if !ok {
		return domain.Client{}, false, nil
	}
	return client, true, nil
}
