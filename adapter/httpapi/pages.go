package httpapi

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// PageConfig is what the pages need from the configuration.
type PageConfig struct {
	Issuer              string
	RegistrationEnabled bool
	// CSRFKey keys the CSRF token HMAC (the cookie-signing key derived from
	// GATEHOUSE_SECRET_KEY); at least 32 bytes.
	CSRFKey []byte
	// Brand and TemplatesDir: the pages' look (issue 25; GATEHOUSE_BRAND_*,
	// GATEHOUSE_TEMPLATES_DIR).
	Brand        Brand
	TemplatesDir string
	// Languages are the message catalogs the pages speak (GATEHOUSE_DEFAULT_LOCALE
	// is theirs).
	Languages Languages
}

// Pages serves the authorization endpoint and the browser pages: login, consent,
// registration, logout and a small home page. It implements PageMounter.
type Pages struct {
	authorize  *usecase.Authorize
	login      *usecase.Login
	endSession *usecase.EndSession
	accounts   *usecase.Accounts
	apps       *usecase.ConnectedApps
	factors    *usecase.Factors
	upstreams  *usecase.Upstreams
	// scopes are the operator's scope descriptions (gatehouse scopes); nil: none.
	scopes       *usecase.Scopes
	log          *slog.Logger
	issuer       string
	cookies      cookieNames
	csrfKey      []byte
	registration bool
	templates    *templateSet
	// sets are every templateSet of the pages, the device pages and the console
	// (LoadTemplates).
	sets      []*templateSet
	static    map[string]staticFile
	theme     *theme
	csp       string // the pages' Content-Security-Policy (theme.csp)
	languages Languages
}

var _ PageMounter = (*Pages)(nil)

type staticFile struct {
	body        []byte
	contentType string
}

// NewPages builds the pages; LoadTemplates parses and checks their templates.
func NewPages(cfg PageConfig, authorize *usecase.Authorize, login *usecase.Login, endSession *usecase.EndSession,
	accounts *usecase.Accounts, apps *usecase.ConnectedApps, factors *usecase.Factors, log *slog.Logger,
	upstreams *usecase.Upstreams, scopes *usecase.Scopes) (*Pages, error) {
	if len(cfg.CSRFKey) < 32 {
		return nil, fmt.Errorf("pages: the CSRF key must have at least 32 bytes")
	}
	if cfg.Languages == nil {
		return nil, fmt.Errorf("pages: no message catalogs")
	}
	p := &Pages{
		authorize: authorize, login: login, endSession: endSession, accounts: accounts, apps: apps, factors: factors, upstreams: upstreams, scopes: scopes, log: log, issuer: cfg.Issuer,
		cookies: newCookieNames(cfg.Issuer), csrfKey: cfg.CSRFKey, registration: cfg.RegistrationEnabled,
		static: map[string]staticFile{}, languages: cfg.Languages,
	}
	th, err := newTheme(cfg.Brand, cfg.TemplatesDir)
	if err != nil {
		return nil, err
	}
	p.theme, p.csp = th, th.csp()
	p.templates = p.pageTemplates()
	for _, name := range []string{"login", "consent", "register", "logout", "home", "error",
		"verify_email", "verify_required", "forgot_password", "reset_password", "notice", "account", "confirm_email",
		"mfa", "mfa_enrol", "totp_setup", "recovery_codes"} {
		p.addPage(p.templates, name, view{})
	}
	if p.static, err = th.static(); err != nil {
		return nil, err
	}
	return p, nil
}

// Mount registers the routes, on the page surface but for the stylesheet and icon.
// The seed's /oauth/authenticate stays an alias of /oauth/authorize.
//
// The page headers are route middleware, not a root Group's: Group.Use registers a
// catch-all "/*" route, which would answer every wrong method on every other endpoint
// (GET /oauth/token, say) 404 instead of 405.
func (p *Pages) Mount(r *Router) {
	g := r.Group(SurfacePage, p.pageHeaders)
	for _, path := range []string{"/oauth/authorize", "/oauth/authenticate"} {
		g.GET(path, p.authorizeGet)
		g.POST(path, p.authorizePost)
	}
	g.GET("/login", p.loginGet, boundedQuery)
	g.POST("/login", p.loginPost)
	g.POST("/login/switch", p.switchAccount) // issue 25: "Not you?"
	g.GET("/consent", p.consentGet, boundedQuery)
	g.POST("/consent", p.consentPost)
	g.GET("/register", p.registerGet, boundedQuery)
	g.POST("/register", p.registerPost)
	g.GET("/verify-email", p.verifyEmailGet, boundedQuery)
	g.POST("/verify-email", p.verifyEmailPost)
	g.POST("/verify-email/resend", p.verifyEmailResend)
	g.GET("/forgot-password", p.forgotPasswordGet, boundedQuery)
	g.POST("/forgot-password", p.forgotPasswordPost)
	g.GET("/reset-password", p.resetPasswordGet, boundedQuery)
	g.POST("/reset-password", p.resetPasswordPost)
	g.GET("/account", p.accountGet, boundedQuery)
	g.POST("/account/password", p.signedIn(p.accountPasswordPost))
	g.POST("/account/sessions/end", p.signedIn(p.accountSessionsEnd))
	g.POST("/account/email", p.signedIn(p.accountEmailPost))
	g.POST("/account/profile", p.signedIn(p.accountProfilePost))
	g.GET("/confirm-email", p.confirmEmailGet, boundedQuery)
	g.POST("/confirm-email", p.confirmEmailPost)
	g.POST("/account/apps/revoke", p.signedIn(p.accountAppsRevoke))
	g.GET("/login/mfa", p.mfaGet, boundedQuery)
	g.POST("/login/mfa", p.mfaPost)
	g.POST("/account/totp", p.signedIn(p.totpBegin))
	g.POST("/account/totp/confirm", p.signedIn(p.totpConfirm))
	g.POST("/account/totp/remove", p.signedIn(p.totpRemove))
	g.POST("/login/passkey", p.passkeyLoginPost)
	g.POST("/account/passkeys", p.signedIn(p.passkeyAdd))
	g.POST("/account/passkeys/remove", p.signedIn(p.passkeyRemove))
	// Upstream identity providers (issue 22).
	g.GET("/login/upstream/:id", p.upstreamStart, boundedQuery)
	g.GET("/login/upstream/:id/callback", p.upstreamCallback, boundedQuery)
	g.POST("/account/upstreams/link", p.signedIn(p.accountUpstreamLink))
	g.POST("/account/upstreams/unlink", p.signedIn(p.accountUpstreamUnlink))
	g.GET("/logout", p.logoutGet)
	g.POST("/logout", p.logoutPost)
	g.GET("/", p.home)
	r.Group(SurfaceJSON).GET("/static/:name", p.staticFile)
}

// boundedQuery refuses a page whose query holds a parameter over its limit
// (domain.ParamLimit) before the page reads it. The authorization endpoint and the
// logout page check their own parameters: they answer a client, not just a browser.
func boundedQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		for k, vs := range c.QueryParams() {
			for _, v := range vs {
				if err := domain.CheckParam(k, v); err != nil {
					return err
				}
			}
		}
		return next(c)
	}
}

// baseCSP is the pages' Content-Security-Policy without a brand logo (theme.csp).
const baseCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// setPageHeaders sets the headers every page and page redirect carries: no framing,
// no referrer (page URLs carry request ids; redirects carry codes), no caching.
// No CORS header is ever set (SECURITY S8).
func setPageHeaders(h http.Header, csp string) {
	if csp == "" {
		csp = baseCSP
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
}

func (p *Pages) pageHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		setPageHeaders(c.Response().Header(), p.csp)
		// Where what a page does comes from, for the audit log: a form's changes, and
		// what a link does too (an upstream sign-in that fails to start is audited on
		// its GET).
		c.SetRequest(c.Request().WithContext(usecase.WithAuditIP(c.Request().Context(), c.RealIP())))
		return next(c)
	}
}

// allowFormTarget widens form-action to the client's redirect URI: browsers apply
// form-action to the redirects that follow a form submission (CSP3 §6.3.1), and the
// consent and login forms end in a redirect to the client.
func allowFormTarget(c echo.Context, redirectURI string) {
	src := cspSource(redirectURI)
	if src == "" {
		return
	}
	csp := c.Response().Header().Get("Content-Security-Policy")
	if csp == "" {
		csp = baseCSP
	}
	c.Response().Header().Set("Content-Security-Policy",
		strings.Replace(csp, "form-action 'self'", "form-action 'self' "+src, 1))
}

// cspSource is the CSP source expression of a redirect URI's origin (or scheme, for a
// native app's private-use scheme), or "" when it cannot be expressed safely.
func cspSource(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil || u.Scheme == "" {
		return ""
	}
	src := u.Scheme + ":"
	if u.Host != "" {
		src = u.Scheme + "://" + u.Host
	}
	for _, r := range src {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-+:/[]", r)) {
			return ""
		}
	}
	return src
}

// view is everything a page template may show. html/template escapes every value
// for its context (SECURITY S43).
type view struct {
	Title string
	// Wide: the page is wide (the admin console's layout).
	Wide         bool
	CSRF         string
	RequestID    string
	ClientName   string
	RedirectHost string
	SignedInAs   string
	Error        string
	Notice       string
	Fields       map[string]string // field name -> error next to it
	Username     string
	Email        string
	Scopes       []usecase.ScopeView
	// Resources are the open protected resources a consent would let the client reach.
	Resources []usecase.ResourceView
	// ClientHost: the host a metadata-document client's client_id names.
	ClientHost          string
	RegistrationEnabled bool
	Status              int
	Code                string
	Description         string
	Advice              string
	// UserCode is the device user code a login page returns to /device with.
	UserCode string
	// Hidden are extra hidden form fields (the logout request's parameters).
	Hidden []hiddenField
	// Token is a mailed link's secret, carried from its GET page to its form.
	Token string
	// Link and LinkLabel: the one way on from a notice page.
	Link, LinkLabel string
	// EmailVerified: the account page's user has verified their address.
	EmailVerified bool
	// Sessions are the account page's list of the user's browser sessions.
	Sessions []sessionView
	// NewEmail is the address typed into the account page's email change form.
	NewEmail string
	// Apps are the account page's connected apps.
	Apps []appView
	// Profile is the account page's profile form: the user's claims, or what was
	// typed when the form is shown again with an error.
	Profile domain.Profile
	// MFA are the account page's second factors; Fresh: the session signed in less
	// than 5 minutes ago, so changing them needs no password.
	MFA   usecase.FactorStatus
	Fresh bool
	// QR (a data: URI of a PNG), Secret and OTPURI: an authenticator app's enrolment.
	QR             template.URL
	Secret, OTPURI string
	// RecoveryCodes are shown once, after an enrolment.
	RecoveryCodes []string
	// Passkey is the page's passkey ceremony (zero: no passkey offered); PasskeyOnly:
	// the sign-in needs a passkey (acr phr), no other factor is offered; HasTOTP: the
	// second-factor page offers the authenticator app.
	Passkey     usecase.PasskeyChallenge
	PasskeyOnly bool
	HasTOTP     bool
	// PasskeyFailed: a passkey was just refused; the login page then does not offer
	// its passkeys in the username field's autofill again by itself.
	PasskeyFailed bool
	// Passkeys are the account page's passkeys.
	Passkeys []passkeyView
	// StillSignsIn: after a password reset, the passkeys and linked accounts that
	// still sign the user in without the password, described; StillAdvice, what to
	// do about them.
	StillSignsIn []string
	StillAdvice  []string
	// Upstreams are the login page's "Continue with NAME" buttons;
	// LinkedIdentities and LinkableUpstreams the account page's (issue 22).
	Upstreams         []upstreamButton
	LinkedIdentities  []linkedView
	LinkableUpstreams []upstreamButton
	// NoPassword: the account page's user has no password (made through an
	// upstream): the password form sets one, without a current password.
	NoPassword bool
	// Langs are the footer's language switcher.
	Langs []langLink
}

type hiddenField struct{ Name, Value string }

// render executes a page into a buffer first, so that a template failure never sends
// half a page.
func (p *Pages) render(c echo.Context, status int, name string, v view) error {
	lang := p.lang(c)
	t, err := p.templates.get(lang, name)
	if err != nil {
		return fmt.Errorf("pages: %w", err)
	}
	v.RegistrationEnabled = v.RegistrationEnabled || p.registration
	v.Langs = langLinks(c, lang)
	b, err := p.execute(t, v)
	if err != nil {
		return fmt.Errorf("pages: render %s: %w", name, err)
	}
	return c.HTMLBlob(status, b)
}

// RenderError shows an error as an HTML page with the status Classify chose. Internal
// failures (5xx) get a generic message whatever their description: no internal detail
// or stack trace ever reaches the page.
func (p *Pages) RenderError(c echo.Context, status int, code, description string) {
	setPageHeaders(c.Response().Header(), p.csp)
	// Also for HEAD: the same headers as GET's answer; net/http drops the body.
	v := view{Status: status, Code: code, Title: p.t(c, errorTitle(status)), Description: p.say(c, description)}
	english := description // the advice depends on what the use case said
	if status >= 500 || v.Description == "" {
		v.Description = p.t(c, errorMessage(status))
		english = errorMessage(status)
	}
	switch {
	case strings.Contains(english, "again") || english == "error.message.unavailable" || english == "error.message.internal":
	case status == http.StatusBadRequest || status == http.StatusForbidden:
		v.Advice = p.t(c, "error.advice.start_again")
	case status == http.StatusTooManyRequests || status >= 500:
		v.Advice = p.t(c, "error.advice.wait")
	}
	if err := p.render(c, status, "error", v); err != nil {
		p.log.ErrorContext(c.Request().Context(), "render error page", "err", err)
		_ = c.String(status, v.Title+"\n")
	}
}

func errorTitle(status int) string {
	switch {
	case status == http.StatusNotFound:
		return "error.title.not_found"
	case status == http.StatusForbidden:
		return "error.title.forbidden"
	case status == http.StatusTooManyRequests:
		return "error.title.too_many"
	case status == http.StatusServiceUnavailable:
		return "error.title.unavailable"
	case status >= 500:
		return "error.title.internal"
	}
	return "error.title.bad_request"
}

func errorMessage(status int) string {
	switch {
	case status == http.StatusNotFound:
		return "error.message.not_found"
	case status == http.StatusServiceUnavailable:
		return "error.message.unavailable"
	case status >= 500:
		return "error.message.internal"
	}
	return "error.message.bad_request"
}

// follow sends the browser where a step says: the login or consent page, or back to
// the client; an error goes to the error handler (Classify: a page, or a redirect to
// the client). Redirects are 302 after a GET and 303 after a POST (SECURITY S42).
// Every target is either one of our fixed paths with a stored request id, or a
// redirect URI the client registered: there is no user-supplied return URL (no open
// redirect).
func (p *Pages) follow(c echo.Context, step usecase.Step, err error) error {
	if err != nil {
		return err
	}
	switch step.Kind {
	case usecase.StepLogin:
		return c.Redirect(redirectStatus(c), "/login?req="+url.QueryEscape(step.RequestID))
	case usecase.StepConsent:
		return c.Redirect(redirectStatus(c), "/consent?req="+url.QueryEscape(step.RequestID))
	case usecase.StepVerifyEmail:
		return c.Redirect(redirectStatus(c), "/verify-email?req="+url.QueryEscape(step.RequestID))
	case usecase.StepSecondFactor:
		return c.Redirect(redirectStatus(c), "/login/mfa?req="+url.QueryEscape(step.RequestID))
	case usecase.StepRedirect:
		return c.Redirect(redirectStatus(c), responseURL(p.issuer, step.Response))
	}
	return fmt.Errorf("pages: unknown step %d", step.Kind)
}

// sentence capitalises a use-case description for a page.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// hostOf is the host a redirect URI points at, shown on the consent page so the user
// can see where they will be sent.
func hostOf(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return ""
	}
	if u.Host != "" {
		return u.Host
	}
	return u.Scheme
}

// home is GET /: who is logged in, with a way out.
func (p *Pages) home(c echo.Context) error {
	s, err := p.session(c)
	if err != nil {
		return err
	}
	v := view{Title: "Gatehouse"}
	if c.QueryParam("signed_out") == "1" && s == nil {
		v.Notice = p.t(c, "home.signed_out")
	}
	if s != nil {
		u, err := p.login.UserOf(c.Request().Context(), *s)
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			return err
		}
		v.SignedInAs = u.Username
	}
	return p.render(c, http.StatusOK, "home", v)
}

// staticFile serves the stylesheet (embedded or GATEHOUSE_TEMPLATES_DIR's), the
// brand's brand.css, the icon and the passkeys' script.
func (p *Pages) staticFile(c echo.Context) error {
	f, ok := p.static[c.Param("name")]
	if !ok {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, f.contentType, f.body)
}
