package e2e

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fixture is a set of clients and a user on the shared server, made once for the
// error tables (each test still calls from its own address).
type fixture struct {
	srv *Server

	ccID, ccSecret     string // confidential: client_credentials, refresh_token; scope api:read api:write; audience https://api.example/
	pwID, pwSecret     string // confidential: password, refresh_token; default scopes
	pubID              string // public: device code, refresh_token
	codeID, codeSecret string // confidential: the default grants (authorization_code, refresh_token)

	user, password, userID string
}

var fixtureOnce struct {
	sync.Mutex
	f *fixture
}

// sharedFixture returns the fixture on the shared server, creating it on first use.
func sharedFixture(t *testing.T) *fixture {
	t.Helper()
	fixtureOnce.Lock()
	defer fixtureOnce.Unlock()
	if fixtureOnce.f != nil {
		return fixtureOnce.f
	}
	srv := sharedServer(t)
	f := &fixture{srv: srv}
	f.ccID, f.ccSecret = srv.CreateClient(t, "--grant-type", "client_credentials", "--grant-type", "refresh_token",
		"--scope", "api:read api:write", "--audience", "https://api.example/")
	f.pwID, f.pwSecret = srv.CreateClient(t, "--grant-type", "password", "--grant-type", "refresh_token")
	f.pubID, _ = srv.CreateClient(t, "--public", "--grant-type", "urn:ietf:params:oauth:grant-type:device_code", "--grant-type", "refresh_token")
	f.codeID, f.codeSecret = srv.CreateClient(t, "--redirect-uri", "http://127.0.0.1/callback")
	f.user, f.password = uniqueName("fixture-user"), "pw-"+randomString(20)
	f.userID = srv.CreateUser(t, f.user, f.password)
	fixtureOnce.f = f
	return f
}

// errCase is one request and the answer it must get.
type errCase struct {
	item        string // the SECURITY.md item it checks, e.g. "S23"
	name        string
	method      string // default POST
	path        string // default /oauth/token
	contentType string // default application/x-www-form-urlencoded; "-" sends none
	body        func(*fixture) string
	basic       func(*fixture) [2]string // HTTP Basic id and secret (form-encoded here)
	header      map[string]string        // extra headers (Authorization sent as is)
	authz       []string                 // Authorization headers, each its own header line, after basic and header
	status      int
	err         string                     // the "error" member; "" for a success
	check       func(*testing.T, Response) // more checks
}

func cc(f *fixture) [2]string { return [2]string{f.ccID, f.ccSecret} }
func pw(f *fixture) [2]string { return [2]string{f.pwID, f.pwSecret} }
func fixed(s string) func(*fixture) string {
	return func(*fixture) string { return s }
}

// ccBody is a valid client_credentials body plus extra.
func ccBody(extra ...string) func(*fixture) string {
	return func(*fixture) string { return form(append([]string{"grant_type", "client_credentials"}, extra...)...) }
}

func basicHeader(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(basicEscape(user) + ":" + basicEscape(pass)))
}

// errorCases is every error of the token, revocation and introspection endpoints
// that one request shows. Multi-step properties have their own tests below.
var errorCases = []errCase{
	// S19: POST only; a secret in the query string never authenticates.
	{item: "S19", name: "GET token endpoint", method: "GET", status: 405, err: "invalid_request"},
	{item: "S19", name: "PUT token endpoint", method: "PUT", body: ccBody(), basic: cc, status: 405, err: "invalid_request"},
	{item: "S19", name: "GET access_token alias", method: "GET", path: "/oauth/access_token", status: 405, err: "invalid_request"},
	{item: "S19", name: "GET revoke", method: "GET", path: "/oauth/revoke", status: 405, err: "invalid_request"},
	{item: "S19", name: "GET introspect", method: "GET", path: "/oauth/introspect", status: 405, err: "invalid_request"},
	{item: "S19", name: "id and secret in the query", body: ccBody(), status: 401, err: "invalid_client",
		path: "/oauth/token?client_id={cc}&client_secret={ccsecret}"},
	{item: "S19", name: "id in the body, secret in the query", status: 401, err: "invalid_client",
		path: "/oauth/token?client_secret={ccsecret}",
		body: func(f *fixture) string { return form("grant_type", "client_credentials", "client_id", f.ccID) }},
	{item: "S19", name: "query parameters are ignored", body: ccBody(), basic: cc, status: 200,
		path: "/oauth/token?grant_type=password&scope=admin"},

	// S20: Basic.
	{item: "S20", name: "lower-case basic", body: ccBody(), status: 200,
		header: map[string]string{"Authorization": "basic {ccbasic}"}},
	{item: "S20", name: "upper-case BASIC", body: ccBody(), status: 200,
		header: map[string]string{"Authorization": "BASIC {ccbasic}"}},
	{item: "S20", name: "wrong secret", body: ccBody(), status: 401, err: "invalid_client",
		basic: func(f *fixture) [2]string { return [2]string{f.ccID, f.ccSecret + "x"} }},
	{item: "S20", name: "empty secret", body: ccBody(), status: 401, err: "invalid_client",
		basic: func(f *fixture) [2]string { return [2]string{f.ccID, ""} }},
	{item: "S20", name: "malformed base64", body: ccBody(), status: 401, err: "invalid_client",
		header: map[string]string{"Authorization": "Basic !!!not base64!!!"}},
	{item: "S20", name: "no colon", body: ccBody(), status: 401, err: "invalid_client",
		header: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("just-an-id"))}},
	{item: "S20", name: "Bearer scheme", body: ccBody(), status: 401, err: "invalid_client",
		header: map[string]string{"Authorization": "Bearer {ccsecret}"}},
	{item: "S20", name: "no scheme", body: ccBody(), status: 401, err: "invalid_client",
		header: map[string]string{"Authorization": "{ccbasic}"}},

	// S21: two authentication methods.
	{item: "S21", name: "Basic and client_secret in the body", basic: cc, status: 400, err: "invalid_request",
		body: func(f *fixture) string { return form("grant_type", "client_credentials", "client_secret", f.ccSecret) }},
	{item: "S21", name: "Basic and another client_id in the body", basic: cc, status: 400, err: "invalid_request",
		body: func(f *fixture) string { return form("grant_type", "client_credentials", "client_id", f.pwID) }},
	{item: "S21", name: "Basic and the same client_id in the body", basic: cc, status: 200,
		body: func(f *fixture) string { return form("grant_type", "client_credentials", "client_id", f.ccID) }},
	// Two Authorization headers: the server must not read the first while a proxy
	// reads the last; neither authenticates.
	{item: "S21", name: "two Basic headers of different clients", body: ccBody(), status: 400, err: "invalid_request",
		authz: []string{"Basic {ccbasic}", "Basic {pwbasic}"}},
	{item: "S21", name: "two Basic headers, the wrong one first", body: ccBody(), status: 400, err: "invalid_request",
		authz: []string{"Basic {pwbasic}", "Basic {ccbasic}"}},
	{item: "S21", name: "the same Basic header twice", body: ccBody(), status: 400, err: "invalid_request",
		authz: []string{"Basic {ccbasic}", "Basic {ccbasic}"}},
	{item: "S21", name: "introspect with two Basic headers of different clients", path: "/oauth/introspect", status: 400, err: "invalid_request",
		body: fixed(form("token", "whatever")), authz: []string{"Basic {pwbasic}", "Basic {ccbasic}"}},
	{item: "S21", name: "introspect with the same Basic header twice", path: "/oauth/introspect", status: 400, err: "invalid_request",
		body: fixed(form("token", "whatever")), authz: []string{"Basic {pwbasic}", "Basic {pwbasic}"}},

	// S23: error codes of RFC 6749 §5.2.
	{item: "S23", name: "unknown grant", basic: cc, status: 400, err: "unsupported_grant_type",
		body: fixed(form("grant_type", "urn:example:unknown"))},
	{item: "S23", name: "implicit grant name", basic: cc, status: 400, err: "unsupported_grant_type",
		body: fixed(form("grant_type", "implicit"))},
	{item: "S23", name: "grant not allowed: password for a client_credentials client", basic: cc, status: 400, err: "unauthorized_client",
		body: func(f *fixture) string {
			return form("grant_type", "password", "username", f.user, "password", f.password)
		}},
	{item: "S23", name: "grant not allowed: client_credentials for a password client", basic: pw, status: 400, err: "unauthorized_client",
		body: ccBody()},
	{item: "S23", name: "scope with a quote", basic: cc, status: 400, err: "invalid_scope", body: ccBody("scope", `api"read`)},
	{item: "S23", name: "scope with a backslash", basic: cc, status: 400, err: "invalid_scope", body: ccBody("scope", `api\read`)},
	{item: "S23", name: "scope with non-ASCII", basic: cc, status: 400, err: "invalid_scope", body: ccBody("scope", "api:réad")},
	{item: "S23", name: "scope with a control character", basic: cc, status: 400, err: "invalid_scope", body: ccBody("scope", "api:read\tapi:write")},
	{item: "S23", name: "disallowed scope", basic: cc, status: 400, err: "invalid_scope", body: ccBody("scope", "api:read admin")},
	{item: "S23", name: "missing grant_type", basic: cc, status: 400, err: "invalid_request", body: fixed(form("scope", "api:read"))},
	{item: "S23", name: "empty grant_type", basic: cc, status: 400, err: "invalid_request", body: fixed("grant_type=")},
	{item: "S23", name: "repeated grant_type", basic: cc, status: 400, err: "invalid_request",
		body: fixed("grant_type=client_credentials&grant_type=client_credentials")},
	{item: "S23", name: "repeated scope", basic: cc, status: 400, err: "invalid_request",
		body: fixed("grant_type=client_credentials&scope=api:read&scope=api:write")},
	{item: "S23", name: "repeated client_id", status: 400, err: "invalid_request",
		body: func(f *fixture) string {
			return form("grant_type", "client_credentials", "client_id", f.ccID, "client_id", f.ccID, "client_secret", f.ccSecret)
		}},
	{item: "S23", name: "repeated empty parameter", basic: cc, status: 400, err: "invalid_request",
		body: fixed("grant_type=client_credentials&scope=&scope=")},
	{item: "S23", name: "empty value counts as absent", basic: cc, status: 200, body: fixed("grant_type=client_credentials&scope=&resource=")},
	{item: "S23", name: "resource not allowed", basic: cc, status: 400, err: "invalid_target", body: ccBody("resource", "https://evil.example/")},
	{item: "S23", name: "resource allowed", basic: cc, status: 200, body: ccBody("resource", "https://api.example/")},
	{item: "S23", name: "missing refresh_token", basic: pw, status: 400, err: "invalid_request", body: fixed(form("grant_type", "refresh_token"))},
	{item: "S23", name: "unknown refresh_token", basic: pw, status: 400, err: "invalid_grant",
		body: fixed(form("grant_type", "refresh_token", "refresh_token", "unknown-refresh-token"))},
	{item: "S23", name: "unknown authorization code", status: 400, err: "invalid_grant",
		basic: func(f *fixture) [2]string { return [2]string{f.codeID, f.codeSecret} },
		body: fixed(form("grant_type", "authorization_code", "code", "unknown-code", "redirect_uri", "http://127.0.0.1/callback",
			"code_verifier", strings.Repeat("v", 43)))},

	// S24: headers on success (the checks run on every case).
	{item: "S24", name: "success has the headers", basic: cc, body: ccBody(), status: 200},
	{item: "S24", name: "unauthenticated request", body: ccBody(), status: 401, err: "invalid_client"},

	// S25: client_credentials for confidential clients only, never a refresh token.
	{item: "S25", name: "client_credentials for a public client", status: 400, err: "unauthorized_client",
		body: func(f *fixture) string { return form("grant_type", "client_credentials", "client_id", f.pubID) }},
	{item: "S25", name: "no refresh token even when the client may refresh", basic: cc, body: ccBody(), status: 200,
		check: func(t *testing.T, r Response) {
			if _, ok := r.JSON(t)["refresh_token"]; ok {
				t.Errorf("client_credentials answered a refresh_token: %s", r.Body)
			}
		}},

	// S27: the password grant only for clients allowed it.
	{item: "S27", name: "password grant for a client with the default grants", status: 400, err: "unauthorized_client",
		basic: func(f *fixture) [2]string { return [2]string{f.codeID, f.codeSecret} },
		body: func(f *fixture) string {
			return form("grant_type", "password", "username", f.user, "password", f.password)
		}},
	{item: "S27", name: "missing password", basic: pw, status: 400, err: "invalid_request",
		body: func(f *fixture) string { return form("grant_type", "password", "username", f.user) }},

	// S37: revocation.
	{item: "S37", name: "revoke without client authentication", path: "/oauth/revoke", status: 401, err: "invalid_client",
		body: fixed(form("token", "whatever"))},
	{item: "S37", name: "revoke with a wrong secret", path: "/oauth/revoke", status: 401, err: "invalid_client",
		basic: func(f *fixture) [2]string { return [2]string{f.pwID, "wrong"} }, body: fixed(form("token", "whatever"))},
	{item: "S37", name: "revoke without token", path: "/oauth/revoke", basic: pw, status: 400, err: "invalid_request",
		body: fixed(form("token_type_hint", "refresh_token"))},
	{item: "S37", name: "revoke with a repeated token", path: "/oauth/revoke", basic: pw, status: 400, err: "invalid_request",
		body: fixed("token=a&token=b")},
	{item: "S37", name: "revoke an unknown token", path: "/oauth/revoke", basic: pw, status: 200,
		body: fixed(form("token", "unknown-token"))},
	{item: "S37", name: "revoke with an unknown hint", path: "/oauth/revoke", basic: pw, status: 200,
		body: fixed(form("token", "unknown-token", "token_type_hint", "id_token"))},
	{item: "S37", name: "revoke with a JSON body", path: "/oauth/revoke", basic: pw, status: 400, err: "invalid_request",
		contentType: "application/json", body: fixed(`{"token":"x"}`)},

	// S38: introspection.
	{item: "S38", name: "introspect without client authentication", path: "/oauth/introspect", status: 401, err: "invalid_client",
		body: fixed(form("token", "whatever"))},
	{item: "S38", name: "introspect with a wrong secret", path: "/oauth/introspect", status: 401, err: "invalid_client",
		basic: func(f *fixture) [2]string { return [2]string{f.pwID, "wrong"} }, body: fixed(form("token", "whatever"))},
	{item: "S38", name: "introspect as a public client (no authentication)", path: "/oauth/introspect", status: 401, err: "invalid_client",
		body: func(f *fixture) string { return form("token", "whatever", "client_id", f.pubID) }},
	{item: "S38", name: "introspect without token", path: "/oauth/introspect", basic: pw, status: 400, err: "invalid_request",
		body: fixed("")},
	{item: "S38", name: "introspect an unknown token", path: "/oauth/introspect", basic: pw, status: 200,
		body: fixed(form("token", "unknown-token")), check: func(t *testing.T, r Response) { wantInactive(t, r.JSON(t)) }},
	{item: "S38", name: "introspect a malformed JWT", path: "/oauth/introspect", basic: pw, status: 200,
		body:  fixed(form("token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")),
		check: func(t *testing.T, r Response) { wantInactive(t, r.JSON(t)) }},

	// S45: malformed requests get a 4xx with the RFC error; never a 5xx.
	{item: "S45", name: "JSON body", basic: cc, contentType: "application/json", status: 400, err: "invalid_request",
		body: fixed(`{"grant_type":"client_credentials"}`)},
	{item: "S45", name: "text/plain body", basic: cc, contentType: "text/plain", status: 400, err: "invalid_request",
		body: fixed("grant_type=client_credentials")},
	{item: "S45", name: "no Content-Type", basic: cc, contentType: "-", status: 400, err: "invalid_request",
		body: fixed("grant_type=client_credentials")},
	{item: "S45", name: "multipart body", basic: cc, contentType: "multipart/form-data; boundary=x", status: 400, err: "invalid_request",
		body: fixed("--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--x--\r\n")},
	{item: "S45", name: "malformed Content-Type", basic: cc, contentType: "application/x-www-form-urlencoded; charset", status: 400, err: "invalid_request",
		body: ccBody()},
	{item: "S45", name: "form with charset", basic: cc, contentType: "application/x-www-form-urlencoded; charset=UTF-8", status: 200,
		body: ccBody()},
	{item: "S45", name: "malformed percent-encoding", basic: cc, status: 400, err: "invalid_request",
		body: fixed("grant_type=client_credentials&scope=%zz")},
	{item: "S45", name: "truncated percent-encoding", basic: cc, status: 400, err: "invalid_request",
		body: fixed("grant_type=client_credentials&scope=%4")},
	{item: "S45", name: "semicolon separator", basic: cc, status: 400, err: "invalid_request",
		body: fixed("grant_type=client_credentials;scope=api:read")},
	{item: "S45", name: "invalid UTF-8, encoded", basic: cc, status: 400, err: "invalid_request",
		body: fixed("grant_type=client_credentials&scope=%FF%FE")},
	{item: "S45", name: "invalid UTF-8, raw", basic: cc, status: 400, err: "invalid_request",
		body: fixed("grant_type=client_credentials&scope=\xff\xfe")},
	{item: "S45", name: "invalid UTF-8 in a name", basic: cc, status: 400, err: "invalid_request",
		body: fixed("grant_type=client_credentials&%C0%AF=x")},
	{item: "S45", name: "NUL byte, encoded", basic: cc, status: 400, err: "invalid_request",
		body: fixed("grant_type=client_credentials&scope=api%00read")},
	{item: "S45", name: "NUL byte, raw", basic: cc, status: 400, err: "invalid_request",
		body: fixed("grant_type=client_credentials&scope=api\x00read")},
	{item: "S45", name: "NUL byte in a secret", status: 401, err: "invalid_client",
		basic: func(f *fixture) [2]string { return [2]string{f.ccID, f.ccSecret + "\x00"} }, body: ccBody()},
	{item: "S45", name: "body over 64 KiB", basic: cc, status: 413, err: "invalid_request",
		body: func(*fixture) string {
			return form("grant_type", "client_credentials", "pad", strings.Repeat("a", 70_000))
		}},
	{item: "S45", name: "body of 1 MiB", basic: cc, status: 413, err: "invalid_request",
		body: func(*fixture) string {
			return form("grant_type", "client_credentials", "pad", strings.Repeat("a", 1<<20))
		}},
	{item: "S45", name: "body of exactly 64 KiB", basic: cc, status: 200,
		body: func(*fixture) string {
			// Unknown parameters padding the body, each within the 4 KiB every
			// parameter may hold (domain.MaxParamBytes).
			body := "grant_type=client_credentials"
			for i := 0; ; i++ {
				pad := fmt.Sprintf("&pad%02d=", i)
				room := 64<<10 - len(body) - len(pad)
				if room <= 4000 {
					return body + pad + strings.Repeat("a", room)
				}
				body += pad + strings.Repeat("a", 4000)
			}
		}},
	{item: "S45", name: "a parameter over 4 KiB", basic: cc, status: 400, err: "invalid_request",
		body: func(*fixture) string {
			return form("grant_type", "client_credentials", "pad", strings.Repeat("a", 4097))
		}},
	{item: "S45", name: "a very long scope", basic: cc, status: 400, err: "invalid_scope",
		body: ccBody("scope", strings.Repeat("a ", 1000))},
	{item: "S45", name: "a very long client id", status: 401, err: "invalid_client",
		basic: func(f *fixture) [2]string { return [2]string{strings.Repeat("x", 4000), "y"} }, body: ccBody()},
	{item: "S45", name: "huge header", basic: cc, body: ccBody(), status: 431,
		header: map[string]string{"X-Huge": strings.Repeat("h", 128<<10)}},
}

// runErrorCases runs the cases of one SECURITY item on the shared server, each from
// its own address, and checks status, error code and the headers of SECURITY S24.
func runErrorCases(t *testing.T, item string) {
	f := sharedFixture(t)
	n := 0
	for _, tc := range errorCases {
		if tc.item != item {
			continue
		}
		n++
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(t, tc)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.Status, tc.status, r.Body)
			}
			if r.Status == http.StatusRequestHeaderFieldsTooLarge {
				return // net/http answers this itself, before any handler
			}
			checkTokenHeaders(t, r)
			if tc.err != "" {
				m := r.JSON(t)
				if m["error"] != tc.err {
					t.Errorf("error %v, want %s (body %s)", m["error"], tc.err, r.Body)
				}
				checkDescription(t, m)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
	if n == 0 {
		t.Fatalf("no cases for %s", item)
	}
	// Whatever came in, the server is healthy.
	if r := f.srv.Get(t, nil, "/healthz"); r.Status != 200 {
		t.Errorf("after the %s cases: /healthz %d", item, r.Status)
	}
}

// checkDescription: error_description, when present, is a short human sentence: no
// stack trace, SQL or Go error chain (SECURITY S24).
func checkDescription(t *testing.T, m map[string]any) {
	t.Helper()
	d, _ := m["error_description"].(string)
	low := strings.ToLower(d)
	for _, bad := range []string{"goroutine", ".go:", "select ", "insert ", "sql", "panic", "runtime error", "\n"} {
		if strings.Contains(low, bad) {
			t.Errorf("error_description %q holds %q", d, bad)
		}
	}
	if len(d) > 200 {
		t.Errorf("error_description of %d bytes", len(d))
	}
}

// do sends tc's request from a fresh address.
func (f *fixture) do(t *testing.T, tc errCase) Response {
	t.Helper()
	method, path, ct := tc.method, tc.path, tc.contentType
	if method == "" {
		method = http.MethodPost
	}
	if path == "" {
		path = "/oauth/token"
	}
	if ct == "" {
		ct = "application/x-www-form-urlencoded"
	}
	var body string
	if tc.body != nil {
		body = tc.body(f)
	}
	req, err := http.NewRequest(method, f.srv.URL+f.expand(path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "-" {
		req.Header.Set("Content-Type", ct)
	}
	if tc.basic != nil {
		b := tc.basic(f)
		req.Header.Set("Authorization", "Basic "+basicHeader(b[0], b[1]))
	}
	for k, v := range tc.header {
		req.Header.Set(k, f.expand(v))
	}
	for _, v := range tc.authz {
		req.Header.Add("Authorization", f.expand(v))
	}
	r := f.srv.Do(t, nil, req)
	if tc.status == 200 && strings.HasPrefix(path, "/oauth/token") {
		// Tokens issued here must not show up in the log either.
		var m map[string]any
		if r.Status == 200 && jsonInto(r.Body, &m) == nil {
			for _, k := range []string{"access_token", "refresh_token", "id_token"} {
				if s, ok := m[k].(string); ok {
					f.srv.Sensitive(s)
				}
			}
		}
	}
	return r
}

// expand fills {cc}, {ccsecret}, {ccbasic} and {pwbasic} in paths and headers.
func (f *fixture) expand(s string) string {
	return strings.NewReplacer("{cc}", f.ccID, "{ccsecret}", f.ccSecret, "{ccbasic}", basicHeader(f.ccID, f.ccSecret),
		"{pwbasic}", basicHeader(f.pwID, f.pwSecret)).Replace(s)
}

func TestSecurity_S19_PostOnlyAndNoSecretInQuery(t *testing.T) {
	t.Parallel()
	runErrorCases(t, "S19")
}

func TestSecurity_S20_BasicAuthentication(t *testing.T) {
	t.Parallel()
	runErrorCases(t, "S20")
}

func TestSecurity_S21_TwoAuthenticationMethods(t *testing.T) {
	t.Parallel()
	runErrorCases(t, "S21")
}

// TestSecurity_S21_TwoBearerHeadersAtUserinfo: a protected resource reads one
// Authorization header or none: with two Bearer headers, whichever holds the good
// token, /userinfo answers 400 invalid_request with a challenge (RFC 6750 §3.1),
// as for a malformed header.
func TestSecurity_S21_TwoBearerHeadersAtUserinfo(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	r := f.do(t, errCase{basic: pw, status: 200, body: func(f *fixture) string {
		return form("grant_type", "password", "username", f.user, "password", f.password, "scope", "openid")
	}})
	if r.Status != 200 {
		t.Fatalf("password grant: %d %s", r.Status, r.Body)
	}
	at, _ := r.JSON(t)["access_token"].(string)
	if at == "" {
		t.Fatalf("no access token: %s", r.Body)
	}
	f.srv.Sensitive(at)
	call := func(authz ...string) Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, f.srv.URL+"/userinfo", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range authz {
			req.Header.Add("Authorization", a)
		}
		return f.srv.Do(t, nil, req)
	}
	if r := call("Bearer " + at); r.Status != 200 {
		t.Fatalf("one Bearer header: %d %s", r.Status, r.Body)
	}
	other := "not-a-token-" + randomString(16)
	for _, tc := range []struct {
		name  string
		authz []string
	}{
		{"the token, then another", []string{"Bearer " + at, "Bearer " + other}},
		{"another, then the token", []string{"Bearer " + other, "Bearer " + at}},
		{"the token twice", []string{"Bearer " + at, "Bearer " + at}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(tc.authz...)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", r.Status, r.Body)
			}
			m := r.JSON(t)
			if m["error"] != "invalid_request" {
				t.Errorf("error %v, want invalid_request (body %s)", m["error"], r.Body)
			}
			checkDescription(t, m)
			if ch := r.Header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="invalid_request"`) {
				t.Errorf("WWW-Authenticate %q", ch)
			}
			if _, ok := m["sub"]; ok {
				t.Errorf("claims returned: %s", r.Body)
			}
		})
	}
}

func TestSecurity_S23_ErrorCodes(t *testing.T) {
	t.Parallel()
	runErrorCases(t, "S23")
}

func TestSecurity_S24_ResponseHeaders(t *testing.T) {
	t.Parallel()
	runErrorCases(t, "S24")
}

func TestSecurity_S25_ClientCredentialsConfidentialOnly(t *testing.T) {
	t.Parallel()
	runErrorCases(t, "S25")
}

func TestSecurity_S27_PasswordGrantOnlyWhenAllowed(t *testing.T) {
	t.Parallel()
	runErrorCases(t, "S27")
}

func TestSecurity_S37_RevocationErrors(t *testing.T) {
	t.Parallel()
	runErrorCases(t, "S37")
}

func TestSecurity_S38_IntrospectionErrors(t *testing.T) {
	t.Parallel()
	runErrorCases(t, "S38")
}

func TestSecurity_S45_MalformedRequests(t *testing.T) {
	t.Parallel()
	runErrorCases(t, "S45")
}

// TestTokenEndpoint_AccessTokenAlias: the seed's /oauth/access_token is the token
// endpoint too (SPEC "HTTP endpoints").
func TestTokenEndpoint_AccessTokenAlias(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	r := f.do(t, errCase{path: "/oauth/access_token", basic: cc, body: ccBody("scope", "api:read"), status: 200})
	if r.Status != 200 {
		t.Fatalf("/oauth/access_token: %d %s", r.Status, r.Body)
	}
	checkTokenHeaders(t, r)
	m := r.JSON(t)
	at, _ := m["access_token"].(string)
	if _, c := verifyAccessToken(t, f.srv, at); c.Subject != f.ccID || c.Scope != "api:read" {
		t.Errorf("token from the alias: %+v", c)
	}
	r = f.do(t, errCase{path: "/oauth/access_token", basic: cc, body: ccBody("scope", "admin")})
	if r.Status != 400 || r.JSON(t)["error"] != "invalid_scope" {
		t.Errorf("alias error: %d %s", r.Status, r.Body)
	}
}

// TestSecurity_S22_UnknownClientLooksLikeWrongSecret: same status, body and headers.
func TestSecurity_S22_UnknownClientLooksLikeWrongSecret(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	unknownID := "aaaaaaaaaaaaaaaaaaaaaaaaaa" // a well-formed client id nobody has
	variants := map[string][]errCase{
		"basic": {
			{basic: func(f *fixture) [2]string { return [2]string{unknownID, f.ccSecret} }, body: ccBody()},
			{basic: func(f *fixture) [2]string { return [2]string{f.ccID, wrongSecret(f.ccSecret)} }, body: ccBody()},
			{basic: func(f *fixture) [2]string { return [2]string{f.ccID, ""} }, body: ccBody()},
			{basic: func(f *fixture) [2]string { return [2]string{strings.ToUpper(f.ccID), f.ccSecret} }, body: ccBody()},
		},
		"post": {
			{body: func(f *fixture) string {
				return form("grant_type", "client_credentials", "client_id", unknownID, "client_secret", "x")
			}},
			{body: func(f *fixture) string {
				return form("grant_type", "client_credentials", "client_id", f.ccID, "client_secret", "x")
			}},
		},
		"revoke": {
			{path: "/oauth/revoke", basic: func(f *fixture) [2]string { return [2]string{unknownID, "x"} }, body: fixed("token=x")},
			{path: "/oauth/revoke", basic: func(f *fixture) [2]string { return [2]string{f.ccID, "x"} }, body: fixed("token=x")},
		},
		"introspect": {
			{path: "/oauth/introspect", basic: func(f *fixture) [2]string { return [2]string{unknownID, "x"} }, body: fixed("token=x")},
			{path: "/oauth/introspect", basic: func(f *fixture) [2]string { return [2]string{f.ccID, "x"} }, body: fixed("token=x")},
		},
	}
	for name, cases := range variants {
		t.Run(name, func(t *testing.T) {
			var first Response
			for i, tc := range cases {
				r := f.do(t, tc)
				if r.Status != 401 {
					t.Errorf("case %d: status %d, want 401; body %s", i, r.Status, r.Body)
				}
				if i == 0 {
					first = r
					continue
				}
				if string(r.Body) != string(first.Body) || r.Header.Get("WWW-Authenticate") != first.Header.Get("WWW-Authenticate") {
					t.Errorf("case %d differs from an unknown client:\n%s %v\n%s %v", i,
						r.Body, r.Header.Get("WWW-Authenticate"), first.Body, first.Header.Get("WWW-Authenticate"))
				}
			}
		})
	}
}

// TestSecurity_S26_ClientSubNeverUserSub: a client's sub is its id, a user's is a
// UUID; the two formats never meet.
func TestSecurity_S26_ClientSubNeverUserSub(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	hc := f.srv.HTTPClient()
	tok, err := ccConfig(f.srv, f.ccID, f.ccSecret).Token(ctxWith(hc))
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Sensitive(tok.AccessToken)
	_, cl := verifyAccessToken(t, f.srv, tok.AccessToken)
	utok := passwordToken(t, f.srv, hc, userConfig(f.srv, f.pwID, f.pwSecret), f.user, f.password)
	_, uc := verifyAccessToken(t, f.srv, utok.AccessToken)
	if cl.Subject == uc.Subject {
		t.Fatalf("client and user share sub %q", cl.Subject)
	}
	if uc.Subject != f.userID || cl.Subject != f.ccID {
		t.Errorf("sub: client %q (want %q), user %q (want %q)", cl.Subject, f.ccID, uc.Subject, f.userID)
	}
	if len(uc.Subject) != 36 || strings.Count(uc.Subject, "-") != 4 {
		t.Errorf("user sub %q is not a canonical UUID", uc.Subject)
	}
	if strings.Contains(cl.Subject, "-") || len(cl.Subject) == 32 || len(cl.Subject) == 36 {
		t.Errorf("client sub %q could be read as a UUID", cl.Subject)
	}
}

// TestSecurity_S27_UnknownUserLooksLikeWrongPassword: same status and body.
func TestSecurity_S27_UnknownUserLooksLikeWrongPassword(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	srv := f.srv
	id, secret := srv.CreateClient(t, "--grant-type", "password")
	name, pwd, _ := newUser(t, srv)
	try := func(user, pass string) Response {
		return srv.PostForm(t, nil, "/oauth/token", form("grant_type", "password", "username", user, "password", pass), id, secret)
	}
	unknown := try("nobody-"+randomString(8), pwd)
	wrong := try(name, pwd+"x")
	if unknown.Status != 400 || unknown.JSON(t)["error"] != "invalid_grant" {
		t.Errorf("unknown user: %d %s, want 400 invalid_grant", unknown.Status, unknown.Body)
	}
	if wrong.Status != unknown.Status || string(wrong.Body) != string(unknown.Body) {
		t.Errorf("wrong password and unknown user differ:\n%d %s\n%d %s", wrong.Status, wrong.Body, unknown.Status, unknown.Body)
	}
	checkTokenHeaders(t, wrong)
	// Another user's password does not work either, and the username is exact.
	if r := try(strings.ToUpper(name)+"x", pwd); r.Status != 400 {
		t.Errorf("mangled username: %d %s", r.Status, r.Body)
	}
	if r := try(name, pwd); r.Status != 200 {
		t.Errorf("right password: %d %s", r.Status, r.Body)
	} else {
		m := r.JSON(t)
		srv.Sensitive(m["access_token"].(string))
	}
}

// TestSecurity_S28_Throttling: repeated password and client-secret failures are
// answered 429 with Retry-After; the lock is temporary.
func TestSecurity_S28_Throttling(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	t.Run("password", func(t *testing.T) {
		t.Parallel()
		id, secret := srv.CreateClient(t, "--grant-type", "password")
		name, pwd, _ := newUser(t, srv)
		other, otherPwd, _ := newUser(t, srv)
		attacker := srv.HTTPClient()
		try := func(hc *http.Client, user, pass string) Response {
			return srv.PostForm(t, hc, "/oauth/token", form("grant_type", "password", "username", user, "password", pass), id, secret)
		}
		var r Response
		var lastFailure time.Time // when the request that set the lock was sent
		for i := 1; i <= 20; i++ {
			sent := time.Now()
			r = try(attacker, name, "guess-"+strconv.Itoa(i))
			if r.Status == http.StatusTooManyRequests {
				break
			}
			if r.Status != 400 || r.JSON(t)["error"] != "invalid_grant" {
				t.Fatalf("attempt %d: %d %s", i, r.Status, r.Body)
			}
			lastFailure = sent
		}
		retry := checkThrottled(t, r)
		// A lock lasts at least a second from the failure that set it; answers that
		// come back later than that prove nothing either way (a very slow machine).
		duringLock := func(what string, r Response) {
			t.Helper()
			if r.Status == http.StatusTooManyRequests {
				return
			}
			if time.Since(lastFailure) < time.Second {
				t.Errorf("%s during the lock: %d %s, want 429", what, r.Status, r.Body)
			} else {
				t.Logf("%s: answered after the shortest lock could have ended; not checked", what)
			}
		}
		// The user is locked from everywhere for now, even with the right password...
		duringLock("right password", try(srv.HTTPClient(), name, pwd))
		// ...and the attacker's address is locked for other users too.
		duringLock("another user from the locked address", try(attacker, other, otherPwd))
		// Not forever: after Retry-After the right password works from elsewhere.
		time.Sleep(retry)
		r = try(srv.HTTPClient(), name, pwd)
		if r.Status != 200 {
			t.Fatalf("right password after Retry-After: %d %s", r.Status, r.Body)
		}
		srv.Sensitive(r.JSON(t)["access_token"].(string))
	})
	t.Run("client secret", func(t *testing.T) {
		t.Parallel()
		id, secret := srv.CreateClient(t, "--grant-type", "client_credentials")
		attacker := srv.HTTPClient()
		var r Response
		for i := 1; i <= 20; i++ {
			r = srv.PostForm(t, attacker, "/oauth/token", form("grant_type", "client_credentials"), id, "guess-"+strconv.Itoa(i))
			if r.Status == http.StatusTooManyRequests {
				break
			}
			if r.Status != 401 || r.JSON(t)["error"] != "invalid_client" {
				t.Fatalf("attempt %d: %d %s", i, r.Status, r.Body)
			}
		}
		checkThrottled(t, r)
		// The attacker cannot lock the client out: it still authenticates from elsewhere.
		r = srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials"), id, secret)
		if r.Status != 200 {
			t.Fatalf("the real client during the attacker's lock: %d %s", r.Status, r.Body)
		}
		srv.Sensitive(r.JSON(t)["access_token"].(string))
	})
}

// checkThrottled checks a 429 answer and returns its Retry-After.
func checkThrottled(t *testing.T, r Response) time.Duration {
	t.Helper()
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("never throttled: last answer %d %s", r.Status, r.Body)
	}
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 600 {
		t.Fatalf("429 with Retry-After %q", r.Header.Get("Retry-After"))
	}
	checkTokenHeaders(t, r)
	if m := r.JSON(t); m["error"] == nil {
		t.Errorf("429 without an error member: %s", r.Body)
	}
	return time.Duration(secs) * time.Second
}

// TestSecurity_S29_RefreshTokenBoundToClient: another client's refresh token is
// invalid_grant and stays usable by its owner.
func TestSecurity_S29_RefreshTokenBoundToClient(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	srv := f.srv
	otherID, otherSecret := srv.CreateClient(t, "--grant-type", "password", "--grant-type", "refresh_token")
	hc := srv.HTTPClient()
	tok := passwordToken(t, srv, hc, userConfig(srv, f.pwID, f.pwSecret), f.user, f.password)
	r := refreshForm(t, srv, hc, otherID, otherSecret, tok.RefreshToken, "")
	if r.Status != 400 || r.JSON(t)["error"] != "invalid_grant" {
		t.Errorf("another client's refresh token: %d %s, want 400 invalid_grant", r.Status, r.Body)
	}
	checkTokenHeaders(t, r)
	// A public client naming the owner's id without its secret gets nothing either.
	r = srv.PostForm(t, hc, "/oauth/token", form("grant_type", "refresh_token", "refresh_token", tok.RefreshToken, "client_id", f.pwID), "", "")
	if r.Status != 401 {
		t.Errorf("refresh with only the owner's client_id: %d %s, want 401", r.Status, r.Body)
	}
	if _, err := refresh(ctxWith(hc), userConfig(srv, f.pwID, f.pwSecret), tok.RefreshToken); err != nil {
		t.Errorf("the owner's refresh after another client tried: %v", err)
	}
}

// TestSecurity_S30_ReuseRevokesFamily (the every-backend version is in
// TestTokenEndpoint/*/PasswordRefreshRotation): the error a replayed refresh token gets.
func TestSecurity_S30_ReuseRevokesFamily(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	srv := f.srv
	hc := srv.HTTPClient()
	cfg := userConfig(srv, f.pwID, f.pwSecret)
	tok := passwordToken(t, srv, hc, cfg, f.user, f.password)
	tok2, err := refresh(ctxWith(hc), cfg, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	srv.Sensitive(tok2.AccessToken, tok2.RefreshToken)
	r := refreshForm(t, srv, hc, f.pwID, f.pwSecret, tok.RefreshToken, "")
	if r.Status != 400 || r.JSON(t)["error"] != "invalid_grant" {
		t.Errorf("replayed refresh token: %d %s, want 400 invalid_grant", r.Status, r.Body)
	}
	checkTokenHeaders(t, r)
	checkDescription(t, r.JSON(t))
	r = refreshForm(t, srv, hc, f.pwID, f.pwSecret, tok2.RefreshToken, "")
	if r.Status != 400 || r.JSON(t)["error"] != "invalid_grant" {
		t.Errorf("the family's live token after a replay: %d %s, want 400 invalid_grant", r.Status, r.Body)
	}
	wantInactive(t, introspect(t, srv, hc, f.pwID, f.pwSecret, tok2.AccessToken))
}

// TestSecurity_S31_BroaderScopeKeepsToken: invalid_scope, and the token still works.
func TestSecurity_S31_BroaderScopeKeepsToken(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	srv := f.srv
	hc := srv.HTTPClient()
	cfg := userConfig(srv, f.pwID, f.pwSecret, "openid")
	tok := passwordToken(t, srv, hc, cfg, f.user, f.password)
	for _, scope := range []string{"openid profile", "admin", `open"id`} {
		r := refreshForm(t, srv, hc, f.pwID, f.pwSecret, tok.RefreshToken, scope)
		if r.Status != 400 || r.JSON(t)["error"] != "invalid_scope" {
			t.Errorf("refresh with scope %q: %d %s, want 400 invalid_scope", scope, r.Status, r.Body)
		}
		checkTokenHeaders(t, r)
	}
	r := refreshForm(t, srv, hc, f.pwID, f.pwSecret, tok.RefreshToken, "openid")
	if r.Status != 200 {
		t.Fatalf("refresh with the original scope after refusals: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	srv.Sensitive(m["access_token"].(string), m["refresh_token"].(string))
	if m["scope"] != "openid" {
		t.Errorf("scope %v", m["scope"])
	}
}

// TestSecurity_S32_ParallelRefreshOneWinner: 32 concurrent refreshes with one token,
// on every backend: exactly one gets tokens, the others invalid_grant (no 5xx), and
// there are never two live branches afterwards.
func TestSecurity_S32_ParallelRefreshOneWinner(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		cfg, id, secret := newPasswordClient(t, srv)
		user, pwd, _ := newUser(t, srv)
		hc := srv.HTTPClient()
		tok := passwordToken(t, srv, hc, cfg, user, pwd)

		const n = 32
		type result struct {
			status int
			body   []byte
			err    error
		}
		results := make([]result, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		body := form("grant_type", "refresh_token", "refresh_token", tok.RefreshToken)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(basicEscape(id), basicEscape(secret))
				<-start
				resp, err := hc.Do(req)
				if err != nil {
					results[i].err = err
					return
				}
				defer resp.Body.Close()
				results[i].status = resp.StatusCode
				results[i].body, results[i].err = readAll(resp)
			}()
		}
		close(start)
		wg.Wait()

		var winners []map[string]any
		for i, r := range results {
			switch {
			case r.err != nil:
				t.Errorf("request %d: %v", i, r.err)
			case r.status == 200:
				var m map[string]any
				if err := jsonInto(r.body, &m); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				srv.Sensitive(m["access_token"].(string), m["refresh_token"].(string))
				winners = append(winners, m)
			case r.status == 400 && strings.Contains(string(r.body), `"invalid_grant"`):
			default:
				t.Errorf("request %d: %d %s, want 200 or 400 invalid_grant", i, r.status, r.body)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("%d of %d parallel refreshes succeeded, want exactly 1", len(winners), n)
		}

		// The original is spent, whatever happened.
		if r := refreshForm(t, srv, hc, id, secret, tok.RefreshToken, ""); r.Status != 400 {
			t.Errorf("the raced token afterwards: %d %s", r.Status, r.Body)
		}
		// One live branch at most: the winner's, whole, or none (a loser that came after
		// the rotation is a replay of a rotated token, which revokes the family, S30).
		// Either way the state is consistent: refresh token and access token agree.
		win := winners[0]
		at, rt := win["access_token"].(string), win["refresh_token"].(string)
		atActive := introspect(t, srv, hc, id, secret, at)["active"] == true
		rtActive := introspect(t, srv, hc, id, secret, rt)["active"] == true
		if atActive != rtActive {
			t.Fatalf("half a branch: winner's access token active=%v, refresh token active=%v", atActive, rtActive)
		}
		r := refreshForm(t, srv, hc, id, secret, rt, "")
		if rtActive && r.Status != 200 {
			t.Errorf("the live winner's refresh token does not refresh: %d %s", r.Status, r.Body)
		}
		if !rtActive && r.Status != 400 {
			t.Errorf("a revoked winner's refresh token refreshed: %d %s", r.Status, r.Body)
		}
		if r.Status == 200 {
			m := r.JSON(t)
			srv.Sensitive(m["access_token"].(string), m["refresh_token"].(string))
		}
		t.Logf("after %d parallel refreshes: 1 winner, its branch live=%v", n, rtActive)
	})
}

// TestSecurity_S38_ExpiredAccessTokenInactive: an access token introspects as exactly
// {"active":false} from its exp on, without a clock-skew leeway: the server set exp
// itself (RFC 7662 §2.2). Access tokens live 3 s here.
func TestSecurity_S38_ExpiredAccessTokenInactive(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_ACCESS_TOKEN_TTL": "3s"}})
	id, secret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api")
	hc := srv.HTTPClient()
	tok, err := ccConfig(srv, id, secret).Token(ctxWith(hc))
	if err != nil {
		t.Fatal(err)
	}
	srv.Sensitive(tok.AccessToken)
	// Its exp, read without verification.
	var c accessClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok.AccessToken, &c); err != nil || c.ExpiresAt == nil {
		t.Fatalf("access token claims: %v", err)
	}
	if time.Until(c.ExpiresAt.Time) > 500*time.Millisecond {
		if m := introspect(t, srv, hc, id, secret, tok.AccessToken); m["active"] != true {
			t.Fatalf("token inactive before its exp: %v", m)
		}
	}
	time.Sleep(time.Until(c.ExpiresAt.Add(time.Second)))
	wantInactive(t, introspect(t, srv, hc, id, secret, tok.AccessToken))
	// Revoking an expired token is fine too.
	if r := revoke(t, srv, hc, id, secret, tok.AccessToken, ""); r.Status != 200 {
		t.Errorf("revoking an expired token: %d %s", r.Status, r.Body)
	}
}

// TestSecurity_S39_IssuerFromConfiguration: Host and X-Forwarded-* never change the
// issuer, which equals every token's iss.
func TestSecurity_S39_IssuerFromConfiguration(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	srv := f.srv
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		for _, h := range []map[string]string{
			{},
			{"Host": "evil.example"},
			{"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"},
			{"Forwarded": "host=evil.example;proto=https"},
			{"Host": "evil.example:8443", "X-Forwarded-Host": "evil.example", "X-Forwarded-Prefix": "/x"},
		} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			for k, v := range h {
				if k == "Host" {
					req.Host = v
				} else {
					req.Header.Set(k, v)
				}
			}
			r := srv.Do(t, nil, req)
			if r.Status != 200 {
				t.Fatalf("%s with %v: %d", path, h, r.Status)
			}
			m := r.JSON(t)
			if m["issuer"] != srv.URL {
				t.Errorf("%s with %v: issuer %v, want %s", path, h, m["issuer"], srv.URL)
			}
			for _, k := range []string{"token_endpoint", "jwks_uri", "revocation_endpoint", "introspection_endpoint"} {
				if s, _ := m[k].(string); !strings.HasPrefix(s, srv.URL+"/") {
					t.Errorf("%s with %v: %s %q", path, h, k, s)
				}
			}
		}
	}
	// The issuer is every token's iss, also when the request came with a forged Host.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth/token", strings.NewReader(form("grant_type", "client_credentials")))
	req.Host = "evil.example"
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(f.ccID, f.ccSecret)
	r := srv.Do(t, nil, req)
	if r.Status != 200 {
		t.Fatalf("token: %d %s", r.Status, r.Body)
	}
	at, _ := r.JSON(t)["access_token"].(string)
	srv.Sensitive(at)
	if _, c := verifyAccessToken(t, srv, at); c.Issuer != srv.URL {
		t.Errorf("iss %q", c.Issuer)
	}
	// Only the grants the token endpoint serves are listed.
	m := srv.Get(t, nil, "/.well-known/oauth-authorization-server").JSON(t)
	grants, _ := m["grant_types_supported"].([]any)
	for _, g := range grants {
		if g == "implicit" {
			t.Errorf("grant_types_supported lists implicit")
		}
	}
	if m["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("authorization_response_iss_parameter_supported %v", m["authorization_response_iss_parameter_supported"])
	}
}

// TestSecurity_S45_ExpectContinueOverLimit: a body whose Content-Length is over an
// endpoint's limit, announced with `Expect: 100-continue` (curl adds it to large
// bodies), is refused with that endpoint's 413 before the server reads a byte of it:
// no "100 Continue" (after which the client would send its megabytes into a closing
// connection and see it reset), the same answer as for a body sent in full.
func TestSecurity_S45_ExpectContinueOverLimit(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_DYNAMIC_REGISTRATION": "open"}})
	ccID, ccSecret := srv.CreateClient(t, "--grant-type", "client_credentials")
	admin, _ := adminToken(t, srv)
	srv.Sensitive(admin)
	target, _ := srv.CreateClient(t, "--grant-type", "client_credentials")
	const huge = 3 << 20
	basic := "Basic " + basicHeader(ccID, ccSecret)
	bearer := "Bearer " + admin
	formCT := "application/x-www-form-urlencoded"
	oauthError := func(t *testing.T, ct string, body []byte) {
		var m map[string]any
		if !strings.HasPrefix(ct, "application/json") || jsonInto(body, &m) != nil ||
			m["error"] != "invalid_request" || m["error_description"] != "request body too large" {
			t.Errorf("answer %s %s, want invalid_request: request body too large", ct, body)
		}
	}
	page := func(t *testing.T, ct string, body []byte) {
		if !strings.HasPrefix(ct, "text/html") || !strings.Contains(string(body), "<html") {
			t.Errorf("answer %s, want an error page:\n%.300s", ct, body)
		}
	}
	adminProblem := func(t *testing.T, ct string, body []byte) {
		var m map[string]any
		if ct != "application/problem+json" || jsonInto(body, &m) != nil || m["status"] != float64(413) ||
			!strings.HasSuffix(fmt.Sprint(m["type"]), "too-large") || m["detail"] != fmt.Sprintf("the body may hold at most %d bytes", 1<<20) {
			t.Errorf("answer %s %s, want the too-large problem", ct, body)
		}
	}
	for _, tc := range []struct {
		name, method, path string
		header             map[string]string
		limit              int
		check              func(t *testing.T, ct string, body []byte)
	}{
		{"token", "POST", "/oauth/token", map[string]string{"Content-Type": formCT, "Authorization": basic}, 64 << 10, oauthError},
		{"revoke", "POST", "/oauth/revoke", map[string]string{"Content-Type": formCT, "Authorization": basic}, 64 << 10, oauthError},
		{"register", "POST", "/oauth/register", map[string]string{"Content-Type": "application/json"}, 64 << 10, oauthError},
		{"authorize", "POST", "/oauth/authorize", map[string]string{"Content-Type": formCT}, 64 << 10, page},
		{"login", "POST", "/login", map[string]string{"Content-Type": formCT}, 64 << 10, page},
		{"admin create", "POST", "/admin/api/v1/users", map[string]string{"Content-Type": "application/json", "Authorization": bearer}, 1 << 20, adminProblem},
		{"admin patch", "PATCH", "/admin/api/v1/clients/" + target,
			map[string]string{"Content-Type": "application/merge-patch+json", "Authorization": bearer}, 1 << 20, adminProblem},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{tc.limit + 1, huge} {
				first, rest := expectContinueExchange(t, srv, tc.method, tc.path, tc.header, n, nil)
				if first.StatusCode == http.StatusContinue {
					t.Fatalf("Content-Length %d: 100 Continue, want the 413 before the body is read", n)
				}
				if first.StatusCode != http.StatusRequestEntityTooLarge || rest != nil {
					t.Fatalf("Content-Length %d: %d, want 413; body %s", n, first.StatusCode, first.body)
				}
				tc.check(t, first.Header.Get("Content-Type"), first.body)
			}
			// net/http's own client, waiting for the 100 Continue it never gets: it
			// sends no byte of the body and reads the 413.
			body := &countingReader{r: io.LimitReader(zeros{}, huge)}
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = huge
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			req.Header.Set("Expect", "100-continue")
			hc := srv.HTTPClient()
			hc.Transport.(*http.Transport).ExpectContinueTimeout = 20 * time.Second
			r := srv.Do(t, hc, req)
			hc.CloseIdleConnections()
			if r.Status != http.StatusRequestEntityTooLarge || body.n != 0 {
				t.Fatalf("net/http client: %d after sending %d bytes of the body, want 413 and none sent; %s", r.Status, body.n, r.Body)
			}
			tc.check(t, r.Header.Get("Content-Type"), r.Body)
		})
	}
	// A body within the limit still gets its 100 Continue and its answer.
	body := form("grant_type", "client_credentials")
	first, rest := expectContinueExchange(t, srv, "POST", "/oauth/token",
		map[string]string{"Content-Type": formCT, "Authorization": basic}, len(body), []byte(body))
	if first.StatusCode != http.StatusContinue || rest == nil || rest.StatusCode != http.StatusOK {
		t.Fatalf("a small body: %d then %v, want 100 Continue then 200", first.StatusCode, rest)
	}
	if r := srv.Get(t, nil, "/healthz"); r.Status != 200 {
		t.Errorf("after the large bodies: /healthz %d", r.Status)
	}
}

// answer is a response with its body read.
type answer struct {
	*http.Response
	body []byte
}

// expectContinueExchange sends the head of a request with `Expect: 100-continue` and
// Content-Length n over a raw connection from a fresh loopback address, and reads the
// first answer. When that is 100 Continue and body is not nil, it sends body and
// reads the final answer too (rest); otherwise rest is nil.
func expectContinueExchange(t *testing.T, srv *Server, method, path string, header map[string]string, n int, body []byte) (first answer, rest *answer) {
	t.Helper()
	seq := sourceSeq.Add(1)
	src := net.IPv4(127, byte(1+seq>>16), byte(seq>>8), byte(seq))
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	var head strings.Builder
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n", method, path, srv.Addr, n)
	for k, v := range header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	read := func() answer {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s %s: reading the answer: %v", method, path, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: reading the answer's body: %v", method, path, err)
		}
		return answer{resp, b}
	}
	first = read()
	if first.StatusCode == http.StatusContinue && body != nil {
		if _, err := conn.Write(body); err != nil {
			t.Fatal(err)
		}
		r := read()
		rest = &r
	}
	return first, rest
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// countingReader counts the bytes read from r.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	m, err := c.r.Read(p)
	c.n += int64(m)
	return m, err
}
