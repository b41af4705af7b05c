package adminapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"gatehouse/domain"
)

// TestUserIdentities_ListAndUnlink: an administrator sees a user's linked upstream
// identities, by upstream then subject, with the upstream's name, and unlinks those at
// one upstream: 204, then 404 (a problem) as there are none left there; another user's
// identity at that upstream stays. The unlinking is audited as done by the admin
// token's client, to the user.
func TestUserIdentities_ListAndUnlink(t *testing.T) {
	eachDatabase(t, func(t *testing.T, fx *apiFixture) {
		ctx := context.Background()
		for _, id := range []string{"gh-a", "oidc-b"} {
			fx.want(http.StatusCreated, http.MethodPost, "/upstreams", map[string]any{"id": id, "name": "Name of " + id,
				"type": "github", "client_id": "cid-" + id, "client_secret": "a secret of " + id}, nil)
		}
		var alice, bob userResource
		fx.want(http.StatusCreated, http.MethodPost, "/users", map[string]any{"username": "alice", "password": "correct horse battery"}, &alice)
		fx.want(http.StatusCreated, http.MethodPost, "/users", map[string]any{"username": "bob", "password": "correct horse battery"}, &bob)
		link := func(user, upstream, subject, email, username string) {
			t.Helper()
			now := fx.clock.Now()
			if err := fx.identities.LinkIdentity(ctx, domain.LinkedIdentity{UpstreamID: upstream, Subject: subject, UserID: user,
				Email: email, Username: username, CreatedAt: now, LastUsedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		link(alice.ID, "oidc-b", "b-1", "alice@example.com", "")
		link(alice.ID, "gh-a", "a-2", "", "alice-gh")
		link(alice.ID, "gh-a", "a-1", "alice@example.com", "alice")
		link(bob.ID, "gh-a", "a-3", "", "bob")

		var got page[IdentityResource]
		fx.want(http.StatusOK, http.MethodGet, "/users/"+alice.ID+"/identities", nil, &got)
		if len(got.Items) != 3 || got.NextCursor != "" {
			t.Fatalf("identities: %+v", got)
		}
		for i, want := range []IdentityResource{
			{UpstreamID: "gh-a", UpstreamName: "Name of gh-a", Subject: "a-1", Email: "alice@example.com", Username: "alice"},
			{UpstreamID: "gh-a", UpstreamName: "Name of gh-a", Subject: "a-2", Username: "alice-gh"},
			{UpstreamID: "oidc-b", UpstreamName: "Name of oidc-b", Subject: "b-1", Email: "alice@example.com"},
		} {
			it := got.Items[i]
			if it.CreatedAt.IsZero() || it.LastUsedAt.IsZero() {
				t.Errorf("item %d: no times: %+v", i, it)
			}
			it.CreatedAt, it.LastUsedAt = want.CreatedAt, want.LastUsedAt
			if it != want {
				t.Errorf("item %d: %+v, want %+v", i, it, want)
			}
		}
		// Empty email and username are left out, not null or "".
		r := fx.want(http.StatusOK, http.MethodGet, "/users/alice/identities", nil, nil)
		var raw struct{ Items []map[string]any }
		if err := json.Unmarshal(r.Body, &raw); err != nil {
			t.Fatal(err)
		}
		if _, ok := raw.Items[1]["email"]; ok {
			t.Errorf("an identity without email: %v", raw.Items[1])
		}
		if _, ok := raw.Items[2]["username"]; ok {
			t.Errorf("an identity without username: %v", raw.Items[2])
		}
		fx.want(http.StatusOK, http.MethodHead, "/users/alice/identities", nil, nil) // net/http drops the body

		// By username as by id.
		fx.want(http.StatusNoContent, http.MethodDelete, "/users/alice/identities/gh-a", nil, nil)
		fx.want(http.StatusOK, http.MethodGet, "/users/"+alice.ID+"/identities", nil, &got)
		if len(got.Items) != 1 || got.Items[0].UpstreamID != "oidc-b" {
			t.Errorf("after the unlinking: %+v", got.Items)
		}
		fx.want(http.StatusOK, http.MethodGet, "/users/"+bob.ID+"/identities", nil, &got)
		if len(got.Items) != 1 || got.Items[0].Subject != "a-3" {
			t.Errorf("bob's identities: %+v", got.Items)
		}

		for _, path := range []string{
			"/users/" + alice.ID + "/identities/gh-a",                          // none left there
			"/users/" + alice.ID + "/identities/nope",                          // no such upstream
			"/users/" + alice.ID + "/identities/" + url.PathEscape("GH-A\x00"), // cannot be an upstream id
			"/users/nobody/identities/oidc-b",                                  // no such user
		} {
			r := fx.want(http.StatusNotFound, http.MethodDelete, path, nil, nil)
			var p problemDoc
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" || json.Unmarshal(r.Body, &p) != nil ||
				p.Status != http.StatusNotFound {
				t.Errorf("DELETE %s: %s %s", path, ct, r.Body)
			}
		}
		fx.want(http.StatusNotFound, http.MethodGet, "/users/nobody/identities", nil, nil)

		var events page[auditResource]
		fx.want(http.StatusOK, http.MethodGet, "/audit-events?type="+domain.AuditIdentityUnlinked, nil, &events)
		if len(events.Items) != 1 {
			t.Fatalf("%d %s events, want 1: %+v", len(events.Items), domain.AuditIdentityUnlinked, events.Items)
		}
		e := events.Items[0]
		if e.Actor != testAdminClient || e.Target != alice.ID || e.Details["upstream"] != "gh-a" {
			t.Errorf("the event: %+v", e)
		}
		fx.want(http.StatusOK, http.MethodGet, "/audit-events?type="+domain.AuditIdentityUnlinked+"&user="+alice.ID, nil, &events)
		if len(events.Items) != 1 {
			t.Errorf("the user filter finds %d events", len(events.Items))
		}
	})
}
