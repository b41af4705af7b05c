package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
)

// CSRF tokens are synchronizer tokens without server state: an HMAC, under a key
// derived from GATEHOUSE_SECRET_KEY, of what identifies the browser to us: the session
// id once logged in, else the browser-binding cookie. A cross-site page can make the
// browser send the cookies but cannot read the token, and a token of one browser is
// worthless in another (SECURITY S40).

const csrfField = "csrf_token"

// csrfBinding is what a form's token is bound to.
func csrfBinding(s *domain.Session, browser string) string {
	if s != nil {
		return "session\x00" + s.ID
	}
	if browser == "" {
		return ""
	}
	return "browser\x00" + browser
}

func (p *Pages) csrfToken(binding string) string {
	m := hmac.New(sha256.New, p.csrfKey)
	m.Write([]byte("gatehouse/csrf/v1\x00"))
	m.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfValid checks a POSTed form's token in constant time. A browser that says the
// request comes from another site (Sec-Fetch-Site, sent by every current browser) is
// refused as well, whatever the token.
func (p *Pages) csrfValid(c echo.Context, f form, s *domain.Session, browser string) bool {
	if c.Request().Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	binding := csrfBinding(s, browser)
	got := f.get(csrfField)
	if binding == "" || got == "" {
		return false
	}
	return hmac.Equal([]byte(got), []byte(p.csrfToken(binding)))
}
