package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// RegistrationHandler serves dynamic client registration: POST /oauth/register
// (RFC 7591) with the initial access token, and GET, PUT, DELETE
// /oauth/register/{client_id} (RFC 7592) with the client's registration access token.
// Mounted only when GATEHOUSE_DYNAMIC_REGISTRATION is true or open (then POST
// /oauth/register also takes public clients without the initial access token).
type RegistrationHandler struct {
	reg    *usecase.Registration
	issuer string
}

// NewRegistrationHandler builds the handler.
func NewRegistrationHandler(reg *usecase.Registration, settings usecase.Settings) *RegistrationHandler {
	return &RegistrationHandler{reg: reg, issuer: string(settings.Issuer)}
}

// Mount registers the routes. Their errors are RFC 7591 §3.2.2 JSON, like the token
// endpoint's; a refused registration access token is a 401 with a Bearer challenge
// (RFC 7592 §2, Classify).
func (h *RegistrationHandler) Mount(r *Router) {
	g := r.Group(SurfaceJSON)
	g.POST("/oauth/register", withAuditIP(h.register))
	g.GET("/oauth/register/:client_id", withAuditIP(h.read))
	g.PUT("/oauth/register/:client_id", withAuditIP(h.update))
	g.DELETE("/oauth/register/:client_id", withAuditIP(h.remove))
}

// withAuditIP puts the caller's address where the audit log takes it from: a
// registration, update or deletion is recorded with where it came from.
func withAuditIP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.SetRequest(c.Request().WithContext(usecase.WithAuditIP(c.Request().Context(), c.RealIP())))
		return next(c)
	}
}

// clientMetadataJSON is the metadata of a request (RFC 7591 §2); other members are
// ignored.
type clientMetadataJSON struct {
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name"`
	Scope                   string   `json:"scope"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris"`
	RequirePAR              bool     `json:"require_pushed_authorization_requests"`
	BackchannelLogoutURI    string   `json:"backchannel_logout_uri"`
	// BackchannelLogoutSessionRequired is read for its type only: every logout
	// token carries sid.
	BackchannelLogoutSessionRequired bool   `json:"backchannel_logout_session_required"`
	SoftwareStatement                string `json:"software_statement"`
	ClientID                         string `json:"client_id"`
	ClientSecret                     string `json:"client_secret"`
}

// registrationResponse is RFC 7591 §3.2.1 and RFC 7592 §3.
type registrationResponse struct {
	ClientID                 string   `json:"client_id"`
	ClientSecret             string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt         int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt    *int64   `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken  string   `json:"registration_access_token,omitempty"`
	RegistrationClientURI    string   `json:"registration_client_uri"`
	ClientName               string   `json:"client_name"`
	RedirectURIs             []string `json:"redirect_uris"`
	GrantTypes               []string `json:"grant_types"`
	ResponseTypes            []string `json:"response_types"`
	Scope                    string   `json:"scope"`
	TokenEndpointAuthMethod  string   `json:"token_endpoint_auth_method"`
	PostLogoutRedirectURIs   []string `json:"post_logout_redirect_uris,omitempty"`
	RequirePAR               bool     `json:"require_pushed_authorization_requests"`
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg"`
	BackchannelLogoutURI     string   `json:"backchannel_logout_uri,omitempty"`
	// BackchannelLogoutSessionRequired: true with a URI, as every logout token
	// carries sid.
	BackchannelLogoutSessionRequired bool `json:"backchannel_logout_session_required,omitempty"`
}

func (h *RegistrationHandler) register(c echo.Context) error {
	caller, err := h.caller(c)
	if err != nil {
		return err
	}
	// The token (or, open, the throttle) first: a caller refused learns nothing
	// from the body's checks.
	if _, err := h.reg.Admit(c.Request().Context(), caller); err != nil {
		return err
	}
	m, err := readMetadata(c, false)
	if err != nil {
		return err
	}
	got, err := h.reg.Register(c.Request().Context(), caller, m)
	if err != nil {
		return err
	}
	return h.answer(c, http.StatusCreated, got)
}

func (h *RegistrationHandler) read(c echo.Context) error {
	caller, err := h.caller(c)
	if err != nil {
		return err
	}
	got, err := h.reg.Read(c.Request().Context(), c.Param("client_id"), caller)
	if err != nil {
		return err
	}
	return h.answer(c, http.StatusOK, got)
}

func (h *RegistrationHandler) update(c echo.Context) error {
	ctx, id := c.Request().Context(), c.Param("client_id")
	caller, err := h.caller(c)
	if err != nil {
		return err
	}
	// The token first: a caller without it learns nothing from the body's checks.
	if err := h.reg.CheckToken(ctx, id, caller); err != nil {
		return err
	}
	m, err := readMetadata(c, true)
	if err != nil {
		return err
	}
	got, err := h.reg.Update(ctx, id, caller, m)
	if err != nil {
		return err
	}
	return h.answer(c, http.StatusOK, got)
}

func (h *RegistrationHandler) remove(c echo.Context) error {
	caller, err := h.caller(c)
	if err != nil {
		return err
	}
	if err := h.reg.Delete(c.Request().Context(), c.Param("client_id"), caller); err != nil {
		return err
	}
	noStore(c)
	return c.NoContent(http.StatusNoContent)
}

// caller is who makes a registration request; two Authorization headers are
// invalid_request (SECURITY S21).
func (h *RegistrationHandler) caller(c echo.Context) (usecase.Caller, error) {
	authz, err := authorizationHeader(c)
	if err != nil {
		return usecase.Caller{}, err
	}
	return usecase.Caller{Token: registrationBearer(authz), Address: c.RealIP()}, nil
}

func (h *RegistrationHandler) answer(c echo.Context, status int, r usecase.RegisteredClient) error {
	m, cl := r.Metadata, r.Client
	out := registrationResponse{
		ClientID: cl.ID, ClientSecret: r.Secret, ClientIDIssuedAt: cl.CreatedAt.Unix(),
		RegistrationAccessToken: r.RegistrationToken,
		RegistrationClientURI:   h.issuer + "/oauth/register/" + cl.ID,
		ClientName:              m.ClientName, RedirectURIs: nonNilList(m.RedirectURIs), GrantTypes: nonNilList(m.GrantTypes),
		ResponseTypes: nonNilList(m.ResponseTypes), Scope: m.Scope, TokenEndpointAuthMethod: m.TokenEndpointAuthMethod,
		PostLogoutRedirectURIs: m.PostLogoutRedirectURIs, RequirePAR: m.RequirePAR, IDTokenSignedResponseAlg: cl.IDTokenAlg,
		BackchannelLogoutURI: m.BackchannelLogoutURI, BackchannelLogoutSessionRequired: m.BackchannelLogoutURI != "",
	}
	if !cl.Public {
		never := int64(0) // the secret does not expire
		out.ClientSecretExpiresAt = &never
	}
	noStore(c)
	return c.JSON(status, out)
}

func nonNilList(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// registrationBearer reads an Authorization header of the Bearer scheme (RFC 6750
// §2.1; the scheme is case-insensitive); "" when there is none.
func registrationBearer(authz string) string {
	scheme, token, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// Members a client must not send in an update (RFC 7592 §2.2).
var serverOnlyMembers = []string{"registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at"}

// readMetadata reads a JSON metadata body strictly: application/json, at most
// MaxBodyBytes, one object, members of the right types, strings of valid text.
func readMetadata(c echo.Context, update bool) (usecase.ClientMetadata, error) {
	bad := usecase.ErrInvalidClientMetadata
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return usecase.ClientMetadata{}, domain.ErrInvalidRequest.WithDescription("the body must be application/json")
	}
	if declaredTooLarge(c.Request()) {
		return usecase.ClientMetadata{}, errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, MaxBodyBytes+1))
	if err != nil {
		return usecase.ClientMetadata{}, domain.ErrInvalidRequest.WithDescription("could not read the request body")
	}
	if len(body) > MaxBodyBytes {
		return usecase.ClientMetadata{}, errTooLarge
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return usecase.ClientMetadata{}, bad.WithDescription("the body must be one JSON object")
	}
	if update {
		for _, k := range serverOnlyMembers {
			if _, ok := members[k]; ok {
				return usecase.ClientMetadata{}, domain.ErrInvalidRequest.WithDescription("%s is the server's to set", k)
			}
		}
	}
	var j clientMetadataJSON
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&j); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return usecase.ClientMetadata{}, bad.WithDescription("%s has the wrong type", safeName(te.Field))
		}
		return usecase.ClientMetadata{}, bad.WithDescription("the body must be one JSON object")
	}
	texts := []struct {
		name   string
		values []string
	}{
		{"token_endpoint_auth_method", []string{j.TokenEndpointAuthMethod}}, {"client_name", []string{j.ClientName}},
		{"scope", []string{j.Scope}}, {"software_statement", []string{j.SoftwareStatement}},
		{"client_id", []string{j.ClientID}}, {"client_secret", []string{j.ClientSecret}},
		{"redirect_uris", j.RedirectURIs}, {"grant_types", j.GrantTypes}, {"response_types", j.ResponseTypes},
		{"post_logout_redirect_uris", j.PostLogoutRedirectURIs}, {"backchannel_logout_uri", []string{j.BackchannelLogoutURI}},
	}
	for _, m := range texts {
		for _, s := range m.values {
			// Each string is held to the limit of the parameter of that name
			// (domain.ParamLimit), like every form parameter.
			if e := domain.CheckParam(m.name, s); e != nil {
				return usecase.ClientMetadata{}, bad.WithDescription("%s", e.Description)
			}
			if !cleanText(s) || strings.ContainsRune(s, '\uFFFD') {
				return usecase.ClientMetadata{}, bad.WithDescription("metadata must be valid UTF-8 text without NUL")
			}
		}
	}
	return usecase.ClientMetadata{
		RedirectURIs: j.RedirectURIs, TokenEndpointAuthMethod: j.TokenEndpointAuthMethod, GrantTypes: j.GrantTypes,
		ResponseTypes: j.ResponseTypes, ClientName: j.ClientName, Scope: j.Scope,
		PostLogoutRedirectURIs: j.PostLogoutRedirectURIs, RequirePAR: j.RequirePAR, BackchannelLogoutURI: j.BackchannelLogoutURI,
		SoftwareStatement: j.SoftwareStatement, ClientID: j.ClientID, ClientSecret: j.ClientSecret,
	}, nil
}
