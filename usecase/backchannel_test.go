package usecase_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/adapter/backchannel"
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
	b := usecase.NewBackchannelLogout(store, signer, backchannel.NewSender(), leases, f.random, f.clock)
	other := usecase.NewBackchannelLogout(store, signer, backchannel.NewSender(), leases, f.random, f.clock)
	now := f.clock.Now()
	if err := store.EnqueueLogouts(f.ctx, []usecase.LogoutDelivery{
		{ID: "d1", ClientID: "client-ok", URI: rp.URL, UserID: "u1", SessionID: "s1", CreatedAt: now, NextAttemptAt: now},
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
		delivered = delivered || r.ClientID == "client-ok" && r.Err == nil && r.Attempts == 2
	}
	if !delivered || calls.Load() != 2 {
		t.Fatalf("the retry was not delivered: %+v (%d calls)", res, calls.Load())
	}
	dropped := false
	for range 6 {
		f.clock.Advance(31 * time.Minute)
		res, _ := b.DeliverDue(f.ctx, time.Hour)
		for _, r := range res {
			if r.ClientID == "client-ok" {
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
