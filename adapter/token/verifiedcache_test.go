package token

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/domain"
)

// A cached verification still ends at the token's expiry.
func TestVerifiedCache_HitStillChecksExpiry(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	raw := f.mintValid(t, domain.AlgES256, nil, nil)
	mustAccept(t, f.verifier, "first", raw)
	if _, ok := f.verifier.cache.m[sha256.Sum256([]byte(raw))]; !ok {
		t.Fatal("a verified token was not cached")
	}
	f.clock.add(15*time.Minute - time.Second)
	mustAccept(t, f.verifier, "a second before exp, from the cache", raw)
	f.clock.add(time.Second)
	mustReject(t, f.verifier, "at exp, though cached", raw)
}

// A cached verification ends when the signing key leaves the JWKS.
func TestVerifiedCache_HitStillChecksKeyPublished(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	raw := f.mintValid(t, domain.AlgES256, nil, func(c jwt.MapClaims) {
		c["exp"] = t0.Add(24 * time.Hour).Unix()
	})
	mustAccept(t, f.verifier, "first", raw)
	next, err := f.gen.GenerateKey(domain.AlgES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	f.src.rotate(next, t0.Add(time.Minute))
	if err := f.ring.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustAccept(t, f.verifier, "key retired but still published", raw)
	f.clock.add(2 * time.Minute)
	mustReject(t, f.verifier, "key no longer published, though cached", raw)
}

// Callers get copies: changing one answer does not change the next.
func TestVerifiedCache_ReturnsCopies(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	raw := f.mintValid(t, domain.AlgES256, nil, nil)
	at := mustAccept(t, f.verifier, "first", raw)
	at.Scope[0], at.Audience[0] = "admin", "https://evil.example"
	again := mustAccept(t, f.verifier, "second", raw)
	if again.Scope[0] == "admin" || again.Audience[0] == "https://evil.example" {
		t.Fatalf("the cached token was changed through an answer: %+v", again)
	}
	again.Scope[0] = "admin"
	if third := mustAccept(t, f.verifier, "third", raw); third.Scope[0] == "admin" {
		t.Fatalf("the cached token was changed through a cache hit: %+v", third)
	}
}

// A token differing in one byte is verified in full, not found in the cache.
func TestVerifiedCache_TamperedTokenMisses(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	raw := f.mintValid(t, domain.AlgES256, nil, nil)
	mustAccept(t, f.verifier, "first", raw)
	b := []byte(raw)
	b[len(b)-5] ^= 1
	mustReject(t, f.verifier, "flipped signature byte", string(b))
}

// The cache stays within its bound however many tokens pass.
func TestVerifiedCache_Bounded(t *testing.T) {
	c := newVerifiedCache(50)
	now := t0
	for i := range 1000 {
		at := domain.AccessToken{ID: fmt.Sprint(i), ExpiresAt: now.Add(time.Hour)}
		c.put(sha256.Sum256([]byte(at.ID)), "kid", at, now)
		if len(c.m) > 50 {
			t.Fatalf("after %d puts the cache holds %d entries, bound 50", i+1, len(c.m))
		}
	}
}
