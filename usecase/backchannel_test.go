package usecase_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/adapter/backchannel"
	"gatehouse/adapter/outbound"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/token"
	"gatehouse/usecase"
)

// TestBackchannelLogout_RetriesThenDrops: a delivery the client refuses is retried
// after 10 s, 30 s, … and dropped after the last retry; only the lease holder
// delivers; a token is signed at each attempt.
func TestBackchannelLogout_RetriesThenDrops(t *testing.T) {
	f := newFixture(t)
	var calls atomic.Int32
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rp.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	gone := "http://" + ln.Addr().String() + "/bcl"
	ln.Close()

	signer, err := token.NewSigner(f.ring, token.SignerConfigFromSettings(f.settings))
	if err != nil {
		t.Fatal(err)
	}
	store := bunrepo.NewBackchannelRepository(f.db)
	leases := bunrepo.NewLeaseRepository(f.db)
	b := usecase.NewBackchannelLogout(store, signer, backchannel.NewSender(outbound.NewClient(outbound.Policy{})), leases, f.random, f.clock)
	other := usecase.NewBackchannelLogout(store, signer, backchannel.NewSender(outbound.NewClient(outbound.Policy{})), leases, f.random, f.clock)
	ok, _ := f.client(t, usecase.NewClient{Name: "rp", RedirectURIs: []string{"https://rp.example/cb"}, BackchannelLogoutURI: rp.URL})
	now := f.clock.Now()
	// Nothing due: no round takes the lease (a write), so another instance could.
	if res, err := b.DeliverDue(f.ctx, time.Minute); err != nil || len(res) != 0 {
		t.Fatalf("an idle round: %+v, %v", res, err)
	}
	if got, err := leases.AcquireLease(f.ctx, usecase.BackchannelLogoutLease, "another instance", now, time.Second); err != nil || !got {
		t.Fatalf("an idle round kept the lease: %v, %v", got, err)
	}
	if err := leases.ReleaseLease(f.ctx, usecase.BackchannelLogoutLease, "another instance"); err != nil {
		t.Fatal(err)
	}
	if err := store.EnqueueLogouts(f.ctx, []usecase.LogoutDelivery{
		{ID: "d1", ClientID: ok.ID, URI: rp.URL, UserID: "u1", SessionID: "s1", CreatedAt: now, NextAttemptAt: now},
		{ID: "d2", ClientID: "client-gone", URI: gone, UserID: "u1", SessionID: "s1", CreatedAt: now, NextAttemptAt: now},
	}); err != nil {
		t.Fatal(err)
	}
	res, err := b.DeliverDue(f.ctx, time.Minute)
	if err != nil || len(res) != 2 || res[0].Err == nil || res[0].Retry != 10*time.Second {
		t.Fatalf("first round: %+v, %v", res, err)
	}
	if res, err := other.DeliverDue(f.ctx, time.Minute); err != nil || len(res) != 0 {
		t.Fatalf("an instance without the lease delivered: %+v, %v", res, err)
	}
	f.clock.Advance(10 * time.Second)
	res, _ = b.DeliverDue(f.ctx, time.Minute)
	delivered := false
	for _, r := range res {
		delivered = delivered || r.ClientID == ok.ID && r.Err == nil && r.Attempts == 2
	}
	if !delivered || calls.Load() != 2 {
		t.Fatalf("the retry was not delivered: %+v (%d calls)", res, calls.Load())
	}
	dropped := false
	for range 6 {
		f.clock.Advance(31 * time.Minute)
		res, _ := b.DeliverDue(f.ctx, time.Hour)
		for _, r := range res {
			if r.ClientID == ok.ID {
				t.Fatalf("a delivered logout was sent again")
			}
			dropped = dropped || r.Dropped && r.Attempts == 6
		}
	}
	if !dropped {
		t.Fatal("a client that never answers was not dropped after its retries")
	}
	if due, _ := store.DueLogouts(f.ctx, f.clock.Now().Add(24*time.Hour), 10); len(due) != 0 {
		t.Fatalf("deliveries left: %+v", due)
	}
}

// TestSecurity_S57_RegisteredLogoutURIsReachPublicAddressesOnly: the logout URI of a
// dynamically registered client is the registrant's choice, so it is called at
// public addresses only: a receiver on 127.0.0.1 is never reached (the delivery
// fails and is retried like any other), unless the operator allows the network; a
// URI an operator registered reaches it.
func TestSecurity_S57_RegisteredLogoutURIsReachPublicAddressesOnly(t *testing.T) {
	f := newFixture(t)
	var calls atomic.Int32
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer rp.Close()
	signer, err := token.NewSigner(f.ring, token.SignerConfigFromSettings(f.settings))
	if err != nil {
		t.Fatal(err)
	}
	store := bunrepo.NewBackchannelRepository(f.db)
	registered, _ := f.client(t, usecase.NewClient{Name: "registrant", RedirectURIs: []string{"https://rp.example/cb"},
		BackchannelLogoutURI: rp.URL, RegistrationTokenHash: []byte("0123456789abcdef0123456789abcdef")})
	operator, _ := f.client(t, usecase.NewClient{Name: "operator's", RedirectURIs: []string{"https://rp.example/cb"},
		BackchannelLogoutURI: rp.URL})
	enqueue := func(id, clientID string) {
		now := f.clock.Now()
		if err := store.EnqueueLogouts(f.ctx, []usecase.LogoutDelivery{{ID: id, ClientID: clientID, URI: rp.URL,
			UserID: "u1", SessionID: "s1", CreatedAt: now, NextAttemptAt: now}}); err != nil {
			t.Fatal(err)
		}
	}

	strict := usecase.NewBackchannelLogout(store, signer, backchannel.NewSender(outbound.NewClient(outbound.Policy{})),
		bunrepo.NewLeaseRepository(f.db), f.random, f.clock)
	enqueue("d-registered", registered.ID)
	res, err := strict.DeliverDue(f.ctx, time.Minute)
	if err != nil || len(res) != 1 || !errors.Is(res[0].Err, outbound.ErrRefusedAddress) || res[0].Retry == 0 {
		t.Fatalf("registrant's loopback URI: %+v, %v; want refused at connect and retried", res, err)
	}
	if calls.Load() != 0 {
		t.Fatalf("the loopback receiver was reached %d times", calls.Load())
	}
	enqueue("d-operator", operator.ID)
	f.clock.Advance(time.Second)
	if res, err := strict.DeliverDue(f.ctx, time.Minute); err != nil || len(res) != 1 || res[0].Err != nil || calls.Load() != 1 {
		t.Fatalf("operator's URI: %+v, %v, %d calls; want delivered", res, err, calls.Load())
	}

	if err := strict.Release(f.ctx); err != nil {
		t.Fatal(err)
	}
	allowing := usecase.NewBackchannelLogout(store, signer,
		backchannel.NewSender(outbound.NewClient(outbound.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})),
		bunrepo.NewLeaseRepository(f.db), f.random, f.clock)
	f.clock.Advance(10 * time.Second)
	if res, err := allowing.DeliverDue(f.ctx, time.Minute); err != nil || len(res) != 1 || res[0].Err != nil || calls.Load() != 2 {
		t.Fatalf("with 127.0.0.0/8 allowed: %+v, %v, %d calls; want delivered", res, err, calls.Load())
	}
}
