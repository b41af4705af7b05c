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
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"gatehouse/adapter/resourceserver"
)

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
				"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig", "x": b64(b[1:33]), "y": b64(b[33:]),
			}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, key
}

// token signs an access token for aud, in the low-s ECDSA form resourceserver takes.
func token(t *testing.T, key *ecdsa.PrivateKey, iss, aud, scope string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": iss, "sub": "user-42", "aud": aud, "client_id": "client-1", "jti": "j1",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "scope": scope,
	})
	tok.Header["typ"], tok.Header["kid"] = "at+jwt", "k1"
	raw, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(raw, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(raw[i+1:])
	n := elliptic.P256().Params().N
	if s := new(big.Int).SetBytes(sig[32:]); s.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		s.Sub(n, s).FillBytes(sig[32:])
	}
	return raw[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{}, {"--issuer", "not a url"}, {"--issuer", "http://x", "extra"}, {"--nope"},
		{"--issuer", "http://x", "--public-url", "ftp://x"}} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, io.Discard, &stderr); code != 2 || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr.String())
		}
	}
	o, err := parseFlags([]string{"--issuer", "http://gh", "--addr", "127.0.0.1:9999"}, io.Discard)
	if err != nil || o.resource() != "http://127.0.0.1:9999/mcp" {
		t.Fatalf("resource %q, %v", o.resource(), err)
	}
	o, _ = parseFlags([]string{"--issuer", "http://gh", "--public-url", "https://mcp.example.com/"}, io.Discard)
	if o.resource() != "https://mcp.example.com/mcp" {
		t.Fatalf("resource behind a proxy %q", o.resource())
	}
}

// bearer adds a fixed access token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// TestServer: RFC 9728 metadata, 401 naming it, and whoami through the Go SDK's
// client with a token for the resource.
func TestServer(t *testing.T) {
	iss, key := fakeIssuer(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resource := srv.URL + "/mcp"
	v, err := resourceserver.New(context.Background(), resourceserver.Config{Issuer: iss.URL, Audience: resource, Resource: resource,
		ScopesSupported: []string{"openid", "profile"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", newHandler(v, slog.New(slog.DiscardHandler)))

	resp, err := http.Get(srv.URL + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if resp.StatusCode != 200 || meta["resource"] != resource || meta["authorization_servers"].([]any)[0] != iss.URL {
		t.Fatalf("metadata: %d %v", resp.StatusCode, meta)
	}
	resp, err = http.Post(srv.URL+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := `resource_metadata="` + srv.URL + `/.well-known/oauth-protected-resource/mcp"`
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), want) {
		t.Fatalf("no token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	connect := func(tok string) (*mcp.ClientSession, error) {
		client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
		return client.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: resource, MaxRetries: -1,
			HTTPClient: &http.Client{Transport: bearer{tok, http.DefaultTransport}}}, nil)
	}
	// A token for another audience is refused.
	if s, err := connect(token(t, key, iss.URL, "https://other.example", "openid")); err == nil {
		s.Close()
		t.Fatal("a token for another audience was accepted")
	}
	s, err := connect(token(t, key, iss.URL, resource, "openid profile"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami"})
	if err != nil || res.IsError {
		t.Fatalf("whoami: %v %+v", err, res)
	}
	var out whoamiOut
	raw, _ := json.Marshal(res.StructuredContent)
	json.Unmarshal(raw, &out)
	if out.Sub != "user-42" || out.Scope != "openid profile" || out.ClientID != "client-1" {
		t.Fatalf("whoami answered %s", raw)
	}
}
