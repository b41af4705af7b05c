package e2e

// The example resource server (cmd/example-api, built on adapter/resourceserver) run
// as a real process against a real gatehouse: it verifies access tokens locally with
// the issuer's JWKS. Tokens of every grant are accepted, forged ones refused
// (SECURITY S35), scopes enforced, and a key rotation on the server is followed
// without restarting the API (S36). Names start with rs to stay out of the way of the
// other end-to-end files.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// rsAudience is the audience of the example API, and the server's default audience
// (GATEHOUSE_AUDIENCE) in these tests.
const rsAudience = "https://api.example.test"

// exampleAPIBin is the example-api binary, built once for the package: next to the
// gatehouse binary when TestMain built that one (its directory goes at exit), else in
// a directory of its own.
var exampleAPIBin struct {
	once sync.Once
	path string
	err  error
}

func exampleAPIBinary(t testing.TB) string {
	t.Helper()
	exampleAPIBin.once.Do(func() {
		dir := filepath.Dir(binPath)
		if os.Getenv("GATEHOUSE_E2E_BINARY") != "" {
			if dir, exampleAPIBin.err = os.MkdirTemp("", "gatehouse-e2e-example-api-"); exampleAPIBin.err != nil {
				return
			}
		}
		exampleAPIBin.path = filepath.Join(dir, "example-api")
		build := exec.Command(goTool(), "build", "-o", exampleAPIBin.path, "./cmd/example-api")
		build.Dir = ".."
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			exampleAPIBin.err = fmt.Errorf("go build ./cmd/example-api: %v\n%s", err, out)
		}
	})
	if exampleAPIBin.err != nil {
		t.Fatal(exampleAPIBin.err)
	}
	return exampleAPIBin.path
}

// rsAPI is a running example-api.
type rsAPI struct {
	URL  string
	hc   *http.Client
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	exit error
}

// startExampleAPI runs `example-api --issuer srv.URL --audience rsAudience` with
// extra flags on a free loopback port and waits until it answers. At cleanup it sends
// SIGTERM, wants exit status 0, and checks that no token of srv is in its log (S46).
func startExampleAPI(t testing.TB, srv *Server, extra ...string) *rsAPI {
	t.Helper()
	bin := exampleAPIBinary(t)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			env = append(env, kv)
		}
	}
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		a := &rsAPI{URL: "http://" + addr, hc: &http.Client{Timeout: 10 * time.Second}, log: &syncBuffer{}, done: make(chan struct{})}
		a.cmd = exec.Command(bin, append([]string{"--issuer", srv.URL, "--audience", rsAudience, "--addr", addr}, extra...)...)
		a.cmd.Env, a.cmd.Stdout, a.cmd.Stderr = env, a.log, a.log
		if err := a.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { a.exit = a.cmd.Wait(); close(a.done) }()
		if err := a.waitReady(30 * time.Second); err != nil {
			select {
			case <-a.done:
				if strings.Contains(a.log.String(), "--addr") && attempt < 4 {
					continue // the port was taken meanwhile
				}
			default:
				_ = a.cmd.Process.Kill()
				<-a.done
			}
			t.Fatalf("example-api: %v\n%s", err, a.log.String())
		}
		t.Cleanup(func() {
			_ = a.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-a.done:
			case <-time.After(15 * time.Second):
				_ = a.cmd.Process.Kill()
				<-a.done
				t.Errorf("example-api did not stop within 15 s of SIGTERM")
			}
			if a.exit != nil {
				t.Errorf("example-api exited with %v after SIGTERM, want status 0", a.exit)
			}
			log := a.log.String()
			for _, v := range srv.sensitiveValues() {
				if strings.Contains(log, v) {
					t.Errorf("SECURITY S46: the example API's log holds a secret or token (%.6s…)", v)
				}
			}
			if t.Failed() {
				t.Logf("example-api log:\n%s", tail(log, 30))
			}
		})
		return a
	}
}

// waitReady polls until the API answers (401 without a token) or exits.
func (a *rsAPI) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-a.done:
			return fmt.Errorf("exited early: %v", a.exit)
		default:
		}
		// The answer must come from this process: another test's example-api may
		// hold the port, and then this one exits instead of logging that it listens.
		if resp, err := a.hc.Get(a.URL + "/secured/profile"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized && strings.Contains(a.log.String(), "example-api listening") {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("not answering")
}

// get calls path with token as the bearer (none when empty).
func (a *rsAPI) get(t testing.TB, path, token string) Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := readAll(resp)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// wantProfile checks that the API accepts token and answers its claims.
func (a *rsAPI) wantProfile(t testing.TB, what, token, sub, clientID string) {
	t.Helper()
	r := a.get(t, "/secured/profile", token)
	if r.Status != http.StatusOK {
		t.Fatalf("%s: /secured/profile %d %s", what, r.Status, r.Body)
	}
	m := r.JSON(t)
	if m["sub"] != sub || m["client_id"] != clientID {
		t.Errorf("%s: profile sub %v client_id %v, want %s and %s", what, m["sub"], m["client_id"], sub, clientID)
	}
}

// wantInvalidToken checks the RFC 6750 answer to a token the API must refuse.
func (a *rsAPI) wantInvalidToken(t testing.TB, what, token string) {
	t.Helper()
	r := a.get(t, "/secured/profile", token)
	wa := r.Header.Get("WWW-Authenticate")
	if r.Status != http.StatusUnauthorized || !strings.HasPrefix(wa, "Bearer ") || !strings.Contains(wa, `error="invalid_token"`) {
		t.Errorf("%s: %d, WWW-Authenticate %q, want 401 with Bearer error=\"invalid_token\"\n%s", what, r.Status, wa, r.Body)
	}
}

// rsKID is the kid in a JWT's header.
func rsKID(t testing.TB, raw string) string {
	t.Helper()
	kid, _ := oiHeader(t, raw)["kid"].(string)
	if kid == "" {
		t.Fatalf("no kid in %q", raw)
	}
	return kid
}

// rsClaims are the claims of a JWT, unverified.
func rsClaims(t testing.TB, raw string) jwt.MapClaims {
	t.Helper()
	var c jwt.MapClaims
	if err := json.Unmarshal(b64(t, strings.Split(raw, ".")[1]), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// rsSign signs claims with key under header (alg is set from method).
func rsSign(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	raw, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// rsServer starts a server whose access tokens have the example API's audience.
func rsServer(t testing.TB, env map[string]string) *Server {
	t.Helper()
	e := map[string]string{"GATEHOUSE_AUDIENCE": rsAudience}
	for k, v := range env {
		e[k] = v
	}
	return startServer(t, Options{Env: e})
}

// TestExampleAPI_AcceptsTokensOfEveryGrant: access tokens of client credentials,
// password, refresh, authorization code and device code all pass the example API's
// local verification; /secured/admin wants scope admin (403 insufficient_scope).
func TestExampleAPI_AcceptsTokensOfEveryGrant(t *testing.T) {
	t.Parallel()
	srv := rsServer(t, nil)
	api := startExampleAPI(t, srv)
	uid, user, pass := oiUser(t, srv)

	runConcurrently(t,
		subtest{"ClientCredentialsAndAdminScope", func(t *testing.T) {
			id, secret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api admin")
			hc := srv.HTTPClient()
			plain, err := ccConfig(srv, id, secret, "api").Token(ctxWith(hc))
			if err != nil {
				t.Fatal(err)
			}
			admin, err := ccConfig(srv, id, secret, "api", "admin").Token(ctxWith(hc))
			if err != nil {
				t.Fatal(err)
			}
			srv.Sensitive(plain.AccessToken, admin.AccessToken)
			api.wantProfile(t, "client_credentials", plain.AccessToken, id, id)
			r := api.get(t, "/secured/admin", plain.AccessToken)
			wa := r.Header.Get("WWW-Authenticate")
			if r.Status != http.StatusForbidden || !strings.Contains(wa, `error="insufficient_scope"`) || !strings.Contains(wa, `scope="admin"`) ||
				r.JSON(t)["error"] != "insufficient_scope" {
				t.Errorf("/secured/admin without scope admin: %d, WWW-Authenticate %q, %s", r.Status, wa, r.Body)
			}
			r = api.get(t, "/secured/admin", admin.AccessToken)
			if r.Status != http.StatusOK || r.JSON(t)["client_id"] != id {
				t.Errorf("/secured/admin with scope admin: %d %s", r.Status, r.Body)
			}
			// No token at all: 401 with a bare challenge.
			r = api.get(t, "/secured/profile", "")
			if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") ||
				strings.Contains(r.Header.Get("WWW-Authenticate"), "error=") {
				t.Errorf("no token: %d, WWW-Authenticate %q", r.Status, r.Header.Get("WWW-Authenticate"))
			}
		}},
		subtest{"PasswordAndRefresh", func(t *testing.T) {
			id, secret := srv.CreateClient(t, "--grant-type", "password", "--grant-type", "refresh_token", "--scope", "openid api offline_access")
			cfg := userConfig(srv, id, secret, "openid", "api", "offline_access")
			tok, err := cfg.PasswordCredentialsToken(ctxWith(srv.HTTPClient()), user, pass)
			if err != nil {
				t.Fatal(err)
			}
			srv.Sensitive(tok.AccessToken, tok.RefreshToken)
			api.wantProfile(t, "password", tok.AccessToken, uid, id)
			next, err := refresh(ctxWith(srv.HTTPClient()), cfg, tok.RefreshToken)
			if err != nil {
				t.Fatal(err)
			}
			srv.Sensitive(next.AccessToken, next.RefreshToken)
			api.wantProfile(t, "refresh_token", next.AccessToken, uid, id)
			// An ID token is no access token (typ JWT, aud the client).
			if idt, _ := tok.Extra("id_token").(string); idt == "" {
				t.Error("no ID token")
			} else {
				srv.Sensitive(idt)
				api.wantInvalidToken(t, "ID token", idt)
			}
		}},
		subtest{"AuthorizationCode", func(t *testing.T) {
			c := newAZClient(t, srv, "https://rp.example/cb", "--scope", "openid api")
			tok := oiCodeFlow(t, srv, newAZBrowser(t, srv), c, "openid api", "n", user, pass)
			api.wantProfile(t, "authorization_code", tok["access_token"].(string), uid, c.ID)
		}},
		subtest{"DeviceCode", func(t *testing.T) {
			c := newDVClient(t, srv, "--scope", "openid api")
			hc := srv.HTTPClient()
			a := c.authorize(t, srv, hc, "openid api")
			if f := newDVBrowser(t, srv).decide(a.VerificationURIComplete, user, pass, "allow"); f.Final.Status >= 400 {
				t.Fatalf("device approval: %d", f.Final.Status)
			}
			r := c.poll(t, srv, hc, a.DeviceCode)
			if r.Status != http.StatusOK {
				t.Fatalf("device token: %d %s", r.Status, r.Body)
			}
			at, _ := r.JSON(t)["access_token"].(string)
			srv.Sensitive(at)
			api.wantProfile(t, "device_code", at, uid, c.ID)
		}},
	)
}

// TestSecurity_S35_ExampleAPIRefusesForgedTokens: the example API refuses, with 401
// and WWW-Authenticate: Bearer error="invalid_token", a token with alg none, HS256
// "signed" with the issuer's public key, a flipped byte, a signature by another key
// under the issuer's kid, a key in the header, another audience, and an expired one.
func TestSecurity_S35_ExampleAPIRefusesForgedTokens(t *testing.T) {
	t.Parallel()
	srv := rsServer(t, nil)
	api := startExampleAPI(t, srv)
	id, secret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api admin",
		"--audience", "https://other.example.test")
	hc := srv.HTTPClient()
	tok, err := ccConfig(srv, id, secret, "api").Token(ctxWith(hc))
	if err != nil {
		t.Fatal(err)
	}
	good := tok.AccessToken
	srv.Sensitive(good)
	api.wantProfile(t, "the genuine token", good, id, id)

	kid := rsKID(t, good)
	claims := rsClaims(t, good)
	claims["scope"] = "api admin" // what a forger would want
	parts := strings.Split(good, ".")
	keys := fetchJWKS(t, srv)
	spki, err := x509.MarshalPKIXPublicKey(keys[kid].publicKey(t))
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	attacker, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	attackerJWK := map[string]any{"kty": "EC", "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(attacker.X.FillBytes(make([]byte, 32))),
		"y": base64.RawURLEncoding.EncodeToString(attacker.Y.FillBytes(make([]byte, 32)))}
	// Another base64url character inside the signature (not its last, partly unused one).
	flipped := []byte(good)
	if i := len(parts[0]) + 1 + len(parts[1]) + 1 + 10; flipped[i] == 'A' {
		flipped[i] = 'B'
	} else {
		flipped[i] = 'A'
	}
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"` + kid + `"}`))
	hdr := map[string]any{"typ": "at+jwt", "kid": kid}

	cfg := ccConfig(srv, id, secret, "api")
	cfg.EndpointParams = url.Values{"resource": {"https://other.example.test"}}
	wrongAud, err := cfg.Token(ctxWith(hc))
	if err != nil {
		t.Fatal(err)
	}
	srv.Sensitive(wrongAud.AccessToken)
	if aud := rsClaims(t, wrongAud.AccessToken)["aud"]; aud != "https://other.example.test" &&
		fmt.Sprint(aud) != "[https://other.example.test]" {
		t.Fatalf("the resource token has aud %v", aud)
	}

	for name, raw := range map[string]string{
		"alg none":                         noneHeader + "." + parts[1] + ".",
		"alg none with the real signature": noneHeader + "." + parts[1] + "." + parts[2],
		"HS256 with the public key (PEM)":  rsSign(t, jwt.SigningMethodHS256, pemKey, hdr, claims),
		"HS256 with the public key (DER)":  rsSign(t, jwt.SigningMethodHS256, spki, hdr, claims),
		"flipped byte":                     string(flipped),
		"changed claims, old signature":    parts[0] + "." + base64.RawURLEncoding.EncodeToString(mustJSON(t, claims)) + "." + parts[2],
		"another key, the issuer's kid":    rsSign(t, jwt.SigningMethodES256, attacker, hdr, claims),
		"key in a jwk header":              rsSign(t, jwt.SigningMethodES256, attacker, map[string]any{"typ": "at+jwt", "jwk": attackerJWK}, claims),
		"key from a jku header": rsSign(t, jwt.SigningMethodES256, attacker,
			map[string]any{"typ": "at+jwt", "kid": "attacker", "jku": "http://127.0.0.1:1/jwks.json"}, claims),
		"another audience": wrongAud.AccessToken,
		"not a JWT":        "not-a-token",
	} {
		api.wantInvalidToken(t, name, raw)
	}
	// The genuine token still works: nothing above poisoned the API's key cache.
	api.wantProfile(t, "the genuine token, again", good, id, id)

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		// Access tokens live 1 s and the API tolerates 1 s of skew, so expiry is
		// seen within seconds (a server-side verifier's 30 s leeway would take longer).
		srv := rsServer(t, map[string]string{"GATEHOUSE_ACCESS_TOKEN_TTL": "1s"})
		api := startExampleAPI(t, srv, "--leeway", "1s")
		id, secret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api")
		tok, err := ccConfig(srv, id, secret).Token(ctxWith(srv.HTTPClient()))
		if err != nil {
			t.Fatal(err)
		}
		srv.Sensitive(tok.AccessToken)
		exp, err := rsClaims(t, tok.AccessToken).GetExpirationTime()
		if err != nil || exp == nil {
			t.Fatalf("exp: %v", err)
		}
		time.Sleep(time.Until(exp.Add(2500 * time.Millisecond)))
		api.wantInvalidToken(t, "expired", tok.AccessToken)
	})
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSecurity_S36_ExampleAPIFollowsKeyRotation: `gatehouse keys rotate` while the
// example API runs. The server signs with the new key within its key refresh
// interval (1 s here); the API, without a restart, fetches the JWKS again for the
// unknown kid (at most once per 10 s) and accepts new tokens, and still accepts
// tokens of the old key, which stays published until they expire.
func TestSecurity_S36_ExampleAPIFollowsKeyRotation(t *testing.T) {
	t.Parallel()
	srv := rsServer(t, map[string]string{"GATEHOUSE_KEY_REFRESH_INTERVAL": "1s"})
	api := startExampleAPI(t, srv) // first: its JWKS fetch-rate clock starts now
	id, secret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api")
	hc := srv.HTTPClient()
	mint := func() string {
		t.Helper()
		tok, err := ccConfig(srv, id, secret).Token(ctxWith(hc))
		if err != nil {
			t.Fatal(err)
		}
		srv.Sensitive(tok.AccessToken)
		return tok.AccessToken
	}
	old := mint()
	oldKID := rsKID(t, old)
	api.wantProfile(t, "token of the old key", old, id, id)

	var rotated struct {
		KID string `json:"kid"`
		Alg string `json:"alg"`
	}
	srv.CLIJSON(t, &rotated, "", "keys", "rotate")
	if rotated.KID == "" || rotated.KID == oldKID || rotated.Alg != "ES256" {
		t.Fatalf("keys rotate: %+v (old kid %s)", rotated, oldKID)
	}
	var fresh string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if fresh = mint(); rsKID(t, fresh) == rotated.KID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server still signs with %s 15 s after the rotation", rsKID(t, fresh))
		}
	}
	keys := fetchJWKS(t, srv)
	if _, ok := keys[oldKID]; !ok {
		t.Errorf("the rotated-out key %s left the JWKS while its tokens live", oldKID)
	}
	if _, ok := keys[rotated.KID]; !ok {
		t.Errorf("the new key %s is not in the JWKS", rotated.KID)
	}

	start := time.Now()
	for deadline := start.Add(20 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		r := api.get(t, "/secured/profile", fresh)
		if r.Status == http.StatusOK {
			break
		}
		if r.Status != http.StatusUnauthorized || time.Now().After(deadline) {
			t.Fatalf("the running API does not accept the new key's token: %d %s", r.Status, r.Body)
		}
	}
	t.Logf("the API accepted the new key %.1f s after the server signed with it", time.Since(start).Seconds())
	api.wantProfile(t, "token of the new key", fresh, id, id)
	api.wantProfile(t, "token of the old key, after the rotation", old, id, id)
	api.wantProfile(t, "another token of the new key", mint(), id, id)
}
