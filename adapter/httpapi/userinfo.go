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
}

// NewUserInfoHandler builds the handler. Its errors carry the challenges of a
// protected resource (SurfaceBearer).
func NewUserInfoHandler(userinfo *usecase.UserInfo) *UserInfoHandler {
	return &UserInfoHandler{userinfo: userinfo}
}

// userInfoResponse is the JSON of the claims (OpenID Connect Core §5.3.2): those not
// set are left out; groups, when asked, is an array even when empty.
type userInfoResponse struct {
	Sub                 string    `json:"sub"`
	Name                string    `json:"name,omitempty"`
	GivenName           string    `json:"given_name,omitempty"`
	FamilyName          string    `json:"family_name,omitempty"`
	PreferredUsername   string    `json:"preferred_username,omitempty"`
	Picture             string    `json:"picture,omitempty"`
	Locale              string    `json:"locale,omitempty"`
	Zoneinfo            string    `json:"zoneinfo,omitempty"`
	UpdatedAt           int64     `json:"updated_at,omitempty"`
	Email               string    `json:"email,omitempty"`
	EmailVerified       *bool     `json:"email_verified,omitempty"`
	PhoneNumber         string    `json:"phone_number,omitempty"`
	PhoneNumberVerified *bool     `json:"phone_number_verified,omitempty"`
	Groups              *[]string `json:"groups,omitempty"`
}

func toUserInfoResponse(c usecase.Claims) userInfoResponse {
	r := userInfoResponse{
		Sub: c.Subject, Name: c.Name, GivenName: c.GivenName, FamilyName: c.FamilyName,
		PreferredUsername: c.PreferredUsername, Picture: c.Picture, Locale: c.Locale, Zoneinfo: c.Zoneinfo,
		Email: c.Email, EmailVerified: c.EmailVerified, PhoneNumber: c.PhoneNumber,
		PhoneNumberVerified: c.PhoneNumberVerified,
	}
	if !c.UpdatedAt.IsZero() {
		r.UpdatedAt = c.UpdatedAt.Unix()
	}
	if c.Groups != nil {
		r.Groups = &c.Groups
	}
	return r
}

// accessToken reads the token from the Authorization header (RFC 6750 §2.1; the DPoP
// scheme of RFC 9449 §7.1 too, which dpop reports) or, for POST, from the form body
// (§2.2); both at once, or two Authorization headers, is invalid_request.
func accessToken(c echo.Context) (tok string, dpop bool, err error) {
	var fromHeader, fromBody string
	h, err := authorizationHeader(c)
	if err != nil {
		return "", false, err
	}
	if h != "" {
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
	switch {
	case err != nil:
		return err
	case tok == "":
		return errNoToken // a bare challenge, without an error code (RFC 6750 §3.1)
	}
	if dpop {
		c.Set(ctxDPoPScheme, true)
	}
	claims, err := h.userinfo.Request(c.Request().Context(), usecase.UserInfoRequest{
		AccessToken: tok, DPoPScheme: dpop, DPoP: dpopInput(c)})
	if errors.Is(err, usecase.ErrDPoPSchemeRequired) {
		c.Set(ctxDPoPScheme, true) // tell the client which scheme, as a DPoP challenge
	}
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, toUserInfoResponse(claims))
}
