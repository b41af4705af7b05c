package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestCLI_UserSessionsConsentsIdentities: `users sessions`, `consents` and
// `identities` list what the admin API and console show, the same on the database
// and with --server; `end-session`, `revoke-consent` and `unlink` take each away
// (audited, with the CLI or the admin client as actor), and a session, consent or
// identity the user does not have is a one-line error with exit 2.
func TestCLI_UserSessionsConsentsIdentities(t *testing.T) {
	t.Parallel()
	g := newGitHubUser(t, "cli-octo", 6161)
	srv := g.srv
	rc := newRemoteCLI(t, srv)

	name, pass := uniqueName("grants"), "grants-"+randomString(16)
	id := srv.CreateUser(t, name, pass)
	app := newAZClient(t, srv, "https://app.example/cb")
	ub := newAZBrowser(t, srv)
	if f := ub.authorize(azQuery(app, newAZPKCE(), "s1"), name, pass, "allow"); f.Query.Get("code") == "" || !f.SawConsent {
		t.Fatalf("the user's authorization: %+v", f)
	}
	ub2 := newAZBrowser(t, srv) // a second session, so that the lists' order shows
	ub2.logIn("/login", name, pass)

	// Lists: the same both ways, in text and JSON.
	for _, args := range [][]string{
		{"users", "sessions", name}, {"users", "sessions", id, "--json"},
		{"users", "consents", name}, {"users", "consents", id, "--json"},
		{"users", "identities", g.login}, {"users", "identities", g.id, "--json"},
	} {
		rc.same(args...)
	}
	var sessions []struct {
		ID, UserID, Address string
		AMR                 []string
		LastSeenAt          *string `json:"last_seen_at"`
		ExpiresAt           string  `json:"expires_at"`
	}
	decodeCLI(t, rc.ok("sessions")(srv.CLI(t, "", "users", "sessions", name, "--json")), &sessions)
	if len(sessions) != 2 || sessions[0].ID == "" || !slices.Contains(sessions[0].AMR, "pwd") || sessions[0].ExpiresAt == "" {
		t.Fatalf("sessions of %s: %+v", name, sessions)
	}
	var consents []struct {
		ClientID string `json:"client_id"`
		Scope    string
	}
	decodeCLI(t, rc.ok("consents")(srv.CLI(t, "", "users", "consents", name, "--json")), &consents)
	if len(consents) != 1 || consents[0].ClientID != app.ID {
		t.Fatalf("consents of %s: %+v", name, consents)
	}
	var identities []identityItem
	decodeCLI(t, rc.ok("identities")(srv.CLI(t, "", "users", "identities", g.login, "--json")), &identities)
	if len(identities) != 1 || identities[0].UpstreamID != "github" || identities[0].UpstreamName != "GitHub" ||
		identities[0].Subject != "6161" {
		t.Fatalf("identities of %s: %+v", g.login, identities)
	}
	text := rc.ok("sessions (text)")(srv.CLI(t, "", "users", "sessions", name))
	if lines := strings.Split(strings.TrimSpace(text), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") ||
		!strings.HasPrefix(lines[1], sessions[0].ID+" ") || !strings.HasPrefix(lines[2], sessions[1].ID+" ") {
		t.Errorf("users sessions prints\n%s", text)
	}

	// What the user does not have: one line, exit 2, both ways; nothing changes.
	var octoSessions []struct{ ID string }
	decodeCLI(t, rc.ok("octo sessions")(srv.CLI(t, "", "users", "sessions", g.login, "--json")), &octoSessions)
	if len(octoSessions) == 0 {
		t.Fatal("the GitHub sign-in left no session")
	}
	for _, c := range []struct {
		args    []string
		mention string
	}{
		{[]string{"users", "end-session", name, "no-such-session"}, `has no session with id "no-such-session"`},
		// "--": a session id may begin with "-" (README).
		{[]string{"users", "end-session", name, "--", octoSessions[0].ID}, "has no session with id"},
		{[]string{"users", "revoke-consent", name, "no-such-client"}, `has no consent for client "no-such-client"`},
		{[]string{"users", "unlink", name, "github"}, `has no identity at upstream "github"`},
		{[]string{"users", "unlink", g.login, "no such upstream"}, "has no identity at upstream"},
		{[]string{"users", "sessions", "no-such-user"}, "no-such-user"},
		{[]string{"users", "end-session", name}, "session id"},
	} {
		what := strings.Join(c.args, " ")
		stdout, stderr, code := srv.CLI(t, "", c.args...)
		wantOneLineExit(t, "local "+what, 2, stdout, stderr, code, c.mention)
		stdout, stderr, code = rc.remote("", c.args...)
		wantOneLineExit(t, "remote "+what, 2, stdout, stderr, code, c.mention)
	}
	if again := rc.ok("octo sessions")(srv.CLI(t, "", "users", "sessions", g.login, "--json")); !strings.Contains(again, octoSessions[0].ID) {
		t.Fatalf("a refused end-session ended the other user's session: %s", again)
	}

	// revoke-consent through the admin API: the consent goes, the admin client did it.
	out := rc.ok("revoke-consent")(rc.remote("", "users", "revoke-consent", name, app.ID, "--json"))
	var done map[string]string
	decodeCLI(t, out, &done)
	if done["status"] != "revoked" || done["id"] != id || done["client_id"] != app.ID {
		t.Errorf("revoke-consent --json: %s", out)
	}
	if left := rc.ok("consents")(srv.CLI(t, "", "users", "consents", name, "--json")); strings.TrimSpace(left) != "[]" {
		t.Errorf("consents after the revocation: %s", left)
	}
	wantAuditBy(t, srv, "consent.revoked", app.ID, rc.clientID)

	// end-session on the database: the browser is signed out, the CLI did it.
	out = rc.ok("end-session")(srv.CLI(t, "", "users", "end-session", name, "--", sessions[0].ID))
	if out != "ended session "+sessions[0].ID+" of user "+id+"\n" {
		t.Errorf("end-session prints %q", out)
	}
	if left := rc.ok("sessions")(srv.CLI(t, "", "users", "sessions", name, "--json")); strings.Contains(left, sessions[0].ID) ||
		!strings.Contains(left, sessions[1].ID) {
		t.Errorf("sessions after end-session of %s: %s", sessions[0].ID, left)
	}
	signedIn := 0
	for _, b := range []*azBrowser{ub, ub2} {
		if r := b.get("/account"); r.Status == http.StatusOK && strings.Contains(string(r.Body), name) {
			signedIn++
		}
	}
	if signedIn != 1 {
		t.Errorf("%d of the two browsers are signed in after one session ended, want 1", signedIn)
	}
	wantCLIAudit(t, srv, "session.revoked", sessions[0].ID, id)

	// unlink on the database: the identity goes, the user is unlinked.
	out = rc.ok("unlink")(srv.CLI(t, "", "users", "unlink", g.login, "github", "--json"))
	decodeCLI(t, out, &done)
	if done["status"] != "unlinked" || done["upstream_id"] != "github" || done["id"] != g.id {
		t.Errorf("unlink --json: %s", out)
	}
	if left := rc.ok("identities")(rc.remote("", "users", "identities", g.id, "--json")); strings.TrimSpace(left) != "[]" {
		t.Errorf("identities after unlink: %s", left)
	}
	wantCLIAudit(t, srv, "user.identity.unlinked", g.id, g.id)
}

func decodeCLI(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
}

// wantCLIAudit: an event of type typ on target, done by the CLI, about user.
func wantCLIAudit(t *testing.T, srv *Server, typ, target, user string) {
	t.Helper()
	for _, e := range auditList(t, srv, "--type", typ, "--user", user, "--json") {
		if e.Target == target {
			if e.Actor != "cli" {
				t.Errorf("%s of %s: actor %q, want cli", typ, target, e.Actor)
			}
			return
		}
	}
	t.Errorf("no %s event of %s for user %s", typ, target, user)
}

// TestCLI_WrongSecretKeyRefused: a command or an instance whose GATEHOUSE_SECRET_KEY
// opens none of the database's signing keys stops with exit 2 and one line naming
// the variable, before it writes anything: a `keys rotate --now` with another key
// used to seal a key that no instance could open, and every token request failed.
func TestCLI_WrongSecretKeyRefused(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	id, secret := srv.CreateClient(t, "--grant-type", "client_credentials")
	clientToken(t, srv, id, secret)
	wrong := map[string]string{"GATEHOUSE_SECRET_KEY": "another-secret-key-" + randomString(24), "GATEHOUSE_HTTP_ADDR": "127.0.0.1:0"}
	before := rcKeys(t, srv)
	const says = "GATEHOUSE_SECRET_KEY opens none of the signing keys"
	for _, args := range [][]string{{"keys", "rotate", "--now"}, {"clients", "create", "--name", "x"}, {"users", "list"}} {
		stdout, stderr, code := srv.CLIWith(t, wrong, "", args...)
		wantOneLineExit(t, strings.Join(args, " ")+" with another secret key", 2, stdout, stderr, code, says)
	}
	// serve logs as it starts; it stops before it serves, with the same last line.
	if _, stderr, code := srv.CLIWith(t, wrong, "", "serve"); code != 2 || !strings.HasPrefix(lastLine(stderr), "gatehouse: "+says) {
		t.Errorf("serve with another secret key: exit %d, stderr\n%s", code, stderr)
	}
	if after := rcKeys(t, srv); after != before {
		t.Errorf("the refused commands changed the keys:\n%s\n%s", before, after)
	}
	clientToken(t, srv, id, secret) // still signs
}

func rcKeys(t *testing.T, srv *Server) string {
	t.Helper()
	stdout, stderr, code := srv.CLI(t, "", "keys", "list", "--json")
	if code != 0 {
		t.Fatalf("keys list: %s", stderr)
	}
	return stdout
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestAdminAPI_CLIRemoteKeyPending: a delayed rotation while the alg's next key
// waits is refused the same way on the database and through --server (exit 2, one
// line naming the pending key); the API answers 409, not 500.
func TestAdminAPI_CLIRemoteKeyPending(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_KEY_ACTIVATION_DELAY": "1h"}})
	rc := newRemoteCLI(t, srv)
	rc.ok("first rotation")(srv.CLI(t, "", "keys", "rotate", "--alg", "EdDSA"))
	lout, lerr, lcode := srv.CLI(t, "", "keys", "rotate", "--alg", "EdDSA")
	wantOneLineExit(t, "local second rotation", 2, lout, lerr, lcode, "is already pending", "--now")
	rout, rerr, rcode := rc.remote("", "keys", "rotate", "--alg", "EdDSA")
	wantOneLineExit(t, "remote second rotation", 2, rout, rerr, rcode, "is already pending", "--now")
	if lerr != rerr {
		t.Errorf("local and remote refusals differ:\n%q\n%q", lerr, rerr)
	}
	token, _ := adminToken(t, srv)
	api := &adminAPI{t: t, srv: srv, hc: srv.HTTPClient(), token: token}
	wantStatus(t, "POST keys/rotate while pending", api.call(http.MethodPost, "/keys/rotate", map[string]any{"alg": "EdDSA"}),
		http.StatusConflict)
	// A refusal of the server's rules reads as on the database, without a prefix.
	name := uniqueName("taken")
	rc.ok("create")(srv.CLI(t, "", "clients", "create", "--name", name, "--grant-type", "client_credentials"))
	lout, lerr, lcode = srv.CLI(t, "", "clients", "create", "--name", name, "--grant-type", "client_credentials")
	rout, rerr, rcode = rc.remote("", "clients", "create", "--name", name, "--grant-type", "client_credentials")
	if lcode != 2 || rcode != 2 || lerr != rerr || lout != "" || rout != "" {
		t.Errorf("a taken client name: local exit %d %q, remote exit %d %q", lcode, lerr, rcode, rerr)
	}
}
