package usecase

import (
	"context"
	"crypto/hmac"
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

// ClientRefresher is a ClientStore that may answer from memory: CachedClient tells
// what it holds without reading the store, RefreshClient reads one client afresh
// (renewing what it holds).
type ClientRefresher interface {
	CachedClient(id string) (domain.Client, bool)
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

// dummySecretHash stands in for the stored hash of a registration access token when
// the client is unknown or has none, so that those cost what a wrong token does
// (SECURITY S22).
var dummySecretHash = make([]byte, 32)

// ClientAuthReason says why a client failed to authenticate. The caller is told
// only invalid_client (an unknown client and a wrong secret must look the same,
// SECURITY S22); the reason is for the operator's logs and metrics. The set is small
// and fixed, so that it can label a metric.
type ClientAuthReason string

// The reasons a client authentication fails.
const (
	// ClientAuthNoClientID: nothing in the request names a client.
	ClientAuthNoClientID ClientAuthReason = "no_client_id"
	// ClientAuthMalformed: the credentials cannot be read (a broken Basic header).
	ClientAuthMalformed ClientAuthReason = "malformed_credentials"
	// ClientAuthUnknownClient: no client has that id.
	ClientAuthUnknownClient ClientAuthReason = "unknown_client"
	// ClientAuthWrongSecret: a confidential client's secret does not match.
	ClientAuthWrongSecret ClientAuthReason = "wrong_secret"
	// ClientAuthWrongMethod: the client authenticates another way: a confidential
	// client without a secret, a public client with one, a secret for a
	// private_key_jwt client or an assertion for any other.
	ClientAuthWrongMethod ClientAuthReason = "wrong_method"
	// ClientAuthInvalidAssertion: the assertion's form, alg, key or signature fails.
	ClientAuthInvalidAssertion ClientAuthReason = "invalid_assertion"
	// ClientAuthAssertionClaims: a verified assertion claims the wrong iss, sub or
	// aud, is expired, not yet valid, too long-lived, or has no usable jti.
	ClientAuthAssertionClaims ClientAuthReason = "invalid_assertion_claims"
	// ClientAuthAssertionReplayed: the assertion's jti was used before.
	ClientAuthAssertionReplayed ClientAuthReason = "assertion_replayed"
	// ClientAuthPublicClient: a public client where only a confidential one may
	// authenticate (introspection).
	ClientAuthPublicClient ClientAuthReason = "public_client"
	// ClientAuthClientDisabled: the client exists but an administrator disabled it.
	ClientAuthClientDisabled ClientAuthReason = "client_disabled"
)

// ClientAuthReasons lists every reason, for metrics that show each from the start.
func ClientAuthReasons() []ClientAuthReason {
	return []ClientAuthReason{ClientAuthNoClientID, ClientAuthMalformed, ClientAuthUnknownClient, ClientAuthWrongSecret,
		ClientAuthWrongMethod, ClientAuthInvalidAssertion, ClientAuthAssertionClaims, ClientAuthAssertionReplayed,
		ClientAuthPublicClient, ClientAuthClientDisabled}
}

// ClientAuthError is a failed client authentication: Err is what the caller is
// told (domain.ErrInvalidClient, or a *domain.ThrottledError while its address is
// locked), ClientID and Reason what the operator is told. ClientID is as presented;
// Known says a client with that id exists. An unknown id may be anything the caller
// sent, a secret pasted into the wrong field too: whoever logs it must keep that in
// mind.
type ClientAuthError struct {
	ClientID string
	Known    bool
	Reason   ClientAuthReason
	Err      error
}

func (e *ClientAuthError) Error() string { return e.Err.Error() }

// Unwrap makes errors.Is(err, domain.ErrInvalidClient) and errors.As for a
// *domain.ThrottledError see what the caller is told.
func (e *ClientAuthError) Unwrap() error { return e.Err }

// ClientAuthFailed is a failed client authentication answered invalid_client, for
// an id not known to name a client.
func ClientAuthFailed(clientID string, reason ClientAuthReason) *ClientAuthError {
	return &ClientAuthError{ClientID: clientID, Reason: reason, Err: domain.ErrInvalidClient}
}

// Authenticate returns the client the credentials prove, or a *ClientAuthError
// (ErrInvalidClient, saying why). An unknown client, a wrong secret and a wrong
// method all look the same to the caller.
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
		if cr.ClientID == "" {
			return domain.Client{}, ClientAuthFailed("", ClientAuthInvalidAssertion)
		}
	}
	if cr.ClientID == "" {
		return domain.Client{}, ClientAuthFailed("", ClientAuthNoClientID)
	}
	client, reason, err := a.verify(ctx, cr)
	if err != nil {
		return domain.Client{}, err
	}
	if reason != "" {
		return domain.Client{}, &ClientAuthError{ClientID: cr.ClientID, Known: reason != ClientAuthUnknownClient, Reason: reason,
			Err: a.failed(ctx, cr.Address)}
	}
	return client, nil
}

// failed answers a failed authentication from address: 429 while the address is
// locked (the failure is then not counted, as it would not have been tried), else
// the failure is counted and the answer is invalid_client. A throttle that cannot be
// read fails closed (its error, a 503).
func (a *ClientAuthenticator) failed(ctx context.Context, address string) error {
	key := "client-auth:" + domain.ThrottleAddress(address)
	if err := a.throttle.Check(ctx, key); err != nil {
		return err
	}
	a.throttle.Failure(ctx, key)
	return domain.ErrInvalidClient
}

// verify returns the client the credentials prove, or why they do not; the error is
// a storage failure only.
//
// A failure by secret (or by none) costs the same whatever its reason, so that
// timing tells no more than the answer (SECURITY S22): the secret is hashed exactly
// once, and the stored client is read exactly once. A client held in memory that
// passes is not read at all; one that fails is read again from the store, which
// also makes a secret rotated a moment ago (by the CLI or another instance) work at
// once; one not held was just read. So an unknown id, a wrong secret, a disabled
// client and a wrong method all take one hash and one read.
func (a *ClientAuthenticator) verify(ctx context.Context, cr Credentials) (domain.Client, ClientAuthReason, error) {
	if cr.Method == AuthMethodPrivateKeyJWT {
		return a.verifyAssertion(ctx, cr)
	}
	mac := a.hasher.HashSecret(cr.Secret)
	if memory, ok := a.clients.(ClientRefresher); ok {
		if client, held := memory.CachedClient(cr.ClientID); held {
			if secretReason(client, cr, mac) == "" {
				return client, "", nil
			}
			client, err := memory.RefreshClient(ctx, cr.ClientID)
			return judgeSecret(client, err, cr, mac)
		}
	}
	client, err := a.clients.ClientByID(ctx, cr.ClientID)
	return judgeSecret(client, err, cr, mac)
}

// judgeSecret is verify's answer for the client read from the store (or its error).
func judgeSecret(client domain.Client, err error, cr Credentials, mac []byte) (domain.Client, ClientAuthReason, error) {
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.Client{}, ClientAuthUnknownClient, nil
	case err != nil:
		return domain.Client{}, "", fmt.Errorf("authenticate client: %w", err)
	}
	if reason := secretReason(client, cr, mac); reason != "" {
		return domain.Client{}, reason, nil
	}
	return client, "", nil
}

// secretReason says why client is not proven by cr, whose secret hashes to mac
// (HashSecret); empty when it is. Hashes are compared in constant time.
func secretReason(client domain.Client, cr Credentials, mac []byte) ClientAuthReason {
	switch {
	case client.Disabled:
		// Answered like an unknown client, at the same cost; the log says why.
		return ClientAuthClientDisabled
	case client.UsesPrivateKeyJWT():
		// Only an assertion proves a private_key_jwt client (no downgrade to a secret).
		return ClientAuthWrongMethod
	case client.Public:
		if cr.Method != AuthMethodNone || cr.Secret != "" {
			return ClientAuthWrongMethod
		}
		return ""
	case cr.Method == AuthMethodNone:
		return ClientAuthWrongMethod
	case !hmac.Equal(client.SecretHash, mac):
		return ClientAuthWrongSecret
	}
	return ""
}

// verifyAssertion is verify for private_key_jwt (clientassertion.go). An assertion
// proves no other client (no upgrade of a secret client). Its cost is the
// assertion's verification, which only a client with keys to check it against
// pays: client ids are not secrets (RFC 6749 §2.2), and the answer is the same.
func (a *ClientAuthenticator) verifyAssertion(ctx context.Context, cr Credentials) (domain.Client, ClientAuthReason, error) {
	client, err := a.clients.ClientByID(ctx, cr.ClientID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.Client{}, ClientAuthUnknownClient, nil
	case err != nil:
		return domain.Client{}, "", fmt.Errorf("authenticate client: %w", err)
	case client.Disabled:
		return domain.Client{}, ClientAuthClientDisabled, nil
	}
	reason, err := a.checkAssertion(ctx, client, cr)
	if err != nil || reason != "" {
		return domain.Client{}, reason, err
	}
	return client, "", nil
}
