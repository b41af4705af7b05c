package repotest

import (
	"context"
	"slices"
	"testing"

	"gatehouse/domain"
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
		got, err := s.Resources.OpenResources(ctx, []string{"https://unknown.example/" + id, closed.URI, open.URI})
		noErr(t, err)
		if !slices.Equal(got, []string{open.URI}) {
			t.Fatalf("OpenResources = %v, want only %s", got, open.URI)
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
