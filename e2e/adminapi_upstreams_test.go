package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// testAdminUpstreams drives /upstreams: create (the client secret write-only), get
// with its ETag, list by pages, PATCH (If-Match; a new secret), DELETE (If-Match),
// the errors 400/404/409/412/428, and the audit events (by the token's client, no
// secret anywhere).
func testAdminUpstreams(t *testing.T, api *adminAPI, actor string) {
	srv := api.srv
	id := strings.ToLower(uniqueName("up-"))
	secret := "upstream-secret-" + randomString(16)
	secret2 := "upstream-secret-" + randomString(16)
	srv.Sensitive(secret)
	srv.Sensitive(secret2)
	noSecret := func(what string, r Response) {
		t.Helper()
		for _, s := range []string{secret, secret2} {
			if strings.Contains(string(r.Body), s) {
				t.Fatalf("%s shows the client secret: %s", what, r.Body)
			}
		}
		if strings.Contains(string(r.Body), `"client_secret":`) {
			t.Fatalf("%s has a client_secret member: %s", what, r.Body)
		}
	}
	r := api.call(http.MethodPost, "/upstreams", map[string]any{"id": id, "name": "Corp IdP", "type": "oidc",
		"issuer": "https://idp.example/", "client_id": "gatehouse", "client_secret": secret})
	wantStatus(t, "create", r, http.StatusCreated)
	noSecret("create", r)
	var u map[string]any
	decode(t, r, &u)
	if u["id"] != id || u["client_secret_set"] != true || u["issuer"] != "https://idp.example" || u["scope"] != "openid email profile" ||
		u["callback_url"] != srv.URL+"/login/upstream/"+id+"/callback" || r.Header.Get("Location") != "/admin/api/v1/upstreams/"+id ||
		r.Header.Get("ETag") == "" {
		t.Fatalf("create: %v %v", r.Header, u)
	}
	wantStatus(t, "duplicate id", api.call(http.MethodPost, "/upstreams", map[string]any{"id": id, "name": "Again", "type": "oidc",
		"issuer": "https://idp.example", "client_id": "x", "client_secret": "y"}), http.StatusConflict)
	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"id": "Bad Id", "name": "N", "type": "oidc", "issuer": "https://i.example", "client_id": "c", "client_secret": "s"}, "id"},
		{map[string]any{"id": "ok-" + id, "name": "N", "type": "saml", "client_id": "c", "client_secret": "s"}, "type"},
		{map[string]any{"id": "ok-" + id, "name": "N", "type": "oidc", "issuer": "ftp://i.example", "client_id": "c", "client_secret": "s"}, "issuer"},
		{map[string]any{"id": "ok-" + id, "name": "N", "type": "oidc", "issuer": "https://i.example", "client_id": "c"}, "client_secret"},
		{map[string]any{"id": "ok-" + id, "name": "N", "type": "github", "issuer": "https://i.example", "client_id": "c", "client_secret": "s"}, "issuer"},
		{map[string]any{"id": "ok-" + id, "name": "N", "type": "oidc", "issuer": "https://i.example", "client_id": "c", "client_secret": "s",
			"scope": "email"}, "scope"},
	} {
		r := api.call(http.MethodPost, "/upstreams", bad.body)
		wantStatus(t, fmt.Sprintf("create %v", bad.body), r, http.StatusBadRequest)
		if f := problemFields(t, r); !slices.Contains(f, bad.field) {
			t.Fatalf("create %v: fields %v, want %s", bad.body, f, bad.field)
		}
	}
	wantStatus(t, "unknown field", api.call(http.MethodPost, "/upstreams", `{"id":"x","client_secret_set":true}`), http.StatusBadRequest)
	wantStatus(t, "not JSON", api.call(http.MethodPost, "/upstreams", `{"id":`), http.StatusBadRequest)

	gh := "gh-" + id
	r = api.call(http.MethodPost, "/upstreams", map[string]any{"id": gh, "name": "GitHub", "type": "github", "client_id": "Iv1.x",
		"client_secret": secret})
	wantStatus(t, "create github", r, http.StatusCreated)
	noSecret("create github", r)
	u = nil
	decode(t, r, &u)
	if u["api_url"] != "https://api.github.com" || u["web_url"] != "https://github.com" || u["issuer"] != nil {
		t.Fatalf("github upstream: %v", u)
	}

	r = api.call(http.MethodGet, "/upstreams/"+id, nil)
	wantStatus(t, "get", r, http.StatusOK)
	noSecret("get", r)
	etag := r.Header.Get("ETag")
	wantStatus(t, "get unknown", api.call(http.MethodGet, "/upstreams/nope-"+id, nil), http.StatusNotFound)

	// List: by id, in pages, q filters.
	ids, pages := api.walk("/upstreams", 1, "id")
	if !slices.Contains(ids, id) || !slices.Contains(ids, gh) || !slices.IsSorted(ids) || pages < 2 {
		t.Fatalf("walked %v in %d pages", ids, pages)
	}
	r = api.call(http.MethodGet, "/upstreams?q="+strings.ToUpper(gh), nil)
	wantStatus(t, "list q", r, http.StatusOK)
	noSecret("list", r)
	var list struct {
		Items []map[string]any `json:"items"`
	}
	decode(t, r, &list)
	if len(list.Items) != 1 || list.Items[0]["id"] != gh {
		t.Fatalf("list q=%s: %v", gh, list.Items)
	}
	wantStatus(t, "bad cursor", api.call(http.MethodGet, "/upstreams?cursor=not*a*cursor", nil), http.StatusBadRequest)

	// PATCH: If-Match required; a new secret is taken and not shown.
	mp := "application/merge-patch+json"
	patch := `{"name":"Corp SSO","client_secret":"` + secret2 + `","scope":null}`
	wantStatus(t, "patch without If-Match", api.call(http.MethodPatch, "/upstreams/"+id, patch, "Content-Type", mp),
		http.StatusPreconditionRequired)
	wantStatus(t, "patch stale", api.call(http.MethodPatch, "/upstreams/"+id, patch, "Content-Type", mp, "If-Match", `"stale"`),
		http.StatusPreconditionFailed)
	wantStatus(t, "patch unknown", api.call(http.MethodPatch, "/upstreams/nope-"+id, patch, "Content-Type", mp, "If-Match", "*"),
		http.StatusNotFound)
	r = api.call(http.MethodPatch, "/upstreams/"+id, `{"type":"github","client_secret_set":false}`, "Content-Type", mp, "If-Match", etag)
	wantStatus(t, "patch read-only", r, http.StatusBadRequest)
	if f := problemFields(t, r); !slices.Equal(f, []string{"client_secret_set", "type"}) {
		t.Fatalf("patch read-only fields: %v", f)
	}
	for _, bad := range []struct{ patch, field string }{
		{`{"issuer":"not a url"}`, "issuer"}, {`{"name":""}`, "name"}, {`{"client_secret":null}`, "client_secret"},
		{`{"api_url":"https://api.example"}`, "api_url"}, {`{"client_id":5}`, "client_id"},
	} {
		r := api.call(http.MethodPatch, "/upstreams/"+id, bad.patch, "Content-Type", mp, "If-Match", etag)
		wantStatus(t, "patch "+bad.patch, r, http.StatusBadRequest)
		if f := problemFields(t, r); !slices.Contains(f, bad.field) {
			t.Fatalf("patch %s: fields %v, want %s", bad.patch, f, bad.field)
		}
	}
	r = api.call(http.MethodPatch, "/upstreams/"+id, patch, "Content-Type", mp, "If-Match", etag)
	wantStatus(t, "patch", r, http.StatusOK)
	noSecret("patch", r)
	u = nil
	decode(t, r, &u)
	newTag := r.Header.Get("ETag")
	if u["name"] != "Corp SSO" || u["client_secret_set"] != true || newTag == "" || newTag == etag {
		t.Fatalf("patch: %v (etag %q, was %q)", u, newTag, etag)
	}
	wantStatus(t, "patch with the old ETag", api.call(http.MethodPatch, "/upstreams/"+id, `{"name":"X"}`, "Content-Type", mp,
		"If-Match", etag), http.StatusPreconditionFailed)
	// The CLI sees the change (one store).
	var listed []map[string]any
	srv.CLIJSON(t, &listed, "", "upstreams", "list", "--json")
	found := false
	for _, l := range listed {
		if l["id"] == id {
			found = l["name"] == "Corp SSO"
		}
	}
	if !found {
		t.Fatalf("upstreams list after the patch: %v", listed)
	}

	// DELETE: If-Match required.
	wantStatus(t, "delete without If-Match", api.call(http.MethodDelete, "/upstreams/"+id, nil), http.StatusPreconditionRequired)
	wantStatus(t, "delete stale", api.call(http.MethodDelete, "/upstreams/"+id, nil, "If-Match", etag), http.StatusPreconditionFailed)
	wantStatus(t, "delete", api.call(http.MethodDelete, "/upstreams/"+id, nil, "If-Match", newTag), http.StatusNoContent)
	wantStatus(t, "get deleted", api.call(http.MethodGet, "/upstreams/"+id, nil), http.StatusNotFound)
	wantStatus(t, "delete deleted", api.call(http.MethodDelete, "/upstreams/"+id, nil, "If-Match", "*"), http.StatusNotFound)
	wantStatus(t, "put", api.call(http.MethodPut, "/upstreams/"+gh, `{}`), http.StatusMethodNotAllowed)

	// Audit: created, updated (fields named, no secret), deleted, by the token's client.
	r = api.call(http.MethodGet, "/audit-events?limit=500&since=1h", nil)
	wantStatus(t, "audit", r, http.StatusOK)
	noSecret("audit", r)
	var events struct {
		Items []map[string]any `json:"items"`
	}
	decode(t, r, &events)
	types := map[string]map[string]any{}
	for _, e := range events.Items {
		if e["target"] == id {
			types[fmt.Sprint(e["type"])] = e
			if e["actor"] != actor {
				t.Errorf("event %v: want actor %s", e, actor)
			}
		}
	}
	for _, want := range []string{"upstream.created", "upstream.updated", "upstream.deleted"} {
		if types[want] == nil {
			t.Errorf("no %s event for %s: %v", want, id, types)
		}
	}
	if up := fmt.Sprint(types["upstream.updated"]); !strings.Contains(up, "client_secret") || !strings.Contains(up, "name") {
		t.Errorf("upstream.updated does not name the changed fields: %s", up)
	}
}

// TestAdminAPI_CLIRemoteUpstreams: `upstreams ...` with --server go through the admin
// API and print what they print on the database; the secret travels on stdin and
// the API, and is shown nowhere.
func TestAdminAPI_CLIRemoteUpstreams(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		rc := newRemoteCLI(t, srv)
		id, remote, ok, same := rc.clientID, rc.remote, rc.ok, rc.same
		upSecret, upSecret2 := "up-secret-"+randomString(16), "up-secret-"+randomString(16)
		srv.Sensitive(upSecret)
		srv.Sensitive(upSecret2)
		noSecret := func(what, out string) {
			t.Helper()
			if strings.Contains(out, upSecret) || strings.Contains(out, upSecret2) {
				t.Fatalf("%s shows the upstream's secret: %s", what, out)
			}
		}

		// create remotely, then locally: the same text; the JSON as the database shows it.
		text := ok("remote create")(remote(upSecret+"\n", "upstreams", "create", "--id", "corp", "--name", "Corp", "--type", "oidc",
			"--issuer", "https://idp.example", "--client-id", "gh", "--client-secret-stdin"))
		noSecret("remote create", text)
		want := "created upstream corp (oidc)\ncallback URL (register it at the upstream as the redirect URI): " +
			srv.URL + "/login/upstream/corp/callback\n"
		if text != want {
			t.Fatalf("remote create printed %q, want %q", text, want)
		}
		made := ok("remote create --json")(remote(upSecret+"\n", "upstreams", "create", "--id", "hub", "--name", "Hub",
			"--type", "github", "--client-id", "Iv1.x", "--client-secret-stdin", "--json"))
		noSecret("remote create --json", made)
		ok("local create")(srv.CLI(t, upSecret+"\n", "upstreams", "create", "--id", "local", "--name", "Local", "--type", "oidc",
			"--issuer", "https://local.example", "--client-id", "l", "--client-secret-stdin"))
		same("upstreams", "list")
		same("upstreams", "list", "--json")
		listed := ok("local list")(srv.CLI(t, "", "upstreams", "list", "--json"))
		var all []map[string]any
		if err := json.Unmarshal([]byte(listed), &all); err != nil || len(all) != 3 || all[0]["id"] != "corp" || all[1]["id"] != "hub" {
			t.Fatalf("upstreams list --json: %s", listed)
		}
		var hub map[string]any
		if err := json.Unmarshal([]byte(made), &hub); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(hub) != fmt.Sprint(all[1]) {
			t.Fatalf("remote create --json printed %v, the database lists %v", hub, all[1])
		}

		// update: a new secret on stdin; the answer is what the database then lists.
		updated := ok("remote update")(remote(upSecret2+"\n", "upstreams", "update", "corp", "--name", "Corp SSO",
			"--client-secret-stdin", "--scope", "openid email", "--json"))
		noSecret("remote update", updated)
		var up map[string]any
		if err := json.Unmarshal([]byte(updated), &up); err != nil || up["name"] != "Corp SSO" || up["scope"] != "openid email" {
			t.Fatalf("remote update: %s", updated)
		}
		srv.CLIJSON(t, &all, "", "upstreams", "list")
		if fmt.Sprint(up) != fmt.Sprint(all[0]) {
			t.Fatalf("remote update printed %v, the database lists %v", up, all[0])
		}
		same("upstreams", "update", "local", "--name", "Local 2")
		var events []map[string]any
		srv.CLIJSON(t, &events, "", "audit", "list", "--type", "upstream.updated")
		// Newest first: the local update of local, the remote one of corp. The remote
		// update of local that same() sent after the local one changed nothing: no event.
		if len(events) != 2 || events[0]["actor"] != "cli" || events[0]["target"] != "local" || events[1]["actor"] != id ||
			events[1]["target"] != "corp" {
			t.Fatalf("upstream.updated events: %v", events)
		}
		noSecret("audit", fmt.Sprint(events))

		// Errors: one line, exit 2, naming the flag.
		stdout, stderr, code := remote("x\n", "upstreams", "create", "--id", "corp", "--name", "Again", "--type", "oidc",
			"--issuer", "https://idp.example", "--client-id", "x", "--client-secret-stdin")
		wantOneLineExit(t, "remote duplicate", 2, stdout, stderr, code, "--id")
		stdout, stderr, code = remote("", "upstreams", "update", "corp", "--issuer", "not a url")
		wantOneLineExit(t, "remote bad update", 2, stdout, stderr, code, "--issuer")
		stdout, stderr, code = remote("", "upstreams", "update", "nosuch", "--name", "X")
		wantOneLineExit(t, "remote update of nothing", 2, stdout, stderr, code, "nosuch")
		stdout, stderr, code = remote("", "upstreams", "delete", "nosuch")
		wantOneLineExit(t, "remote delete of nothing", 2, stdout, stderr, code, "nosuch")

		// delete remotely: the same answer as locally, gone from the database.
		r := ok("remote delete --json")(remote("", "upstreams", "delete", "hub", "--json"))
		l := ok("local delete --json")(srv.CLI(t, "", "upstreams", "delete", "local", "--json"))
		if strings.ReplaceAll(l, "local", "hub") != r {
			t.Fatalf("delete --json: remote %q, local %q", r, l)
		}
		if r := ok("remote delete")(remote("", "upstreams", "delete", "corp")); r != "deleted upstream corp\n" {
			t.Fatalf("remote delete printed %q", r)
		}
		srv.CLIJSON(t, &all, "", "upstreams", "list")
		if len(all) != 0 {
			t.Fatalf("after the deletes: %v", all)
		}
	})
}
