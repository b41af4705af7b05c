package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
)

// oauthError is the RFC 6749 §5.2 error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// ErrorHandler maps every error to an answer: OAuth errors to 400 (401 for
// invalid_client), throttling to 429, storage outages to 503, Echo's own errors to their
// status; anything else is logged and answered as server_error with no detail, so no
// internal message ever reaches a client.
// pageErr, when not nil, renders errors on browser pages as HTML.
func ErrorHandler(log *slog.Logger, pageErr PageErrorWriter) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, body, hdr := mapError(err)
		if status >= 500 {
			log.ErrorContext(c.Request().Context(), "request failed",
				"err", err, "route", c.Path(), "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		}
		if status == http.StatusUnauthorized && body.Error == domain.ErrInvalidClient.Code {
			hdr = append(hdr, [2]string{"WWW-Authenticate", `Basic realm="gatehouse", charset="UTF-8"`})
		}
		h := c.Response().Header()
		for _, kv := range hdr {
			h.Set(kv[0], kv[1])
		}
		if pageErr != nil && isPagePath(c.Request().URL.Path) {
			pageErr(c, status, body.Error, body.Description)
			return
		}
		noStore(c)
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(status)
			return
		}
		_ = c.JSON(status, body)
	}
}

// PageErrorWriter renders an error on a browser page as HTML.
type PageErrorWriter func(c echo.Context, status int, code, description string)

func isPagePath(p string) bool {
	for _, prefix := range []string{"/login", "/consent", "/logout", "/register", "/device", "/oauth/authorize", "/oauth/authenticate"} {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}

func mapError(err error) (int, oauthError, [][2]string) {
	var oe *domain.Error
	var te *domain.ThrottledError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &te):
		secs := int(te.RetryAfter.Seconds())
		if secs < 1 {
			secs = 1
		}
		return http.StatusTooManyRequests,
			oauthError{Error: "invalid_request", Description: "too many failed attempts; retry after " + strconv.Itoa(secs) + " seconds"},
			[][2]string{{"Retry-After", strconv.Itoa(secs)}}
	case errors.As(err, &oe):
		switch oe.Code {
		case domain.ErrInvalidClient.Code, domain.ErrInvalidToken.Code:
			return http.StatusUnauthorized, oauthError{oe.Code, oe.Description}, nil
		case domain.ErrInsufficientScope.Code:
			return http.StatusForbidden, oauthError{oe.Code, oe.Description}, nil
		case domain.ErrServerError.Code:
			return http.StatusInternalServerError, oauthError{oe.Code, ""}, nil
		case domain.ErrTemporarilyUnavailable.Code:
			return http.StatusServiceUnavailable, oauthError{oe.Code, oe.Description}, nil
		}
		return http.StatusBadRequest, oauthError{oe.Code, oe.Description}, nil
	case errors.Is(err, domain.ErrUnavailable):
		return http.StatusServiceUnavailable,
			oauthError{Error: domain.ErrTemporarilyUnavailable.Code, Description: "the service is temporarily unavailable; try again"},
			[][2]string{{"Retry-After", "5"}}
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		code := "invalid_request"
		switch he.Code {
		case http.StatusNotFound:
			code = "not_found"
		case http.StatusMethodNotAllowed:
			code = "invalid_request"
			msg = "method not allowed"
		case http.StatusRequestEntityTooLarge:
			msg = "request body too large"
		}
		if he.Code >= 500 {
			return http.StatusInternalServerError, oauthError{Error: "server_error"}, nil
		}
		return he.Code, oauthError{Error: code, Description: strings.ToLower(msg)}, nil
	}
	return http.StatusInternalServerError, oauthError{Error: "server_error"}, nil
}

// noStore sets the caching headers every token-endpoint answer needs (RFC 6749 §5.1).
func noStore(c echo.Context) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}
