package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/adapter/mail/smtptest"
)

// TestAdminAPI drives every resource of /admin/api/v1 over real HTTP, on each
// database, with every answer checked against the served OpenAPI document.
func TestAdminAPI(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for _, b := range backends(t) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(b.Name, func(t *testing.T) {
				mx := smtptest.Start(t, smtptest.Options{})
				srv := startServer(t, Options{DatabaseURL: b.URL, Env: map[string]string{"GATEHOUSE_SMTP_URL": mx.URL()}})
				token, actor := adminToken(t, srv)
				api := newAdminAPI(t, srv, token)
				t.Run("Clients", func(t *testing.T) { testAdminClients(t, api) })
				t.Run("Users", func(t *testing.T) { testAdminUsers(t, api, mx) })
				t.Run("Pages", func(t *testing.T) { testAdminPages(t, api) })
				t.Run("SessionsConsents", func(t *testing.T) { testAdminSessions(t, api) })
				t.Run("Keys", func(t *testing.T) { testAdminKeys(t, api) })
				t.Run("Upstreams", func(t *testing.T) { testAdminUpstreams(t, api, actor) })
				t.Run("BadRequests", func(t *testing.T) { testAdminBadRequests(t, api) })
				t.Run("Audit", func(t *testing.T) { testAdminAudit(t, api, actor) })
			})
		}()
	}
	wg.Wait()
}

func testAdminClients(t *testing.T, api *adminAPI) {
	srv := api.srv
	name := uniqueName("api-client-")
	r := api.call(http.MethodPost, "/clients", map[string]any{"name": name, "redirect_uris": []string{"https://app.example/cb"},
		"audiences": []string{"https://api.example"}, "scope": "openid api:read",
		"grant_types": []string{"authorization_code", "refresh_token", "client_credentials"}})
	wantStatus(t, "create", r, http.StatusCreated)
	var c map[string]any
	decode(t, r, &c)
	id, _ := c["client_id"].(string)
	secret, _ := c["client_secret"].(string)
	srv.Sensitive(secret)
	if id == "" || len(secret) < 40 || r.Header.Get("Location") != "/admin/api/v1/clients/"+id || r.Header.Get("ETag") == "" {
		t.Fatalf("create: %v %v", r.Header, c)
	}
	// The secret works at once, and is never shown again.
	clientToken(t, srv, id, secret)
	wantStatus(t, "duplicate name", api.call(http.MethodPost, "/clients", map[string]any{"name": name,
		"grant_types": []string{"client_credentials"}}), http.StatusConflict)

	r = api.call(http.MethodGet, "/clients/"+id, nil)
	wantStatus(t, "get", r, http.StatusOK)
	etag := r.Header.Get("ETag")
	if strings.Contains(string(r.Body), secret) || strings.Contains(string(r.Body), `"client_secret":`) || etag == "" {
		t.Fatalf("get shows %s (etag %q)", r.Body, etag)
	}

	// PATCH needs If-Match: missing 428, stale 412.
	patch := `{"audiences":null,"skip_consent":true}`
	mp := "application/merge-patch+json"
	wantStatus(t, "patch without If-Match", api.call(http.MethodPatch, "/clients/"+id, patch, "Content-Type", mp), http.StatusPreconditionRequired)
	wantStatus(t, "patch with a stale If-Match", api.call(http.MethodPatch, "/clients/"+id, patch, "Content-Type", mp,
		"If-Match", `"stale"`), http.StatusPreconditionFailed)
	wantStatus(t, "patch with a weak If-Match", api.call(http.MethodPatch, "/clients/"+id, patch, "Content-Type", mp,
		"If-Match", "W/"+etag), http.StatusPreconditionFailed)
	r = api.call(http.MethodPatch, "/clients/"+id, patch, "Content-Type", mp, "If-Match", etag)
	wantStatus(t, "patch", r, http.StatusOK)
	decode(t, r, &c)
	// null removed the audiences, the absent fields stayed.
	if auds, _ := c["audiences"].([]any); len(auds) != 0 || c["skip_consent"] != true || c["name"] != name ||
		c["scope"] != "openid api:read" || fmt.Sprint(c["redirect_uris"]) != "[https://app.example/cb]" {
		t.Fatalf("after the merge patch: %v", c)
	}
	newTag := r.Header.Get("ETag")
	if newTag == "" || newTag == etag {
		t.Fatalf("the ETag did not change: %q", newTag)
	}
	if g := api.call(http.MethodGet, "/clients/"+id, nil); g.Header.Get("ETag") != newTag {
		t.Fatalf("GET after PATCH has ETag %q, the PATCH answered %q", g.Header.Get("ETag"), newTag)
	}
	// The old ETag is stale now.
	wantStatus(t, "patch with the old ETag", api.call(http.MethodPatch, "/clients/"+id, `{"name":"x"}`, "Content-Type", mp,
		"If-Match", etag), http.StatusPreconditionFailed)
	// application/json is taken too; a bad value is a 400 naming the field.
	r = api.call(http.MethodPatch, "/clients/"+id, `{"grant_types":["nonsense"]}`, "If-Match", newTag)
	wantStatus(t, "patch a bad grant type", r, http.StatusBadRequest)
	if f := problemFields(t, r); !slices.Contains(f, "grant_types") {
		t.Fatalf("the problem names %v", f)
	}
	// Several bad values: each field named once, in the rules' order, as this API
	// names it (name, id_token_alg, audiences: not RFC 7591's client_name, …).
	r = api.call(http.MethodPatch, "/clients/"+id, `{"name":" ","grant_types":["nonsense"],`+
		`"audiences":["https://api.example/#f"],"id_token_alg":"HS256"}`, "If-Match", newTag)
	wantStatus(t, "patch four bad values", r, http.StatusBadRequest)
	if f := problemFields(t, r); !slices.Equal(f, []string{"name", "grant_types", "audiences", "id_token_alg"}) {
		t.Fatalf("four bad values name %v: %s", f, r.Body)
	}
	var four struct{ Detail string }
	decode(t, r, &four)
	if !strings.HasSuffix(four.Detail, `; id_token_alg "HS256" is not one of RS256, ES256, EdDSA`) {
		t.Fatalf("detail of four bad values: %q", four.Detail)
	}
	// A scope that does not parse is said in words, not in OAuth's error code.
	r = api.call(http.MethodPatch, "/clients/"+id, `{"scope":"a\"b"}`, "If-Match", newTag)
	wantStatus(t, "patch a bad scope", r, http.StatusBadRequest)
	decode(t, r, &four)
	if f := problemFields(t, r); !slices.Equal(f, []string{"scope"}) || four.Detail != "scope: malformed scope token" {
		t.Fatalf("a bad scope: %v %q", f, four.Detail)
	}
	// A scope that does not parse is named with the rules' problems of the rest, on
	// a patch and on a new client (with no name and an auth method that means nothing).
	r = api.call(http.MethodPatch, "/clients/"+id, `{"scope":"a\"b","redirect_uris":["not a uri"]}`, "If-Match", newTag)
	wantStatus(t, "patch a bad scope and a bad redirect URI", r, http.StatusBadRequest)
	decode(t, r, &four)
	if f := problemFields(t, r); !slices.Equal(f, []string{"scope", "redirect_uris"}) ||
		!strings.HasPrefix(four.Detail, "scope: malformed scope token; ") {
		t.Fatalf("a bad scope and a bad redirect URI: %v %q", f, four.Detail)
	}
	r = api.call(http.MethodPost, "/clients", `{"token_endpoint_auth_method":"tls","scope":"a\"b","redirect_uris":["not a uri"],"id_token_alg":"HS256"}`)
	wantStatus(t, "create with five bad fields", r, http.StatusBadRequest)
	decode(t, r, &four)
	if f := problemFields(t, r); !slices.Equal(f, []string{"name", "token_endpoint_auth_method", "scope", "redirect_uris", "id_token_alg"}) ||
		!strings.HasPrefix(four.Detail, "name is required; token_endpoint_auth_method is not one this client can use; scope: malformed scope token; ") {
		t.Fatalf("five bad fields: %v %q", f, four.Detail)
	}
	// Only what cannot reach the rules: the answer is the same as before.
	r = api.call(http.MethodPost, "/clients", `{"grant_types":["client_credentials"]}`)
	wantStatus(t, "create without a name", r, http.StatusBadRequest)
	decode(t, r, &four)
	if f := problemFields(t, r); !slices.Equal(f, []string{"name"}) || four.Detail != "name is required" {
		t.Fatalf("no name: %v %q", f, four.Detail)
	}
	wantStatus(t, "patch a read-only field", api.call(http.MethodPatch, "/clients/"+id, `{"client_id":"x"}`, "If-Match", newTag),
		http.StatusBadRequest)
	wantStatus(t, "patch a wrong type", api.call(http.MethodPatch, "/clients/"+id, `{"skip_consent":"yes"}`, "If-Match", newTag),
		http.StatusBadRequest)
	wantStatus(t, "patch not an object", api.call(http.MethodPatch, "/clients/"+id, `[1]`, "If-Match", newTag), http.StatusBadRequest)
	wantStatus(t, "patch as text/plain", api.call(http.MethodPatch, "/clients/"+id, `{}`, "Content-Type", "text/plain",
		"If-Match", newTag), http.StatusUnsupportedMediaType)

	// rotate-secret: a new secret, shown once; the old one stops working.
	r = api.call(http.MethodPost, "/clients/"+id+"/rotate-secret", nil)
	wantStatus(t, "rotate-secret", r, http.StatusOK)
	var rot map[string]string
	decode(t, r, &rot)
	srv.Sensitive(rot["client_secret"])
	if rot["client_id"] != id || rot["client_secret"] == "" || rot["client_secret"] == secret {
		t.Fatalf("rotate-secret: %v", rot)
	}
	if old := srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials"), id, secret); old.Status != http.StatusUnauthorized {
		t.Fatalf("the old secret after rotation: %d", old.Status)
	}
	clientToken(t, srv, id, rot["client_secret"])
	wantStatus(t, "rotate-secret of nobody", api.call(http.MethodPost, "/clients/nosuch/rotate-secret", nil), http.StatusNotFound)

	// DELETE: If-Match required; then gone.
	tag := api.call(http.MethodGet, "/clients/"+id, nil).Header.Get("ETag")
	wantStatus(t, "delete without If-Match", api.call(http.MethodDelete, "/clients/"+id, nil), http.StatusPreconditionRequired)
	wantStatus(t, "delete with a stale If-Match", api.call(http.MethodDelete, "/clients/"+id, nil, "If-Match", `"0"`),
		http.StatusPreconditionFailed)
	wantStatus(t, "delete", api.call(http.MethodDelete, "/clients/"+id, nil, "If-Match", tag), http.StatusNoContent)
	wantStatus(t, "get a deleted client", api.call(http.MethodGet, "/clients/"+id, nil), http.StatusNotFound)
	wantStatus(t, "patch a deleted client", api.call(http.MethodPatch, "/clients/"+id, `{}`, "If-Match", "*"), http.StatusNotFound)
	wantStatus(t, "delete a deleted client", api.call(http.MethodDelete, "/clients/"+id, nil, "If-Match", "*"), http.StatusNotFound)
	if r := srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials"), id, rot["client_secret"]); r.Status != http.StatusUnauthorized {
		t.Fatalf("a deleted client's secret: %d", r.Status)
	}

	// A public client has no secret; ?q= finds clients by name.
	r = api.call(http.MethodPost, "/clients", map[string]any{"name": name + "-spa", "public": true,
		"redirect_uris": []string{"http://127.0.0.1/cb"}})
	wantStatus(t, "create a public client", r, http.StatusCreated)
	c = nil
	decode(t, r, &c)
	if _, has := c["client_secret"]; has || c["token_endpoint_auth_method"] != "none" {
		t.Fatalf("public client: %v", c)
	}
	keys, _ := api.walk("/clients?q="+url.QueryEscape(strings.ToUpper(name)), 50, "name")
	if !slices.Equal(keys, []string{name + "-spa"}) {
		t.Fatalf("clients ?q=%s: %v", name, keys)
	}
}

func testAdminUsers(t *testing.T, api *adminAPI, mx *smtptest.Server) {
	srv := api.srv
	name, pass := uniqueName("apiuser"), "pw-"+randomString(16)
	srv.Sensitive(pass)
	body := map[string]any{"username": name, "password": pass, "email": name + "@example.com", "name": "Ada Lovelace",
		"groups": []string{"staff"}}
	r := api.call(http.MethodPost, "/users", body)
	wantStatus(t, "create", r, http.StatusCreated)
	var u map[string]any
	decode(t, r, &u)
	id, _ := u["id"].(string)
	if id == "" || r.Header.Get("Location") != "/admin/api/v1/users/"+id || strings.Contains(string(r.Body), pass) {
		t.Fatalf("create: %v %s", r.Header, r.Body)
	}
	r = api.call(http.MethodPost, "/users", body)
	wantStatus(t, "duplicate username", r, http.StatusConflict)
	if f := problemFields(t, r); !slices.Equal(f, []string{"username"}) {
		t.Fatalf("duplicate username names %v", f)
	}
	r = api.call(http.MethodPost, "/users", map[string]any{"username": name, "password": "short"})
	wantStatus(t, "weak password", r, http.StatusBadRequest)
	wantStatus(t, "no username", api.call(http.MethodPost, "/users", map[string]any{"password": pass}), http.StatusBadRequest)

	// The user signs in with the password (a user token through the password grant).
	pw := srv.CreateClientJSON(t, "--grant-type", "password")
	if tr := srv.PostForm(t, nil, "/oauth/token", form("grant_type", "password", "username", name, "password", pass, "scope", "openid"),
		pw.ClientID, pw.ClientSecret); tr.Status != http.StatusOK {
		t.Fatalf("the new user cannot sign in: %d %s", tr.Status, tr.Body)
	}

	// GET by id or username, with an ETag.
	r = api.call(http.MethodGet, "/users/"+name, nil)
	wantStatus(t, "get by username", r, http.StatusOK)
	etag := r.Header.Get("ETag")
	wantStatus(t, "get nobody", api.call(http.MethodGet, "/users/nosuch-user", nil), http.StatusNotFound)

	// Merge patch: null removes the name, absent keeps the email; groups replaces.
	mp := "application/merge-patch+json"
	r = api.call(http.MethodPatch, "/users/"+id, `{"name":null,"groups":["admin-not","ops"],"given_name":"Ada"}`,
		"Content-Type", mp, "If-Match", etag)
	wantStatus(t, "patch", r, http.StatusOK)
	decode(t, r, &u)
	if u["name"] != "" || u["email"] != name+"@example.com" || fmt.Sprint(u["groups"]) != "[admin-not ops]" || u["given_name"] != "Ada" {
		t.Fatalf("after the patch: %v", u)
	}
	etag2 := r.Header.Get("ETag")
	wantStatus(t, "patch stale", api.call(http.MethodPatch, "/users/"+id, `{"disabled":true}`, "Content-Type", mp, "If-Match", etag),
		http.StatusPreconditionFailed)
	wantStatus(t, "patch without If-Match", api.call(http.MethodPatch, "/users/"+id, `{"disabled":true}`, "Content-Type", mp),
		http.StatusPreconditionRequired)
	r = api.call(http.MethodPatch, "/users/"+id, `{"email":"not an email"}`, "Content-Type", mp, "If-Match", etag2)
	wantStatus(t, "patch a bad email", r, http.StatusBadRequest)
	if f := problemFields(t, r); !slices.Equal(f, []string{"email"}) {
		t.Fatalf("bad email names %v", f)
	}
	// Several bad fields: every one is named, in the form's order, and the detail says
	// them all; nothing is stored.
	r = api.call(http.MethodPatch, "/users/"+id, `{"email":"not an email","locale":"english please","picture":"javascript:x"}`,
		"Content-Type", mp, "If-Match", etag2)
	wantStatus(t, "patch three bad fields", r, http.StatusBadRequest)
	if f := problemFields(t, r); !slices.Equal(f, []string{"email", "picture", "locale"}) {
		t.Fatalf("three bad fields name %v: %s", f, r.Body)
	}
	var detail struct{ Detail string }
	decode(t, r, &detail)
	if strings.Count(detail.Detail, "; ") != 2 || !strings.Contains(detail.Detail, "locale: must be a language tag") {
		t.Fatalf("detail of three bad fields: %q", detail.Detail)
	}
	r = api.call(http.MethodPost, "/users", map[string]any{"username": uniqueName("two"), "email": "nope", "password": "short"})
	wantStatus(t, "create with two bad fields", r, http.StatusBadRequest)
	if f := problemFields(t, r); !slices.Equal(f, []string{"email", "password"}) {
		t.Fatalf("two bad fields name %v: %s", f, r.Body)
	}
	wantStatus(t, "patch the password", api.call(http.MethodPatch, "/users/"+id, `{"password":"x"}`, "Content-Type", mp, "If-Match", etag2),
		http.StatusBadRequest)
	wantStatus(t, "patch an unknown field", api.call(http.MethodPatch, "/users/"+id, `{"shoe_size":42}`, "Content-Type", mp,
		"If-Match", etag2), http.StatusBadRequest)
	wantStatus(t, "patch groups of the wrong type", api.call(http.MethodPatch, "/users/"+id, `{"groups":"ops"}`, "Content-Type", mp,
		"If-Match", etag2), http.StatusBadRequest)

	// Filters: q, group, disabled.
	other := uniqueName("apiuser")
	wantStatus(t, "create another", api.call(http.MethodPost, "/users", map[string]any{"username": other, "password": pass,
		"groups": []string{"ops"}}), http.StatusCreated)
	r = api.call(http.MethodPatch, "/users/"+id, `{"disabled":true}`, "Content-Type", mp, "If-Match", etag2)
	wantStatus(t, "disable", r, http.StatusOK)
	if tr := srv.PostForm(t, nil, "/oauth/token", form("grant_type", "password", "username", name, "password", pass, "scope", "openid"),
		pw.ClientID, pw.ClientSecret); tr.Status == http.StatusOK {
		t.Fatalf("a disabled user signed in")
	}
	usernames := func(q string) []string {
		keys, _ := api.walk("/users?"+q, 50, "username")
		sort.Strings(keys)
		return keys
	}
	both := []string{name, other}
	sort.Strings(both)
	if got := usernames("group=ops&q=apiuser"); !isSubset(both, got) {
		t.Fatalf("group=ops: %v, want %v among them", got, both)
	}
	if got := usernames("q=" + name); !slices.Equal(got, []string{name}) {
		t.Fatalf("q=%s: %v", name, got)
	}
	if got := usernames("group=ops&disabled=true&q=" + name); !slices.Equal(got, []string{name}) {
		t.Fatalf("disabled=true: %v", got)
	}
	if got := usernames("disabled=false&q=" + name); len(got) != 0 {
		t.Fatalf("disabled=false: %v", got)
	}
	wantStatus(t, "disabled=maybe", api.call(http.MethodGet, "/users?disabled=maybe", nil), http.StatusBadRequest)

	// reset-mfa: nothing to remove.
	r = api.call(http.MethodPost, "/users/"+id+"/reset-mfa", nil)
	wantStatus(t, "reset-mfa", r, http.StatusOK)
	var reset map[string]any
	decode(t, r, &reset)
	if len(reset) != 3 || reset["id"] != id || reset["status"] != "unchanged" || reset["removed"] != false {
		t.Fatalf("reset-mfa with nothing to remove: %s", r.Body)
	}

	// password-reset mails a link to an enabled user with an email; not to others.
	wantStatus(t, "password-reset of a disabled user", api.call(http.MethodPost, "/users/"+id+"/password-reset", nil), http.StatusBadRequest)
	wantStatus(t, "password-reset of a user without email", api.call(http.MethodPost, "/users/"+other+"/password-reset", nil),
		http.StatusBadRequest)
	tag := api.call(http.MethodGet, "/users/"+id, nil).Header.Get("ETag")
	wantStatus(t, "enable", api.call(http.MethodPatch, "/users/"+id, `{"disabled":false}`, "Content-Type", mp, "If-Match", tag), http.StatusOK)
	before := len(mx.Mails())
	wantStatus(t, "password-reset", api.call(http.MethodPost, "/users/"+id+"/password-reset", nil), http.StatusAccepted)
	m := mailTo(t, mx, before+1, name+"@example.com")
	link := linkIn(t, srv, m)
	if !strings.HasPrefix(link, "/reset-password?token=") {
		t.Fatalf("the mail links to %s", link)
	}
	srv.Sensitive(strings.TrimPrefix(link, "/reset-password?token="))

	// DELETE with If-Match.
	tag = api.call(http.MethodGet, "/users/"+id, nil).Header.Get("ETag")
	wantStatus(t, "delete without If-Match", api.call(http.MethodDelete, "/users/"+id, nil), http.StatusPreconditionRequired)
	wantStatus(t, "delete", api.call(http.MethodDelete, "/users/"+id, nil, "If-Match", tag), http.StatusNoContent)
	wantStatus(t, "get deleted", api.call(http.MethodGet, "/users/"+id, nil), http.StatusNotFound)
	wantStatus(t, "reset-mfa of nobody", api.call(http.MethodPost, "/users/"+id+"/reset-mfa", nil), http.StatusNotFound)
}

func isSubset(want, got []string) bool {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

// testAdminPages walks lists page by page: every item exactly once, in order.
func testAdminPages(t *testing.T, api *adminAPI) {
	prefix := uniqueName("pager") + "x"
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("%s%d", prefix, i)
		r := api.call(http.MethodPost, "/users", map[string]any{"username": name, "password": "pw-" + randomString(16)})
		wantStatus(t, "create", r, http.StatusCreated)
		want = append(want, name)
	}
	for _, limit := range []int{1, 2, 3, 7, 50} {
		got, pages := api.walk("/users?q="+prefix, limit, "username")
		sorted := slices.Clone(got)
		sort.Strings(sorted)
		if !slices.Equal(sorted, want) || len(got) != len(want) {
			t.Fatalf("limit %d: walked %v, want each of %v once", limit, got, want)
		}
		if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
			t.Fatalf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
	}
	cprefix := uniqueName("cpager") + "x"
	for i := range 5 {
		wantStatus(t, "create client", api.call(http.MethodPost, "/clients", map[string]any{"name": fmt.Sprintf("%s%d", cprefix, i),
			"grant_types": []string{"client_credentials"}}), http.StatusCreated)
	}
	got, _ := api.walk("/clients?q="+cprefix, 2, "name")
	sort.Strings(got)
	if len(got) != 5 || got[0] != cprefix+"0" || got[4] != cprefix+"4" {
		t.Fatalf("clients walked %v", got)
	}
	for _, bad := range []string{"limit=0", "limit=501", "limit=x", "cursor=%21%21", "cursor=Zm9v%00"} {
		wantStatus(t, bad, api.call(http.MethodGet, "/users?"+bad, nil), http.StatusBadRequest)
	}
}

// testAdminSessions signs a user in through the pages (a session and a consent),
// then reads and ends them through the API.
func testAdminSessions(t *testing.T, api *adminAPI) {
	srv := api.srv
	uid, user, pass := oiUser(t, srv)
	c := newAZClient(t, srv, "https://rp.example/cb")
	b := newAZBrowser(t, srv)
	tok := oiCodeFlow(t, srv, b, c, "openid profile", "n-"+randomString(8), user, pass)
	refresh, _ := tok["refresh_token"].(string)

	r := api.call(http.MethodGet, "/users/"+uid+"/sessions", nil)
	wantStatus(t, "sessions", r, http.StatusOK)
	var sessions struct {
		Items []map[string]any `json:"items"`
	}
	decode(t, r, &sessions)
	if len(sessions.Items) != 1 || sessions.Items[0]["user_id"] != uid {
		t.Fatalf("sessions: %s", r.Body)
	}
	sid, _ := sessions.Items[0]["id"].(string)
	wantStatus(t, "get session", api.call(http.MethodGet, "/sessions/"+sid, nil), http.StatusOK)

	r = api.call(http.MethodGet, "/users/"+user+"/consents", nil)
	wantStatus(t, "consents", r, http.StatusOK)
	var consents struct {
		Items []map[string]any `json:"items"`
	}
	decode(t, r, &consents)
	if len(consents.Items) != 1 || consents.Items[0]["client_id"] != c.ID || consents.Items[0]["scope"] != "openid profile" {
		t.Fatalf("consents: %s", r.Body)
	}

	// Ending the session logs the browser out and revokes its refresh token.
	wantStatus(t, "end session", api.call(http.MethodDelete, "/sessions/"+sid, nil), http.StatusNoContent)
	wantStatus(t, "get ended session", api.call(http.MethodGet, "/sessions/"+sid, nil), http.StatusNotFound)
	wantStatus(t, "end it again", api.call(http.MethodDelete, "/sessions/"+sid, nil), http.StatusNotFound)
	if oiLoggedIn(b) {
		t.Fatalf("the browser is still signed in after its session was ended")
	}
	rr := srv.PostForm(t, nil, "/oauth/token", form("grant_type", "refresh_token", "refresh_token", refresh), c.ID, c.Secret)
	if rr.Status != http.StatusBadRequest {
		t.Fatalf("refresh after the session ended: %d %s", rr.Status, rr.Body)
	}

	// Revoking the consent: the next authorization asks again.
	wantStatus(t, "revoke consent", api.call(http.MethodDelete, "/users/"+uid+"/consents/"+c.ID, nil), http.StatusNoContent)
	wantStatus(t, "revoke it again", api.call(http.MethodDelete, "/users/"+uid+"/consents/"+c.ID, nil), http.StatusNotFound)
	r = api.call(http.MethodGet, "/users/"+uid+"/consents", nil)
	decode(t, r, &consents)
	if len(consents.Items) != 0 {
		t.Fatalf("consents after revocation: %s", r.Body)
	}
	// Both are in the user's audit history, though neither names the user as actor
	// or target: the user filter of the API and of the CLI finds them.
	type event struct {
		Type   string `json:"type"`
		Target string `json:"target"`
	}
	r = api.call(http.MethodGet, "/audit-events?user="+uid, nil)
	wantStatus(t, "the user's audit events", r, http.StatusOK)
	var events struct {
		Items []event `json:"items"`
	}
	decode(t, r, &events)
	var cliEvents []event
	srv.CLIJSON(t, &cliEvents, "", "audit", "list", "--user", user)
	for _, want := range []event{{"session.revoked", sid}, {"consent.revoked", c.ID}} {
		if !slices.Contains(events.Items, want) {
			t.Errorf("audit-events?user= lacks %+v: %s", want, r.Body)
		}
		if !slices.Contains(cliEvents, want) {
			t.Errorf("audit list --user lacks %+v: %+v", want, cliEvents)
		}
	}
	wantStatus(t, "sessions of nobody", api.call(http.MethodGet, "/users/nosuch-user/sessions", nil), http.StatusNotFound)
	wantStatus(t, "consents of nobody", api.call(http.MethodGet, "/users/nosuch-user/consents", nil), http.StatusNotFound)
}

func testAdminKeys(t *testing.T, api *adminAPI) {
	r := api.call(http.MethodGet, "/keys", nil)
	wantStatus(t, "keys", r, http.StatusOK)
	var keys struct {
		Items []map[string]any `json:"items"`
	}
	decode(t, r, &keys)
	if len(keys.Items) < 2 || strings.Contains(string(r.Body), `"d"`) {
		t.Fatalf("keys: %s", r.Body)
	}
	r = api.call(http.MethodPost, "/keys/rotate", map[string]any{"alg": "EdDSA", "now": true})
	wantStatus(t, "rotate", r, http.StatusCreated)
	var k map[string]any
	decode(t, r, &k)
	kid, _ := k["kid"].(string)
	if k["alg"] != "EdDSA" || k["state"] != "active" || r.Header.Get("Location") != "/admin/api/v1/keys/"+kid {
		t.Fatalf("rotated: %v", k)
	}
	wantStatus(t, "get key", api.call(http.MethodGet, "/keys/"+kid, nil), http.StatusOK)
	wantStatus(t, "rotate with a bad alg", api.call(http.MethodPost, "/keys/rotate", map[string]any{"alg": "HS256"}), http.StatusBadRequest)
	wantStatus(t, "rotate with no body", api.call(http.MethodPost, "/keys/rotate", nil), http.StatusCreated)
	wantStatus(t, "revoke", api.call(http.MethodDelete, "/keys/"+kid, nil), http.StatusNoContent)
	r = api.call(http.MethodGet, "/keys/"+kid, nil)
	decode(t, r, &k)
	if k["state"] != "revoked" {
		t.Fatalf("revoked key: %v", k)
	}
	wantStatus(t, "get unknown key", api.call(http.MethodGet, "/keys/nosuch", nil), http.StatusNotFound)
	wantStatus(t, "revoke unknown key", api.call(http.MethodDelete, "/keys/nosuch", nil), http.StatusNotFound)
}

// testAdminBadRequests: malformed requests are 4xx problems, never 5xx.
func testAdminBadRequests(t *testing.T, api *adminAPI) {
	for _, tc := range []struct {
		what, method, path string
		body               any
		header             []string
		status             int
	}{
		{"not JSON", http.MethodPost, "/clients", `{"name":`, nil, 400},
		{"JSON array", http.MethodPost, "/clients", `[]`, nil, 400},
		{"two objects", http.MethodPost, "/clients", `{"name":"a"}{"name":"b"}`, nil, 400},
		{"unknown field", http.MethodPost, "/clients", `{"name":"a","secret":"x"}`, nil, 400},
		{"wrong type", http.MethodPost, "/clients", `{"name":"a","public":"yes"}`, nil, 400},
		{"wrong list type", http.MethodPost, "/clients", `{"name":"a","redirect_uris":"https://x"}`, nil, 400},
		{"bad scope", http.MethodPost, "/clients", `{"name":"a","scope":"a\"b"}`, nil, 400},
		{"bad redirect", http.MethodPost, "/clients", `{"name":"bad-redirect","redirect_uris":["not a uri"]}`, nil, 400},
		{"bad auth method", http.MethodPost, "/clients", `{"name":"a","token_endpoint_auth_method":"tls"}`, nil, 400},
		{"no name", http.MethodPost, "/clients", `{}`, nil, 400},
		{"form body", http.MethodPost, "/clients", `name=a`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415},
		{"user wrong type", http.MethodPost, "/users", `{"username":1}`, nil, 400},
		{"user null", http.MethodPost, "/users", `null`, nil, 400},
		{"huge body", http.MethodPost, "/users", `{"username":"` + strings.Repeat("a", 2<<20) + `"}`, nil, 413},
		{"bad since", http.MethodGet, "/audit-events?since=yesterday", nil, nil, 400},
		{"negative since", http.MethodGet, "/audit-events?since=-1h", nil, nil, 400},
		{"bad audit cursor", http.MethodGet, "/audit-events?cursor=" + url.QueryEscape("bm90IGEgdGltZQBpZA"), nil, nil, 400},
		{"unknown path", http.MethodGet, "/nothing/here", nil, nil, 404},
		{"unknown subpath", http.MethodGet, "/clients/a/b/c", nil, nil, 404},
		{"wrong method", http.MethodPut, "/clients", `{}`, nil, 405},
		{"unknown session", http.MethodGet, "/sessions/nosuch", nil, nil, 404},
		// What no database column can hold (NUL, invalid UTF-8) or no id can be: a
		// 400 for a filter, a 404 for a path, never a 500 from the database.
		{"NUL in a user search", http.MethodGet, "/users?q=%00", nil, nil, 400},
		{"NUL in a client search", http.MethodGet, "/clients?q=a%00b", nil, nil, 400},
		{"invalid UTF-8 in a group filter", http.MethodGet, "/users?group=%ff", nil, nil, 400},
		{"NUL in an audit filter", http.MethodGet, "/audit-events?user=%00", nil, nil, 400},
		{"overlong search", http.MethodGet, "/users?q=" + strings.Repeat("a", 5000), nil, nil, 400},
		{"NUL as a user id", http.MethodGet, "/users/%00", nil, nil, 404},
		{"NUL as a client id", http.MethodGet, "/clients/%00", nil, nil, 404},
		{"invalid UTF-8 as a session id", http.MethodGet, "/sessions/%ff", nil, nil, 404},
		{"NUL as a session to end", http.MethodDelete, "/sessions/%00", nil, nil, 404},
		{"NUL as a key id", http.MethodGet, "/keys/%00", nil, nil, 404},
		{"NUL in a client name", http.MethodPost, "/clients", `{"name":"a\u0000b","grant_types":["client_credentials"]}`, nil, 400},
		{"NUL in a username", http.MethodPost, "/users", `{"username":"a\u0000b","password":"a long password 1"}`, nil, 400},
		{"NUL in a user's name", http.MethodPost, "/users", `{"username":"nul-name","password":"a long password 1","name":"a\u0000b"}`, nil, 400},
	} {
		r := api.call(tc.method, tc.path, tc.body, tc.header...)
		wantStatus(t, tc.what, r, tc.status)
	}
}

// testAdminAudit: the API's changes are in the audit log with the token's client as
// actor, and no event holds a secret (SECURITY S56).
func testAdminAudit(t *testing.T, api *adminAPI, actor string) {
	name := uniqueName("audited-")
	r := api.call(http.MethodPost, "/clients", map[string]any{"name": name, "grant_types": []string{"client_credentials"}})
	wantStatus(t, "create", r, http.StatusCreated)
	var c map[string]any
	decode(t, r, &c)
	id, _ := c["client_id"].(string)
	secret, _ := c["client_secret"].(string)
	api.srv.Sensitive(secret)
	tag := r.Header.Get("ETag")
	wantStatus(t, "patch", api.call(http.MethodPatch, "/clients/"+id, `{"name":"`+name+`-2"}`, "If-Match", tag), http.StatusOK)
	r = api.call(http.MethodPost, "/clients/"+id+"/rotate-secret", nil)
	var rot map[string]string
	decode(t, r, &rot)
	api.srv.Sensitive(rot["client_secret"])

	r = api.call(http.MethodGet, "/audit-events?limit=500&since=1h", nil)
	wantStatus(t, "audit", r, http.StatusOK)
	var events struct {
		Items []map[string]any `json:"items"`
	}
	decode(t, r, &events)
	types := map[string]bool{}
	for _, e := range events.Items {
		if e["target"] == id {
			types[fmt.Sprint(e["type"])] = true
			if e["actor"] != actor || e["ip"] == "" {
				t.Errorf("event %v: want actor %s and an address", e, actor)
			}
		}
	}
	for _, want := range []string{"client.created", "client.updated", "client.secret.rotated"} {
		if !types[want] {
			t.Errorf("no %s event for %s: %v", want, id, types)
		}
	}
	// No event, of this whole run, holds a secret the API handed out or took.
	all, _ := api.walk("/audit-events", 500, "id")
	if len(all) < len(events.Items) {
		t.Fatalf("walked %d events, the first page alone has %d", len(all), len(events.Items))
	}
	for _, s := range api.srv.sensitiveValues() {
		if s != "" && strings.Contains(string(r.Body), s) {
			t.Fatalf("an audit event holds a secret")
		}
	}
	// Filters: type, user (actor or target), since.
	r = api.call(http.MethodGet, "/audit-events?type=client.secret.rotated&user="+actor, nil)
	decode(t, r, &events)
	if len(events.Items) == 0 {
		t.Fatalf("no client.secret.rotated event by %s", actor)
	}
	for _, e := range events.Items {
		if e["type"] != "client.secret.rotated" || (e["actor"] != actor && e["target"] != actor) {
			t.Fatalf("filtered events: %v", e)
		}
	}
	since := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r = api.call(http.MethodGet, "/audit-events?since="+since, nil)
	decode(t, r, &events)
	if len(events.Items) != 0 {
		t.Fatalf("events since an hour from now: %v", events.Items)
	}
	// Audit pages: every event once, newest first.
	seen := map[string]bool{}
	keys, _ := api.walk("/audit-events", 3, "id")
	for _, k := range keys {
		if seen[k] {
			t.Fatalf("event %s on two pages", k)
		}
		seen[k] = true
	}
	if len(keys) != len(all) {
		t.Fatalf("walked %d events by 3, %d by 500", len(keys), len(all))
	}
}
