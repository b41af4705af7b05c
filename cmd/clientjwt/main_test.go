package main

import (
	"bytes"
	"context"
	"os"
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
	if code := run([]string{"dpop", file}, &bytes.Buffer{}, &errOut); code != 2 || !strings.HasPrefix(errOut.String(), "usage:") {
		t.Errorf("bad usage: exit %d, stderr %q", code, errOut.String())
	}
	// An unknown command is named, in one line.
	errOut.Reset()
	if code := run([]string{"frob", file}, &bytes.Buffer{}, &errOut); code != 2 ||
		errOut.String() != "clientjwt: unknown command \"frob\" (key, dpop or assertion; see clientjwt --help)\n" {
		t.Errorf("unknown command: exit %d, stderr %q", code, errOut.String())
	}
	// Asked for, the usage goes to stdout and is no error.
	for _, help := range []string{"-h", "--help", "help"} {
		var out, errOut bytes.Buffer
		if code := run([]string{help}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "usage:") || errOut.Len() != 0 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", help, code, out.String(), errOut.String())
		}
	}
}

// TestKeyFile: `key` writes the private key with mode 0600 and says where on stderr;
// run again it keeps the file (the key a client registered) and says so, warning
// when others may read it.
func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "client.pem")
	var out, errOut bytes.Buffer
	if code := run([]string{"key", file}, &out, &errOut); code != 0 {
		t.Fatalf("key: exit %d: %s", code, errOut.String())
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the private key file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	want := "clientjwt: wrote a new ES256 private key to " + file + " (mode 0600); keep it out of version control\n"
	if errOut.String() != want {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
	if strings.Contains(out.String(), `"d"`) {
		t.Errorf("stdout holds the private key: %s", out.String())
	}
	before, _ := os.ReadFile(file)

	// Again, after someone loosened the mode: the same key, and a warning.
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	var out2, errOut2 bytes.Buffer
	if code := run([]string{"key", file}, &out2, &errOut2); code != 0 {
		t.Fatalf("key again: exit %d: %s", code, errOut2.String())
	}
	after, _ := os.ReadFile(file)
	if !bytes.Equal(before, after) || out2.String() != out.String() {
		t.Errorf("key on an existing file changed the key")
	}
	lines := strings.Split(strings.TrimSuffix(errOut2.String(), "\n"), "\n")
	if len(lines) != 2 || lines[0] != "clientjwt: "+file+" exists; using its key (not overwritten)" ||
		!strings.Contains(lines[1], "readable by others (mode 0644)") {
		t.Errorf("stderr for an existing key: %q", errOut2.String())
	}

	// A path it cannot write: exit 1, nothing left behind.
	var errOut3 bytes.Buffer
	if code := run([]string{"key", filepath.Join(dir, "missing", "k.pem")}, &bytes.Buffer{}, &errOut3); code != 1 {
		t.Errorf("key into a missing directory: exit %d (%s), want 1", code, errOut3.String())
	}
}
