package token

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/domain"
)

// parseJWKS decodes a JWKS into its keys as generic maps.
func parseJWKS(t testing.TB, body []byte) []map[string]any {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("JWKS is not JSON: %v: %s", err, body)
	}
	return set.Keys
}

func kidsOf(keys []map[string]any) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k["kid"].(string))
	}
	return out
}

// jwkPublic rebuilds the public key a JWK describes.
func jwkPublic(t testing.TB, k map[string]any) crypto.PublicKey {
	t.Helper()
	dec := func(name string) []byte {
		s, _ := k[name].(string)
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil {
			t.Fatalf("JWK member %s: %v", name, err)
		}
		return b
	}
	switch k["kty"] {
	case "EC":
		x, y := dec("x"), dec("y")
		if k["crv"] != "P-256" || len(x) != 32 || len(y) != 32 {
			t.Fatalf("EC JWK %v", k)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			t.Fatal(err)
		}
		return pub
	case "RSA":
		return &rsa.PublicKey{N: new(big.Int).SetBytes(dec("n")), E: int(new(big.Int).SetBytes(dec("e")).Int64())}
	case "OKP":
		if k["crv"] != "Ed25519" {
			t.Fatalf("OKP JWK %v", k)
		}
		return ed25519.PublicKey(dec("x"))
	}
	t.Fatalf("unknown kty in %v", k)
	return nil
}

// TestSecurity_S36_JWKSPublicOnlyUniqueKids: public members only, unique kids, and
// each JWK is the stored public key.
func TestSecurity_S36_JWKSPublicOnlyUniqueKids(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	// A duplicate row of a kid must not produce two JWKs.
	f.src.add(f.keys[domain.AlgES256])
	body, err := f.ring.JWKS(t0)
	if err != nil {
		t.Fatal(err)
	}
	keys := parseJWKS(t, body)
	if len(keys) != 3 {
		t.Fatalf("JWKS has %d keys, want 3: %s", len(keys), body)
	}
	allowed := map[string]bool{"kty": true, "use": true, "alg": true, "kid": true, "crv": true, "x": true, "y": true, "n": true, "e": true}
	seen := map[string]bool{}
	for _, k := range keys {
		for member := range k {
			if !allowed[member] {
				t.Fatalf("JWK has member %q: %v", member, k)
			}
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			if _, ok := k[private]; ok {
				t.Fatalf("JWK has private member %q", private)
			}
		}
		kid := k["kid"].(string)
		if seen[kid] {
			t.Fatalf("kid %s repeated", kid)
		}
		seen[kid] = true
		if k["use"] != "sig" {
			t.Fatalf("use = %v", k["use"])
		}
		var stored domain.SigningKey
		for _, sk := range f.keys {
			if sk.ID == kid {
				stored = sk
			}
		}
		if stored.Alg != k["alg"] {
			t.Fatalf("kid %s: alg %v, stored %s", kid, k["alg"], stored.Alg)
		}
		want := f.publicKey(t, stored.Alg)
		if !jwkPublic(t, k).(interface{ Equal(crypto.PublicKey) bool }).Equal(want) {
			t.Fatalf("kid %s: JWK is not the stored public key", kid)
		}
		if tp, _ := Thumbprint(want); tp != kid {
			t.Fatalf("kid %s is not the thumbprint %s", kid, tp)
		}
	}
	// Cached per snapshot: the same bytes again.
	again, _ := f.ring.JWKS(t0)
	if &again[0] != &body[0] {
		t.Fatal("JWKS was marshalled again for the same snapshot and keys")
	}
}

// TestSecurity_S36_Rotation: the new key signs at once; the old one stays in the
// JWKS (and verifies) until its ExpiresAt, then leaves.
func TestSecurity_S36_Rotation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, domain.AlgES256)
	oldKID := f.keys[domain.AlgES256].ID
	before, err := f.signer.SignAccessToken(ctx, sampleAccessToken(t0))
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := decodeParts(t, before); h["kid"] != oldKID {
		t.Fatalf("kid = %v before rotation", h["kid"])
	}

	newKey, err := f.gen.GenerateKey(domain.AlgES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	retiredUntil := t0.Add(16 * time.Minute)
	f.src.rotate(newKey, retiredUntil)
	if err := f.ring.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := f.signer.SignAccessToken(ctx, sampleAccessToken(t0))
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := decodeParts(t, after); h["kid"] != newKey.ID {
		t.Fatalf("after rotation kid = %v, want the new key %s", h["kid"], newKey.ID)
	}
	mustAccept(t, f.verifier, "token of the old key", before)
	mustAccept(t, f.verifier, "token of the new key", after)

	body, _ := f.ring.JWKS(t0.Add(15 * time.Minute))
	if kids := kidsOf(parseJWKS(t, body)); !slices.Contains(kids, oldKID) || !slices.Contains(kids, newKey.ID) || len(kids) != 4 {
		t.Fatalf("JWKS before the old key's expiry = %v", kids)
	}
	body, _ = f.ring.JWKS(retiredUntil)
	if kids := kidsOf(parseJWKS(t, body)); slices.Contains(kids, oldKID) || !slices.Contains(kids, newKey.ID) || len(kids) != 3 {
		t.Fatalf("JWKS at the old key's expiry = %v", kids)
	}
	// And the cache follows time within one snapshot.
	body, _ = f.ring.JWKS(t0)
	if kids := kidsOf(parseJWKS(t, body)); !slices.Contains(kids, oldKID) {
		t.Fatalf("JWKS at t0 = %v", kids)
	}
}

// A rotation by another instance is seen after RefreshInterval, without Reload.
func TestKeyRing_RefreshInterval(t *testing.T) {
	ctx := context.Background()
	c, keys := sharedKeySet(t)
	src := &memSource{}
	src.add(keys[domain.AlgES256])
	ring := NewKeyRing(src, c, KeyRingConfig{RefreshInterval: 30 * time.Second, MinReloadInterval: time.Hour})
	clock := fakeMono(ring)
	for range 100 {
		if _, err := ring.ActiveKey(ctx, domain.AlgES256); err != nil {
			t.Fatal(err)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("100 lookups within the interval read the store %d times, want 1", n)
	}
	newKey, _ := NewKeyGenerator(c).GenerateKey(domain.AlgES256, t0)
	src.rotate(newKey, t0.Add(time.Hour))
	clock.Add(int64(29 * time.Second))
	if k, _ := ring.ActiveKey(ctx, domain.AlgES256); k.ID == newKey.ID {
		t.Fatal("rotation seen before the refresh interval")
	}
	clock.Add(int64(time.Second))
	k, err := ring.ActiveKey(ctx, domain.AlgES256)
	if err != nil || k.ID != newKey.ID {
		t.Fatalf("after the interval the active key is %v (%v), want %s", k.ID, err, newKey.ID)
	}
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("store read %d times, want 2", n)
	}
}

// An unknown kid reloads the ring once (a key rotated in elsewhere), rate-limited.
func TestKeyRing_UnknownKIDReloadIsRateLimited(t *testing.T) {
	ctx := context.Background()
	c, keys := sharedKeySet(t)
	src := &memSource{}
	src.add(keys[domain.AlgRS256])
	ring := NewKeyRing(src, c, KeyRingConfig{RefreshInterval: time.Hour, MinReloadInterval: 5 * time.Second})
	clock := fakeMono(ring)
	v, _ := NewVerifier(ring, VerifierConfig{Issuer: testIssuer}, newClock(t0))
	if err := ring.Reload(ctx); err != nil {
		t.Fatal(err)
	}

	// Another instance adds the ES256 key; a token of it arrives.
	src.add(keys[domain.AlgES256])
	f := &fixture{cipher: c, keys: keys}
	raw := f.mintValid(t, domain.AlgES256, nil, nil)
	mustReject(t, v, "within MinReloadInterval of the last load", raw)
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("store read %d times, want 1", n)
	}
	clock.Add(int64(5 * time.Second))
	mustAccept(t, v, "token of a key added elsewhere", raw)
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("store read %d times, want 2 (load + one reload)", n)
	}
	// A flood of made-up kids costs no further store reads within the interval,
	// and exactly one after it.
	var bogus []string
	for i := range 50 {
		bogus = append(bogus, f.mintValid(t, domain.AlgES256, map[string]any{"kid": fmt.Sprintf("made-up-%d", i)}, nil))
	}
	flood := func() {
		var wg sync.WaitGroup
		for _, raw := range bogus {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := v.VerifyAccessToken(ctx, raw); err == nil {
					t.Error("made-up kid accepted")
				}
			}()
		}
		wg.Wait()
	}
	clock.Add(int64(4 * time.Second))
	flood()
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("made-up kids read the store %d times in total, want 2", n)
	}
	clock.Add(int64(time.Second))
	flood()
	if n := src.calls.Load(); n != 3 {
		t.Fatalf("after the interval the store was read %d times, want 3", n)
	}
}

// With the store down, the ring keeps serving the keys it has.
func TestKeyRing_StoreDownServesCachedKeys(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, domain.AlgES256)
	f.ring = NewKeyRing(f.src, f.cipher, KeyRingConfig{RefreshInterval: 10 * time.Millisecond, MinReloadInterval: 10 * time.Millisecond})
	f.signer, _ = NewSigner(f.ring, SignerConfig{Issuer: testIssuer, AccessAlg: domain.AlgES256})
	if _, err := f.signer.SignAccessToken(ctx, sampleAccessToken(t0)); err != nil {
		t.Fatal(err)
	}
	f.src.setErr(errors.New("database is down"))
	time.Sleep(20 * time.Millisecond)
	for range 10 {
		if _, err := f.signer.SignAccessToken(ctx, sampleAccessToken(t0)); err != nil {
			t.Fatalf("signing failed while the store is down: %v", err)
		}
	}
	if _, err := f.ring.JWKS(t0); err != nil {
		t.Fatalf("JWKS failed while the store is down: %v", err)
	}
	if err := f.ring.Reload(ctx); err == nil {
		t.Fatal("explicit Reload hid the store error")
	}
	// And a ring that never loaded reports the failure.
	empty := NewKeyRing(f.src, f.cipher, KeyRingConfig{})
	if _, err := empty.ActiveKey(ctx, domain.AlgES256); err == nil || !strings.Contains(err.Error(), "database is down") {
		t.Fatalf("ActiveKey on a ring that never loaded: %v", err)
	}
}

// With the wrong GATEHOUSE_SECRET_KEY the active keys cannot sign, but the public
// keys are still published and verify.
func TestKeyRing_WrongCipherKey(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, domain.AlgES256)
	raw, _ := f.signer.SignAccessToken(ctx, sampleAccessToken(t0))
	ring := NewKeyRing(f.src, newTestCipher(t), KeyRingConfig{})
	signer, _ := NewSigner(ring, SignerConfig{Issuer: testIssuer})
	if _, err := signer.SignAccessToken(ctx, sampleAccessToken(t0)); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_SECRET_KEY") {
		t.Fatalf("signing with an unopenable key: err = %v", err)
	}
	v, _ := NewVerifier(ring, VerifierConfig{Issuer: testIssuer}, f.clock)
	mustAccept(t, v, "verification needs no private key", raw)
	if body, err := ring.JWKS(t0); err != nil || len(parseJWKS(t, body)) != 3 {
		t.Fatalf("JWKS = %s, %v", body, err)
	}
}

// A sealed private key copied to another key row does not open.
func TestKeyRing_PrivateKeyBoundToKID(t *testing.T) {
	ctx := context.Background()
	c, keys := sharedKeySet(t)
	other, _ := NewKeyGenerator(c).GenerateKey(domain.AlgES256, t0)
	moved := keys[domain.AlgES256]
	moved.PrivateKey = other.PrivateKey
	ring := NewKeyRing(&memSource{keys: []domain.SigningKey{moved}}, c, KeyRingConfig{})
	if _, err := ring.ActiveKey(ctx, domain.AlgES256); err == nil {
		t.Fatal("a private key moved to another row signs")
	}
}

func TestKeyRing_NoActiveKey(t *testing.T) {
	c, keys := sharedKeySet(t)
	ring := NewKeyRing(&memSource{keys: []domain.SigningKey{keys[domain.AlgRS256]}}, c, KeyRingConfig{})
	if _, err := ring.ActiveKey(context.Background(), domain.AlgES256); !errors.Is(err, ErrNoActiveKey) {
		t.Fatalf("err = %v, want ErrNoActiveKey", err)
	}
}

// A key of a new alg added to the store (a client registered with --id-token-alg
// while the server runs) signs at once, not at the next periodic reload; a missing
// alg reloads every time it is asked for, so it never needs to wait.
func TestKeyRing_MissingAlgReloads(t *testing.T) {
	c, keys := sharedKeySet(t)
	src := &memSource{keys: []domain.SigningKey{keys[domain.AlgRS256]}}
	ring := NewKeyRing(src, c, KeyRingConfig{RefreshInterval: time.Hour, MinReloadInterval: time.Hour})
	ctx := context.Background()
	if _, err := ring.ActiveKey(ctx, domain.AlgEdDSA); !errors.Is(err, ErrNoActiveKey) {
		t.Fatalf("err = %v, want ErrNoActiveKey", err)
	}
	before := src.calls.Load()
	src.add(keys[domain.AlgEdDSA])
	k, err := ring.ActiveKey(ctx, domain.AlgEdDSA)
	if err != nil || k.ID != keys[domain.AlgEdDSA].ID {
		t.Fatalf("the new EdDSA key: %v, %v", k, err)
	}
	if src.calls.Load() != before+1 {
		t.Errorf("%d reloads for one missing alg, want 1", src.calls.Load()-before)
	}
	// Keys of algs already there never reload the store.
	before = src.calls.Load()
	for range 10 {
		if _, err := ring.ActiveKey(ctx, domain.AlgRS256); err != nil {
			t.Fatal(err)
		}
	}
	if src.calls.Load() != before {
		t.Errorf("%d reloads for a present alg", src.calls.Load()-before)
	}
}

// Many goroutines sign, verify and read the JWKS while the ring reloads.
func TestKeyRing_Concurrent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, domain.AlgES256)
	f.ring = NewKeyRing(f.src, f.cipher, KeyRingConfig{RefreshInterval: time.Millisecond, MinReloadInterval: time.Millisecond})
	f.signer, _ = NewSigner(f.ring, SignerConfig{Issuer: testIssuer, AccessAlg: domain.AlgEdDSA})
	f.verifier, _ = NewVerifier(f.ring, VerifierConfig{Issuer: testIssuer}, f.clock)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				raw, err := f.signer.SignAccessToken(ctx, sampleAccessToken(t0))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := f.verifier.VerifyAccessToken(ctx, raw); err != nil {
					t.Error(err)
					return
				}
				if _, err := f.ring.JWKS(t0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 50 {
			if err := f.ring.Reload(ctx); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
}

// TestKeyRing_PrePublishedKeySignsAtActivation (issue 9): a rotation with an
// activation delay, once loaded, publishes the new key in the JWKS while the old
// one still signs; at the activation instant the new one signs, by the clock alone,
// with no reload; tokens of both keys verify.
func TestKeyRing_PrePublishedKeySignsAtActivation(t *testing.T) {
	ctx := context.Background()
	c, keys := sharedKeySet(t)
	src := &memSource{}
	src.add(keys[domain.AlgES256])
	src.add(keys[domain.AlgRS256])
	clock := newClock(t0)
	ring := NewKeyRing(src, c, KeyRingConfig{RefreshInterval: time.Hour, MinReloadInterval: time.Hour, Now: clock.Now})
	fakeMono(ring) // the refresh clock stands still: no reload happens by itself
	signer, _ := NewSigner(ring, SignerConfig{Issuer: testIssuer, AccessAlg: domain.AlgES256})
	verifier, _ := NewVerifier(ring, VerifierConfig{Issuer: testIssuer}, clock)
	oldKID := keys[domain.AlgES256].ID
	kidAt := func(what string) string {
		t.Helper()
		raw, err := signer.SignAccessToken(ctx, sampleAccessToken(clock.Now()))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		mustAccept(t, verifier, what, raw)
		h, _ := decodeParts(t, raw)
		return h["kid"].(string)
	}
	if kid := kidAt("before the rotation"); kid != oldKID {
		t.Fatalf("kid %s before the rotation", kid)
	}

	next, err := NewKeyGenerator(c).GenerateKey(domain.AlgES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	activates := t0.Add(95 * time.Second)
	next.ActivatesAt = activates
	src.rotate(next, activates.Add(16*time.Minute))
	if err := ring.Reload(ctx); err != nil { // the instance's periodic refresh
		t.Fatal(err)
	}
	loads := src.calls.Load()

	body, _ := ring.JWKS(clock.Now())
	if kids := kidsOf(parseJWKS(t, body)); !slices.Contains(kids, next.ID) || !slices.Contains(kids, oldKID) {
		t.Fatalf("JWKS right after the rotation = %v, want the pending key %s and the old one", kids, next.ID)
	}
	if kid := kidAt("right after the rotation"); kid != oldKID {
		t.Fatalf("the pending key signs %s before its activation", kid)
	}
	clock.set(activates.Add(-time.Nanosecond))
	if kid := kidAt("just before activation"); kid != oldKID {
		t.Fatalf("kid %s just before activation, want the old key", kid)
	}
	clock.set(activates)
	if kid := kidAt("at activation"); kid != next.ID {
		t.Fatalf("kid %s at activation, want the new key %s", kid, next.ID)
	}
	clock.add(10 * time.Minute)
	if kid := kidAt("after activation"); kid != next.ID {
		t.Fatalf("kid %s after activation", kid)
	}
	if n := src.calls.Load(); n != loads {
		t.Fatalf("the switch read the store %d more times, want none", n-loads)
	}
	// The ID-token alg was not rotated and signs with its key throughout.
	if k, err := ring.ActiveKey(ctx, domain.AlgRS256); err != nil || k.ID != keys[domain.AlgRS256].ID {
		t.Fatalf("RS256 key: %v, %v", k, err)
	}
	body, _ = ring.JWKS(activates.Add(16 * time.Minute))
	if kids := kidsOf(parseJWKS(t, body)); slices.Contains(kids, oldKID) || !slices.Contains(kids, next.ID) {
		t.Fatalf("JWKS after the old key expired = %v", kids)
	}
}

// A key retired before its activation (rotate --now while it was pending) never
// signs; the key of the immediate rotation does, from then on.
func TestKeyRing_ReplacedPendingKeyNeverSigns(t *testing.T) {
	ctx := context.Background()
	c, keys := sharedKeySet(t)
	gen := NewKeyGenerator(c)
	old := keys[domain.AlgEdDSA]
	pending, _ := gen.GenerateKey(domain.AlgEdDSA, t0)
	fresh, _ := gen.GenerateKey(domain.AlgEdDSA, t0.Add(time.Minute))
	pending.ActivatesAt = t0.Add(time.Hour)
	fresh.ActivatesAt = t0.Add(time.Minute)
	retired, exp := t0.Add(time.Minute), t0.Add(2*time.Hour)
	old.RetiredAt, old.ExpiresAt = &retired, &exp
	pending.RetiredAt, pending.ExpiresAt = &retired, &exp
	clock := newClock(t0.Add(time.Minute))
	ring := NewKeyRing(&memSource{keys: []domain.SigningKey{old, pending, fresh}}, c, KeyRingConfig{Now: clock.Now})
	for _, at := range []time.Time{t0.Add(time.Minute), t0.Add(time.Hour), t0.Add(3 * time.Hour)} {
		clock.set(at)
		k, err := ring.ActiveKey(ctx, domain.AlgEdDSA)
		if err != nil || k.ID != fresh.ID {
			t.Fatalf("at %v: %v, %v; want the fresh key", at, k, err)
		}
	}
}

// TestKeyRing_RevokedKeyIsGone: a key the store lists as revoked is neither published
// nor trusted nor used to sign, whatever its other times say, from the reload on: a
// token it signed fails verification, also one the verifier had cached.
func TestKeyRing_RevokedKeyIsGone(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, domain.AlgES256)
	raw, err := f.signer.SignAccessToken(ctx, sampleAccessToken(f.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.VerifyAccessToken(ctx, raw); err != nil {
		t.Fatal(err)
	}
	// Revoked in the store with no other change (no retirement, no expiry): the
	// revocation alone must do it.
	f.src.mu.Lock()
	for i := range f.src.keys {
		if f.src.keys[i].Alg == domain.AlgES256 {
			at := f.clock.Now()
			f.src.keys[i].RevokedAt = &at
		}
	}
	f.src.mu.Unlock()
	if err := f.ring.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.VerifyAccessToken(ctx, raw); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("a token of the revoked key verifies: %v", err)
	}
	body, err := f.ring.JWKS(f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if kids := kidsOf(parseJWKS(t, body)); slices.Contains(kids, f.keys[domain.AlgES256].ID) || len(kids) != len(domain.SupportedAlgs)-1 {
		t.Errorf("JWKS kids %v: the revoked key must be gone, the others stay", kids)
	}
	if k, err := f.ring.ActiveKey(ctx, domain.AlgES256); !errors.Is(err, ErrNoActiveKey) {
		t.Errorf("the revoked key still signs: %v, %v", k, err)
	}
}

// Picking the signing key by time costs no allocation (it runs on every token).
func TestKeyRing_ActiveKeyDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	c, keys := sharedKeySet(t)
	next, _ := NewKeyGenerator(c).GenerateKey(domain.AlgES256, t0)
	next.ActivatesAt = t0.Add(time.Minute)
	src := &memSource{}
	src.add(keys[domain.AlgES256])
	src.rotate(next, t0.Add(time.Hour))
	clock := newClock(t0)
	ring := NewKeyRing(src, c, KeyRingConfig{RefreshInterval: time.Hour, Now: clock.Now})
	if err := ring.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{t0, t0.Add(time.Minute)} {
		clock.set(at)
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := ring.ActiveKey(ctx, domain.AlgES256); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("ActiveKey at %v: %.1f allocations per call, want 0", at, allocs)
		}
	}
}
