package domain

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var keyT0 = time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)

func timePtr(t time.Time) *time.Time { return &t }

func TestSigningKeyState(t *testing.T) {
	at := func(d time.Duration) time.Time { return keyT0.Add(d) }
	first := SigningKey{ID: "first", CreatedAt: at(-time.Hour)} // no activation time: from the start
	pending := SigningKey{ID: "next", CreatedAt: at(0), ActivatesAt: at(time.Minute)}
	retiring := SigningKey{ID: "old", CreatedAt: at(-time.Hour), RetiredAt: timePtr(at(time.Minute)), ExpiresAt: timePtr(at(20 * time.Minute))}
	cases := []struct {
		key       SigningKey
		now       time.Time
		want      KeyState
		published bool
	}{
		{first, at(-2 * time.Hour), KeyActive, true}, // zero ActivatesAt: even before CreatedAt
		{first, at(0), KeyActive, true},
		{pending, at(0), KeyNext, true}, // published before it signs
		{pending, at(time.Minute - time.Nanosecond), KeyNext, true},
		{pending, at(time.Minute), KeyActive, true},
		{retiring, at(0), KeyActive, true}, // signs until its successor starts
		{retiring, at(time.Minute), KeyRetired, true},
		{retiring, at(20*time.Minute - time.Nanosecond), KeyRetired, true},
		{retiring, at(20 * time.Minute), KeyRetired, false},
	}
	for _, c := range cases {
		if got := c.key.State(c.now); got != c.want {
			t.Errorf("%s at %v: %s, want %s", c.key.ID, c.now, got, c.want)
		}
		if got := c.key.SignsAt(c.now); got != (c.want == KeyActive) {
			t.Errorf("%s at %v: SignsAt %v", c.key.ID, c.now, got)
		}
		if got := c.key.Published(c.now); got != c.published {
			t.Errorf("%s at %v: Published %v, want %v", c.key.ID, c.now, got, c.published)
		}
	}
	if !first.ActivationTime().Equal(first.CreatedAt) || !pending.ActivationTime().Equal(pending.ActivatesAt) {
		t.Error("ActivationTime: ActivatesAt, or CreatedAt when zero")
	}
	if !pending.Current() || retiring.Current() {
		t.Error("Current: a key no rotation retired yet")
	}
}

// TestSigningKeyRevoked: a revoked key never signs and is never published, whatever
// its other times say; it is not current, so a rotation never counts it.
func TestSigningKeyRevoked(t *testing.T) {
	at := func(d time.Duration) time.Time { return keyT0.Add(d) }
	revoked := func(k SigningKey) SigningKey { k.RevokedAt = timePtr(at(0)); return k }
	keys := []SigningKey{
		revoked(SigningKey{ID: "signing", Alg: AlgES256, CreatedAt: at(-time.Hour)}),
		revoked(SigningKey{ID: "pending", Alg: AlgRS256, CreatedAt: at(0), ActivatesAt: at(time.Hour)}),
		revoked(SigningKey{ID: "retired", Alg: AlgEdDSA, CreatedAt: at(-time.Hour), RetiredAt: timePtr(at(-time.Minute)),
			ExpiresAt: timePtr(at(time.Hour))}),
	}
	for _, k := range keys {
		for _, now := range []time.Time{at(-2 * time.Hour), at(0), at(2 * time.Hour)} {
			if k.State(now) != KeyRevoked || k.SignsAt(now) || k.Published(now) || k.SignsNowOrLater(now) {
				t.Errorf("revoked %s at %v: state %s, signs %v, published %v", k.ID, now, k.State(now), k.SignsAt(now), k.Published(now))
			}
		}
		if k.Current() || !k.Revoked() {
			t.Errorf("revoked %s: Current %v, Revoked %v", k.ID, k.Current(), k.Revoked())
		}
		if _, ok := SigningKeyAt(keys, k.Alg, at(2*time.Hour)); ok {
			t.Errorf("a revoked %s key signs", k.Alg)
		}
		if _, ok := CurrentKey(keys, k.Alg); ok {
			t.Errorf("a revoked %s key is current", k.Alg)
		}
	}
	// Not revoked: SignsNowOrLater is "not retired by now".
	pending := SigningKey{ID: "p", CreatedAt: at(0), ActivatesAt: at(time.Hour)}
	retiring := SigningKey{ID: "r", CreatedAt: at(-time.Hour), RetiredAt: timePtr(at(time.Minute))}
	if !pending.SignsNowOrLater(at(0)) || !retiring.SignsNowOrLater(at(0)) || retiring.SignsNowOrLater(at(time.Minute)) {
		t.Error("SignsNowOrLater: true until the key retires")
	}
}

func TestSigningKeyAtFollowsTheRotation(t *testing.T) {
	at := func(d time.Duration) time.Time { return keyT0.Add(d) }
	// A delayed rotation at t0 with a 90 s delay, of ES256 only.
	keys := []SigningKey{
		{ID: "rs", Alg: AlgRS256, CreatedAt: at(-time.Hour)},
		{ID: "es-old", Alg: AlgES256, CreatedAt: at(-time.Hour), RetiredAt: timePtr(at(90 * time.Second)), ExpiresAt: timePtr(at(time.Hour))},
		{ID: "es-new", Alg: AlgES256, CreatedAt: at(0), ActivatesAt: at(90 * time.Second)},
	}
	for _, c := range []struct {
		alg  string
		now  time.Time
		want string
	}{
		{AlgES256, at(0), "es-old"},
		{AlgES256, at(90*time.Second - time.Nanosecond), "es-old"},
		{AlgES256, at(90 * time.Second), "es-new"},
		{AlgES256, at(48 * time.Hour), "es-new"},
		{AlgRS256, at(90 * time.Second), "rs"},
		{AlgEdDSA, at(0), ""},
	} {
		k, ok := SigningKeyAt(keys, c.alg, c.now)
		if k.ID != c.want || ok != (c.want != "") {
			t.Errorf("%s at %v: %q (%v), want %q", c.alg, c.now, k.ID, ok, c.want)
		}
	}
	if k, ok := CurrentKey(keys, AlgES256); !ok || k.ID != "es-new" {
		t.Errorf("current ES256 key %q, want es-new (pending, but current)", k.ID)
	}
	// Windows that overlap (a store edited by hand): the key activated last signs.
	overlap := []SigningKey{
		{ID: "a", Alg: AlgES256, CreatedAt: at(0)},
		{ID: "b", Alg: AlgES256, CreatedAt: at(time.Second)},
	}
	if k, _ := SigningKeyAt(overlap, AlgES256, at(time.Hour)); k.ID != "b" {
		t.Errorf("overlapping keys: %s signs, want the later one", k.ID)
	}
}

func TestRotationDue(t *testing.T) {
	at := func(d time.Duration) time.Time { return keyT0.Add(d) }
	signing := SigningKey{ID: "k", Alg: AlgES256, CreatedAt: at(0)}
	pending := SigningKey{ID: "p", Alg: AlgES256, CreatedAt: at(25 * time.Hour), ActivatesAt: at(25*time.Hour + time.Minute)}
	retired := signing
	retired.RetiredAt = timePtr(pending.ActivatesAt)
	for _, c := range []struct {
		name     string
		keys     []SigningKey
		now      time.Time
		interval time.Duration
		due      string
	}{
		{"off", []SigningKey{signing}, at(100 * time.Hour), 0, ""},
		{"younger than the interval", []SigningKey{signing}, at(24*time.Hour - time.Nanosecond), 24 * time.Hour, ""},
		{"as old as the interval", []SigningKey{signing}, at(24 * time.Hour), 24 * time.Hour, "k"},
		{"a successor is pending", []SigningKey{retired, pending}, at(25*time.Hour + time.Second), 24 * time.Hour, ""},
		{"the successor signs, young", []SigningKey{retired, pending}, at(26 * time.Hour), 24 * time.Hour, ""},
		{"the successor is due in its turn", []SigningKey{retired, pending}, at(49 * time.Hour), 24 * time.Hour, "p"},
		{"no key of the alg", nil, at(0), time.Hour, ""},
	} {
		k, due := RotationDue(c.keys, AlgES256, c.now, c.interval)
		if due != (c.due != "") || k.ID != c.due {
			t.Errorf("%s: due %v, key %q; want %q", c.name, due, k.ID, c.due)
		}
	}
}

func TestKeyPendingError(t *testing.T) {
	err := fmt.Errorf("rotate: %w", &KeyPendingError{Alg: AlgES256, KID: "kid1", ActivatesAt: keyT0})
	var pe *KeyPendingError
	if !errors.Is(err, ErrKeyPending) || !errors.As(err, &pe) || errors.Is(err, ErrKeyRotated) {
		t.Fatalf("errors.Is/As on %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "kid1") || !strings.Contains(msg, "2026-03-06T12:00:00Z") || strings.Contains(msg, "\n") {
		t.Errorf("message %q", msg)
	}
}
