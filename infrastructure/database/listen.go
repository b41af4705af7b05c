package database

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// PostgreSQL LISTEN/NOTIFY on a connection of its own. A notification is delivered to
// every session listening on its channel when the transaction that sent it commits,
// and only while that session is connected: one sent while the listener reconnects is
// lost. So Connected is called after every (re)connection, once LISTEN is in place,
// and the caller treats everything as changed then.

// ListenHandler receives what a PostgreSQL listener sees. Its methods run on the
// listener's goroutine, one at a time; they should return quickly.
type ListenHandler interface {
	// Connected: LISTEN is in place, on the first connection or after a reconnect.
	// Notifications sent while no connection listened are lost.
	Connected()
	// Notified: a notification on the channel, with its payload.
	Notified(payload string)
	// Lost: connecting failed or the connection broke; the listener retries after
	// retry (doubling up to maxRetryDelay while it keeps failing).
	Lost(err error, retry time.Duration)
}

// Listener tuning.
const (
	// listenHealthCheck: a connection that received nothing for this long is pinged,
	// so a connection lost without a word (a network partition, a proxy that forgot
	// it) is noticed within about this long plus the ping's timeout.
	listenHealthCheck = 10 * time.Second
	listenPingTimeout = 5 * time.Second
	maxRetryDelay     = 30 * time.Second
)

// ListenPostgres listens on channel of the PostgreSQL database at url until ctx ends,
// reconnecting after a failure (first after retry, doubling up to 30 s). It returns
// an error only for a URL that is not a PostgreSQL one.
func ListenPostgres(ctx context.Context, url, channel string, retry time.Duration, h ListenHandler) error {
	t, err := parseURL(url)
	if err != nil {
		return err
	}
	if t.kind != Postgres {
		return fmt.Errorf("listen: %s is not a PostgreSQL database", t.where)
	}
	if retry <= 0 {
		retry = time.Second
	}
	delay := retry
	for {
		connected, err := listenOnce(ctx, t.pg, channel, h)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			delay = retry // it worked for a while: start the back-off afresh
		}
		h.Lost(err, delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// listenOnce connects, LISTENs and hands notifications to h until the connection
// fails or ctx ends; connected reports whether LISTEN was in place.
func listenOnce(ctx context.Context, base *pgx.ConnConfig, channel string, h ListenHandler) (connected bool, err error) {
	cfg := base.Copy()
	// A wait for notifications that times out (the health check below) must leave the
	// connection usable: a deadline, not a cancel request, interrupts it.
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return false, fmt.Errorf("listen on %s: %w", channel, err)
	}
	h.Connected()
	for {
		waitCtx, cancel := context.WithTimeout(ctx, listenHealthCheck)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil:
			h.Notified(n.Payload)
			continue
		case ctx.Err() != nil:
			return true, ctx.Err()
		case !errors.Is(err, context.DeadlineExceeded) && !pgconn.Timeout(err):
			return true, fmt.Errorf("wait for notifications: %w", err)
		}
		// Quiet for a while: is the connection still there?
		pingCtx, cancel := context.WithTimeout(ctx, listenPingTimeout)
		err = conn.Ping(pingCtx)
		cancel()
		if err != nil {
			return true, fmt.Errorf("health check: %w", err)
		}
	}
}
