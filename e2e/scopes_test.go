package e2e

import (
	"strings"
	"testing"
)

// TestScopes_CLI: `gatehouse scopes create/list/delete` on the three databases: a
// description in English and other languages, listed as a table and as JSON,
// audited, deleted once; bad input is one line and exit 2.
func TestScopes_CLI(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		name := "api:" + strings.ToLower(uniqueName("orders"))
		var created map[string]any
		srv.CLIJSON(t, &created, "", "scopes", "create", "--name", name, "--description", "Read your orders",
			"--description-de", "Ihre Bestellungen lesen", "--description-ja", "注文を読む")
		loc, _ := created["descriptions"].(map[string]any)
		if created["name"] != name || created["description"] != "Read your orders" || loc["de"] != "Ihre Bestellungen lesen" ||
			loc["ja"] != "注文を読む" || len(loc) != 2 {
			t.Fatalf("created %v", created)
		}
		for _, bad := range []struct {
			args    []string
			mention string
		}{
			{[]string{"scopes", "create", "--name", name}, "--description"},
			{[]string{"scopes", "create", "--description", "x"}, "--name"},
			{[]string{"scopes", "create", "--name", "two words", "--description", "x"}, "scope token"},
			{[]string{"scopes", "create", "--name", name, "--description", "again"}, "already"},
			{[]string{"scopes", "create", "--name", "api:x", "--description", "x", "--description-xx", "y"}, "description-xx"},
			{[]string{"scopes", "create", "--name", "api:x", "--description", "x", "--description-fr", ""}, "description-fr"},
			{[]string{"scopes", "create", "--name", "api:x", "--description", strings.Repeat("a", 301)}, "300"},
			{[]string{"scopes", "create", "--name", "api:x", "--description", "a\x1bb"}, "control"},
			{[]string{"scopes", "delete", "api:never-" + name}, "api:never-"},
			{[]string{"scopes", "delete"}, "scope"},
		} {
			stdout, stderr, code := srv.CLI(t, "", bad.args...)
			wantOneLineExit(t, strings.Join(bad.args, " "), 2, stdout, stderr, code, bad.mention)
		}
		out, _, code := srv.CLI(t, "", "scopes", "list")
		if code != 0 || !strings.Contains(out, name) || !strings.Contains(out, "Read your orders") || !strings.Contains(out, "en de ja") {
			t.Fatalf("list: %d\n%s", code, out)
		}
		var list []map[string]any
		srv.CLIJSON(t, &list, "", "scopes", "list")
		if len(list) != 1 || list[0]["name"] != name {
			t.Fatalf("list --json: %v", list)
		}
		if _, stderr, code := srv.CLI(t, "", "scopes", "delete", name); code != 0 {
			t.Fatalf("delete: %d %s", code, stderr)
		}
		if out, _, _ := srv.CLI(t, "", "scopes", "list"); strings.Contains(out, name) {
			t.Fatalf("a deleted scope is listed: %s", out)
		}
		events := auditList(t, srv, "--type", "scope.created")
		if len(events) != 1 || events[0].Target != name || events[0].Actor != "cli" {
			t.Fatalf("scope.created events: %+v", events)
		}
		if events := auditList(t, srv, "--type", "scope.deleted"); len(events) != 1 || events[0].Target != name {
			t.Fatalf("scope.deleted events: %+v", events)
		}
	})
}
