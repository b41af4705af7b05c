package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// BaselineBody returns a static token-shaped JSON document of exactly size bytes
// (or its minimum size, ~70 bytes, when size is smaller).
func BaselineBody(size int) []byte {
	const head, tail = `{"access_token":"`, `","token_type":"Bearer","expires_in":900}`
	pad := size - len(head) - len(tail)
	if pad < 1 {
		pad = 1
	}
	return []byte(head + strings.Repeat("x", pad) + tail)
}

// NewBaseline returns the bare Echo baseline: no middleware, and one handler that does
// the least a token endpoint must (read and parse the same form body, look at the
// Authorization header) and answers a static JSON body of the same size as a real
// token response. What Gatehouse does beyond this is what the ratio measures.
func NewBaseline(size int) *echo.Echo {
	body := BaselineBody(size)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard)
	e.POST("/oauth/token", func(c echo.Context) error {
		b, err := io.ReadAll(io.LimitReader(c.Request().Body, 64<<10))
		if err != nil {
			return err
		}
		v, err := url.ParseQuery(string(b))
		if err != nil || v.Get("grant_type") == "" || c.Request().Header.Get(echo.HeaderAuthorization) == "" {
			return c.JSON(http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSONBlob(http.StatusOK, body)
	})
	return e
}

// ServeBaseline serves NewBaseline(size) on addr (a loopback address) until ctx ends,
// after writing "listening ADDR" on ready so a parent process learns the port.
func ServeBaseline(ctx context.Context, addr string, size int, ready io.Writer) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("baseline address %q: %w", addr, err)
	}
	if !loopbackHost(host) {
		return fmt.Errorf("baseline address %q: %w", addr, ErrNotLoopback)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: NewBaseline(size), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}
	fmt.Fprintf(ready, "listening %s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
