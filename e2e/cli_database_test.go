package e2e

// Which database a command uses, and what it may create (issue 26): only serve and
// migrate up create a database, its directory and the SQLite secret key; every other
// command on a missing database, or one without Gatehouse's schema, stops with one
// line saying which database it looked for and how to point at the right one.

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/infrastructure/database/dbtest"
)

// cliIn runs the binary in dir (its working directory) with env.
func cliIn(t *testing.T, dir string, env []string, stdin string, args ...string) CLIResult {
	t.Helper()
	r, err := execCLI(env, dir, CLICall{Stdin: stdin, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// dirEntries lists what dir holds, recursively, relative to it.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// adminCommands are the commands that need an existing database with the schema,
// each with the stdin it reads.
var adminCommands = []CLICall{
	{Stdin: "correct horse battery\n", Args: []string{"users", "create", "--username", "alice", "--password-stdin"}},
	{Args: []string{"users", "list"}},
	{Args: []string{"users", "delete", "00000000-0000-4000-8000-000000000000"}},
	{Stdin: "correct horse battery\n", Args: []string{"users", "set-password", "00000000-0000-4000-8000-000000000000", "--password-stdin"}},
	{Args: []string{"clients", "create", "--name", "c", "--grant-type", "client_credentials"}},
	{Args: []string{"clients", "list", "--json"}},
	{Args: []string{"clients", "delete", "x"}},
	{Args: []string{"clients", "rotate-secret", "x"}},
	{Args: []string{"keys", "list"}},
	{Args: []string{"keys", "rotate"}},
}

// TestCLI_MissingDatabaseCreatesNothing: run where no server ever ran, every command
// but serve and migrate up fails with one line naming the database file it looked
// for, the setting it came from and the directory a relative path is taken from, and
// leaves the directory empty (no database, no data/, no secret.key). migrate up then
// creates the database and the key, says where the key is, and the commands work.
func TestCLI_MissingDatabaseCreatesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := buildEnv(map[string]string{"GATEHOUSE_ARGON2_MEMORY": "8192", "GATEHOUSE_ARGON2_ITERATIONS": "1"})
	want := "gatehouse: no database at " + filepath.Join(dir, "data", "gatehouse.db") +
		" (the default GATEHOUSE_DATABASE_URL=sqlite:./data/gatehouse.db, relative to " + dir +
		"); run the command where `gatehouse serve` runs, set GATEHOUSE_DATABASE_URL, or pass --config\n"
	calls := append(append([]CLICall{}, adminCommands...), CLICall{Args: []string{"migrate", "status"}},
		CLICall{Args: []string{"migrate", "down"}})
	for _, c := range calls {
		r := cliIn(t, dir, env, c.Stdin, c.Args...)
		wantUsage(t, strings.Join(c.Args, " "), r.Stdout, r.Stderr, r.Exit)
		if r.Stderr != want {
			t.Errorf("%s: stderr\n%q, want\n%q", strings.Join(c.Args, " "), r.Stderr, want)
		}
	}
	if left := dirEntries(t, dir); len(left) != 0 {
		t.Fatalf("the commands left %v in the working directory", left)
	}

	// The setting is named as the user gave it: a variable, or a --config file's key.
	r := cliIn(t, dir, overrideEnv(env, map[string]string{"GATEHOUSE_DATABASE_URL": "sqlite:elsewhere/g.db"}), "", "users", "list")
	wantUsage(t, "users list, relative GATEHOUSE_DATABASE_URL", r.Stdout, r.Stderr, r.Exit,
		"no database at "+filepath.Join(dir, "elsewhere", "g.db")+" (GATEHOUSE_DATABASE_URL=sqlite:elsewhere/g.db, relative to "+dir+")")
	abs := filepath.Join(t.TempDir(), "g.db")
	r = cliIn(t, dir, overrideEnv(env, map[string]string{"GATEHOUSE_DATABASE_URL": "sqlite:" + abs}), "", "users", "list")
	wantUsage(t, "users list, absolute GATEHOUSE_DATABASE_URL", r.Stdout, r.Stderr, r.Exit,
		"no database at "+abs+" (GATEHOUSE_DATABASE_URL=sqlite:"+abs+");")
	cfgFile := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(cfgFile, []byte("database_url: sqlite:"+abs+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = cliIn(t, dir, env, "", "clients", "list", "--config", cfgFile)
	wantUsage(t, "clients list --config", r.Stdout, r.Stderr, r.Exit,
		"no database at "+abs+" (database_url: sqlite:"+abs+" in "+cfgFile+");")
	if left := dirEntries(t, dir); len(left) != 0 || fileExists(filepath.Dir(abs)+"/secret.key") {
		t.Fatalf("the commands created %v", left)
	}

	// migrate (up) may create: the database, its directory and the key, and says so.
	r = cliIn(t, dir, env, "", "migrate")
	keyFile := filepath.Join(dir, "data", "secret.key")
	if r.Exit != 0 || r.Stderr != "gatehouse: generated a new secret key in "+keyFile+"; back it up with the database\n" {
		t.Fatalf("migrate on a new database: exit %d, stderr %q", r.Exit, r.Stderr)
	}
	if !regexp.MustCompile(`^applied [1-9][0-9]* migrations; schema is up to date\n$`).MatchString(r.Stdout) {
		t.Errorf("migrate on a new database says %q, want how many it applied", r.Stdout)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %v", err)
	}
	r = cliIn(t, dir, env, adminCommands[0].Stdin, adminCommands[0].Args...)
	if r.Exit != 0 || r.Stderr != "" {
		t.Fatalf("users create after migrate: exit %d, stderr %q", r.Exit, r.Stderr)
	}
	if r = cliIn(t, dir, env, "", "users", "list"); r.Exit != 0 || !strings.Contains(r.Stdout, "alice") {
		t.Fatalf("users list after migrate: exit %d %q %q", r.Exit, r.Stdout, r.Stderr)
	}
	if r = cliIn(t, dir, env, "", "migrate"); r.Exit != 0 || r.Stderr != "" || r.Stdout != "schema was already up to date\n" {
		t.Errorf("migrate again: exit %d, stdout %q, stderr %q (no new key)", r.Exit, r.Stdout, r.Stderr)
	}
	if r = cliIn(t, dir, env, "", "migrate", "--json"); r.Exit != 0 || strings.Join(strings.Fields(r.Stdout), "") != `{"applied":0,"status":"uptodate"}` {
		t.Errorf("migrate --json again: exit %d, stdout %q", r.Exit, r.Stdout)
	}
	// One argument too many is named as such, not as a missing one.
	r = cliIn(t, dir, env, "", "users", "show", "alice", "bob")
	wantUsage(t, "users show with two users", r.Stdout, r.Stderr, r.Exit, "takes only a user id or username (2 arguments given)")

	// A database whose secret key file went missing: a new key would open none of its
	// sealed keys, so the commands refuse rather than write one.
	if err := os.Rename(keyFile, keyFile+".bak"); err != nil {
		t.Fatal(err)
	}
	r = cliIn(t, dir, env, "", "users", "list")
	wantUsage(t, "users list without the secret key file", r.Stdout, r.Stderr, r.Exit, "GATEHOUSE_SECRET_KEY", keyFile)
	if fileExists(keyFile) {
		t.Errorf("users list wrote a new secret key")
	}
}

// TestCLI_DatabaseWithoutSchema: an empty database (PostgreSQL, MariaDB, or an empty
// SQLite file) is not filled by an admin command: one line says the schema is
// missing and what to run; migrate status lists every migration as pending and
// creates nothing; after migrate the commands work.
func TestCLI_DatabaseWithoutSchema(t *testing.T) {
	t.Parallel()
	for _, b := range backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"GATEHOUSE_DATABASE_URL": b.URL, "GATEHOUSE_SECRET_KEY": randomString(40)}
			where := "the database " + redactedURL(t, b.URL)
			if b.Name == "sqlite" {
				path := strings.TrimPrefix(b.URL, "sqlite:")
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				where = "the SQLite database " + path
			}
			full := cliEnv(t, env)
			for _, c := range adminCommands {
				r := cliIn(t, t.TempDir(), full, c.Stdin, c.Args...)
				wantUsage(t, strings.Join(c.Args, " "), r.Stdout, r.Stderr, r.Exit)
				want := "gatehouse: " + where + " has no Gatehouse schema; check GATEHOUSE_DATABASE_URL, " +
					"or run `gatehouse migrate` (or `gatehouse serve`) first\n"
				if r.Stderr != want {
					t.Errorf("%s: stderr\n%q, want\n%q", strings.Join(c.Args, " "), r.Stderr, want)
				}
			}
			r := cliIn(t, t.TempDir(), full, "", "migrate", "down")
			wantUsage(t, "migrate down", r.Stdout, r.Stderr, r.Exit, "has no Gatehouse schema")
			var rows []struct {
				Name    string `json:"name"`
				Applied bool   `json:"applied"`
			}
			r = cliIn(t, t.TempDir(), full, "", "migrate", "status", "--json")
			if r.Exit != 0 || jsonInto([]byte(r.Stdout), &rows) != nil || len(rows) == 0 {
				t.Fatalf("migrate status on an empty database: exit %d %q %q", r.Exit, r.Stdout, r.Stderr)
			}
			for _, row := range rows {
				if row.Applied {
					t.Errorf("migration %s applied on an empty database", row.Name)
				}
			}
			if r = cliIn(t, t.TempDir(), full, "", "users", "list"); r.Exit != 2 {
				t.Errorf("after migrate status, users list: exit %d (status must create nothing)", r.Exit)
			}
			if r = cliIn(t, t.TempDir(), full, "", "migrate"); r.Exit != 0 {
				t.Fatalf("migrate: exit %d %s", r.Exit, r.Stderr)
			}
			if r = cliIn(t, t.TempDir(), full, "", "users", "list", "--json"); r.Exit != 0 || strings.TrimSpace(r.Stdout) != "[]" {
				t.Errorf("users list after migrate: exit %d %q %q", r.Exit, r.Stdout, r.Stderr)
			}
		})
	}
}

// redactedURL is u as the CLI names a database: its password hidden.
func redactedURL(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.User == nil {
		return raw
	}
	return u.Redacted()
}

// TestCLI_DatabaseURLNamesNoDatabase: a mysql:// URL without a database fails at once
// (it used to wait a minute for a migration lock); a database the server does not
// have is bad input too, named by the server's own message.
func TestCLI_DatabaseURLNamesNoDatabase(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"mysql://root@127.0.0.1:3306", "mysql://root:secret@127.0.0.1:3306/"} {
		start := time.Now()
		out, errOut, code := runCLI(t, cliEnv(t, map[string]string{"GATEHOUSE_DATABASE_URL": u}), "", "serve")
		wantUsage(t, "serve on "+u, out, errOut, code,
			"GATEHOUSE_DATABASE_URL: the mysql:// URL names no database; want mysql://user:pass@host:port/DATABASE")
		if strings.Contains(errOut, "secret") || time.Since(start) > 10*time.Second {
			t.Errorf("serve on %s: %q after %s", u, errOut, time.Since(start))
		}
	}
	for _, b := range backends(t) {
		if b.Name == "sqlite" {
			continue
		}
		u, err := url.Parse(b.URL)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/gatehouse_no_such_database"
		out, errOut, code := runCLI(t, cliEnv(t, map[string]string{"GATEHOUSE_DATABASE_URL": u.String(),
			"GATEHOUSE_SECRET_KEY": randomString(40)}), "", "users", "list")
		wantUsage(t, b.Name+": users list on a database the server lacks", out, errOut, code, "gatehouse_no_such_database")
	}
}

// TestCLI_SQLiteDirectoryCannotBeCreated: a SQLite path whose directory cannot be
// made is named, as the database's, in one line with exit status 2.
func TestCLI_SQLiteDirectoryCannotBeCreated(t *testing.T) {
	t.Parallel()
	want := "gatehouse: GATEHOUSE_DATABASE_URL: cannot create /proc/nope for the SQLite database /proc/nope/x.db: no such file or directory\n"
	for _, env := range []map[string]string{
		{"GATEHOUSE_DATABASE_URL": "sqlite:/proc/nope/x.db"},
		{"GATEHOUSE_DATABASE_URL": "sqlite:/proc/nope/x.db", "GATEHOUSE_SECRET_KEY": randomString(40)},
	} {
		for _, args := range [][]string{{"serve"}, {"migrate"}} {
			env["GATEHOUSE_HTTP_ADDR"] = "127.0.0.1:0"
			out, errOut, code := runCLI(t, cliEnv(t, env), "", args...)
			wantUsage(t, strings.Join(args, " "), out, errOut, code)
			if errOut != want {
				t.Errorf("%s: stderr %q, want %q", strings.Join(args, " "), errOut, want)
			}
		}
	}
}

// TestCLI_UnknownVariable: a GATEHOUSE_* variable that sets nothing stops every
// command but version with exit 2, naming it and the closest known name; a bad value
// from a --config file is named by its file key.
func TestCLI_UnknownVariable(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"serve"}, {"users", "list"}, {"migrate"}} {
		out, errOut, code := runCLI(t, cliEnv(t, map[string]string{"GATEHOUSE_ADDR": "127.0.0.1:9999"}), "", args...)
		wantUsage(t, strings.Join(args, " "), out, errOut, code)
		if want := "gatehouse: GATEHOUSE_ADDR: unknown variable; did you mean GATEHOUSE_HTTP_ADDR?\n"; errOut != want {
			t.Errorf("%s: stderr %q, want %q", strings.Join(args, " "), errOut, want)
		}
	}
	if _, _, code := runCLI(t, cliEnv(t, map[string]string{"GATEHOUSE_ADDR": "x"}), "", "version"); code != 0 {
		t.Errorf("version with an unknown variable: exit %d", code)
	}

	cfgFile := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(cfgFile, []byte("http_addr: nonsense\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, cliEnv(t, nil), "", "serve", "--config", cfgFile)
	wantUsage(t, "serve --config with a bad http_addr", out, errOut, code)
	if want := "gatehouse: " + cfgFile + `: http_addr: "nonsense" is not a host:port address` + "\n"; errOut != want {
		t.Errorf("bad file value: stderr %q, want %q", errOut, want)
	}
}

// TestServeIgnoresTestVariables: the variables CI exports for the tests (which a
// server started from the same shell inherits) and the CLI's remote credentials are
// not configuration: the server starts with them and serves.
func TestServeIgnoresTestVariables(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{
		"GATEHOUSE_TEST_REQUIRE_DBS":     "1",
		"GATEHOUSE_TEST_POSTGRES_URL":    "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"GATEHOUSE_TEST_MYSQL_URL":       "mysql://root@127.0.0.1:3306/",
		"GATEHOUSE_TEST_CHROMIUM":        "/usr/bin/chromium",
		"GATEHOUSE_TEST_REQUIRE_BROWSER": "1",
		"GATEHOUSE_E2E_BINARY":           binPath,
		"GATEHOUSE_ADMIN_CLIENT_ID":      "admin",
		"GATEHOUSE_ADMIN_CLIENT_SECRET":  "not-a-real-secret",
	}})
	if r := srv.Get(t, nil, "/readyz"); r.Status != 200 {
		t.Fatalf("readyz %d", r.Status)
	}
	if _, errOut, code := srv.CLI(t, "", "clients", "list"); code != 0 {
		t.Errorf("clients list beside them: exit %d %s", code, errOut)
	}
}

// TestCLI_DatabaseURLOptionsRefused: an option of the database URL that its pool or
// driver refuses is bad input like any other setting: exit 2 and one line naming
// GATEHOUSE_DATABASE_URL (not exit 1), for a command and for serve.
func TestCLI_DatabaseURLOptionsRefused(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"postgres://postgres@127.0.0.1:5432/postgres?max_open_conns=-3",
		"postgres://postgres@127.0.0.1:5432/postgres?sslmode=bogus",
		"mysql://root@127.0.0.1:3306/x?conn_max_lifetime=soon",
		"mysql://root@127.0.0.1:3306/x?tls=bogus",
	} {
		for _, args := range [][]string{{"users", "list"}, {"serve"}} {
			out, errOut, code := runCLI(t, cliEnv(t, map[string]string{"GATEHOUSE_DATABASE_URL": u,
				"GATEHOUSE_SECRET_KEY": randomString(40), "GATEHOUSE_HTTP_ADDR": "127.0.0.1:0"}), "", args...)
			wantOneLineExit(t, strings.Join(args, " ")+" with "+u, 2, out, errOut, code, "GATEHOUSE_DATABASE_URL: invalid database URL")
		}
	}
}

// TestServe_BusyPprofAddrStopsStartUp: GATEHOUSE_PPROF_ADDR that cannot be listened
// on stops start-up with exit 2 naming it, as a busy GATEHOUSE_HTTP_ADDR does, rather
// than a warning while the server goes on without the profiler it was asked for.
func TestServe_BusyPprofAddrStopsStartUp(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	env := cliEnv(t, map[string]string{"GATEHOUSE_DATABASE_URL": dbtest.SQLite(t), "GATEHOUSE_HTTP_ADDR": "127.0.0.1:0",
		"GATEHOUSE_PPROF_ADDR": busy.Addr().String()})
	_, errOut, code := runCLI(t, env, "", "serve")
	if code != 2 || !strings.HasPrefix(lastLine(errOut), "gatehouse: GATEHOUSE_PPROF_ADDR: cannot listen on "+busy.Addr().String()) {
		t.Errorf("serve with a busy pprof address: exit %d, stderr\n%s", code, errOut)
	}
}
