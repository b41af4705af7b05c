package e2e

// Client ID Metadata Documents (GATEHOUSE_CLIENT_ID_METADATA_DOCUMENTS=true): an https
// client_id is the URL of a JSON document describing the client, fetched by the
// server with the limits of SECURITY S57. The documents are served here by
// httptest.NewTLSServer on loopback (GATEHOUSE_CLIENT_ID_METADATA_ALLOW_LOOPBACK=true),
// whose certificate the server trusts through GATEHOUSE_OUTBOUND_CA_FILE: TLS is
// checked as in production, never turned off.

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// docServer serves client ID metadata documents over https on loopback.
type docServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	docs map[string]http.HandlerFunc // path → handler
	hits atomic.Int64
}

func newDocServer(t *testing.T) *docServer {
	t.Helper()
	d := &docServer{docs: map[string]http.HandlerFunc{}}
	d.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.hits.Add(1)
		d.mu.Lock()
		h := d.docs[r.URL.Path]
		d.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(d.srv.Close)
	return d
}

// caFile writes the server's certificate as a PEM file, for GATEHOUSE_OUTBOUND_CA_FILE.
func (d *docServer) caFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d.srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serve answers path with handler h and returns the document's URL.
func (d *docServer) serve(path string, h http.HandlerFunc) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.docs[path] = h
	return d.srv.URL + path
}

// serveDoc serves a client metadata document naming clientID (its own URL unless
// given) at path.
func (d *docServer) serveDoc(path string, edit func(doc map[string]any)) string {
	id := d.srv.URL + path
	doc := map[string]any{"client_id": id, "client_name": "Agent Smith", "redirect_uris": []string{"http://127.0.0.1:33418/callback"},
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"token_endpoint_auth_method": "none"}
	if edit != nil {
		edit(doc)
	}
	body, _ := json.Marshal(doc)
	return d.serve(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		w.Write(body)
	})
}

func metadataServer(t *testing.T, docs *docServer, loopback bool) *Server {
	t.Helper()
	allow := "false"
	if loopback {
		allow = "true"
	}
	return startServer(t, Options{Env: map[string]string{
		"GATEHOUSE_CLIENT_ID_METADATA_DOCUMENTS":      "true",
		"GATEHOUSE_CLIENT_ID_METADATA_ALLOW_LOOPBACK": allow,
		"GATEHOUSE_OUTBOUND_CA_FILE":                  docs.caFile(t),
	}})
}

// TestClientIDMetadataDocument: the code flow of a client known only by its
// document: consent names the document's host, the token names the URL as
// client_id, and the document is fetched once while its caching headers allow.
func TestClientIDMetadataDocument(t *testing.T) {
	t.Parallel()
	docs := newDocServer(t)
	srv := metadataServer(t, docs, true)
	id := docs.serveDoc("/oauth/client.json", nil)

	for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		if got := srv.Get(t, nil, p).JSON(t)["client_id_metadata_document_supported"]; got != true {
			t.Errorf("%s: client_id_metadata_document_supported = %v", p, got)
		}
	}
	c := azClient{ID: id, RedirectURI: "http://127.0.0.1:33418/callback"}
	b := newAZBrowser(t, srv)
	user, pass := azUser(t, srv)
	p := newAZPKCE()
	f := b.authorize(azQuery(c, p, "cimd", "scope", "openid profile"), user, pass, "allow")
	if !f.SawConsent || f.Query.Get("code") == "" || f.Query.Get("state") != "cimd" {
		t.Fatalf("consent %v, redirect %q", f.SawConsent, f.Location)
	}
	host := strings.TrimPrefix(docs.srv.URL, "https://")
	if !strings.Contains(f.ConsentPage, "Agent Smith") || !strings.Contains(f.ConsentPage, `class="client-host">`+host+`<`) {
		t.Fatalf("the consent page does not show the document's host %s:\n%s", host, f.ConsentPage)
	}
	r := c.exchange(t, srv, b.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier)
	if r.Status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	tok := r.JSON(t)
	srv.Sensitive(tok["access_token"].(string))
	if _, claims := verifyAccessToken(t, srv, tok["access_token"].(string)); claims.ClientID != id {
		t.Fatalf("client_id claim %q, want %q", claims.ClientID, id)
	}
	if n := docs.hits.Load(); n != 1 {
		t.Errorf("the document was fetched %d times within its max-age, want 1", n)
	}
	// A redirect URI the document does not list is refused on the error page.
	q := azQuery(azClient{ID: id, RedirectURI: "https://evil.example/cb"}, p, "x")
	wantErrorPage(t, b.get("/oauth/authorize?"+q.Encode()), http.StatusBadRequest)

	var events []map[string]any
	srv.CLIJSON(t, &events, "", "audit", "list", "--type", "client.registered")
	found := false
	for _, e := range events {
		d, _ := e["details"].(map[string]any)
		found = found || e["target"] == id && d["metadata_document"] == true
	}
	if !found {
		t.Errorf("no client.registered event for the document client: %v", events)
	}

	// An administrator reaches the client by its URL, escaped as a path segment: the
	// admin API, the CLI through it, and the user's consent to it.
	rc := newRemoteCLI(t, srv)
	rc.same("clients", "show", id, "--json")
	token, _ := adminToken(t, srv)
	api := newAdminAPI(t, srv, token)
	esc := url.PathEscape(id)
	if r := api.call(http.MethodGet, "/clients/"+esc, nil); r.Status != http.StatusOK || r.JSON(t)["client_id"] != id {
		t.Errorf("GET /clients/%s: %d %s", esc, r.Status, r.Body)
	}
	wantStatus(t, "revoke the consent to the document client",
		api.call(http.MethodDelete, "/users/"+user+"/consents/"+esc, nil), http.StatusNoContent)
	wantStatus(t, "revoke it again", api.call(http.MethodDelete, "/users/"+user+"/consents/"+esc, nil), http.StatusNotFound)

	// And in the console: the user's page links the client by its escaped id, its
	// page opens, and the consent revokes.
	if f := b.authorize(azQuery(c, newAZPKCE(), "again", "scope", "openid"), user, pass, "allow"); f.Query.Get("code") == "" {
		t.Fatalf("authorize again: %+v", f)
	}
	_, adminName, adminPass := newConsoleAdmin(t, srv)
	cb := newAZBrowser(t, srv)
	var uid string
	srv.CLIJSON(t, &struct{ ID *string }{&uid}, "", "users", "show", user)
	page := consoleSignIn(t, cb, "/admin/users/"+uid, adminName, adminPass)
	wantConsolePage(t, "the user page", page, `href="/admin/clients/`+esc+`"`)
	wantConsolePage(t, "the document client's page", cb.get("/admin/clients/"+esc), host)
	if r := cb.post("/admin/users/"+uid+"/consents/"+esc+"/revoke", url.Values{"csrf_token": {consoleCSRF(t, page)}}); r.Status != http.StatusSeeOther {
		t.Errorf("revoke the consent in the console: %d\n%s", r.Status, r.Body)
	}
}

// s57Refused checks that the authorization endpoint refuses client_id (the error
// page: no redirect URI can be trusted) and that the client never became known.
func s57Refused(t *testing.T, srv *Server, clientID string, reason ...string) {
	t.Helper()
	b := newAZBrowser(t, srv)
	q := azQuery(azClient{ID: clientID, RedirectURI: "http://127.0.0.1:33418/callback"}, newAZPKCE(), "s57")
	start := time.Now()
	r := b.get("/oauth/authorize?" + q.Encode())
	wantErrorPage(t, r, http.StatusBadRequest)
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the refusal took %v", d)
	}
	if out, _, _ := srv.CLI(t, "", "clients", "list"); strings.Contains(out, clientID) {
		t.Errorf("the refused client %s was stored", clientID)
	}
	// The server's log says why, for the operator.
	for _, want := range reason {
		if !strings.Contains(srv.Log(), want) {
			t.Errorf("the log does not say %q for %s", want, clientID)
		}
	}
}

func TestSecurity_S57_MetadataDocumentTooBig(t *testing.T) {
	t.Parallel()
	docs := newDocServer(t)
	srv := metadataServer(t, docs, true)
	// Declared too big, and too big without a length.
	id := docs.serveDoc("/big.json", func(d map[string]any) { d["padding"] = strings.Repeat("x", 6<<10) })
	s57Refused(t, srv, id, "larger than 5 KiB")
	chunked := docs.srv.URL + "/chunked.json"
	docs.serve("/chunked.json", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"client_id":"` + chunked + `","redirect_uris":["http://127.0.0.1:33418/callback"],"x":"`))
		w.(http.Flusher).Flush()
		w.Write([]byte(strings.Repeat("y", 6<<10) + `"}`))
	})
	s57Refused(t, srv, chunked, "larger than 5 KiB")
}

func TestSecurity_S57_MetadataDocumentSlow(t *testing.T) {
	t.Parallel()
	docs := newDocServer(t)
	srv := metadataServer(t, docs, true)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow := docs.srv.URL + "/slow.json"
	docs.serve("/slow.json", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(60 * time.Second):
		case <-release:
		case <-r.Context().Done():
		}
		w.Write([]byte(`{"client_id":"` + slow + `","redirect_uris":["http://127.0.0.1:33418/callback"]}`))
	})
	// The refusal names the client's timeout (5 s), not a finished slow answer; the
	// bound below only catches a fetch with no timeout at all (the document takes a
	// minute): wall time on a shared machine is no measure of the 5 s.
	start := time.Now()
	s57Refused(t, srv, slow, "Client.Timeout")
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("a slow document held the request %v: the fetch has no timeout", d)
	}
}

func TestSecurity_S57_MetadataDocumentRedirect(t *testing.T) {
	t.Parallel()
	docs := newDocServer(t)
	srv := metadataServer(t, docs, true)
	target := docs.serveDoc("/real.json", nil)
	redirecting := docs.serve("/moved.json", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusFound)
	})
	before := docs.hits.Load()
	s57Refused(t, srv, redirecting, "redirect, which is not followed")
	if n := docs.hits.Load() - before; n != 1 {
		t.Errorf("%d requests: the redirect was followed", n)
	}
}

func TestSecurity_S57_MetadataDocumentOtherClientID(t *testing.T) {
	t.Parallel()
	docs := newDocServer(t)
	srv := metadataServer(t, docs, true)
	other := docs.serveDoc("/other.json", nil)
	id := docs.serveDoc("/impostor.json", func(d map[string]any) { d["client_id"] = other })
	s57Refused(t, srv, id, "not its own URL")
	// Neither a secret nor a confidential method is taken from a document.
	s57Refused(t, srv, docs.serveDoc("/secret.json", func(d map[string]any) { d["client_secret"] = "s3cret" }), "must not hold a client secret")
	s57Refused(t, srv, docs.serveDoc("/basic.json", func(d map[string]any) { d["token_endpoint_auth_method"] = "client_secret_basic" }), "only public clients")
	s57Refused(t, srv, docs.serveDoc("/noredirect.json", func(d map[string]any) { delete(d, "redirect_uris") }), "no redirect_uris")
}

func TestSecurity_S57_MetadataDocumentPrivateAddress(t *testing.T) {
	t.Parallel()
	docs := newDocServer(t)
	srv := metadataServer(t, docs, false) // loopback not allowed: production's default
	id := docs.serveDoc("/client.json", nil)
	s57Refused(t, srv, id, "not a public address")
	// A name for a loopback address is refused too.
	u, _ := url.Parse(id)
	s57Refused(t, srv, "https://localhost:"+u.Port()+"/client.json", "not a public address")
	if n := docs.hits.Load(); n != 0 {
		t.Errorf("the loopback server was contacted %d times", n)
	}
}
