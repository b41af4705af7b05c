package httpapi

import (
	"io"
	"mime"
	"net/http"
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

// declaredTooLarge reports a body whose declared length (Content-Length) is already
// over MaxBodyBytes. It is refused before a byte of it is read: net/http sends
// "100 Continue" to a request with `Expect: 100-continue` (curl adds it to large
// bodies) at the body's first read, and a client that then sends megabytes while the
// server answers and closes sees its connection reset instead of the 413 (SECURITY
// S45).
func declaredTooLarge(req *http.Request) bool { return req.ContentLength > MaxBodyBytes }

// parseForm reads and checks a form body. Parameters in the query string are ignored:
// a secret there never authenticates (OAuth 2.1 §3.2).
func parseForm(c echo.Context) (form, error) {
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); ct != echo.MIMEApplicationForm {
		// The exact type is the common case; anything else (parameters, case) is
		// parsed in full.
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != echo.MIMEApplicationForm {
			return form{}, domain.ErrInvalidRequest.WithDescription("the body must be application/x-www-form-urlencoded")
		}
	}
	if declaredTooLarge(req) {
		return form{}, errTooLarge
	}
	body, err := readBody(req.Body, req.ContentLength)
	if err != nil {
		return form{}, domain.ErrInvalidRequest.WithDescription("could not read the request body")
	}
	if len(body) > MaxBodyBytes {
		return form{}, errTooLarge
	}
	f, err := parseFormBody(string(body))
	if err == nil {
		c.Set(formRequestIDKey, f.get(requestIDField)) // the page's language may depend on it
	}
	return f, err
}

// readBody reads at most MaxBodyBytes+1 bytes of r, into one buffer of the declared
// length when there is one.
func readBody(r io.Reader, declared int64) ([]byte, error) {
	n := 512
	if declared >= 0 && declared <= MaxBodyBytes {
		n = int(declared) + 1 // room to see EOF (or a longer body) without growing
	}
	buf := make([]byte, 0, n)
	lr := io.LimitReader(r, MaxBodyBytes+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// maxFormParams is url.ParseQuery's bound on the number of parameters (Go's
// urlmaxqueryparams default); a body with more is malformed, as it was for ParseQuery.
const maxFormParams = 10000

// parseFormBody parses and checks the body itself (fuzzed in form_fuzz_test.go): one
// pass over the body, splitting and decoding as url.ParseQuery does, without building
// its map of slices. A malformed encoding anywhere wins over any other refusal, as
// when the whole body was decoded before it was checked.
func parseFormBody(body string) (form, error) {
	n := strings.Count(body, "&") + 1
	if n > maxFormParams {
		return form{}, errMalformed
	}
	f := form{values: make(map[string]string, min(n, 16))}
	var emptySeen map[string]bool // names seen only with an empty value so far
	var refusal error             // the first refusal other than a malformed encoding
	for rest := body; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if strings.Contains(pair, ";") {
			return form{}, errMalformed
		}
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		k, err := queryUnescape(rawKey)
		if err != nil {
			return form{}, errMalformed
		}
		v, err := queryUnescape(rawValue)
		if err != nil {
			return form{}, errMalformed
		}
		if refusal != nil {
			continue // only a malformed encoding can still change the answer
		}
		switch {
		case !cleanText(k):
			refusal = errBadText
			continue
		case k == "resource":
		case f.values[k] != "" || emptySeen[k]:
			refusal = domain.ErrInvalidRequest.WithDescription("parameter %q is repeated", safeName(k))
			continue
		}
		if err := domain.CheckParam(k, v); err != nil {
			refusal = err
			continue
		}
		if !cleanText(v) {
			refusal = errBadText
			continue
		}
		switch {
		case v == "" && k != "resource":
			if emptySeen == nil {
				emptySeen = map[string]bool{}
			}
			emptySeen[k] = true
		case v == "":
		case k == "resource":
			f.resources = append(f.resources, v)
		default:
			f.values[k] = v
		}
	}
	if refusal != nil {
		return form{}, refusal
	}
	if err := domain.CheckResourceCount(len(f.resources)); err != nil {
		return form{}, err
	}
	return f, nil
}

// queryUnescape is url.QueryUnescape, which returns s itself when it holds no '%'
// and no '+': found here with two vectorised byte searches instead of its loop over
// every byte (a JWT to introspect is hundreds of bytes and has neither).
func queryUnescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

var errMalformed = domain.ErrInvalidRequest.WithDescription("malformed form encoding")

var errBadText = domain.ErrInvalidRequest.WithDescription("parameters must be valid UTF-8 without NUL bytes")

func cleanText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// safeName shortens a parameter name before it goes into an error description.
func safeName(k string) string {
	if len(k) > 40 {
		return k[:40] + "…"
	}
	return k
}
