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

// TestScopes_ConsentShowsTheDescription: the consent page shows an operator's
// description of a custom scope instead of its name, in the page's language when the
// operator gave one (German here, by ui_locales), in English otherwise (French); a
// scope nobody described shows its name once; after `scopes delete` the name again.
func TestScopes_ConsentShowsTheDescription(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	described, bare := "orders:"+strings.ToLower(uniqueName("r")), "stock:"+strings.ToLower(uniqueName("r"))
	if _, stderr, code := srv.CLI(t, "", "scopes", "create", "--name", described, "--description", "Read your orders",
		"--description-de", "Ihre Bestellungen lesen"); code != 0 {
		t.Fatalf("scopes create: %d %s", code, stderr)
	}
	name, pass := uniqueName("sc"), "pw-"+randomString(16)
	srv.CreateUser(t, name, pass)
	c := newAZClient(t, srv, "https://app.example.com/cb", "--scope", "openid "+described+" "+bare)
	consentPage := func(lang string) string {
		t.Helper()
		f := newAZBrowser(t, srv).authorize(azQuery(c, newAZPKCE(), "s", "scope", "openid "+described+" "+bare,
			"ui_locales", lang), name, pass, "deny")
		if !f.SawConsent {
			t.Fatalf("%s: no consent page", lang)
		}
		return f.ConsentPage
	}
	de := consentPage("de")
	if !strings.Contains(de, "Ihre Bestellungen lesen") || strings.Contains(de, "Read your orders") {
		t.Errorf("German consent page lacks the German description:\n%s", de)
	}
	if strings.Count(de, bare) != 1 {
		t.Errorf("the undescribed scope %s shows %d times, want once", bare, strings.Count(de, bare))
	}
	if fr := consentPage("fr"); !strings.Contains(fr, "Read your orders") {
		t.Errorf("French consent page lacks the English description (none in French):\n%s", fr)
	}
	if _, stderr, code := srv.CLI(t, "", "scopes", "delete", described); code != 0 {
		t.Fatalf("scopes delete: %d %s", code, stderr)
	}
	if de := consentPage("de"); strings.Contains(de, "Ihre Bestellungen lesen") || !strings.Contains(de, described) {
		t.Errorf("after delete the page should name the scope:\n%s", de)
	}
}
