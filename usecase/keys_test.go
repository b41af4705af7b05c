package usecase_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// keysWith returns key management over the fixture's store and clock with a key
// activation delay and rotation interval.
func (f *fixture) keysWith(delay, interval time.Duration) *usecase.Keys {
	s := f.settings
	s.KeyActivationDelay = usecase.KeyActivationDelay(delay)
	s.KeyRotationInterval = usecase.KeyRotationInterval(interval)
	return usecase.NewKeys(f.keyRepo, f.keyGen, f.clock, s)
}

// kidOf issues a client credentials token and returns the kid that signed it.
func (f *fixture) kidOf(t *testing.T, cr usecase.Credentials) string {
	t.Helper()
	tok, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cr})
	if err != nil {
		t.Fatalf("client credentials: %v", err)
	}
	if !f.active(t, cr, tok.AccessToken) {
		t.Fatal("a fresh token is not active")
	}
	head, _, _ := strings.Cut(tok.AccessToken, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

func (f *fixture) signingKey(t *testing.T, alg string) domain.SigningKey {
	t.Helper()
	keys, err := f.keys.List(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := domain.SigningKeyAt(keys, alg, f.clock.Now())
	if !ok {
		t.Fatalf("no %s key signs", alg)
	}
	return k
}

// TestKeys_DelayedRotation (issue 9): the new key is stored (so published) at once
// and signs from now + the activation delay; the old key signs until then. A second
// delayed rotation while it is pending is refused; an immediate one goes through.
func TestKeys_DelayedRotation(t *testing.T) {
	f := newFixture(t)
	_, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}})
	keys := f.keysWith(95*time.Second, 0)
	old := f.signingKey(t, domain.AlgES256)
	start := f.clock.Now()

	next, err := keys.Rotate(f.ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if next.Alg != domain.AlgES256 || !next.ActivatesAt.Equal(start.Add(95*time.Second)) || next.State(start) != domain.KeyNext {
		t.Fatalf("rotated key %s %s activates %v, state %s", next.ID, next.Alg, next.ActivatesAt, next.State(start))
	}
	if err := f.ring.Reload(f.ctx); err != nil { // every instance's periodic refresh
		t.Fatal(err)
	}
	if kid := f.kidOf(t, cr); kid != old.ID {
		t.Fatalf("right after the rotation %s signs, want the old key %s", kid, old.ID)
	}
	list, _ := keys.List(f.ctx)
	for _, k := range list {
		if k.ID == old.ID && (k.RetiredAt == nil || !k.RetiredAt.Equal(next.ActivatesAt)) {
			t.Errorf("old key retires at %v, want %v", k.RetiredAt, next.ActivatesAt)
		}
		if k.ID == old.ID && (k.ExpiresAt == nil || !k.ExpiresAt.Equal(next.ActivatesAt.Add(time.Hour+time.Minute))) {
			t.Errorf("old key expires at %v, want activation + the ID token TTL (1h) + 1m", k.ExpiresAt)
		}
	}

	// A second rotation while the first is pending is refused, and says until when.
	f.clock.Advance(time.Minute)
	_, err = keys.Rotate(f.ctx, domain.AlgES256, false)
	var pe *domain.KeyPendingError
	if !errors.As(err, &pe) || pe.KID != next.ID || !pe.ActivatesAt.Equal(next.ActivatesAt) {
		t.Fatalf("second rotation while pending: %v", err)
	}
	// Other algs are not held up by it.
	rs, err := keys.Rotate(f.ctx, domain.AlgRS256, false)
	if err != nil || rs.State(f.clock.Now()) != domain.KeyNext {
		t.Fatalf("RS256 rotation while ES256 is pending: %v, %v", rs, err)
	}

	f.clock.Advance(35 * time.Second) // activation: the switch needs no reload
	if kid := f.kidOf(t, cr); kid != next.ID {
		t.Fatalf("at activation %s signs, want %s", kid, next.ID)
	}

	// Once the key signs, the next delayed rotation is accepted.
	third, err := keys.Rotate(f.ctx, "", false)
	if err != nil {
		t.Fatalf("rotation after activation: %v", err)
	}
	// And an immediate one replaces it before it ever signs (rotate --now).
	fresh, err := keys.Rotate(f.ctx, "", true)
	if err != nil || fresh.State(f.clock.Now()) != domain.KeyActive {
		t.Fatalf("immediate rotation: %v, %v", fresh, err)
	}
	if err := f.ring.Reload(f.ctx); err != nil {
		t.Fatal(err)
	}
	if kid := f.kidOf(t, cr); kid != fresh.ID {
		t.Fatalf("after --now %s signs, want %s", kid, fresh.ID)
	}
	f.clock.Advance(2 * time.Minute) // past the replaced key's activation time
	if kid := f.kidOf(t, cr); kid != fresh.ID {
		t.Fatalf("the replaced pending key %s took over: %s signs", third.ID, kid)
	}
}

// Without an activation delay (SQLite's default) a rotation signs at once, as the
// SPEC says.
func TestKeys_RotateWithoutDelaySignsAtOnce(t *testing.T) {
	f := newFixture(t)
	_, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}})
	k, err := f.keys.Rotate(f.ctx, "", false)
	if err != nil || k.State(f.clock.Now()) != domain.KeyActive {
		t.Fatalf("rotate: %v, %v", k, err)
	}
	if err := f.ring.Reload(f.ctx); err != nil {
		t.Fatal(err)
	}
	if kid := f.kidOf(t, cr); kid != k.ID {
		t.Fatalf("%s signs, want %s", kid, k.ID)
	}
	// Rotating again at once is fine: nothing is pending.
	if _, err := f.keys.Rotate(f.ctx, "", false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.keys.Rotate(f.ctx, "HS256", false); !errors.As(err, new(*usecase.ValidationError)) {
		t.Fatalf("rotate HS256: %v", err)
	}
}

// TestKeySchedule_OnePerIntervalAcrossInstances: two instances look every minute for
// five hours with a one-hour interval; each required alg is rotated exactly once an
// hour, by whichever holds the lease, also after the holder dies (its lease lapses).
func TestKeySchedule_OnePerIntervalAcrossInstances(t *testing.T) {
	f := newFixture(t)
	keys := f.keysWith(2*time.Minute, time.Hour)
	leases := bunrepo.NewLeaseRepository(f.db)
	a := usecase.NewKeySchedule(keys, leases, f.clock, f.random)
	b := usecase.NewKeySchedule(keys, leases, f.clock, f.random)
	const ttl = 3 * time.Minute
	start := f.clock.Now()
	ranBy := map[string]int{}
	aDiesAt := start.Add(150 * time.Minute)
	for step := 1; step <= 5*60; step++ {
		f.clock.Advance(time.Minute)
		for _, inst := range []struct {
			name string
			s    *usecase.KeySchedule
		}{{"a", a}, {"b", b}} {
			name, s := inst.name, inst.s
			if name == "a" && !f.clock.Now().Before(aDiesAt) {
				continue // a died: it neither works nor releases its lease
			}
			rotated, ran, err := s.RunOnce(f.ctx, ttl, nil)
			if err != nil {
				t.Fatalf("%s at +%s: %v", name, f.clock.Now().Sub(start), err)
			}
			if ran {
				ranBy[name]++
			}
			for _, k := range rotated {
				if !k.ActivatesAt.Equal(f.clock.Now().Add(2 * time.Minute)) {
					t.Errorf("a scheduled key activates at %v, want after the activation delay", k.ActivatesAt)
				}
			}
		}
	}
	list, err := keys.List(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{domain.AlgES256, domain.AlgRS256} {
		var created []time.Time
		for _, k := range list {
			if k.Alg == alg {
				created = append(created, k.CreatedAt)
			}
		}
		// List is newest first: the first key plus five rotations, an hour apart.
		if len(created) != 6 {
			t.Fatalf("%s: %d keys after five hours, want 6: %v", alg, len(created), created)
		}
		for i := 0; i+1 < len(created); i++ {
			if gap := created[i].Sub(created[i+1]); gap != time.Hour {
				t.Errorf("%s: keys %v and %v are %s apart, want 1h", alg, created[i+1], created[i], gap)
			}
		}
		if k, ok := domain.SigningKeyAt(list, alg, f.clock.Now().Add(2*time.Minute)); !ok || !k.CreatedAt.Equal(created[0]) {
			t.Errorf("%s: the newest key does not sign after its activation", alg)
		}
	}
	// One holder per tick: a until it died, then b once a's lease lapsed.
	if ranBy["a"] != 149 || ranBy["b"] < 150-3 || ranBy["b"] > 150 {
		t.Errorf("ran: a %d times, b %d times; want 149 and about 150", ranBy["a"], ranBy["b"])
	}
}

func TestKeySchedule_OffByDefault(t *testing.T) {
	f := newFixture(t)
	s := usecase.NewKeySchedule(f.keys, bunrepo.NewLeaseRepository(f.db), f.clock, f.random)
	f.clock.Advance(10 * 365 * 24 * time.Hour)
	rotated, ran, err := s.RunOnce(f.ctx, time.Minute, nil)
	if s.Enabled() || ran || len(rotated) != 0 || err != nil {
		t.Fatalf("interval 0: enabled %v, ran %v, rotated %d, %v", s.Enabled(), ran, len(rotated), err)
	}
}

// Scheduled rotation also rotates algs clients chose for their ID tokens.
func TestKeys_RotateDueExtraAlgs(t *testing.T) {
	f := newFixture(t)
	keys := f.keysWith(0, time.Hour)
	if err := keys.Ensure(f.ctx, domain.AlgEdDSA); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	rotated, err := keys.RotateDue(f.ctx, domain.AlgEdDSA, "")
	if err != nil {
		t.Fatal(err)
	}
	var algs []string
	for _, k := range rotated {
		algs = append(algs, k.Alg)
	}
	if strings.Join(algs, ",") != "ES256,RS256,EdDSA" {
		t.Fatalf("rotated %v", algs)
	}
	if again, err := keys.RotateDue(f.ctx, domain.AlgEdDSA); err != nil || len(again) != 0 {
		t.Fatalf("a second round right after rotated %d keys (%v)", len(again), err)
	}
}

// issue signs a client credentials token and returns it with its kid.
func (f *fixture) issue(t *testing.T, cr usecase.Credentials) (string, string) {
	t.Helper()
	tok, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cr})
	if err != nil {
		t.Fatalf("client credentials: %v", err)
	}
	head, _, _ := strings.Cut(tok.AccessToken, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken, h.Kid
}

// publishedKIDs lists the kids of the ring's JWKS.
func (f *fixture) publishedKIDs(t *testing.T) []string {
	t.Helper()
	b, err := f.ring.JWKS(f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct{ Kid string }
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

func (f *fixture) keyByID(t *testing.T, kid string) domain.SigningKey {
	t.Helper()
	list, err := f.keys.List(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range list {
		if k.ID == kid {
			return k
		}
	}
	t.Fatalf("key %s not listed", kid)
	return domain.SigningKey{}
}

// TestKeys_RevokeTheSigningKey (issue 18, finding 9): revoking the key that signs
// takes it out of the JWKS and out of verification, so every token it signed is
// inactive (also one the verifier had cached), and a replacement of its alg signs at
// once, whatever the activation delay. A second revocation changes nothing; an
// unknown kid is ErrNotFound; the key never comes back.
func TestKeys_RevokeTheSigningKey(t *testing.T) {
	f := newFixture(t)
	_, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}})
	keys := f.keysWith(95*time.Second, 0) // a shared database's delay: a revocation ignores it
	tok, oldKID := f.issue(t, cr)
	if !f.active(t, cr, tok) { // verified, and so cached by the verifier
		t.Fatal("a fresh token is not active")
	}
	rs := f.signingKey(t, domain.AlgRS256)

	f.clock.Advance(time.Second)
	rev, err := keys.Revoke(f.ctx, oldKID)
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	if rev.AlreadyRevoked || rev.Key.ID != oldKID || rev.Key.RevokedAt == nil || !rev.Key.RevokedAt.Equal(now) ||
		rev.Key.State(now) != domain.KeyRevoked {
		t.Fatalf("revocation: %+v", rev.Key)
	}
	repl := rev.Replacement
	if repl == nil || repl.Alg != domain.AlgES256 || repl.ID == oldKID || repl.State(now) != domain.KeyActive || !repl.ActivatesAt.Equal(now) {
		t.Fatalf("replacement: %+v, want an ES256 key signing from now", repl)
	}
	if err := f.ring.Reload(f.ctx); err != nil { // what the change feed does on every instance
		t.Fatal(err)
	}
	if f.active(t, cr, tok) {
		t.Error("a token of the revoked key is still active")
	}
	if _, err := f.verifier.VerifyAccessToken(f.ctx, tok); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("verifying a token of the revoked key: %v, want ErrInvalidToken", err)
	}
	kids := f.publishedKIDs(t)
	if slices.Contains(kids, oldKID) || !slices.Contains(kids, repl.ID) || !slices.Contains(kids, rs.ID) {
		t.Errorf("JWKS kids %v: want the replacement %s and the RS256 key, not the revoked %s", kids, repl.ID, oldKID)
	}
	fresh, kid := f.issue(t, cr)
	if kid != repl.ID || !f.active(t, cr, fresh) {
		t.Errorf("a new token is signed by %s (active %v), want the replacement %s", kid, f.active(t, cr, fresh), repl.ID)
	}
	if got := f.signingKey(t, domain.AlgRS256); got.ID != rs.ID {
		t.Errorf("revoking the ES256 key replaced the RS256 key too")
	}

	// Twice: harmless, and it says so.
	f.clock.Advance(time.Minute)
	again, err := keys.Revoke(f.ctx, oldKID)
	if err != nil || !again.AlreadyRevoked || again.Replacement != nil || !again.Key.RevokedAt.Equal(*rev.Key.RevokedAt) {
		t.Fatalf("second revocation: %+v, %v", again, err)
	}
	if got := f.signingKey(t, domain.AlgES256); got.ID != repl.ID {
		t.Errorf("a second revocation changed the signing key to %s", got.ID)
	}
	if _, err := keys.Revoke(f.ctx, "no-such-kid"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("revoking an unknown kid: %v, want ErrNotFound", err)
	}

	// Never back: not by Ensure, not by rotations, not after every delay has passed.
	if err := keys.Ensure(f.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Rotate(f.ctx, "", true); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Rotate(f.ctx, "", false); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Hour)
	if err := f.ring.Reload(f.ctx); err != nil {
		t.Fatal(err)
	}
	if k := f.keyByID(t, oldKID); k.State(f.clock.Now()) != domain.KeyRevoked || k.Published(f.clock.Now()) {
		t.Errorf("the revoked key came back: %+v", k)
	}
	if slices.Contains(f.publishedKIDs(t), oldKID) {
		t.Error("the revoked key is back in the JWKS")
	}
	if _, kid := f.issue(t, cr); kid == oldKID {
		t.Error("the revoked key signs again")
	}
}

// TestKeys_RevokeThePendingKey: a rotated-in key that has not signed yet is revoked;
// it never signs, and since the old key was to stop at its activation, a replacement
// signs at once (the old key retires then, still published for its tokens).
func TestKeys_RevokeThePendingKey(t *testing.T) {
	f := newFixture(t)
	_, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}})
	keys := f.keysWith(95*time.Second, 0)
	oldTok, oldKID := f.issue(t, cr)
	pending, err := keys.Rotate(f.ctx, "", false)
	if err != nil || pending.State(f.clock.Now()) != domain.KeyNext {
		t.Fatalf("rotate: %+v %v", pending, err)
	}
	f.clock.Advance(10 * time.Second)
	rev, err := keys.Revoke(f.ctx, pending.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Replacement == nil || rev.Replacement.State(f.clock.Now()) != domain.KeyActive {
		t.Fatalf("revoking the pending key: replacement %+v, want one that signs now", rev.Replacement)
	}
	if err := f.ring.Reload(f.ctx); err != nil {
		t.Fatal(err)
	}
	if _, kid := f.issue(t, cr); kid != rev.Replacement.ID {
		t.Errorf("%s signs, want the replacement %s", kid, rev.Replacement.ID)
	}
	f.clock.Advance(2 * time.Minute) // past the revoked key's activation time
	if _, kid := f.issue(t, cr); kid != rev.Replacement.ID {
		t.Errorf("after the revoked key's activation time %s signs, want the replacement", kid)
	}
	kids := f.publishedKIDs(t)
	if slices.Contains(kids, pending.ID) || !slices.Contains(kids, oldKID) {
		t.Errorf("JWKS kids %v: want the old key %s (its tokens live), not the revoked %s", kids, oldKID, pending.ID)
	}
	if !f.active(t, cr, oldTok) {
		t.Error("a token of the old, not revoked, key is no longer active")
	}
	if st := f.keyByID(t, oldKID).State(f.clock.Now()); st != domain.KeyRetired {
		t.Errorf("the old key is %s, want retired", st)
	}
}

// TestKeys_RevokeARetiredKey: a key that no longer signs is revoked without a
// replacement; its tokens die, the signing key stays.
func TestKeys_RevokeARetiredKey(t *testing.T) {
	f := newFixture(t)
	_, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}})
	oldTok, oldKID := f.issue(t, cr)
	cur, err := f.keys.Rotate(f.ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ring.Reload(f.ctx); err != nil {
		t.Fatal(err)
	}
	if !f.active(t, cr, oldTok) {
		t.Fatal("a token of the retired key must stay active until revoked")
	}
	f.clock.Advance(time.Second)
	rev, err := f.keys.Revoke(f.ctx, oldKID)
	if err != nil || rev.Replacement != nil || rev.AlreadyRevoked {
		t.Fatalf("revoking a retired key: %+v, %v; want no replacement", rev, err)
	}
	if err := f.ring.Reload(f.ctx); err != nil {
		t.Fatal(err)
	}
	if f.active(t, cr, oldTok) {
		t.Error("a token of the revoked key is still active")
	}
	if _, kid := f.issue(t, cr); kid != cur.ID {
		t.Errorf("%s signs, want the current key %s", kid, cur.ID)
	}
}
