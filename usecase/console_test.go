package usecase_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

// TestConsoleClient_EnsureIdempotentAndSafeAcrossInstances: on each database, eight
// instances starting at once (each its own Admin and database handle) all succeed and
// leave one console client; an administrator's change to it is undone by the next
// start, and a new issuer moves its redirect URI.
func TestConsoleClient_EnsureIdempotentAndSafeAcrossInstances(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
			admin := func() (*usecase.Admin, *bunrepo.ClientRepository) {
				clients := bunrepo.NewClientRepository(bunrepotest.Open(t, url))
				return usecase.NewAdmin(nil, nil, clients, nil, nil, nil, nil, nil, clk), clients
			}
			first, clients := admin()
			others := make([]*usecase.Admin, 7)
			for i := range others {
				others[i], _ = admin()
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for _, a := range append(others, first) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- a.EnsureConsoleClient(t.Context(), "https://id.example")
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("a racing start: %v", err)
				}
			}
			all, err := clients.ListClients(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if n := len(slices.DeleteFunc(all, func(c domain.Client) bool { return c.ID != usecase.ConsoleClientID })); n != 1 {
				t.Fatalf("%d console clients", n)
			}
			c, err := clients.ClientByID(t.Context(), usecase.ConsoleClientID)
			if err != nil {
				t.Fatal(err)
			}
			if !c.Public || !c.SkipConsent || c.Disabled || !slices.Equal(c.RedirectURIs, []string{"https://id.example/admin/callback"}) ||
				!slices.Equal(c.GrantTypes, []string{domain.GrantAuthorizationCode}) {
				t.Fatalf("the console client: %+v", c)
			}

			c.SkipConsent, c.Disabled, c.RedirectURIs = false, true, []string{"https://evil.example/cb"}
			if err := clients.UpdateClient(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			if err := first.EnsureConsoleClient(t.Context(), "https://login.example/"); err != nil {
				t.Fatal(err)
			}
			c, err = clients.ClientByID(t.Context(), usecase.ConsoleClientID)
			if err != nil {
				t.Fatal(err)
			}
			if !c.SkipConsent || c.Disabled || !slices.Equal(c.RedirectURIs, []string{"https://login.example/admin/callback"}) {
				t.Errorf("after a change and a new issuer: %+v", c)
			}

			// An administrator can neither change nor delete it (the CLI, the admin API):
			// the console signs in with it.
			var ve *usecase.ValidationError
			if _, err := first.UpdateClient(t.Context(), usecase.ConsoleClientID, usecase.ClientUpdate{Disabled: ptr(true)}); !errors.As(err, &ve) {
				t.Errorf("UpdateClient of the console's client: %v, want a ValidationError", err)
			}
			if err := first.DeleteClient(t.Context(), usecase.ConsoleClientID); !errors.As(err, &ve) {
				t.Errorf("DeleteClient of the console's client: %v, want a ValidationError", err)
			}
			if c, err := clients.ClientByID(t.Context(), usecase.ConsoleClientID); err != nil || c.Disabled {
				t.Errorf("the console's client after the refusals: %+v %v", c, err)
			}
		})
	}
}

// TestIssuanceCounter: counts per hour, the last 24 hours oldest first, this
// instance's unflushed counts included; Flush puts them where another instance over
// the same database sees them, added to its own; an hour more than a day old leaves
// the window.
func TestIssuanceCounter(t *testing.T) {
	f := newFixture(t)
	f.clock.t = time.Date(2026, 3, 6, 10, 30, 0, 0, time.UTC)
	a := f.issued
	b := usecase.NewIssuanceCounter(bunrepo.NewIssuanceRepository(f.db), f.clock) // another instance
	last := func(c *usecase.IssuanceCounter) [24]int64 {
		t.Helper()
		got, err := c.Last24Hours(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	flush := func(c *usecase.IssuanceCounter) {
		t.Helper()
		if err := c.Flush(f.ctx); err != nil {
			t.Fatal(err)
		}
	}
	a.Add()
	f.clock.Advance(time.Hour)
	a.Add()
	a.Add()
	if got := last(a); got[22] != 1 || got[23] != 2 {
		t.Fatalf("after 3 in 2 hours, unflushed: %v", got)
	}
	if got := last(b); got[22]+got[23] != 0 {
		t.Fatalf("another instance saw unflushed counts: %v", got)
	}
	flush(a)
	flush(a) // nothing new: adds nothing
	b.Add()
	if got := last(b); got[22] != 1 || got[23] != 3 {
		t.Fatalf("another instance, after a's flush: %v", got)
	}
	flush(b)
	if got := last(a); got[22] != 1 || got[23] != 3 {
		t.Fatalf("both flushed: %v", got)
	}
	f.clock.Advance(23 * time.Hour) // 11:30 the next day: 10:00 of the day before has left the window
	a.Add()
	got := last(a)
	var sum int64
	for _, n := range got {
		sum += n
	}
	if got[23] != 1 || got[22] != 0 || got[0] != 3 || sum != 4 {
		t.Errorf("a day later: %v", got)
	}
	var nilCounter *usecase.IssuanceCounter
	nilCounter.Add() // a nil counter counts nothing, and does not panic
	if err := nilCounter.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
}

// TestIssuanceCounter_FailedFlushKeepsTheCounts: counts a store refused are added
// again by the next flush, not lost.
func TestIssuanceCounter_FailedFlushKeepsTheCounts(t *testing.T) {
	f := newFixture(t)
	store := &failingOnce{IssuanceStore: bunrepo.NewIssuanceRepository(f.db), fail: true}
	c := usecase.NewIssuanceCounter(store, f.clock)
	c.Add()
	c.Add()
	if err := c.Flush(f.ctx); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("flush into a failing store: %v", err)
	}
	c.Add()
	if err := c.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	got, err := usecase.NewIssuanceCounter(store, f.clock).Last24Hours(f.ctx) // what the store holds
	if err != nil || got[23] != 3 {
		t.Fatalf("stored after a failed then a good flush: %v %v", got, err)
	}
}

// failingOnce is a real store whose first AddIssued fails without writing.
type failingOnce struct {
	usecase.IssuanceStore
	fail bool
}

func (s *failingOnce) AddIssued(ctx context.Context, counts map[int64]int64) error {
	if s.fail {
		s.fail = false
		return errors.New("refused")
	}
	return s.IssuanceStore.AddIssued(ctx, counts)
}
