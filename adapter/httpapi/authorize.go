package httpapi

import (
	"io"
	"mime"
	"net/url"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// authorizeGet serves GET /oauth/authorize (RFC 6749 §4.1.1). The use case decides;
// this reads the query strictly and follows the step with a 302.
func (p *Pages) authorizeGet(c echo.Context) error {
	return p.authorizeWith(c, c.Request().URL.RawQuery)
}

// authorizePost serves POST /oauth/authorize: the same request as GET with its
// parameters in a form body (OpenID Connect Core §3.1.2.1); the query is not read. It
// is a client's request like the GET, so it carries no CSRF token: the login and
// consent pages it leads to have theirs.
func (p *Pages) authorizePost(c echo.Context) error {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationForm {
		return domain.ErrInvalidRequest.WithDescription("the authorization request must be a query, or a form body (application/x-www-form-urlencoded)")
	}
	if declaredTooLarge(req) {
		return errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxBodyBytes+1))
	if err != nil {
		return domain.ErrInvalidRequest.WithDescription("could not read the request body")
	}
	if len(body) > MaxBodyBytes {
		return errTooLarge
	}
	return p.authorizeWith(c, string(body))
}

// authorizeWith runs an authorization request given as URL-encoded parameters.
func (p *Pages) authorizeWith(c echo.Context, encoded string) error {
	params, ok := authorizeParams(encoded)
	if !ok {
		// Without a query we can parse there is no client or redirect URI to trust.
		return domain.ErrInvalidRequest.WithDescription("the authorization request is malformed. Go back to the application and try again")
	}
	s, err := p.session(c)
	if err != nil {
		return err
	}
	// ui_locales: the language of this request's pages, its error page included
	// (OpenID Connect Core §3.1.2.1).
	uiLang := p.useUILocales(c, uiLocalesOf(encoded))
	step, err := p.authorize.Start(c.Request().Context(), usecase.AuthorizeInput{
		Params: params, Session: s, BrowserSecret: p.ensureBrowser(c),
	})
	if err == nil {
		p.rememberUILocales(c, step.RequestID, uiLang)
	}
	return p.follow(c, step, err)
}

// authorizeParamNames are the parameters the endpoint reads; others are ignored, even
// when repeated.
var authorizeParamNames = map[string]bool{
	"client_id": true, "redirect_uri": true, "response_type": true, "scope": true, "state": true,
	"nonce": true, "code_challenge": true, "code_challenge_method": true, "prompt": true, "max_age": true,
	"request": true, "request_uri": true, "claims": true, "acr_values": true,
	"response_mode": true, "id_token_hint": true,
}

// authorizeParams reads the query (or the form body of a POST): each parameter at most once (a repeated one is
// reported, and refused by the use case), an empty value counts as absent, unknown
// parameters are ignored (RFC 6749 §3.1). Only `resource` may repeat (RFC 8707 §2).
// ok is false when the query cannot be decoded (bad percent-encoding, `;`).
func authorizeParams(rawQuery string) (usecase.AuthorizeParams, bool) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return usecase.AuthorizeParams{}, false
	}
	var p usecase.AuthorizeParams
	for k, vs := range q {
		if k == "resource" {
			for _, v := range vs {
				if v != "" {
					p.Resource = append(p.Resource, v)
				}
			}
			continue
		}
		if len(vs) > 1 && authorizeParamNames[k] {
			p.Repeated = append(p.Repeated, k)
		}
	}
	sort.Strings(p.Repeated)
	get := func(k string) string {
		if vs := q[k]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	p.ClientID = get("client_id")
	p.RedirectURI = get("redirect_uri")
	p.ResponseType = get("response_type")
	p.ResponseMode = get("response_mode")
	p.IDTokenHint = get("id_token_hint")
	p.Scope = get("scope")
	p.State = get("state")
	p.Nonce = get("nonce")
	p.CodeChallenge = get("code_challenge")
	p.CodeChallengeMethod = get("code_challenge_method")
	p.Prompt = get("prompt")
	p.MaxAge = get("max_age")
	p.Claims = get("claims")
	p.ACRValues = get("acr_values")
	p.Request = get("request")
	p.RequestURI = get("request_uri")
	return p, true
}

// responseURL is the redirect that carries an authorization response to the client:
// its redirect URI with its own query kept (RFC 6749 §3.1.2), then code, or error and
// error_description (§4.1.2, §4.1.2.1), state as received, and iss (RFC 9207 §2).
func responseURL(issuer string, r domain.AuthResponse) string {
	q := url.Values{}
	if r.Err != nil {
		q.Set("error", r.Err.Code)
		if r.Err.Description != "" {
			q.Set("error_description", domain.DescriptionText(r.Err.Description))
		}
	} else {
		q.Set("code", r.Code)
	}
	if r.State != "" {
		q.Set("state", r.State)
	}
	q.Set("iss", issuer)
	sep := "?"
	if strings.Contains(r.RedirectURI, "?") {
		sep = "&"
	}
	return r.RedirectURI + sep + q.Encode()
}
