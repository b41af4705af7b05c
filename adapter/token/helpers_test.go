package token

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/domain"
)

// testCipher is AES-256-GCM with the nonce in front, like adapter/crypto.Cipher,
// kept here so that this package's tests need no other adapter.
type testCipher struct{ aead cipher.AEAD }

func newTestCipher(t testing.TB) *testCipher {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	return &testCipher{aead: aead}
}

func (c *testCipher) Seal(pt, ad []byte) ([]byte, error) {
	nonce := make([]byte, c.aead.NonceSize())
	rand.Read(nonce)
	return c.aead.Seal(nonce, nonce, pt, ad), nil
}

func (c *testCipher) Open(ct, ad []byte) ([]byte, error) {
	n := c.aead.NonceSize()
	if len(ct) < n {
		return nil, errors.New("short")
	}
	return c.aead.Open(nil, ct[:n], ct[n:], ad)
}

// memSource is an in-memory KeySource (the real one is the Bun KeyRepository).
type memSource struct {
	mu    sync.Mutex
	keys  []domain.SigningKey
	err   error
	calls atomic.Int64
}

func (m *memSource) ListKeys(context.Context) ([]domain.SigningKey, error) {
	m.calls.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	return slices.Clone(m.keys), nil
}

func (m *memSource) add(k domain.SigningKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append(m.keys, k)
}

func (m *memSource) setErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

// rotate retires the current key of k.Alg at k's activation (its creation when
// ActivatesAt is zero) and adds k, like KeyStore.RotateKey.
func (m *memSource) rotate(k domain.SigningKey, oldExpiresAt time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.keys {
		if m.keys[i].Alg == k.Alg && m.keys[i].Current() {
			ra, ea := k.ActivationTime(), oldExpiresAt
			m.keys[i].RetiredAt, m.keys[i].ExpiresAt = &ra, &ea
		}
	}
	m.keys = append(m.keys, k)
}

type fixedClock struct{ t atomic.Pointer[time.Time] }

func newClock(t time.Time) *fixedClock {
	c := &fixedClock{}
	c.set(t)
	return c
}
func (c *fixedClock) Now() time.Time      { return *c.t.Load() }
func (c *fixedClock) set(t time.Time)     { c.t.Store(&t) }
func (c *fixedClock) add(d time.Duration) { c.set(c.Now().Add(d)) }

const testIssuer = "https://auth.example.test"

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture is a ring with one active key of each alg, a signer and a verifier.
type fixture struct {
	src      *memSource
	cipher   *testCipher
	gen      *KeyGenerator
	ring     *KeyRing
	clock    *fixedClock
	signer   *Signer
	verifier *Verifier
	keys     map[string]domain.SigningKey // by alg
}

// Generating RSA keys is slow; share one key per alg across tests.
var (
	sharedOnce   sync.Once
	sharedCipher *testCipher
	sharedKeys   map[string]domain.SigningKey
)

func sharedKeySet(t testing.TB) (*testCipher, map[string]domain.SigningKey) {
	sharedOnce.Do(func() {
		sharedCipher = newTestCipher(t)
		gen := NewKeyGenerator(sharedCipher)
		sharedKeys = map[string]domain.SigningKey{}
		for _, alg := range domain.SupportedAlgs {
			k, err := gen.GenerateKey(alg, t0.Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			sharedKeys[alg] = k
		}
	})
	return sharedCipher, sharedKeys
}

func newFixture(t testing.TB, accessAlg string) *fixture {
	t.Helper()
	c, keys := sharedKeySet(t)
	f := &fixture{src: &memSource{}, cipher: c, gen: NewKeyGenerator(c), clock: newClock(t0), keys: keys}
	for _, alg := range domain.SupportedAlgs {
		f.src.add(keys[alg])
	}
	f.ring = NewKeyRing(f.src, c, KeyRingConfig{Now: f.clock.Now})
	var err error
	if f.signer, err = NewSigner(f.ring, SignerConfig{Issuer: testIssuer, AccessAlg: accessAlg}); err != nil {
		t.Fatal(err)
	}
	if f.verifier, err = NewVerifier(f.ring, VerifierConfig{Issuer: testIssuer}, f.clock); err != nil {
		t.Fatal(err)
	}
	return f
}

func sampleAccessToken(now time.Time) domain.AccessToken {
	return domain.AccessToken{
		ID:        "jti-0123456789abcdef",
		ClientID:  "abcdefghijklmnopqrstuvwxyz",
		Subject:   "0b7a4b8e-6a5e-4a57-9b1e-2f4d7f5a9c11",
		Audience:  []string{"https://api.example.test"},
		Scope:     []string{"openid", "profile", "api:read"},
		AuthTime:  now.Add(-time.Minute),
		IssuedAt:  now,
		ExpiresAt: now.Add(15 * time.Minute),
		FamilyID:  "family-0123456789",
	}
}

func bigOne() *big.Int { return big.NewInt(1) }

// fakeMono makes the ring's refresh clock manual; call before concurrent use.
func fakeMono(r *KeyRing) *atomic.Int64 {
	var now atomic.Int64
	now.Store(r.monoNow())
	r.monoNow = now.Load
	return &now
}
