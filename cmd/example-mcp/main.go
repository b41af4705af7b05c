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
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"gatehouse/adapter/resourceserver"
)

const (
	startupTimeout  = 15 * time.Second // discovery and the first JWKS fetch
	shutdownTimeout = 10 * time.Second
	version         = "1.0.0"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed flags.
type options struct {
	issuer    string
	addr      string
	publicURL string
}

// resource is the MCP endpoint's URL: the resource identifier tokens must name.
func (o options) resource() string { return strings.TrimSuffix(o.publicURL, "/") + "/mcp" }

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func parseFlags(args []string, stdout io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("example-mcp", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.issuer, "issuer", "", "the authorization server's issuer URL (required)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9091", "listen address")
	fs.StringVar(&o.publicURL, "public-url", "", "the base URL clients reach this server at (default: http://ADDR); the resource is it + /mcp")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "usage: example-mcp --issuer URL [--addr HOST:PORT] [--public-url URL]")
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
	if o.publicURL == "" {
		o.publicURL = "http://" + o.addr
	}
	if u, err := url.Parse(o.publicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" {
		return o, &usageError{fmt.Sprintf("--public-url %q must be an http(s) URL without query", o.publicURL)}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "example-mcp: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		fmt.Fprintf(stderr, "example-mcp: --addr %s: %v\n", o.addr, err)
		return 2
	}
	defer ln.Close()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	startCtx, cancel := context.WithTimeout(ctx, startupTimeout)
	v, err := resourceserver.New(startCtx, resourceserver.Config{
		Issuer: o.issuer, Audience: o.resource(), Resource: o.resource(), ResourceName: "Gatehouse example MCP server",
		ScopesSupported: []string{"openid", "profile"}, Realm: "example-mcp", Logger: log,
	})
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "example-mcp: %v\n", err)
		return 1
	}
	srv := &http.Server{
		Handler:           newHandler(v, log),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("example-mcp listening", "addr", ln.Addr().String(), "issuer", o.issuer, "resource", o.resource(),
		"metadata", v.MetadataURL())
	select {
	case err := <-errc:
		log.Error("server stopped", "error", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("graceful shutdown failed", "error", err)
		return 1
	}
	return 0
}

// newHandler is the whole server: the RFC 9728 metadata, and /mcp behind the token
// check of adapter/resourceserver (401 with resource_metadata, aud, signature,
// expiry, DPoP…). The verified claims are handed to the MCP SDK as its TokenInfo,
// which binds each MCP session to its user and reaches the tools.
func newHandler(v *resourceserver.Verifier, log *slog.Logger) http.Handler {
	server := mcp.NewServer(&mcp.Implementation{Name: "gatehouse-example-mcp", Version: version}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "Tells who the caller is: the access token's sub and scope."}, whoami)
	streamable := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Logger: log})
	// The token was verified by v.Handler; this only passes its claims on.
	fromClaims := func(ctx context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
		c, ok := resourceserver.ClaimsFromContext(r.Context())
		if !ok {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{Scopes: c.Scope, Expiration: c.ExpiresAt, UserID: c.Subject,
			Extra: map[string]any{"sub": c.Subject, "client_id": c.ClientID}}, nil
	}
	mux := http.NewServeMux()
	mux.Handle(v.MetadataPath(), v.MetadataHandler())
	mux.Handle("/mcp", v.Handler(auth.RequireBearerToken(fromClaims, nil)(streamable)))
	return mux
}

// whoamiOut is what whoami answers.
type whoamiOut struct {
	Sub      string `json:"sub"`
	Scope    string `json:"scope"`
	ClientID string `json:"client_id"`
}

func whoami(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoamiOut, error) {
	ti := req.Extra.TokenInfo
	if ti == nil {
		return nil, whoamiOut{}, errors.New("no access token")
	}
	out := whoamiOut{Sub: ti.UserID, Scope: strings.Join(ti.Scopes, " ")}
	if id, ok := ti.Extra["client_id"].(string); ok {
		out.ClientID = id
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{
		Text: fmt.Sprintf("sub=%s scope=%s", out.Sub, out.Scope)}}}, out, nil
}
