package crypto

import (
	"bytes"
	"strings"
	"testing"
)

const testSecret = "correct horse battery staple, 32+ characters long"

func TestDeriveKeys_RejectsShortSecret(t *testing.T) {
	for _, s := range []string{"", "short", strings.Repeat("x", MinSecretLength-1)} {
		_, err := DeriveKeys(s)
		if err == nil {
			t.Fatalf("DeriveKeys(%d chars) = nil error, want error", len(s))
		}
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("error %q echoes the secret", err)
		}
	}
	if _, err := DeriveKeys(strings.Repeat("x", MinSecretLength)); err != nil {
		t.Fatalf("DeriveKeys(32 chars): %v", err)
	}
}

func TestDeriveKeys_IndependentAndDeterministic(t *testing.T) {
	k1, err := DeriveKeys(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := DeriveKeys(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	other, err := DeriveKeys(testSecret + "!")
	if err != nil {
		t.Fatal(err)
	}
	all := [][]byte{k1.KeyEncryption, k1.SecretHashing, k1.CookieSigning, k1.CookieEncryption}
	for i, a := range all {
		if len(a) != KeySize {
			t.Fatalf("key %d has %d bytes, want %d", i, len(a), KeySize)
		}
		for j, b := range all[:i] {
			if bytes.Equal(a, b) {
				t.Fatalf("keys %d and %d are equal", i, j)
			}
		}
		if bytes.Contains([]byte(testSecret), a) {
			t.Fatalf("key %d contains secret material verbatim", i)
		}
	}
	if !bytes.Equal(k1.KeyEncryption, k2.KeyEncryption) || !bytes.Equal(k1.SecretHashing, k2.SecretHashing) ||
		!bytes.Equal(k1.CookieSigning, k2.CookieSigning) || !bytes.Equal(k1.CookieEncryption, k2.CookieEncryption) {
		t.Fatal("the same secret derived different keys: instances sharing a database would disagree")
	}
	if bytes.Equal(k1.KeyEncryption, other.KeyEncryption) || bytes.Equal(k1.SecretHashing, other.SecretHashing) {
		t.Fatal("different secrets derived the same key")
	}
}
