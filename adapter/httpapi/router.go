package httpapi

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"gatehouse/usecase"
)

// Handlers is everything the router mounts; Wire fills it field by field.
type Handlers struct {
	Log        *slog.Logger
	Metrics    *Metrics
	Token      *TokenHandler
	Revoke     *usecase.Revoke
	Introspect *usecase.Introspect
	Discovery  *Discovery
	Health     *Health
	UserInfo   *UserInfoHandler
	// Pages mounts the browser pages and authorization endpoint; nil leaves them out.
	Pages PageMounter
	// Device serves the device flow's endpoint and page (RFC 8628); nil leaves it out.
	Device *DeviceHandler
	// TrustedProxies may set X-Forwarded-For; empty trusts no header.
	TrustedProxies TrustedProxies
	// PAR serves pushed authorization requests (RFC 9126); nil leaves it out.
	PAR *PARHandler
	// Registration serves dynamic client registration (RFC 7591, 7592); nil leaves it out.
	Registration *RegistrationHandler
}

// TrustedProxies are the address ranges of the proxies in front of the server.
type TrustedProxies []netip.Prefix

// ipExtractor takes the caller's address from the TCP peer, or, when that peer is a
// trusted proxy, from X-Forwarded-For: the right-most address not itself a trusted
// proxy (anything left of it the caller could have written). Loopback and private
// ranges are not trusted unless listed.
func (t TrustedProxies) ipExtractor() echo.IPExtractor {
	if len(t) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range t {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: net.IP(p.Addr().AsSlice()),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// PageMounter adds the browser routes and renders page errors.
type PageMounter interface {
	Mount(e *echo.Echo)
	RenderError(c echo.Context, status int, code, description string)
}

// NewEcho builds the Echo instance with every route and middleware.
func NewEcho(h Handlers) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// The caller's address is the TCP peer: X-Forwarded-For is not trusted unless a
	// proxy in front is configured to be (it could be forged to dodge throttling).
	e.IPExtractor = h.TrustedProxies.ipExtractor()
	var pageErr PageErrorWriter
	if h.Pages != nil {
		pageErr = h.Pages.RenderError
	}
	e.HTTPErrorHandler = ErrorHandler(h.Log, pageErr)
	e.Use(middleware.RequestID())
	e.Use(recoverer(h.Log))
	e.Use(observe(h.Log, h.Metrics))

	e.GET("/.well-known/oauth-authorization-server", h.Discovery.OAuthMetadata)
	e.GET("/.well-known/openid-configuration", h.Discovery.OpenIDConfiguration)
	e.GET("/.well-known/jwks.json", h.Discovery.JWKS)
	for _, p := range []string{"/oauth/token", "/oauth/access_token"} {
		e.POST(p, h.Token.Token)
	}
	e.POST("/oauth/revoke", h.Token.Revoke(h.Revoke))
	e.POST("/oauth/introspect", h.Token.Introspect(h.Introspect))
	e.GET("/userinfo", h.UserInfo.UserInfo)
	e.POST("/userinfo", h.UserInfo.UserInfo)
	e.GET("/healthz", h.Health.Live)
	e.GET("/readyz", h.Health.Ready)
	e.GET("/metrics", h.Health.Metrics())
	if h.Pages != nil {
		h.Pages.Mount(e)
	}
	if h.Device != nil {
		h.Device.Mount(e)
	}
	if h.PAR != nil {
		e.POST("/oauth/par", h.PAR.Push)
	}
	if h.Registration != nil {
		h.Registration.Mount(e)
	}
	return e
}

// recoverer turns a panic into a logged server_error instead of a dropped connection.
func recoverer(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						panic(r)
					}
					log.ErrorContext(c.Request().Context(), "panic in handler", "panic", fmt.Sprint(r), "route", c.Path())
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			return next(c)
		}
	}
}

// observe logs one line per request and counts it. Only the route template is logged,
// never the query or body: they can hold codes, tokens and secrets (SECURITY S46).
func observe(log *slog.Logger, m *Metrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			if err != nil {
				clientAuthFailure(c, log, m, route, err)
				c.Error(err)
			}
			status := c.Response().Status
			elapsed := time.Since(start)
			m.Requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Inc()
			m.Duration.WithLabelValues(route).Observe(elapsed.Seconds())
			if log.Enabled(c.Request().Context(), slog.LevelInfo) {
				log.LogAttrs(c.Request().Context(), slog.LevelInfo, "request",
					slog.String("method", c.Request().Method), slog.String("route", route),
					slog.Int("status", status), slog.Duration("duration", elapsed),
					slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
					slog.String("remote", c.RealIP()))
			}
			return nil
		}
	}
}
