package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// An administrator sees and removes a user's linked upstream identities (Keycloak's
// "identity provider links"), through the admin API and the console.

// githubUser is a server with a fake GitHub registered as upstream "github" (named
// GitHub), and a user made by signing in through it as GitHub user ghID with login,
// and no email: its only way to sign in is that identity.
type githubUser struct {
	srv       *Server
	gh        *fakeGitHub
	ghID      int
	login, id string
}

func newGitHubUser(t *testing.T, login string, ghID int) githubUser {
	t.Helper()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_REGISTRATION_ENABLED": "true"}})
	gh := newFakeGitHub(t)
	createUpstream(t, srv, gh.ClientSecret, "--id", "github", "--name", "GitHub", "--type", "github",
		"--client-id", gh.ClientID, "--client-secret-stdin", "--api-url", gh.srv.URL+"/api/v3", "--web-url", gh.srv.URL)
	g := githubUser{srv: srv, gh: gh, ghID: ghID, login: login}
	if g.id = g.signIn(t); g.id == "" {
		t.Fatal("the first GitHub sign-in made no account")
	}
	return g
}

// signIn signs a new browser in through GitHub as the GitHub user, and returns the id
// of the account the sign-in made ("" when it made none).
func (g githubUser) signIn(t *testing.T) string {
	t.Helper()
	ids := func() map[string]bool {
		var users []shownUser
		g.srv.CLIJSON(t, &users, "", "users", "list")
		out := map[string]bool{}
		for _, u := range users {
			out[u.ID] = true
		}
		return out
	}
	before := ids()
	g.gh.mu.Lock()
	g.gh.User, g.gh.Emails = map[string]any{"id": g.ghID, "login": g.login, "email": nil}, []map[string]any{}
	g.gh.mu.Unlock()
	b := newAZBrowser(t, g.srv)
	if r, _ := b.upstreamSignIn(continueWith(t, b.get("/login"), "GitHub")); r.Status != http.StatusFound {
		t.Fatalf("GitHub sign-in: %d\n%s", r.Status, r.Body)
	}
	made := ""
	for id := range ids() {
		if !before[id] {
			if made != "" {
				t.Fatalf("the GitHub sign-in made two accounts")
			}
			made = id
		}
	}
	return made
}

type identityItem struct {
	UpstreamID   string `json:"upstream_id"`
	UpstreamName string `json:"upstream_name"`
	Subject      string `json:"subject"`
	Email        string `json:"email"`
	Username     string `json:"username"`
	CreatedAt    string `json:"created_at"`
	LastUsedAt   string `json:"last_used_at"`
}

func (a *adminAPI) identities(user string) []identityItem {
	a.t.Helper()
	r := a.call(http.MethodGet, "/users/"+url.PathEscape(user)+"/identities", nil)
	wantStatus(a.t, "identities of "+user, r, http.StatusOK)
	var page struct {
		Items []identityItem `json:"items"`
	}
	decode(a.t, r, &page)
	return page.Items
}

// TestAdminAPI_UserIdentities: GET /users/{id}/identities lists the identity a user
// signed up with through GitHub (by id or username; HEAD too); DELETE
// /users/{id}/identities/github unlinks it (204) though it is the user's only way in,
// then 404; the audit log has user.identity.unlinked done by the admin client to the
// user; and the same GitHub user signing in again is not signed into the old account
// but gets a new one, as any unknown identity does with registration on.
func TestAdminAPI_UserIdentities(t *testing.T) {
	t.Parallel()
	g := newGitHubUser(t, "linked-octo", 5151)
	tok, adminClientID := adminToken(t, g.srv)
	api := newAdminAPI(t, g.srv, tok)

	for _, user := range []string{g.id, g.login} {
		items := api.identities(user)
		if len(items) != 1 {
			t.Fatalf("identities of %s: %+v", user, items)
		}
		it := items[0]
		if it.UpstreamID != "github" || it.UpstreamName != "GitHub" || it.Subject != "5151" || it.Username != "linked-octo" ||
			it.Email != "" || it.CreatedAt == "" || it.LastUsedAt == "" {
			t.Errorf("identity of %s: %+v", user, it)
		}
	}
	// HEAD as GET: the same status, no body.
	req, err := http.NewRequest(http.MethodHead, g.srv.URL+"/admin/api/v1/users/"+g.id+"/identities", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := g.srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || len(body) != 0 {
		t.Errorf("HEAD identities: %d, %d bytes", res.StatusCode, len(body))
	}

	path := "/users/" + g.id + "/identities/github"
	wantStatus(t, "unlink", api.call(http.MethodDelete, path, nil), http.StatusNoContent)
	if items := api.identities(g.id); len(items) != 0 {
		t.Fatalf("identities after the unlinking: %+v", items)
	}
	wantStatus(t, "unlink again", api.call(http.MethodDelete, path, nil), http.StatusNotFound)
	wantStatus(t, "unlink at no upstream", api.call(http.MethodDelete, "/users/"+g.id+"/identities/nope", nil), http.StatusNotFound)
	wantStatus(t, "identities of nobody", api.call(http.MethodGet, "/users/nobody-here/identities", nil), http.StatusNotFound)

	var found bool
	for _, e := range auditList(t, g.srv, "--user", g.id, "--json") {
		if e.Type != "user.identity.unlinked" {
			continue
		}
		found = true
		if e.Actor != adminClientID || e.Target != g.id || e.Details["upstream"] != "github" || e.IP == "" {
			t.Errorf("the unlinking's event: %+v, want actor %s, target %s", e, adminClientID, g.id)
		}
	}
	if !found {
		t.Fatalf("audit list --user %s has no user.identity.unlinked", g.id)
	}

	// The identity is unknown now: with registration on it makes a new account; the
	// old one stays, with no identity.
	again := g.signIn(t)
	if again == "" || again == g.id {
		t.Fatalf("signing in through GitHub again made no new account")
	}
	if items := api.identities(again); len(items) != 1 || items[0].Subject != "5151" {
		t.Errorf("identities of the new account: %+v", items)
	}
	if items := api.identities(g.id); len(items) != 0 {
		t.Errorf("identities of the old account: %+v", items)
	}
}

// TestConsole_UserIdentities: a user's console page lists their GitHub identity with
// an Unlink form; posting it (with the CSRF token) unlinks it, back on the page with
// its notice, audited as done by the administrator; again, or at an upstream id that
// cannot be one, it is a 404 page.
func TestConsole_UserIdentities(t *testing.T) {
	t.Parallel()
	g := newGitHubUser(t, "console-octo", 6262)
	adminID, name, pass := newConsoleAdmin(t, g.srv)
	b := newAZBrowser(t, g.srv)
	page := consoleSignIn(t, b, "/admin/users/"+g.id, name, pass)
	action := "/admin/users/" + g.id + "/identities/github/unlink"
	wantConsolePage(t, "the user page", page, `action="`+action+`"`)
	for _, want := range []string{"Sign-in provider accounts", "GitHub &middot; console-octo", "Unlink GitHub"} {
		if !strings.Contains(string(page.Body), want) {
			t.Errorf("the user page lacks %q\n%s", want, page.Body)
		}
	}
	csrf := consoleCSRF(t, page)

	if r := b.post(action, url.Values{}); r.Status != http.StatusForbidden && r.Status != http.StatusBadRequest {
		t.Errorf("unlink without the CSRF token: %d", r.Status)
	}
	r := b.post(action, url.Values{"csrf_token": {csrf}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/users/"+g.id+"?saved=identity" {
		t.Fatalf("unlink: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	after := b.get(r.Header.Get("Location"))
	wantConsolePage(t, "after the unlinking", after, "The account was unlinked: it can no longer sign in as this user.")
	if strings.Contains(string(after.Body), action) {
		t.Errorf("the user page still offers to unlink GitHub")
	}
	wantConsolePage(t, "after the unlinking", after, "No account at a sign-in provider is linked.")
	wantAuditBy(t, g.srv, "user.identity.unlinked", g.id, adminID)

	for _, p := range []string{action, "/admin/users/" + g.id + "/identities/%00/unlink",
		"/admin/users/" + g.id + "/identities/NOPE/unlink", "/admin/users/nobody/identities/github/unlink"} {
		if r := b.post(p, url.Values{"csrf_token": {csrf}}); r.Status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", p, r.Status)
		}
	}
}
