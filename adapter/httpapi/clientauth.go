package httpapi

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// clientForm parses the strict form body of a client-authenticated POST (token,
// revocation, introspection, device authorization, PAR) and the credentials in it.
func clientForm(c echo.Context) (form, usecase.Credentials, error) {
	f, err := parseForm(c)
	if err != nil {
		return form{}, usecase.Credentials{}, err
	}
	cr, err := credentials(c, f)
	return f, cr, err
}

// credentials extracts client credentials from a request: HTTP Basic (RFC 6749
// §2.3.1: id and secret each form-urlencoded before base64; the scheme name is case
// insensitive), client_secret_post, a private_key_jwt assertion (RFC 7523), or a bare
// client_id for public clients. Two methods at once is invalid_request (SECURITY S21).
func credentials(c echo.Context, f form) (usecase.Credentials, error) {
	cr := usecase.Credentials{Address: c.RealIP()}
	authz, err := authorizationHeader(c)
	if err != nil {
		return cr, err
	}
	bodyID, bodySecret := f.get("client_id"), f.get("client_secret")
	assertionType, assertion := f.get("client_assertion_type"), f.get("client_assertion")
	if assertionType != "" || assertion != "" {
		// private_key_jwt (RFC 7523 §2.2): the assertion alone authenticates.
		if authz != "" || bodySecret != "" {
			return cr, domain.ErrInvalidRequest.WithDescription("use one client authentication method, not two")
		}
		if assertionType != usecase.ClientAssertionType || assertion == "" {
			return cr, domain.ErrInvalidRequest.WithDescription("client_assertion_type must be %s, with a client_assertion", usecase.ClientAssertionType)
		}
		cr.ClientID, cr.Assertion, cr.Method = bodyID, assertion, usecase.AuthMethodPrivateKeyJWT
		if bodyID != "" && bodyID != usecase.AssertionSubject(assertion) {
			// RFC 7523 §3: sub must be the client_id.
			return cr, usecase.ClientAuthFailed(bodyID, usecase.ClientAuthAssertionClaims)
		}
		return cr, nil
	}
	if authz != "" {
		id, secret, ok := parseBasic(authz)
		// A form body may not carry a NUL or invalid UTF-8 (parseForm); neither may
		// Basic credentials: PostgreSQL and MariaDB fail on a NUL in a query
		// parameter, which would turn a bad request into a 500.
		if !ok || !cleanText(id) || !cleanText(secret) {
			// The id may be unreadable, or hold a NUL: none is logged.
			return cr, usecase.ClientAuthFailed("", usecase.ClientAuthMalformed)
		}
		if bodySecret != "" {
			return cr, domain.ErrInvalidRequest.WithDescription("use one client authentication method, not two")
		}
		if bodyID != "" && bodyID != id {
			return cr, domain.ErrInvalidRequest.WithDescription("client_id differs from the authenticated client")
		}
		cr.ClientID, cr.Secret, cr.Method = id, secret, usecase.AuthMethodBasic
		return cr, nil
	}
	if bodyID == "" {
		return cr, usecase.ClientAuthFailed("", usecase.ClientAuthNoClientID)
	}
	cr.ClientID, cr.Secret = bodyID, bodySecret
	cr.Method = usecase.AuthMethodNone
	if bodySecret != "" {
		cr.Method = usecase.AuthMethodPost
	}
	return cr, nil
}

// errTwoAuthorizationHeaders refuses a request with more than one Authorization
// header: which one authenticates would depend on who reads it (Go's Header.Get takes
// the first, a proxy may take the last), so none does (SECURITY S21).
var errTwoAuthorizationHeaders = domain.ErrInvalidRequest.WithDescription("the request has more than one Authorization header")

// authorizationHeader is the request's Authorization header, "" when there is none;
// more than one is errTwoAuthorizationHeaders (invalid_request). Every handler of
// this package that reads the header reads it here.
func authorizationHeader(c echo.Context) (string, error) {
	values := c.Request().Header.Values(echo.HeaderAuthorization)
	switch len(values) {
	case 0:
		return "", nil
	case 1:
		return values[0], nil
	default:
		return "", errTwoAuthorizationHeaders
	}
}

// clientAuthFailure logs and counts a failed client authentication, which the
// caller sees only as invalid_client (or a 429): the log line says why and for
// which client id (never the secret or the assertion), the metric counts it by
// reason (never by client id: that would be a label per guess).
func clientAuthFailure(c echo.Context, log *slog.Logger, m *Metrics, route string, err error) {
	var cae *usecase.ClientAuthError
	if !errors.As(err, &cae) {
		return
	}
	m.ClientAuthFailures.WithLabelValues(string(cae.Reason)).Inc()
	ctx := c.Request().Context()
	if !log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	log.LogAttrs(ctx, slog.LevelInfo, "client authentication failed",
		clientIDAttr(cae), slog.String("reason", string(cae.Reason)),
		slog.String("route", route), slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
		slog.String("remote", c.RealIP()))
}

// maxShownUnknownID is the longest client id that no client has which is logged as
// it came. Gatehouse's ids are 26 characters and its secrets 43: a longer unknown
// id may be a secret sent in the wrong field (id and secret swapped, "id:secret" as
// the id), so only its length is logged.
const maxShownUnknownID = 32

// clientIDAttr is the client_id of the log line: the id of a client that exists;
// an unknown id when it is short, else client_id_length in its place.
func clientIDAttr(cae *usecase.ClientAuthError) slog.Attr {
	id := cae.ClientID
	if !cae.Known && len(id) > maxShownUnknownID {
		return slog.Int("client_id_length", len(id))
	}
	return slog.String("client_id", strings.ToValidUTF8(id, "?"))
}

// parseBasic reads an Authorization header of the Basic scheme (RFC 7617; the scheme
// name is case-insensitive): standard base64 of id ":" secret, split at the first
// colon, each half form-urlencoded (RFC 6749 §2.3.1), so secrets holding ':', '%' or
// '+' survive. ok is false for anything else.
func parseBasic(header string) (id, secret string, ok bool) {
	scheme, rest, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return "", "", false
	}
	id, secret, ok = strings.Cut(string(raw), ":")
	if !ok {
		return "", "", false
	}
	if id, err = url.QueryUnescape(id); err != nil {
		return "", "", false
	}
	if secret, err = url.QueryUnescape(secret); err != nil {
		return "", "", false
	}
	return id, secret, true
}
