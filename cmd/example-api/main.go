package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/adapter/resourceserver"
)

const (
	startupTimeout  = 15 * time.Second // discovery and the first JWKS fetch
	shutdownTimeout = 10 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed flags.
type options struct {
	issuer   string
	audience string
	addr     string
	leeway   time.Duration
	// publicURL is where clients reach this API: DPoP proofs' htu is checked against it.
	publicURL string
}

// usageError is bad input: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func parseFlags(args []string, stdout io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("example-api", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported on one line by run
	fs.StringVar(&o.issuer, "issuer", "", "the authorization server's issuer URL (required)")
	fs.StringVar(&o.audience, "audience", "", "this API's audience: tokens' aud must contain it (default: the issuer)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9090", "listen address")
	fs.DurationVar(&o.leeway, "leeway", resourceserver.DefaultLeeway, "clock skew tolerated on exp, nbf and iat (at most 5m)")
	fs.StringVar(&o.publicURL, "public-url", "", "the URL clients call this API at, for DPoP proofs' htu (default: http://ADDR; set it behind a proxy)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "usage: example-api --issuer URL [--audience AUD] [--addr HOST:PORT] [--leeway DURATION] [--public-url URL]")
			fs.PrintDefaults()
			return o, err
		}
		return o, &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return o, &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if o.issuer == "" {
		return o, &usageError{"--issuer is required"}
	}
	if u, err := url.Parse(o.issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, &usageError{fmt.Sprintf("--issuer %q must be an http(s) URL", o.issuer)}
	}
	if o.leeway <= 0 || o.leeway > 5*time.Minute {
		return o, &usageError{fmt.Sprintf("--leeway %s must be above 0 and at most 5m", o.leeway)}
	}
	if o.audience == "" {
		o.audience = o.issuer // Gatehouse's default audience is its issuer
	}
	if o.publicURL == "" {
		o.publicURL = "http://" + o.addr
	}
	if u, err := url.Parse(o.publicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return o, &usageError{fmt.Sprintf("--public-url %q must be an http(s) URL without query", o.publicURL)}
	}
	return o, nil
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "example-api: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		fmt.Fprintf(stderr, "example-api: --addr %s: %v\n", o.addr, err)
		return 2
	}
	defer ln.Close()

	log := slog.New(slog.NewTextHandler(stderr, nil))
	startCtx, cancel := context.WithTimeout(ctx, startupTimeout)
	v, err := resourceserver.New(startCtx, resourceserver.Config{Issuer: o.issuer, Audience: o.audience, Leeway: o.leeway, Logger: log,
		PublicURL: o.publicURL, Resource: o.publicURL, ScopesSupported: []string{"openid", "profile", "admin"}, ResourceName: "example-api"})
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "example-api: %v\n", err)
		return 1
	}

	srv := &http.Server{
		Handler:           newServer(v, log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("example-api listening", "addr", ln.Addr().String(), "issuer", o.issuer, "audience", o.audience,
		"jwks_uri", v.JWKSURI())

	select {
	case err := <-errc:
		log.Error("server stopped", "error", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("graceful shutdown failed", "error", err)
		return 1
	}
	return 0
}

// newServer builds the Echo application: /secured/profile and /secured/admin
// behind the token middleware, and the RFC 9728 metadata naming the issuer.
func newServer(v *resourceserver.Verifier, log *slog.Logger) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(requestLog(log))
	if path := v.MetadataPath(); path != "" {
		// RFC 9728: where clients learn which authorization server and scopes to use.
		e.GET(path, echo.WrapHandler(v.MetadataHandler()))
	}

	secured := e.Group("/secured", v.Middleware())
	secured.GET("/profile", profile)
	secured.GET("/admin", admin, resourceserver.RequireScope("admin"))
	return e
}

// profile answers the caller's claims, as the original tutorial did.
func profile(c echo.Context) error {
	claims, ok := resourceserver.FromContext(c)
	if !ok {
		return echo.ErrUnauthorized
	}
	return c.JSON(http.StatusOK, claims.Raw)
}

func admin(c echo.Context) error {
	claims, _ := resourceserver.FromContext(c)
	return c.JSON(http.StatusOK, map[string]any{
		"message":   "welcome, administrator",
		"sub":       claims.Subject,
		"client_id": claims.ClientID,
	})
}

// requestLog logs each request's method, path, status and duration. Never the
// Authorization header or the query (S46).
func requestLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			attrs := []any{
				"method", c.Request().Method, "path", c.Request().URL.Path,
				"status", c.Response().Status, "duration", time.Since(start),
			}
			if claims, ok := resourceserver.FromContext(c); ok {
				attrs = append(attrs, "sub", claims.Subject, "client_id", claims.ClientID)
			}
			log.Info("request", attrs...)
			return nil
		}
	}
}
