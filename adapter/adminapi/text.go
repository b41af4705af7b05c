package adminapi

import (
	"encoding/json"
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// maxParam bounds a query parameter or path segment: no filter, id or cursor of the
// API comes near it.
const maxParam = 1024

// plainText reports whether s can be stored and compared as text by every database:
// valid UTF-8 without control characters (PostgreSQL refuses NUL in text, and no
// name, id or filter of the API holds a control character).
func plainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// cleanInput answers a path segment that cannot be an id with 404, and a query
// parameter that cannot be a filter with a 400 problem, before either reaches a use
// case or the database.
func cleanInput(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		for _, v := range c.ParamValues() {
			if len(v) > maxParam || !plainText(v) {
				return problem(c, http.StatusNotFound, "not-found", "Not found", "no such resource in the admin API", nil)
			}
		}
		for name, vs := range c.QueryParams() {
			for _, v := range vs {
				if len(name) > maxParam || len(v) > maxParam || !plainText(name) || !plainText(v) {
					return badRequest(c, "a query parameter holds a control character, invalid UTF-8, or more than 1024 bytes",
						fieldIssue{Field: safeName(name), Message: "not plain text"})
				}
			}
		}
		return next(c)
	}
}

// safeName is a parameter name fit to echo in a problem: at most 40 bytes of
// printable ASCII, "?" for anything else.
func safeName(name string) string {
	b := []byte(name)
	if len(b) > 40 {
		b = b[:40]
	}
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// textIssue is the first member of a JSON body whose string (or key) is not plain
// text, as a field issue; ok when there is none.
func textIssue(body []byte) (fieldIssue, bool) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fieldIssue{}, true // the strict decoding that follows names the error
	}
	field, bad := badText("", v)
	if !bad {
		return fieldIssue{}, true
	}
	return fieldIssue{Field: safeName(field), Message: "must not hold control characters"}, false
}

func badText(field string, v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return field, !plainText(x)
	case []any:
		for _, e := range x {
			if f, bad := badText(field, e); bad {
				return f, true
			}
		}
	case map[string]any:
		for k, e := range x {
			if !plainText(k) {
				return k, true
			}
			if f, bad := badText(k, e); bad {
				return f, true
			}
		}
	}
	return "", false
}
