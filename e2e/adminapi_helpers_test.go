package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The admin API's tests talk to it through adminAPI, whose transport checks every
// answer against the OpenAPI document the server serves (status, content type, body
// schema, with kin-openapi's OpenAPI 3.1 / JSON Schema 2020-12 validator).

// adminAudience is the admin API's audience on srv.
func adminAudience(srv *Server) string { return srv.URL + "/admin/api" }

// adminClient registers a client_credentials client allowed the admin API, as the
// README says.
func adminClient(t testing.TB, srv *Server, extra ...string) (id, secret string) {
	t.Helper()
	return srv.CreateClient(t, append([]string{"--grant-type", "client_credentials", "--scope", "gatehouse:admin",
		"--audience", adminAudience(srv)}, extra...)...)
}

// clientToken gets a client_credentials access token with the form's extra fields.
func clientToken(t testing.TB, srv *Server, id, secret string, kv ...string) string {
	t.Helper()
	r := srv.PostForm(t, nil, "/oauth/token", form(append([]string{"grant_type", "client_credentials"}, kv...)...), id, secret)
	if r.Status != http.StatusOK {
		t.Fatalf("client credentials: %d %s", r.Status, r.Body)
	}
	tok, _ := r.JSON(t)["access_token"].(string)
	srv.Sensitive(tok)
	return tok
}

// adminToken is a token of a new admin client for the admin API.
func adminToken(t testing.TB, srv *Server) (token, clientID string) {
	t.Helper()
	id, secret := adminClient(t, srv)
	return clientToken(t, srv, id, secret, "resource", adminAudience(srv)), id
}

// adminAPI calls the admin API of srv with a token, validating every answer.
type adminAPI struct {
	t     testing.TB
	srv   *Server
	hc    *http.Client
	token string
}

// openAPIValidator checks answers against the served OpenAPI document.
type openAPIValidator struct {
	t      testing.TB
	router routers.Router
	next   http.RoundTripper

	mu      sync.Mutex
	checked int
}

// loadOpenAPI fetches /admin/api/v1/openapi.json (public) and loads it.
func loadOpenAPI(t testing.TB, srv *Server) *openapi3.T {
	t.Helper()
	r := srv.Get(t, nil, "/admin/api/v1/openapi.json")
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(r.Body)
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi is %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: srv.URL + "/admin/api/v1"}}
	return doc
}

func newAdminAPI(t testing.TB, srv *Server, token string) *adminAPI {
	t.Helper()
	doc := loadOpenAPI(t, srv)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("OpenAPI router: %v", err)
	}
	hc := srv.HTTPClient()
	hc.Transport = &openAPIValidator{t: t, router: router, next: hc.Transport}
	t.Cleanup(hc.CloseIdleConnections)
	return &adminAPI{t: t, srv: srv, hc: hc, token: token}
}

// RoundTrip sends req and checks the answer against the document: an answer to a
// path the document has must be one of its responses (status, content type, body
// schema); any other answer must be a problem.
func (v *openAPIValidator) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := v.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	v.mu.Lock()
	v.checked++
	v.mu.Unlock()
	route, params, ferr := v.router.FindRoute(req)
	if ferr != nil {
		// Not a path and method of the document: the answer is still a problem.
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" || resp.StatusCode < 400 {
			v.t.Errorf("%s %s (not in the document): %d %s", req.Method, req.URL.Path, resp.StatusCode, ct)
		}
		return resp, nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		v.t.Errorf("%s %s: the answer (%d) does not match the OpenAPI document: %v\n%s", req.Method, req.URL.Path,
			resp.StatusCode, err, body)
	}
	return resp, nil
}

// call sends a request with the API's token; body is JSON-encoded unless a string.
func (a *adminAPI) call(method, path string, body any, header ...string) Response {
	a.t.Helper()
	return a.callWith(a.token, method, path, body, header...)
}

func (a *adminAPI) callWith(token, method, path string, body any, header ...string) Response {
	a.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.srv.URL+"/admin/api/v1"+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return a.srv.Do(a.t, a.hc, req)
}

// want checks the status of r, and that an error is a problem of that status.
func wantStatus(t testing.TB, what string, r Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, r.Status, status, r.Body)
	}
	if status >= 400 {
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%s: content type %q, want application/problem+json", what, ct)
		}
		var p struct {
			Type   string `json:"type"`
			Title  string `json:"title"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil || p.Status != status || p.Type == "" || p.Title == "" {
			t.Fatalf("%s: not a problem of status %d: %s", what, status, r.Body)
		}
	}
}

// problemFields are the fields named by a problem's errors.
func problemFields(t testing.TB, r Response) []string {
	t.Helper()
	var p struct {
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// decode unmarshals r's body into v.
func decode(t testing.TB, r Response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// walk lists path page by page with limit and returns every item's key.
func (a *adminAPI) walk(path string, limit int, key string) (keys []string, pages int) {
	a.t.Helper()
	cursor := ""
	for pages = 1; pages < 1000; pages++ {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		q := url.Values{"limit": {itoa(limit)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r := a.call(http.MethodGet, path+sep+q.Encode(), nil)
		wantStatus(a.t, "list "+path, r, http.StatusOK)
		var page struct {
			Items      []map[string]any `json:"items"`
			NextCursor string           `json:"next_cursor"`
		}
		decode(a.t, r, &page)
		if len(page.Items) > limit {
			a.t.Fatalf("a page of %d items with limit %d", len(page.Items), limit)
		}
		for _, it := range page.Items {
			k, _ := it[key].(string)
			keys = append(keys, k)
		}
		if page.NextCursor == "" {
			return keys, pages
		}
		cursor = page.NextCursor
	}
	a.t.Fatalf("no end to the pages of %s", path)
	return nil, 0
}

// remoteCLI runs the command line on srv both ways: on its database, and with
// --server through the admin API as an admin client (clientID).
type remoteCLI struct {
	t        *testing.T
	srv      *Server
	clientID string
	env      map[string]string
}

func newRemoteCLI(t *testing.T, srv *Server) *remoteCLI {
	id, secret := adminClient(t, srv)
	return &remoteCLI{t: t, srv: srv, clientID: id,
		env: map[string]string{"GATEHOUSE_ADMIN_CLIENT_ID": id, "GATEHOUSE_ADMIN_CLIENT_SECRET": secret}}
}

// remote runs args with --server.
func (r *remoteCLI) remote(stdin string, args ...string) (string, string, int) {
	r.t.Helper()
	return r.srv.CLIWith(r.t, r.env, stdin, append([]string{"--server", r.srv.URL}, args...)...)
}

// ok takes a run's results, fails the test unless it exited 0, and returns its stdout.
func (r *remoteCLI) ok(what string) func(stdout, stderr string, code int) string {
	return func(stdout, stderr string, code int) string {
		r.t.Helper()
		if code != 0 {
			r.t.Fatalf("%s: exit %d: %s", what, code, stderr)
		}
		return stdout
	}
}

// same runs args both ways and fails unless they print the same.
func (r *remoteCLI) same(args ...string) {
	r.t.Helper()
	l := r.ok("local " + strings.Join(args, " "))(r.srv.CLI(r.t, "", args...))
	rem := r.ok("remote " + strings.Join(args, " "))(r.remote("", args...))
	if l != rem {
		r.t.Fatalf("%s: local and remote outputs differ\nlocal:\n%s\nremote:\n%s", strings.Join(args, " "), l, rem)
	}
}
