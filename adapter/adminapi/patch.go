package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"sort"

	"github.com/labstack/echo/v4"
)

// mergePatch is a JSON merge patch (RFC 7396) of a flat resource: each member
// present changes that field, null removes it (its empty value), an absent one
// keeps it.
type mergePatch struct {
	members map[string]json.RawMessage
	issues  []fieldIssue
}

// readPatch reads a merge patch whose members must be among fields (readOnly ones
// are named as such). Its answer is written when ok is false.
func readPatch(c echo.Context, fields, readOnly []string) (p *mergePatch, ok bool, err error) {
	if !hasContentType(c, "application/merge-patch+json", "application/json") {
		return nil, false, problem(c, http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
			"send a JSON merge patch (application/merge-patch+json)", nil)
	}
	if c.Request().ContentLength > maxBody {
		return nil, false, tooLarge(c) // before the body is read: see tooLarge
	}
	body, rerr := io.ReadAll(c.Request().Body)
	if rerr != nil {
		var tooBig *http.MaxBytesError
		if errors.As(rerr, &tooBig) {
			return nil, false, tooLarge(c)
		}
		return nil, false, badRequest(c, "the body could not be read")
	}
	if issue, ok := textIssue(body); !ok {
		return nil, false, badRequest(c, issue.Field+" must not hold control characters", issue)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var members map[string]json.RawMessage
	if err := dec.Decode(&members); err != nil || members == nil {
		return nil, false, badRequest(c, "the body must be a JSON object (a merge patch)")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false, badRequest(c, "the body must hold exactly one JSON object")
	}
	var issues []fieldIssue
	names := make([]string, 0, len(members))
	for k := range members {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch {
		case slices.Contains(readOnly, k):
			issues = append(issues, fieldIssue{Field: k, Message: "read-only"})
		case !slices.Contains(fields, k):
			issues = append(issues, fieldIssue{Field: k, Message: "unknown field"})
		}
	}
	if len(issues) > 0 {
		return nil, false, badRequest(c, "the patch names fields that cannot be changed", issues...)
	}
	return &mergePatch{members: members}, true, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// str sets *dst for a present string member; null is "".
func (p *mergePatch) str(field string, dst **string) {
	raw, ok := p.members[field]
	if !ok {
		return
	}
	var v string
	if !isNull(raw) {
		if err := json.Unmarshal(raw, &v); err != nil {
			p.issues = append(p.issues, fieldIssue{Field: field, Message: "must be a string or null"})
			return
		}
	}
	*dst = &v
}

// boolean sets *dst for a present boolean member; null is ifNull.
func (p *mergePatch) boolean(field string, dst **bool, ifNull bool) {
	raw, ok := p.members[field]
	if !ok {
		return
	}
	v := ifNull
	if !isNull(raw) {
		if err := json.Unmarshal(raw, &v); err != nil {
			p.issues = append(p.issues, fieldIssue{Field: field, Message: "must be true, false or null"})
			return
		}
	}
	*dst = &v
}

// list sets *dst for a present array-of-strings member; null is empty.
func (p *mergePatch) list(field string, dst **[]string) {
	raw, ok := p.members[field]
	if !ok {
		return
	}
	v := []string{}
	if !isNull(raw) {
		if err := json.Unmarshal(raw, &v); err != nil || v == nil {
			p.issues = append(p.issues, fieldIssue{Field: field, Message: "must be an array of strings or null"})
			return
		}
	}
	*dst = &v
}

// raw is a present member as JSON; null is nil with present true.
func (p *mergePatch) raw(field string) (v json.RawMessage, present bool) {
	raw, ok := p.members[field]
	if !ok || isNull(raw) {
		return nil, ok
	}
	return raw, true
}

// problem answers the type errors found, if any.
func (p *mergePatch) problem(c echo.Context) (bad bool, err error) {
	if len(p.issues) == 0 {
		return false, nil
	}
	return true, badRequest(c, "the patch has values of the wrong type", p.issues...)
}
