package httpapi

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// consentGet serves GET /consent: the client's name and each requested scope in words,
// with Allow and Deny.
func (p *Pages) consentGet(c echo.Context) error {
	s, err := p.session(c)
	if err != nil {
		return err
	}
	browser := p.ensureBrowser(c)
	cv, step, err := p.authorize.ConsentPrompt(c.Request().Context(), c.QueryParam(requestIDField), browser, s)
	if err != nil || step.Kind != usecase.StepConsent {
		return p.follow(c, step, err)
	}
	v := view{Title: p.t(c, "consent.title"), CSRF: p.csrfToken(csrfBinding(s, browser)), RequestID: cv.RequestID,
		ClientName: cv.ClientName, Scopes: p.describeScopes(c, cv.Scopes), Resources: cv.Resources, ClientHost: cv.ClientHost, RedirectHost: hostOf(cv.RedirectURI)}
	u, err := p.login.UserOf(c.Request().Context(), *s)
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	v.SignedInAs = u.Username
	allowFormTarget(c, cv.RedirectURI)
	return p.render(c, http.StatusOK, "consent", v)
}

// errChooseAllowOrDeny: a consent form posted without a decision we know.
var errChooseAllowOrDeny = domain.ErrInvalidRequest.WithDescription("choose Allow or Deny")

// consentPost serves POST /consent: decision=allow issues the code, decision=deny
// answers access_denied; both redirect to the client with 303.
func (p *Pages) consentPost(c echo.Context) error {
	f, err := parseForm(c)
	if err != nil {
		return err
	}
	s, err := p.session(c)
	if err != nil {
		return err
	}
	browser := p.browser(c)
	if !p.csrfValid(c, f, s, browser) {
		return errCSRF
	}
	var allow bool
	switch f.get("decision") {
	case "allow":
		allow = true
	case "deny":
	default:
		return errChooseAllowOrDeny
	}
	step, err := p.authorize.Decide(c.Request().Context(), f.get(requestIDField), browser, s, allow)
	return p.follow(c, step, err)
}
