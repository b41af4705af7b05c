// Package adminapi is the admin REST API, /admin/api/v1/ (SPEC "Admin API, console
// and audit log"): JSON resources for clients, users, their sessions and consents,
// signing keys, upstream identity providers and the audit log, over the same use
// cases as the command line.
//
// Every call but the OpenAPI document needs a Bearer access token of this server
// with scope gatehouse:admin and audience <issuer>/admin/api (SECURITY S55): it is
// verified as any resource server verifies it (TokenVerifier), then checked against
// what only the server knows (usecase.AdminAccess: revocation, and for a user's token
// the user's membership of group admin at the time of the call).
//
// Errors are RFC 9457 problem details. A single resource's GET carries an ETag;
// PATCH and DELETE of a client, user or upstream require If-Match (428 without it, 412 when
// it is stale). PATCH takes a JSON merge patch (RFC 7396).
package adminapi

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// Prefix is where the API is mounted.
const Prefix = "/admin/api/v1"

//go:embed openapi.json
var openAPIDocument []byte

// TokenVerifier checks a bearer token as a resource server of this issuer does:
// signature against the issuer's published keys, typ, iss, aud (the admin API's
// audience), exp and nbf. It returns the granted scopes; any defect is an error
// whose message may be shown to the caller.
type TokenVerifier interface {
	VerifyAdminToken(ctx context.Context, raw string) (scopes []string, err error)
}

// Config is what the API needs.
type Config struct {
	// Issuer is the server's issuer; the audience is Issuer + "/admin/api".
	Issuer    string
	Verifier  TokenVerifier
	Access    *usecase.AdminAccess
	Admin     *usecase.Admin
	Resources *usecase.AdminResources
	Keys      *usecase.Keys
	Factors   *usecase.Factors
	Upstreams *usecase.Upstreams
	Clock     usecase.Clock
	// Cache drops a changed client from this instance's cache at once (the change
	// feed tells the other instances within a second).
	Cache usecase.ClientForgetter
	Log   *slog.Logger
	// OnMount, when set, is given the server's handler when the API is mounted (the
	// verifier may fetch the issuer's keys through it, without the network).
	OnMount func(http.Handler)
}

// API serves the admin API.
type API struct {
	cfg Config
}

// New builds the API.
func New(cfg Config) *API {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &API{cfg: cfg}
}

// maxBody bounds a request body.
const maxBody = 1 << 20

// Mount adds the API's routes to e.
func (a *API) Mount(e *echo.Echo) {
	if a.cfg.OnMount != nil {
		a.cfg.OnMount(e)
	}
	e.GET(Prefix+"/openapi.json", a.openAPI)
	type route struct {
		method, path string
		h            echo.HandlerFunc
	}
	routes := []route{
		{http.MethodGet, "/clients", a.listClients},
		{http.MethodPost, "/clients", a.createClient},
		{http.MethodGet, "/clients/:id", a.getClient},
		{http.MethodPatch, "/clients/:id", a.patchClient},
		{http.MethodDelete, "/clients/:id", a.deleteClient},
		{http.MethodPost, "/clients/:id/rotate-secret", a.rotateSecret},
		{http.MethodGet, "/users", a.listUsers},
		{http.MethodPost, "/users", a.createUser},
		{http.MethodGet, "/users/:id", a.getUser},
		{http.MethodPatch, "/users/:id", a.patchUser},
		{http.MethodDelete, "/users/:id", a.deleteUser},
		{http.MethodPost, "/users/:id/reset-mfa", a.resetMFA},
		{http.MethodPost, "/users/:id/password-reset", a.passwordReset},
		{http.MethodGet, "/users/:id/sessions", a.userSessions},
		{http.MethodGet, "/users/:id/consents", a.userConsents},
		{http.MethodDelete, "/users/:id/consents/:client", a.revokeConsent},
		{http.MethodGet, "/users/:id/identities", a.userIdentities},
		{http.MethodDelete, "/users/:id/identities/:upstream", a.unlinkIdentity},
		{http.MethodGet, "/sessions/:id", a.getSession},
		{http.MethodDelete, "/sessions/:id", a.deleteSession},
		{http.MethodGet, "/keys", a.listKeys},
		{http.MethodPost, "/keys/rotate", a.rotateKey},
		{http.MethodGet, "/keys/:kid", a.getKey},
		{http.MethodDelete, "/keys/:kid", a.revokeKey},
		{http.MethodGet, "/upstreams", a.listUpstreams},
		{http.MethodPost, "/upstreams", a.createUpstream},
		{http.MethodGet, "/upstreams/:id", a.getUpstream},
		{http.MethodPatch, "/upstreams/:id", a.patchUpstream},
		{http.MethodDelete, "/upstreams/:id", a.deleteUpstream},
		{http.MethodGet, "/audit-events", a.listAuditEvents},
	}
	// HEAD wherever GET (RFC 9110 §9.1): the same answer's headers, no body.
	for _, r := range routes {
		if r.method == http.MethodGet {
			routes = append(routes, route{http.MethodHead, r.path, r.h})
		}
	}
	paths := map[string][]string{}
	for _, r := range routes {
		paths[r.path] = append(paths[r.path], r.method)
	}
	// Every path answers the methods it lacks with a 405 problem (registered first:
	// the routes below replace it for their methods).
	for p, methods := range paths {
		allow := strings.Join(methods, ", ")
		e.Any(Prefix+p, func(c echo.Context) error {
			c.Response().Header().Set("Allow", allow)
			return problem(c, http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
				c.Request().Method+" is not allowed here; use "+allow, nil)
		})
	}
	for _, r := range routes {
		e.Add(r.method, Prefix+r.path, r.h, a.authorize, noStore, cleanInput)
	}
	notFound := func(c echo.Context) error {
		return problem(c, http.StatusNotFound, "not-found", "Not found", "no such resource in the admin API", nil)
	}
	e.Any(Prefix, notFound)
	e.Any(Prefix+"/*", notFound)
}

// noStore keeps admin answers out of caches.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxBody)
		return next(c)
	}
}

func (a *API) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/json", openAPIDocument)
}

// audience is what the API's tokens must be issued for.
func (a *API) audience() string {
	return strings.TrimRight(a.cfg.Issuer, "/") + domain.AdminAPIAudiencePath
}

// authorize is SECURITY S55: a Bearer token of ours for the admin API's audience
// with scope gatehouse:admin, live now, and for a user's token a user in group admin
// now. What the caller does is audited as done by the token's user, or its client.
func (a *API) authorize(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(c.Request().Header.Values("Authorization")) > 1 {
			// Which header authenticates would depend on who reads it (SECURITY
			// S21): none does, a malformed request (RFC 6750 §3.1).
			const desc = "the request has more than one Authorization header"
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="`+a.audience()+`", error="invalid_request", error_description="`+
				desc+`"`)
			return badRequest(c, desc)
		}
		raw, ok := bearer(c.Request().Header.Get("Authorization"))
		if !ok {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="`+a.audience()+`"`)
			return problem(c, http.StatusUnauthorized, "unauthorized", "Unauthorized",
				"the admin API needs a Bearer access token", nil)
		}
		scopes, err := a.cfg.Verifier.VerifyAdminToken(c.Request().Context(), raw)
		if err != nil {
			return a.invalidToken(c, err.Error())
		}
		if !contains(scopes, domain.ScopeAdmin) {
			return a.insufficientScope(c)
		}
		caller, err := a.cfg.Access.Authorize(c.Request().Context(), raw)
		switch {
		case errors.Is(err, domain.ErrInvalidToken):
			return a.invalidToken(c, "the access token is invalid, expired or revoked")
		case errors.Is(err, domain.ErrInsufficientScope):
			return a.insufficientScope(c)
		case errors.Is(err, usecase.ErrNotAdmin):
			return problem(c, http.StatusForbidden, "forbidden", "Forbidden",
				"the token's user is not in group "+domain.GroupAdmin, nil)
		case err != nil:
			return a.fail(c, err)
		}
		ctx := usecase.WithAuditActor(c.Request().Context(), caller.Actor)
		ctx = usecase.WithAuditIP(ctx, c.RealIP())
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

func (a *API) invalidToken(c echo.Context, description string) error {
	c.Response().Header().Set("WWW-Authenticate", `Bearer realm="`+a.audience()+`", error="invalid_token", error_description="`+
		quoteSafe(description)+`"`)
	return problem(c, http.StatusUnauthorized, "invalid-token", "Invalid token", description, nil)
}

func (a *API) insufficientScope(c echo.Context) error {
	c.Response().Header().Set("WWW-Authenticate", `Bearer realm="`+a.audience()+`", error="insufficient_scope", scope="`+
		domain.ScopeAdmin+`"`)
	return problem(c, http.StatusForbidden, "insufficient-scope", "Insufficient scope",
		"the admin API needs scope "+domain.ScopeAdmin, nil)
}

// bearer is the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

// quoteSafe is s fit for a quoted-string of a challenge.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return '\''
		}
		return r
	}, s)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
