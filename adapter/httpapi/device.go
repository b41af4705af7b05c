package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// DeviceHandler serves the device authorization grant (RFC 8628): the device
// authorization endpoint (POST /oauth/device_authorization, §3.1) and the verification
// page (GET, POST /device, §3.3) where the user enters the user code, logs in through
// the login page, and approves or denies. The device's polling is a grant of the
// token endpoint (usecase.DeviceCodeGrant).
type DeviceHandler struct {
	device    *usecase.Device
	pages     *Pages // nil: the endpoint only, no page
	templates *templateSet
}

const userCodeField = "user_code"

// NewDeviceHandler builds the device endpoint and pages (Pages.LoadTemplates loads
// their templates).
func NewDeviceHandler(device *usecase.Device, pages *Pages) (*DeviceHandler, error) {
	h := &DeviceHandler{device: device, pages: pages}
	if pages == nil {
		return h, nil // the endpoint alone: no verification page (Mount)
	}
	h.templates = pages.pageTemplates()
	for _, name := range []string{"device", "device_consent", "device_done"} {
		pages.addPage(h.templates, name, deviceView{})
	}
	return h, nil
}

// Mount registers the endpoint and, when there are pages, the verification page with
// the pages' headers.
func (h *DeviceHandler) Mount(r *Router) {
	r.Group(SurfaceJSON).POST("/oauth/device_authorization", h.Authorize)
	if h.pages == nil {
		return
	}
	g := r.Group(SurfacePage, h.pages.pageHeaders)
	g.GET("/device", h.pageGet, boundedQuery)
	g.POST("/device", h.pagePost)
}

// deviceAuthorizationResponse is RFC 8628 §3.2.
type deviceAuthorizationResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// Authorize serves POST /oauth/device_authorization: a confidential client
// authenticates as at the token endpoint; a public client sends its client_id.
// Errors are RFC 6749 §5.2 JSON, like the token endpoint's.
func (h *DeviceHandler) Authorize(c echo.Context) error {
	f, cr, err := clientForm(c)
	if err != nil {
		return err
	}
	got, err := h.device.Authorize(c.Request().Context(), usecase.DeviceAuthorizationRequest{
		Credentials: cr, Scope: f.get("scope"), Resource: f.resources,
	})
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, deviceAuthorizationResponse{
		DeviceCode: got.DeviceCode, UserCode: got.UserCode,
		VerificationURI: got.VerificationURI, VerificationURIComplete: got.VerificationURIComplete,
		ExpiresIn: int64(got.ExpiresIn.Seconds()), Interval: int64(got.Interval.Seconds()),
	})
}

// deviceReturn is where a login started from the device page goes back to: the device
// page with the user code, and the code as shown; both "" when typed is not a
// well-formed user code. The path is fixed, so no caller-chosen URL is ever followed
// (no open redirect, SECURITY S42).
func deviceReturn(typed string) (path, code string) {
	n, ok := domain.NormalizeUserCode(typed)
	if !ok {
		return "", ""
	}
	code = domain.FormatUserCode(n)
	return "/device?" + userCodeField + "=" + url.QueryEscape(code), code
}

// deviceView is what the device page templates show; html/template escapes every
// value for its context (SECURITY S43).
type deviceView struct {
	Langs      []langLink // the footer's language switcher
	Title      string
	Wide       bool // the layout's wide shell; never for the device pages
	CSRF       string
	UserCode   string
	Error      string
	ClientName string
	Scopes     []usecase.ScopeView
	SignedInAs string
	Approved   bool
}

// render executes a page into a buffer first, so a template failure never sends half
// a page.
func (h *DeviceHandler) render(c echo.Context, status int, name string, v deviceView) error {
	lang := h.pages.lang(c)
	v.Langs = langLinks(c, lang)
	t, err := h.templates.get(lang, name)
	if err != nil {
		return fmt.Errorf("device page: %w", err)
	}
	b, err := h.pages.execute(t, v)
	if err != nil {
		return fmt.Errorf("device page: render %s: %w", name, err)
	}
	return c.HTMLBlob(status, b)
}

// codeForm renders the code entry form, with an error message when one is given.
func (h *DeviceHandler) codeForm(c echo.Context, status int, s *domain.Session, browser, code, msg string) error {
	return h.render(c, status, "device", deviceView{Title: h.pages.t(c, "device.title"),
		CSRF: h.pages.csrfToken(csrfBinding(s, browser)), UserCode: code, Error: msg})
}

// codeError shows why a user code cannot be used, on the code form: a clear message
// for each case, with the status and Retry-After of Classify (429 while the address
// is throttled). Anything else goes to the error handler.
func (h *DeviceHandler) codeError(c echo.Context, s *domain.Session, browser, typed string, err error) error {
	a := Classify(err, SurfacePage)
	var msg string
	switch {
	case a.Status == http.StatusTooManyRequests:
		msg = h.pages.t(c, "device.error.too_many", "Seconds", strconv.Itoa(a.RetryAfter))
	case errors.Is(err, domain.ErrUserCodeUnknown):
		msg = h.pages.t(c, "device.error.invalid")
	case errors.Is(err, domain.ErrUserCodeExpired):
		typed, msg = "", h.pages.t(c, "device.error.expired")
	case errors.Is(err, domain.ErrUserCodeUsed):
		typed, msg = "", h.pages.t(c, "device.error.used")
	case errors.Is(err, domain.ErrUserDisabled):
		typed, msg = "", msgDisabled
	default:
		return err
	}
	setAnswerHeaders(c, a)
	return h.codeForm(c, a.Status, s, browser, typed, msg)
}

// pageGet serves GET /device: the code form, or, with ?user_code= (the
// verification_uri_complete link, or the way back from the login page), the
// confirmation of that code's client and scopes; without a session it goes through
// the login page first.
func (h *DeviceHandler) pageGet(c echo.Context) error {
	s, err := h.pages.session(c)
	if err != nil {
		return err
	}
	browser := h.pages.ensureBrowser(c)
	typed := c.QueryParam(userCodeField)
	if typed == "" {
		return h.codeForm(c, http.StatusOK, s, browser, "", "")
	}
	p, err := h.device.Lookup(c.Request().Context(), typed, c.RealIP())
	if err != nil {
		return h.codeError(c, s, browser, typed, err)
	}
	if s == nil {
		return c.Redirect(http.StatusFound, "/login?"+userCodeField+"="+url.QueryEscape(p.UserCode))
	}
	if h.device.NeedsSecondFactor(*s, p.Client) {
		return c.Redirect(http.StatusFound, "/login/mfa?"+userCodeField+"="+url.QueryEscape(p.UserCode))
	}
	return h.confirm(c, s, browser, p)
}

// confirm shows the consent page for a device: the client, each scope in words, and
// the code, so the user can check it matches the device in front of them. It is shown
// every time, even for clients that skip consent: a user code may come from an
// attacker hoping to have their own device approved (RFC 8628 §5.4).
func (h *DeviceHandler) confirm(c echo.Context, s *domain.Session, browser string, p usecase.DevicePrompt) error {
	v := deviceView{Title: h.pages.t(c, "consent.title"), CSRF: h.pages.csrfToken(csrfBinding(s, browser)),
		UserCode: p.UserCode, ClientName: p.Client.Name}
	scopes := make([]usecase.ScopeView, 0, len(p.Scope))
	for _, sc := range p.Scope {
		scopes = append(scopes, usecase.ScopeView{Name: sc})
	}
	v.Scopes = h.pages.describeScopes(c, scopes)
	u, err := h.pages.login.UserOf(c.Request().Context(), *s)
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	v.SignedInAs = u.Username
	return h.render(c, http.StatusOK, "device_consent", v)
}

// pagePost serves POST /device: the code form (no decision) goes on to the
// confirmation, through the login page when needed; decision=allow or deny settles
// the device authorization, once, and says the user may return to the device.
func (h *DeviceHandler) pagePost(c echo.Context) error {
	f, err := parseForm(c)
	if err != nil {
		return err
	}
	s, err := h.pages.session(c)
	if err != nil {
		return err
	}
	browser := h.pages.browser(c)
	if !h.pages.csrfValid(c, f, s, browser) {
		return errCSRF
	}
	typed := f.get(userCodeField)
	if typed == "" {
		return h.codeForm(c, http.StatusBadRequest, s, browser, "", h.pages.t(c, "device.error.empty"))
	}
	ctx, addr := c.Request().Context(), c.RealIP()
	decision := f.get("decision")
	if decision != "" && decision != "allow" && decision != "deny" {
		return errChooseAllowOrDeny
	}
	if decision == "" || s == nil {
		// The code form, or a decision from a browser whose session ended meanwhile:
		// check the code, then confirm it (after logging in).
		p, err := h.device.Lookup(ctx, typed, addr)
		if err != nil {
			return h.codeError(c, s, browser, typed, err)
		}
		if s == nil {
			return c.Redirect(http.StatusSeeOther, "/login?"+userCodeField+"="+url.QueryEscape(p.UserCode))
		}
		path, _ := deviceReturn(p.UserCode)
		return c.Redirect(http.StatusSeeOther, path)
	}
	var p usecase.DevicePrompt
	if decision == "allow" {
		p, err = h.device.Approve(ctx, typed, addr, *s)
		if errors.Is(err, usecase.ErrDeviceNeedsSecondFactor) {
			return c.Redirect(http.StatusSeeOther, "/login/mfa?"+userCodeField+"="+url.QueryEscape(typed))
		}
		if errors.Is(err, usecase.ErrDeviceNeedsVerifiedEmail) {
			// The "verify your email" page, with its resend button; the device waits
			// (authorization_pending) until the user comes back and approves it.
			return c.Redirect(http.StatusSeeOther, "/verify-email")
		}
	} else {
		p, err = h.device.Deny(ctx, typed, addr)
	}
	if err != nil {
		return h.codeError(c, s, browser, typed, err)
	}
	// Ids only: the codes are credentials and stay out of the log (SECURITY S46).
	h.pages.log.InfoContext(ctx, "device authorization decided", "client_id", p.Client.ID,
		"user_id", s.UserID, "approved", decision == "allow")
	return h.render(c, http.StatusOK, "device_done", deviceView{Title: h.pages.t(c, "device.done_title"),
		ClientName: p.Client.Name, UserCode: p.UserCode, Approved: decision == "allow"})
}
