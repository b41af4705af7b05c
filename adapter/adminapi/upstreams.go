package adminapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// upstreamResource is an upstream identity provider as the API shows it: the names
// of `upstreams list --json`. Its client secret is write-only: given on create or in
// a patch, stored sealed, never shown; client_secret_set says one is stored.
type upstreamResource struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Type            string    `json:"type"`
	Issuer          string    `json:"issuer,omitempty"`
	ClientID        string    `json:"client_id"`
	ClientSecretSet bool      `json:"client_secret_set"`
	Scope           string    `json:"scope"`
	APIURL          string    `json:"api_url,omitempty"`
	WebURL          string    `json:"web_url,omitempty"`
	CallbackURL     string    `json:"callback_url"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

func (a *API) toUpstream(u domain.Upstream) upstreamResource {
	return upstreamResource{ID: u.ID, Name: u.Name, Type: u.Type, Issuer: u.Issuer, ClientID: u.ClientID,
		ClientSecretSet: len(u.SealedSecret) > 0, Scope: strings.Join(u.Scopes, " "), APIURL: u.APIURL, WebURL: u.WebURL,
		CallbackURL: a.cfg.Upstreams.CallbackURL(u.ID), CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

func (a *API) listUpstreams(c echo.Context) error {
	cursor, limit, ok, err := pageParams(c, listUpstreams, 1)
	if !ok {
		return err
	}
	ups, next, err := a.cfg.Upstreams.UpstreamPage(c.Request().Context(),
		usecase.UpstreamFilter{Q: c.QueryParam("q"), After: cursor[0], Limit: limit})
	if err != nil {
		return a.fail(c, err)
	}
	return c.JSON(http.StatusOK, page[upstreamResource]{Items: itemsOf(ups, a.toUpstream).Items, NextCursor: encodeCursor(listUpstreams, next)})
}

// upstreamCreate is the body of POST /upstreams.
type upstreamCreate struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Type         string `json:"type"`
	Issuer       string `json:"issuer"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Scope        string `json:"scope"`
	APIURL       string `json:"api_url"`
	WebURL       string `json:"web_url"`
}

func (a *API) createUpstream(c echo.Context) error {
	var in upstreamCreate
	if ok, err := readJSON(c, &in, "application/json"); !ok {
		return err
	}
	ctx := c.Request().Context()
	u, err := a.cfg.Upstreams.CreateUpstream(ctx, usecase.UpstreamInput{ID: in.ID, Name: in.Name, Type: in.Type,
		Issuer: in.Issuer, ClientID: in.ClientID, ClientSecret: in.ClientSecret, Scopes: strings.Fields(in.Scope),
		APIURL: in.APIURL, WebURL: in.WebURL})
	if err != nil {
		return a.fail(c, err)
	}
	stored, err := a.cfg.Upstreams.Upstream(ctx, u.ID)
	if err != nil {
		return a.fail(c, err)
	}
	return created(c, "/upstreams/"+stored.ID, etagOf(stored.UpdatedAt), a.toUpstream(stored))
}

func (a *API) getUpstream(c echo.Context) error {
	u, err := a.cfg.Upstreams.Upstream(c.Request().Context(), c.Param("id"))
	if err != nil {
		return a.fail(c, err)
	}
	return single(c, etagOf(u.UpdatedAt), a.toUpstream(u))
}

var (
	upstreamPatchFields = []string{"name", "issuer", "client_id", "client_secret", "scope", "api_url", "web_url"}
	upstreamReadOnly    = []string{"id", "type", "client_secret_set", "callback_url", "created_at", "updated_at"}
)

func (a *API) patchUpstream(c echo.Context) error {
	ctx := c.Request().Context()
	u, err := a.cfg.Upstreams.Upstream(ctx, c.Param("id"))
	if err != nil {
		return a.fail(c, err)
	}
	p, ok, err := readPatch(c, upstreamPatchFields, upstreamReadOnly)
	if !ok {
		return err
	}
	if ok, err := checkIfMatch(c, etagOf(u.UpdatedAt)); !ok {
		return err
	}
	ifMatch := c.Request().Header.Get("If-Match")
	up := usecase.UpstreamUpdate{Precondition: func(cur domain.Upstream) error {
		if !ifMatches(ifMatch, etagOf(cur.UpdatedAt)) {
			return errStale
		}
		return nil
	}}
	p.str("name", &up.Name)
	p.str("issuer", &up.Issuer)
	p.str("client_id", &up.ClientID)
	p.str("client_secret", &up.ClientSecret) // null: "", refused (a secret cannot be removed)
	p.str("api_url", &up.APIURL)
	p.str("web_url", &up.WebURL)
	var scope *string
	p.str("scope", &scope)
	if bad, err := p.problem(c); bad {
		return err
	}
	if scope != nil {
		up.Scopes, up.ScopesSet = strings.Fields(*scope), true
	}
	if _, err := a.cfg.Upstreams.UpdateUpstream(ctx, u.ID, up); err != nil {
		return a.fail(c, err)
	}
	return a.getUpstream(c)
}

func (a *API) deleteUpstream(c echo.Context) error {
	ctx := c.Request().Context()
	u, err := a.cfg.Upstreams.Upstream(ctx, c.Param("id"))
	if err != nil {
		return a.fail(c, err)
	}
	if ok, err := checkIfMatch(c, etagOf(u.UpdatedAt)); !ok {
		return err
	}
	if err := a.cfg.Upstreams.DeleteUpstream(ctx, u.ID); err != nil {
		return a.fail(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

// IdentityResource is an identity of a user at an upstream, linked to the user's
// account here (Keycloak's "identity provider link"): email and username are what the
// upstream said of it when last used.
type IdentityResource struct {
	UpstreamID   string    `json:"upstream_id"`
	UpstreamName string    `json:"upstream_name"`
	Subject      string    `json:"subject"`
	Email        string    `json:"email,omitempty"`
	Username     string    `json:"username,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	LastUsedAt   time.Time `json:"last_used_at"`
}

func ToIdentity(l usecase.LinkedView) IdentityResource {
	return IdentityResource{UpstreamID: l.UpstreamID, UpstreamName: l.UpstreamName, Subject: l.Subject, Email: l.Email,
		Username: l.Username, CreatedAt: l.CreatedAt.UTC(), LastUsedAt: l.LastUsedAt.UTC()}
}

func (a *API) userIdentities(c echo.Context) error {
	// An identity's position is its upstream and its subject (never "").
	cursor, limit, ok, err := pageParams(c, listIdentities, 2)
	if !ok {
		return err
	}
	var after *usecase.LinkedView
	if cursor[1] != "" {
		after = &usecase.LinkedView{LinkedIdentity: domain.LinkedIdentity{UpstreamID: cursor[0], Subject: cursor[1]}}
	}
	u, err := a.user(c)
	if err != nil {
		return a.fail(c, err)
	}
	links, err := a.cfg.Upstreams.UserLinks(c.Request().Context(), u.ID)
	if err != nil {
		return a.fail(c, err)
	}
	items, more := wholePage(links, usecase.IdentityOrder, after, limit)
	out := itemsOf(items, ToIdentity)
	if more != nil {
		out.NextCursor = encodeCursor(listIdentities, more.UpstreamID, more.Subject)
	}
	return c.JSON(http.StatusOK, out)
}

// unlinkIdentity removes the user's identities at the upstream, even the last way
// the user can sign in (as disabling the user may shut them out).
func (a *API) unlinkIdentity(c echo.Context) error {
	u, err := a.user(c)
	if err != nil {
		return a.fail(c, err)
	}
	if err := a.cfg.Upstreams.AdminUnlink(c.Request().Context(), u.ID, c.Param("upstream")); err != nil {
		return a.fail(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}
