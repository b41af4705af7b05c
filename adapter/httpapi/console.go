package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// The admin console (/admin, SPEC "Admin API, console and audit log") lives in this
// package, beside the other pages, because it is one of them: the same layout,
// stylesheet, CSP, CSRF tokens, single sign-on session and error pages.
//
// Sign-in: the console is a client of this server, the built-in public first-party
// client usecase.ConsoleClientID (stored at start-up, usecase.EnsureConsoleClient). A
// console page without a console session redirects into /oauth/authorize with state,
// PKCE S256 and a nonce; /admin/callback checks the state against the browser's
// sign-in cookie and redeems the code in process, through the token endpoint's use
// case (usecase.Token.Issue), so that it works behind any proxy whatever the public
// issuer URL. The console session is a cookie signed with a key derived from the
// server key, naming the user and the single sign-on session: it lasts only as long
// as that session, so signing out ends the console too.
//
// Every console request checks now that the user exists, is enabled and is in group
// admin (SECURITY S55), and every POST carries a CSRF token bound to the session.

// AdminGroup is the group whose members may use the console.
const AdminGroup = "admin"

// consoleSessionTTL bounds a console session even while the sign-in lasts longer.
const consoleSessionTTL = 8 * time.Hour

// consoleLoginTTL bounds the round trip through the authorization endpoint.
const consoleLoginTTL = 15 * time.Minute

// Console serves the admin console's pages.
type Console struct {
	p         *Pages
	admin     *usecase.Admin
	audit     *usecase.Audit
	keys      *usecase.Keys
	factors   *usecase.Factors
	token     *usecase.Token
	resources *usecase.AdminResources
	log       *slog.Logger
	key       []byte
	cookie    string // the console session
	login     string // the sign-in round trip (state)
	templates *templateSet
	now       func() time.Time
}

// NewConsole builds the console on the pages' machinery.
func NewConsole(p *Pages, admin *usecase.Admin, audit *usecase.Audit, keys *usecase.Keys, factors *usecase.Factors,
	token *usecase.Token, resources *usecase.AdminResources, log *slog.Logger) (*Console, error) {
	if resources == nil {
		return nil, errors.New("console: no admin resources")
	}
	m := hmac.New(sha256.New, p.csrfKey)
	m.Write([]byte("gatehouse/console-cookie/v1"))
	c := &Console{p: p, admin: admin, audit: audit, keys: keys, factors: factors, token: token, resources: resources, log: log,
		key: m.Sum(nil), cookie: "gatehouse_console", login: "gatehouse_console_login",
		now: time.Now}
	if p.cookies.secure {
		c.cookie, c.login = "__Host-gatehouse_console", "__Host-gatehouse_console_login"
	}
	c.templates = p.newTemplateSet(func(lang, name string) (*template.Template, error) {
		funcs := p.templateFuncs(lang)
		for k, v := range consoleFuncs {
			funcs[k] = v
		}
		// Moments in the language's usual form, like the other pages (Pages.date).
		layout := p.languages.Text(lang, "format.datetime", nil)
		funcs["when"] = func(t time.Time) string { return consoleWhen(t, layout) }
		funcs["whenp"] = func(t *time.Time) string {
			if t == nil {
				return "—"
			}
			return consoleWhen(*t, layout)
		}
		t, err := p.theme.parse(name, funcs, "layout.html", "console_nav.html", name+".html")
		if err != nil {
			return nil, templateErr("console", name, err)
		}
		return t, nil
	})
	for _, name := range []string{"console_dashboard", "console_clients", "console_client", "console_secret",
		"console_confirm", "console_users", "console_user", "console_keys", "console_audit"} {
		// Parsed by Pages.LoadTemplates in the default language, in the others on
		// first use (templateSet).
		c.templates.add(name, p.languages.Match(), nil)
	}
	return c, nil
}

// consoleWhen is a moment on a console page, in UTC, in layout; "—" when none.
func consoleWhen(t time.Time, layout string) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(layout)
}

// consoleFuncs are the console's template functions besides the pages' ones; when
// and whenp (moments) are set per language in NewConsole.
var consoleFuncs = template.FuncMap{
	"join":  strings.Join,
	"lines": func(v []string) string { return strings.Join(v, "\n") },
	"has":   slices.Contains[[]string],
	// seg escapes an id for a path segment: a metadata-document client's id is an
	// https URL, whose slashes would otherwise leave its route.
	"seg": url.PathEscape,
}

// Mount adds the console's routes to the page surface.
func (k *Console) Mount(r *Router) {
	g := r.Group(SurfacePage, k.p.pageHeaders, consoleHeaders, boundedQuery)
	g.GET("/admin/callback", k.callback)
	g.GET("/admin", k.page(k.dashboard))
	g.GET("/admin/clients", k.page(k.clientsList))
	g.GET("/admin/clients/new", k.page(k.clientNew))
	g.POST("/admin/clients", k.action(k.clientCreate))
	g.GET("/admin/clients/:id", k.page(k.clientEdit))
	g.POST("/admin/clients/:id", k.action(k.clientUpdate))
	g.POST("/admin/clients/:id/rotate-secret", k.action(k.clientRotate))
	g.GET("/admin/clients/:id/delete", k.page(k.clientDeleteConfirm))
	g.POST("/admin/clients/:id/delete", k.action(k.clientDelete))
	g.GET("/admin/users", k.page(k.usersList))
	g.GET("/admin/users/new", k.page(k.userNew))
	g.POST("/admin/users", k.action(k.userCreate))
	g.GET("/admin/users/:id", k.page(k.userEdit))
	g.POST("/admin/users/:id", k.action(k.userUpdate))
	g.GET("/admin/users/:id/delete", k.page(k.userDeleteConfirm))
	g.POST("/admin/users/:id/delete", k.action(k.userDelete))
	g.POST("/admin/users/:id/reset-mfa", k.action(k.userResetMFA))
	k.mountResources(g)
	g.GET("/admin/keys", k.page(k.keysList))
	g.POST("/admin/keys/rotate", k.action(k.keysRotate))
	g.GET("/admin/audit", k.page(k.auditList))
}

// consoleCSP is the pages' policy without script: no console page runs any (the
// passkey pages need script-src 'self'; the console does not).
const consoleCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func consoleHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Content-Security-Policy", consoleCSP)
		return next(c)
	}
}

// operator is the administrator behind a console request.
type operator struct {
	user    domain.User
	session *domain.Session
	csrf    string
}

// consoleSession is what the console cookie says.
type consoleSession struct {
	userID, sessionID string
	expires           time.Time
}

// sign is payload with its HMAC under the console key, for a cookie.
func (k *Console) sign(payload string) string {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// opened is the payload of a cookie value k.sign made, or false.
func (k *Console) opened(value string) (string, bool) {
	if len(value) > 2048 {
		return "", false
	}
	b64, mac, ok := strings.Cut(value, ".")
	if !ok {
		return "", false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(b64)
	got, err2 := base64.RawURLEncoding.DecodeString(mac)
	if err1 != nil || err2 != nil {
		return "", false
	}
	m := hmac.New(sha256.New, k.key)
	m.Write(payload)
	if !hmac.Equal(got, m.Sum(nil)) {
		return "", false
	}
	return string(payload), true
}

func (k *Console) readCookie(c echo.Context, name string) (string, bool) {
	ck, err := c.Cookie(name)
	if err != nil {
		return "", false
	}
	return k.opened(ck.Value)
}

func (k *Console) setCookie(c echo.Context, name, value string, sameSite http.SameSite) {
	ck := k.p.cookies.cookie(name, value)
	ck.SameSite = sameSite
	if value == "" {
		ck.MaxAge = -1
	}
	c.SetCookie(ck)
}

// session reads the console cookie; false when there is none, or it is forged or old.
func (k *Console) session(c echo.Context) (consoleSession, bool) {
	payload, ok := k.readCookie(c, k.cookie)
	if !ok {
		return consoleSession{}, false
	}
	parts := strings.Split(payload, "|")
	if len(parts) != 4 || parts[0] != "s1" {
		return consoleSession{}, false
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || k.now().Unix() >= exp {
		return consoleSession{}, false
	}
	return consoleSession{userID: parts[1], sessionID: parts[2], expires: time.Unix(exp, 0)}, true
}

// errNotAdmin is the console's refusal of a signed-in user who is no administrator.
var errNotAdmin = errors.New("not an administrator")

// operator checks the console session against the single sign-on session, and the
// user now: present, enabled, in group admin. nil, nil: no console session (sign in).
func (k *Console) operator(c echo.Context) (*operator, error) {
	cs, ok := k.session(c)
	if !ok {
		return nil, nil
	}
	s, err := k.p.session(c)
	if err != nil {
		return nil, err
	}
	if s == nil || subtle.ConstantTimeCompare([]byte(s.ID), []byte(cs.sessionID)) != 1 || s.UserID != cs.userID {
		return nil, nil // signed out, or signed in anew: the console session ended with it
	}
	u, err := k.admin.FindUser(c.Request().Context(), cs.userID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, errNotAdmin
	}
	if err != nil {
		return nil, err
	}
	if u.ID != cs.userID || u.Disabled || !slices.Contains(u.Groups, AdminGroup) {
		return nil, errNotAdmin
	}
	return &operator{user: u, session: s, csrf: k.csrfToken(s)}, nil
}

func (k *Console) csrfToken(s *domain.Session) string { return k.p.csrfToken("console\x00" + s.ID) }

// page wraps a GET handler: a browser without a console session is sent to sign in.
func (k *Console) page(h func(c echo.Context, op *operator) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		op, err := k.operator(c)
		switch {
		case errors.Is(err, errNotAdmin):
			return k.forbidden(c)
		case err != nil:
			return err
		case op == nil:
			return k.signIn(c)
		}
		return k.handle(c, op, h)
	}
}

// action wraps a POST handler: a console session, an administrator, a valid CSRF
// token; what it changes is recorded with the administrator as the actor.
func (k *Console) action(h func(c echo.Context, op *operator, f form) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		op, err := k.operator(c)
		switch {
		case errors.Is(err, errNotAdmin):
			return k.forbidden(c)
		case err != nil:
			return err
		case op == nil:
			return k.renderError(c, http.StatusForbidden, k.t(c, "console.error.session_ended.title"),
				k.t(c, "console.error.session_ended.advice"))
		}
		f, err := parseForm(c)
		if err != nil {
			return err
		}
		if c.Request().Header.Get("Sec-Fetch-Site") == "cross-site" ||
			!hmac.Equal([]byte(f.get(csrfField)), []byte(op.csrf)) || f.get(csrfField) == "" {
			return errCSRF
		}
		return k.handle(c, op, func(c echo.Context, op *operator) error { return h(c, op, f) })
	}
}

// handle runs h with the audit actor set; a missing record is the console's 404.
func (k *Console) handle(c echo.Context, op *operator, h func(c echo.Context, op *operator) error) error {
	ctx := usecase.WithAuditActor(c.Request().Context(), op.user.ID)
	ctx = usecase.WithAuditIP(ctx, c.RealIP())
	c.SetRequest(c.Request().WithContext(ctx))
	err := h(c, op)
	if errors.Is(err, domain.ErrNotFound) {
		return k.renderError(c, http.StatusNotFound, k.t(c, "console.error.not_found.title"), k.t(c, "console.error.not_found.advice"))
	}
	return err
}

func (k *Console) forbidden(c echo.Context) error {
	return k.renderError(c, http.StatusForbidden, k.t(c, "console.error.forbidden.title"),
		k.t(c, "console.error.forbidden.advice"))
}

func (k *Console) renderError(c echo.Context, status int, title, advice string) error {
	v := view{Status: status, Code: "console", Title: title, Description: title + ".", Advice: advice}
	if status == http.StatusForbidden {
		v.Code = "access_denied"
	}
	return k.p.render(c, status, "error", v)
}

// signIn starts the console's authorization request: state in a signed cookie of
// this browser, the PKCE verifier and nonce derived from it under the server key (so
// the cookie holds no secret of its own), and the page to come back to.
func (k *Console) signIn(c echo.Context) error {
	state := newCookieSecret()
	back := c.Request().URL.Path
	if q := c.Request().URL.RawQuery; q != "" && len(q) < 1024 {
		back += "?" + q
	}
	if !consoleReturnPath(back) {
		back = "/admin"
	}
	exp := k.now().Add(consoleLoginTTL).Unix()
	k.setCookie(c, k.login, k.sign("l1|"+state+"|"+strconv.FormatInt(exp, 10)+"|"+back), http.SameSiteLaxMode)
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {usecase.ConsoleClientID},
		"redirect_uri":          {usecase.ConsoleRedirectURI(k.p.issuer)},
		"scope":                 {domain.ScopeOpenID},
		"state":                 {state},
		"nonce":                 {k.derive("nonce", state)},
		"code_challenge":        {pkceS256(k.derive("verifier", state))},
		"code_challenge_method": {"S256"},
	}
	return c.Redirect(http.StatusFound, "/oauth/authorize?"+q.Encode())
}

// consoleReturnPath: a console page path of ours, nothing that leaves the console.
func consoleReturnPath(p string) bool {
	return (p == "/admin" || strings.HasPrefix(p, "/admin/") || strings.HasPrefix(p, "/admin?")) &&
		!strings.HasPrefix(p, "/admin/callback") && !strings.ContainsAny(p, "\\\r\n") && !strings.Contains(p, "//")
}

// derive is a value of the sign-in round trip of state, under the console key.
func (k *Console) derive(what, state string) string {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte("gatehouse/console/" + what + "\x00" + state))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func pkceS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// callback is GET /admin/callback: the end of the console's authorization request.
func (k *Console) callback(c echo.Context) error {
	payload, ok := k.readCookie(c, k.login)
	k.setCookie(c, k.login, "", http.SameSiteLaxMode) // one use
	parts := strings.SplitN(payload, "|", 4)
	if !ok || len(parts) != 4 || parts[0] != "l1" {
		return k.renderError(c, http.StatusBadRequest, k.t(c, "console.error.other_browser.title"),
			k.t(c, "console.error.sign_in_again"))
	}
	state, back := parts[1], parts[3]
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || k.now().Unix() >= exp {
		return k.renderError(c, http.StatusBadRequest, k.t(c, "console.error.too_long.title"), k.t(c, "console.error.sign_in_again"))
	}
	if got := c.QueryParam("state"); subtle.ConstantTimeCompare([]byte(got), []byte(state)) != 1 {
		return k.renderError(c, http.StatusBadRequest, k.t(c, "console.error.other_browser.title"),
			k.t(c, "console.error.sign_in_again"))
	}
	if e := c.QueryParam("error"); e != "" {
		return k.renderError(c, http.StatusForbidden, k.t(c, "console.error.not_completed.title"), k.t(c, "console.error.sign_in_again"))
	}
	ctx := c.Request().Context()
	issued, err := k.token.Issue(ctx, usecase.TokenRequest{
		GrantType:   domain.GrantAuthorizationCode,
		Credentials: usecase.Credentials{ClientID: usecase.ConsoleClientID, Method: usecase.AuthMethodNone, Address: c.RealIP()},
		Code:        c.QueryParam("code"), RedirectURI: usecase.ConsoleRedirectURI(k.p.issuer),
		CodeVerifier: k.derive("verifier", state),
	})
	var oe *domain.Error
	if errors.As(err, &oe) {
		return k.renderError(c, http.StatusBadRequest, k.t(c, "console.error.not_completed.title"), k.t(c, "console.error.sign_in_again"))
	}
	if err != nil {
		return err
	}
	claims, err := unverifiedClaims(issued.IDToken)
	if err != nil {
		return fmt.Errorf("console: read the ID token it was just issued: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(claims.Nonce), []byte(k.derive("nonce", state))) != 1 || claims.Subject == "" {
		return k.renderError(c, http.StatusBadRequest, k.t(c, "console.error.not_completed.title"), k.t(c, "console.error.sign_in_again"))
	}
	s, err := k.p.session(c)
	if err != nil {
		return err
	}
	if s == nil || s.ID != claims.SessionID || s.UserID != claims.Subject {
		return k.renderError(c, http.StatusBadRequest, k.t(c, "console.error.not_completed.title"), k.t(c, "console.error.sign_in_again"))
	}
	exp = k.now().Add(consoleSessionTTL).Unix()
	if s.ExpiresAt.Before(time.Unix(exp, 0)) && !s.ExpiresAt.IsZero() {
		exp = s.ExpiresAt.Unix()
	}
	k.setCookie(c, k.cookie, k.sign("s1|"+s.UserID+"|"+s.ID+"|"+strconv.FormatInt(exp, 10)), http.SameSiteStrictMode)
	k.log.InfoContext(ctx, "console sign-in", "user_id", s.UserID, "remote", c.RealIP())
	if !consoleReturnPath(back) {
		back = "/admin"
	}
	return c.Redirect(http.StatusFound, back)
}

type idTokenClaims struct {
	Subject   string `json:"sub"`
	Nonce     string `json:"nonce"`
	SessionID string `json:"sid"`
}

// unverifiedClaims reads an ID token this process has just minted and handed over
// in a function call: it never crossed a network, so there is no signature to
// check against anyone.
func unverifiedClaims(jwt string) (idTokenClaims, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return idTokenClaims{}, errors.New("not a JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return idTokenClaims{}, err
	}
	var out idTokenClaims
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&out); err != nil {
		return idTokenClaims{}, err
	}
	return out, nil
}

// render executes a console page.
func (k *Console) render(c echo.Context, status int, name string, v *consoleView) error {
	lang := k.p.lang(c)
	t, err := k.templates.get(lang, name)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	v.Wide = true
	v.Langs = langLinks(c, lang)
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("console: render %s: %w", name, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// ctxOf is the request's context (with the audit actor and address once handled).
func ctxOf(c echo.Context) context.Context { return c.Request().Context() }

// t is a message of the console in the request's language.
func (k *Console) t(c echo.Context, key string, args ...string) string { return k.p.t(c, key, args...) }
