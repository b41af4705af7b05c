package repotest

import (
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// adminLists is the contract of usecase.UserDirectory and usecase.ClientDirectory
// (the admin API's lists): oldest first, ties by id; filters applied by the store,
// LIKE wildcards in the search taken literally; walking pages by the last item's
// position meets every match once.
func (s *suite) adminLists(t *testing.T) {
	ctx := t.Context()
	users, uok := s.Users.(usecase.UserDirectory)
	clients, cok := s.Clients.(usecase.ClientDirectory)
	if !uok || !cok {
		t.Skip("the stores have no admin lists")
	}
	tag := randomHex(6)
	t0 := time.Date(1999, 9, 9, 9, 9, 9, 123456000, time.UTC)
	// Two users share a creation time: the id orders them.
	specs := []struct {
		name     string
		at       time.Duration
		groups   []string
		disabled bool
		display  string
	}{
		{"a", 0, []string{"ops"}, false, "Ada 100%"},
		{"b", time.Second, nil, true, "Bob"},
		{"c", time.Second, []string{"ops", "dev"}, false, "Cy_d"},
		{"d", 2 * time.Second, []string{"dev"}, true, ""},
		{"e", 3 * time.Second, []string{"\"ops\""}, false, "Eve"},
	}
	byName := map[string]string{}
	for _, sp := range specs {
		id := "ul" + tag + sp.name
		u := domain.User{ID: id, Username: "list_" + tag + "_" + sp.name, Email: "L_" + tag + sp.name + "@Example.com",
			PasswordHash: "h", CreatedAt: t0.Add(sp.at), UpdatedAt: t0.Add(sp.at), Groups: sp.groups, Disabled: sp.disabled,
			Profile: domain.Profile{Name: sp.display}}
		noErr(t, s.Users.CreateUser(ctx, u))
		byName[sp.name] = id
	}
	ids := func(f usecase.UserFilter, limit int) []string {
		t.Helper()
		var out []string
		f.Limit = limit
		for range 20 {
			page, err := users.FindUsers(ctx, f)
			noErr(t, err)
			if len(page) > limit {
				t.Fatalf("a page of %d with limit %d", len(page), limit)
			}
			for _, u := range page {
				out = append(out, u.ID)
			}
			if len(page) < limit {
				return out
			}
			last := page[len(page)-1]
			f.After = usecase.ListPosition{CreatedAt: last.CreatedAt, ID: last.ID}
		}
		t.Fatal("no end to the pages")
		return nil
	}
	want := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, byName[n])
		}
		return out
	}
	yes, no := true, false
	for _, tc := range []struct {
		what string
		f    usecase.UserFilter
		want []string
	}{
		{"all of them, by 1", usecase.UserFilter{Q: tag}, want("a", "b", "c", "d", "e")},
		{"by username, any case", usecase.UserFilter{Q: "LIST_" + tag + "_C"}, want("c")},
		{"by email", usecase.UserFilter{Q: "l_" + tag + "d@example"}, want("d")},
		{"group ops (not \"ops\")", usecase.UserFilter{Q: tag, Group: "ops"}, want("a", "c")},
		{"group \"ops\"", usecase.UserFilter{Q: tag, Group: "\"ops\""}, want("e")},
		{"disabled", usecase.UserFilter{Q: tag, Disabled: &yes}, want("b", "d")},
		{"enabled in dev", usecase.UserFilter{Q: tag, Group: "dev", Disabled: &no}, want("c")},
	} {
		for _, limit := range []int{1, 2, 100} {
			sameList(t, tc.what, tc.want, ids(tc.f, limit))
		}
	}
	for _, tc := range []struct {
		q    string
		want []string
	}{{"100%", want("a")}, {"0%", want("a")}, {"y_d", want("c")},
		// As wildcards these would match the name of a: taken literally they match nothing.
		{"da_1", nil}, {"a%0", nil}} {
		got := ids(usecase.UserFilter{Q: tc.q, Group: "ops"}, 10)
		var mine []string
		for _, id := range got {
			for _, w := range byName {
				if id == w {
					mine = append(mine, id)
				}
			}
		}
		sameList(t, "name search "+tc.q, tc.want, mine)
	}

	// Clients.
	var cids []string
	for i, at := range []time.Duration{0, 0, time.Second} {
		c := domain.Client{ID: "cl" + tag + string(rune('a'+i)), Name: "List " + tag + " " + string(rune('A'+i)),
			GrantTypes: []string{domain.GrantClientCredentials}, Scopes: []string{"api"}, SecretHash: newHash(),
			CreatedAt: t0.Add(at), UpdatedAt: t0.Add(at)}
		noErr(t, s.Clients.CreateClient(ctx, c))
		cids = append(cids, c.ID)
	}
	walk := func(q string) []string {
		var out []string
		f := usecase.ClientFilter{Q: q, Limit: 1}
		for range 10 {
			page, err := clients.FindClients(ctx, f)
			noErr(t, err)
			for _, c := range page {
				out = append(out, c.ID)
			}
			if len(page) < 1 {
				return out
			}
			f.After = usecase.ListPosition{CreatedAt: page[0].CreatedAt, ID: page[0].ID}
		}
		return out
	}
	sameList(t, "clients by name", cids, walk("list "+tag))
	sameList(t, "clients by id", cids[2:], walk("CL"+tag+"C"))
}
