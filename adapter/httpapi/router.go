package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
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
	// Console serves the admin console (/admin); nil leaves it out.
	Console *Console
	// Settings and Features give the error answers the issuer (iss of error redirects,
	// realm of the userinfo challenges) and the DPoP algs.
	Settings usecase.Settings
	Features Features
	// AdminAPI mounts the admin REST API (/admin/api/v1); nil leaves it out.
	AdminAPI SubMounter
}

// SubMounter mounts routes that answer their own errors (the admin API's RFC 9457
// problems) straight on the Echo instance.
type SubMounter interface {
	Mount(e *echo.Echo)
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

// PageMounter adds the browser routes and renders error pages.
type PageMounter interface {
	Mount(r *Router)
	RenderError(c echo.Context, status int, code, description string)
}

// NewEcho builds the Echo instance with every route and middleware.
func NewEcho(h Handlers) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// The caller's address is the TCP peer: X-Forwarded-For is not trusted unless a
	// proxy in front is configured to be (it could be forged to dodge throttling).
	e.IPExtractor = h.TrustedProxies.ipExtractor()
	r := NewRouter(e, Responder{Log: h.Log, Pages: h.Pages, Issuer: string(h.Settings.Issuer), DPoPAlgs: h.Features.DPoPAlgs})
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: newRequestID}))
	e.Use(recoverer(h.Log))
	e.Use(observe(h.Log, h.Metrics))
	e.Use(unescapeParams)

	api := r.Group(SurfaceJSON)
	api.GET("/.well-known/oauth-authorization-server", h.Discovery.OAuthMetadata)
	api.GET("/.well-known/openid-configuration", h.Discovery.OpenIDConfiguration)
	api.GET("/.well-known/jwks.json", h.Discovery.JWKS)
	for _, p := range []string{"/oauth/token", "/oauth/access_token"} {
		api.POST(p, h.Token.Token)
	}
	api.POST("/oauth/revoke", h.Token.Revoke(h.Revoke))
	api.POST("/oauth/introspect", h.Token.Introspect(h.Introspect))
	api.GET("/healthz", h.Health.Live)
	api.GET("/readyz", h.Health.Ready)
	api.GET("/metrics", h.Health.Metrics())
	resource := r.Group(SurfaceBearer)
	resource.GET("/userinfo", h.UserInfo.UserInfo)
	resource.POST("/userinfo", h.UserInfo.UserInfo)
	if h.Pages != nil {
		h.Pages.Mount(r)
	}
	if h.Device != nil {
		h.Device.Mount(r)
	}
	if h.PAR != nil {
		api.POST("/oauth/par", h.PAR.Push)
	}
	if h.Registration != nil {
		h.Registration.Mount(r)
	}
	if h.Console != nil {
		h.Console.Mount(r)
	}
	if h.AdminAPI != nil {
		h.AdminAPI.Mount(e)
	}
	return e
}

// unescapeParams hands handlers their path parameters decoded. Echo routes on the
// escaped path when the URL has one (an id holding a "/", as a metadata-document
// client's https URL does, must come as %2F) and then leaves the parameters escaped;
// without escapes in the path they are decoded already.
func unescapeParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().URL.RawPath != "" {
			vals := c.ParamValues()
			for i, v := range vals {
				if u, err := url.PathUnescape(v); err == nil {
					vals[i] = u
				}
			}
			c.SetParamValues(vals...)
		}
		return next(c)
	}
}

// Router mounts routes in groups, each answering errors on its surface, and is the
// error handler that knows them: every route path answers on one surface whatever
// the method, so a wrong method is answered as the route's other errors are; a
// request that matches no route answers on the surface of the page it is a subpath
// of, or JSON.
type Router struct {
	e        *echo.Echo
	surfaces map[string]Surface
	resp     Responder
}

// NewRouter makes r the error handler of e.
func NewRouter(e *echo.Echo, r Responder) *Router {
	rt := &Router{e: e, surfaces: map[string]Surface{}, resp: r}
	e.HTTPErrorHandler = rt.handleError
	return rt
}

// handleError answers err as Classify says for the surface of the request's route.
func (rt *Router) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	rt.resp.write(c, err, Classify(err, rt.surface(c)))
}

// surface is the surface of c's route. A request that matched no route (c.Path() is
// empty) answers on the surface of the nearest page its path is under, recorded as
// page+"/*" by Routes.add: a mistyped /login/x gets the page's 404, /x/y JSON.
func (rt *Router) surface(c echo.Context) Surface {
	if c.Path() != "" {
		return rt.surfaces[c.Path()]
	}
	p := echo.GetPath(c.Request())
	for i := strings.LastIndexByte(p, '/'); i > 0; i = strings.LastIndexByte(p[:i], '/') {
		if s, ok := rt.surfaces[p[:i]+"/*"]; ok {
			return s
		}
	}
	return SurfaceJSON
}

// Group returns routes that answer errors on surface s, each with middleware m.
func (rt *Router) Group(s Surface, m ...echo.MiddlewareFunc) Routes {
	return Routes{rt: rt, surface: s, m: m}
}

// Routes adds routes of one surface. A page's subpaths (a mistyped /login/x) get
// the page's 404.
type Routes struct {
	rt      *Router
	surface Surface
	m       []echo.MiddlewareFunc
}

// GET mounts h for GET and HEAD: every general-purpose server must serve HEAD where
// it serves GET (RFC 9110 §9.1), and uptime monitors use it. net/http sends a HEAD
// answer's status and headers and drops the body h writes.
func (g Routes) GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	g.add(http.MethodGet, path, h, m)
	g.add(http.MethodHead, path, h, m)
}
func (g Routes) POST(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	g.add(http.MethodPost, path, h, m)
}
func (g Routes) PUT(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	g.add(http.MethodPut, path, h, m)
}
func (g Routes) DELETE(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	g.add(http.MethodDelete, path, h, m)
}

func (g Routes) add(method, path string, h echo.HandlerFunc, m []echo.MiddlewareFunc) {
	g.surface.claim(g.rt.surfaces, path)
	g.rt.e.Add(method, path, h, append(slices.Clone(g.m), m...)...)
	if g.surface == SurfacePage && path != "/" {
		// Only recorded for Router.surface, not mounted as an Echo RouteNotFound: Echo
		// prefers one of those to its 405, so a wrong method on a deeper page (GET
		// /account/profile, under /account/*) would answer 404.
		sub := path + "/*"
		if _, ok := g.rt.surfaces[sub]; !ok {
			g.surface.claim(g.rt.surfaces, sub)
		}
	}
}

// claim records that path answers on s; a path on two surfaces is a programming error.
func (s Surface) claim(surfaces map[string]Surface, path string) {
	if prev, ok := surfaces[path]; ok && prev != s {
		panic(fmt.Sprintf("httpapi: %s is mounted on two surfaces", path))
	}
	surfaces[path] = s
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
			m.Requests.WithLabelValues(route, metricMethod(c.Request().Method), strconv.Itoa(status)).Inc()
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

// metricMethod is the method label of a request: one of HTTP's methods, or "other",
// so that requests with made-up methods cannot add a series each to /metrics.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// newRequestID is the id of a request that came without an X-Request-Id: 128 random
// bits in 32 hexadecimal digits. Echo's own generator draws its 32 letters and digits
// byte by byte from a buffered reader of crypto/rand, with rejection sampling, several
// times slower on every request.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}
