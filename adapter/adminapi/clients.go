package adminapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// clientResource is a client as the API shows it: the names of `clients show --json`
// (RFC 7591 names where there is one), never a secret.
type clientResource struct {
	ClientID                string          `json:"client_id"`
	ClientSecret            string          `json:"client_secret,omitempty"`
	Name                    string          `json:"name"`
	Public                  bool            `json:"public"`
	RedirectURIs            []string        `json:"redirect_uris"`
	GrantTypes              []string        `json:"grant_types"`
	Scope                   string          `json:"scope"`
	Audiences               []string        `json:"audiences"`
	SkipConsent             bool            `json:"skip_consent"`
	IDTokenAlg              string          `json:"id_token_alg"`
	PostLogoutRedirectURIs  []string        `json:"post_logout_redirect_uris"`
	RequirePAR              bool            `json:"require_par"`
	RequireDPoP             bool            `json:"require_dpop"`
	RequireMFA              bool            `json:"require_mfa"`
	RequirePKCE             bool            `json:"require_pkce"`
	BackchannelLogoutURI    string          `json:"backchannel_logout_uri,omitempty"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	JWKSURI                 string          `json:"jwks_uri,omitempty"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	Disabled                bool            `json:"disabled"`
	CreatedAt               time.Time       `json:"created_at"`
	UpdatedAt               time.Time       `json:"updated_at"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func toClient(c domain.Client) clientResource {
	method := c.TokenEndpointAuthMethod
	switch {
	case method != "":
	case c.Public:
		method = usecase.AuthMethodNone
	default:
		method = usecase.AuthMethodBasic
	}
	var jwks json.RawMessage
	if c.JWKS != "" && json.Valid([]byte(c.JWKS)) {
		jwks = json.RawMessage(c.JWKS)
	}
	return clientResource{ClientID: c.ID, Name: c.Name, Public: c.Public, RedirectURIs: nonNil(c.RedirectURIs),
		GrantTypes: nonNil(c.GrantTypes), Scope: domain.ScopeString(c.Scopes), Audiences: nonNil(c.Audiences),
		SkipConsent: c.SkipConsent, IDTokenAlg: c.IDTokenAlg, PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		RequirePAR: c.RequirePAR, RequireDPoP: c.RequireDPoP, RequireMFA: c.RequireMFA, RequirePKCE: !c.PKCEOptional,
		BackchannelLogoutURI: c.BackchannelLogoutURI, TokenEndpointAuthMethod: method, JWKSURI: c.JWKSURI, JWKS: jwks,
		Disabled: c.Disabled, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
}

func (a *API) listClients(c echo.Context) error {
	after, limit, ok, err := listParams(c, listClients)
	if !ok {
		return err
	}
	clients, next, err := a.cfg.Resources.Clients(c.Request().Context(),
		usecase.ClientFilter{Q: c.QueryParam("q"), After: after, Limit: limit})
	if err != nil {
		return a.fail(c, err)
	}
	out := page[clientResource]{Items: make([]clientResource, 0, len(clients)), NextCursor: positionCursor(listClients, next)}
	for _, cl := range clients {
		out.Items = append(out.Items, toClient(cl))
	}
	return c.JSON(http.StatusOK, out)
}

// clientCreate is the body of POST /clients.
type clientCreate struct {
	Name                    string          `json:"name"`
	RedirectURIs            []string        `json:"redirect_uris"`
	GrantTypes              []string        `json:"grant_types"`
	Scope                   string          `json:"scope"`
	Audiences               []string        `json:"audiences"`
	Public                  bool            `json:"public"`
	SkipConsent             bool            `json:"skip_consent"`
	IDTokenAlg              string          `json:"id_token_alg"`
	PostLogoutRedirectURIs  []string        `json:"post_logout_redirect_uris"`
	RequirePAR              bool            `json:"require_par"`
	RequireDPoP             bool            `json:"require_dpop"`
	RequireMFA              bool            `json:"require_mfa"`
	RequirePKCE             *bool           `json:"require_pkce"`
	BackchannelLogoutURI    string          `json:"backchannel_logout_uri"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	JWKS                    json.RawMessage `json:"jwks"`
	JWKSURI                 string          `json:"jwks_uri"`
}

// authMethod is the use cases' AuthMethod of an RFC 7591 token_endpoint_auth_method.
func authMethod(m string, public bool) (string, bool) {
	switch m {
	case "":
		return "", true
	case usecase.AuthMethodBasic, usecase.AuthMethodPost:
		return "", !public
	case usecase.AuthMethodNone:
		return "", public
	case usecase.AuthMethodPrivateKeyJWT:
		return m, true
	}
	return "", false
}

func (a *API) createClient(c echo.Context) error {
	var in clientCreate
	if ok, err := readJSON(c, &in, "application/json"); !ok {
		return err
	}
	nc := usecase.NewClient{Name: in.Name, RedirectURIs: in.RedirectURIs, GrantTypes: in.GrantTypes, Audiences: in.Audiences,
		Public: in.Public, SkipConsent: in.SkipConsent, IDTokenAlg: in.IDTokenAlg, PostLogoutRedirectURIs: in.PostLogoutRedirectURIs,
		RequirePAR: in.RequirePAR, RequireDPoP: in.RequireDPoP, RequireMFA: in.RequireMFA,
		PKCEOptional: in.RequirePKCE != nil && !*in.RequirePKCE, BackchannelLogoutURI: in.BackchannelLogoutURI, JWKSURI: in.JWKSURI}
	// What cannot reach the rules (no name, an auth method or a scope that means
	// nothing) is named with what the rules find in the rest.
	var pre []preIssue
	if in.Name == "" {
		pre = append(pre, preIssue{fieldIssue{Field: "name", Message: "required"}, "name is required"})
	}
	method, ok := authMethod(in.TokenEndpointAuthMethod, in.Public)
	if !ok {
		pre = append(pre, preIssue{fieldIssue{Field: "token_endpoint_auth_method", Message: "unsupported"},
			"token_endpoint_auth_method is not one this client can use"})
	}
	nc.AuthMethod = method
	if len(in.JWKS) > 0 && string(in.JWKS) != "null" {
		nc.JWKS = string(in.JWKS)
	}
	if in.Scope != "" {
		s, err := domain.ParseScope(in.Scope)
		if err != nil {
			pre = append(pre, scopeIssue(err))
		}
		nc.Scopes = s
	}
	if len(pre) > 0 {
		if nc.Name == "" {
			nc.Name = "-" // a valid stand-in: the name is named already
		}
		return refuse(c, pre, a.cfg.Admin.CheckNewClient(nc))
	}
	ctx := c.Request().Context()
	made, err := a.cfg.Admin.CreateClient(ctx, nc)
	if err != nil {
		return a.fail(c, err)
	}
	if err := a.cfg.Keys.Ensure(ctx, made.Client.IDTokenAlg); err != nil {
		return a.fail(c, err)
	}
	stored, err := a.cfg.Admin.Client(ctx, made.Client.ID)
	if err != nil {
		return a.fail(c, err)
	}
	out := toClient(stored)
	out.ClientSecret = made.Secret
	return created(c, "/clients/"+stored.ID, etagOf(stored.UpdatedAt), out)
}

func (a *API) getClient(c echo.Context) error {
	cl, err := a.cfg.Admin.Client(c.Request().Context(), c.Param("id"))
	if err != nil {
		return a.fail(c, err)
	}
	return single(c, etagOf(cl.UpdatedAt), toClient(cl))
}

var (
	clientPatchFields = []string{"name", "redirect_uris", "grant_types", "scope", "audiences", "skip_consent", "id_token_alg",
		"post_logout_redirect_uris", "require_par", "require_dpop", "require_mfa", "require_pkce", "backchannel_logout_uri",
		"jwks", "jwks_uri", "disabled"}
	clientReadOnly = []string{"client_id", "client_secret", "public", "token_endpoint_auth_method", "created_at", "updated_at"}
)

func (a *API) patchClient(c echo.Context) error {
	ctx := c.Request().Context()
	cl, err := a.cfg.Admin.Client(ctx, c.Param("id"))
	if err != nil {
		return a.fail(c, err)
	}
	p, ok, err := readPatch(c, clientPatchFields, clientReadOnly)
	if !ok {
		return err
	}
	if ok, err := checkIfMatch(c, etagOf(cl.UpdatedAt)); !ok {
		return err
	}
	var up usecase.ClientUpdate
	p.str("name", &up.Name)
	p.list("redirect_uris", &up.RedirectURIs)
	p.list("grant_types", &up.GrantTypes)
	p.list("audiences", &up.Audiences)
	p.list("post_logout_redirect_uris", &up.PostLogoutRedirectURIs)
	p.boolean("skip_consent", &up.SkipConsent, false)
	p.str("id_token_alg", &up.IDTokenAlg)
	p.boolean("require_par", &up.RequirePAR, false)
	p.boolean("require_dpop", &up.RequireDPoP, false)
	p.boolean("require_mfa", &up.RequireMFA, false)
	p.str("backchannel_logout_uri", &up.BackchannelLogoutURI)
	p.str("jwks_uri", &up.JWKSURI)
	p.boolean("disabled", &up.Disabled, false)
	var requirePKCE *bool
	p.boolean("require_pkce", &requirePKCE, true)
	if requirePKCE != nil {
		optional := !*requirePKCE
		up.PKCEOptional = &optional
	}
	var scope *string
	p.str("scope", &scope)
	if raw, present := p.raw("jwks"); present {
		s := ""
		if raw != nil {
			var obj map[string]any
			if err := json.Unmarshal(raw, &obj); err != nil {
				p.issues = append(p.issues, fieldIssue{Field: "jwks", Message: "must be a JWK Set (an object) or null"})
			}
			s = string(raw)
		}
		up.JWKS = &s
	}
	if bad, err := p.problem(c); bad {
		return err
	}
	if up.IDTokenAlg != nil && *up.IDTokenAlg == "" {
		alg := domain.AlgRS256 // null: back to the default
		up.IDTokenAlg = &alg
	}
	if scope != nil {
		scopes := []string{}
		if *scope != "" {
			s, err := domain.ParseScope(*scope)
			if err != nil {
				// Named with what the rules find in the rest of the patch.
				return refuse(c, []preIssue{scopeIssue(err)}, a.cfg.Admin.CheckClientUpdate(ctx, cl.ID, up))
			}
			scopes = s
		}
		up.Scopes = &scopes
	}
	next, err := a.cfg.Admin.UpdateClient(ctx, cl.ID, up)
	a.forget(cl.ID)
	if err != nil {
		return a.fail(c, err)
	}
	if err := a.cfg.Keys.Ensure(ctx, next.IDTokenAlg); err != nil {
		return a.fail(c, err)
	}
	return a.getClient(c)
}

func (a *API) deleteClient(c echo.Context) error {
	ctx := c.Request().Context()
	cl, err := a.cfg.Admin.Client(ctx, c.Param("id"))
	if err != nil {
		return a.fail(c, err)
	}
	if ok, err := checkIfMatch(c, etagOf(cl.UpdatedAt)); !ok {
		return err
	}
	err = a.cfg.Admin.DeleteClient(ctx, cl.ID)
	a.forget(cl.ID)
	if err != nil {
		return a.fail(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

// secretResource is the answer of rotate-secret: the new secret, shown this once.
type secretResource struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

func (a *API) rotateSecret(c echo.Context) error {
	id := c.Param("id")
	secret, err := a.cfg.Admin.RotateSecret(c.Request().Context(), id)
	a.forget(id)
	if err != nil {
		return a.fail(c, err)
	}
	return c.JSON(http.StatusOK, secretResource{ClientID: id, ClientSecret: secret})
}

// forget drops a changed client from this instance's cache.
func (a *API) forget(id string) {
	if a.cfg.Cache != nil {
		a.cfg.Cache.Forget(id)
	}
}

// preIssue is a problem an adapter found in a field it could not hand to the use
// case, with the sentence that says it in a problem's detail.
type preIssue struct {
	issue    fieldIssue
	sentence string
}

// scopeIssue is a scope that does not parse (domain.ParseScope), in words of its
// own rather than OAuth's error code.
func scopeIssue(err error) preIssue {
	msg := err.Error()
	var oerr *domain.Error
	if errors.As(err, &oerr) && oerr.Description != "" {
		msg = oerr.Description
	}
	return preIssue{fieldIssue{Field: "scope", Message: msg}, "scope: " + msg}
}

// refuse answers pre together with the problems of the rest of the request, as the
// use case's check found them (Admin.CheckNewClient, CheckClientUpdate), so that one
// answer names every bad field; a field named by pre is not named again. A check
// that fails otherwise adds nothing: the request is refused for pre anyway.
func refuse(c echo.Context, pre []preIssue, check error) error {
	var issues []fieldIssue
	var sentences []string
	for _, p := range pre {
		issues = append(issues, p.issue)
		sentences = append(sentences, p.sentence)
	}
	named := func(field string) bool {
		return slices.ContainsFunc(issues, func(i fieldIssue) bool { return i.Field == field })
	}
	for _, is := range ruleIssues(check) {
		if !named(is.Field) {
			issues = append(issues, is)
			sentences = append(sentences, is.Message)
		}
	}
	return problem(c, http.StatusBadRequest, "validation", "Invalid input", strings.Join(sentences, "; "), issues)
}
