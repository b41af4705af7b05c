package usecase_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

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
