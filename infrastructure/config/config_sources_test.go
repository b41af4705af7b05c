package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestUnknownVariables: a GATEHOUSE_* variable that sets no key stops start-up,
// naming it and the closest known name; the test harness's variables and the CLI's
// remote credentials are not configuration and pass.
func TestUnknownVariables(t *testing.T) {
	for name, want := range map[string]string{
		"GATEHOUSE_ADDR":               "GATEHOUSE_ADDR: unknown variable; did you mean GATEHOUSE_HTTP_ADDR?",
		"GATEHOUSE_DATABSE_URL":        "GATEHOUSE_DATABSE_URL: unknown variable; did you mean GATEHOUSE_DATABASE_URL?",
		"GATEHOUSE_issuer":             "GATEHOUSE_issuer: unknown variable; did you mean GATEHOUSE_ISSUER?",
		"GATEHOUSE_ACCESS_TOKEN_LIFE":  "GATEHOUSE_ACCESS_TOKEN_LIFE: unknown variable; did you mean GATEHOUSE_ACCESS_TOKEN_TTL?",
		"GATEHOUSE_ADMIN_CLIENT_SECRT": "GATEHOUSE_ADMIN_CLIENT_SECRT: unknown variable; did you mean GATEHOUSE_ADMIN_CLIENT_SECRET?",
		"GATEHOUSE_FOO": "GATEHOUSE_FOO: unknown variable; the variables are GATEHOUSE_ followed by a key of " +
			"configs/gatehouse.yaml in upper case",
	} {
		_, err := Load("", Env{name: "x", "GATEHOUSE_ISSUER": "https://id.example.org"})
		var ce *Error
		if !errors.As(err, &ce) || ce.Variable != name || err.Error() != want {
			t.Errorf("%s: got %v, want %q", name, err, want)
		}
	}
	// Several unknown: the first by name, every time.
	for range 5 {
		_, err := Load("", Env{"GATEHOUSE_ZZZ": "1", "GATEHOUSE_AAA": "1", "GATEHOUSE_MMM": "1"})
		var ce *Error
		if !errors.As(err, &ce) || ce.Variable != "GATEHOUSE_AAA" {
			t.Fatalf("three unknown variables: %v, want GATEHOUSE_AAA named", err)
		}
	}
	// What CI and developers export for the tests, and the CLI's credentials.
	env := Env{"PATH": "/usr/bin", "GATEHOUSE": "x", "GATEHOUSEX": "y"}
	for _, name := range []string{"GATEHOUSE_TEST_REQUIRE_DBS", "GATEHOUSE_TEST_POSTGRES_URL", "GATEHOUSE_TEST_MYSQL_URL",
		"GATEHOUSE_TEST_CHROMIUM", "GATEHOUSE_TEST_REQUIRE_BROWSER", "GATEHOUSE_TEST_SCREENSHOT_DIR", "GATEHOUSE_E2E_BINARY",
		"GATEHOUSE_ADMIN_CLIENT_ID", "GATEHOUSE_ADMIN_CLIENT_SECRET"} {
		env[name] = "1"
	}
	if _, err := Load("", env); err != nil {
		t.Fatalf("reserved variables refused: %v", err)
	}
}

// TestEveryVariableInTheRepositoryIsKnown: every GATEHOUSE_* name the repository
// mentions outside tests (code, Makefile, CI, docs) or that a test reads from its
// environment is a configuration key or reserved, so no documented setting and no
// variable CI exports for the tests stops a server. (Tests also set unknown names on
// purpose, to check that they are refused; those are not read from the environment.)
func TestEveryVariableInTheRepositoryIsKnown(t *testing.T) {
	root := filepath.Join("..", "..")
	raw := map[string]string{}
	if err := mergeYAML(raw, mustRead(t, filepath.Join(root, "configs", "gatehouse.yaml")), nil); err != nil {
		t.Fatal(err)
	}
	anywhere := regexp.MustCompile(`GATEHOUSE_[A-Za-z0-9_]+`)
	readByTests := regexp.MustCompile(`(?:Getenv|LookupEnv)\("(GATEHOUSE_[A-Za-z0-9_]+)"\)`)
	// Placeholders in help texts, not names.
	placeholders := []string{"GATEHOUSE_NAME"}
	seen := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == ".git" || name == "bin" || name == "data" || name == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		switch ext := filepath.Ext(path); {
		case ext == ".go", ext == ".md", ext == ".yaml", ext == ".yml", ext == ".service", ext == ".env",
			d.Name() == "Makefile", d.Name() == "run", d.Name() == "Containerfile":
		default:
			return nil
		}
		text := string(mustRead(t, path))
		var names []string
		if strings.HasSuffix(path, "_test.go") {
			for _, m := range readByTests.FindAllStringSubmatch(text, -1) {
				names = append(names, m[1])
			}
		} else {
			names = anywhere.FindAllString(text, -1)
		}
		for _, name := range names {
			if !strings.HasSuffix(name, "_") && !slices.Contains(placeholders, name) { // a prefix, GATEHOUSE_TEST_
				seen[name] = append(seen[name], path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"GATEHOUSE_DATABASE_URL", "GATEHOUSE_TEST_REQUIRE_DBS", "GATEHOUSE_E2E_BINARY"} {
		if len(seen[name]) == 0 {
			t.Fatalf("%s not found; the scan looks in the wrong place", name)
		}
	}
	for name, files := range seen {
		if err := checkVariables(Env{name: "x"}, raw); err != nil {
			t.Errorf("%s (in %s) is neither a key of configs/gatehouse.yaml nor reserved: %v", name, files[0], err)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestErrorsNameWhereTheValueCameFrom: a bad value from a --config file is named by
// its file key, one from the environment by its variable (the environment wins).
func TestErrorsNameWhereTheValueCameFrom(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gatehouse.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("http_addr: nonsense\n")
	_, err := Load(p, Env{})
	var ce *Error
	if !errors.As(err, &ce) || err.Error() != p+`: http_addr: "nonsense" is not a host:port address` ||
		ce.File != p || ce.Key != "http_addr" || ce.Variable != "GATEHOUSE_HTTP_ADDR" {
		t.Errorf("bad file value: %v (%+v)", err, ce)
	}
	_, err = Load(p, Env{"GATEHOUSE_HTTP_ADDR": "still nonsense"})
	if !errors.As(err, &ce) || err.Error() != `GATEHOUSE_HTTP_ADDR: "still nonsense" is not a host:port address` || ce.File != "" {
		t.Errorf("bad variable over the file: %v", err)
	}
	if _, err = Load(p, Env{"GATEHOUSE_HTTP_ADDR": "127.0.0.1:9999"}); err != nil {
		t.Errorf("a good variable over a bad file value: %v", err)
	}

	write("access_token_ttl: soon\n")
	if _, err = Load(p, Env{}); err == nil || err.Error() != p+`: access_token_ttl: invalid duration "soon" (use e.g. 15m, 1h, 30s)` {
		t.Errorf("bad file duration: %v", err)
	}
	write("secret_key: short\n")
	if _, err = Load(p, Env{}); err == nil || err.Error() != p+": secret_key: must be at least 32 characters" {
		t.Errorf("short file secret key: %v", err)
	}
	write("dynamic_registration: true\n")
	if _, err = Load(p, Env{}); err == nil || err.Error() !=
		"GATEHOUSE_REGISTRATION_INITIAL_ACCESS_TOKEN: required (at least 32 characters) when dynamic_registration is true" {
		t.Errorf("registration without a token: %v", err)
	}
	write("key_rotation_interval: 1m\ndatabase_url: postgres://u@db/g\n")
	cfg, err := Load(p, Env{})
	if err == nil {
		err = cfg.ResolveKeyActivationDelay(60e9)
	}
	if err == nil || !strings.HasPrefix(err.Error(), p+": key_rotation_interval: 1m0s must be longer than") {
		t.Errorf("rotation shorter than the delay, from the file: %v", err)
	}
	write("isuer: https://x.example\n")
	if _, err = Load(p, Env{}); err == nil || err.Error() != p+`: unknown key "isuer"; did you mean issuer?` {
		t.Errorf("unknown file key: %v", err)
	}

	// Setting tells where a value came from.
	write("database_url: sqlite:./f.db\n")
	cfg, _ = Load(p, Env{})
	if s := cfg.Setting("database_url", cfg.DatabaseURL); s != "database_url: sqlite:./f.db in "+p {
		t.Errorf("Setting from the file: %q", s)
	}
	cfg, _ = Load(p, Env{"GATEHOUSE_DATABASE_URL": "sqlite:e.db"})
	if s := cfg.Setting("database_url", cfg.DatabaseURL); s != "GATEHOUSE_DATABASE_URL=sqlite:e.db" {
		t.Errorf("Setting from the environment: %q", s)
	}
	cfg, _ = Load("", Env{})
	if s := cfg.Setting("database_url", cfg.DatabaseURL); s != "the default GATEHOUSE_DATABASE_URL=sqlite:./data/gatehouse.db" {
		t.Errorf("Setting by default: %q", s)
	}
}

// TestDatabaseURLNamesADatabase: MySQL has no default database, so a mysql:// URL
// without one is refused at once; PostgreSQL's default (the user's name) stands.
func TestDatabaseURLNamesADatabase(t *testing.T) {
	for _, u := range []string{"mysql://root@127.0.0.1:3306", "mysql://root@127.0.0.1:3306/", "mysql://root:pw@db/?tls=true"} {
		_, err := Load("", Env{"GATEHOUSE_DATABASE_URL": u})
		var ce *Error
		if !errors.As(err, &ce) || ce.Variable != "GATEHOUSE_DATABASE_URL" || !strings.Contains(err.Error(), "names no database") ||
			strings.Contains(err.Error(), "pw") {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"mysql://root@127.0.0.1:3306/gatehouse", "postgres://postgres@127.0.0.1:5432", "postgres://u@db/g"} {
		if _, err := Load("", Env{"GATEHOUSE_DATABASE_URL": u}); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
}

// TestSecretKeyFiles: EnsureSecretKey writes the key beside the SQLite file once and
// says so; ReadSecretKey never writes; a directory that cannot be made names the
// database, not the secret key.
func TestSecretKeyFiles(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sub", "g.db")
	c := Config{DatabaseURL: "sqlite:" + db}
	if err := c.ReadSecretKey(); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "sub", "secret.key")) {
		t.Errorf("ReadSecretKey without a file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sub")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadSecretKey created the directory: %v", err)
	}
	if err := c.EnsureSecretKey(); err != nil || !c.SecretKeyGenerated || c.SecretKeyFile != filepath.Join(dir, "sub", "secret.key") {
		t.Fatalf("EnsureSecretKey: %v, generated %v in %q", err, c.SecretKeyGenerated, c.SecretKeyFile)
	}
	again := Config{DatabaseURL: "sqlite:" + db}
	if err := again.ReadSecretKey(); err != nil || again.SecretKey != c.SecretKey || again.SecretKeyGenerated {
		t.Errorf("ReadSecretKey of the written key: %v, generated %v", err, again.SecretKeyGenerated)
	}
	again = Config{DatabaseURL: "sqlite:" + db}
	if err := again.EnsureSecretKey(); err != nil || again.SecretKey != c.SecretKey || again.SecretKeyGenerated {
		t.Errorf("EnsureSecretKey of an existing key: %v, generated %v", err, again.SecretKeyGenerated)
	}

	bad, err := Load("", Env{"GATEHOUSE_DATABASE_URL": "sqlite:/proc/nope/x.db"})
	if err != nil {
		t.Fatal(err)
	}
	for what, f := range map[string]func() error{"CreateSQLiteDir": bad.CreateSQLiteDir, "EnsureSecretKey": bad.EnsureSecretKey} {
		err := f()
		var ce *Error
		if !errors.As(err, &ce) || ce.Variable != "GATEHOUSE_DATABASE_URL" ||
			err.Error() != "GATEHOUSE_DATABASE_URL: cannot create /proc/nope for the SQLite database /proc/nope/x.db: no such file or directory" {
			t.Errorf("%s on /proc/nope: %v", what, err)
		}
	}
}
