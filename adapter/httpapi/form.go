package httpapi

import (
	"io"
	"mime"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
)

// MaxBodyBytes bounds every request body (SECURITY S45).
const MaxBodyBytes = 64 << 10

// form is a strictly parsed application/x-www-form-urlencoded body: every parameter at
// most once (RFC 6749 §3.1, §3.2), valid UTF-8, no NUL bytes, no longer than its limit
// (domain.ParamLimit); an empty value counts as absent. Only `resource` (RFC 8707 §2)
// may repeat, at most domain.MaxResourceParams times; its values are in resources.
type form struct {
	values    map[string]string
	resources []string
}

func (f form) get(k string) string { return f.values[k] }

// errTooLarge is answered with 413.
var errTooLarge = echo.NewHTTPError(413, "request body too large")

// parseForm reads and checks a form body. Parameters in the query string are ignored:
// a secret there never authenticates (OAuth 2.1 §3.2).
func parseForm(c echo.Context) (form, error) {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationForm {
		return form{}, domain.ErrInvalidRequest.WithDescription("the body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxBodyBytes+1))
	if err != nil {
		return form{}, domain.ErrInvalidRequest.WithDescription("could not read the request body")
	}
	if len(body) > MaxBodyBytes {
		return form{}, errTooLarge
	}
	return parseFormBody(string(body))
}

// parseFormBody parses and checks the body itself (fuzzed in form_fuzz_test.go).
func parseFormBody(body string) (form, error) {
	values, err := url.ParseQuery(body)
	if err != nil {
		return form{}, domain.ErrInvalidRequest.WithDescription("malformed form encoding")
	}
	f := form{values: make(map[string]string, len(values))}
	for k, vs := range values {
		if !cleanText(k) {
			return form{}, errBadText
		}
		if k != "resource" && len(vs) > 1 {
			return form{}, domain.ErrInvalidRequest.WithDescription("parameter %q is repeated", safeName(k))
		}
		for _, v := range vs {
			if err := domain.CheckParam(k, v); err != nil {
				return form{}, err
			}
			if !cleanText(v) {
				return form{}, errBadText
			}
			if v == "" {
				continue
			}
			if k == "resource" {
				f.resources = append(f.resources, v)
			} else {
				f.values[k] = v
			}
		}
	}
	if err := domain.CheckResourceCount(len(f.resources)); err != nil {
		return form{}, err
	}
	return f, nil
}

var errBadText = domain.ErrInvalidRequest.WithDescription("parameters must be valid UTF-8 without NUL bytes")

func cleanText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// safeName shortens a parameter name before it goes into an error description.
func safeName(k string) string {
	if len(k) > 40 {
		return k[:40] + "…"
	}
	return k
}
