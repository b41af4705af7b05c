package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestSecurity_S55_AdminAPIAuthorization: every admin API call needs a live token of
// this server with scope gatehouse:admin and the admin audience; a user's token needs
// the user in group admin at the time of the call.
func TestSecurity_S55_AdminAPIAuthorization(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		token, _ := adminToken(t, srv)
		api := newAdminAPI(t, srv, token)
		wantStatus(t, "admin client token", api.call(http.MethodGet, "/clients", nil), http.StatusOK)

		// The OpenAPI document is public.
		if r := srv.Get(t, nil, "/admin/api/v1/openapi.json"); r.Status != http.StatusOK {
			t.Fatalf("openapi.json: %d", r.Status)
		}

		// No token, or not a Bearer one: 401 with a Bearer challenge.
		for _, h := range []string{"", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a b"} {
			r := api.callWith("", http.MethodGet, "/users", nil, "Authorization", h)
			wantStatus(t, "authorization "+h, r, http.StatusUnauthorized)
			if c := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(c, "Bearer ") || strings.Contains(c, "error=") {
				t.Fatalf("challenge without a token: %q", c)
			}
		}
		wantInvalidToken := func(what string, r Response) {
			t.Helper()
			wantStatus(t, what, r, http.StatusUnauthorized)
			if c := r.Header.Get("WWW-Authenticate"); !strings.Contains(c, `error="invalid_token"`) {
				t.Fatalf("%s: challenge %q", what, c)
			}
		}
		wantInvalidToken("garbage token", api.callWith("not-a-jwt", http.MethodGet, "/users", nil))
		// Every route is behind it, the upstreams' too (their secrets are sealed, but an
		// upstream's settings decide who signs in).
		for _, m := range [][2]string{{http.MethodGet, "/upstreams"}, {http.MethodPost, "/upstreams"}, {http.MethodGet, "/upstreams/x"},
			{http.MethodPatch, "/upstreams/x"}, {http.MethodDelete, "/upstreams/x"}} {
			wantStatus(t, m[0]+" "+m[1]+" without a token", api.callWith("", m[0], m[1], `{}`), http.StatusUnauthorized)
		}

		// Right scope, wrong audience (the default one): 401 invalid_token.
		id, secret := adminClient(t, srv)
		wantInvalidToken("default audience", api.callWith(clientToken(t, srv, id, secret), http.MethodGet, "/users", nil))
		// A token for another resource the client may ask.
		other, otherSecret := adminClient(t, srv, "--audience", "https://api.example")
		wantInvalidToken("another audience", api.callWith(clientToken(t, srv, other, otherSecret, "resource", "https://api.example"),
			http.MethodGet, "/users", nil))

		// Right audience, wrong scope: 403 insufficient_scope.
		narrow, narrowSecret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api:read gatehouse:admin",
			"--audience", adminAudience(srv))
		r := api.callWith(clientToken(t, srv, narrow, narrowSecret, "resource", adminAudience(srv), "scope", "api:read"),
			http.MethodGet, "/users", nil)
		wantStatus(t, "scope api:read", r, http.StatusForbidden)
		if c := r.Header.Get("WWW-Authenticate"); !strings.Contains(c, `error="insufficient_scope"`) || !strings.Contains(c, "gatehouse:admin") {
			t.Fatalf("insufficient scope challenge %q", c)
		}

		// gatehouse:admin is no client's unless registered: a default client asking for
		// it is refused at the token endpoint.
		plainID, plainSecret := srv.CreateClient(t, "--grant-type", "client_credentials", "--audience", adminAudience(srv))
		pr := srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials", "scope", "gatehouse:admin",
			"resource", adminAudience(srv)), plainID, plainSecret)
		if pr.Status != http.StatusBadRequest || !strings.Contains(string(pr.Body), "invalid_scope") {
			t.Fatalf("a client without gatehouse:admin asked for it: %d %s", pr.Status, pr.Body)
		}

		// A DPoP-bound token sent as Bearer: refused (it needs its key's proof).
		key := newDPoPKey(t, "ES256")
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/oauth/token",
			strings.NewReader(form("grant_type", "client_credentials", "resource", adminAudience(srv))))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", key.proof(t, http.MethodPost, srv.URL+"/oauth/token", nil, nil))
		req.SetBasicAuth(id, secret)
		bound := srv.Do(t, nil, req)
		if bound.Status != http.StatusOK || bound.JSON(t)["token_type"] != "DPoP" {
			t.Fatalf("DPoP token: %d %s", bound.Status, bound.Body)
		}
		boundTok, _ := bound.JSON(t)["access_token"].(string)
		srv.Sensitive(boundTok)
		wantInvalidToken("DPoP-bound token as Bearer", api.callWith(boundTok, http.MethodGet, "/users", nil))

		// A revoked token is refused at once, though its signature is still good.
		revoked := clientToken(t, srv, id, secret, "resource", adminAudience(srv))
		wantStatus(t, "before revocation", api.callWith(revoked, http.MethodGet, "/users", nil), http.StatusOK)
		if rr := revoke(t, srv, nil, id, secret, revoked, "access_token"); rr.Status != http.StatusOK {
			t.Fatalf("revoke: %d %s", rr.Status, rr.Body)
		}
		wantInvalidToken("revoked token", api.callWith(revoked, http.MethodGet, "/users", nil))

		// A disabled client's tokens die with it.
		live := clientToken(t, srv, id, secret, "resource", adminAudience(srv))
		wantStatus(t, "live token", api.callWith(live, http.MethodGet, "/users", nil), http.StatusOK)
		tag := api.call(http.MethodGet, "/clients/"+id, nil).Header.Get("ETag")
		wantStatus(t, "disable client", api.call(http.MethodPatch, "/clients/"+id, `{"disabled":true}`, "If-Match", tag), http.StatusOK)
		wantInvalidToken("disabled client's token", api.callWith(live, http.MethodGet, "/users", nil))

		// A user's token: the user must be in group admin now.
		pwClient := srv.CreateClientJSON(t, "--grant-type", "password", "--scope", "openid gatehouse:admin",
			"--audience", adminAudience(srv))
		uid, name, pass := oiUser(t, srv)
		userToken := func() string {
			t.Helper()
			r := srv.PostForm(t, nil, "/oauth/token", form("grant_type", "password", "username", name, "password", pass,
				"scope", "gatehouse:admin", "resource", adminAudience(srv)), pwClient.ClientID, pwClient.ClientSecret)
			if r.Status != http.StatusOK {
				t.Fatalf("password grant: %d %s", r.Status, r.Body)
			}
			tok, _ := r.JSON(t)["access_token"].(string)
			srv.Sensitive(tok)
			return tok
		}
		notAdmin := userToken()
		wantStatus(t, "user not in group admin", api.callWith(notAdmin, http.MethodGet, "/users", nil), http.StatusForbidden)

		tag = api.call(http.MethodGet, "/users/"+uid, nil).Header.Get("ETag")
		wantStatus(t, "make admin", api.call(http.MethodPatch, "/users/"+uid, `{"groups":["admin"]}`, "If-Match", tag), http.StatusOK)
		// The same token works now that the user is an admin: group membership is read
		// per call, not from the token.
		wantStatus(t, "the earlier token of a user now admin", api.callWith(notAdmin, http.MethodGet, "/users", nil), http.StatusOK)
		adminTok := userToken()
		wantStatus(t, "admin user token", api.callWith(adminTok, http.MethodGet, "/users", nil), http.StatusOK)

		// Changes made with a user's token are the user's in the audit log.
		userAPI := newAdminAPI(t, srv, adminTok)
		made := userAPI.call(http.MethodPost, "/clients", map[string]any{"name": uniqueName("by-user-"),
			"grant_types": []string{"client_credentials"}})
		wantStatus(t, "create as the admin user", made, http.StatusCreated)
		var c map[string]any
		decode(t, made, &c)
		srv.Sensitive(c["client_secret"].(string))
		ev := api.call(http.MethodGet, "/audit-events?type=client.created&user="+uid, nil)
		var events struct {
			Items []map[string]any `json:"items"`
		}
		decode(t, ev, &events)
		if len(events.Items) != 1 || events.Items[0]["target"] != c["client_id"] || events.Items[0]["actor"] != uid {
			t.Fatalf("the user's change is audited as %s", ev.Body)
		}

		// Removed from group admin after the token was issued: refused.
		tag = api.call(http.MethodGet, "/users/"+uid, nil).Header.Get("ETag")
		wantStatus(t, "remove from admin", api.call(http.MethodPatch, "/users/"+uid, `{"groups":null}`, "If-Match", tag), http.StatusOK)
		wantStatus(t, "token of a user removed from admin", api.callWith(adminTok, http.MethodGet, "/users", nil), http.StatusForbidden)

		// Disabled: refused as invalid (its tokens die).
		tag = api.call(http.MethodGet, "/users/"+uid, nil).Header.Get("ETag")
		wantStatus(t, "make admin again", api.call(http.MethodPatch, "/users/"+uid, `{"groups":["admin"]}`, "If-Match", tag), http.StatusOK)
		wantStatus(t, "admin again", api.callWith(adminTok, http.MethodGet, "/users", nil), http.StatusOK)
		tag = api.call(http.MethodGet, "/users/"+uid, nil).Header.Get("ETag")
		wantStatus(t, "disable", api.call(http.MethodPatch, "/users/"+uid, `{"disabled":true}`, "If-Match", tag), http.StatusOK)
		wantInvalidToken("disabled admin user", api.callWith(adminTok, http.MethodGet, "/users", nil))
	})
}
