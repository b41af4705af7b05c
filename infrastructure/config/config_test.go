package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) Env {
	if m == nil {
		return Env{}
	}
	return Env(m)
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load("", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "http://localhost:8080" || c.HTTPAddr != "127.0.0.1:8080" ||
		c.DatabaseURL != "sqlite:./data/gatehouse.db" || c.SigningAlg != "ES256" ||
		c.AccessTokenTTL != 15*time.Minute || c.RefreshTokenTTL != 720*time.Hour ||
		c.AuthCodeTTL != time.Minute || c.Audience != c.Issuer || !c.RegistrationEnabled ||
		!c.AutoMigrate || c.LogFormat != "text" || !c.RequirePKCE || c.DeviceCodeTTL != 10*time.Minute {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestEnvOverrides(t *testing.T) {
	c, err := Load("", envOf(map[string]string{
		"GATEHOUSE_ISSUER":           "https://auth.example.com/",
		"GATEHOUSE_ACCESS_TOKEN_TTL": "5m",
		"GATEHOUSE_SIGNING_ALG":      "EdDSA",
		"GATEHOUSE_AUDIENCE":         "https://api.example.com",
		"GATEHOUSE_LOG_FORMAT":       "json",
		"GATEHOUSE_DEVICE_CODE_TTL":  "90s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "https://auth.example.com" || c.AccessTokenTTL != 5*time.Minute ||
		c.SigningAlg != "EdDSA" || c.Audience != "https://api.example.com" || c.LogFormat != "json" ||
		c.DeviceCodeTTL != 90*time.Second {
		t.Fatalf("overrides not applied: %+v", c)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	cases := map[string]string{
		"GATEHOUSE_ACCESS_TOKEN_TTL":     "soon",
		"GATEHOUSE_REFRESH_TOKEN_TTL":    "-1h",
		"GATEHOUSE_AUTH_CODE_TTL":        "11m",
		"GATEHOUSE_HTTP_ADDR":            "nonsense",
		"GATEHOUSE_SECRET_KEY":           "short",
		"GATEHOUSE_SIGNING_ALG":          "HS256",
		"GATEHOUSE_ISSUER":               "ftp://x",
		"GATEHOUSE_DATABASE_URL":         "oracle://x",
		"GATEHOUSE_REGISTRATION_ENABLED": "maybe",
		"GATEHOUSE_LOG_FORMAT":           "xml",
		"GATEHOUSE_DEVICE_CODE_TTL":      "2h",
		"GATEHOUSE_THROTTLE_STORE":       "redis",
		"GATEHOUSE_TRUSTED_PROXIES":      "10.0.0.0/8, proxy.internal",
		"GATEHOUSE_CHANGE_POLL_INTERVAL": "5s",
	}
	more := []struct{ k, v string }{
		{"GATEHOUSE_SECRET_KEY", strings.Repeat(" ", 35)}, // long enough, but no key
		{"GATEHOUSE_AUDIENCE", " "},
		{"GATEHOUSE_AUDIENCE", "https://api.example.com /x"},
	}
	for _, m := range more {
		_, err := Load("", envOf(map[string]string{m.k: m.v}))
		var ce *Error
		if !errors.As(err, &ce) || ce.Variable != m.k {
			t.Errorf("%s=%q: got %v, want a config error naming %s", m.k, m.v, err, m.k)
		}
	}
	for k, v := range cases {
		_, err := Load("", envOf(map[string]string{k: v}))
		var ce *Error
		if !errors.As(err, &ce) || ce.Variable != k {
			t.Errorf("%s=%q: got %v, want a config error naming %s", k, v, err, k)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", k, err)
		}
	}
}

// TestChangePollInterval: by default a change is looked for five times a second; the
// interval may not exceed the 1 s within which a change must reach every instance,
// nor be so short that the poll would spin.
func TestChangePollInterval(t *testing.T) {
	c, err := Load("", envOf(nil))
	if err != nil || c.ChangePollInterval != 200*time.Millisecond {
		t.Fatalf("default change poll interval %s (%v), want 200ms", c.ChangePollInterval, err)
	}
	for v, ok := range map[string]bool{"10ms": true, "1s": true, "50ms": true, "9ms": false, "1001ms": false, "0s": false, "soon": false} {
		c, err := Load("", envOf(map[string]string{"GATEHOUSE_CHANGE_POLL_INTERVAL": v}))
		var ce *Error
		switch {
		case ok && err != nil:
			t.Errorf("GATEHOUSE_CHANGE_POLL_INTERVAL=%s refused: %v", v, err)
		case ok && c.ChangePollInterval.String() != v && c.ChangePollInterval != time.Second:
			t.Errorf("GATEHOUSE_CHANGE_POLL_INTERVAL=%s read as %s", v, c.ChangePollInterval)
		case !ok && (!errors.As(err, &ce) || ce.Variable != "GATEHOUSE_CHANGE_POLL_INTERVAL"):
			t.Errorf("GATEHOUSE_CHANGE_POLL_INTERVAL=%s: %v, want an error naming the variable", v, err)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := Load("", envOf(map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7 2001:db8::/32,10.1.2.3/8"}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	if want := "10.0.0.0/8 192.168.1.7/32 2001:db8::/32 10.0.0.0/8"; strings.Join(got, " ") != want {
		t.Fatalf("trusted proxies = %v, want %s", got, want)
	}
	if c, err = Load("", envOf(nil)); err != nil || len(c.TrustedProxies) != 0 {
		t.Fatalf("default trusted proxies = %v (%v), want none", c.TrustedProxies, err)
	}
}

// TestThrottleStoreDefaultsByDatabase: unset, the throttle is shared through
// PostgreSQL and MariaDB (instances may share them) and in memory with SQLite; an
// explicit value wins either way.
func TestThrottleStoreDefaultsByDatabase(t *testing.T) {
	for _, tc := range []struct{ db, store, want string }{
		{"sqlite:./data/gatehouse.db", "", ThrottleMemory},
		{"postgres://u@db:5432/g", "", ThrottleDatabase},
		{"postgresql://u@db:5432/g", "", ThrottleDatabase},
		{"mysql://u@db:3306/g", "", ThrottleDatabase},
		{"sqlite:./data/gatehouse.db", "database", ThrottleDatabase},
		{"postgres://u@db:5432/g", "memory", ThrottleMemory},
	} {
		env := map[string]string{"GATEHOUSE_DATABASE_URL": tc.db}
		if tc.store != "" {
			env["GATEHOUSE_THROTTLE_STORE"] = tc.store
		}
		c, err := Load("", envOf(env))
		if err != nil {
			t.Fatalf("%s, %q: %v", tc.db, tc.store, err)
		}
		if c.ThrottleStore != tc.want {
			t.Errorf("%s, GATEHOUSE_THROTTLE_STORE=%q: store %q, want %q", tc.db, tc.store, c.ThrottleStore, tc.want)
		}
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "g.yaml")
	os.WriteFile(p, []byte("issuer: https://id.example.org\naccess_token_ttl: 2m\n"), 0o600)
	c, err := Load(p, envOf(map[string]string{"GATEHOUSE_ACCESS_TOKEN_TTL": "3m"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "https://id.example.org" || c.AccessTokenTTL != 3*time.Minute {
		t.Fatalf("file or env precedence wrong: %+v", c)
	}
	os.WriteFile(p, []byte("isuer: typo\n"), 0o600)
	if _, err := Load(p, envOf(nil)); err == nil || !strings.Contains(err.Error(), "isuer") {
		t.Fatalf("unknown key not reported: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), envOf(nil)); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestEnsureSecretKeySQLite(t *testing.T) {
	dir := t.TempDir()
	c := Config{DatabaseURL: "sqlite:" + filepath.Join(dir, "sub", "g.db")}
	if err := c.EnsureSecretKey(); err != nil {
		t.Fatal(err)
	}
	if len(c.SecretKey) < 32 {
		t.Fatalf("short key %q", c.SecretKey)
	}
	st, err := os.Stat(filepath.Join(dir, "sub", "secret.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", st, err)
	}
	c2 := Config{DatabaseURL: c.DatabaseURL}
	if err := c2.EnsureSecretKey(); err != nil || c2.SecretKey != c.SecretKey {
		t.Fatalf("second start must reuse the key: %v", err)
	}
	pg := Config{DatabaseURL: "postgres://x/y"}
	var ce *Error
	if err := pg.EnsureSecretKey(); !errors.As(err, &ce) || ce.Variable != "GATEHOUSE_SECRET_KEY" {
		t.Fatalf("postgres without key: %v", err)
	}
}

func TestKeyActivationDelay(t *testing.T) {
	const maxAge = 60 * time.Second
	pg := "postgres://u@db.example/gatehouse"
	cases := []struct {
		name string
		env  map[string]string
		want time.Duration
	}{
		{"SQLite default: at once", nil, 0},
		{"shared database default: refresh + max-age + skew", map[string]string{"GATEHOUSE_DATABASE_URL": pg}, 30*time.Second + maxAge + KeyClockSkewMargin},
		{"follows the refresh interval", map[string]string{"GATEHOUSE_DATABASE_URL": pg, "GATEHOUSE_KEY_REFRESH_INTERVAL": "1s"}, time.Second + maxAge + KeyClockSkewMargin},
		{"explicit on a shared database", map[string]string{"GATEHOUSE_DATABASE_URL": pg, "GATEHOUSE_KEY_ACTIVATION_DELAY": "3s"}, 3 * time.Second},
		{"explicit zero on a shared database", map[string]string{"GATEHOUSE_DATABASE_URL": "mysql://root@db/g", "GATEHOUSE_KEY_ACTIVATION_DELAY": "0s"}, 0},
		{"explicit on SQLite", map[string]string{"GATEHOUSE_KEY_ACTIVATION_DELAY": "2m"}, 2 * time.Minute},
	}
	for _, c := range cases {
		cfg, err := Load("", envOf(c.env))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := cfg.ResolveKeyActivationDelay(maxAge); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if cfg.KeyActivationDelay != c.want || cfg.KeyRotationInterval != 0 {
			t.Errorf("%s: delay %s, interval %s; want %s and off", c.name, cfg.KeyActivationDelay, cfg.KeyRotationInterval, c.want)
		}
	}
}

func TestKeyRotationInterval(t *testing.T) {
	for _, c := range []struct {
		env     map[string]string
		want    time.Duration
		badName string
	}{
		{map[string]string{"GATEHOUSE_KEY_ROTATION_INTERVAL": "0"}, 0, ""},
		{map[string]string{"GATEHOUSE_KEY_ROTATION_INTERVAL": "720h"}, 720 * time.Hour, ""},
		{map[string]string{"GATEHOUSE_KEY_ROTATION_INTERVAL": "5s", "GATEHOUSE_KEY_ACTIVATION_DELAY": "1s"}, 5 * time.Second, ""},
		{map[string]string{"GATEHOUSE_KEY_ROTATION_INTERVAL": "weekly"}, 0, "GATEHOUSE_KEY_ROTATION_INTERVAL"},
		{map[string]string{"GATEHOUSE_KEY_ROTATION_INTERVAL": "500ms"}, 0, "GATEHOUSE_KEY_ROTATION_INTERVAL"},
		{map[string]string{"GATEHOUSE_KEY_ROTATION_INTERVAL": "-1h"}, 0, "GATEHOUSE_KEY_ROTATION_INTERVAL"},
		{map[string]string{"GATEHOUSE_KEY_ACTIVATION_DELAY": "soon"}, 0, "GATEHOUSE_KEY_ACTIVATION_DELAY"},
		{map[string]string{"GATEHOUSE_KEY_ACTIVATION_DELAY": "-3s"}, 0, "GATEHOUSE_KEY_ACTIVATION_DELAY"},
		{map[string]string{"GATEHOUSE_KEY_ACTIVATION_DELAY": "25h"}, 0, "GATEHOUSE_KEY_ACTIVATION_DELAY"},
		// Scheduled rotation must wait longer than the delay, or keys would hardly sign.
		{map[string]string{"GATEHOUSE_KEY_ROTATION_INTERVAL": "1m", "GATEHOUSE_DATABASE_URL": "postgres://u@db/g"}, 0, "GATEHOUSE_KEY_ROTATION_INTERVAL"},
		{map[string]string{"GATEHOUSE_KEY_ROTATION_INTERVAL": "3s", "GATEHOUSE_KEY_ACTIVATION_DELAY": "3s"}, 0, "GATEHOUSE_KEY_ROTATION_INTERVAL"},
	} {
		cfg, err := Load("", envOf(c.env))
		if err == nil {
			err = cfg.ResolveKeyActivationDelay(60 * time.Second)
		}
		var ce *Error
		switch {
		case c.badName == "" && err != nil:
			t.Errorf("%v: %v", c.env, err)
		case c.badName == "" && cfg.KeyRotationInterval != c.want:
			t.Errorf("%v: interval %s, want %s", c.env, cfg.KeyRotationInterval, c.want)
		case c.badName != "" && (!errors.As(err, &ce) || ce.Variable != c.badName || strings.Contains(err.Error(), "\n")):
			t.Errorf("%v: got %v, want one line naming %s", c.env, err, c.badName)
		}
	}
}
