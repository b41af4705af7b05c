package usecase_test

import (
	"errors"
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// TestConnectedApps: a client's consents (a public client's are per redirect URI) are
// one app with every scope granted and the latest time; revoking it deletes them and
// revokes the user's grants to it, and nothing of another app or user.
func TestConnectedApps(t *testing.T) {
	f := newFixture(t)
	consents := bunrepo.NewConsentRepository(f.db)
	audit := usecase.NewAudit(bunrepo.NewAuditRepository(f.db), bunrepo.NewTransactor(f.db), f.random, f.clock, nil)
	apps := usecase.NewConnectedApps(consents, f.clients, f.tokens, f.clock, audit)
	u, other := f.user(t, "hana", "hana's password"), f.user(t, "ivan", "ivan's password")
	public, _ := f.client(t, usecase.NewClient{Name: "Pocket App", Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"},
		GrantTypes: []string{domain.GrantAuthorizationCode, domain.GrantRefreshToken}})
	web, _ := f.client(t, usecase.NewClient{Name: "Web App", RedirectURIs: []string{"https://web.example.com/cb"},
		GrantTypes: []string{domain.GrantAuthorizationCode, domain.GrantRefreshToken}})
	now := f.clock.Now()
	for _, c := range []domain.Consent{
		{UserID: u.ID, ClientID: public.ID, RedirectURI: "http://127.0.0.1:5000/cb", Scope: []string{"openid"}, GrantedAt: now.Add(-2 * time.Hour)},
		{UserID: u.ID, ClientID: public.ID, RedirectURI: "http://127.0.0.1:6000/cb", Scope: []string{"openid", "email"}, GrantedAt: now.Add(-time.Hour)},
		{UserID: u.ID, ClientID: web.ID, Scope: []string{"profile"}, GrantedAt: now.Add(-3 * time.Hour)},
		{UserID: other.ID, ClientID: public.ID, Scope: []string{"openid"}, GrantedAt: now},
	} {
		if err := consents.SaveConsent(f.ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	family := func(u domain.User, c domain.Client) string {
		id := f.random.ID()
		if err := f.tokens.CreateFamily(f.ctx, usecase.TokenFamily{ID: id, ClientID: c.ID, UserID: u.ID, CreatedAt: now,
			ExpiresAt: now.Add(time.Hour)}, nil); err != nil {
			t.Fatal(err)
		}
		return id
	}
	gone, kept, theirs := family(u, public), family(u, web), family(other, public)

	list, err := apps.List(f.ctx, u.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %+v, %v; want two apps", list, err)
	}
	if a := list[0]; a.ClientName != "Pocket App" || len(a.Scopes) != 2 || a.Scopes[1].Name != "email" ||
		a.Scopes[1].Description != domain.DescribeScope("email") || !a.GrantedAt.Equal(now.Add(-time.Hour)) {
		t.Fatalf("the public client's app: %+v", a)
	}
	name, err := apps.Revoke(usecase.WithAuditIP(f.ctx, "192.0.2.8"), u.ID, public.ID)
	if err != nil || name != "Pocket App" {
		t.Fatalf("Revoke = %q, %v", name, err)
	}
	if es, err := audit.List(f.ctx, usecase.AuditFilter{User: u.ID}); err != nil || len(es) != 1 ||
		es[0].Type != domain.AuditConsentRevoked || es[0].Actor != u.ID || es[0].Target != public.ID || es[0].IP != "192.0.2.8" {
		t.Fatalf("audit events of the revocation: %+v, %v", es, err)
	}
	for id, want := range map[string]bool{gone: true, kept: false, theirs: false} {
		if revoked, err := f.tokens.FamilyRevoked(f.ctx, id); err != nil || revoked != want {
			t.Errorf("family revoked = %v, %v; want %v", revoked, err, want)
		}
	}
	if list, _ := apps.List(f.ctx, u.ID); len(list) != 1 || list[0].ClientName != "Web App" {
		t.Fatalf("after revoking: %+v", list)
	}
	if _, err := consents.ConsentFor(f.ctx, other.ID, public.ID, ""); err != nil {
		t.Fatalf("another user's consent went too: %v", err)
	}
	if _, err := apps.Revoke(f.ctx, u.ID, public.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("revoking again: %v", err)
	}
	if _, err := apps.Revoke(f.ctx, u.ID, ""); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("revoking no client: %v", err)
	}
}
