package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// TokenHandler serves POST /oauth/token (RFC 6749 §3.2) for every grant.
type TokenHandler struct {
	token   *usecase.Token
	metrics *Metrics
	dpop    *usecase.DPoP
}

// NewTokenHandler builds the handler.
func NewTokenHandler(token *usecase.Token, metrics *Metrics, dpop *usecase.DPoP) *TokenHandler {
	return &TokenHandler{token: token, metrics: metrics, dpop: dpop}
}

// dpopInput reads a request's DPoP headers (RFC 9449 §4.1), every one of them, so
// that the use case can refuse more than one.
func dpopInput(c echo.Context) usecase.DPoPInput {
	return usecase.DPoPInput{Proofs: c.Request().Header.Values("DPoP"), Method: c.Request().Method, Path: c.Path()}
}

// tokenResponse is RFC 6749 §5.1 (+ OpenID Connect id_token).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	// IssuedTokenType is RFC 8693 §2.2.1, for token exchange only.
	IssuedTokenType string `json:"issued_token_type,omitempty"`
}

// Token handles the request.
func (h *TokenHandler) Token(c echo.Context) error {
	f, cr, err := clientForm(c)
	if err != nil {
		return err
	}
	req := usecase.TokenRequest{
		GrantType:     f.get("grant_type"),
		Credentials:   cr,
		Scope:         f.get("scope"),
		Resource:      f.resources,
		Username:      f.get("username"),
		Password:      f.get("password"),
		RefreshToken:  f.get("refresh_token"),
		Code:          f.get("code"),
		RedirectURI:   f.get("redirect_uri"),
		CodeVerifier:  f.get("code_verifier"),
		DeviceCode:    f.get("device_code"),
		TokenExchange: exchangeParams(f),
		DPoP:          dpopInput(c),
	}
	if h.dpop.NonceRequired() {
		// A fresh nonce on every answer, errors included (RFC 9449 §8).
		c.Response().Header().Set("DPoP-Nonce", h.dpop.Nonce())
	}
	issued, err := h.token.Issue(c.Request().Context(), req)
	if err != nil {
		return err
	}
	h.metrics.TokensIssued.WithLabelValues(req.GrantType).Inc()
	noStore(c)
	resp := tokenResponse{
		AccessToken:  issued.AccessToken,
		TokenType:    issued.TokenType,
		ExpiresIn:    int64(issued.ExpiresIn.Seconds()),
		RefreshToken: issued.RefreshToken,
		IDToken:      issued.IDToken,
		Scope:        domain.ScopeString(issued.Scope),
	}
	resp.IssuedTokenType = issued.IssuedTokenType
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, resp.appendJSON(make([]byte, 0, 1024)))
}

// Revoke serves POST /oauth/revoke (RFC 7009).
func (h *TokenHandler) Revoke(revoke *usecase.Revoke) echo.HandlerFunc {
	return func(c echo.Context) error {
		f, cr, err := clientForm(c)
		if err != nil {
			return err
		}
		err = revoke.Execute(c.Request().Context(), usecase.RevokeRequest{
			Credentials: cr, Token: f.get("token"), TokenTypeHint: f.get("token_type_hint"),
		})
		if err != nil {
			return err
		}
		noStore(c)
		return c.NoContent(http.StatusOK)
	}
}

// introspectionResponse is RFC 7662 §2.2; an inactive token shows only active:false.
type introspectionResponse struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	JTI       string   `json:"jti,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	TokenUse  string   `json:"token_use,omitempty"`
	Cnf       *cnf     `json:"cnf,omitempty"`
}

// cnf is the confirmation claim of a DPoP-bound token (RFC 9449 §6.2).
type cnf struct {
	JKT string `json:"jkt"`
}

// Introspect serves POST /oauth/introspect (RFC 7662).
func (h *TokenHandler) Introspect(introspect *usecase.Introspect) echo.HandlerFunc {
	return func(c echo.Context) error {
		f, cr, err := clientForm(c)
		if err != nil {
			return err
		}
		in, err := introspect.Execute(c.Request().Context(), usecase.IntrospectRequest{
			Credentials: cr, Token: f.get("token"), TokenTypeHint: f.get("token_type_hint"),
		})
		if err != nil {
			return err
		}
		noStore(c)
		if !in.Active {
			return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, (&introspectionResponse{}).appendJSON(nil))
		}
		var confirmation *cnf
		if in.JKT != "" {
			confirmation = &cnf{JKT: in.JKT}
		}
		resp := introspectionResponse{
			Cnf:    confirmation,
			Active: true, Scope: domain.ScopeString(in.Scope), ClientID: in.ClientID, Sub: in.Subject,
			Aud: in.Audience, Iss: in.Issuer, Exp: in.ExpiresAt.Unix(), Iat: in.IssuedAt.Unix(), JTI: in.JTI,
			TokenType: in.TokenType, TokenUse: in.TokenUse,
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, resp.appendJSON(make([]byte, 0, 512)))
	}
}
