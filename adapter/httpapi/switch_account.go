package httpapi

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

// switchAccount serves POST /login/switch, the consent pages' "Not you? Sign out"
// (issue 25): it ends the browser's session and sends the browser to the login page of
// the same pending authorization request (req) or device user code (user_code), so the
// application's sign-in continues with another account instead of being dropped.
// A POST with the CSRF token, like /logout: a link could sign anyone out.
func (p *Pages) switchAccount(c echo.Context) error {
	f, err := parseForm(c)
	if err != nil {
		return err
	}
	s, err := p.session(c)
	if err != nil {
		return err
	}
	browser := p.browser(c)
	target := "/login"
	if id := f.get(requestIDField); id != "" {
		// Only a request this browser started: anything else is the usual error page,
		// and the session stays.
		if _, err := p.pendingFor(c, id, browser); err != nil {
			return err
		}
		target = "/login?" + requestIDField + "=" + url.QueryEscape(id)
	} else if path, code := deviceReturn(f.get(userCodeField)); path != "" {
		target = "/login?" + userCodeField + "=" + url.QueryEscape(code)
	}
	if s != nil {
		if !p.csrfValid(c, f, s, browser) {
			return errCSRF
		}
		if err := p.login.LogOut(c.Request().Context(), *s); err != nil {
			return err
		}
		p.clearSession(c)
		p.log.InfoContext(c.Request().Context(), "user signed out to switch account", "user_id", s.UserID)
	}
	return c.Redirect(http.StatusSeeOther, target)
}
