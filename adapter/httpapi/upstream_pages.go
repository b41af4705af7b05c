package httpapi

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// Signing in with an upstream identity provider (issue 22, SECURITY S54):
// GET /login/upstream/:id → the upstream → GET /login/upstream/:id/callback, and
// /account's link and unlink forms.

// upstreamButton is one "Continue with NAME" (or "Link NAME") of a page.
type upstreamButton struct {
	ID, Name, Href string
}

// linkedView is one linked identity as /account lists it.
type linkedView struct {
	UpstreamID, Subject, Name, Who, Linked string
}

// upstreamCookie is the name of the cookie holding the sealed upstream state.
func (p *Pages) upstreamCookie() string {
	if p.cookies.secure {
		return "__Host-gatehouse_upstream"
	}
	return "gatehouse_upstream"
}

// upstreamButtons are the login page's buttons, for the pending request reqID.
func (p *Pages) upstreamButtons(c echo.Context, reqID string) []upstreamButton {
	if p.upstreams == nil {
		return nil
	}
	ups, err := p.upstreams.ListUpstreams(c.Request().Context())
	if err != nil {
		// The password form still works: the buttons are left out, and the log says why.
		p.log.WarnContext(c.Request().Context(), "upstreams not listed", "err", err)
		return nil
	}
	out := make([]upstreamButton, 0, len(ups))
	for _, u := range ups {
		href := "/login/upstream/" + url.PathEscape(u.ID)
		if reqID != "" {
			href += "?req=" + url.QueryEscape(reqID)
		}
		out = append(out, upstreamButton{ID: u.ID, Name: u.Name, Href: href})
	}
	return out
}

// upstreamFailed is the error page naming the upstream: 502 when the upstream failed
// or lied, 400 when the browser's part was wrong; never a 500.
func (p *Pages) upstreamFailed(c echo.Context, status int, title, message, reqID, userCode string) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	back := "/login"
	switch _, code := deviceReturn(userCode); {
	case reqID != "":
		back += "?" + requestIDField + "=" + url.QueryEscape(reqID)
	case code != "":
		back += "?" + userCodeField + "=" + url.QueryEscape(code)
	}
	c.Set(langTargetKey, back) // the callback's code and state work once: never ask it again
	return p.render(c, status, "notice", view{Title: title, Error: message, Link: back, LinkLabel: p.t(c, "common.back_to_sign_in")})
}

// upstreamStart serves GET /login/upstream/:id: the sealed state in a cookie, then
// the upstream.
func (p *Pages) upstreamStart(c echo.Context) error {
	if p.upstreams == nil {
		return echo.ErrNotFound
	}
	browser := p.ensureBrowser(c)
	reqID := c.QueryParam(requestIDField)
	if _, err := p.pendingFor(c, reqID, browser); err != nil {
		return err
	}
	_, userCode := deviceReturn(c.QueryParam(userCodeField))
	return p.toUpstream(c, c.Param("id"), browser, reqID, userCode, nil)
}

// toUpstream begins the upstream sign-in (or link, with link set) and redirects.
func (p *Pages) toUpstream(c echo.Context, id, browser, reqID, userCode string, link *domain.Session) error {
	start, err := p.upstreams.BeginUpstream(c.Request().Context(), id, browser, reqID, userCode, link)
	var failed *usecase.UpstreamFailed
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return p.upstreamFailed(c, http.StatusNotFound, p.t(c, "up.unknown_title"), p.t(c, "up.unknown", "ID", quote(id)), reqID, userCode)
	case errors.As(err, &failed):
		status := http.StatusBadRequest
		if failed.Upstream {
			status = http.StatusBadGateway
		}
		return p.upstreamFailed(c, status, p.t(c, "up.failed_title", "Name", failed.Name), p.t(c, "up.failed", "Name", failed.Name, "Reason", p.upstreamReason(c, failed.Message)), reqID, userCode)
	case err != nil:
		return err
	}
	ck := p.cookies.cookie(p.upstreamCookie(), start.Cookie)
	ck.MaxAge = int(usecase.UpstreamFlowTTL.Seconds())
	c.SetCookie(ck)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(redirectStatus(c), start.URL)
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return "“" + s + "”"
}

// upstreamCallback serves GET /login/upstream/:id/callback.
func (p *Pages) upstreamCallback(c echo.Context) error {
	if p.upstreams == nil {
		return echo.ErrNotFound
	}
	s, err := p.session(c)
	if err != nil {
		return err
	}
	browser := p.browser(c)
	var cookie string
	if ck, err := c.Cookie(p.upstreamCookie()); err == nil {
		cookie = ck.Value
	}
	// The state is single use: its cookie goes whatever happens.
	clear := p.cookies.cookie(p.upstreamCookie(), "")
	clear.MaxAge = -1
	c.SetCookie(clear)
	c.Response().Header().Set("Cache-Control", "no-store")
	q := c.QueryParams()
	ctx := c.Request().Context()
	out, err := p.upstreams.CompleteUpstream(ctx, usecase.UpstreamCallback{Upstream: c.Param("id"), Browser: browser,
		Cookie: cookie, State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"), Issuer: q.Get("iss"), Address: c.RealIP(), Session: s})
	var (
		failed *usecase.UpstreamFailed
		taken  *usecase.UpstreamEmailTaken
		none   *usecase.UpstreamNoAccount
		second *usecase.SecondFactorRequired
	)
	switch {
	case err == nil:
	case errors.Is(err, domain.ErrNotFound):
		return p.upstreamFailed(c, http.StatusNotFound, p.t(c, "up.unknown_title"), p.t(c, "up.unknown", "ID", quote(c.Param("id"))), "", "")
	case errors.As(err, &failed):
		status := http.StatusBadRequest
		if failed.Upstream {
			status = http.StatusBadGateway
		}
		p.log.WarnContext(ctx, "upstream sign-in failed", "upstream", c.Param("id"), "reason", failed.Message, "remote", c.RealIP())
		return p.upstreamFailed(c, status, p.t(c, "up.failed_title", "Name", failed.Name), p.t(c, "up.failed", "Name", failed.Name, "Reason", p.upstreamReason(c, failed.Message)), out.RequestID, out.UserCode)
	case errors.As(err, &taken):
		return p.upstreamFailed(c, http.StatusConflict, p.t(c, "up.taken_title"), p.t(c, "up.taken", "Name", taken.Name), out.RequestID, out.UserCode)
	case errors.As(err, &none):
		return p.upstreamFailed(c, http.StatusForbidden, p.t(c, "up.none_title", "Name", none.Name), p.t(c, "up.none", "Name", none.Name), out.RequestID, out.UserCode)
	case errors.As(err, &second):
		return p.toSecondFactor(c, second, browser, out.RequestID, out.UserCode)
	case errors.Is(err, domain.ErrUserDisabled):
		return p.upstreamFailed(c, http.StatusForbidden, p.t(c, "up.failed_title", "Name", out.Name), p.t(c, msgDisabled), out.RequestID, out.UserCode)
	default:
		return err
	}
	if out.Linked {
		return c.Redirect(http.StatusFound, "/account?linked="+url.QueryEscape(c.Param("id")))
	}
	p.setSession(c, out.Session, out.Secret)
	p.log.InfoContext(ctx, "user logged in", "user_id", out.UserID, "upstream", c.Param("id"), "remote", c.RealIP())
	if devicePath, _ := deviceReturn(out.UserCode); out.RequestID == "" && devicePath != "" {
		return c.Redirect(http.StatusFound, devicePath)
	}
	if out.RequestID == "" {
		return c.Redirect(http.StatusFound, "/")
	}
	step, err := p.authorize.LoggedIn(ctx, out.RequestID, browser, out.Session)
	return p.follow(c, step, err)
}

// accountUpstreamLink serves POST /account/upstreams/link: input upstream; the
// identity at it is linked to the signed-in user (a sign-in of the last 5 minutes).
func (p *Pages) accountUpstreamLink(c echo.Context, f form, s *domain.Session) error {
	if p.upstreams == nil {
		return echo.ErrNotFound
	}
	err := p.toUpstream(c, f.get("upstream"), p.ensureBrowser(c), "", "", s)
	if errors.Is(err, usecase.ErrLinkNeedsFreshSignIn) {
		return p.accountUpstreamNotice(c, s, "", p.say(c, usecase.ErrLinkNeedsFreshSignIn.Message))
	}
	return err
}

// accountUpstreamUnlink serves POST /account/upstreams/unlink: inputs upstream and
// subject; refused when it is the user's last way to sign in.
func (p *Pages) accountUpstreamUnlink(c echo.Context, f form, s *domain.Session) error {
	if p.upstreams == nil {
		return echo.ErrNotFound
	}
	err := p.upstreams.Unlink(c.Request().Context(), *s, f.get("upstream"), f.get("subject"))
	switch {
	case errors.Is(err, usecase.ErrLastSignInMethod):
		return p.accountUpstreamNotice(c, s, "", p.t(c, "up.last_method"))
	case errors.Is(err, domain.ErrNotFound):
		return p.accountUpstreamNotice(c, s, p.t(c, "up.not_linked"), "")
	case err != nil:
		return err
	}
	return p.accountUpstreamNotice(c, s, p.t(c, "up.unlinked"), "")
}

// accountUpstreamNotice shows /account with a notice or an error.
func (p *Pages) accountUpstreamNotice(c echo.Context, s *domain.Session, notice, problem string) error {
	v, err := p.accountView(c, s)
	if err != nil {
		return err
	}
	v.Notice, v.Error = notice, problem
	status := http.StatusOK
	if problem != "" {
		status = http.StatusBadRequest
	}
	return p.render(c, status, "account", v)
}

// accountUpstreams fills /account's linked identities and link buttons.
func (p *Pages) accountUpstreams(c echo.Context, s *domain.Session, v *view) error {
	if p.upstreams == nil {
		return nil
	}
	got, err := p.upstreams.ForAccount(c.Request().Context(), s.UserID)
	if err != nil {
		return err
	}
	for _, l := range got.Linked {
		who := l.Email
		if l.Username != "" {
			who = l.Username
			if l.Email != "" {
				who += " (" + l.Email + ")"
			}
		}
		v.LinkedIdentities = append(v.LinkedIdentities, linkedView{UpstreamID: l.UpstreamID, Subject: l.Subject,
			Name: l.UpstreamName, Who: who, Linked: p.date(c, l.CreatedAt)})
	}
	for _, u := range got.Linkable {
		v.LinkableUpstreams = append(v.LinkableUpstreams, upstreamButton{ID: u.ID, Name: u.Name})
	}
	if id := c.QueryParam("linked"); id != "" && v.Notice == "" {
		for _, l := range got.Linked {
			if l.UpstreamID == id {
				v.Notice = p.t(c, "up.linked", "Name", l.UpstreamName)
			}
		}
	}
	return nil
}

// upstreamReason is why an upstream sign-in failed, in the page's language when the
// catalogs know the reason; the upstream's own answers (a token endpoint's error, an
// ID token that does not verify) stay as the connector wrote them.
func (p *Pages) upstreamReason(c echo.Context, msg string) string {
	if s, ok := p.sayKnown(c, msg); ok {
		return s
	}
	return withPeriod(msg)
}
