package e2e

// --server URL (the command line on a remote server, through its admin API): every
// command either goes to the server or refuses with exit 2 and one line; none
// quietly acts on the local database instead of the server the user named.

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// remoteCommands go through the admin API with --server (TestAdminAPI_CLIRemote and
// TestAdminAPI_CLIRemoteUpstreams show that they do).
var remoteCommands = []string{
	"audit list",
	"clients create", "clients delete", "clients list", "clients rotate-secret", "clients show", "clients update",
	"keys list", "keys rotate",
	"upstreams create", "upstreams delete", "upstreams list", "upstreams update",
	"users create", "users delete", "users list", "users reset-mfa", "users show", "users update",
	"users sessions", "users end-session", "users consents", "users revoke-consent", "users identities", "users unlink",
}

// localOnlyCalls run every command that works on the database only, with the name
// its refusal gives it; each would change or create the database, or read it, if it
// ignored --server.
var localOnlyCalls = []struct {
	command string // as the refusal names it, without "gatehouse "
	call    CLICall
}{
	{"migrate up", CLICall{Args: []string{"migrate"}}},
	{"migrate up", CLICall{Args: []string{"migrate", "up"}}},
	{"migrate down", CLICall{Args: []string{"migrate", "down"}}},
	{"migrate down", CLICall{Args: []string{"migrate", "down", "--yes"}}},
	{"migrate status", CLICall{Args: []string{"migrate", "status", "--json"}}},
	{"scopes create", CLICall{Args: []string{"scopes", "create", "--name", "prod:read", "--description", "x"}}},
	{"scopes list", CLICall{Args: []string{"scopes", "list"}}},
	{"scopes delete", CLICall{Args: []string{"scopes", "delete", "prod:read"}}},
	{"resources create", CLICall{Args: []string{"resources", "create", "--uri", "https://api.example.com", "--name", "API"}}},
	{"resources list", CLICall{Args: []string{"resources", "list", "--json"}}},
	{"resources delete", CLICall{Args: []string{"resources", "delete", "https://api.example.com"}}},
	{"keys revoke", CLICall{Args: []string{"keys", "revoke", "kid-1"}}},
	{"users set-password", CLICall{Stdin: "correct horse battery\n", Args: []string{"users", "set-password", "alice", "--password-stdin"}}},
	// Last: if it ignored --server it would serve, until the call times out.
	{"serve", CLICall{Args: []string{"serve"}}},
}

// TestCLI_ServerRefusedByLocalCommands: with --server, each command that works on the
// database only (serve, migrate up/down/status, scopes, resources, keys revoke, users
// set-password) ends with exit 2 and "gatehouse: gatehouse CMD works on the database
// only, not with --server", and touches neither an existing local database nor
// creates a missing one. Every command of the binary is one of these or goes
// through the admin API: a new command must be put in one list or the other.
func TestCLI_ServerRefusedByLocalCommands(t *testing.T) {
	t.Parallel()
	const server = "https://id.example.invalid"
	vars := map[string]string{"GATEHOUSE_ARGON2_MEMORY": "8192", "GATEHOUSE_ARGON2_ITERATIONS": "1",
		"GATEHOUSE_HTTP_ADDR": "127.0.0.1:0"}
	env := buildEnv(vars)

	// Every leaf command is classified.
	var local []string
	for _, c := range localOnlyCalls {
		local = append(local, c.command)
	}
	for _, cmd := range leafCommands(t, env, nil) {
		name := strings.Join(cmd, " ")
		if name == "version" {
			continue // the binary's own version: no database, no server
		}
		if cmd[0] == "migrate" {
			name = "migrate up" // its actions are arguments: all of them are in localOnlyCalls
		}
		if !slices.Contains(remoteCommands, name) && !slices.Contains(local, name) {
			t.Errorf("command %q is neither in remoteCommands nor in localOnlyCalls: does it honour --server?", name)
		}
	}

	refused := func(t *testing.T, dir string) {
		t.Helper()
		for _, c := range localOnlyCalls {
			for _, args := range [][]string{
				append([]string{"--server", server}, c.call.Args...),
				append(slices.Clone(c.call.Args), "--server", server),
			} {
				r := cliIn(t, dir, env, c.call.Stdin, args...)
				what := strings.Join(args, " ")
				wantUsage(t, what, r.Stdout, r.Stderr, r.Exit)
				if want := "gatehouse: gatehouse " + c.command + " works on the database only, not with --server\n"; r.Stderr != want {
					t.Errorf("%s: stderr\n%q, want\n%q", what, r.Stderr, want)
				}
			}
		}
	}

	// Where no database is, nothing is created (serve and migrate up would).
	empty := t.TempDir()
	refused(t, empty)
	if left := dirEntries(t, empty); len(left) != 0 {
		t.Fatalf("commands run with --server created %v", left)
	}

	// An existing local database (the default ./data/gatehouse.db) is left exactly as
	// it was: not one byte of its files changes, and a local read shows no change.
	dir := t.TempDir()
	if r := cliIn(t, dir, env, "", "migrate"); r.Exit != 0 {
		t.Fatalf("migrate: exit %d %s", r.Exit, r.Stderr)
	}
	before := treeDigest(t, dir)
	refused(t, dir)
	if after := treeDigest(t, dir); !maps.Equal(before, after) {
		t.Fatalf("commands run with --server changed the local database:\nbefore %v\nafter  %v", before, after)
	}
	for _, args := range [][]string{{"scopes", "list", "--json"}, {"resources", "list", "--json"}} {
		if r := cliIn(t, dir, env, "", args...); r.Exit != 0 || strings.TrimSpace(r.Stdout) != "[]" {
			t.Errorf("local %s: exit %d %q %q", strings.Join(args, " "), r.Exit, r.Stdout, r.Stderr)
		}
	}
	r := cliIn(t, dir, env, "", "migrate", "status")
	if r.Exit != 0 || strings.Contains(r.Stdout, "pending") {
		t.Errorf("local migrate status after the refused commands: exit %d\n%s", r.Exit, r.Stdout)
	}
}

// leafCommands lists the commands of the binary below prefix (each a path of names,
// e.g. [users create]), from the "Available Commands" of its help.
func leafCommands(t *testing.T, env []string, prefix []string) [][]string {
	t.Helper()
	r := cliIn(t, t.TempDir(), env, "", append(slices.Clone(prefix), "--help")...)
	if r.Exit != 0 {
		t.Fatalf("gatehouse %s --help: exit %d %s", strings.Join(prefix, " "), r.Exit, r.Stderr)
	}
	_, list, found := strings.Cut(r.Stdout, "Available Commands:\n")
	if !found {
		return [][]string{prefix}
	}
	list, _, _ = strings.Cut(list, "\n\n")
	var out [][]string
	for _, m := range regexp.MustCompile(`(?m)^  (\S+)`).FindAllStringSubmatch(list, -1) {
		if m[1] == "help" {
			continue
		}
		out = append(out, leafCommands(t, env, append(slices.Clone(prefix), m[1]))...)
	}
	return out
}

// treeDigest maps each file under dir to a digest of its content.
func treeDigest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, rel := range dirEntries(t, dir) {
		p := filepath.Join(dir, rel)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.IsDir() {
			out[rel] = "dir"
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(sum[:8]) + " " + st.ModTime().String()
	}
	return out
}
