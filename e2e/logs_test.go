package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSecurity_S46_NoSecretsInLogs runs a whole flow, failures included, against a
// server logging at debug level, then checks that none of the secrets, passwords and
// tokens involved appears in its log. (Every server the harness stops gets the same
// check for the values the tests registered; this one is explicit and verbose.)
func TestSecurity_S46_NoSecretsInLogs(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_LOG_LEVEL": "debug", "GATEHOUSE_LOG_FORMAT": format}})
			secrets := runWholeFlow(t, srv)
			srv.Stop(t)
			log := srv.Log()
			if strings.Count(log, "\n") < 20 {
				t.Fatalf("the server logged almost nothing; the check would prove nothing:\n%s", log)
			}
			for what, v := range secrets {
				if v == "" {
					t.Errorf("%s: empty", what)
					continue
				}
				if strings.Contains(log, v) {
					t.Errorf("the log contains the %s", what)
				}
			}
		})
	}
}

// runWholeFlow exercises the token, revocation and introspection endpoints and the
// CLI, successes and failures, and returns every secret value it used, by name.
func runWholeFlow(t *testing.T, srv *Server) map[string]string {
	t.Helper()
	s := map[string]string{}
	hc := srv.HTTPClient()
	ctx := ctxWith(hc)

	ccID, ccSecret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api")
	s["client secret"] = ccSecret
	cfg, pwID, pwSecret := newPasswordClient(t, srv)
	s["password client secret"] = pwSecret
	user, pwd, uid := newUser(t, srv)
	s["password"] = pwd

	cc, err := ccConfig(srv, ccID, ccSecret).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s["client credentials access token"] = cc.AccessToken
	tok := passwordToken(t, srv, hc, cfg, user, pwd)
	s["access token"], s["refresh token"] = tok.AccessToken, tok.RefreshToken
	s["id token"], _ = tok.Extra("id_token").(string)
	tok2, err := refresh(ctx, cfg, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	srv.Sensitive(tok2.AccessToken, tok2.RefreshToken)
	s["rotated refresh token"] = tok2.RefreshToken
	introspect(t, srv, hc, pwID, pwSecret, tok2.AccessToken)
	introspect(t, srv, hc, pwID, pwSecret, tok2.RefreshToken)
	_, _ = refresh(ctx, cfg, tok.RefreshToken) // reuse: revokes the family
	revoke(t, srv, hc, pwID, pwSecret, tok2.AccessToken, "")

	// Failures that carry secrets in every place a request can.
	wrongPwd := "wrong-" + randomString(16)
	s["wrong password"] = wrongPwd
	srv.Sensitive(wrongPwd)
	_, _ = cfg.PasswordCredentialsToken(ctx, user, wrongPwd)
	_, _ = cfg.PasswordCredentialsToken(ctx, "nobody-"+randomString(6), wrongPwd)
	wrongSecret := "wrong-secret-" + randomString(16)
	s["wrong client secret"] = wrongSecret
	srv.Sensitive(wrongSecret)
	srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials"), ccID, wrongSecret)
	srv.PostForm(t, nil, "/oauth/token?client_id="+ccID+"&client_secret="+ccSecret, form("grant_type", "client_credentials"), "", "")
	srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials", "client_secret", ccSecret, "x", "%zz"), ccID, ccSecret)
	srv.PostForm(t, nil, "/oauth/token", "grant_type=password&username="+user+"&password="+pwd+"&bad=%zz", pwID, pwSecret)
	srv.PostForm(t, nil, "/oauth/token", "grant_type=refresh_token&refresh_token="+tok.RefreshToken+"&refresh_token=x", pwID, pwSecret)
	srv.PostForm(t, nil, "/oauth/token", form("grant_type", "urn:x:"+ccSecret), ccID, ccSecret)
	srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials", "scope", `"`+ccSecret), ccID, ccSecret)
	srv.PostForm(t, nil, "/oauth/token", form("grant_type", "password", "username", pwd, "password", "x"), pwID, pwSecret)
	srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials", "pad", strings.Repeat(ccSecret, 2000)), ccID, ccSecret)
	srv.PostForm(t, nil, "/oauth/revoke", form("token", tok.RefreshToken), "", "")
	srv.PostForm(t, nil, "/oauth/introspect", form("token", tok.AccessToken), ccID, wrongSecret)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/oauth/token?refresh_token="+tok2.RefreshToken+"&password="+pwd, nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	srv.Do(t, nil, req)
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	srv.Do(t, nil, req)
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/oauth/token", strings.NewReader(form("grant_type", "client_credentials")))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Leak", ccSecret+strings.Repeat("x", 64<<10))
	srv.Do(t, nil, req)

	// The CLI: a new password and a rotated secret.
	newPwd := "new-" + randomString(16)
	srv.Sensitive(newPwd)
	s["new password"] = newPwd
	if _, errOut, code := srv.CLI(t, newPwd+"\n", "users", "set-password", uid, "--password-stdin"); code != 0 {
		t.Fatalf("set-password: %s", errOut)
	}
	var rot struct {
		Secret string `json:"client_secret"`
	}
	srv.CLIJSON(t, &rot, "", "clients", "rotate-secret", ccID)
	srv.Sensitive(rot.Secret)
	s["rotated client secret"] = rot.Secret
	if tok, err := ccConfig(srv, ccID, rot.Secret).Token(ctx); err != nil {
		t.Errorf("rotated secret: %v", err)
	} else {
		srv.Sensitive(tok.AccessToken)
	}
	return s
}

// TestClientAuthFailuresLoggedAndCounted: every way a client fails to authenticate
// answers the caller the same invalid_client, while the server's log says why and for
// which client id (one info line, never the secret or the assertion; an unknown id
// long enough to be a secret by its length only), and /metrics
// counts the failures by reason, each reason shown from the start.
func TestClientAuthFailuresLoggedAndCounted(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	reasons := []string{"no_client_id", "malformed_credentials", "unknown_client", "wrong_secret", "wrong_method",
		"invalid_assertion", "invalid_assertion_claims", "assertion_replayed", "public_client", "client_disabled"}
	counts := clientAuthFailureMetrics(t, srv)
	for _, r := range reasons {
		if n, ok := counts[r]; !ok || n != 0 {
			t.Errorf("before any failure: gatehouse_client_auth_failures_total{reason=%q} = %v (present %v), want 0", r, n, ok)
		}
	}

	ccID, ccSecret := srv.CreateClient(t, "--grant-type", "client_credentials")
	pubID, _ := srv.CreateClient(t, "--public", "--grant-type", "urn:ietf:params:oauth:grant-type:device_code")
	offID, offSecret := srv.CreateClient(t, "--grant-type", "client_credentials")
	if _, errOut, code := srv.CLI(t, "", "clients", "update", offID, "--disabled=true"); code != 0 {
		t.Fatalf("clients update --disabled=true: exit %d: %s", code, errOut)
	}
	k := newDPoPKey(t, "ES256")
	key := createKeyClient(t, srv, map[string]dpopKey{"k1": k}, "--grant-type", "client_credentials")
	wrong := "wrong-" + randomString(20)
	srv.Sensitive(wrong)
	unknownID := "nobody-" + randomString(8)
	forged := assertion(t, srv, newDPoPKey(t, "ES256"), "k1", key.ClientID, nil)
	expired := assertion(t, srv, k, "k1", key.ClientID, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})
	good := assertion(t, srv, k, "k1", key.ClientID, nil)
	cc := form("grant_type", "client_credentials")
	withAssertion := func(a string) string {
		return form("grant_type", "client_credentials", "client_assertion_type", jwtBearer, "client_assertion", a)
	}
	if r := srv.PostForm(t, nil, "/oauth/token", withAssertion(good), "", ""); r.Status != 200 {
		t.Fatalf("a good assertion: %d %s", r.Status, r.Body)
	} else {
		srv.Sensitive(r.JSON(t)["access_token"].(string))
	}
	malformed, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth/token", strings.NewReader(cc))
	malformed.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	malformed.Header.Set("Authorization", "Basic !!not-base64!!")

	for _, tc := range []struct {
		reason, clientID, route string
		send                    func() Response
	}{
		{"wrong_secret", ccID, "/oauth/token", func() Response { return srv.PostForm(t, nil, "/oauth/token", cc, ccID, wrong) }},
		{"unknown_client", unknownID, "/oauth/token", func() Response { return srv.PostForm(t, nil, "/oauth/token", cc, unknownID, wrong) }},
		{"wrong_method", ccID, "/oauth/token", func() Response {
			return srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials", "client_id", ccID), "", "")
		}},
		{"no_client_id", "", "/oauth/token", func() Response { return srv.PostForm(t, nil, "/oauth/token", cc, "", "") }},
		{"malformed_credentials", "", "/oauth/token", func() Response { return srv.Do(t, nil, malformed) }},
		{"public_client", pubID, "/oauth/introspect", func() Response {
			return srv.PostForm(t, nil, "/oauth/introspect", form("token", "x", "client_id", pubID), "", "")
		}},
		{"invalid_assertion", key.ClientID, "/oauth/token", func() Response {
			return srv.PostForm(t, nil, "/oauth/token", withAssertion(forged), "", "")
		}},
		{"invalid_assertion_claims", key.ClientID, "/oauth/token", func() Response {
			return srv.PostForm(t, nil, "/oauth/token", withAssertion(expired), "", "")
		}},
		{"client_disabled", offID, "/oauth/token", func() Response { return srv.PostForm(t, nil, "/oauth/token", cc, offID, offSecret) }},
		{"assertion_replayed", key.ClientID, "/oauth/revoke", func() Response {
			return srv.PostForm(t, nil, "/oauth/revoke", form("token", "x", "client_assertion_type", jwtBearer, "client_assertion", good), "", "")
		}},
	} {
		r := tc.send()
		if r.Status != 401 || r.JSON(t)["error"] != "invalid_client" || r.JSON(t)["error_description"] != "client authentication failed" {
			t.Errorf("%s: %d %s, want 401 invalid_client", tc.reason, r.Status, r.Body)
		}
		line := waitLogLine(t, srv, `msg="client authentication failed"`, "reason="+tc.reason+" ")
		want := `level=INFO msg="client authentication failed" client_id=` + tc.clientID + " reason=" + tc.reason + " route=" + tc.route + " "
		if tc.clientID == "" {
			want = `level=INFO msg="client authentication failed" client_id="" reason=` + tc.reason + " route=" + tc.route + " "
		}
		if !strings.Contains(line, want) || !strings.Contains(line, " request_id=") || !strings.Contains(line, " remote=127.") {
			t.Errorf("%s: log line %q, want it to contain %q, a request_id and the remote address", tc.reason, line, want)
		}
	}
	// An unknown id that may hold a secret (id and secret swapped, or "id:secret"
	// as the id: longer than any client id) is logged by its length only.
	for _, id := range []string{ccSecret, ccID + ":" + ccSecret} {
		if r := srv.PostForm(t, nil, "/oauth/token", cc, id, ccSecret); r.Status != 401 {
			t.Errorf("a secret as the client id: %d %s", r.Status, r.Body)
		}
		line := waitLogLine(t, srv, fmt.Sprintf(`msg="client authentication failed" client_id_length=%d reason=unknown_client route=/oauth/token `, len(id)))
		if strings.Contains(line, "client_id=") {
			t.Errorf("log line %q shows the unknown id", line)
		}
	}
	counts = clientAuthFailureMetrics(t, srv)
	for _, r := range reasons {
		want := 1.0
		if r == "unknown_client" {
			want = 3
		}
		if counts[r] != want {
			t.Errorf("gatehouse_client_auth_failures_total{reason=%q} = %v, want %v", r, counts[r], want)
		}
	}
	if len(counts) != len(reasons) {
		t.Errorf("reasons in /metrics: %v, want exactly %v", counts, reasons)
	}
	srv.Stop(t)
	for _, v := range []string{wrong, ccSecret, forged, expired, good} {
		if strings.Contains(srv.Log(), v) {
			t.Errorf("the log holds a secret or an assertion (%.8s…)", v)
		}
	}
}

// waitLogLine returns the first line of the server's log holding every one of parts,
// waiting a little for it (a request's log line is written as it is answered).
func waitLogLine(t *testing.T, srv *Server, parts ...string) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(srv.Log(), "\n") {
			found := true
			for _, p := range parts {
				found = found && strings.Contains(line, p)
			}
			if found {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q in:\n%s", parts, tail(srv.Log(), 20))
		}
	}
}

// clientAuthFailureMetrics reads gatehouse_client_auth_failures_total by reason.
func clientAuthFailureMetrics(t *testing.T, srv *Server) map[string]float64 {
	t.Helper()
	r := srv.Get(t, nil, "/metrics")
	if r.Status != 200 {
		t.Fatalf("/metrics: %d", r.Status)
	}
	out := map[string]float64{}
	re := regexp.MustCompile(`(?m)^gatehouse_client_auth_failures_total\{reason="([a-z_]+)"\} (\S+)$`)
	for _, m := range re.FindAllStringSubmatch(string(r.Body), -1) {
		n, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("metric %q: %v", m[0], err)
		}
		out[m[1]] = n
	}
	return out
}

// TestSecretKeyGeneratedIsLogged: the first start on a new SQLite database logs one
// warning naming the secret key file it wrote, never the key; a restart, which reads
// the file, says nothing of it.
func TestSecretKeyGeneratedIsLogged(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	dbFile := strings.TrimPrefix(srv.DatabaseURL, "sqlite:")
	keyFile := filepath.Join(filepath.Dir(dbFile), "secret.key")
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatalf("no secret key beside the database: %v", err)
	}
	srv.Sensitive(strings.TrimSpace(string(key)))
	want := `level=WARN msg="generated a new secret key; back it up with the database" path=` + keyFile + "\n"
	if n := strings.Count(srv.Log(), want); n != 1 {
		t.Errorf("the log has %d lines %q, want 1:\n%s", n, want, tail(srv.Log(), 10))
	}
	srv.Stop(t)
	again := restartServer(t, srv)
	again.Stop(t)
	if strings.Contains(again.Log(), "secret key") {
		t.Errorf("a restart logged about the secret key:\n%s", tail(again.Log(), 10))
	}
	if b, _ := os.ReadFile(keyFile); string(b) != string(key) {
		t.Errorf("the restart changed the secret key file")
	}
}

// TestRequestLog_CleanShutdownLosesNoLine: the server batches its log lines (a write
// per request would cost a system call each); every request it answered still has its
// line once it has stopped on SIGTERM, however recently it was answered.
func TestRequestLog_CleanShutdownLosesNoLine(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_LOG_LEVEL": "info"}})
	hc := srv.HTTPClient()
	const n = 300
	for range n {
		if r := srv.Get(t, hc, "/.well-known/jwks.json"); r.Status != 200 {
			t.Fatalf("jwks %d", r.Status)
		}
	}
	srv.Stop(t)
	want := `msg=request method=GET route=/.well-known/jwks.json status=200 `
	if got := strings.Count(srv.Log(), want); got != n {
		t.Fatalf("%d request lines after a clean shutdown, want %d:\n%s", got, n, tail(srv.Log(), 5))
	}
}

// TestRequestLog_RequestID: every answer carries an X-Request-Id, 32 hexadecimal
// digits and new for each request, and the request's log line names it; a request
// that brings its own keeps it.
func TestRequestLog_RequestID(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	seen := map[string]bool{}
	for range 3 {
		r := srv.Get(t, nil, "/.well-known/openid-configuration")
		id := r.Header.Get("X-Request-Id")
		if r.Status != 200 || len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" || seen[id] {
			t.Fatalf("X-Request-Id %q (status %d), want 32 new hexadecimal digits", id, r.Status)
		}
		seen[id] = true
		waitLogLine(t, srv, `msg=request`, "route=/.well-known/openid-configuration", " request_id="+id+" ")
	}
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/.well-known/jwks.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Request-Id", "trace-4bf92f3577b34da6")
	if r := srv.Do(t, nil, req); r.Header.Get("X-Request-Id") != "trace-4bf92f3577b34da6" {
		t.Fatalf("X-Request-Id %q, want the request's own", r.Header.Get("X-Request-Id"))
	}
	waitLogLine(t, srv, `msg=request`, "route=/.well-known/jwks.json", " request_id=trace-4bf92f3577b34da6 ")
}

// TestMetrics_MadeUpMethodsShareOneSeries: a request with a method HTTP does not
// define is counted under method="other", so callers cannot add series to /metrics.
func TestMetrics_MadeUpMethodsShareOneSeries(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	hc := srv.HTTPClient()
	for i := range 3 {
		req, err := http.NewRequest("ZZ"+randomString(8)+strconv.Itoa(i), srv.URL+"/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		srv.Do(t, hc, req)
	}
	m := string(srv.Get(t, nil, "/metrics").Body)
	if strings.Contains(m, `method="ZZ`) || !strings.Contains(m, `method="other"`) {
		t.Errorf("made-up methods in /metrics:\n%s", grepLines(m, "gatehouse_http_requests_total"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
