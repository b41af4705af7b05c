// Package config loads Gatehouse's configuration: the embedded defaults
// (configs/gatehouse.yaml), then an optional --config file, then GATEHOUSE_*
// environment variables, and validates every value before anything starts.
package config

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"gatehouse/configs"
)

// Config is the validated configuration.
type Config struct {
	Issuer               string
	HTTPAddr             string
	DatabaseURL          string
	SecretKey            string
	SigningAlg           string
	AccessTokenTTL       time.Duration
	RefreshTokenTTL      time.Duration
	AuthCodeTTL          time.Duration
	IDTokenTTL           time.Duration
	DeviceCodeTTL        time.Duration
	Audience             string
	RegistrationEnabled  bool
	AutoMigrate          bool
	LogFormat            string
	LogLevel             string
	RequirePKCE          bool
	KeyRefreshInterval   time.Duration
	HousekeepingInterval time.Duration
	ClientCacheTTL       time.Duration
	ThrottleStore        string // ThrottleMemory or ThrottleDatabase; when unset, chosen by the database
	Argon2Memory         uint32
	Argon2Iterations     uint32
	Argon2Parallelism    uint8
	PprofAddr            string
	// TrustedProxies are the proxies whose X-Forwarded-For is believed when taking
	// the caller's address (throttling, logs); empty: the TCP peer is the caller.
	TrustedProxies []netip.Prefix

	// KeyActivationDelay is how long a rotated-in key is published before it signs.
	// Unless configured (KeyActivationDelayAuto), ResolveKeyActivationDelay sets it.
	KeyActivationDelay     time.Duration
	KeyActivationDelayAuto bool
	// KeyRotationInterval: scheduled rotation replaces keys this old; zero is off.
	KeyRotationInterval time.Duration
	// PARTTL is the lifetime of a pushed authorization request's request_uri
	// (RFC 9126); RequirePAR makes every client use PAR.
	PARTTL     time.Duration
	RequirePAR bool
	// DynamicRegistration turns on POST /oauth/register (RFC 7591, 7592), which needs
	// RegistrationInitialAccessToken (at least 32 characters) as its bearer token.
	// Not to be confused with RegistrationEnabled, the user sign-up page.
	DynamicRegistration            bool
	RegistrationInitialAccessToken string
	// DynamicRegistrationScopes and DynamicRegistrationGrantTypes are the policy of
	// dynamic registration: all a registered client may ask for, and the grant types
	// it may give itself. The rules they must follow are the use case's (the command
	// checks them at start-up, naming the variable).
	DynamicRegistrationScopes     []string
	DynamicRegistrationGrantTypes []string
	// DPoPIATWindow is how far a DPoP proof's iat may lie from now, either way;
	// DPoPNonceRequired makes the token endpoint demand a server nonce in proofs.
	DPoPIATWindow     time.Duration
	DPoPNonceRequired bool
}

// Throttle stores (GATEHOUSE_THROTTLE_STORE).
const (
	// ThrottleMemory keeps failure counters in each process: right for one instance.
	ThrottleMemory = "memory"
	// ThrottleDatabase keeps them in the database, shared by every instance using it.
	ThrottleDatabase = "database"
)

// Error is a bad configuration value; Variable names the environment variable that
// sets it, so the CLI can print one line and exit 2.
type Error struct {
	Variable string
	Problem  string
}

func (e *Error) Error() string { return e.Variable + ": " + e.Problem }

// Env reads an environment variable; tests pass a map.
type Env func(string) (string, bool)

// Load reads the defaults, the file at path (when not empty) and the environment.
func Load(path string, env Env) (Config, error) {
	if env == nil {
		env = os.LookupEnv
	}
	raw := map[string]string{}
	if err := mergeYAML(raw, configs.Default, false); err != nil {
		return Config{}, &Error{Variable: "configs/gatehouse.yaml", Problem: err.Error()}
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, &Error{Variable: "--config", Problem: fmt.Sprintf("cannot read %s: %v", path, errors.Unwrap(err))}
		}
		if err := mergeYAML(raw, b, true); err != nil {
			return Config{}, &Error{Variable: "--config", Problem: fmt.Sprintf("%s: %v", path, err)}
		}
	}
	for k := range raw {
		if v, ok := env(envName(k)); ok {
			raw[k] = v
		}
	}
	return parse(raw)
}

func envName(key string) string { return "GATEHOUSE_" + strings.ToUpper(key) }

// mergeYAML copies the scalars of b into dst; with strict, keys dst lacks are refused.
func mergeYAML(dst map[string]string, b []byte, strict bool) error {
	var m map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) { // an empty file
			return nil
		}
		return fmt.Errorf("invalid YAML: %v", err)
	}
	for k, v := range m {
		if _, known := dst[k]; !known && strict {
			return fmt.Errorf("unknown key %q", k)
		}
		switch x := v.(type) {
		case nil:
			dst[k] = ""
		case string:
			dst[k] = x
		case bool, int, int64, float64, uint64:
			dst[k] = fmt.Sprint(x)
		default:
			return fmt.Errorf("key %q must be a scalar", k)
		}
	}
	return nil
}

func parse(raw map[string]string) (Config, error) {
	p := parser{raw: raw}
	c := Config{
		Issuer:               p.url("issuer"),
		HTTPAddr:             p.addr("http_addr"),
		DatabaseURL:          p.databaseURL("database_url"),
		SecretKey:            raw["secret_key"],
		SigningAlg:           p.oneOf("signing_alg", "ES256", "RS256", "EdDSA"),
		AccessTokenTTL:       p.duration("access_token_ttl", time.Second, 24*time.Hour),
		RefreshTokenTTL:      p.duration("refresh_token_ttl", time.Minute, 10*365*24*time.Hour),
		AuthCodeTTL:          p.duration("auth_code_ttl", time.Second, 10*time.Minute),
		IDTokenTTL:           p.duration("id_token_ttl", time.Minute, 24*time.Hour),
		DeviceCodeTTL:        p.duration("device_code_ttl", time.Second, time.Hour),
		Audience:             raw["audience"],
		RegistrationEnabled:  p.bool("registration_enabled"),
		AutoMigrate:          p.bool("auto_migrate"),
		LogFormat:            p.oneOf("log_format", "text", "json"),
		LogLevel:             p.oneOf("log_level", "debug", "info", "warn", "error"),
		RequirePKCE:          p.bool("require_pkce"),
		KeyRefreshInterval:   p.duration("key_refresh_interval", time.Second, time.Hour),
		KeyRotationInterval:  p.durationOrOff("key_rotation_interval", time.Second, 10*365*24*time.Hour),
		HousekeepingInterval: p.duration("housekeeping_interval", time.Second, 24*time.Hour),
		ClientCacheTTL:       p.duration("client_cache_ttl", 0, time.Hour),
		ThrottleStore:        p.throttleStore("throttle_store"),
		Argon2Memory:         uint32(p.uint("argon2_memory", 8*1024, 4*1024*1024)),
		Argon2Iterations:     uint32(p.uint("argon2_iterations", 1, 100)),
		Argon2Parallelism:    uint8(p.uint("argon2_parallelism", 1, 64)),
		PprofAddr:            raw["pprof_addr"],
		TrustedProxies:       p.prefixes("trusted_proxies"),
		DPoPIATWindow:        p.duration("dpop_iat_window", time.Second, 10*time.Minute),
		DPoPNonceRequired:    p.bool("dpop_nonce_required"),
	}
	if c.PprofAddr != "" {
		c.PprofAddr = p.addr("pprof_addr")
	}
	if raw["key_activation_delay"] == "" {
		c.KeyActivationDelayAuto = true
	} else {
		c.KeyActivationDelay = p.duration("key_activation_delay", 0, 24*time.Hour)
	}
	c.PARTTL = p.duration("par_ttl", time.Second, 10*time.Minute)
	c.RequirePAR = p.bool("require_par")
	c.DynamicRegistration = p.bool("dynamic_registration")
	c.RegistrationInitialAccessToken = raw["registration_initial_access_token"]
	c.DynamicRegistrationScopes = p.list("dynamic_registration_scopes")
	c.DynamicRegistrationGrantTypes = p.list("dynamic_registration_grant_types")
	if p.err != nil {
		return Config{}, p.err
	}
	if c.Audience == "" {
		c.Audience = c.Issuer
	}
	if c.ThrottleStore == "" {
		// PostgreSQL and MariaDB may be shared by several instances behind a load
		// balancer, which must then share their counters; a SQLite file has one.
		c.ThrottleStore = ThrottleDatabase
		if c.IsSQLite() {
			c.ThrottleStore = ThrottleMemory
		}
	}
	if c.DynamicRegistration && len(c.RegistrationInitialAccessToken) < 32 {
		return Config{}, &Error{Variable: envName("registration_initial_access_token"),
			Problem: "required (at least 32 characters) when GATEHOUSE_DYNAMIC_REGISTRATION is true"}
	}
	if c.SecretKey != "" && len(c.SecretKey) < 32 {
		return Config{}, &Error{Variable: envName("secret_key"), Problem: "must be at least 32 characters"}
	}
	return c, nil
}

// parser keeps the first error, so parse reads like a list of fields.
type parser struct {
	raw map[string]string
	err error
}

func (p *parser) fail(key, format string, args ...any) {
	if p.err == nil {
		p.err = &Error{Variable: envName(key), Problem: fmt.Sprintf(format, args...)}
	}
}

func (p *parser) duration(key string, min, max time.Duration) time.Duration {
	d, err := time.ParseDuration(p.raw[key])
	if err != nil {
		p.fail(key, "invalid duration %q (use e.g. 15m, 1h, 30s)", p.raw[key])
		return 0
	}
	if d < min || d > max {
		p.fail(key, "%s is out of range [%s, %s]", d, min, max)
	}
	return d
}

// durationOrOff is duration, but 0 (off) is allowed below min.
func (p *parser) durationOrOff(key string, min, max time.Duration) time.Duration {
	if d, err := time.ParseDuration(p.raw[key]); err == nil && d == 0 {
		return 0
	}
	return p.duration(key, min, max)
}

func (p *parser) bool(key string) bool {
	b, err := strconv.ParseBool(p.raw[key])
	if err != nil {
		p.fail(key, "invalid boolean %q (use true or false)", p.raw[key])
	}
	return b
}

func (p *parser) uint(key string, min, max uint64) uint64 {
	n, err := strconv.ParseUint(p.raw[key], 10, 64)
	if err != nil || n < min || n > max {
		p.fail(key, "%q must be a whole number in [%d, %d]", p.raw[key], min, max)
	}
	return n
}

func (p *parser) oneOf(key string, values ...string) string {
	v := p.raw[key]
	for _, ok := range values {
		if v == ok {
			return v
		}
	}
	p.fail(key, "%q is not one of %s", v, strings.Join(values, ", "))
	return ""
}

// throttleStore reads memory, database, or empty (chosen by the database).
func (p *parser) throttleStore(key string) string {
	switch v := p.raw[key]; v {
	case "", ThrottleMemory, ThrottleDatabase:
		return v
	default:
		p.fail(key, "%q is not memory or database (or empty, to choose by the database)", v)
		return ""
	}
}

// list reads words separated by spaces or commas; every word must be printable ASCII.
func (p *parser) list(key string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(p.raw[key], func(r rune) bool { return r == ',' || r == ' ' }) {
		for _, r := range f {
			if r < 0x21 || r > 0x7e {
				p.fail(key, "%q holds a character that is not printable ASCII", f)
				return nil
			}
		}
		out = append(out, f)
	}
	return out
}

// prefixes reads a list of IP addresses and CIDR ranges separated by commas or
// spaces; an address stands for itself (/32, /128).
func (p *parser) prefixes(key string) []netip.Prefix {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(p.raw[key], func(r rune) bool { return r == ',' || r == ' ' }) {
		if pfx, err := netip.ParsePrefix(f); err == nil {
			out = append(out, pfx.Masked())
			continue
		}
		addr, err := netip.ParseAddr(f)
		if err != nil {
			p.fail(key, "%q is not an IP address or CIDR range", f)
			return nil
		}
		out = append(out, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
	}
	return out
}

func (p *parser) url(key string) string {
	v := p.raw[key]
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		p.fail(key, "%q must be an http(s) URL without query or fragment", v)
		return ""
	}
	return strings.TrimSuffix(v, "/")
}

func (p *parser) addr(key string) string {
	v := p.raw[key]
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		p.fail(key, "%q is not a host:port address", v)
		return ""
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.fail(key, "%q has an invalid port", v)
	}
	_ = host
	return v
}

func (p *parser) databaseURL(key string) string {
	v := p.raw[key]
	switch {
	case strings.HasPrefix(v, "sqlite:") && len(v) > len("sqlite:"):
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"), strings.HasPrefix(v, "mysql://"):
		if _, err := url.Parse(v); err != nil {
			p.fail(key, "malformed URL")
		}
	default:
		p.fail(key, "must start with sqlite:, postgres:// or mysql://")
	}
	return v
}

// IsSQLite reports whether the database is the embedded SQLite file.
func (c Config) IsSQLite() bool { return strings.HasPrefix(c.DatabaseURL, "sqlite:") }

// KeyClockSkewMargin is added to the automatic key activation delay for clocks of
// instances and resource servers that differ a little.
const KeyClockSkewMargin = 5 * time.Second

// ResolveKeyActivationDelay sets the key activation delay when it is not configured:
// zero with SQLite (one instance: a rotation signs at once), otherwise the key
// refresh interval plus jwksMaxAge (the JWKS Cache-Control max-age) plus
// KeyClockSkewMargin, so that neither another instance nor a resource server
// honouring max-age meets a key that signs before it knows it. It then checks that
// scheduled rotation waits longer than that, or a key would hardly sign before its
// successor replaced it.
func (c *Config) ResolveKeyActivationDelay(jwksMaxAge time.Duration) error {
	if c.KeyActivationDelayAuto {
		c.KeyActivationDelay = 0
		if !c.IsSQLite() {
			c.KeyActivationDelay = c.KeyRefreshInterval + jwksMaxAge + KeyClockSkewMargin
		}
	}
	if c.KeyRotationInterval > 0 && c.KeyRotationInterval <= c.KeyActivationDelay {
		return &Error{Variable: envName("key_rotation_interval"),
			Problem: fmt.Sprintf("%s must be longer than the key activation delay (%s)", c.KeyRotationInterval, c.KeyActivationDelay)}
	}
	return nil
}

// EnsureSecretKey fills SecretKey when it is unset: with SQLite it reads, or creates
// with mode 0600, a `secret.key` file beside the database file; with any other
// database it is an error, since instances sharing a database must share the key.
func (c *Config) EnsureSecretKey() error {
	if c.SecretKey != "" {
		return nil
	}
	if !c.IsSQLite() {
		return &Error{Variable: envName("secret_key"), Problem: "required with PostgreSQL or MariaDB (at least 32 characters)"}
	}
	dbPath := strings.TrimPrefix(c.DatabaseURL, "sqlite:")
	if i := strings.IndexByte(dbPath, '?'); i >= 0 {
		dbPath = dbPath[:i]
	}
	dbPath = strings.TrimPrefix(dbPath, "file:")
	path := filepath.Join(filepath.Dir(dbPath), "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		key := strings.TrimSpace(string(b))
		if len(key) < 32 {
			return &Error{Variable: envName("secret_key"), Problem: fmt.Sprintf("%s holds fewer than 32 characters", path)}
		}
		c.SecretKey = key
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read secret key file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create directory for secret key: %w", err)
	}
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	key := base64.RawURLEncoding.EncodeToString(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return c.EnsureSecretKey() // another process won the race; read its key
	}
	if err != nil {
		return fmt.Errorf("create secret key file: %w", err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write secret key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write secret key file: %w", err)
	}
	c.SecretKey = key
	return nil
}
