package adminapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// listFixture is a fixture with three or more items in every list of the API.
type listFixture struct {
	*apiFixture
	userID string
	// lists are the list paths, by the list names of their cursors.
	lists map[string]string
}

func newListFixture(t *testing.T, fx *apiFixture) *listFixture {
	ctx := context.Background()
	var clientIDs []string
	for i := range 3 {
		var cl clientResource
		fx.want(http.StatusCreated, http.MethodPost, "/clients", map[string]any{"name": fmt.Sprintf("app %d", i),
			"redirect_uris": []string{"https://app.example/cb"}}, &cl)
		clientIDs = append(clientIDs, cl.ClientID)
	}
	var alice userResource
	fx.want(http.StatusCreated, http.MethodPost, "/users", map[string]any{"username": "alice", "password": "correct horse battery"}, &alice)
	for _, name := range []string{"bob", "carol"} {
		fx.want(http.StatusCreated, http.MethodPost, "/users", map[string]any{"username": name, "password": "correct horse battery"}, nil)
	}
	for range 2 {
		fx.want(http.StatusCreated, http.MethodPost, "/keys/rotate", map[string]any{"alg": domain.AlgES256, "now": true}, nil)
	}
	for _, id := range []string{"gh-a", "gh-b", "gh-c"} {
		fx.want(http.StatusCreated, http.MethodPost, "/upstreams", map[string]any{"id": id, "name": id, "type": "github",
			"client_id": "cid-" + id, "client_secret": "a secret of " + id}, nil)
	}
	// Four sessions: two seen (at different times), two never seen.
	for i := range 4 {
		now := fx.clock.Now()
		s := domain.Session{ID: fmt.Sprintf("session-%d", i), SecretHash: []byte(fmt.Sprintf("hash-%d", i)), UserID: alice.ID,
			AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
		if err := fx.sessions.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			if err := fx.sessions.TouchSession(ctx, s.ID, "a browser", "192.0.2.1", fx.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Four consents, one for every redirect URI of a client ("") among them.
	for i, c := range []struct{ client, uri string }{{clientIDs[0], ""}, {clientIDs[1], "https://app.example/cb"},
		{clientIDs[1], "https://app.example/cb2"}, {clientIDs[2], ""}} {
		if err := fx.consents.SaveConsent(ctx, domain.Consent{UserID: alice.ID, ClientID: c.client, RedirectURI: c.uri,
			Scope: []string{"openid"}, GrantedAt: fx.clock.Now()}); err != nil {
			t.Fatalf("consent %d: %v", i, err)
		}
	}
	// Four linked identities, two at one upstream; linked out of their order (by
	// upstream, then subject) so that the list's order is its own.
	for i, l := range []struct{ upstream, subject string }{{"gh-c", "30"}, {"gh-b", "21"}, {"gh-a", "10"}, {"gh-b", "20"}} {
		now := fx.clock.Now()
		if err := fx.identities.LinkIdentity(ctx, domain.LinkedIdentity{UpstreamID: l.upstream, Subject: l.subject,
			UserID: alice.ID, Username: "alice-" + l.subject, CreatedAt: now, LastUsedAt: now}); err != nil {
			t.Fatalf("identity %d: %v", i, err)
		}
	}
	return &listFixture{apiFixture: fx, userID: alice.ID, lists: map[string]string{
		listClients: "/clients", listUsers: "/users", listSessions: "/users/" + alice.ID + "/sessions",
		listConsents: "/users/" + alice.ID + "/consents", listKeys: "/keys", listUpstreams: "/upstreams",
		listAudit: "/audit-events", listIdentities: "/users/alice/identities"}}
}

// itemKey names an item of a list page.
func itemKey(item map[string]any) string {
	if up, ok := item["upstream_id"].(string); ok && item["subject"] != nil {
		return fmt.Sprint(up, " ", item["subject"]) // a linked identity
	}
	for _, k := range []string{"kid", "id", "client_id"} {
		if v, ok := item[k].(string); ok {
			if uri, ok := item["redirect_uri"].(string); ok {
				return v + " " + uri
			}
			return v
		}
	}
	return fmt.Sprint(item)
}

type rawPage struct {
	Items      []map[string]any `json:"items"`
	NextCursor string           `json:"next_cursor"`
}

// walk reads every page of a list, limit items at a time.
func (fx *listFixture) walk(t *testing.T, path string, limit int) []string {
	t.Helper()
	var got []string
	cursor := ""
	for range 100 {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var p rawPage
		fx.want(http.StatusOK, http.MethodGet, path+"?"+q.Encode(), nil, &p)
		if len(p.Items) > limit {
			t.Fatalf("%s: a page of %d items with limit %d", path, len(p.Items), limit)
		}
		for _, it := range p.Items {
			got = append(got, itemKey(it))
		}
		if p.NextCursor == "" {
			return got
		}
		cursor = p.NextCursor
	}
	t.Fatalf("%s: the pages did not end", path)
	return nil
}

// TestLists_Pages: every list of the API pages by ?limit= and ?cursor= (the
// next_cursor of the page before): one item at a time, every item comes once, in the
// order of the whole list, and without limit a page holds the default number.
func TestLists_Pages(t *testing.T) {
	eachDatabase(t, func(t *testing.T, base *apiFixture) {
		fx := newListFixture(t, base)
		for name, path := range fx.lists {
			var all rawPage
			fx.want(http.StatusOK, http.MethodGet, path, nil, &all)
			whole := make([]string, 0, len(all.Items))
			for _, it := range all.Items {
				whole = append(whole, itemKey(it))
			}
			if len(whole) < 3 || all.NextCursor != "" {
				t.Fatalf("%s: %d items, next_cursor %q", name, len(whole), all.NextCursor)
			}
			for _, limit := range []int{1, 2, usecase.MaxPageSize} {
				if got := fx.walk(t, path, limit); !slices.Equal(got, whole) {
					t.Errorf("%s by %d: %v\nwant %v", name, limit, got, whole)
				}
			}
		}
	})
}

// TestLists_BadCursorAndLimit: every list refuses a limit out of 1..500 and a cursor
// it did not give (garbage, a forged one, another list's) alike: 400 problem+json,
// the same type, title and detail, the parameter named.
func TestLists_BadCursorAndLimit(t *testing.T) {
	eachDatabase(t, func(t *testing.T, base *apiFixture) {
		fx := newListFixture(t, base)
		// A good cursor of each list, to give the others.
		cursors := map[string]string{}
		for name, path := range fx.lists {
			var p rawPage
			fx.want(http.StatusOK, http.MethodGet, path+"?limit=1", nil, &p)
			if p.NextCursor == "" {
				t.Fatalf("%s: no next_cursor with limit=1", name)
			}
			cursors[name] = p.NextCursor
		}
		b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		type bad struct{ query, field, detail string }
		const cursorDetail, limitDetail = "cursor is not one this API gave", "limit must be a whole number from 1 to 500"
		cases := []bad{
			{"cursor=zzz", "cursor", cursorDetail},
			{"cursor=%21%21", "cursor", cursorDetail},
			{"cursor=" + b64("gh-a"), "cursor", cursorDetail},             // an upstream id, as upstream cursors were
			{"cursor=" + b64("not a time\x00id"), "cursor", cursorDetail}, // the form of the other lists' cursors
			{"cursor=" + b64("x\x00y\x00z\x00w"), "cursor", cursorDetail}, // too many parts
			{"cursor=" + url.QueryEscape(strings.Repeat("A", 100)), "cursor", cursorDetail},
			{"limit=abc", "limit", limitDetail},
			{"limit=0", "limit", limitDetail},
			{"limit=-1", "limit", limitDetail},
			{"limit=501", "limit", limitDetail},
			{"limit=1.5", "limit", limitDetail},
			{"limit=+1e2", "limit", limitDetail},
			{"limit=99999999999999999999", "limit", limitDetail},
		}
		for name, path := range fx.lists {
			own := cases
			for other, cursor := range cursors {
				if other != name {
					own = append(own, bad{"cursor=" + cursor, "cursor", cursorDetail})
				}
			}
			// A cursor of this list with its list name replaced.
			if raw, err := base64.RawURLEncoding.DecodeString(cursors[name]); err == nil {
				_, rest, _ := strings.Cut(string(raw), "\x00")
				own = append(own, bad{"cursor=" + b64("other\x00"+rest), "cursor", cursorDetail})
			}
			for _, c := range own {
				r := fx.call(http.MethodGet, path+"?"+c.query, nil)
				var p problemDoc
				if r.Status != http.StatusBadRequest || json.Unmarshal(r.Body, &p) != nil {
					t.Errorf("%s?%s: %d, want 400\n%s", name, c.query, r.Status, r.Body)
					continue
				}
				if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("%s?%s: Content-Type %q", name, c.query, ct)
				}
				want := problemDoc{Type: problemTypeBase + "bad-request", Title: "Bad request", Status: http.StatusBadRequest,
					Detail: c.detail}
				if p.Type != want.Type || p.Title != want.Title || p.Status != want.Status || p.Detail != want.Detail ||
					len(p.Errors) != 1 || p.Errors[0].Field != c.field {
					t.Errorf("%s?%s: %s", name, c.query, r.Body)
				}
			}
			// What is fine stays fine: the list's own cursor, the bounds of limit.
			for _, q := range []string{"cursor=" + cursors[name], "limit=1", "limit=500", "limit=", "cursor="} {
				fx.want(http.StatusOK, http.MethodGet, path+"?"+q, nil, nil)
			}
		}
	})
}

// TestAuditEvents_UnknownType: a type no event has is refused, as `audit list --type`
// refuses it, rather than listing nothing as if nothing had happened; every known
// type lists.
func TestAuditEvents_UnknownType(t *testing.T) {
	eachDatabase(t, func(t *testing.T, fx *apiFixture) {
		for _, typ := range []string{"nope", "user.updatedx", "USER.UPDATED", "user.*"} {
			r := fx.call(http.MethodGet, "/audit-events?type="+url.QueryEscape(typ), nil)
			var p problemDoc
			if r.Status != http.StatusBadRequest || json.Unmarshal(r.Body, &p) != nil || len(p.Errors) != 1 ||
				p.Errors[0].Field != "type" || !strings.HasPrefix(p.Detail, "type must be one of ") {
				t.Errorf("type=%s: %d %s, want a 400 naming the field type", typ, r.Status, r.Body)
			}
		}
		for _, typ := range domain.AuditTypes {
			fx.want(http.StatusOK, http.MethodGet, "/audit-events?type="+url.QueryEscape(typ), nil, nil)
		}
	})
}
