package main

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"gatehouse/adapter/backchannel"
	"gatehouse/adapter/cache"
	"gatehouse/adapter/crypto"
	"gatehouse/adapter/httpapi"
	"gatehouse/adapter/i18n"
	"gatehouse/adapter/mail"
	"gatehouse/adapter/outbound"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/throttle"
	"gatehouse/adapter/token"
	"gatehouse/domain"
	"gatehouse/infrastructure/config"
	"gatehouse/infrastructure/database"
	"gatehouse/infrastructure/observability"
	"gatehouse/usecase"
)

// App is the assembled server: what the commands need from the wiring.
type App struct {
	Config  config.Config
	Log     *slog.Logger
	DB      *bun.DB
	Admin   *usecase.Admin
	Keys    *usecase.Keys
	KeyRing *token.KeyRing
	Echo    *echo.Echo
	// Pages are the login, account and console pages; serve loads their templates
	// (the commands show none).
	Pages *httpapi.Pages
	// Housekeeping deletes expired rows in the background.
	Housekeeping *usecase.Housekeeping
	// KeySchedule rotates signing keys every GATEHOUSE_KEY_ROTATION_INTERVAL.
	KeySchedule *usecase.KeySchedule
	// Changes tells this instance when clients or signing keys changed anywhere;
	// serve runs it (the CLI only writes, and the repositories announce its writes).
	Changes *bunrepo.ChangeFeed
	// Mailer queues mails; serve delivers them in the background.
	Mailer *usecase.Mailer
	// Accounts queues its mails after answering; serve waits for it on shutdown.
	Accounts *usecase.Accounts
	// Backchannel delivers logout tokens; serve runs it.
	Backchannel *usecase.BackchannelLogout
	// Audit is the audit log (`gatehouse audit list`).
	Audit *usecase.Audit
	// Factors are the users' second factors (users reset-mfa).
	Factors *usecase.Factors
	// AdminResources are a user's sessions and consents (users sessions, consents).
	AdminResources *usecase.AdminResources
	// Upstreams are the upstream identity providers (gatehouse upstreams).
	Upstreams *usecase.Upstreams
	// Resources are the registered protected resources (gatehouse resources).
	Resources *usecase.Resources
	// Scopes are the scope descriptions of the consent page (gatehouse scopes).
	Scopes *usecase.Scopes
	// Issued counts the tokens issued per hour; serve adds its counts to the
	// database's every issuanceFlushInterval and at shutdown.
	Issued *usecase.IssuanceCounter
}

// ClientIDTokenAlgs lists the ID-token algs clients registered, so that each has a key.
func (a *App) ClientIDTokenAlgs(ctx context.Context) []string {
	// One small read: listing every client here held all of them in memory from
	// start-up on, which a server with many clients felt in its idle memory.
	algs, err := a.Admin.ClientIDTokenAlgs(ctx)
	if err != nil {
		return nil
	}
	return algs
}

// Providers turning configuration into what the adapters take.

func provideLogger(cfg config.Config, w io.Writer) *slog.Logger {
	return observability.NewLogger(w, cfg.LogFormat, cfg.LogLevel)
}

func provideTrustedProxies(cfg config.Config) httpapi.TrustedProxies {
	return httpapi.TrustedProxies(cfg.TrustedProxies)
}

func provideSettings(cfg config.Config) usecase.Settings {
	return usecase.Settings{
		Issuer:          usecase.Issuer(cfg.Issuer),
		Audience:        usecase.DefaultAudience(cfg.Audience),
		AccessTokenTTL:  usecase.AccessTokenTTL(cfg.AccessTokenTTL),
		RefreshTokenTTL: usecase.RefreshTokenTTL(cfg.RefreshTokenTTL),
		AuthCodeTTL:     usecase.AuthCodeTTL(cfg.AuthCodeTTL),
		IDTokenTTL:      usecase.IDTokenTTL(cfg.IDTokenTTL),
		SigningAlg:      usecase.SigningAlg(cfg.SigningAlg),
		RequirePKCE:     cfg.RequirePKCE,
		DeviceCodeTTL:   usecase.DeviceCodeTTL(cfg.DeviceCodeTTL),
		// Resolved by loadConfig (ResolveKeyActivationDelay).
		KeyActivationDelay:   usecase.KeyActivationDelay(cfg.KeyActivationDelay),
		KeyRotationInterval:  usecase.KeyRotationInterval(cfg.KeyRotationInterval),
		RequireVerifiedEmail: cfg.EmailVerification == usecase.EmailVerificationRequired,
		RequireMFA:           cfg.MFA == usecase.MFARequired,
	}
}

func provideDB(ctx context.Context, cfg config.Config) (*bun.DB, func(), error) {
	return database.Open(ctx, cfg.DatabaseURL)
}

func provideCryptoKeys(cfg config.Config) (crypto.Keys, error) {
	return crypto.DeriveKeys(cfg.SecretKey)
}

func providePasswordParams(cfg config.Config) crypto.PasswordParams {
	p := crypto.DefaultPasswordParams()
	p.Memory, p.Iterations, p.Parallelism = cfg.Argon2Memory, cfg.Argon2Iterations, cfg.Argon2Parallelism
	return p
}

func provideKeyRingConfig(cfg config.Config, log *slog.Logger, clock usecase.Clock) token.KeyRingConfig {
	return token.KeyRingConfig{RefreshInterval: cfg.KeyRefreshInterval, Logger: log, Now: clock.Now}
}

// provideClientCache puts a bounded-time cache in front of client reads on the token
// endpoint (GATEHOUSE_CLIENT_CACHE_TTL); administration always reads the database.
func provideClientCache(repo *bunrepo.ClientRepository, cfg config.Config) *cache.Clients {
	return cache.NewClients(repo, cfg.ClientCacheTTL, 10_000, nil)
}

// provideChangeFeed follows changes of clients and signing keys made anywhere on the
// database (the CLI, another instance, this one): a client change drops every cached
// client, a key change reloads the key ring, so both are current on every instance
// within a second. The cache TTL and the key refresh interval remain the backstop.
func provideChangeFeed(db *bun.DB, cfg config.Config, log *slog.Logger, registry *prometheus.Registry,
	clients *cache.Clients, ring *token.KeyRing) (*bunrepo.ChangeFeed, error) {
	feed, err := bunrepo.NewChangeFeed(db, bunrepo.ChangeFeedConfig{
		DatabaseURL: cfg.DatabaseURL, PollInterval: cfg.ChangePollInterval, Logger: log, Registerer: registry,
	})
	if err != nil {
		return nil, err
	}
	feed.Subscribe(bunrepo.TopicClients, func(context.Context) error {
		clients.ForgetAll()
		return nil
	})
	feed.Subscribe(bunrepo.TopicKeys, ring.Reload)
	return feed, nil
}

func provideClock() usecase.SystemClock { return usecase.SystemClock{} }

func provideAuditRetention(cfg config.Config) bunrepo.AuditRetention {
	return bunrepo.AuditRetention(cfg.AuditRetention)
}

// provideThrottle puts the failure counters where GATEHOUSE_THROTTLE_STORE says (by
// default in the database with PostgreSQL and MariaDB, which several instances may
// share, so that they share one allowance; in memory with SQLite). Both stores follow
// domain.DefaultThrottlePolicy.
func provideThrottle(cfg config.Config, db *bun.DB, log *slog.Logger) usecase.Throttle {
	if cfg.ThrottleStore == config.ThrottleDatabase {
		return bunrepo.NewThrottleRepository(db, domain.DefaultThrottlePolicy(), nil, log)
	}
	return throttle.NewMemory(throttle.DefaultPolicy, nil)
}

func provideRegistry() *prometheus.Registry { return observability.NewRegistry() }

func provideJWKS(ring *token.KeyRing) httpapi.JWKSFunc {
	return func(ctx context.Context) ([]byte, error) { return ring.JWKS(time.Now()) }
}

// provideMailTransport: SMTP when GATEHOUSE_SMTP_URL is set (checked by loadConfig),
// else .eml files under GATEHOUSE_MAIL_DIR.
func provideMailTransport(cfg config.Config, log *slog.Logger, clock usecase.Clock) (usecase.MailTransport, error) {
	if cfg.SMTPURL == "" {
		return mail.NewDir(cfg.MailDir, cfg.MailFrom, log, clock.Now), nil
	}
	smtp, err := mail.ParseSMTPURL(cfg.SMTPURL)
	if err != nil {
		return nil, cfg.Invalid("smtp_url", err.Error())
	}
	smtp.From = cfg.MailFrom
	return mail.NewSMTP(smtp, clock.Now), nil
}

func provideMailPolicy() usecase.MailPolicy { return usecase.DefaultMailPolicy() }

func provideAccountSettings(cfg config.Config, langs *i18n.Catalog) usecase.AccountSettings {
	return usecase.AccountSettings{Issuer: cfg.Issuer, TokenTTL: cfg.EmailTokenTTL, Verification: cfg.EmailVerification,
		Translator: langs}
}

func provideUpstreamSettings(cfg config.Config) usecase.UpstreamSettings {
	return usecase.UpstreamSettings{Issuer: cfg.Issuer, RegistrationEnabled: cfg.RegistrationEnabled}
}

func provideMFASettings(cfg config.Config) usecase.MFASettings {
	return usecase.MFASettings{Issuer: cfg.Issuer, Name: cfg.BrandName, Policy: cfg.MFA}
}

// provideFeatures says which optional endpoints are served.
func provideFeatures(cfg config.Config) httpapi.Features {
	f := httpapi.Features{Authorize: true, UserInfo: true, Device: true, IDTokenAlgs: slices.Clone(domain.SupportedAlgs),
		DPoPAlgs: slices.Clone(token.ClientKeyAlgs), ClientAssertionAlgs: slices.Clone(token.ClientKeyAlgs)}
	f.PAR, f.RequirePAR = true, cfg.RequirePAR
	f.Registration = cfg.DynamicRegistration
	f.ClientIDMetadataDocuments = cfg.ClientIDMetadataDocuments
	return f
}

// provideRegistrationSettings: dynamic client registration (RFC 7591, 7592).
func provideRegistrationSettings(cfg config.Config) usecase.RegistrationSettings {
	return usecase.RegistrationSettings{Enabled: cfg.DynamicRegistration, Open: cfg.DynamicRegistrationOpen,
		InitialAccessToken: cfg.RegistrationInitialAccessToken,
		Scopes:             cfg.DynamicRegistrationScopes, GrantTypes: cfg.DynamicRegistrationGrantTypes}
}

// buildApp builds the server as configured: with the storage fast paths (initApp),
// or without them (initPlainApp).
func buildApp(ctx context.Context, cfg config.Config, logOut io.Writer) (*App, func(), error) {
	if !cfg.StorageFastPaths {
		return initPlainApp(ctx, cfg, logOut)
	}
	return initApp(ctx, cfg, logOut)
}

// provideOutboundPolicy: where URLs an untrusted party chose may lead (SECURITY S57).
func provideOutboundPolicy(cfg config.Config) (outbound.Policy, error) {
	roots, err := outbound.LoadRootCAs(cfg.OutboundCAFile)
	if err != nil {
		return outbound.Policy{}, cfg.Invalid("outbound_ca_file", err.Error())
	}
	return outbound.Policy{Allow: cfg.OutboundAllowNetworks, RootCAs: roots}, nil
}

// provideClientIDMetadata: the client store that also knows clients whose client_id
// is the https URL of their metadata document, fetched with the outbound limits
// (loopback too when GATEHOUSE_CLIENT_ID_METADATA_ALLOW_LOOPBACK).
func provideClientIDMetadata(cfg config.Config, clients *cache.Clients, store usecase.ClientRegistrationStore,
	p outbound.Policy, clock usecase.Clock, log *slog.Logger, audit *usecase.Audit) *usecase.ClientIDMetadata {
	if cfg.ClientIDMetadataAllowLoopback {
		p = p.WithLoopback()
	}
	p.Timeout = 5 * time.Second
	return usecase.NewClientIDMetadata(clients, store, clients, outbound.NewDocumentFetcher(p), clock, log, audit,
		usecase.ClientIDMetadataSettings{Enabled: cfg.ClientIDMetadataDocuments, Scopes: cfg.DynamicRegistrationScopes})
}

// provideUntrustedHTTP: the client for URLs an untrusted party chose.
func provideUntrustedHTTP(p outbound.Policy) backchannel.Doer { return outbound.NewClient(p) }

// provideRegistrationHandler mounts /oauth/register only when registration is on.
func provideRegistrationHandler(reg *usecase.Registration, settings usecase.Settings) *httpapi.RegistrationHandler {
	if !reg.Enabled() {
		return nil
	}
	return httpapi.NewRegistrationHandler(reg, settings)
}

// providePARSettings: pushed authorization requests (RFC 9126).
func providePARSettings(cfg config.Config) usecase.PARSettings {
	return usecase.PARSettings{TTL: cfg.PARTTL, RequireAll: cfg.RequirePAR}
}

// provideAssertionVerifier checks private_key_jwt assertions; jwks_uri fetches log
// through the server's logger.
func provideAssertionVerifier(log *slog.Logger) *token.AssertionVerifier {
	return token.NewAssertionVerifier(nil, log)
}

func provideDPoPConfig(cfg config.Config) usecase.DPoPConfig {
	return usecase.DPoPConfig{IATWindow: cfg.DPoPIATWindow, RequireNonce: cfg.DPoPNonceRequired}
}

// redactURL drops the password from a database URL before it is logged.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if strings.HasPrefix(raw, "sqlite:") {
			return raw
		}
		return "(unparseable)"
	}
	return u.Redacted()
}
