package usecase_test

import (
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// TestHousekeeping_UnusedClientsGoWithAnAuditEvent: a client of open dynamic
// registration that nobody used by its deadline is deleted by housekeeping, and the
// audit log says so (client.deleted with no actor and by=housekeeping in its details,
// in the deletion's transaction); a used one and an ordinary one stay, and get no event.
func TestHousekeeping_UnusedClientsGoWithAnAuditEvent(t *testing.T) {
	f := newFixture(t)
	audit := usecase.NewAudit(bunrepo.NewAuditRepository(f.db), bunrepo.NewTransactor(f.db), f.random, f.clock, nil)
	hk := usecase.NewHousekeeping(bunrepo.NewHousekeeper(f.db), bunrepo.NewLeaseRepository(f.db), f.clock, f.random, audit)
	deadline := f.clock.Now().Add(24 * time.Hour)
	open := func(name string) domain.Client {
		c, _ := f.client(t, usecase.NewClient{Name: name, Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"},
			GrantTypes: []string{domain.GrantAuthorizationCode}, UnusedExpiresAt: deadline})
		return c
	}
	unused, used := open("never used"), open("used once")
	plain, _ := f.client(t, usecase.NewClient{Name: "registered by the operator", RedirectURIs: []string{"https://a.example/cb"}})
	u := f.user(t, "jo", "jo's password")
	if err := f.tokens.CreateFamily(f.ctx, usecase.TokenFamily{ID: f.random.ID(), ClientID: used.ID, UserID: u.ID,
		CreatedAt: f.clock.Now(), ExpiresAt: f.clock.Now().Add(time.Hour)}, nil); err != nil {
		t.Fatal(err)
	}

	f.clock.Advance(25 * time.Hour)
	deleted, ran, err := hk.RunOnce(f.ctx, time.Minute)
	if err != nil || !ran {
		t.Fatalf("housekeeping: ran %v, %v", ran, err)
	}
	if deleted["clients"] != 1 {
		t.Fatalf("deleted %v, want the one unused client", deleted)
	}
	if _, err := f.clients.ClientByID(f.ctx, unused.ID); err == nil {
		t.Fatal("the unused client is still there")
	}
	for _, c := range []domain.Client{used, plain} {
		if _, err := f.clients.ClientByID(f.ctx, c.ID); err != nil {
			t.Fatalf("%s was deleted: %v", c.Name, err)
		}
	}
	events, err := audit.List(f.ctx, usecase.AuditFilter{Type: domain.AuditClientDeleted, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Target != unused.ID || events[0].Actor != "" ||
		events[0].Details["by"] != usecase.HousekeepingDetail || events[0].Details["unused"] != true {
		t.Fatalf("client.deleted events %+v, want one for %s with no actor, by %q", events, unused.ID, usecase.HousekeepingDetail)
	}

	// A second run finds nothing more to delete and says nothing more.
	if deleted, _, err := hk.RunOnce(f.ctx, time.Minute); err != nil || deleted["clients"] != 0 {
		t.Fatalf("second run deleted %v, %v", deleted, err)
	}
	if events, _ := audit.List(f.ctx, usecase.AuditFilter{Type: domain.AuditClientDeleted, Limit: 10}); len(events) != 1 {
		t.Fatalf("%d client.deleted events after a second run, want 1", len(events))
	}
}
