package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// Every error of every request is answered by Classify, then written by the error
// handler (Router.handleError): the use cases return domain errors and know nothing of
// HTTP; the handlers return what they get. A form page that shows an error in its own
// template (the login, sign-up and device forms) still takes its status and
// Retry-After from Classify.

// Surface is how a group of routes answers errors; it is set once where the routes
// are mounted (Router.Group).
type Surface uint8

const (
	// SurfaceJSON: RFC 6749 §5.2 JSON. The token, revocation, introspection, PAR,
	// device authorization and registration endpoints, discovery, health, and any
	// request that matches no route.
	SurfaceJSON Surface = iota
	// SurfaceBearer: a protected resource, /userinfo: JSON with a WWW-Authenticate
	// challenge that names the error (RFC 6750 §3, RFC 9449 §7.1).
	SurfaceBearer
	// SurfacePage: the browser pages and the authorization endpoint: an HTML error
	// page, or a redirect to the client once its redirect URI is trusted.
	SurfacePage
)

// Form is the shape of an answer.
type Form uint8

const (
	FormJSON     Form = iota // {"error","error_description"}, Cache-Control: no-store
	FormPage                 // the HTML error page
	FormRedirect             // 302 (303 after a POST) to the client's redirect URI
)

// Challenge is the WWW-Authenticate header of an answer.
type Challenge uint8

const (
	ChallengeNone Challenge = iota
	// ChallengeBasic: `Basic realm="gatehouse"`, for invalid_client at the
	// authorization server's own endpoints (RFC 6749 §5.2).
	ChallengeBasic
	// ChallengeBearer: `Bearer realm="gatehouse", error=…`, for a refused registration
	// access token (RFC 7592 §2, RFC 6750 §3).
	ChallengeBearer
	// ChallengeResource: the scheme the request used (DPoP for a proof error), the
	// issuer as realm, error and error_description (RFC 6750 §3, RFC 9449 §7.1).
	ChallengeResource
	// ChallengeNoToken: a request without credentials: a Bearer challenge with no
	// error code (RFC 6750 §3.1), and the DPoP algs (RFC 9449 §7.1).
	ChallengeNoToken
)

// Answer is how one error is answered.
type Answer struct {
	Status      int
	Code        string // the RFC error code
	Description string // safe for the client; empty for internal errors
	// RetryAfter, in seconds, is sent as Retry-After when positive.
	RetryAfter int
	Challenge  Challenge
	Form       Form
	// Redirect is the answer for the client, with FormRedirect.
	Redirect *domain.AuthResponse
	// Internal: an error no rule knows; the client sees server_error only, the log
	// the whole chain.
	Internal bool
}

// Errors the HTTP adapter raises itself.
var (
	// errNoToken: a protected resource was called without any access token.
	errNoToken = errors.New("no access token")
	// errCSRF: a form came without a valid CSRF token, or from another site
	// (SECURITY S40).
	errCSRF = errors.New("form without a valid CSRF token")
	// errRegistrationOff: the sign-up page while GATEHOUSE_REGISTRATION_ENABLED is false.
	errRegistrationOff = errors.New("self-service registration is off")
)

// Classify is the only place that maps an error to HTTP: status, code, description,
// headers and form, by the error and the surface of the route that returned it.
func Classify(err error, s Surface) Answer {
	var ae *domain.AuthorizationError
	if s == SurfacePage && errors.As(err, &ae) {
		// RFC 6749 §4.1.2.1: the client and its redirect URI are trusted.
		r := ae.Response()
		return Answer{Status: http.StatusFound, Code: ae.Err.Code, Description: ae.Err.Description,
			Form: FormRedirect, Redirect: &r}
	}
	a := classify(err)
	switch s {
	case SurfacePage:
		a.Form, a.Challenge = FormPage, ChallengeNone
		switch a.Code {
		case domain.ErrInvalidClient.Code:
			a.Status = http.StatusBadRequest // an unknown application (client_id), shown to a person
		case domain.ErrAccessDenied.Code:
			a.Status = http.StatusForbidden // another browser's request, a disabled account
		case domain.ErrInvalidGrant.Code:
			a.Status = http.StatusUnauthorized // a wrong username or password on the login form
		}
	case SurfaceBearer:
		var oe *domain.Error
		if errors.As(err, &oe) {
			a.Challenge = ChallengeResource
			if oe.Code == domain.ErrInvalidDPoPProof.Code {
				a.Status = http.StatusUnauthorized // a resource refuses a bad proof with 401 (RFC 9449 §7.1)
			}
		}
		if errors.Is(err, errNoToken) {
			a.Challenge = ChallengeNoToken
		}
	}
	return a
}

// classify is the answer on the JSON surface, which the other surfaces adjust.
func classify(err error) Answer {
	var te *domain.ThrottledError
	var oe *domain.Error
	var ve *usecase.ValidationError
	var he *echo.HTTPError
	switch {
	case errors.Is(err, errNoToken):
		return Answer{Status: http.StatusUnauthorized, Code: domain.ErrInvalidToken.Code, Description: "missing access token"}
	case errors.Is(err, errCSRF):
		return Answer{Status: http.StatusForbidden, Code: domain.ErrInvalidRequest.Code,
			Description: "This form has expired or did not come from this site. Go back, reload the page and try again."}
	case errors.Is(err, errRegistrationOff):
		return Answer{Status: http.StatusNotFound, Code: "not_found",
			Description: "Self-service registration is turned off on this server. Ask an administrator for an account."}
	case errors.As(err, &te):
		secs := max(int(te.RetryAfter.Seconds()), 1)
		return Answer{Status: http.StatusTooManyRequests, Code: domain.ErrInvalidRequest.Code,
			Description: "too many failed attempts; retry after " + strconv.Itoa(secs) + " seconds", RetryAfter: secs}
	case errors.As(err, &oe):
		return classifyOAuth(oe)
	case errors.Is(err, domain.ErrUnavailable):
		return Answer{Status: http.StatusServiceUnavailable, Code: domain.ErrTemporarilyUnavailable.Code,
			Description: "the service is temporarily unavailable; try again", RetryAfter: 5}
	case errors.Is(err, domain.ErrUserDisabled):
		return Answer{Status: http.StatusForbidden, Code: domain.ErrAccessDenied.Code, Description: err.Error()}
	case errors.As(err, &ve):
		return Answer{Status: http.StatusBadRequest, Code: domain.ErrInvalidRequest.Code, Description: ve.Message}
	case errors.Is(err, domain.ErrUserCodeUnknown), errors.Is(err, domain.ErrUserCodeExpired), errors.Is(err, domain.ErrUserCodeUsed):
		return Answer{Status: http.StatusBadRequest, Code: domain.ErrInvalidRequest.Code, Description: err.Error()}
	case errors.As(err, &he):
		return classifyEcho(he)
	}
	return Answer{Status: http.StatusInternalServerError, Code: domain.ErrServerError.Code, Internal: true}
}

// classifyOAuth: 400 for an OAuth error (RFC 6749 §5.2), but 401 with a challenge
// for a failed client authentication or a refused token.
func classifyOAuth(oe *domain.Error) Answer {
	a := Answer{Status: http.StatusBadRequest, Code: oe.Code, Description: oe.Description}
	switch oe.Code {
	case domain.ErrInvalidClient.Code:
		a.Status, a.Challenge = http.StatusUnauthorized, ChallengeBasic
	case domain.ErrInvalidToken.Code:
		a.Status, a.Challenge = http.StatusUnauthorized, ChallengeBearer
	case domain.ErrInsufficientScope.Code:
		a.Status = http.StatusForbidden
	case domain.ErrServerError.Code:
		a.Status, a.Description = http.StatusInternalServerError, ""
	case domain.ErrTemporarilyUnavailable.Code:
		a.Status = http.StatusServiceUnavailable
	}
	return a
}

// classifyEcho answers Echo's own errors (no route, wrong method, body too large) by
// their status; a 5xx of Echo's is a server_error like any other.
func classifyEcho(he *echo.HTTPError) Answer {
	if he.Code >= 500 {
		return Answer{Status: http.StatusInternalServerError, Code: domain.ErrServerError.Code, Internal: true}
	}
	code, msg := domain.ErrInvalidRequest.Code, http.StatusText(he.Code)
	switch he.Code {
	case http.StatusNotFound:
		code = "not_found"
	case http.StatusMethodNotAllowed:
		msg = "method not allowed"
	case http.StatusRequestEntityTooLarge:
		msg = "request body too large"
	}
	return Answer{Status: he.Code, Code: code, Description: strings.ToLower(msg)}
}

// oauthError is the RFC 6749 §5.2 error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// Responder writes answers. Pages renders the error page; nil answers pages with JSON.
type Responder struct {
	Log   *slog.Logger
	Pages PageMounter
	// Issuer is the iss of error redirects (RFC 9207) and the realm of a protected
	// resource's challenges.
	Issuer string
	// DPoPAlgs are named in the challenge of a resource called without a token.
	DPoPAlgs []string
}

// ctxDPoPScheme marks a request that presented its access token with the DPoP scheme:
// a refusal then challenges with DPoP too (RFC 9449 §7.1).
const ctxDPoPScheme = "gatehouse.dpop_scheme"

// write sends a: JSON with no-store, the error page, or a redirect to the client.
// Answers with a 5xx status are logged with the error, which never reaches the client.
func (r Responder) write(c echo.Context, err error, a Answer) {
	if a.Status >= 500 {
		r.Log.ErrorContext(c.Request().Context(), "request failed",
			"err", err, "route", c.Path(), "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	}
	setAnswerHeaders(c, a)
	switch {
	case a.Form == FormRedirect:
		_ = c.Redirect(redirectStatus(c), responseURL(r.Issuer, *a.Redirect))
		return
	case a.Form == FormPage && r.Pages != nil:
		r.Pages.RenderError(c, a.Status, a.Code, a.Description)
		return
	}
	h := c.Response().Header()
	switch a.Challenge {
	case ChallengeBasic:
		h.Set("WWW-Authenticate", `Basic realm="gatehouse", charset="UTF-8"`)
	case ChallengeBearer:
		if c.Request().Header.Get(echo.HeaderAuthorization) == "" {
			// No credentials at all: a challenge without an error code (RFC 6750 §3.1).
			h.Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
			break
		}
		h.Set("WWW-Authenticate", `Bearer realm="gatehouse", error="`+a.Code+`"`)
	case ChallengeResource:
		scheme, algs := "Bearer", ""
		if dpop, _ := c.Get(ctxDPoPScheme).(bool); dpop || a.Code == domain.ErrInvalidDPoPProof.Code {
			// With the algorithms a proof may use (RFC 9449 §7.1).
			scheme, algs = "DPoP", `, algs="`+strings.Join(r.DPoPAlgs, " ")+`"`
		}
		h.Set("WWW-Authenticate", scheme+` realm="`+r.Issuer+`", error="`+a.Code+
			`", error_description="`+strings.ReplaceAll(a.Description, `"`, `'`)+`"`+algs)
	case ChallengeNoToken:
		h.Set("WWW-Authenticate", `Bearer realm="`+r.Issuer+`"`)
		h.Add("WWW-Authenticate", `DPoP algs="`+strings.Join(r.DPoPAlgs, " ")+`"`)
	}
	noStore(c)
	// Also for HEAD: the same headers as GET's answer; net/http drops the body.
	_ = c.JSON(a.Status, oauthError{Error: a.Code, Description: a.Description})
}

// setAnswerHeaders sets the headers of a that every form carries (Retry-After).
func setAnswerHeaders(c echo.Context, a Answer) {
	if a.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(a.RetryAfter))
	}
}

// redirectStatus is 303 after a POST (SECURITY S42), else 302.
func redirectStatus(c echo.Context) int {
	if c.Request().Method == http.MethodPost {
		return http.StatusSeeOther
	}
	return http.StatusFound
}

// noStore sets the caching headers every token-endpoint answer needs (RFC 6749 §5.1).
func noStore(c echo.Context) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}
