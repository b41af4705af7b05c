package crypto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"sync"
	"testing"
)

func newTestSecretHasher(t *testing.T, secret string) *SecretHasher {
	t.Helper()
	k, err := DeriveKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewSecretHasher(k)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSecretHasher(t *testing.T) {
	h := newTestSecretHasher(t, testSecret)
	secret := NewRandom().Token()
	hash := h.HashSecret(secret)
	if len(hash) != 32 {
		t.Fatalf("hash has %d bytes, want 32", len(hash))
	}
	if !bytes.Equal(hash, h.HashSecret(secret)) {
		t.Fatal("hash is not deterministic: stored hashes could never match")
	}
	if !h.SecretMatches(hash, secret) {
		t.Fatal("the right secret does not match")
	}
	for _, wrong := range []string{"", secret[:len(secret)-1], secret + "x", NewRandom().Token()} {
		if h.SecretMatches(hash, wrong) {
			t.Fatalf("wrong secret %q matches", wrong)
		}
	}
	if h.SecretMatches(nil, secret) || h.SecretMatches(hash[:31], secret) {
		t.Fatal("a truncated or empty hash matches")
	}
	// Keyed: another server secret gives another hash.
	other := newTestSecretHasher(t, testSecret+"-other")
	if bytes.Equal(hash, other.HashSecret(secret)) || other.SecretMatches(hash, secret) {
		t.Fatal("the hash does not depend on the key")
	}
}

func TestNewSecretHasher_RejectsShortKey(t *testing.T) {
	if _, err := NewSecretHasher(Keys{SecretHashing: make([]byte, 16)}); err == nil {
		t.Fatal("NewSecretHasher accepted a 16-byte key")
	}
}

// The pooled HMACs give exactly the HMAC-SHA-256 the database holds, whatever a
// previous use of the same HMAC hashed, also from many goroutines at once.
func TestSecretHasher_PooledEqualsFreshHMAC(t *testing.T) {
	h := newTestSecretHasher(t, testSecret)
	k, _ := DeriveKeys(testSecret)
	want := func(s string) []byte {
		m := hmac.New(sha256.New, k.SecretHashing)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				s := strings.Repeat("s", (g*500+i)%97) + NewRandom().Token()
				if !bytes.Equal(h.HashSecret(s), want(s)) {
					errs <- s
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for s := range errs {
		t.Fatalf("pooled hash of %q differs from a fresh HMAC", s)
	}
}
