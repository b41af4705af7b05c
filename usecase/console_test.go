package usecase_test

import (
	"slices"
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
		})
	}
}

// TestIssuanceCounter: counts per hour, the last 24 hours oldest first; an hour more
// than a day old is forgotten when its slot comes round again.
func TestIssuanceCounter(t *testing.T) {
	now := time.Date(2026, 3, 6, 10, 30, 0, 0, time.UTC)
	c := usecase.NewIssuanceCounter(func() time.Time { return now })
	c.Add()
	now = now.Add(time.Hour)
	c.Add()
	c.Add()
	got, since := c.Last24Hours()
	if got[22] != 1 || got[23] != 2 || since.Hour() != 10 {
		t.Fatalf("after 3 in 2 hours: %v since %v", got, since)
	}
	now = now.Add(23 * time.Hour) // 10:30 the next day: 10:00 of the day before has left the window
	c.Add()
	got, _ = c.Last24Hours()
	var sum int64
	for _, n := range got {
		sum += n
	}
	if got[23] != 1 || got[22] != 0 || got[0] != 2 || sum != 3 {
		t.Errorf("a day later: %v", got)
	}
	var nilCounter *usecase.IssuanceCounter
	nilCounter.Add() // a nil counter counts nothing, and does not panic
}
