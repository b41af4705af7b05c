package httpapi

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// Two cookies, both random 256-bit secrets that the server keeps only as keyed
// hashes:
//   - the session cookie names a login (domain.Session);
//   - the browser cookie binds pending authorization requests and, before login, CSRF
//     tokens to this browser (SECURITY S40).
//
// Both are HttpOnly, SameSite=Lax (the authorization request arrives as a top-level
// GET from the client's site, so Strict would lose them), Secure when the issuer is
// https, and then carry the __Host- prefix, which makes the browser refuse them unless
// they are Secure, host-only and for path / (RFC 6265bis §4.1.3.2).
// They have no Max-Age: they end with the browser; the server ends sessions sooner.
type cookieNames struct {
	session, browser string
	// mfa holds the sealed pending second-factor state (usecase.Factors): no session.
	mfa string
	// known marks a browser that gave a user's right password (Login.KnownBrowserMark).
	known string
	// knownFactor marks a browser that passed a user's second factor
	// (Factors.KnownFactorMark).
	knownFactor string
	secure      bool
}

func newCookieNames(issuer string) cookieNames {
	secure := strings.HasPrefix(strings.ToLower(issuer), "https://")
	if secure {
		return cookieNames{session: "__Host-gatehouse_session", browser: "__Host-gatehouse_browser", mfa: "__Host-gatehouse_mfa",
			known: "__Host-gatehouse_known", knownFactor: "__Host-gatehouse_known_factor", secure: true}
	}
	return cookieNames{session: "gatehouse_session", browser: "gatehouse_browser", mfa: "gatehouse_mfa", known: "gatehouse_known",
		knownFactor: "gatehouse_known_factor"}
}

// knownBrowserLifetime is how long a browser keeps its marks: as long as they serve.
const knownBrowserLifetime = usecase.KnownMarkLifetime

// knownMark is the browser's known-browser mark, "" when it has none.
func (p *Pages) knownMark(c echo.Context) string { return p.markIn(c, p.cookies.known) }

// knownFactorMark is the browser's known-factor mark, "" when it has none.
func (p *Pages) knownFactorMark(c echo.Context) string { return p.markIn(c, p.cookies.knownFactor) }

func (p *Pages) markIn(c echo.Context, cookie string) string {
	ck, err := c.Cookie(cookie)
	if err != nil || len(ck.Value) > 256 {
		return ""
	}
	return ck.Value
}

// markFactorKnown gives the browser a new mark for userID, after its second factor.
func (p *Pages) markFactorKnown(c echo.Context, userID string) {
	p.setMark(c, p.cookies.knownFactor, p.factors.KnownFactorMark(userID))
}

// markKnown gives the browser a new mark for username, after its right password.
func (p *Pages) markKnown(c echo.Context, username string) {
	p.setMark(c, p.cookies.known, p.login.KnownBrowserMark(username))
}

// setMark keeps mark in the browser's cookie for knownBrowserLifetime; none for "".
func (p *Pages) setMark(c echo.Context, cookie, mark string) {
	if mark == "" {
		return
	}
	ck := p.cookies.cookie(cookie, mark)
	ck.MaxAge = int(knownBrowserLifetime / time.Second)
	c.SetCookie(ck)
}

func (n cookieNames) cookie(name, value string) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: n.secure, SameSite: http.SameSiteLaxMode}
}

// cookieValue reads a cookie of ours; a value that is not base64url of the right
// length is ignored, so nothing odd ever reaches the database.
func cookieValue(c echo.Context, name string) string {
	ck, err := c.Cookie(name)
	if err != nil || len(ck.Value) != 43 {
		return ""
	}
	if _, err := base64.RawURLEncoding.DecodeString(ck.Value); err != nil {
		return ""
	}
	return ck.Value
}

func newCookieSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// session returns the browser's live session, or nil.
func (p *Pages) session(c echo.Context) (*domain.Session, error) {
	s, err := p.login.Session(c.Request().Context(), cookieValue(c, p.cookies.session))
	if err != nil || s == nil {
		return s, err
	}
	// For the account page's list of sessions; a failure here costs the page nothing.
	if err := p.login.Seen(c.Request().Context(), s, c.Request().UserAgent(), c.RealIP()); err != nil {
		p.log.WarnContext(c.Request().Context(), "record session seen", "err", err)
	}
	return s, nil
}

// setSession gives the browser the new session s (secret in its cookie), and records
// its browser and address at once, so that the account page's list of sessions shows
// where a sign-in came from from its first moment, not only after its next request.
func (p *Pages) setSession(c echo.Context, s domain.Session, secret string) {
	c.SetCookie(p.cookies.cookie(p.cookies.session, secret))
	if err := p.login.Seen(c.Request().Context(), &s, c.Request().UserAgent(), c.RealIP()); err != nil {
		p.log.WarnContext(c.Request().Context(), "record session seen", "err", err)
	}
}

func (p *Pages) clearSession(c echo.Context) {
	ck := p.cookies.cookie(p.cookies.session, "")
	ck.MaxAge = -1
	c.SetCookie(ck)
}

// browser returns the browser-binding secret, or "" when the browser has none.
func (p *Pages) browser(c echo.Context) string { return cookieValue(c, p.cookies.browser) }

// ensureBrowser returns the browser-binding secret, setting a new cookie when the
// browser has none. Only GET handlers call it; a POST without the cookie fails its
// CSRF check.
func (p *Pages) ensureBrowser(c echo.Context) string {
	if v := p.browser(c); v != "" {
		return v
	}
	if v, ok := c.Get(ctxNewBrowser).(string); ok {
		return v
	}
	v := newCookieSecret()
	c.SetCookie(p.cookies.cookie(p.cookies.browser, v))
	c.Set(ctxNewBrowser, v)
	return v
}

const ctxNewBrowser = "gatehouse.new_browser"
