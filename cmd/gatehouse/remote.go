package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"gatehouse/domain"
	"gatehouse/infrastructure/config"
	"gatehouse/usecase"
)

// remoteAdmin is the admin commands on a server, through its admin API: the CLI
// gets a client_credentials token for the admin API's audience with the client of
// GATEHOUSE_ADMIN_CLIENT_ID and GATEHOUSE_ADMIN_CLIENT_SECRET.
type remoteAdmin struct {
	base   string // <server>/admin/api/v1
	issuer string
	token  string
	hc     *http.Client
}

const remoteTimeout = 30 * time.Second

func newRemoteAdmin(ctx context.Context, server string, env config.Env) (*remoteAdmin, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, usagef("--server: %q is not an http(s) URL", server)
	}
	server = strings.TrimRight(server, "/")
	id, secret := env["GATEHOUSE_ADMIN_CLIENT_ID"], env["GATEHOUSE_ADMIN_CLIENT_SECRET"]
	if id == "" || secret == "" {
		return nil, usagef("--server needs GATEHOUSE_ADMIN_CLIENT_ID and GATEHOUSE_ADMIN_CLIENT_SECRET (a client_credentials client with scope %s and audience <issuer>%s)",
			domain.ScopeAdmin, domain.AdminAPIAudiencePath)
	}
	r := &remoteAdmin{base: server + "/admin/api/v1", hc: &http.Client{Timeout: remoteTimeout}}
	// The issuer names the audience; the metadata names the token endpoint.
	var meta struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := r.getJSON(ctx, server+"/.well-known/oauth-authorization-server", &meta); err != nil {
		return nil, fmt.Errorf("--server %s: read the server's metadata: %w", server, err)
	}
	if meta.Issuer == "" || meta.TokenEndpoint == "" {
		return nil, fmt.Errorf("--server %s: the metadata names no issuer or token endpoint", server)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {domain.ScopeAdmin},
		"resource": {strings.TrimRight(meta.Issuer, "/") + domain.AdminAPIAudiencePath}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, meta.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("--server %s: get a token: %w", server, err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tok); err != nil || tok.AccessToken == "" {
		if tok.Error != "" {
			return nil, usagef("--server %s: the admin client got no token: %s %s", server, tok.Error, tok.Description)
		}
		return nil, fmt.Errorf("--server %s: no token (HTTP %d)", server, resp.StatusCode)
	}
	r.token = tok.AccessToken
	r.issuer = meta.Issuer
	return r, nil
}

func (r *remoteAdmin) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// remoteProblem is a problem answer of the API.
type remoteProblem struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// call sends a request to the API and decodes a 2xx answer into out (when not nil);
// it returns the answer's ETag. A 404 is domain.ErrNotFound, other 4xx answers
// bad input (exit 2) in the server's words, which are the database's (the CLI
// prints the same either way), anything else a failure.
func (r *remoteAdmin) call(ctx context.Context, method, path string, body any, contentType, ifMatch string, out any) (string, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return "", err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return "", fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
			}
		}
		return resp.Header.Get("ETag"), nil
	}
	var p remoteProblem
	_ = json.Unmarshal(data, &p)
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	if msg == "" {
		msg = "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return "", fmt.Errorf("%s: %w", msg, domain.ErrNotFound)
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		field := ""
		if len(p.Errors) > 0 {
			field = p.Errors[0].Field
		}
		return "", &usecase.ValidationError{Field: field, Message: msg, Conflict: resp.StatusCode == http.StatusConflict}
	}
	return "", fmt.Errorf("the server failed (HTTP %d): %s", resp.StatusCode, msg)
}

// list walks every page of a list.
func remoteList[T any](ctx context.Context, r *remoteAdmin, path string) ([]T, error) {
	var all []T
	cursor := ""
	for range 100000 {
		q := url.Values{"limit": {"500"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		var page struct {
			Items      []T    `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if _, err := r.call(ctx, http.MethodGet, path+sep+q.Encode(), nil, "", "", &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
	return nil, errors.New("the server's list did not end")
}

// apiClient is a client as the API shows it.
type apiClient struct {
	clientJSON
	UpdatedAt time.Time `json:"updated_at"`
}

func (c apiClient) domain() domain.Client {
	out := domain.Client{ID: c.ClientID, Name: c.Name, Public: c.Public, RedirectURIs: c.RedirectURIs, GrantTypes: c.GrantTypes,
		Audiences: c.Audiences, SkipConsent: c.SkipConsent, IDTokenAlg: c.IDTokenAlg, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, RequirePAR: c.RequirePAR, RequireDPoP: c.RequireDPoP,
		RequireMFA: c.RequireMFA, PKCEOptional: !c.RequirePKCE, BackchannelLogoutURI: c.BackchannelLogoutURI,
		JWKSURI: c.JWKSURI, Disabled: c.Disabled}
	if c.Scope != "" {
		out.Scopes = strings.Fields(c.Scope)
	}
	if c.TokenEndpointAuthMethod == usecase.AuthMethodPrivateKeyJWT {
		out.TokenEndpointAuthMethod = c.TokenEndpointAuthMethod
	}
	if len(c.JWKS) > 0 {
		out.JWKS = string(c.JWKS)
	}
	return out
}

func (r *remoteAdmin) CreateClient(ctx context.Context, in usecase.NewClient) (usecase.CreatedClient, error) {
	body := map[string]any{"name": in.Name, "redirect_uris": in.RedirectURIs, "grant_types": in.GrantTypes,
		"scope": domain.ScopeString(in.Scopes), "audiences": in.Audiences, "public": in.Public, "skip_consent": in.SkipConsent,
		"id_token_alg": in.IDTokenAlg, "post_logout_redirect_uris": in.PostLogoutRedirectURIs, "require_par": in.RequirePAR,
		"require_dpop": in.RequireDPoP, "require_mfa": in.RequireMFA, "require_pkce": !in.PKCEOptional,
		"backchannel_logout_uri": in.BackchannelLogoutURI, "token_endpoint_auth_method": in.AuthMethod, "jwks_uri": in.JWKSURI}
	if in.JWKS != "" {
		body["jwks"] = json.RawMessage(in.JWKS)
	}
	var out apiClient
	if _, err := r.call(ctx, http.MethodPost, "/clients", body, "application/json", "", &out); err != nil {
		return usecase.CreatedClient{}, err
	}
	return usecase.CreatedClient{Client: out.domain(), Secret: out.ClientSecret}, nil
}

func (r *remoteAdmin) ListClients(ctx context.Context) ([]domain.Client, error) {
	items, err := remoteList[apiClient](ctx, r, "/clients")
	if err != nil {
		return nil, err
	}
	out := make([]domain.Client, len(items))
	for i, c := range items {
		out[i] = c.domain()
	}
	return out, nil
}

func (r *remoteAdmin) client(ctx context.Context, id string) (domain.Client, string, error) {
	var out apiClient
	etag, err := r.call(ctx, http.MethodGet, "/clients/"+url.PathEscape(id), nil, "", "", &out)
	return out.domain(), etag, err
}

func (r *remoteAdmin) Client(ctx context.Context, id string) (domain.Client, error) {
	c, _, err := r.client(ctx, id)
	return c, err
}

func (r *remoteAdmin) UpdateClient(ctx context.Context, id string, in usecase.ClientUpdate) (domain.Client, error) {
	c, etag, err := r.client(ctx, id)
	if err != nil {
		return domain.Client{}, err
	}
	// As on the database (usecase.Admin.UpdateClient): repeating what the client is
	// changes nothing; asking for another kind is refused.
	if in.Public != nil && *in.Public != c.Public {
		return domain.Client{}, usagef("a client cannot change between public and confidential; register a new client instead")
	}
	if in.AuthMethod != nil && *in.AuthMethod != c.TokenEndpointAuthMethod {
		return domain.Client{}, usagef("a client cannot change how it authenticates (secret or private_key_jwt); register a new client instead")
	}
	patch := map[string]any{}
	set := func(name string, present bool, v any) {
		if present {
			patch[name] = v
		}
	}
	set("name", in.Name != nil, deref(in.Name))
	set("redirect_uris", in.RedirectURIs != nil, derefList(in.RedirectURIs))
	set("grant_types", in.GrantTypes != nil, derefList(in.GrantTypes))
	if in.Scopes != nil {
		patch["scope"] = domain.ScopeString(*in.Scopes)
	}
	set("audiences", in.Audiences != nil, derefList(in.Audiences))
	set("skip_consent", in.SkipConsent != nil, derefBool(in.SkipConsent))
	set("id_token_alg", in.IDTokenAlg != nil, deref(in.IDTokenAlg))
	set("post_logout_redirect_uris", in.PostLogoutRedirectURIs != nil, derefList(in.PostLogoutRedirectURIs))
	set("require_par", in.RequirePAR != nil, derefBool(in.RequirePAR))
	set("require_dpop", in.RequireDPoP != nil, derefBool(in.RequireDPoP))
	set("require_mfa", in.RequireMFA != nil, derefBool(in.RequireMFA))
	if in.PKCEOptional != nil {
		patch["require_pkce"] = !*in.PKCEOptional
	}
	set("backchannel_logout_uri", in.BackchannelLogoutURI != nil, deref(in.BackchannelLogoutURI))
	set("jwks_uri", in.JWKSURI != nil, deref(in.JWKSURI))
	if in.JWKS != nil {
		if *in.JWKS == "" {
			patch["jwks"] = nil
		} else {
			patch["jwks"] = json.RawMessage(*in.JWKS)
		}
	}
	set("disabled", in.Disabled != nil, derefBool(in.Disabled))
	var out apiClient
	if _, err := r.call(ctx, http.MethodPatch, "/clients/"+url.PathEscape(id), patch, "application/merge-patch+json", etag, &out); err != nil {
		return domain.Client{}, err
	}
	return out.domain(), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefBool(b *bool) bool { return b != nil && *b }

func derefList(l *[]string) []string {
	if l == nil || *l == nil {
		return []string{}
	}
	return *l
}

func (r *remoteAdmin) DeleteClient(ctx context.Context, id string) error {
	_, etag, err := r.client(ctx, id)
	if err != nil {
		return err
	}
	_, err = r.call(ctx, http.MethodDelete, "/clients/"+url.PathEscape(id), nil, "", etag, nil)
	return err
}

func (r *remoteAdmin) RotateSecret(ctx context.Context, id string) (string, error) {
	var out struct {
		ClientSecret string `json:"client_secret"`
	}
	_, err := r.call(ctx, http.MethodPost, "/clients/"+url.PathEscape(id)+"/rotate-secret", nil, "", "", &out)
	return out.ClientSecret, err
}

func (u userShowJSON) domain() domain.User {
	return domain.User{ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified,
		Profile: domain.Profile{Name: u.Name, GivenName: u.GivenName, FamilyName: u.FamilyName, Picture: u.Picture,
			Locale: u.Locale, Zoneinfo: u.Zoneinfo, PhoneNumber: u.PhoneNumber},
		PhoneNumberVerified: u.PhoneNumberVerified, Groups: u.Groups, Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func (r *remoteAdmin) CreateUser(ctx context.Context, in usecase.NewUser) (domain.User, error) {
	p := in.Profile
	body := map[string]any{"username": in.Username, "password": in.Password, "email": in.Email, "email_verified": in.EmailVerified,
		"name": p.Name, "given_name": p.GivenName, "family_name": p.FamilyName, "picture": p.Picture, "locale": p.Locale,
		"zoneinfo": p.Zoneinfo, "phone_number": p.PhoneNumber, "phone_number_verified": in.PhoneNumberVerified, "groups": in.Groups}
	var out userShowJSON
	if _, err := r.call(ctx, http.MethodPost, "/users", body, "application/json", "", &out); err != nil {
		return domain.User{}, err
	}
	return out.domain(), nil
}

func (r *remoteAdmin) ListUsers(ctx context.Context) ([]domain.User, error) {
	items, err := remoteList[userShowJSON](ctx, r, "/users")
	if err != nil {
		return nil, err
	}
	out := make([]domain.User, len(items))
	for i, u := range items {
		out[i] = u.domain()
	}
	return out, nil
}

func (r *remoteAdmin) user(ctx context.Context, ref string) (domain.User, string, error) {
	var out userShowJSON
	etag, err := r.call(ctx, http.MethodGet, "/users/"+url.PathEscape(ref), nil, "", "", &out)
	return out.domain(), etag, err
}

func (r *remoteAdmin) FindUser(ctx context.Context, ref string) (domain.User, error) {
	u, _, err := r.user(ctx, ref)
	return u, err
}

func (r *remoteAdmin) UpdateUser(ctx context.Context, id string, in usecase.UserUpdate) (domain.User, error) {
	u, etag, err := r.user(ctx, id)
	if err != nil {
		return domain.User{}, err
	}
	patch := map[string]any{}
	str := func(name string, v *string) {
		if v != nil {
			patch[name] = *v
		}
	}
	flag := func(name string, v *bool) {
		if v != nil {
			patch[name] = *v
		}
	}
	str("email", in.Email)
	flag("email_verified", in.EmailVerified)
	flag("disabled", in.Disabled)
	flag("phone_number_verified", in.PhoneNumberVerified)
	p := in.Profile
	str("name", p.Name)
	str("given_name", p.GivenName)
	str("family_name", p.FamilyName)
	str("picture", p.Picture)
	str("locale", p.Locale)
	str("zoneinfo", p.Zoneinfo)
	str("phone_number", p.PhoneNumber)
	if len(in.AddGroups) > 0 || len(in.RemoveGroups) > 0 {
		// The API replaces the list: a group in both is removed, as locally.
		groups := slices.Clone(u.Groups)
		for _, g := range in.AddGroups {
			if !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
		groups = slices.DeleteFunc(groups, func(g string) bool { return slices.Contains(in.RemoveGroups, g) })
		if groups == nil {
			groups = []string{}
		}
		patch["groups"] = groups
	}
	var out userShowJSON
	if _, err := r.call(ctx, http.MethodPatch, "/users/"+url.PathEscape(u.ID), patch, "application/merge-patch+json", etag, &out); err != nil {
		return domain.User{}, err
	}
	return out.domain(), nil
}

func (r *remoteAdmin) DeleteUser(ctx context.Context, id string) error {
	u, etag, err := r.user(ctx, id)
	if err != nil {
		return err
	}
	_, err = r.call(ctx, http.MethodDelete, "/users/"+url.PathEscape(u.ID), nil, "", etag, nil)
	return err
}

func (k keyJSON) domain() domain.SigningKey {
	return domain.SigningKey{ID: k.KID, Alg: k.Alg, CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt, ExpiresAt: k.ExpiresAt,
		ActivatesAt: k.ActivatesAt, RevokedAt: k.RevokedAt}
}

func (r *remoteAdmin) ListKeys(ctx context.Context) ([]domain.SigningKey, error) {
	items, err := remoteList[keyJSON](ctx, r, "/keys")
	if err != nil {
		return nil, err
	}
	out := make([]domain.SigningKey, len(items))
	for i, k := range items {
		out[i] = k.domain()
	}
	return out, nil
}

func (r *remoteAdmin) ResetMFA(ctx context.Context, id string) (bool, error) {
	var out struct {
		Removed bool `json:"removed"`
	}
	_, err := r.call(ctx, http.MethodPost, "/users/"+url.PathEscape(id)+"/reset-mfa", nil, "", "", &out)
	return out.Removed, err
}

func (r *remoteAdmin) RotateKey(ctx context.Context, alg string, immediate bool) (domain.SigningKey, error) {
	var out keyJSON
	_, err := r.call(ctx, http.MethodPost, "/keys/rotate", map[string]any{"alg": alg, "now": immediate}, "application/json", "", &out)
	var ve *usecase.ValidationError
	if errors.As(err, &ve) && ve.Conflict {
		// The API's 409: the alg's next key is pending; said as the database says it.
		return domain.SigningKey{}, remoteKeyPending(ve.Message)
	}
	return out.domain(), err
}

// remoteKeyPending is the server's domain.KeyPendingError, in its words.
type remoteKeyPending string

func (e remoteKeyPending) Error() string { return string(e) }

// Is makes errors.Is(err, domain.ErrKeyPending) true.
func (e remoteKeyPending) Is(target error) bool { return target == domain.ErrKeyPending }

func (r *remoteAdmin) AuditEvents(ctx context.Context, f usecase.AuditFilter) ([]domain.AuditEvent, error) {
	q := url.Values{}
	if f.User != "" {
		q.Set("user", f.User)
	}
	if f.Type != "" {
		q.Set("type", f.Type)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	var out []domain.AuditEvent
	cursor := ""
	for len(out) < f.Limit {
		q.Set("limit", strconv.Itoa(min(f.Limit-len(out), 500)))
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Items      []auditEventJSON `json:"items"`
			NextCursor string           `json:"next_cursor"`
		}
		if _, err := r.call(ctx, http.MethodGet, "/audit-events?"+q.Encode(), nil, "", "", &page); err != nil {
			return nil, err
		}
		for _, e := range page.Items {
			out = append(out, domain.AuditEvent{ID: e.ID, Time: e.Time, Type: e.Type, Actor: e.Actor, Target: e.Target,
				IP: e.IP, Reason: e.Reason, Details: e.Details})
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	return out, nil
}

// apiUpstream is an upstream as the API shows it (never its secret).
type apiUpstream struct {
	upstreamJSON
	ClientSecretSet bool `json:"client_secret_set"`
}

func (u apiUpstream) domain() domain.Upstream {
	return domain.Upstream{ID: u.ID, Name: u.Name, Type: u.Type, Issuer: u.Issuer, ClientID: u.ClientID,
		Scopes: strings.Fields(u.Scope), APIURL: u.APIURL, WebURL: u.WebURL, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func (r *remoteAdmin) CreateUpstream(ctx context.Context, in usecase.UpstreamInput) (domain.Upstream, error) {
	body := map[string]any{"id": in.ID, "name": in.Name, "type": in.Type, "issuer": in.Issuer, "client_id": in.ClientID,
		"client_secret": in.ClientSecret, "scope": strings.Join(in.Scopes, " "), "api_url": in.APIURL, "web_url": in.WebURL}
	var out apiUpstream
	if _, err := r.call(ctx, http.MethodPost, "/upstreams", body, "application/json", "", &out); err != nil {
		return domain.Upstream{}, err
	}
	return out.domain(), nil
}

func (r *remoteAdmin) ListUpstreams(ctx context.Context) ([]domain.Upstream, error) {
	items, err := remoteList[apiUpstream](ctx, r, "/upstreams")
	if err != nil {
		return nil, err
	}
	out := make([]domain.Upstream, len(items))
	for i, u := range items {
		out[i] = u.domain()
	}
	return out, nil
}

func (r *remoteAdmin) upstream(ctx context.Context, id string) (domain.Upstream, string, error) {
	var out apiUpstream
	etag, err := r.call(ctx, http.MethodGet, "/upstreams/"+url.PathEscape(id), nil, "", "", &out)
	return out.domain(), etag, err
}

func (r *remoteAdmin) UpdateUpstream(ctx context.Context, id string, in usecase.UpstreamUpdate) (domain.Upstream, error) {
	_, etag, err := r.upstream(ctx, id)
	if err != nil {
		return domain.Upstream{}, err
	}
	patch := map[string]any{}
	str := func(name string, v *string) {
		if v != nil {
			patch[name] = *v
		}
	}
	str("name", in.Name)
	str("issuer", in.Issuer)
	str("client_id", in.ClientID)
	str("client_secret", in.ClientSecret)
	str("api_url", in.APIURL)
	str("web_url", in.WebURL)
	if in.ScopesSet {
		patch["scope"] = strings.Join(in.Scopes, " ")
	}
	var out apiUpstream
	if _, err := r.call(ctx, http.MethodPatch, "/upstreams/"+url.PathEscape(id), patch, "application/merge-patch+json", etag, &out); err != nil {
		return domain.Upstream{}, err
	}
	return out.domain(), nil
}

func (r *remoteAdmin) DeleteUpstream(ctx context.Context, id string) error {
	_, etag, err := r.upstream(ctx, id)
	if err != nil {
		return err
	}
	_, err = r.call(ctx, http.MethodDelete, "/upstreams/"+url.PathEscape(id), nil, "", etag, nil)
	return err
}

// UpstreamCallbackURL is the server's, as usecase.Upstreams.CallbackURL makes it.
func (r *remoteAdmin) UpstreamCallbackURL(id string) string {
	return strings.TrimSuffix(r.issuer, "/") + "/login/upstream/" + id + "/callback"
}

func (r *remoteAdmin) SharedDatabase() bool { return false }
