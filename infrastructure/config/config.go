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
	"io/fs"
	"maps"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"gatehouse/configs"
)

// Config is the validated configuration.
type Config struct {
	Issuer              string
	HTTPAddr            string
	DatabaseURL         string
	SecretKey           string
	SigningAlg          string
	AccessTokenTTL      time.Duration
	RefreshTokenTTL     time.Duration
	AuthCodeTTL         time.Duration
	IDTokenTTL          time.Duration
	DeviceCodeTTL       time.Duration
	Audience            string
	RegistrationEnabled bool
	// BrandName, BrandLogoURL, BrandColor and TemplatesDir: the pages' look (issue 25).
	BrandName            string
	BrandLogoURL         string
	BrandColor           string
	TemplatesDir         string
	AutoMigrate          bool
	LogFormat            string
	LogLevel             string
	RequirePKCE          bool
	KeyRefreshInterval   time.Duration
	HousekeepingInterval time.Duration
	ClientCacheTTL       time.Duration
	// ChangePollInterval: how often an instance on SQLite or MariaDB looks whether
	// clients or signing keys changed (PostgreSQL notifies instead).
	ChangePollInterval time.Duration
	ThrottleStore      string // ThrottleMemory or ThrottleDatabase; when unset, chosen by the database
	Argon2Memory       uint32
	Argon2Iterations   uint32
	Argon2Parallelism  uint8
	PprofAddr          string
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
	DynamicRegistration bool
	// DynamicRegistrationOpen (dynamic_registration: open) also takes registrations
	// without the initial access token, for public clients only.
	DynamicRegistrationOpen bool
	// ClientIDMetadataDocuments lets https client_ids name their metadata document;
	// ClientIDMetadataAllowLoopback also at loopback addresses.
	ClientIDMetadataDocuments     bool
	ClientIDMetadataAllowLoopback bool
	// OutboundCAFile: extra CAs (PEM) outbound https trusts.
	OutboundCAFile                 string
	RegistrationInitialAccessToken string
	// DynamicRegistrationScopes and DynamicRegistrationGrantTypes are the policy of
	// dynamic registration: all a registered client may ask for, and the grant types
	// it may give itself. The rules they must follow are the use case's (the command
	// checks them at start-up, naming the variable).
	DynamicRegistrationScopes     []string
	DynamicRegistrationGrantTypes []string
	// StorageFastPaths puts batchrepo's batched reads, group commit and PostgreSQL
	// pipeline in front of the user, code and token repositories; false runs every
	// call on its own (to compare, or to rule them out).
	StorageFastPaths bool
	// OutboundAllowNetworks are private networks that URLs an untrusted party chose
	// (a dynamically registered client's back-channel logout URI) may reach anyway;
	// empty: public addresses only (SECURITY S57).
	OutboundAllowNetworks []netip.Prefix

	// SMTPURL is where mail is submitted (smtp:// or smtps://, checked by the mail
	// adapter); empty writes every mail as an .eml file under MailDir. MailFrom is
	// the sender, never empty after Load.
	SMTPURL  string
	MailDir  string
	MailFrom string
	// EmailTokenTTL is how long a mailed link lives; EmailVerification is off,
	// optional or required.
	EmailTokenTTL     time.Duration
	EmailVerification string
	// MFA is optional (users choose a second factor) or required (a user without one
	// enrols one before a sign-in for an application completes).
	MFA string
	// DefaultLocale is the pages' and mails' language when nothing else chooses
	// one: en, de, fr, es or ja.
	DefaultLocale string
	// DPoPIATWindow is how far a DPoP proof's iat may lie from now, either way;
	// DPoPNonceRequired makes the token endpoint demand a server nonce in proofs.
	DPoPIATWindow     time.Duration
	DPoPNonceRequired bool

	// SecretKeyFile is the absolute path of the file SecretKey was read from or written
	// to (SQLite without a configured key); SecretKeyGenerated is true when this run
	// wrote it, so that serve can say where and that it must be backed up.
	SecretKeyFile      string
	SecretKeyGenerated bool

	// sources says where each key's value came from, so that an error names the
	// variable or the file key the user wrote.
	sources map[string]source

	// AuditRetention: how long audit events are kept before housekeeping deletes them.
	AuditRetention time.Duration
}

// source is where a setting's value came from: the embedded defaults, a --config
// file, or the environment.
type source struct {
	file string // the --config file as given, when the value came from it
	env  bool   // the GATEHOUSE_* variable
}

// Throttle stores (GATEHOUSE_THROTTLE_STORE).
const (
	// ThrottleMemory keeps failure counters in each process: right for one instance.
	ThrottleMemory = "memory"
	// ThrottleDatabase keeps them in the database, shared by every instance using it.
	ThrottleDatabase = "database"
)

// Error is a bad configuration value, printed as one line (the CLI exits 2).
// Variable is the environment variable of the setting (GATEHOUSE_HTTP_ADDR); when the
// bad value came from a --config file, File and Key name it there instead, since that
// is what the user wrote.
type Error struct {
	Variable string
	File     string
	Key      string
	Problem  string
}

func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Key != "":
		return e.File + ": " + e.Key + ": " + e.Problem
	case e.File != "":
		return e.File + ": " + e.Problem
	}
	return e.Variable + ": " + e.Problem
}

// Env is the process environment, variable names to values (os.Environ through
// Environ); tests pass their own.
type Env map[string]string

// Environ turns os.Environ-style NAME=value pairs into an Env.
func Environ(kv []string) Env {
	env := make(Env, len(kv))
	for _, s := range kv {
		if k, v, ok := strings.Cut(s, "="); ok {
			env[k] = v
		}
	}
	return env
}

// Variables that start with GATEHOUSE_ but set no configuration key, and so are not
// refused as unknown: the test harness's (GATEHOUSE_TEST_*, GATEHOUSE_E2E_*), which CI
// exports and which a developer may keep in a shell that also runs the server, and
// the CLI's credentials for a remote server (SPEC "Admin API").
var (
	reservedPrefixes = []string{"GATEHOUSE_TEST_", "GATEHOUSE_E2E_"}
	otherVariables   = []string{"GATEHOUSE_ADMIN_CLIENT_ID", "GATEHOUSE_ADMIN_CLIENT_SECRET"}
)

// Load reads the defaults, the file at path (when not empty) and the environment (the
// process's when env is nil). A GATEHOUSE_* variable that names no key is refused, as
// an unknown key in the file is: a typo must not pass for a setting.
func Load(path string, env Env) (Config, error) {
	if env == nil {
		env = Environ(os.Environ())
	}
	raw := map[string]string{}
	sources := map[string]source{}
	if err := mergeYAML(raw, configs.Default, nil); err != nil {
		return Config{}, &Error{Variable: "configs/gatehouse.yaml", Problem: err.Error()}
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, &Error{Variable: "--config", Problem: fmt.Sprintf("cannot read %s: %v", path, errors.Unwrap(err))}
		}
		fileRaw := map[string]string{}
		if err := mergeYAML(fileRaw, b, raw); err != nil {
			return Config{}, &Error{File: path, Problem: err.Error()}
		}
		for k, v := range fileRaw {
			raw[k], sources[k] = v, source{file: path}
		}
	}
	if err := checkVariables(env, raw); err != nil {
		return Config{}, err
	}
	for k := range raw {
		if v, ok := env[envName(k)]; ok {
			raw[k], sources[k] = v, source{env: true}
		}
	}
	return parse(raw, sources)
}

func envName(key string) string { return "GATEHOUSE_" + strings.ToUpper(key) }

// checkVariables refuses the first (in name order) GATEHOUSE_* variable of env that
// names no key of known and is not reserved, and suggests the closest known name.
func checkVariables(env Env, known map[string]string) error {
	var names []string
	for k := range known {
		names = append(names, envName(k))
	}
	names = append(names, otherVariables...)
	var unknown []string
	for name := range env {
		if !strings.HasPrefix(name, "GATEHOUSE_") || slices.Contains(names, name) {
			continue
		}
		if slices.ContainsFunc(reservedPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		unknown = append(unknown, name)
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	name := unknown[0]
	rests := make([]string, len(names))
	for i, n := range names {
		rests[i] = strings.TrimPrefix(n, "GATEHOUSE_")
	}
	if best := closest(strings.TrimPrefix(name, "GATEHOUSE_"), rests); best != "" {
		return &Error{Variable: name, Problem: "unknown variable; did you mean GATEHOUSE_" + best + "?"}
	}
	return &Error{Variable: name, Problem: "unknown variable; the variables are GATEHOUSE_ followed by a key of configs/gatehouse.yaml in upper case"}
}

// closest is the candidate nearest to word by edit distance, ignoring case (ties:
// the first in sorted order), or "" when none is near: a candidate is near when it
// contains word (ADDR in HTTP_ADDR) or differs from it in fewer edits than half its
// length.
func closest(word string, candidates []string) string {
	w := strings.ToUpper(word)
	sorted := slices.Clone(candidates)
	slices.Sort(sorted)
	best, bestD := "", -1
	for _, c := range sorted {
		cu := strings.ToUpper(c)
		d := editDistance(w, cu)
		if w == "" || (!strings.Contains(cu, w) && 2*d >= len(w)) {
			continue
		}
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes (the names are
// ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// mergeYAML copies the scalars of b into dst. With known (a file the user gave), a
// key known lacks is refused, with the closest known key as a hint.
func mergeYAML(dst map[string]string, b []byte, known map[string]string) error {
	var m map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) { // an empty file
			return nil
		}
		return fmt.Errorf("invalid YAML: %v", err)
	}
	for k, v := range m {
		if _, ok := known[k]; known != nil && !ok {
			if best := closest(k, slices.Collect(maps.Keys(known))); best != "" {
				return fmt.Errorf("unknown key %q; did you mean %s?", k, best)
			}
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

func parse(raw map[string]string, sources map[string]source) (Config, error) {
	p := parser{raw: raw, sources: sources}
	c := Config{
		sources:              sources,
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
		AuditRetention:       p.duration("audit_retention", time.Hour, 100*365*24*time.Hour),
		ClientCacheTTL:       p.duration("client_cache_ttl", 0, time.Hour),
		ChangePollInterval:   p.duration("change_poll_interval", 10*time.Millisecond, time.Second),
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
	if v := raw["dynamic_registration"]; v == "open" {
		c.DynamicRegistration, c.DynamicRegistrationOpen = true, true
	} else if b, err := strconv.ParseBool(v); err == nil {
		c.DynamicRegistration = b
	} else {
		p.fail("dynamic_registration", "%q must be true, false or open", v)
	}
	c.ClientIDMetadataDocuments = p.bool("client_id_metadata_documents")
	c.ClientIDMetadataAllowLoopback = p.bool("client_id_metadata_allow_loopback")
	c.OutboundCAFile = raw["outbound_ca_file"]
	c.RegistrationInitialAccessToken = raw["registration_initial_access_token"]
	c.DynamicRegistrationScopes = p.list("dynamic_registration_scopes")
	c.DynamicRegistrationGrantTypes = p.list("dynamic_registration_grant_types")
	c.OutboundAllowNetworks = p.prefixes("outbound_allow_networks")
	c.StorageFastPaths = p.bool("storage_fast_paths")
	c.SMTPURL, c.MailDir, c.MailFrom = raw["smtp_url"], raw["mail_dir"], p.mailbox("mail_from")
	c.EmailTokenTTL = p.duration("email_token_ttl", time.Minute, 7*24*time.Hour)
	c.EmailVerification = p.oneOf("email_verification", "off", "optional", "required")
	c.MFA = p.oneOf("mfa", "optional", "required")
	c.BrandName, c.BrandLogoURL, c.BrandColor = strings.TrimSpace(raw["brand_name"]), p.brandLogoURL("brand_logo_url"), p.brandColor("brand_color")
	c.TemplatesDir = p.directory("templates_dir")
	c.DefaultLocale = p.oneOf("default_locale", "en", "de", "fr", "es", "ja")
	if p.err != nil {
		return Config{}, p.err
	}
	if c.Audience == "" {
		c.Audience = c.Issuer
	}
	if c.MailFrom == "" {
		host := "localhost"
		if u, err := url.Parse(c.Issuer); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		c.MailFrom = "Gatehouse <no-reply@" + host + ">"
	}
	if c.MailDir == "" && c.SMTPURL == "" {
		return Config{}, c.errorf("mail_dir", "required when %s is empty (mails are written there)", c.name("smtp_url"))
	}
	if c.ThrottleStore == "" {
		// PostgreSQL and MariaDB may be shared by several instances behind a load
		// balancer, which must then share their counters; a SQLite file has one.
		c.ThrottleStore = ThrottleDatabase
		if c.IsSQLite() {
			c.ThrottleStore = ThrottleMemory
		}
	}
	if c.DynamicRegistrationOpen && c.RegistrationInitialAccessToken != "" && len(c.RegistrationInitialAccessToken) < 32 {
		return Config{}, c.errorf("registration_initial_access_token", "must be at least 32 characters when set")
	}
	if c.DynamicRegistration && !c.DynamicRegistrationOpen && len(c.RegistrationInitialAccessToken) < 32 {
		return Config{}, c.errorf("registration_initial_access_token", "required (at least 32 characters) when %s is true",
			c.name("dynamic_registration"))
	}
	if c.SecretKey != "" && len(c.SecretKey) < 32 {
		return Config{}, c.errorf("secret_key", "must be at least 32 characters")
	}
	if c.SecretKey != "" && strings.TrimSpace(c.SecretKey) == "" {
		// A template or env file that lost its value, not a key.
		return Config{}, c.errorf("secret_key", "is only white space")
	}
	if c.Audience != "" && strings.IndexFunc(c.Audience, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return Config{}, c.errorf("audience", "must not hold spaces or control characters")
	}
	return c, nil
}

// errorf is a one-line error about key, naming it where its value came from: the
// --config file's key, or else the environment variable.
func (c Config) errorf(key, format string, args ...any) *Error {
	return newError(c.sources, key, fmt.Sprintf(format, args...))
}

// Invalid is errorf for callers outside this package that check a value by rules of
// their own (the dynamic registration policy, say).
func (c Config) Invalid(key, problem string) *Error { return newError(c.sources, key, problem) }

func newError(sources map[string]source, key, problem string) *Error {
	e := &Error{Variable: envName(key), Problem: problem}
	if src := sources[key]; src.file != "" {
		e.File, e.Key = src.file, key
	}
	return e
}

// name is how a message refers to key: its file key when the value came from the
// --config file, else its environment variable.
func (c Config) name(key string) string {
	if c.sources[key].file != "" {
		return key
	}
	return envName(key)
}

// Setting describes key and its value for a message, as the user set it:
// GATEHOUSE_DATABASE_URL=sqlite:x.db from the environment, "database_url: sqlite:x.db
// in FILE" from a --config file, or "the default GATEHOUSE_DATABASE_URL=sqlite:x.db".
// Only for values that hold no secret.
func (c Config) Setting(key, value string) string {
	switch src := c.sources[key]; {
	case src.file != "":
		return key + ": " + value + " in " + src.file
	case src.env:
		return envName(key) + "=" + value
	}
	return "the default " + envName(key) + "=" + value
}

// parser keeps the first error, so parse reads like a list of fields.
type parser struct {
	raw     map[string]string
	sources map[string]source
	err     error
}

func (p *parser) fail(key, format string, args ...any) {
	if p.err == nil {
		p.err = newError(p.sources, key, fmt.Sprintf(format, args...))
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

// mailbox is one sender address, with or without a display name; "" stays "".
func (p *parser) mailbox(key string) string {
	v := p.raw[key]
	if v == "" {
		return ""
	}
	if _, err := mail.ParseAddress(v); err != nil || strings.ContainsAny(v, "\r\n,") {
		p.fail(key, "%q is not one mail address (want no-reply@example.com or \"Name <no-reply@example.com>\")", v)
		return ""
	}
	return v
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
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		// Without a database name PostgreSQL takes the user's name (libpq's rule), a
		// working choice, so such a URL is left alone.
		if _, err := url.Parse(v); err != nil {
			p.fail(key, "malformed URL")
		}
	case strings.HasPrefix(v, "mysql://"):
		u, err := url.Parse(v)
		if err != nil {
			p.fail(key, "malformed URL")
			break
		}
		// MySQL has no default database: the server would connect to none, and every
		// query (the migration lock first) would fail late and obscurely.
		if strings.Trim(u.Path, "/") == "" {
			p.fail(key, "the mysql:// URL names no database; want mysql://user:pass@host:port/DATABASE")
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
		return c.errorf("key_rotation_interval", "%s must be longer than the key activation delay (%s)",
			c.KeyRotationInterval, c.KeyActivationDelay)
	}
	return nil
}

// SQLiteFile is the file of a SQLite database URL, as written (relative to the
// working directory unless absolute); ok is false for other databases and for an
// in-memory SQLite database.
func (c Config) SQLiteFile() (path string, ok bool) {
	if !c.IsSQLite() {
		return "", false
	}
	path = strings.TrimPrefix(c.DatabaseURL, "sqlite:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	// sqlite:///abs/path and sqlite:file:path name the same files as sqlite:PATH
	// (infrastructure/database reads them so).
	path = strings.TrimPrefix(strings.TrimPrefix(path, "file:"), "//")
	if path == "" || path == ":memory:" {
		return "", false
	}
	return path, true
}

// CreateSQLiteDir creates the directory of the SQLite database file (mode 0700: it
// holds the database and the secret key), for the commands that may create a
// database. A directory that cannot be created is a configuration error naming the
// database, not the secret key that happens to be written there first.
func (c Config) CreateSQLiteDir() error {
	path, ok := c.SQLiteFile()
	if !ok {
		return nil
	}
	dir := filepath.Dir(absPath(path))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return c.errorf("database_url", "cannot create %s for the SQLite database %s: %v", dir, absPath(path), pathErrorReason(err))
	}
	return nil
}

// CheckMailDir makes sure mails can be written where they go when no SMTP server is
// configured: it creates MailDir as the mail adapter would (mode 0700) and writes and
// removes a file in it, so that a directory that cannot be created or written stops
// `serve` at start-up (a configuration error naming mail_dir) instead of every mail
// failing later. With an SMTP server it does nothing.
func (c Config) CheckMailDir() error {
	if c.SMTPURL != "" || c.MailDir == "" {
		return nil
	}
	dir := absPath(c.MailDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return c.errorf("mail_dir", "cannot create the mail directory %s: %v", dir, pathErrorReason(err))
	}
	f, err := os.CreateTemp(dir, ".gatehouse-write-check-*")
	if err != nil {
		return c.errorf("mail_dir", "cannot write in the mail directory %s: %v", dir, pathErrorReason(err))
	}
	name := f.Name()
	err = f.Close()
	if rmErr := os.Remove(name); err == nil {
		err = rmErr
	}
	if err != nil {
		return c.errorf("mail_dir", "cannot write in the mail directory %s: %v", dir, pathErrorReason(err))
	}
	return nil
}

// EnsureSecretKey fills SecretKey when it is unset: with SQLite it reads, or creates
// with mode 0600, a `secret.key` file beside the database file (and records that in
// SecretKeyFile and SecretKeyGenerated); with any other database it is an error, since
// instances sharing a database must share the key. Only the commands that may create
// the database call it; the others call ReadSecretKey.
func (c *Config) EnsureSecretKey() error { return c.secretKey(true) }

// ReadSecretKey is EnsureSecretKey that never writes a key: a database that exists
// was made with a key, and a new one would open none of its sealed keys or hashes.
func (c *Config) ReadSecretKey() error { return c.secretKey(false) }

func (c *Config) secretKey(create bool) error {
	if c.SecretKey != "" {
		return nil
	}
	dbPath, ok := c.SQLiteFile()
	if !ok {
		if c.IsSQLite() { // in memory: nothing outlives the process, nor needs to
			c.SecretKey = newSecretKey()
			return nil
		}
		return c.errorf("secret_key", "required with PostgreSQL or MariaDB (at least 32 characters)")
	}
	path := filepath.Join(filepath.Dir(absPath(dbPath)), "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		key := strings.TrimSpace(string(b))
		if len(key) < 32 {
			return c.errorf("secret_key", "%s holds fewer than 32 characters", path)
		}
		c.SecretKey, c.SecretKeyFile = key, path
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read secret key file: %w", err)
	}
	if !create {
		return c.errorf("secret_key", "not set, and there is no %s beside the SQLite database; set the key the server uses", path)
	}
	if err := c.CreateSQLiteDir(); err != nil {
		return err
	}
	key := newSecretKey()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return c.secretKey(create) // another process won the race; read its key
	}
	if err != nil {
		return c.errorf("database_url", "cannot create %s beside the SQLite database %s: %v", path, absPath(dbPath), pathErrorReason(err))
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write secret key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write secret key file: %w", err)
	}
	c.SecretKey, c.SecretKeyFile, c.SecretKeyGenerated = key, path, true
	return nil
}

// newSecretKey is 384 random bits, base64url: 64 characters.
func newSecretKey() string {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// absPath is path made absolute (against the working directory), or path itself if
// that fails.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// pathErrorReason is the reason of a file system error without the path it repeats
// (the message names the path already).
func pathErrorReason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

var brandColorRE = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// brandColor is a hex colour, #rgb or #rrggbb, or "".
func (p *parser) brandColor(key string) string {
	v := strings.TrimSpace(p.raw[key])
	if v != "" && !brandColorRE.MatchString(v) {
		p.fail(key, "%q is not a hex colour (#rgb or #rrggbb)", v)
	}
	return v
}

// brandLogoURL is an https URL with a host, a path on this server, or "".
func (p *parser) brandLogoURL(key string) string {
	v := strings.TrimSpace(p.raw[key])
	if v == "" {
		return v
	}
	if strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") && !strings.ContainsAny(v, "\\ \"'<>") {
		return v
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.ContainsAny(u.Host, "'\" ;,") {
		p.fail(key, "%q must be an https URL or a path on this server starting with /", v)
	}
	return v
}

// directory is a directory that exists, or "".
func (p *parser) directory(key string) string {
	v := p.raw[key]
	if v == "" {
		return v
	}
	st, err := os.Stat(v)
	if err != nil {
		p.fail(key, "cannot read %s: %v", v, errors.Unwrap(err))
	} else if !st.IsDir() {
		p.fail(key, "%s is not a directory", v)
	}
	return v
}
