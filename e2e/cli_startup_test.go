package e2e

// What a newcomer following the README meets at start-up and on the command line:
// an issuer on another port than the one served, a mail directory that cannot be
// written, and a boolean flag given something else.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const issuerPortWarning = `level=WARN msg="the issuer's port is not the port served"`

// TestServe_IssuerPortMismatchWarns: GATEHOUSE_HTTP_ADDR on another port than a
// loopback http issuer names (discovery, redirects, the device URI and DPoP's htu then
// point at the wrong port) logs one warning naming both; it serves all the same.
func TestServe_IssuerPortMismatchWarns(t *testing.T) {
	t.Parallel()
	for _, issuer := range []string{"http://localhost:1", "http://127.0.0.1:1", "http://[::1]:1"} {
		t.Run(issuer, func(t *testing.T) {
			t.Parallel()
			// Port 1 is never a free port the harness picks.
			srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_ISSUER": issuer}})
			want := issuerPortWarning + " issuer=" + issuer + " addr=" + srv.Addr
			line := waitLogLine(t, srv, issuerPortWarning)
			if !strings.HasSuffix(line, want) {
				t.Errorf("warning line %q, want it to end in %q", line, want)
			}
			if n := strings.Count(srv.Log(), issuerPortWarning); n != 1 {
				t.Errorf("%d warnings about the issuer's port, want 1:\n%s", n, tail(srv.Log(), 10))
			}
			if r := srv.Get(t, nil, "/.well-known/openid-configuration"); r.Status != 200 {
				t.Errorf("discovery: %d", r.Status)
			}
		})
	}
}

// TestServe_IssuerPortMatchNoWarning: an issuer on the port served (127.0.0.1 or
// localhost), or one that is not this machine's (behind a proxy, say), logs nothing
// about it.
func TestServe_IssuerPortMatchNoWarning(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]Options{
		"127.0.0.1":       {},
		"localhost":       {Localhost: true},
		"https elsewhere": {Env: map[string]string{"GATEHOUSE_ISSUER": "https://id.example.com"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, opts)
			waitLogLine(t, srv, `msg="gatehouse starting"`)
			srv.Stop(t)
			if strings.Contains(srv.Log(), "issuer's port") {
				t.Errorf("a warning about the issuer's port:\n%s", tail(srv.Log(), 10))
			}
		})
	}
}

// serveBriefly runs `gatehouse serve` with env in a new directory and returns what it
// printed and its exit status. It is expected to refuse to start: one still running
// after a few seconds is stopped, and the test fails.
func serveBriefly(t *testing.T, env map[string]string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, "serve")
	cmd.Env = cliEnv(t, env)
	cmd.Dir = t.TempDir()
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("gatehouse serve started (stopped after 15s), want it to refuse; log:\n%s", tail(errOut.String(), 10))
	}
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// TestCLI_ServeMailDirUnwritable: without an SMTP server mails are files under
// GATEHOUSE_MAIL_DIR; a directory that cannot be created stops serve at start-up with
// exit 2 and one line naming the variable and the directory, before any database is
// made. (A path under a regular file: tests may run as root, whom permission bits do
// not stop.)
func TestCLI_ServeMailDirUnwritable(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mailDir := filepath.Join(file, "sub")
	dbFile := filepath.Join(base, "db", "gatehouse.db")
	out, errOut, code := serveBriefly(t, map[string]string{
		"GATEHOUSE_MAIL_DIR":     mailDir,
		"GATEHOUSE_HTTP_ADDR":    "127.0.0.1:0",
		"GATEHOUSE_DATABASE_URL": "sqlite:" + dbFile,
	})
	wantUsage(t, "serve with GATEHOUSE_MAIL_DIR="+mailDir, out, errOut, code, "GATEHOUSE_MAIL_DIR", mailDir)
	if _, err := os.Stat(filepath.Dir(dbFile)); err == nil {
		t.Errorf("serve made the database's directory before refusing the mail directory")
	}
	// With an SMTP server the directory is not used, so not checked: serve starts.
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_MAIL_DIR": mailDir,
		"GATEHOUSE_SMTP_URL": "smtp://127.0.0.1:1"}})
	srv.Stop(t)
}

// TestServe_MailDirCreated: a mail directory that does not exist yet is made at
// start-up (mode 0700, as the mails would make it), and the check leaves no file in it.
func TestServe_MailDirCreated(t *testing.T) {
	t.Parallel()
	mailDir := filepath.Join(t.TempDir(), "new", "mail")
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_MAIL_DIR": mailDir}})
	fi, err := os.Stat(mailDir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("mail directory after start-up: %v, %v", fi, err)
	}
	if entries, _ := os.ReadDir(mailDir); len(entries) != 0 {
		t.Errorf("the start-up check left %d files in the mail directory", len(entries))
	}
	srv.Stop(t)
}

// TestCLI_BadBooleanFlag: a boolean flag given anything but a boolean is bad input
// (exit 2) named as the configuration names a bad boolean, without strconv's words;
// for every command's boolean flags, the global --json too.
func TestCLI_BadBooleanFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"users", "update", "alice", "--disabled=maybe"}, `--disabled: "maybe" is not a boolean (use true or false)`},
		{[]string{"users", "update", "alice", "--email-verified=yes"}, `--email-verified: "yes" is not a boolean (use true or false)`},
		{[]string{"users", "create", "--username", "bob", "--password-stdin=sure"}, `--password-stdin: "sure" is not a boolean (use true or false)`},
		{[]string{"clients", "create", "--name", "web", "--public=2"}, `--public: "2" is not a boolean (use true or false)`},
		{[]string{"clients", "create", "--name", "web", "--require-pkce="}, `--require-pkce: "" is not a boolean (use true or false)`},
		{[]string{"clients", "update", "abc", "--disabled=off"}, `--disabled: "off" is not a boolean (use true or false)`},
		{[]string{"keys", "rotate", "--now=soon"}, `--now: "soon" is not a boolean (use true or false)`},
		{[]string{"users", "list", "--json=perhaps"}, `--json: "perhaps" is not a boolean (use true or false)`},
	} {
		what := strings.Join(tc.args, " ")
		out, errOut, code := runCLI(t, cliEnv(t, nil), "", tc.args...)
		wantUsage(t, what, out, errOut, code)
		if want := "gatehouse: " + tc.want + "\n"; errOut != want {
			t.Errorf("%s: stderr %q, want %q", what, errOut, want)
		}
	}
	// Other flag errors keep their words.
	out, errOut, code := runCLI(t, cliEnv(t, nil), "", "keys", "rotate", "--alg")
	wantUsage(t, "keys rotate --alg", out, errOut, code, "--alg")
}
