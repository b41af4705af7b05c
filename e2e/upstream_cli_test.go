package e2e

import (
	"os"
	"strings"
	"testing"
)

// TestCLI_Upstreams: `gatehouse upstreams create|list|update|delete` on every backend:
// the callback URL printed, the secret never shown and stored sealed, each change in
// the audit log (without the secret), bad input exit 2 with one line.
func TestCLI_Upstreams(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		secret := "upstream-secret-" + randomString(20)
		srv.Sensitive(secret)
		out, errOut, code := srv.CLI(t, secret+"\n", "upstreams", "create", "--id", "corp", "--name", "Corp SSO", "--type", "oidc",
			"--issuer", "https://sso.corp.example/realms/main/", "--client-id", "gatehouse", "--client-secret-stdin")
		if code != 0 || !strings.Contains(out, srv.URL+"/login/upstream/corp/callback") || strings.Contains(out, secret) {
			t.Fatalf("upstreams create: exit %d\n%s%s", code, out, errOut)
		}
		gh := createUpstream(t, srv, secret+"-gh", "--id", "github", "--name", "GitHub", "--type", "github", "--client-id", "Iv1.abc",
			"--client-secret-stdin")
		if gh["api_url"] != "https://api.github.com" || gh["web_url"] != "https://github.com" || gh["scope"] != "read:user user:email" ||
			gh["callback_url"] != srv.URL+"/login/upstream/github/callback" {
			t.Fatalf("github defaults: %v", gh)
		}
		if _, ok := gh["client_secret"]; ok {
			t.Fatalf("create --json shows the secret: %v", gh)
		}

		var list []map[string]any
		srv.CLIJSON(t, &list, "", "upstreams", "list")
		if len(list) != 2 || list[0]["id"] != "corp" || list[0]["issuer"] != "https://sso.corp.example/realms/main" ||
			list[0]["scope"] != "openid email profile" || list[1]["id"] != "github" {
			t.Fatalf("upstreams list --json: %v", list)
		}
		out, _, _ = srv.CLI(t, "", "upstreams", "list")
		if !strings.Contains(out, "Corp SSO") || !strings.Contains(out, "CALLBACK_URL") || strings.Contains(out, secret) {
			t.Fatalf("upstreams list:\n%s", out)
		}

		var upd map[string]any
		srv.CLIJSON(t, &upd, "new-"+secret+"\n", "upstreams", "update", "corp", "--name", "Corp", "--scope", "openid email",
			"--client-secret-stdin")
		srv.Sensitive("new-" + secret)
		if upd["name"] != "Corp" || upd["scope"] != "openid email" {
			t.Fatalf("upstreams update: %v", upd)
		}

		for _, tc := range []struct {
			name, stdin string
			args        []string
			mention     string
		}{
			{"no id", "s\n", []string{"create", "--name", "N", "--type", "oidc", "--issuer", "https://a.example", "--client-id", "c", "--client-secret-stdin"}, "--id"},
			{"bad id", "s\n", []string{"create", "--id", "Bad Id", "--name", "N", "--type", "oidc", "--issuer", "https://a.example", "--client-id", "c", "--client-secret-stdin"}, "--id"},
			{"bad type", "s\n", []string{"create", "--id", "x1", "--name", "N", "--type", "saml", "--client-id", "c", "--client-secret-stdin"}, "--type"},
			{"no issuer", "s\n", []string{"create", "--id", "x2", "--name", "N", "--type", "oidc", "--client-id", "c", "--client-secret-stdin"}, "--issuer"},
			{"bad issuer", "s\n", []string{"create", "--id", "x3", "--name", "N", "--type", "oidc", "--issuer", "sso.example", "--client-id", "c", "--client-secret-stdin"}, "--issuer"},
			{"api url on oidc", "s\n", []string{"create", "--id", "x4", "--name", "N", "--type", "oidc", "--issuer", "https://a.example", "--api-url", "https://b.example", "--client-id", "c", "--client-secret-stdin"}, "--api-url"},
			{"scope without openid", "s\n", []string{"create", "--id", "x5", "--name", "N", "--type", "oidc", "--issuer", "https://a.example", "--scope", "email", "--client-id", "c", "--client-secret-stdin"}, "--scope"},
			{"no secret flag", "", []string{"create", "--id", "x6", "--name", "N", "--type", "oidc", "--issuer", "https://a.example", "--client-id", "c"}, "--client-secret-stdin"},
			{"empty secret", "\n", []string{"create", "--id", "x7", "--name", "N", "--type", "oidc", "--issuer", "https://a.example", "--client-id", "c", "--client-secret-stdin"}, "secret"},
			{"duplicate id", "s\n", []string{"create", "--id", "corp", "--name", "N", "--type", "oidc", "--issuer", "https://a.example", "--client-id", "c", "--client-secret-stdin"}, "corp"},
			{"update unknown", "", []string{"update", "nope", "--name", "N"}, "nope"},
			{"update nothing", "", []string{"update", "corp"}, "at least one"},
			{"update bad web url", "", []string{"update", "github", "--web-url", "ftp://x"}, "--web-url"},
			{"update without id", "", []string{"update"}, "upstream id"},
			{"delete unknown", "", []string{"delete", "nope"}, "nope"},
		} {
			out, errOut, code := srv.CLI(t, tc.stdin, append([]string{"upstreams"}, tc.args...)...)
			wantUsage(t, tc.name, out, errOut, code, tc.mention)
		}

		out, _, code = srv.CLI(t, "", "upstreams", "delete", "github")
		if code != 0 || !strings.Contains(out, "deleted upstream github") {
			t.Fatalf("upstreams delete: %d %s", code, out)
		}
		srv.CLIJSON(t, &list, "", "upstreams", "list")
		if len(list) != 1 {
			t.Fatalf("after delete: %v", list)
		}

		var events []map[string]any
		srv.CLIJSON(t, &events, "", "audit", "list")
		types := map[string]int{}
		for _, e := range events {
			if strings.HasPrefix(e["type"].(string), "upstream.") {
				types[e["type"].(string)]++
				if e["actor"] != "cli" {
					t.Errorf("%v: actor %v, want cli", e["type"], e["actor"])
				}
			}
		}
		if types["upstream.created"] != 2 || types["upstream.updated"] != 1 || types["upstream.deleted"] != 1 {
			t.Fatalf("upstream audit events: %v", types)
		}
		all, _, _ := srv.CLI(t, "", "audit", "list", "--json")
		if strings.Contains(all, secret) || !strings.Contains(all, "client_secret") {
			t.Fatalf("the audit log must name the changed secret field but never hold the secret:\n%s", all)
		}

		// The secret is stored sealed: the SQLite file never holds it in clear.
		if path, ok := strings.CutPrefix(srv.DatabaseURL, "sqlite:"); ok {
			path, _, _ = strings.Cut(path, "?")
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("the SQLite file: %v", err)
			}
			for _, f := range []string{path, path + "-wal"} {
				b, err := os.ReadFile(f)
				if err == nil && strings.Contains(string(b), secret) {
					t.Fatalf("%s holds the upstream's client secret in clear", f)
				}
			}
		}
	})
}
