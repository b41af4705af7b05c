package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/adapter/token"
	"gatehouse/domain"
)

// TestClientJWT: the key's JWK Set registers, its proofs pass Gatehouse's DPoP
// parser with the key's thumbprint, and its assertions verify against the set.
func TestClientJWT(t *testing.T) {
	file := filepath.Join(t.TempDir(), "k.pem")
	call := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 0 {
			t.Fatalf("clientjwt %v: exit %d: %s", args, code, errOut.String())
		}
		return strings.TrimSpace(out.String())
	}
	set := call("key", file)
	if again := call("key", file); again != set {
		t.Fatalf("key on an existing file made a new key")
	}
	v := token.NewAssertionVerifier(nil, nil)
	if err := v.ValidateJWKS(set); err != nil {
		t.Fatalf("the printed JWK Set does not register: %v", err)
	}
	p, err := token.NewDPoPParser().ParseDPoPProof(call("dpop", file, "POST", "https://auth.test/oauth/token", "tok"))
	if err != nil || p.Method != "POST" || p.URL != "https://auth.test/oauth/token" || p.ATH == "" || !strings.Contains(set, p.JKT) {
		t.Fatalf("proof %+v, %v (the kid in the set is the thumbprint)", p, err)
	}
	client := domain.Client{ID: "c1", TokenEndpointAuthMethod: domain.AuthPrivateKeyJWT, JWKS: set}
	a, err := v.VerifyClientAssertion(context.Background(), client, call("assertion", file, "c1", "https://auth.test/oauth/token"))
	if err != nil || a.Subject != "c1" || a.JTI == "" || a.ExpiresAt.IsZero() {
		t.Fatalf("assertion %+v, %v", a, err)
	}
	var errOut bytes.Buffer
	if code := run([]string{"dpop", file}, &bytes.Buffer{}, &errOut); code != 2 {
		t.Errorf("bad usage: exit %d", code)
	}
}
