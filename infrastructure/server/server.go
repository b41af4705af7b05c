// Package server runs an http.Handler with the timeouts and limits a public server
// needs (slow-loris, huge headers), keeps one busy keep-alive connection from holding a
// processor while others wait (turns.go), and shuts it down gracefully: on cancel it
// stops accepting, lets in-flight requests finish, then returns.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"
)

// MaxHeaderBytes: larger request headers are answered 431 by net/http (SECURITY S45).
const MaxHeaderBytes = 32 << 10

// ListenError says the address cannot be listened on (a configuration problem).
type ListenError struct{ Err error }

func (e *ListenError) Error() string { return e.Err.Error() }
func (e *ListenError) Unwrap() error { return e.Err }

// Listen opens the TCP listener.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &ListenError{Err: fmt.Errorf("cannot listen on %s: %w", addr, err)}
	}
	return ln, nil
}

// turnEvery: one request in this many on a keep-alive connection yields the processor
// first (see turns). Yielding on every request cut the tail a little further but cost
// throughput; one in eight kept most of the gain without that cost (BENCHMARKS.md
// "Scheduling fairness").
const turnEvery = 8

// Serve serves h on ln until ctx is cancelled, then drains for at most drain.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, drain time.Duration) error {
	return serve(ctx, ln, h, log, drain, turns{every: turnEvery, yield: runtime.Gosched})
}

func serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, drain time.Duration, t turns) error {
	srv := &http.Server{
		Handler:           t.handler(h),
		ConnContext:       t.connContext,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "drain", drain.String())
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}
