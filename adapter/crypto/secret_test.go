package crypto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"sync"
	"testing"
	"time"
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

// TestSecretHasher_TokenKeys: a sorted token's key is its 8 characters of time, then
// the HMAC of the whole token, so keys sort by the time their tokens were made; any
// other token (those made before sorted tokens) keeps the plain HMAC as its key, so
// it is still found.
func TestSecretHasher_TokenKeys(t *testing.T) {
	h := newTestSecretHasher(t, testSecret)
	start := time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)
	var prev []byte
	for i := range 1000 {
		tok := sortedToken(start.Add(time.Duration(i*i*i) * time.Millisecond))
		key := h.HashToken(tok)
		if len(key) != 8+sha256.Size || string(key[:8]) != tok[:8] || !bytes.Equal(key[8:], h.HashSecret(tok)) {
			t.Fatalf("HashToken(%q) = %x, want its first 8 characters then HashSecret of it", tok, key)
		}
		if !bytes.Equal(key, h.HashToken(tok)) {
			t.Fatal("HashToken is not deterministic: stored keys could never match")
		}
		if i > 0 && bytes.Compare(key, prev) <= 0 {
			t.Fatalf("key of a later token %x sorts before %x", key, prev)
		}
		prev = key
	}
	tok := NewRandom().SortedToken()
	plain := []string{
		NewRandom().Token(),       // made before sorted tokens
		tok[:SortedTokenLength-1], // one character short
		tok + "A",                 // one too many
		"+" + tok[1:],             // not of the alphabet
		tok[:7] + "." + tok[8:],   // nor this
		strings.Repeat(" ", SortedTokenLength),
	}
	for _, other := range plain {
		if got := h.HashToken(other); !bytes.Equal(got, h.HashSecret(other)) {
			t.Fatalf("HashToken(%q) = %x, want HashSecret of it", other, got)
		}
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
