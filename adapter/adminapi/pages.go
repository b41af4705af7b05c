package adminapi

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/usecase"
)

// The lists of the API, as their cursors name them: a cursor is good only for the
// list that gave it.
const (
	listClients    = "clients"
	listUsers      = "users"
	listUpstreams  = "upstreams"
	listAudit      = "audit-events"
	listKeys       = "keys"
	listSessions   = "sessions"
	listConsents   = "consents"
	listIdentities = "identities"
)

// page is a list answer.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// encodeCursor makes the position of the last item of a page of list opaque: the
// list's name and the parts, NUL-separated, in base64url. The last part is the item's
// id; "" (no position: the last page) gives no cursor.
func encodeCursor(list string, parts ...string) string {
	if len(parts) == 0 || parts[len(parts)-1] == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(list + "\x00" + strings.Join(parts, "\x00")))
}

// decodeCursor is the n parts of a cursor encodeCursor made for list; n empty parts
// for no cursor. ok is false for anything else: another list's cursor, or one this
// API did not give.
func decodeCursor(s, list string, n int) (parts []string, ok bool) {
	if s == "" {
		return make([]string, n), true
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	parts = strings.Split(string(b), "\x00")
	if len(parts) != n+1 || parts[0] != list || parts[n] == "" {
		return nil, false
	}
	return parts[1:], true
}

// badCursor answers a cursor this API did not give for the list.
func badCursor(c echo.Context) error {
	return badRequest(c, "cursor is not one this API gave", fieldIssue{Field: "cursor", Message: "invalid"})
}

// pageParams reads ?cursor= (of list, n parts) and ?limit= of every list of the API;
// its answer is written when ok is false. limit is 0 when not given (PageSize: the
// default).
func pageParams(c echo.Context, list string, n int) (cursor []string, limit int, ok bool, err error) {
	if l := c.QueryParam("limit"); l != "" {
		v, perr := strconv.Atoi(l)
		if perr != nil || v < 1 || v > usecase.MaxPageSize {
			return nil, 0, false, badRequest(c, fmt.Sprintf("limit must be a whole number from 1 to %d", usecase.MaxPageSize),
				fieldIssue{Field: "limit", Message: "out of range"})
		}
		limit = v
	}
	cursor, good := decodeCursor(c.QueryParam("cursor"), list, n)
	if !good {
		return nil, 0, false, badCursor(c)
	}
	return cursor, limit, true, nil
}

// listParams reads ?cursor= and ?limit= of a list whose positions are a time and an
// id (creation time for clients, users and keys, the event's time for the audit log).
func listParams(c echo.Context, list string) (after usecase.ListPosition, limit int, ok bool, err error) {
	cursor, limit, ok, err := pageParams(c, list, 2)
	if !ok {
		return usecase.ListPosition{}, 0, false, err
	}
	if cursor[1] == "" {
		return usecase.ListPosition{}, limit, true, nil
	}
	at, perr := time.Parse(time.RFC3339Nano, cursor[0])
	if perr != nil {
		return usecase.ListPosition{}, 0, false, badCursor(c)
	}
	return usecase.ListPosition{CreatedAt: at, ID: cursor[1]}, limit, true, nil
}

// positionCursor is the cursor of a position of list; "" for none (the last page).
func positionCursor(list string, p usecase.ListPosition) string {
	if p.ID == "" {
		return ""
	}
	return encodeCursor(list, p.CreatedAt.UTC().Format(time.RFC3339Nano), p.ID)
}

// wholePage is one page of a list a use case gives whole (keys, a user's sessions,
// consents and linked identities), ordered by cmp here so that pages follow one
// another as the pages of the lists the store pages do: the items after the position
// after (nil: from the start), at most limit (usecase.PageSize). more is the last item
// of the page when items follow it (the position of the next page).
func wholePage[T any](all []T, cmp func(a, b T) int, after *T, limit int) (items []T, more *T) {
	all = slices.Clone(all)
	slices.SortStableFunc(all, cmp)
	if after != nil {
		i := slices.IndexFunc(all, func(x T) bool { return cmp(x, *after) > 0 })
		if i < 0 {
			i = len(all)
		}
		all = all[i:]
	}
	n := usecase.PageSize(limit)
	if len(all) <= n {
		return all, nil
	}
	return all[:n], &all[n-1]
}
