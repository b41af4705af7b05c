package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/adapter/resourceserver"
)

const audience = "https://api.example.test"

// fakeIssuer serves discovery and a JWKS with one ES256 key.
func fakeIssuer(t *testing.T) (*httptest.Server, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, _ := key.PublicKey.Bytes()
	b64 := base64.RawURLEncoding.EncodeToString
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks"})
		case "/jwks":
			json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
				"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
				"x": b64(b[1:33]), "y": b64(b[33:]),
			}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, key
}

func token(t *testing.T, key *ecdsa.PrivateKey, iss, scope string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": iss, "sub": "user-1", "aud": audience, "client_id": "client-1", "jti": "j1",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "scope": scope,
	})
	tok.Header["typ"], tok.Header["kid"] = "at+jwt", "k1"
	raw, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	// The library signs either ECDSA form (r, s) or (r, n-s); Gatehouse signs, and
	// resourceserver accepts, only the one with s <= n/2.
	i := strings.LastIndexByte(raw, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(raw[i+1:])
	n := elliptic.P256().Params().N
	if s := new(big.Int).SetBytes(sig[32:]); s.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		s.Sub(n, s).FillBytes(sig[32:])
	}
	return raw[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--issuer is required"},
		{[]string{"--bogus"}, "flag provided but not defined"},
		{[]string{"--issuer", "ftp://x"}, "must be an http(s) URL"},
		{[]string{"--issuer", "http://127.0.0.1:1", "extra"}, `unexpected argument "extra"`},
		{[]string{"--issuer", "http://127.0.0.1:1", "--addr", "127.0.0.1:99999"}, "--addr 127.0.0.1:99999"},
		{[]string{"--issuer", "http://127.0.0.1:1", "--leeway", "0s"}, "--leeway 0s must be above 0"},
		{[]string{"--issuer", "http://127.0.0.1:1", "--leeway", "1h"}, "--leeway 1h0m0s must be above 0 and at most 5m"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tc.args, &stdout, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2", tc.args, code)
		}
		if lines := strings.Count(stderr.String(), "\n"); lines != 1 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: stderr %q, want one line containing %q", tc.args, stderr.String(), tc.want)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "--issuer") {
		t.Errorf("-h: exit %d, stdout %q", code, stdout.String())
	}
}

func TestIssuerUnreachableExits1(t *testing.T) {
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"--issuer", "http://127.0.0.1:1", "--addr", "127.0.0.1:0"}, io.Discard, &stderr)
	if code != 1 || strings.Count(stderr.String(), "\n") != 1 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestRoutes(t *testing.T) {
	iss, key := fakeIssuer(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	v, err := resourceserver.New(context.Background(), resourceserver.Config{Issuer: iss.URL, Audience: audience, Logger: log,
		Resource: "http://api.example.test:9090"})
	if err != nil {
		t.Fatal(err)
	}
	e := newServer(v, log)
	do := func(path, authz string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	user := token(t, key, iss.URL, "openid profile")
	rec := do("/secured/profile", "Bearer "+user)
	var claims map[string]any
	json.Unmarshal(rec.Body.Bytes(), &claims)
	if rec.Code != http.StatusOK || claims["sub"] != "user-1" || claims["scope"] != "openid profile" || claims["iss"] != iss.URL {
		t.Fatalf("profile: %d %s", rec.Code, rec.Body)
	}
	rec = do("/secured/profile", "")
	if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") ||
		strings.Contains(rec.Header().Get("WWW-Authenticate"), "error=") ||
		!strings.Contains(rec.Header().Get("WWW-Authenticate"), `resource_metadata="http://api.example.test:9090/.well-known/oauth-protected-resource"`) {
		t.Fatalf("no token: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	rec = do("/.well-known/oauth-protected-resource", "")
	var meta map[string]any
	json.Unmarshal(rec.Body.Bytes(), &meta)
	if rec.Code != http.StatusOK || meta["resource"] != "http://api.example.test:9090" || meta["authorization_servers"].([]any)[0] != iss.URL {
		t.Fatalf("RFC 9728 metadata: %d %s", rec.Code, rec.Body)
	}
	rec = do("/secured/profile", "Bearer "+token(t, key, "https://evil.example", "openid"))
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("wrong issuer: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	rec = do("/secured/admin", "Bearer "+user)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="insufficient_scope"`) ||
		!strings.Contains(rec.Header().Get("WWW-Authenticate"), `scope="admin"`) || !strings.Contains(rec.Body.String(), `"insufficient_scope"`) {
		t.Fatalf("admin without scope: %d %q %s", rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
	}
	if rec := do("/secured/admin", "Bearer "+token(t, key, iss.URL, "admin")); rec.Code != http.StatusOK {
		t.Fatalf("admin: %d %s", rec.Code, rec.Body)
	}
	// S46: tokens never reach the logs.
	if strings.Contains(logs.String(), user) || strings.Contains(logs.String(), "Bearer") {
		t.Fatalf("a token was logged: %s", logs.String())
	}
}

func TestServeAndGracefulShutdown(t *testing.T) {
	iss, key := fakeIssuer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"--issuer", iss.URL, "--audience", audience, "--addr", addr}, io.Discard, &stderr)
	}()
	var resp *http.Response
	for i := 0; ; i++ {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/secured/profile", nil)
		req.Header.Set("Authorization", "Bearer "+token(t, key, iss.URL, "openid"))
		if resp, err = http.DefaultClient.Do(req); err == nil {
			break
		}
		if i > 100 {
			t.Fatalf("server did not come up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cancel() // as SIGTERM would
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no graceful shutdown")
	}
}
