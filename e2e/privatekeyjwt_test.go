package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// private_key_jwt (RFC 7523 §2.2) against the real server: clients registered with
// a JWK Set or a jwks_uri authenticate with assertions at the token, revocation and
// introspection endpoints, and every defect RFC 7523 §3 and RFC 7521 §8 name is
// refused with 401 invalid_client.

// jwks is the public JWK Set of keys, each with its kid.
func jwks(keys map[string]dpopKey) string {
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	for kid, k := range keys {
		m := map[string]any{"kid": kid, "use": "sig"}
		for n, v := range k.jwk {
			m[n] = v
		}
		set.Keys = append(set.Keys, m)
	}
	b, _ := json.Marshal(set)
	return string(b)
}

// assertion signs a client assertion for client id with k under kid; claims
// override or (nil) delete members.
func assertion(t testing.TB, srv *Server, k dpopKey, kid, id string, claims map[string]any) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": id, "sub": id, "aud": srv.URL + "/oauth/token", "jti": randomString(24),
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix()}
	for n, v := range claims {
		if v == nil {
			delete(c, n)
		} else {
			c[n] = v
		}
	}
	tok := jwt.NewWithClaims(k.method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	srv.Sensitive(s)
	return s
}

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// createKeyClient registers a private_key_jwt client with a JWKS file.
func createKeyClient(t *testing.T, srv *Server, keys map[string]dpopKey, extra ...string) CreatedClient {
	t.Helper()
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, []byte(jwks(keys)), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.CreateClientJSON(t, append([]string{"--auth-method", "private_key_jwt", "--jwks", file}, extra...)...)
}

func TestPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		runConcurrently(t,
			subtest{"Flows", func(t *testing.T) { testPrivateKeyJWTFlows(t, srv) }},
			subtest{"Attacks", func(t *testing.T) { testPrivateKeyJWTAttacks(t, srv) }},
		)
	})
}

// testPrivateKeyJWTFlows: golang.org/x/oauth2 gets a token with an assertion; the
// client may leave client_id out; revocation and introspection accept assertions;
// discovery and clients list say so.
func testPrivateKeyJWTFlows(t *testing.T, srv *Server) {
	k := newDPoPKey(t, "ES256")
	c := createKeyClient(t, srv, map[string]dpopKey{"k1": k}, "--grant-type", "client_credentials", "--scope", "api:read")
	if c.ClientSecret != "" {
		t.Fatalf("a private_key_jwt client got a secret")
	}
	hc := srv.HTTPClient()
	cfg := &clientcredentials.Config{ClientID: c.ClientID, TokenURL: srv.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams,
		EndpointParams: url.Values{"client_assertion_type": {jwtBearer}, "client_assertion": {assertion(t, srv, k, "k1", c.ClientID, nil)}}}
	tok, err := cfg.Token(ctxWith(hc))
	if err != nil {
		t.Fatalf("client credentials with an assertion (golang.org/x/oauth2): %v", err)
	}
	srv.Sensitive(tok.AccessToken)
	if _, cl := verifyAccessToken(t, srv, tok.AccessToken); cl.ClientID != c.ClientID {
		t.Errorf("token client_id %q", cl.ClientID)
	}

	// No client_id: the assertion's sub names the client (RFC 7523 §3). The issuer
	// itself is an accepted aud too; no kid tries every key.
	m := tokenJSON(t, srv, "without client_id", srv.PostForm(t, hc, "/oauth/token", form("grant_type", "client_credentials",
		"client_assertion_type", jwtBearer, "client_assertion", assertion(t, srv, k, "", c.ClientID, map[string]any{"aud": srv.URL})), "", ""))
	at := m["access_token"].(string)

	r := srv.PostForm(t, hc, "/oauth/introspect", form("token", at, "client_assertion_type", jwtBearer,
		"client_assertion", assertion(t, srv, k, "k1", c.ClientID, nil)), "", "")
	if r.Status != 200 || r.JSON(t)["active"] != true {
		t.Errorf("introspection with an assertion: %d %s", r.Status, r.Body)
	}
	r = srv.PostForm(t, hc, "/oauth/revoke", form("token", at, "client_assertion_type", jwtBearer,
		"client_assertion", assertion(t, srv, k, "k1", c.ClientID, nil)), "", "")
	if r.Status != 200 {
		t.Errorf("revocation with an assertion: %d %s", r.Status, r.Body)
	}

	meta := srv.Get(t, hc, "/.well-known/openid-configuration").JSON(t)
	for _, ep := range []string{"token_endpoint", "revocation_endpoint", "introspection_endpoint"} {
		methods, _ := meta[ep+"_auth_methods_supported"].([]any)
		algs, _ := meta[ep+"_auth_signing_alg_values_supported"].([]any)
		if !containsAny(methods, "private_key_jwt") || !containsAny(algs, "ES256") || containsAny(algs, "HS256") || containsAny(algs, "none") {
			t.Errorf("%s: methods %v algs %v", ep, methods, algs)
		}
	}

	out, _, code := srv.CLI(t, "", "clients", "list", "--json")
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
		t.Fatalf("clients list --json: %d %s", code, out)
	}
	found := false
	for _, cl := range list {
		if cl["client_id"] == c.ClientID {
			found = true
			keys, _ := cl["jwks"].(map[string]any)["keys"].([]any)
			if cl["token_endpoint_auth_method"] != "private_key_jwt" || len(keys) != 1 {
				t.Errorf("clients list: %v", cl)
			}
		}
	}
	if !found {
		t.Errorf("client %s not listed", c.ClientID)
	}
	if _, errOut, code := srv.CLI(t, "", "clients", "rotate-secret", c.ClientID); code == 0 {
		t.Errorf("rotate-secret of a private_key_jwt client succeeded: %s", errOut)
	}
}

func containsAny(list []any, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// testPrivateKeyJWTAttacks: each defective assertion is 401 invalid_client (each
// from its own address, so throttling does not turn them into 429s); mixing
// methods or a wrong assertion type is 400 invalid_request.
func testPrivateKeyJWTAttacks(t *testing.T, srv *Server) {
	k, stranger := newDPoPKey(t, "ES256"), newDPoPKey(t, "ES256")
	c := createKeyClient(t, srv, map[string]dpopKey{"k1": k}, "--grant-type", "client_credentials")
	other, otherSecret := srv.CreateClient(t, "--grant-type", "client_credentials")
	id := c.ClientID
	send := func(extra ...string) Response {
		return srv.PostForm(t, nil, "/oauth/token", form(append([]string{"grant_type", "client_credentials"}, extra...)...), "", "")
	}
	withAssertion := func(a string) Response {
		return send("client_assertion_type", jwtBearer, "client_assertion", a, "client_id", id)
	}

	// Replay: one assertion, two uses (RFC 7523 §3 item 7, RFC 7521 §8.2).
	a := assertion(t, srv, k, "k1", id, nil)
	tokenJSON(t, srv, "first use", withAssertion(a))
	wantDPoPError(t, "replayed assertion", withAssertion(a), 401, "invalid_client")

	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": id, "sub": id, "aud": srv.URL + "/oauth/token",
			"jti": randomString(20), "exp": time.Now().Add(time.Minute).Unix()})
		s, _ := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}
	hs256 := func(key string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": id, "sub": id, "aud": srv.URL + "/oauth/token",
			"jti": randomString(20), "exp": time.Now().Add(time.Minute).Unix()})
		s, _ := tok.SignedString([]byte(key))
		return s
	}
	for _, tc := range []struct {
		name string
		a    string
	}{
		{"WrongAud", assertion(t, srv, k, "k1", id, map[string]any{"aud": "https://other.example/token"})},
		{"AudOfIntrospection", assertion(t, srv, k, "k1", id, map[string]any{"aud": srv.URL + "/oauth/introspect"})},
		{"Expired", assertion(t, srv, k, "k1", id, map[string]any{"exp": time.Now().Add(-2 * time.Minute).Unix()})},
		{"ExpTooFar", assertion(t, srv, k, "k1", id, map[string]any{"exp": time.Now().Add(time.Hour).Unix()})},
		{"NoExp", assertion(t, srv, k, "k1", id, map[string]any{"exp": nil})},
		{"NoJTI", assertion(t, srv, k, "k1", id, map[string]any{"jti": nil})},
		{"FutureNBF", assertion(t, srv, k, "k1", id, map[string]any{"nbf": time.Now().Add(10 * time.Minute).Unix()})},
		{"IssNotSub", assertion(t, srv, k, "k1", id, map[string]any{"iss": other})},
		{"KeyNotInJWKS", assertion(t, srv, stranger, "k1", id, nil)},
		{"KeyNotInJWKSNoKid", assertion(t, srv, stranger, "", id, nil)},
		{"UnknownKid", assertion(t, srv, k, "k9", id, nil)},
		{"AlgNone", none()},
		{"HS256WithClientID", hs256(id)},
		{"Garbage", "not.a.jwt"},
	} {
		wantDPoPError(t, tc.name, withAssertion(tc.a), 401, "invalid_client")
	}

	// An assertion for a client registered with a secret proves nothing, and the
	// private_key_jwt client cannot fall back to a secret.
	wantDPoPError(t, "assertion for a secret client", send("client_assertion_type", jwtBearer,
		"client_assertion", assertion(t, srv, k, "k1", other, nil), "client_id", other), 401, "invalid_client")
	wantDPoPError(t, "secret for a key client", srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials"), id, "guess"),
		401, "invalid_client")
	// client_id naming another client than the assertion's sub.
	wantDPoPError(t, "client_id differs from sub", send("client_assertion_type", jwtBearer,
		"client_assertion", assertion(t, srv, k, "k1", id, nil), "client_id", other), 401, "invalid_client")

	// A sub that no database key can hold (NUL, invalid UTF-8) and no client_id:
	// invalid_client, never a 500 (SECURITY S45).
	for _, sub := range []string{"a\x00b", "\xff\xfe", strings.Repeat("s", 300)} {
		wantDPoPError(t, fmt.Sprintf("sub %q", sub), send("client_assertion_type", jwtBearer,
			"client_assertion", assertion(t, srv, k, "k1", id, map[string]any{"sub": sub, "iss": sub})), 401, "invalid_client")
	}

	// Two methods at once, or a malformed request: invalid_request.
	r := srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials", "client_assertion_type", jwtBearer,
		"client_assertion", assertion(t, srv, k, "k1", id, nil)), other, otherSecret)
	wantDPoPError(t, "Basic and an assertion", r, 400, "invalid_request")
	wantDPoPError(t, "secret and an assertion", send("client_assertion_type", jwtBearer, "client_assertion",
		assertion(t, srv, k, "k1", id, nil), "client_secret", "x"), 400, "invalid_request")
	wantDPoPError(t, "wrong assertion type", send("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
		"client_assertion", assertion(t, srv, k, "k1", id, nil)), 400, "invalid_request")
	wantDPoPError(t, "type without assertion", send("client_assertion_type", jwtBearer), 400, "invalid_request")
}

// TestPrivateKeyJWTRegistration: the CLI refuses JWK Sets with private keys, plain
// http jwks_uri to other hosts, and private_key_jwt without keys (exit status 2).
func TestPrivateKeyJWTRegistration(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	k := newDPoPKey(t, "ES256")
	priv := map[string]any{"kid": "p", "d": "AAAA"}
	for n, v := range k.jwk {
		priv[n] = v
	}
	b, _ := json.Marshal(map[string]any{"keys": []any{priv}})
	dir := t.TempDir()
	privFile, sym := filepath.Join(dir, "private.json"), filepath.Join(dir, "oct.json")
	_ = os.WriteFile(privFile, b, 0o600)
	_ = os.WriteFile(sym, []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`), 0o600)
	for _, args := range [][]string{
		{"--auth-method", "private_key_jwt", "--jwks", privFile},
		{"--auth-method", "private_key_jwt", "--jwks", sym},
		{"--auth-method", "private_key_jwt", "--jwks-uri", "http://keys.example.com/jwks.json"},
		{"--auth-method", "private_key_jwt"},
		{"--auth-method", "client_secret_jwt"},
		{"--jwks-uri", "https://keys.example.com/jwks.json"},
		{"--auth-method", "private_key_jwt", "--public", "--jwks-uri", "https://keys.example.com/jwks.json"},
	} {
		_, errOut, code := srv.CLI(t, "", append([]string{"clients", "create", "--name", uniqueName("bad-"), "--grant-type", "client_credentials"}, args...)...)
		if code != 2 || strings.Contains(errOut, "AAAA") {
			t.Errorf("clients create %v: exit %d, stderr %q; want 2, the key not echoed", args, code, errOut)
		}
	}
}

// jwksServer serves a JWK Set that the test can replace, on loopback.
type jwksServer struct {
	mu   sync.Mutex
	body string
	hits int
	url  string
}

func startJWKSServer(t *testing.T, body string) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.hits++
		w.Header().Set("Content-Type", "application/jwk-set+json")
		fmt.Fprint(w, s.body)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	s.url = "http://" + ln.Addr().String() + "/jwks.json"
	return s
}

func (s *jwksServer) set(body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = body
}

func (s *jwksServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

// TestPrivateKeyJWTJWKSURIRotation: a client whose keys live at a jwks_uri rotates
// to a new key; an assertion with the new kid makes Gatehouse refetch (at most once
// per 10 s), after which it is accepted. Made-up kids do not make it refetch each time.
func TestPrivateKeyJWTJWKSURIRotation(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		k1, k2 := newDPoPKey(t, "ES256"), newDPoPKey(t, "EdDSA")
		keys := startJWKSServer(t, jwks(map[string]dpopKey{"k1": k1}))
		c := srv.CreateClientJSON(t, "--auth-method", "private_key_jwt", "--jwks-uri", keys.url, "--grant-type", "client_credentials")
		try := func(k dpopKey, kid string) Response {
			return srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials", "client_assertion_type", jwtBearer,
				"client_assertion", assertion(t, srv, k, kid, c.ClientID, nil)), "", "")
		}
		tokenJSON(t, srv, "k1", try(k1, "k1"))

		// Made-up kids: refused, and not one fetch each.
		before := keys.count()
		for i := range 5 {
			wantDPoPError(t, "made-up kid", try(k1, fmt.Sprintf("nope-%d", i)), 401, "invalid_client")
		}
		if n := keys.count() - before; n > 1 {
			t.Errorf("5 unknown kids caused %d fetches within the refetch interval, want at most 1", n)
		}

		keys.set(jwks(map[string]dpopKey{"k2": k2}))
		deadline := time.Now().Add(60 * time.Second)
		for {
			r := try(k2, "k2")
			if r.Status == http.StatusOK {
				tokenJSON(t, srv, "k2 after rotation", r)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the rotated key k2 is still refused after 60 s: %d %s", r.Status, r.Body)
			}
			time.Sleep(time.Second)
		}
	})
}
