package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestAdminAPI_CLIRemote: with --server the admin commands go through the admin API
// and print exactly what they print on the database.
func TestAdminAPI_CLIRemote(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		rc := newRemoteCLI(t, srv)
		id, remote, ok, same := rc.clientID, rc.remote, rc.ok, rc.same
		keysOf := func(s string) []string {
			t.Helper()
			var m map[string]any
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				t.Fatalf("not a JSON object: %v\n%s", err, s)
			}
			var keys []string
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			return keys
		}

		// clients create: the same JSON shape, with the secret once.
		created := ok("remote create")(remote("", "clients", "create", "--name", uniqueName("remote-"), "--redirect-uri",
			"https://rp.example/cb", "--grant-type", "authorization_code", "--grant-type", "client_credentials", "--json"))
		localMade := ok("local create")(srv.CLI(t, "", "clients", "create", "--name", uniqueName("local-"), "--redirect-uri",
			"https://rp.example/cb", "--grant-type", "authorization_code", "--grant-type", "client_credentials", "--json"))
		if !slices.Equal(keysOf(created), keysOf(localMade)) {
			t.Fatalf("create --json shapes differ: %v vs %v", keysOf(created), keysOf(localMade))
		}
		var c struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
		if err := json.Unmarshal([]byte(created), &c); err != nil || c.ClientID == "" || c.ClientSecret == "" {
			t.Fatalf("remote create: %s", created)
		}
		srv.Sensitive(c.ClientSecret)
		clientToken(t, srv, c.ClientID, c.ClientSecret)
		text := ok("remote create (text)")(remote("", "clients", "create", "--name", uniqueName("remote-"), "--grant-type", "client_credentials"))
		if !strings.HasPrefix(text, "client_id: ") || !strings.Contains(text, "client_secret: ") {
			t.Fatalf("remote create prints %q", text)
		}

		same("clients", "show", c.ClientID)
		same("clients", "show", c.ClientID, "--json")
		same("clients", "list")
		same("clients", "list", "--json")

		// update: the remote answer is what the database then shows.
		updated := ok("remote update")(remote("", "clients", "update", c.ClientID, "--name", uniqueName("renamed-"),
			"--audience", "https://api.example", "--skip-consent", "--json"))
		shown := ok("local show")(srv.CLI(t, "", "clients", "show", c.ClientID, "--json"))
		if updated != shown {
			t.Fatalf("remote update printed\n%s\nthe database shows\n%s", updated, shown)
		}
		same("clients", "update", c.ClientID, "--require-par=false")
		// What the client is may be repeated, not changed, remotely as locally.
		same("clients", "update", c.ClientID, "--public=false", "--require-par=false")
		{
			stdout, stderr, code := remote("", "clients", "update", c.ClientID, "--public")
			wantOneLineExit(t, "remote update to public", 2, stdout, stderr, code, "public and confidential")
		}

		// rotate-secret: a working new secret, shown once.
		rot := ok("remote rotate")(remote("", "clients", "rotate-secret", c.ClientID, "--json"))
		var r struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
		if err := json.Unmarshal([]byte(rot), &r); err != nil || r.ClientID != c.ClientID || r.ClientSecret == "" {
			t.Fatalf("rotate-secret: %s", rot)
		}
		srv.Sensitive(r.ClientSecret)
		clientToken(t, srv, c.ClientID, r.ClientSecret)

		// users.
		name, pass := uniqueName("remoteuser"), "pw-"+randomString(16)
		srv.Sensitive(pass)
		made := ok("remote users create")(remote(pass+"\n", "users", "create", "--username", name, "--email", name+"@example.com",
			"--password-stdin", "--json"))
		if got := keysOf(made); !slices.Equal(got, []string{"id", "username"}) {
			t.Fatalf("users create --json: %s", made)
		}
		same("users", "show", name)
		same("users", "show", name, "--json")
		same("users", "list")
		same("users", "list", "--json")
		updated = ok("remote users update")(remote("", "users", "update", name, "--add-group", "ops", "--add-group", "dev",
			"--name", "Grace", "--json"))
		shown = ok("local users show")(srv.CLI(t, "", "users", "show", name, "--json"))
		if updated != shown {
			t.Fatalf("remote users update printed\n%s\nthe database shows\n%s", updated, shown)
		}
		ok("remote users update")(remote("", "users", "update", name, "--remove-group", "ops", "--disabled=true"))
		same("users", "show", name, "--json")

		// keys and the audit log.
		same("keys", "list", "--json")
		same("keys", "list")
		rotated := ok("remote keys rotate")(remote("", "keys", "rotate", "--alg", "EdDSA", "--json"))
		localRotated := ok("local keys rotate")(srv.CLI(t, "", "keys", "rotate", "--alg", "RS256", "--json"))
		if !slices.Equal(keysOf(rotated), keysOf(localRotated)) {
			t.Fatalf("keys rotate --json shapes differ: %s vs %s", rotated, localRotated)
		}
		same("audit", "list", "--json", "--limit", "7")
		same("audit", "list", "--type", "client.updated")
		same("audit", "list", "--user", name, "--json")
		// Remote changes are the admin client's in the audit log.
		var events []map[string]any
		out := ok("audit")(srv.CLI(t, "", "audit", "list", "--type", "client.secret.rotated", "--json"))
		if err := json.Unmarshal([]byte(out), &events); err != nil || len(events) == 0 || events[0]["actor"] != id {
			t.Fatalf("the remote rotation is audited as %s", out)
		}

		// reset-mfa of a user without a second factor: the same answer either way.
		same("users", "reset-mfa", name, "--json")
		if out := ok("remote reset-mfa")(remote("", "users", "reset-mfa", name)); !strings.Contains(out, "had no second factor") {
			t.Fatalf("remote reset-mfa: %s", out)
		}

		// delete.
		del := ok("remote delete")(remote("", "users", "delete", name, "--json"))
		if !strings.Contains(del, `"status": "deleted"`) {
			t.Fatalf("users delete: %s", del)
		}
		ok("remote clients delete")(remote("", "clients", "delete", c.ClientID))
		if _, _, code := srv.CLI(t, "", "clients", "show", c.ClientID); code != 2 {
			t.Fatalf("a client deleted remotely is still shown locally (exit %d)", code)
		}

		// Errors: one line, exit 2.
		stdout, stderr, code := remote("", "clients", "show", "nosuch")
		wantOneLineExit(t, "remote show of nobody", 2, stdout, stderr, code, "nosuch")
		stdout, stderr, code = remote("", "clients", "create", "--name", "x", "--redirect-uri", "not a uri")
		wantOneLineExit(t, "remote bad create", 2, stdout, stderr, code)
		stdout, stderr, code = remote("x\n", "users", "set-password", "x", "--password-stdin")
		wantOneLineExit(t, "set-password remotely", 2, stdout, stderr, code, "--server")
		stdout, stderr, code = srv.CLIWith(t, map[string]string{"GATEHOUSE_ADMIN_CLIENT_ID": id, "GATEHOUSE_ADMIN_CLIENT_SECRET": "wrong"},
			"", "--server", srv.URL, "clients", "list")
		wantOneLineExit(t, "wrong admin secret", 2, stdout, stderr, code)
		stdout, stderr, code = srv.CLIWith(t, map[string]string{"GATEHOUSE_ADMIN_CLIENT_ID": ""}, "", "--server", srv.URL, "clients", "list")
		wantOneLineExit(t, "no admin client", 2, stdout, stderr, code, "GATEHOUSE_ADMIN_CLIENT_ID")
		stdout, stderr, code = remote("", "--server", "ftp://x", "clients", "list")
		wantOneLineExit(t, "bad --server", 2, stdout, stderr, code, "--server")
		// A client without gatehouse:admin gets no admin token.
		plain, plainSecret := srv.CreateClient(t, "--grant-type", "client_credentials")
		stdout, stderr, code = srv.CLIWith(t, map[string]string{"GATEHOUSE_ADMIN_CLIENT_ID": plain, "GATEHOUSE_ADMIN_CLIENT_SECRET": plainSecret},
			"", "--server", srv.URL, "clients", "list")
		wantOneLineExit(t, "not an admin client", 2, stdout, stderr, code)
		_ = http.StatusOK
	})
}
