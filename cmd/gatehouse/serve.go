package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/infrastructure/config"
	"gatehouse/infrastructure/observability"
	"gatehouse/infrastructure/server"
	"gatehouse/usecase"
)

// The server's log is batched: at most logBufferSize bytes or logFlushInterval wait
// before they are written (warnings and errors are written at once).
const (
	logBufferSize    = 64 << 10
	logFlushInterval = 100 * time.Millisecond
)

func serveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Migrate (unless GATEHOUSE_AUTO_MIGRATE=false) and serve HTTP until SIGINT or SIGTERM",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.localOnly(cmd); err != nil {
				return err
			}
			ctx := cmd.Context()
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			// Listen first: a bad address is a configuration error (exit 2) and should
			// be reported before any database work.
			ln, err := server.Listen(cfg.HTTPAddr)
			if err != nil {
				return usagef("GATEHOUSE_HTTP_ADDR: %v", err)
			}
			defer ln.Close()
			// Mails go to files unless an SMTP server is set: a directory that cannot be
			// written stops start-up (exit 2) rather than every mail failing later.
			if err := cfg.CheckMailDir(); err != nil {
				return err
			}
			if err := prepareDatabase(&cfg, mayCreate); err != nil {
				return err
			}
			tuneGC(g.env)
			// Request logging writes a line per request: batched, it costs one write
			// for many lines. Closed after cleanup (defers run last-in first-out), so
			// the last lines of a clean shutdown are written too.
			logOut := observability.NewBufferedWriter(g.streams.err, logBufferSize, logFlushInterval)
			defer logOut.Close()
			app, cleanup, err := buildApp(ctx, cfg, logOut)
			if err != nil {
				return err
			}
			defer cleanup()
			if err := app.Pages.LoadTemplates(); err != nil {
				return err // a *httpapi.TemplateError: exit 2
			}
			log := app.Log
			if issuerPortMismatch(cfg.Issuer, ln.Addr()) {
				// Discovery, redirect and device URIs and DPoP's htu are built from the
				// issuer: on this machine they point at another port (GATEHOUSE_HTTP_ADDR
				// changed without GATEHOUSE_ISSUER).
				log.Warn("the issuer's port is not the port served", "issuer", cfg.Issuer, "addr", ln.Addr().String())
			}
			if cfg.SecretKeyGenerated {
				// The key is in no backup yet, and the database is useless without it.
				log.Warn("generated a new secret key; back it up with the database", "path", cfg.SecretKeyFile)
			}
			if n := keysPublished(cfg.KeyRotationInterval, cfg.AccessTokenTTL, cfg.IDTokenTTL); n > manyKeys {
				// Each retired key stays in the JWKS until every token it signed has
				// expired: a short interval makes every resource server's key set large.
				log.Warn("the key rotation interval keeps many keys in the JWKS", "variable", "GATEHOUSE_KEY_ROTATION_INTERVAL",
					"interval", cfg.KeyRotationInterval.String(), "keys_per_algorithm", n)
			}
			if !cfg.StorageFastPaths {
				log.Info("storage fast paths off: every query and transaction of the token endpoint runs on its own",
					"variable", "GATEHOUSE_STORAGE_FAST_PATHS")
			}
			if cfg.AutoMigrate {
				if err := bunrepo.Migrate(ctx, app.DB); err != nil {
					return fmt.Errorf("migrate database: %w", err)
				}
			}
			if states, err := bunrepo.MigrationStatus(ctx, app.DB); err == nil && len(unknownMigrations(states)) > 0 {
				log.Warn("the database holds migrations of a newer version of gatehouse; run that version, or roll them back with it",
					"migrations", strings.Join(unknownMigrations(states), ","))
			}
			if err := checkSecretKey(ctx, app); err != nil {
				return err
			}
			if err := app.Keys.Ensure(ctx, app.ClientIDTokenAlgs(ctx)...); err != nil {
				return fmt.Errorf("signing keys: %w", err)
			}
			if err := app.Admin.EnsureConsoleClient(ctx, cfg.Issuer); err != nil {
				// The authorization server works without its console; /admin then fails to sign in.
				log.Error("admin console: its client could not be stored; /admin cannot sign in", "err", err)
			}
			if err := app.KeyRing.Reload(ctx); err != nil {
				return fmt.Errorf("load signing keys: %w", err)
			}
			if cfg.PprofAddr != "" {
				pln, err := server.Listen(cfg.PprofAddr)
				if err != nil {
					// Bad input, as a busy GATEHOUSE_HTTP_ADDR is (SPEC: an address
					// that cannot be listened on stops start-up).
					return &server.ListenError{Err: fmt.Errorf("GATEHOUSE_PPROF_ADDR: %w", errors.Unwrap(err))}
				}
				defer pln.Close()
				go servePprof(pln, app)
			}
			// Start-up's garbage (migrations, templates, catalogs, keys) goes back to
			// the system now rather than when the collector next runs, which at
			// GOGC=400 an idle server may not reach for a long time.
			debug.FreeOSMemory()
			log.Info("gatehouse starting", "version", version, "issuer", cfg.Issuer, "database", redactURL(cfg.DatabaseURL),
				"throttle_store", cfg.ThrottleStore)
			hkDone := make(chan struct{})
			go func() {
				defer close(hkDone)
				runHousekeeping(ctx, app, cfg.HousekeepingInterval)
			}()
			bclDone := make(chan struct{})
			go func() {
				defer close(bclDone)
				runBackchannelLogout(ctx, app.Backchannel, log, time.Second)
			}()
			mailDone := make(chan struct{})
			go func() {
				defer close(mailDone)
				runMailDelivery(ctx, app.Mailer, log, mailPollInterval)
			}()
			krDone := make(chan struct{})
			go func() {
				defer close(krDone)
				if app.KeySchedule.Enabled() {
					runKeyRotation(ctx, app, cfg.KeyRotationInterval)
				}
			}()
			issuedDone := make(chan struct{})
			go func() {
				defer close(issuedDone)
				runIssuanceFlush(ctx, app.Issued, log, issuanceFlushInterval)
			}()
			// The change feed keeps the caches current while requests still drain
			// after SIGTERM; it stops once the server has.
			feedCtx, stopFeed := context.WithCancel(context.WithoutCancel(ctx))
			feedDone := make(chan struct{})
			go func() {
				defer close(feedDone)
				app.Changes.Run(feedCtx)
			}()
			err = server.Serve(ctx, ln, app.Echo, log, 20*time.Second)
			app.Accounts.Wait() // mails queued after their pages answered
			<-issuedDone
			// The tokens of the last requests, which drained after ctx ended.
			flushCtx, cancelFlush := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := app.Issued.Flush(flushCtx); err != nil {
				log.Warn("tokens issued per hour: the last counts were not stored", "err", err)
			}
			cancelFlush()
			stopFeed()
			<-feedDone
			<-hkDone
			<-krDone
			<-mailDone
			<-bclDone
			return err
		},
	}
}

// issuerPortMismatch tells whether issuer is a plain-http URL of this machine
// (localhost, 127.0.0.1 or [::1]) whose port (80 when it names none) is not the port of
// addr, the address served. An https issuer, or another host, is left alone: a proxy
// in front may well listen on another port.
func issuerPortMismatch(issuer string, addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "http" {
		return false
	}
	switch strings.ToLower(u.Hostname()) {
	case "localhost", "127.0.0.1", "::1":
	default:
		return false
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return port != strconv.Itoa(tcp.Port)
}

// keysPublished is about how many keys of one algorithm the JWKS holds with scheduled
// rotation every interval (0: off, one key): the signing key, and each retired one
// until the longest-lived token it signed has expired.
func keysPublished(interval time.Duration, ttls ...time.Duration) int {
	if interval <= 0 {
		return 1
	}
	longest := time.Duration(0)
	for _, ttl := range ttls {
		longest = max(longest, ttl)
	}
	return 1 + int((longest+interval-1)/interval)
}

// manyKeys is the number of published keys per algorithm above which serve warns.
const manyKeys = 10

// issuanceFlushInterval is how often an instance adds the tokens it issued to the
// database's counts, where the console's chart reads every instance's.
const issuanceFlushInterval = 5 * time.Second

// runIssuanceFlush stores the counts of c every interval until ctx ends. A failure is
// logged and the counts are kept for the next round.
func runIssuanceFlush(ctx context.Context, c *usecase.IssuanceCounter, log *slog.Logger, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := c.Flush(ctx); err != nil && ctx.Err() == nil {
				log.Warn("tokens issued per hour not stored; will retry", "err", err)
			}
		}
	}
}

// mailPollInterval is how often the outbox is looked at for mails due again (a retry,
// or a mail another instance queued); a mail this instance queues goes out at once.
const mailPollInterval = 5 * time.Second

// mailDeliverer is the outbox's delivery side (usecase.Mailer).
type mailDeliverer interface {
	DeliverDue(ctx context.Context) ([]usecase.Delivery, error)
	Wake() <-chan struct{}
}

// runMailDelivery sends queued mails when this instance queues one and every interval
// until ctx ends, logging each attempt by kind and id: never the address or the body,
// whose links are secrets.
func runMailDelivery(ctx context.Context, mailer mailDeliverer, log *slog.Logger, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		// Each round until the outbox has nothing due, so a burst needs no ticks.
		for ctx.Err() == nil {
			done, err := mailer.DeliverDue(ctx)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("mail outbox unreadable", "err", err)
				}
				break
			}
			for _, d := range done {
				switch {
				case d.Err == nil:
					log.Info("mail sent", "kind", d.Kind, "mail_id", d.ID, "attempts", d.Attempts)
				case d.Dropped:
					log.Error("mail dropped", "kind", d.Kind, "mail_id", d.ID, "attempts", d.Attempts, "err", d.Err)
				default:
					log.Warn("mail not sent; will retry", "kind", d.Kind, "mail_id", d.ID, "attempts", d.Attempts,
						"retry_in", d.Retry.String(), "err", d.Err)
				}
			}
			if len(done) == 0 || !anySent(done) {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-mailer.Wake():
		case <-tick.C:
		}
	}
}

// anySent: a round that sent nothing (every attempt failed) waits for the next tick
// instead of trying again at once.
func anySent(ds []usecase.Delivery) bool {
	for _, d := range ds {
		if d.Err == nil {
			return true
		}
	}
	return false
}

// runBackchannelLogout delivers logout tokens every interval while this instance
// holds the lease, logging each attempt by client (never the token), and gives the
// lease up when ctx ends.
func runBackchannelLogout(ctx context.Context, b *usecase.BackchannelLogout, log *slog.Logger, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		results, err := b.DeliverDue(ctx, 10*interval)
		if err != nil && ctx.Err() == nil {
			log.Warn("back-channel logout", "err", err)
		}
		for _, r := range results {
			switch {
			case r.Err == nil:
				log.Info("back-channel logout delivered", "client_id", r.ClientID, "attempts", r.Attempts)
			case r.Dropped:
				log.Warn("back-channel logout dropped", "client_id", r.ClientID, "attempts", r.Attempts, "err", r.Err)
			default:
				log.Info("back-channel logout not delivered; will retry", "client_id", r.ClientID, "attempts", r.Attempts,
					"retry_in", r.Retry.String(), "err", r.Err)
			}
		}
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := b.Release(rctx); err != nil {
				log.Warn("release back-channel logout lease", "err", err)
			}
			cancel()
			return
		case <-tick.C:
		}
	}
}

// runHousekeeping purges expired rows every interval until ctx ends, then gives its
// lease up so another instance takes over at once. The lease lasts three intervals,
// so an instance that died is replaced after at most that long (plus one interval
// until another instance next tries). Taking the lease is logged with the holder id
// that the leases table shows.
func runHousekeeping(ctx context.Context, app *App, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	held := false
	for {
		deleted, ran, err := app.Housekeeping.RunOnce(ctx, 3*interval)
		if ran && !held {
			// Once per acquisition, not per run: names the instance that now purges.
			app.Log.Info("housekeeping lease acquired", "holder", app.Housekeeping.Holder())
		}
		held = ran
		switch {
		case err != nil && ctx.Err() == nil:
			app.Log.Warn("housekeeping failed", "err", err)
		case ran:
			var total int64
			for _, n := range deleted {
				total += n
			}
			if total > 0 {
				app.Log.Info("housekeeping", "deleted", total)
			}
		}
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := app.Housekeeping.Release(rctx); err != nil {
				app.Log.Warn("release housekeeping lease", "err", err)
			}
			cancel()
			return
		case <-tick.C:
		}
	}
}

// keyRotationTick is how often scheduled rotation looks whether a key is due: a tenth
// of the interval (so a key is replaced at most that late), between 100 ms and a
// minute. Each look is one lease update and, for the holder, one read of the keys.
func keyRotationTick(interval time.Duration) time.Duration {
	return min(max(interval/10, 100*time.Millisecond), time.Minute)
}

// runKeyRotation rotates due signing keys until ctx ends, then gives its lease up.
// The lease lasts three ticks (at least 5 s), so an instance that died is replaced
// after at most that long; the store refuses to replace a key twice should two
// holders overlap.
func runKeyRotation(ctx context.Context, app *App, interval time.Duration) {
	every := keyRotationTick(interval)
	ttl := max(3*every, 5*time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		rotated, _, err := app.KeySchedule.RunOnce(ctx, ttl, app.ClientIDTokenAlgs)
		if err != nil && ctx.Err() == nil {
			app.Log.Warn("scheduled key rotation failed", "err", err)
		}
		for _, k := range rotated {
			app.Log.Info("signing key rotated", "alg", k.Alg, "kid", k.ID, "activates_at", k.ActivatesAt)
		}
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := app.KeySchedule.Release(rctx); err != nil {
				app.Log.Warn("release key rotation lease", "err", err)
			}
			cancel()
			return
		case <-tick.C:
		}
	}
}

// servePprof serves net/http/pprof on its own address (GATEHOUSE_PPROF_ADDR), never on
// the public listener.
func servePprof(ln net.Listener, app *App) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	addr := ln.Addr().(*net.TCPAddr)
	app.Log.Info("pprof listening", "addr", addr.String())
	if !addr.IP.IsLoopback() {
		// Profiles show the server's internals and cost CPU: for the operator's machine only.
		app.Log.Warn("pprof listens on an address other machines may reach; keep it on loopback", "variable", "GATEHOUSE_PPROF_ADDR")
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
		app.Log.Warn("pprof server stopped", "err", err)
	}
}

// Garbage-collector defaults for the server, used unless GOGC or GOMEMLIMIT is set.
// A token request allocates about 20 KiB over a live heap of a few MiB: at thousands
// of requests a second, Go's default GOGC=100 collects every few dozen milliseconds,
// and its assists and pauses slow the slowest requests. 800 lets the heap grow to
// nine times the live data first, still under the soft limit for the live data of
// a busy server. The soft limit makes the collector work harder
// near 64 MiB instead of letting the heap grow: argon2id allocates its 19 MiB afresh
// for every hash, and under a password-grant load a 100 MiB limit let the process
// pass the RSS target under load (120 MiB). The password hasher also collects each
// hash's memory before the next hash starts (crypto.PasswordHasher.releaseArgon2).
// GOMEMLIMIT trades memory back for logins. The measurements are in BENCHMARKS.md.
const (
	serverGCPercent   = 800
	serverMemoryLimit = 64 << 20
)

func tuneGC(env config.Env) {
	if _, set := env["GOGC"]; !set {
		debug.SetGCPercent(serverGCPercent)
	}
	if _, set := env["GOMEMLIMIT"]; !set {
		debug.SetMemoryLimit(serverMemoryLimit)
	}
}
