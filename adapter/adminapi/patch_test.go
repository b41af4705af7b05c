package adminapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"testing"
)

// events are the audit events of a type with a target, oldest first.
func (fx *apiFixture) events(typ, target string) []auditResource {
	fx.t.Helper()
	var p page[auditResource]
	fx.want(http.StatusOK, http.MethodGet, "/audit-events?limit=500&type="+url.QueryEscape(typ), nil, &p)
	var out []auditResource
	for _, e := range p.Items {
		if e.Target == target {
			out = append([]auditResource{e}, out...)
		}
	}
	return out
}

// fieldsOf is the fields an event says changed.
func fieldsOf(e auditResource) []string {
	var out []string
	list, _ := e.Details["fields"].([]any)
	for _, f := range list {
		s, _ := f.(string)
		out = append(out, s)
	}
	return out
}

// sameJSON reports whether two JSON documents are equal.
func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// wantNoChange sends PATCHes that change nothing of the resource at path: each is
// answered as a successful PATCH (200, the resource as stored, its ETag), none moves
// the ETag, and none records an event of eventType.
func wantNoChange(t *testing.T, fx *apiFixture, path, id, eventType string, patches ...string) {
	t.Helper()
	before := fx.want(http.StatusOK, http.MethodGet, path, nil, nil)
	etag := before.Header.Get("ETag")
	events := len(fx.events(eventType, id))
	for _, patch := range patches {
		r := fx.want(http.StatusOK, http.MethodPatch, path, patch, nil, "If-Match", etag,
			"Content-Type", "application/merge-patch+json")
		if got := r.Header.Get("ETag"); got != etag {
			t.Errorf("PATCH %s %s: ETag %s, want %s (unchanged)", path, patch, got, etag)
		}
		if !sameJSON(r.Body, before.Body) {
			t.Errorf("PATCH %s %s: %s\nwant %s", path, patch, r.Body, before.Body)
		}
		after := fx.want(http.StatusOK, http.MethodGet, path, nil, nil)
		if after.Header.Get("ETag") != etag || !sameJSON(after.Body, before.Body) {
			t.Errorf("PATCH %s %s changed it: %s %s", path, patch, after.Header.Get("ETag"), after.Body)
		}
		if n := len(fx.events(eventType, id)); n != events {
			t.Errorf("PATCH %s %s recorded %d %s events", path, patch, n-events, eventType)
		}
	}
}

// wantChange sends a PATCH that changes the resource at path: a new ETag, the old one
// stale (412), and one event of eventType naming exactly fields.
func wantChange(t *testing.T, fx *apiFixture, path, id, eventType, patch string, fields ...string) {
	t.Helper()
	etag := fx.want(http.StatusOK, http.MethodGet, path, nil, nil).Header.Get("ETag")
	events := fx.events(eventType, id)
	r := fx.want(http.StatusOK, http.MethodPatch, path, patch, nil, "If-Match", etag)
	if r.Header.Get("ETag") == etag {
		t.Errorf("PATCH %s %s: the ETag stayed %s", path, patch, etag)
	}
	fx.want(http.StatusPreconditionFailed, http.MethodPatch, path, `{}`, nil, "If-Match", etag)
	after := fx.events(eventType, id)
	if len(after) != len(events)+1 {
		t.Fatalf("PATCH %s %s: %d new %s events, want 1", path, patch, len(after)-len(events), eventType)
	}
	if got := fieldsOf(after[len(after)-1]); !slices.Equal(got, fields) {
		t.Errorf("PATCH %s %s: %s names the fields %q, want %q", path, patch, eventType, got, fields)
	}
}

// TestPatchUser_NoChange: a PATCH of a user that changes nothing (no member, or the
// values it has) writes nothing: the ETag stays, so that another editor's If-Match
// still holds, and no user.updated event is recorded. A change still moves both.
func TestPatchUser_NoChange(t *testing.T) {
	eachDatabase(t, func(t *testing.T, fx *apiFixture) {
		var bob userResource
		fx.want(http.StatusCreated, http.MethodPost, "/users", map[string]any{"username": "bob", "password": "correct horse battery",
			"email": "bob@example.com", "name": "Bob", "groups": []string{"staff"}}, &bob)
		path := "/users/" + bob.ID
		wantNoChange(t, fx, path, bob.ID, "user.updated",
			`{}`,
			`{"name":"Bob","email":"bob@example.com","groups":["staff"],"disabled":false}`,
			`{"name":" Bob ","given_name":null,"picture":null,"email_verified":false,"phone_number_verified":null}`)
		wantNoChange(t, fx, "/users/bob", bob.ID, "user.updated", `{}`) // by username
		wantChange(t, fx, path, bob.ID, "user.updated", `{"name":"Robert","groups":["staff"]}`, "name")
		wantNoChange(t, fx, path, bob.ID, "user.updated", `{"name":"Robert"}`)
	})
}

// TestPatchClient_NoChange: a PATCH of a client that changes nothing (no member, the
// values it has, null for a field already at its default) writes nothing: the ETag
// stays and no client.updated event is recorded. A change names its fields as the
// API does (require_pkce, scope).
func TestPatchClient_NoChange(t *testing.T) {
	eachDatabase(t, func(t *testing.T, fx *apiFixture) {
		var cl clientResource
		fx.want(http.StatusCreated, http.MethodPost, "/clients", map[string]any{"name": "app",
			"redirect_uris": []string{"https://app.example/cb"}}, &cl)
		path := "/clients/" + cl.ClientID
		wantNoChange(t, fx, path, cl.ClientID, "client.updated",
			`{}`,
			`{"grant_types":null}`,
			`{"scope":null}`,
			`{"require_pkce":null}`,
			`{"require_pkce":true,"require_mfa":false,"disabled":null,"audiences":null,"jwks":null}`,
			`{"name":"app","redirect_uris":["https://app.example/cb"],"id_token_alg":null}`)
		wantChange(t, fx, path, cl.ClientID, "client.updated", `{"require_pkce":false}`, "require_pkce")
		wantNoChange(t, fx, path, cl.ClientID, "client.updated", `{"require_pkce":false}`)
		wantChange(t, fx, path, cl.ClientID, "client.updated", `{"require_pkce":null,"scope":"openid"}`, "scope", "require_pkce")
		wantChange(t, fx, path, cl.ClientID, "client.updated", `{"require_mfa":true}`, "require_mfa")
		wantChange(t, fx, path, cl.ClientID, "client.updated", `{"scope":null,"name":"app 2"}`, "name", "scope")
		wantNoChange(t, fx, path, cl.ClientID, "client.updated", `{"scope":null,"name":"app 2","require_mfa":true}`)
	})
}

// TestPatchUpstream_NoChange: the same for an upstream: a PATCH that leaves it as it is
// (no member, its own values, null for the scope it has by default, a base URL with a
// trailing slash) keeps its ETag and records no upstream.updated event; a new client
// secret is a change even though the answer never shows it.
func TestPatchUpstream_NoChange(t *testing.T) {
	eachDatabase(t, func(t *testing.T, fx *apiFixture) {
		fx.want(http.StatusCreated, http.MethodPost, "/upstreams", map[string]any{"id": "gh", "name": "GitHub", "type": "github",
			"client_id": "cid", "client_secret": "a secret"}, nil)
		path := "/upstreams/gh"
		wantNoChange(t, fx, path, "gh", "upstream.updated",
			`{}`,
			`{"name":"GitHub","client_id":"cid"}`,
			`{"scope":null}`,
			`{"api_url":"https://api.github.com/"}`)
		wantChange(t, fx, path, "gh", "upstream.updated", `{"name":"GitHub.com"}`, "name")
		wantNoChange(t, fx, path, "gh", "upstream.updated", `{"name":"GitHub.com"}`)
		wantChange(t, fx, path, "gh", "upstream.updated", `{"client_secret":"a new secret"}`, "client_secret")
	})
}
