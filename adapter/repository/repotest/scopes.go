package repotest

import (
	"context"
	"testing"

	"gatehouse/domain"
)

// scopes: descriptions stored with their languages, listed by name, looked up by a
// list of names (unknown ones absent), one per name, deleted once.
func (s *suite) scopes(t *testing.T) {
	if s.Scopes == nil {
		t.Skip("no scope store")
	}
	ctx := context.Background()
	id := randomHex(6)
	read := domain.ScopeInfo{Name: "api:read:" + id, Description: "Read your orders",
		Localized: map[string]string{"de": "Ihre Bestellungen lesen", "ja": "注文を読む"}, CreatedAt: base}
	write := domain.ScopeInfo{Name: "api:write:" + id, Description: "Place orders for you", CreatedAt: base}
	noErr(t, s.Scopes.CreateScope(ctx, read))
	noErr(t, s.Scopes.CreateScope(ctx, write))
	wantErr(t, s.Scopes.CreateScope(ctx, domain.ScopeInfo{Name: read.Name, Description: "again", CreatedAt: base}), domain.ErrDuplicate)

	got, err := s.Scopes.ScopesNamed(ctx, []string{read.Name, "unknown:" + id, write.Name})
	noErr(t, err)
	if len(got) != 2 {
		t.Fatalf("ScopesNamed = %v", got)
	}
	r := got[read.Name]
	if r.Description != read.Description || r.Localized["de"] != "Ihre Bestellungen lesen" || r.Localized["ja"] != "注文を読む" ||
		len(r.Localized) != 2 {
		t.Fatalf("read came back as %+v", r)
	}
	sameTime(t, "created_at", base, r.CreatedAt)
	if w := got[write.Name]; w.Description != write.Description || len(w.Localized) != 0 {
		t.Fatalf("write came back as %+v", w)
	}
	if r.DescriptionIn("de-AT") != "Ihre Bestellungen lesen" || r.DescriptionIn("fr") != read.Description {
		t.Fatalf("DescriptionIn: %q %q", r.DescriptionIn("de-AT"), r.DescriptionIn("fr"))
	}

	list, err := s.Scopes.ListScopes(ctx)
	noErr(t, err)
	var names []string
	for _, x := range list {
		if x.Name == read.Name || x.Name == write.Name {
			names = append(names, x.Name)
		}
	}
	if len(names) != 2 || names[0] != read.Name {
		t.Fatalf("listed %v, want %s then %s", names, read.Name, write.Name)
	}

	noErr(t, s.Scopes.DeleteScope(ctx, read.Name))
	wantErr(t, s.Scopes.DeleteScope(ctx, read.Name), domain.ErrNotFound)
	got, err = s.Scopes.ScopesNamed(ctx, []string{read.Name})
	noErr(t, err)
	if len(got) != 0 {
		t.Fatalf("a deleted scope was found: %v", got)
	}
	noErr(t, s.Scopes.DeleteScope(ctx, write.Name))
}
