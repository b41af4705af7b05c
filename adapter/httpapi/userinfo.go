package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// UserInfoHandler serves GET and POST /userinfo (OpenID Connect Core §5.3), protected
// by a bearer token (RFC 6750).
type UserInfoHandler struct {
	userinfo *usecase.UserInfo
	realm    string
	dpopAlgs []string
}

// NewUserInfoHandler builds the handler.
func NewUserInfoHandler(userinfo *usecase.UserInfo, settings usecase.Settings, features Features) *UserInfoHandler {
	return &UserInfoHandler{userinfo: userinfo, realm: string(settings.Issuer), dpopAlgs: features.DPoPAlgs}
}

type userInfoResponse struct {
	Sub               string `json:"sub"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	Email             string `json:"email,omitempty"`
	EmailVerified     *bool  `json:"email_verified,omitempty"`
}

// accessToken reads the token from the Authorization header (RFC 6750 §2.1; the DPoP
// scheme of RFC 9449 §7.1 too, which dpop reports) or, for POST, from the form body
// (§2.2); both at once is invalid_request.
func accessToken(c echo.Context) (tok string, dpop bool, err error) {
	var fromHeader, fromBody string
	if h := c.Request().Header.Get(echo.HeaderAuthorization); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		dpop = strings.EqualFold(scheme, "dpop")
		if !ok || !(dpop || strings.EqualFold(scheme, "bearer")) || strings.TrimSpace(tok) == "" {
			return "", false, domain.ErrInvalidRequest.WithDescription("the Authorization header must be: Bearer <token> or DPoP <token>")
		}
		fromHeader = strings.TrimSpace(tok)
	}
	if c.Request().Method == http.MethodPost && c.Request().ContentLength != 0 {
		f, err := parseForm(c)
		if err != nil {
			return "", false, err
		}
		fromBody = f.get("access_token")
	}
	if fromHeader != "" && fromBody != "" {
		return "", false, domain.ErrInvalidRequest.WithDescription("send the access token once")
	}
	return fromHeader + fromBody, dpop, nil
}

// UserInfo handles the request.
func (h *UserInfoHandler) UserInfo(c echo.Context) error {
	tok, dpop, err := accessToken(c)
	if err == nil && tok == "" {
		// No credentials at all: a bare challenge without an error code (RFC 6750 §3.1).
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="`+h.realm+`"`)
		c.Response().Header().Add("WWW-Authenticate", `DPoP algs="`+strings.Join(h.dpopAlgs, " ")+`"`)
		noStore(c)
		return c.JSON(http.StatusUnauthorized, oauthError{Error: domain.ErrInvalidToken.Code, Description: "missing access token"})
	}
	if err == nil {
		var claims usecase.Claims
		claims, err = h.userinfo.Request(c.Request().Context(), usecase.UserInfoRequest{
			AccessToken: tok, DPoPScheme: dpop, DPoP: dpopInput(c)})
		if err == nil {
			noStore(c)
			return c.JSON(http.StatusOK, userInfoResponse{Sub: claims.Subject, PreferredUsername: claims.PreferredUsername,
				Email: claims.Email, EmailVerified: claims.EmailVerified})
		}
	}
	var oe *domain.Error
	if errors.As(err, &oe) {
		scheme := "Bearer"
		if dpop || errors.Is(err, domain.ErrInvalidDPoPProof) {
			scheme = "DPoP" // RFC 9449 §7.1
		}
		c.Response().Header().Set("WWW-Authenticate",
			scheme+` realm="`+h.realm+`", error="`+oe.Code+`", error_description="`+strings.ReplaceAll(oe.Description, `"`, `'`)+`"`)
		if errors.Is(err, domain.ErrInvalidDPoPProof) {
			// A resource answers a bad proof with 401, not the token endpoint's 400.
			noStore(c)
			return c.JSON(http.StatusUnauthorized, oauthError{Error: oe.Code, Description: oe.Description})
		}
	}
	return err
}
