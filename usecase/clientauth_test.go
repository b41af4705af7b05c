package usecase_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/adapter/cache"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/infrastructure/database"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

// countingThrottle counts the calls that reach the throttle it wraps: with the shared
// store, each is a database round trip.
type countingThrottle struct {
	usecase.Throttle
	calls atomic.Int64
}

func (c *countingThrottle) Check(ctx context.Context, key string) error {
	c.calls.Add(1)
	return c.Throttle.Check(ctx, key)
}

func (c *countingThrottle) Failure(ctx context.Context, key string) {
	c.calls.Add(1)
	c.Throttle.Failure(ctx, key)
}

func (c *countingThrottle) Success(ctx context.Context, key string) {
	c.calls.Add(1)
	c.Throttle.Success(ctx, key)
}

// TestClientAuthThrottlesOnlyFailures: with the database throttle, a successful client
// authentication costs no throttle round trip; wrong secrets from one address are
// answered 429 past the free failures (SECURITY S28), a right secret is not held back
// (see Authenticate), and a throttle that cannot be read fails closed.
func TestClientAuthThrottlesOnlyFailures(t *testing.T) {
	f := newFixture(t)
	policy := domain.ThrottlePolicy{FreeFailures: 3, BaseDelay: time.Minute, MaxDelay: time.Hour, Forget: time.Hour}
	th := &countingThrottle{Throttle: bunrepo.NewThrottleRepository(f.db, policy, f.clock.Now, nil)}
	auth := usecase.NewClientAuthenticator(f.clients, f.hasher, th)
	_, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}})
	_, public := f.client(t, usecase.NewClient{Public: true, GrantTypes: []string{domain.GrantDeviceCode}})

	for range 20 {
		if _, err := auth.Authenticate(f.ctx, cr); err != nil {
			t.Fatal(err)
		}
		if _, err := auth.Authenticate(f.ctx, public); err != nil {
			t.Fatal(err)
		}
	}
	if n := th.calls.Load(); n != 0 {
		t.Fatalf("40 successful authentications made %d throttle calls, want 0", n)
	}

	wrong := cr
	wrong.Secret = "guess"
	for i := 1; i <= 4; i++ { // 3 free failures, then the 4th sets the lock
		if _, err := auth.Authenticate(f.ctx, wrong); !errors.Is(err, domain.ErrInvalidClient) {
			t.Fatalf("failure %d: %v, want invalid_client", i, err)
		}
	}
	var te *domain.ThrottledError
	if _, err := auth.Authenticate(f.ctx, wrong); !errors.As(err, &te) || te.RetryAfter != time.Minute+time.Second {
		t.Fatalf("5th wrong secret: %v, want throttled for 61 s", err)
	}
	unknown := wrong
	unknown.ClientID = "no-such-client"
	if _, err := auth.Authenticate(f.ctx, unknown); !errors.As(err, &te) {
		t.Fatalf("unknown client from the locked address: %v, want throttled", err)
	}
	if _, err := auth.Authenticate(f.ctx, cr); err != nil {
		t.Fatalf("the right secret from the locked address: %v (a 256-bit secret is not held back)", err)
	}
	elsewhere := wrong
	elsewhere.Address = "198.51.100.7"
	if _, err := auth.Authenticate(f.ctx, elsewhere); !errors.Is(err, domain.ErrInvalidClient) {
		t.Fatalf("a wrong secret from another address: %v, want invalid_client", err)
	}
	f.clock.Advance(time.Minute)
	if _, err := auth.Authenticate(f.ctx, wrong); !errors.Is(err, domain.ErrInvalidClient) {
		t.Fatalf("after the wait: %v, want invalid_client", err)
	}
	if _, err := auth.Authenticate(f.ctx, wrong); !errors.As(err, &te) || te.RetryAfter != 2*time.Minute+time.Second {
		t.Fatalf("after the next failure: %v, want throttled for 121 s (the wait doubled)", err)
	}

	// A throttle store that cannot be read (a database not migrated): a wrong secret
	// is a storage outage (503), never a silent pass to invalid_client; a right secret
	// never touches it.
	bare, closeBare, err := database.Open(f.ctx, dbtest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeBare)
	auth = usecase.NewClientAuthenticator(f.clients, f.hasher, bunrepo.NewThrottleRepository(bare, policy, f.clock.Now, nil))
	if _, err := auth.Authenticate(f.ctx, elsewhere); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("a wrong secret with a broken throttle store: %v, want ErrUnavailable", err)
	}
	if _, err := auth.Authenticate(f.ctx, cr); err != nil {
		t.Fatalf("the right secret with a broken throttle store: %v", err)
	}
}

// wantAuthFailure checks a failed client authentication: invalid_client to the
// caller, and for the operator the client id as presented and the reason.
func wantAuthFailure(t *testing.T, what string, err error, clientID string, reason usecase.ClientAuthReason) {
	t.Helper()
	var cae *usecase.ClientAuthError
	switch {
	case !errors.Is(err, domain.ErrInvalidClient):
		t.Errorf("%s: err = %v, want invalid_client", what, err)
	case !errors.As(err, &cae):
		t.Errorf("%s: err = %v carries no reason", what, err)
	case cae.Reason != reason || cae.ClientID != clientID:
		t.Errorf("%s: reason %q for client %q, want %q for %q", what, cae.Reason, cae.ClientID, reason, clientID)
	case err.Error() != domain.ErrInvalidClient.Error():
		t.Errorf("%s: the error reads %q; the caller must see only %q", what, err, domain.ErrInvalidClient)
	}
}

// TestClientAuthReasons: every way a secret or public client fails says why (for the
// logs and metrics), while the caller sees the same invalid_client; a locked
// address's 429 keeps the reason too.
func TestClientAuthReasons(t *testing.T) {
	f := newFixture(t)
	auth := usecase.NewClientAuthenticator(f.clients, f.hasher, f.throttle)
	_, conf := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}})
	_, public := f.client(t, usecase.NewClient{Public: true, GrantTypes: []string{domain.GrantDeviceCode}})
	n := 0
	from := func(cr usecase.Credentials) usecase.Credentials { // each its own address: no throttling here
		n++
		cr.Address = fmt.Sprintf("192.0.2.%d", n)
		return cr
	}
	wrongSecret := conf
	wrongSecret.Secret = "guess"
	unknown := conf
	unknown.ClientID = "no-such-client"
	noSecret := conf
	noSecret.Secret, noSecret.Method = "", usecase.AuthMethodNone
	publicWithSecret := public
	publicWithSecret.Secret, publicWithSecret.Method = "guess", usecase.AuthMethodPost
	for _, tc := range []struct {
		name     string
		cr       usecase.Credentials
		clientID string
		reason   usecase.ClientAuthReason
	}{
		{"wrong secret", wrongSecret, conf.ClientID, usecase.ClientAuthWrongSecret},
		{"unknown client", unknown, "no-such-client", usecase.ClientAuthUnknownClient},
		{"confidential client without a secret", noSecret, conf.ClientID, usecase.ClientAuthWrongMethod},
		{"public client with a secret", publicWithSecret, public.ClientID, usecase.ClientAuthWrongMethod},
		{"no client id", usecase.Credentials{Method: usecase.AuthMethodNone}, "", usecase.ClientAuthNoClientID},
	} {
		_, err := auth.Authenticate(f.ctx, from(tc.cr))
		wantAuthFailure(t, tc.name, err, tc.clientID, tc.reason)
		// Known: the id names a client, so it is no secret sent in the wrong field.
		var cae *usecase.ClientAuthError
		if errors.As(err, &cae) && cae.Known != (tc.clientID != "" && tc.reason != usecase.ClientAuthUnknownClient) {
			t.Errorf("%s: Known = %v", tc.name, cae.Known)
		}
	}

	// Introspection takes no public client.
	_, err := f.inspect.Execute(f.ctx, usecase.IntrospectRequest{Credentials: public, Token: "x"})
	wantAuthFailure(t, "public client at introspection", err, public.ClientID, usecase.ClientAuthPublicClient)

	// Past the free failures the caller gets a 429; the reason is still there.
	locked := wrongSecret
	locked.Address = "198.51.100.99"
	var te *domain.ThrottledError
	for i := 0; ; i++ {
		_, err := auth.Authenticate(f.ctx, locked)
		if errors.As(err, &te) {
			var cae *usecase.ClientAuthError
			if !errors.As(err, &cae) || cae.Reason != usecase.ClientAuthWrongSecret {
				t.Errorf("throttled: %v carries no reason", err)
			}
			break
		}
		if i > 20 {
			t.Fatalf("never throttled: %v", err)
		}
	}
}

// readCountingClients counts the reads that reach the store it wraps.
type readCountingClients struct {
	usecase.ClientStore
	reads atomic.Int64
}

func (c *readCountingClients) ClientByID(ctx context.Context, id string) (domain.Client, error) {
	c.reads.Add(1)
	return c.ClientStore.ClientByID(ctx, id)
}

// hashCountingHasher counts the secrets the hasher it wraps hashes.
type hashCountingHasher struct {
	usecase.SecretHasher
	hashes atomic.Int64
}

func (h *hashCountingHasher) HashSecret(secret string) []byte {
	h.hashes.Add(1)
	return h.SecretHasher.HashSecret(secret)
}

func (h *hashCountingHasher) SecretMatches(hash []byte, secret string) bool {
	h.hashes.Add(1)
	return h.SecretHasher.SecretMatches(hash, secret)
}

// TestSecurity_S22_EveryFailureCostsTheSame: behind the client cache the server
// runs with, a failed authentication by secret costs one read of the stored client
// and one hash of the secret whatever its reason, whether the client was held in
// memory or not: timing tells an unknown client from a wrong secret no better than
// the answer does. A client held in memory that passes reads nothing.
func TestSecurity_S22_EveryFailureCostsTheSame(t *testing.T) {
	f := newFixture(t)
	store := &readCountingClients{ClientStore: f.clients}
	hasher := &hashCountingHasher{SecretHasher: f.hasher}
	clients := cache.NewClients(store, time.Hour, 100, nil)
	auth := usecase.NewClientAuthenticator(clients, hasher, f.throttle)

	_, conf := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}})
	_, public := f.client(t, usecase.NewClient{Public: true, GrantTypes: []string{domain.GrantDeviceCode}})
	_, keyed := f.client(t, usecase.NewClient{AuthMethod: domain.AuthPrivateKeyJWT, JWKSURI: "https://keys.test/jwks.json",
		GrantTypes: []string{domain.GrantClientCredentials}})
	off, offCr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}})
	disabled := true
	if _, err := f.admin.UpdateClient(f.ctx, off.ID, usecase.ClientUpdate{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	with := func(cr usecase.Credentials, change func(*usecase.Credentials)) usecase.Credentials {
		change(&cr)
		return cr
	}
	cases := map[string]usecase.Credentials{
		"unknown client": with(conf, func(cr *usecase.Credentials) { cr.ClientID = "nosuchclient0000000000000a" }),
		"wrong secret":   with(conf, func(cr *usecase.Credentials) { cr.Secret = "guess" }),
		"no secret": with(conf, func(cr *usecase.Credentials) {
			cr.Secret, cr.Method = "", usecase.AuthMethodNone
		}),
		"disabled client":              offCr,
		"public client with a secret":  with(public, func(cr *usecase.Credentials) { cr.Secret, cr.Method = "guess", usecase.AuthMethodPost }),
		"secret for a private_key_jwt": with(keyed, func(cr *usecase.Credentials) { cr.Secret, cr.Method = "guess", usecase.AuthMethodPost }),
	}
	n := 0
	attempt := func(cr usecase.Credentials) (reads, hashes int64, err error) {
		n++
		cr.Address = fmt.Sprintf("192.0.2.%d", n) // each its own address: no throttling here
		r0, h0 := store.reads.Load(), hasher.hashes.Load()
		_, err = auth.Authenticate(f.ctx, cr)
		return store.reads.Load() - r0, hasher.hashes.Load() - h0, err
	}
	for name, cr := range cases {
		for _, held := range []bool{false, true} {
			clients.ForgetAll()
			if held { // the client in memory, as after a success
				if _, err := clients.ClientByID(f.ctx, cr.ClientID); err != nil && !errors.Is(err, domain.ErrNotFound) {
					t.Fatal(err)
				}
			}
			reads, hashes, err := attempt(cr)
			if !errors.Is(err, domain.ErrInvalidClient) {
				t.Errorf("%s (held %v): %v, want invalid_client", name, held, err)
			}
			if reads != 1 || hashes != 1 {
				t.Errorf("%s (held %v): %d store reads and %d hashes, want 1 and 1", name, held, reads, hashes)
			}
		}
	}

	// Successes: a client held in memory reads nothing; one not held, once.
	for _, cr := range []usecase.Credentials{conf, public} {
		clients.ForgetAll()
		for i, want := range []int64{1, 0} {
			reads, hashes, err := attempt(cr)
			if err != nil || reads != want || hashes != 1 {
				t.Errorf("%s, success %d: %v after %d reads and %d hashes, want %d and 1", cr.ClientID, i+1, err, reads, hashes, want)
			}
		}
	}

	// A secret rotated elsewhere (the CLI, another instance) works at once, though
	// the old client is held in memory.
	if _, err := clients.ClientByID(f.ctx, conf.ClientID); err != nil {
		t.Fatal(err)
	}
	secret, err := f.admin.RotateSecret(f.ctx, conf.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := clients.CachedClient(conf.ClientID); !ok {
		t.Fatal("the client is not held in memory before the rotation is tried")
	}
	rotated := with(conf, func(cr *usecase.Credentials) { cr.Secret = secret })
	if reads, _, err := attempt(rotated); err != nil || reads != 1 {
		t.Errorf("the rotated secret: %v after %d reads, want success after 1", err, reads)
	}
	if reads, _, err := attempt(rotated); err != nil || reads != 0 {
		t.Errorf("the rotated secret again: %v after %d reads, want success from memory", err, reads)
	}
}
