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
}

// NewUserInfoHandler builds the handler.
func NewUserInfoHandler(userinfo *usecase.UserInfo, settings usecase.Settings) *UserInfoHandler {
	return &UserInfoHandler{userinfo: userinfo, realm: string(settings.Issuer)}
}

type userInfoResponse struct {
	Sub               string `json:"sub"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	Email             string `json:"email,omitempty"`
	EmailVerified     *bool  `json:"email_verified,omitempty"`
}

// bearerToken reads the token from the Authorization header (RFC 6750 §2.1) or, for
// POST, from the form body (§2.2); both at once is invalid_request.
func bearerToken(c echo.Context) (string, error) {
	var fromHeader, fromBody string
	if h := c.Request().Header.Get(echo.HeaderAuthorization); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(tok) == "" {
			return "", domain.ErrInvalidRequest.WithDescription("the Authorization header must be: Bearer <token>")
		}
		fromHeader = strings.TrimSpace(tok)
	}
	if c.Request().Method == http.MethodPost && c.Request().ContentLength != 0 {
		f, err := parseForm(c)
		if err != nil {
			return "", err
		}
		fromBody = f.get("access_token")
	}
	if fromHeader != "" && fromBody != "" {
		return "", domain.ErrInvalidRequest.WithDescription("send the access token once")
	}
	return fromHeader + fromBody, nil
}

// UserInfo handles the request.
func (h *UserInfoHandler) UserInfo(c echo.Context) error {
	tok, err := bearerToken(c)
	if err == nil && tok == "" {
		// No credentials at all: a bare challenge without an error code (RFC 6750 §3.1).
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="`+h.realm+`"`)
		noStore(c)
		return c.JSON(http.StatusUnauthorized, oauthError{Error: domain.ErrInvalidToken.Code, Description: "missing access token"})
	}
	if err == nil {
		var claims usecase.Claims
		claims, err = h.userinfo.Execute(c.Request().Context(), tok)
		if err == nil {
			noStore(c)
			return c.JSON(http.StatusOK, userInfoResponse{Sub: claims.Subject, PreferredUsername: claims.PreferredUsername,
				Email: claims.Email, EmailVerified: claims.EmailVerified})
		}
	}
	var oe *domain.Error
	if errors.As(err, &oe) {
		c.Response().Header().Set("WWW-Authenticate",
			`Bearer realm="`+h.realm+`", error="`+oe.Code+`", error_description="`+strings.ReplaceAll(oe.Description, `"`, `'`)+`"`)
	}
	return err
}
