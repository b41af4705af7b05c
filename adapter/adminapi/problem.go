package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// problemTypeBase prefixes the type URI of every problem (RFC 9457 §3.1.1).
const problemTypeBase = "urn:gatehouse:problem:"

// problemDoc is an RFC 9457 problem details object.
type problemDoc struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []fieldIssue `json:"errors,omitempty"`
}

// fieldIssue is one problem of a request body's field.
type fieldIssue struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// problem answers an RFC 9457 problem.
func problem(c echo.Context, status int, kind, title, detail string, issues []fieldIssue) error {
	body, err := json.Marshal(problemDoc{Type: problemTypeBase + kind, Title: title, Status: status, Detail: detail, Errors: issues})
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(status, "application/problem+json", body)
}

// badRequest is a 400 about the request itself (its JSON, a parameter).
func badRequest(c echo.Context, detail string, issues ...fieldIssue) error {
	return problem(c, http.StatusBadRequest, "bad-request", "Bad request", detail, issues)
}

// fail answers an error of a use case: bad input 400 (409 when it collides with what
// is stored), unknown 404, anything else a logged 500 that tells nothing.
func (a *API) fail(c echo.Context, err error) error {
	var verr *usecase.ValidationError
	var ferr *domain.FieldError
	var oerr *domain.Error
	switch {
	case errors.Is(err, errStale):
		return preconditionFailed(c)
	case errors.As(err, &verr) && verr.Conflict:
		return problem(c, http.StatusConflict, "conflict", "Conflict", verr.Error(), fieldIssues(verr))
	case errors.As(err, &verr), errors.As(err, &ferr):
		issues := ruleIssues(err)
		messages := make([]string, len(issues))
		for i, is := range issues {
			messages[i] = is.Message
		}
		return problem(c, http.StatusBadRequest, "validation", "Invalid input", strings.Join(messages, "; "), issues)
	case errors.Is(err, domain.ErrNotFound):
		return problem(c, http.StatusNotFound, "not-found", "Not found", "no such resource", nil)
	case errors.Is(err, domain.ErrKeyPending), errors.Is(err, domain.ErrKeyRotated):
		// A delayed rotation while the alg's next key waits: the CLI's exit 2.
		return problem(c, http.StatusConflict, "conflict", "Conflict", err.Error(), nil)
	case errors.As(err, &oerr) && oerr.Code == "invalid_request":
		return badRequest(c, oerr.Description)
	}
	a.cfg.Log.ErrorContext(c.Request().Context(), "admin api failure", "route", c.Path(), "err", err)
	return problem(c, http.StatusInternalServerError, "internal", "Internal error", "the request could not be completed", nil)
}

// ruleIssues are the problems of a use case's refusal by its rules, one per bad
// field as this API names it: a *usecase.ValidationError (not a conflict) or a
// client's *domain.FieldError; nil for any other error.
func ruleIssues(err error) []fieldIssue {
	var verr *usecase.ValidationError
	var ferr *domain.FieldError
	switch {
	case errors.As(err, &verr) && !verr.Conflict:
		return fieldIssues(verr)
	case errors.As(err, &ferr):
		var issues []fieldIssue
		for _, f := range ferr.All() {
			issues = append(issues, fieldIssue{Field: clientFieldName(f.Field), Message: f.Text(clientFieldName)})
		}
		return issues
	}
	return nil
}

// fieldIssues is one issue for each bad field of a use case's refusal.
func fieldIssues(verr *usecase.ValidationError) []fieldIssue {
	var issues []fieldIssue
	for _, e := range verr.All() {
		issues = append(issues, fieldIssue{Field: fieldName(e.Field), Message: e.Message})
	}
	return issues
}

// clientFieldName is the name this API gives a client field that the client rules
// name as RFC 7591 does (domain.FieldError): the member of the request body to fix.
func clientFieldName(f string) string {
	switch f {
	case "client_name":
		return "name"
	case "id_token_signed_response_alg":
		return "id_token_alg"
	case "audience":
		return "audiences"
	}
	return fieldName(f)
}

// fieldName is the JSON name of a use case's field (they name CLI flags, kebab-case).
func fieldName(f string) string { return strings.ReplaceAll(f, "-", "_") }

// readJSON decodes the JSON object of the request body into v, strictly: one object,
// known fields only, of the right types. Its error answer is already written when
// ok is false.
func readJSON(c echo.Context, v any, contentTypes ...string) (ok bool, err error) {
	if !hasContentType(c, contentTypes...) {
		return false, problem(c, http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
			"send "+strings.Join(contentTypes, " or "), nil)
	}
	if c.Request().ContentLength > maxBody {
		return false, tooLarge(c)
	}
	body, rerr := io.ReadAll(c.Request().Body)
	if rerr != nil {
		var tooBig *http.MaxBytesError
		if errors.As(rerr, &tooBig) {
			return false, tooLarge(c)
		}
		return false, badRequest(c, "the body could not be read")
	}
	if issue, ok := textIssue(body); !ok {
		return false, badRequest(c, issue.Field+" must not hold control characters", issue)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return false, jsonProblem(c, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return false, badRequest(c, "the body must hold exactly one JSON object")
	}
	return true, nil
}

// tooLarge answers a body over maxBody with 413. A body whose Content-Length already
// says so is refused before it is read: net/http sends "100 Continue" to a request
// with `Expect: 100-continue` at the body's first read, and a client that then sends
// its megabytes while the server answers and closes sees a reset connection instead
// of this answer (SECURITY S45).
func tooLarge(c echo.Context) error {
	return problem(c, http.StatusRequestEntityTooLarge, "too-large", "Request too large",
		fmt.Sprintf("the body may hold at most %d bytes", maxBody), nil)
}

// jsonProblem answers a JSON decoding error as a 400 naming the field when it can.
func jsonProblem(c echo.Context, err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		msg := fmt.Sprintf("%s must be %s", field, jsonKind(typeErr.Type.Kind().String()))
		if field == "" {
			msg = "the body must be a JSON object"
		}
		return badRequest(c, msg, fieldIssue{Field: field, Message: msg})
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest(c, "the body is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(c, "unknown field "+field, fieldIssue{Field: field, Message: "unknown field"})
	}
	return badRequest(c, "the body is not a valid JSON object of this resource")
}

// jsonKind names a Go kind as JSON does.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "int", "int64", "float64":
		return "a number"
	}
	return "of another type"
}

// hasContentType reports whether the request's media type is one of types.
func hasContentType(c echo.Context, types ...string) bool {
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get("Content-Type"))
	if err != nil {
		return false
	}
	for _, t := range types {
		if strings.EqualFold(mt, t) {
			return true
		}
	}
	return false
}

// etagOf is the entity tag of a resource's version: its update time, to the
// microsecond the databases keep.
func etagOf(updated time.Time) string {
	return `"` + strconv.FormatInt(updated.UTC().Truncate(time.Microsecond).UnixMicro(), 36) + `"`
}

// checkIfMatch is the precondition of a change (RFC 9110 §13.1.1): If-Match is
// required (428 without it) and must name the current version (or be *), else 412.
// Its answer is already written when ok is false.
func checkIfMatch(c echo.Context, current string) (ok bool, err error) {
	h := c.Request().Header.Get("If-Match")
	if strings.TrimSpace(h) == "" {
		return false, problem(c, http.StatusPreconditionRequired, "precondition-required", "Precondition required",
			"send If-Match with the ETag of the resource as last read", nil)
	}
	if ifMatches(h, current) {
		return true, nil
	}
	return false, preconditionFailed(c)
}

// ifMatches reports whether an If-Match header names the version current (or is *):
// strong comparison, so a weak tag never matches.
func ifMatches(h, current string) bool {
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || tag == current {
			return true
		}
	}
	return false
}

// errStale: the resource changed between the If-Match check and the write.
var errStale = errors.New("the resource changed since it was read")

func preconditionFailed(c echo.Context) error {
	return problem(c, http.StatusPreconditionFailed, "precondition-failed", "Precondition failed",
		"the resource changed since it was read (its ETag is not the one in If-Match); read it again", nil)
}

// created answers 201 with the resource and its Location.
func created(c echo.Context, location string, etag string, v any) error {
	c.Response().Header().Set("Location", Prefix+location)
	if etag != "" {
		c.Response().Header().Set("ETag", etag)
	}
	return c.JSON(http.StatusCreated, v)
}

// single answers 200 with one resource and its ETag.
func single(c echo.Context, etag string, v any) error {
	if etag != "" {
		c.Response().Header().Set("ETag", etag)
	}
	return c.JSON(http.StatusOK, v)
}
