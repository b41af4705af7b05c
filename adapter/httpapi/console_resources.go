package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// A user's sessions and consents, and the mailed password reset, come from the
// admin API's use cases (usecase.AdminResources), the identities linked at upstreams
// from usecase.Upstreams; they audit every change.

// mountResources adds the routes of a user's sessions, consents, linked identities and
// password reset.
func (k *Console) mountResources(g Routes) {
	g.POST("/admin/users/:id/sessions/:sid/end", k.action(k.userSessionEnd))
	g.POST("/admin/users/:id/consents/:client/revoke", k.action(k.userConsentRevoke))
	g.POST("/admin/users/:id/identities/:upstream/unlink", k.action(k.userIdentityUnlink))
	g.POST("/admin/users/:id/password-reset", k.action(k.userPasswordReset))
}

// userResources fills the user page's sessions and consents.
func (k *Console) userResources(c echo.Context, op *operator, u domain.User, v *consoleView) error {
	v.Resources = true
	ctx := ctxOf(c)
	sessions, err := k.resources.UserSessions(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, s := range sessions {
		v.Sessions = append(v.Sessions, consoleSessionView{ID: s.ID, UserAgent: describeUserAgent(s.UserAgent), Address: s.Address,
			CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, Current: s.ID == op.session.ID})
	}
	consents, err := k.resources.UserConsents(ctx, u.ID)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, cs := range consents {
		if seen[cs.ClientID] {
			continue // one row per client: revoking takes all of them
		}
		seen[cs.ClientID] = true
		name := cs.ClientID
		if cl, err := k.admin.Client(ctx, cs.ClientID); err == nil {
			name = cl.Name
		}
		v.Consents = append(v.Consents, consoleConsentView{ClientID: cs.ClientID, ClientName: name,
			Scope: strings.Join(cs.Scope, " "), GrantedAt: cs.GrantedAt})
	}
	return k.userIdentities(c, u, v)
}

// userIdentities fills the user page's identities linked at upstreams: one row per
// upstream, as unlinking takes all of the user's identities there.
func (k *Console) userIdentities(c echo.Context, u domain.User, v *consoleView) error {
	if k.p.upstreams == nil {
		return nil
	}
	v.Linking = true
	links, err := k.p.upstreams.UserLinks(ctxOf(c), u.ID)
	if err != nil {
		return err
	}
	row := map[string]int{}
	for _, l := range links {
		who := l.Username
		switch {
		case who == "":
			who = l.Email
		case l.Email != "":
			who += " (" + l.Email + ")"
		}
		i, ok := row[l.UpstreamID]
		if !ok {
			name := l.UpstreamName
			if name == "" {
				name = l.UpstreamID
			}
			row[l.UpstreamID] = len(v.Identities)
			v.Identities = append(v.Identities, consoleIdentityView{UpstreamID: l.UpstreamID, UpstreamName: name, Who: who,
				LinkedAt: l.CreatedAt, LastUsedAt: l.LastUsedAt})
			continue
		}
		id := &v.Identities[i]
		if who != "" {
			id.Who = strings.TrimPrefix(id.Who+", "+who, ", ")
		}
		if l.CreatedAt.Before(id.LinkedAt) {
			id.LinkedAt = l.CreatedAt
		}
		if l.LastUsedAt.After(id.LastUsedAt) {
			id.LastUsedAt = l.LastUsedAt
		}
	}
	return nil
}

func (k *Console) userSessionEnd(c echo.Context, op *operator, _ form) error {
	u, err := k.userByID(c)
	if err != nil {
		return err
	}
	if _, ok := searchText(c.Param("sid")); !ok {
		return domain.ErrNotFound
	}
	s, err := k.resources.Session(ctxOf(c), c.Param("sid"))
	if err != nil {
		return err
	}
	if s.UserID != u.ID {
		return domain.ErrNotFound
	}
	if err := k.resources.EndSession(ctxOf(c), s.ID); err != nil {
		return err
	}
	if s.ID == op.session.ID {
		return c.Redirect(http.StatusSeeOther, "/admin") // their own: signed out of the console too
	}
	return c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(u.ID)+"?saved=session")
}

func (k *Console) userConsentRevoke(c echo.Context, _ *operator, _ form) error {
	u, err := k.userByID(c)
	if err != nil {
		return err
	}
	if _, ok := searchText(c.Param("client")); !ok {
		return domain.ErrNotFound
	}
	if err := k.resources.RevokeConsent(ctxOf(c), u.ID, c.Param("client")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(u.ID)+"?saved=consent")
}

// userIdentityUnlink unlinks the user's identities at an upstream, even when they are
// the user's only way to sign in (an administrator may shut a user out, as disabling
// does).
func (k *Console) userIdentityUnlink(c echo.Context, _ *operator, _ form) error {
	u, err := k.userByID(c)
	if err != nil {
		return err
	}
	if k.p.upstreams == nil {
		return domain.ErrNotFound
	}
	if err := k.p.upstreams.AdminUnlink(ctxOf(c), u.ID, c.Param("upstream")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(u.ID)+"?saved=identity")
}

func (k *Console) userPasswordReset(c echo.Context, op *operator, _ form) error {
	u, err := k.userByID(c)
	if err != nil {
		return err
	}
	if err := k.resources.SendPasswordReset(ctxOf(c), u.ID); err != nil {
		var ve *usecase.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		v, verr := k.userPage(c, op, u)
		if verr != nil {
			return verr
		}
		v.Error = k.t(c, "console.error.no_reset", "Reason", ve.Message)
		return k.render(c, http.StatusBadRequest, "console_user", v)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(u.ID)+"?saved=reset")
}

// auditPage is one page of the audit events of f, by the ?before= cursor of the
// previous page (time in Unix nanoseconds, a dot, the event id).
func (k *Console) auditPage(c echo.Context, v *consoleView, f usecase.AuditFilter) error {
	f.Limit = consolePageSize * 2
	if b := c.QueryParam("before"); b != "" {
		ns, id, ok := strings.Cut(b, ".")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil || id == "" {
			v.Error = k.t(c, "console.error.no_audit_page")
		} else {
			f.Before = usecase.AuditPosition{Time: time.Unix(0, n).UTC(), ID: id}
			q := c.QueryParams()
			q.Del("before")
			v.PrevURL = "/admin/audit?" + q.Encode()
		}
	}
	events, next, err := k.resources.AuditEvents(ctxOf(c), f)
	if err != nil {
		return err
	}
	v.Events = events
	if next.ID != "" {
		q := c.QueryParams()
		q.Set("before", strconv.FormatInt(next.Time.UnixNano(), 10)+"."+next.ID)
		v.NextURL = "/admin/audit?" + q.Encode()
	}
	v.Total = len(events)
	return nil
}
