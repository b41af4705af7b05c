package repotest

import (
	"context"
	"slices"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// resources: the protected resources' contract (gatehouse resources).
func (s *suite) resources(t *testing.T) {
	if s.Resources == nil {
		t.Skip("no resource store")
	}
	ctx := context.Background()
	id := randomHex(6)
	open := domain.Resource{URI: "https://mcp-" + id + ".example.com/mcp", Name: "MCP " + id, Scopes: []string{"mcp:tools", "openid"},
		Open: true, CreatedAt: base}
	closed := domain.Resource{URI: "urn:example:api:" + id, Name: "API " + id, CreatedAt: base}
	noErr(t, s.Resources.CreateResource(ctx, open))
	noErr(t, s.Resources.CreateResource(ctx, closed))

	t.Run("duplicate URI", func(t *testing.T) {
		wantErr(t, s.Resources.CreateResource(ctx, domain.Resource{URI: open.URI, Name: "other", CreatedAt: base}), domain.ErrDuplicate)
	})
	t.Run("URIs are case-sensitive", func(t *testing.T) {
		upper := domain.Resource{URI: "https://MCP-" + id + ".example.com/MCP", Name: "upper", CreatedAt: base}
		noErr(t, s.Resources.CreateResource(ctx, upper))
		got, err := s.Resources.OpenResources(ctx, []string{upper.URI})
		noErr(t, err)
		if len(got) != 0 {
			t.Fatalf("OpenResources(upper) = %v: the open lower-case resource answered for it", got)
		}
		noErr(t, s.Resources.DeleteResource(ctx, upper.URI))
	})
	t.Run("list", func(t *testing.T) {
		list, err := s.Resources.ListResources(ctx)
		noErr(t, err)
		var got []domain.Resource
		for _, r := range list {
			if r.URI == open.URI || r.URI == closed.URI {
				got = append(got, r)
			}
		}
		if len(got) != 2 {
			t.Fatalf("listed %v", got)
		}
		// By URI: https://… sorts before urn:….
		o, c := got[0], got[1]
		if o.URI != open.URI || o.Name != open.Name || !slices.Equal(o.Scopes, open.Scopes) || !o.Open {
			t.Errorf("open resource came back as %+v", o)
		}
		if c.URI != closed.URI || c.Name != closed.Name || len(c.Scopes) != 0 || c.Open {
			t.Errorf("closed resource came back as %+v", c)
		}
		sameTime(t, "created_at", base, o.CreatedAt)
	})
	t.Run("open resources", func(t *testing.T) {
		got, err := s.Resources.OpenResources(ctx, []string{"https://unknown.example/" + id, closed.URI, open.URI, open.URI})
		noErr(t, err)
		if len(got) != 1 || got[0].URI != open.URI || got[0].Name != open.Name || !slices.Equal(got[0].Scopes, open.Scopes) || !got[0].Open {
			t.Fatalf("OpenResources = %+v, want only %s with its scopes", got, open.URI)
		}
		got, err = s.Resources.OpenResources(ctx, nil)
		noErr(t, err)
		if len(got) != 0 {
			t.Fatalf("OpenResources(nil) = %v", got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		noErr(t, s.Resources.DeleteResource(ctx, open.URI))
		wantErr(t, s.Resources.DeleteResource(ctx, open.URI), domain.ErrNotFound)
		got, err := s.Resources.OpenResources(ctx, []string{open.URI})
		noErr(t, err)
		if len(got) != 0 {
			t.Fatalf("a deleted resource is still open: %v", got)
		}
		noErr(t, s.Resources.DeleteResource(ctx, closed.URI))
	})
}

// unusedClients: a client of open dynamic registration never used by its
// UnusedExpiresAt goes at housekeeping; one that got a token family stays, for good.
func (s *suite) unusedClients(t *testing.T) {
	if s.Purger == nil {
		t.Skip("no housekeeping")
	}
	ctx := context.Background()
	expires := base.Add(24 * time.Hour)
	mk := func() domain.Client {
		c := domain.Client{ID: newID("c"), Name: newID("open"), Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"},
			GrantTypes: []string{domain.GrantAuthorizationCode}, Scopes: []string{"openid"}, IDTokenAlg: domain.AlgRS256,
			CreatedAt: base, UpdatedAt: base, UnusedExpiresAt: expires}
		noErr(t, s.Clients.CreateClient(ctx, c))
		return c
	}
	unused, used, early := mk(), mk(), mk()
	got, err := s.Clients.ClientByID(ctx, unused.ID)
	noErr(t, err)
	sameTime(t, "unused_expires_at", expires, got.UnusedExpiresAt)
	plain := s.newClient(t)
	u := s.newUser(t)
	noErr(t, s.Tokens.CreateFamily(ctx, usecase.TokenFamily{ID: newID("f"), ClientID: used.ID, UserID: u.ID,
		CreatedAt: base, ExpiresAt: base.Add(time.Hour)}, nil))

	// Before the deadline nothing goes; a used client is kept from then on.
	_, err = s.Purger.PurgeExpired(ctx, expires.Add(-time.Minute), 500)
	noErr(t, err)
	for _, c := range []domain.Client{unused, used, early, plain} {
		if _, err := s.Clients.ClientByID(ctx, c.ID); err != nil {
			t.Fatalf("client %s gone before its time: %v", c.Name, err)
		}
	}
	got, err = s.Clients.ClientByID(ctx, used.ID)
	noErr(t, err)
	if !got.UnusedExpiresAt.IsZero() {
		t.Fatalf("a used client still expires at %v", got.UnusedExpiresAt)
	}
	// Before it, none is listed; past it, the unused ones are, and go; the used and
	// the ordinary ones are neither listed nor deleted.
	ids, err := s.Purger.UnusedClients(ctx, expires.Add(-time.Minute), 500)
	noErr(t, err)
	if len(ids) != 0 {
		t.Fatalf("unused clients before their deadline: %v", ids)
	}
	ids, err = s.Purger.UnusedClients(ctx, expires.Add(time.Minute), 500)
	noErr(t, err)
	if want := []string{unused.ID, early.ID}; !sameSet(ids, want) {
		t.Fatalf("unused clients %v, want %v", ids, want)
	}
	wantErr(t, s.Purger.DeleteUnusedClient(ctx, used.ID, expires.Add(time.Minute)), domain.ErrNotFound)
	wantErr(t, s.Purger.DeleteUnusedClient(ctx, plain.ID, expires.Add(time.Minute)), domain.ErrNotFound)
	wantErr(t, s.Purger.DeleteUnusedClient(ctx, unused.ID, expires.Add(-time.Minute)), domain.ErrNotFound)
	for _, id := range ids {
		noErr(t, s.Purger.DeleteUnusedClient(ctx, id, expires.Add(time.Minute)))
	}
	wantErr(t, s.Purger.DeleteUnusedClient(ctx, unused.ID, expires.Add(time.Minute)), domain.ErrNotFound)
	for _, c := range []domain.Client{unused, early} {
		_, err := s.Clients.ClientByID(ctx, c.ID)
		wantErr(t, err, domain.ErrNotFound)
	}
	for _, c := range []domain.Client{used, plain} {
		if _, err := s.Clients.ClientByID(ctx, c.ID); err != nil {
			t.Errorf("client %s was deleted: %v", c.Name, err)
		}
	}
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x] == 0 {
			return false
		}
		seen[x]--
	}
	return true
}
