package repotest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

func (s *suite) keys(t *testing.T) {
	// Each subtest uses algs of its own, so that the one-active-key-per-alg rule does
	// not couple subtests sharing the database. Storage does not judge alg names.
	newAlg := func() string { return "T" + randomHex(4) }
	newKey := func(alg string, created time.Time) domain.SigningKey {
		return domain.SigningKey{
			ID: newID("kid"), Alg: alg, PrivateKey: append([]byte("sealed:"), newHash()...),
			PublicKey: append([]byte{0x30, 0x59}, newHash()...), CreatedAt: created,
		}
	}
	find := func(t *testing.T, id string) domain.SigningKey {
		t.Helper()
		keys, err := s.Keys.ListKeys(t.Context())
		noErr(t, err)
		i := slices.IndexFunc(keys, func(k domain.SigningKey) bool { return k.ID == id })
		if i < 0 {
			t.Fatalf("key %s not listed", id)
		}
		return keys[i]
	}

	t.Run("CreateAndList", func(t *testing.T) {
		alg := newAlg()
		k2 := newKey(alg, base.Add(time.Hour))
		k2.ActivatesAt = base.Add(2 * time.Hour)
		retired, exp := base, base.Add(2*time.Hour)
		k1 := newKey(alg, base)
		k1.RetiredAt, k1.ExpiresAt = &retired, &exp
		noErr(t, s.Keys.CreateKey(t.Context(), k2))
		noErr(t, s.Keys.CreateKey(t.Context(), k1))

		keys, err := s.Keys.ListKeys(t.Context())
		noErr(t, err)
		var got []domain.SigningKey
		for _, k := range keys {
			if k.Alg == alg {
				got = append(got, k)
			}
		}
		if len(got) != 2 || got[0].ID != k1.ID || got[1].ID != k2.ID {
			t.Fatalf("listed %+v, want %s then %s (oldest first)", got, k1.ID, k2.ID)
		}
		checkKey(t, k1, got[0]) // activates_at zero (NULL) comes back zero
		checkKey(t, k2, got[1])
	})

	t.Run("OneCurrentKeyPerAlg", func(t *testing.T) {
		alg := newAlg()
		noErr(t, s.Keys.CreateKey(t.Context(), newKey(alg, base)))
		wantErr(t, s.Keys.CreateKey(t.Context(), newKey(alg, base)), domain.ErrDuplicate)
		noErr(t, s.Keys.CreateKey(t.Context(), newKey(newAlg(), base)))
	})

	t.Run("DuplicateKid", func(t *testing.T) {
		k := newKey(newAlg(), base)
		noErr(t, s.Keys.CreateKey(t.Context(), k))
		k.Alg = newAlg()
		wantErr(t, s.Keys.CreateKey(t.Context(), k), domain.ErrDuplicate)
	})

	t.Run("RotateRetiresTheCurrentKey", func(t *testing.T) {
		alg, otherAlg := newAlg(), newAlg()
		old := newKey(alg, base)
		other := newKey(otherAlg, base)
		noErr(t, s.Keys.CreateKey(t.Context(), old))
		noErr(t, s.Keys.CreateKey(t.Context(), other))

		// An immediate rotation: the new key signs from its creation.
		now := base.Add(time.Hour)
		next := newKey(alg, now)
		next.ActivatesAt = now
		oldExpires := now.Add(16 * time.Minute)
		noErr(t, s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: next, Now: now, OldExpiresAt: oldExpires}))

		gotOld := find(t, old.ID)
		if gotOld.Current() || gotOld.SignsAt(now) {
			t.Error("old key still current")
		}
		sameTimePtr(t, "old retired_at", &now, gotOld.RetiredAt)
		sameTimePtr(t, "old expires_at", &oldExpires, gotOld.ExpiresAt)
		if !gotOld.Published(now) || gotOld.Published(oldExpires) {
			t.Error("old key must stay published until it expires, and no longer")
		}
		checkKey(t, next, find(t, next.ID))
		if !find(t, other.ID).Current() {
			t.Error("rotating one alg retired another")
		}

		// Rotating again retires the key the last rotation made, not the old one again.
		now2 := base.Add(2 * time.Hour)
		third := newKey(alg, now2)
		noErr(t, s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: third, Now: now2, OldExpiresAt: base.Add(3 * time.Hour)}))
		sameTimePtr(t, "old retired_at after second rotation", &now, find(t, old.ID).RetiredAt)
		sameTimePtr(t, "second retired_at", &now2, find(t, next.ID).RetiredAt)
		got := find(t, third.ID)
		if !got.Current() || !got.SignsAt(now2) {
			t.Error("newest key not current")
		}
		// A zero ActivatesAt is an immediate rotation: stored as Now.
		sameTime(t, "activates_at of an immediate rotation", now2, got.ActivatesAt)
	})

	t.Run("RotateWithoutCurrentKey", func(t *testing.T) {
		k := newKey(newAlg(), base)
		k.ActivatesAt = base
		noErr(t, s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: k, Now: base, OldExpiresAt: base.Add(time.Hour)}))
		checkKey(t, k, find(t, k.ID))
	})

	// A delayed rotation publishes the new key at once; the old one signs until the
	// new one's activation, at which instant it retires.
	t.Run("DelayedRotation", func(t *testing.T) {
		alg := newAlg()
		old := newKey(alg, base)
		noErr(t, s.Keys.CreateKey(t.Context(), old))
		now := base.Add(time.Hour)
		activates := now.Add(90 * time.Second)
		oldExpires := activates.Add(16 * time.Minute)
		next := newKey(alg, now)
		next.ActivatesAt = activates
		noErr(t, s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: next, Now: now, OldExpiresAt: oldExpires}))

		gotOld, gotNext := find(t, old.ID), find(t, next.ID)
		checkKey(t, next, gotNext)
		sameTimePtr(t, "old retired_at", &activates, gotOld.RetiredAt)
		sameTimePtr(t, "old expires_at", &oldExpires, gotOld.ExpiresAt)
		keys, err := s.Keys.ListKeys(t.Context())
		noErr(t, err)
		for _, c := range []struct {
			at        time.Time
			old, next domain.KeyState
			signs     string
		}{
			{now, domain.KeyActive, domain.KeyNext, old.ID},
			{activates.Add(-time.Millisecond), domain.KeyActive, domain.KeyNext, old.ID},
			{activates, domain.KeyRetired, domain.KeyActive, next.ID},
		} {
			if gotOld.State(c.at) != c.old || gotNext.State(c.at) != c.next {
				t.Errorf("at %v: old %s, next %s; want %s, %s", c.at, gotOld.State(c.at), gotNext.State(c.at), c.old, c.next)
			}
			if k, ok := domain.SigningKeyAt(keys, alg, c.at); !ok || k.ID != c.signs {
				t.Errorf("at %v the signing key is %s (%v), want %s", c.at, k.ID, ok, c.signs)
			}
			if !gotNext.Published(c.at) || !gotOld.Published(c.at) {
				t.Errorf("at %v both keys must be published", c.at)
			}
		}

		// While it is pending, another delayed rotation is refused and changes nothing.
		third := newKey(alg, now.Add(time.Second))
		third.ActivatesAt = now.Add(time.Hour)
		err = s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: third, Now: now.Add(time.Second), OldExpiresAt: now.Add(2 * time.Hour)})
		var pe *domain.KeyPendingError
		if !errors.As(err, &pe) || !errors.Is(err, domain.ErrKeyPending) || pe.KID != next.ID || pe.Alg != alg {
			t.Fatalf("second delayed rotation: err = %v, want a KeyPendingError naming %s", err, next.ID)
		}
		sameTime(t, "pending error activates_at", activates, pe.ActivatesAt)
		checkKey(t, next, find(t, next.ID))
		sameTimePtr(t, "old retired_at after the refused rotation", &activates, find(t, old.ID).RetiredAt)
		if slices.ContainsFunc(listAlg(t, s, alg), func(k domain.SigningKey) bool { return k.ID == third.ID }) {
			t.Error("the refused key was stored")
		}

		// Once the pending key signs, the next delayed rotation goes through.
		later := activates.Add(time.Second)
		third.CreatedAt, third.ActivatesAt = later, later.Add(time.Minute)
		noErr(t, s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: third, Now: later, OldExpiresAt: later.Add(time.Hour)}))
		sameTimePtr(t, "next retired_at", &third.ActivatesAt, find(t, next.ID).RetiredAt)
		sameTimePtr(t, "old retired_at untouched", &activates, find(t, old.ID).RetiredAt)
	})

	// An immediate rotation (rotate --now) while a key is pending retires both the
	// signing key and the pending one at once; the pending one never signs.
	t.Run("ImmediateRotationReplacesPending", func(t *testing.T) {
		alg := newAlg()
		old := newKey(alg, base)
		noErr(t, s.Keys.CreateKey(t.Context(), old))
		now := base.Add(time.Hour)
		pending := newKey(alg, now)
		pending.ActivatesAt = now.Add(time.Hour)
		oldExpires := pending.ActivatesAt.Add(16 * time.Minute)
		noErr(t, s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: pending, Now: now, OldExpiresAt: oldExpires}))

		now2 := now.Add(time.Minute)
		fresh := newKey(alg, now2)
		fresh.ActivatesAt = now2
		exp2 := now2.Add(16 * time.Minute)
		noErr(t, s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: fresh, Now: now2, OldExpiresAt: exp2}))

		gotOld, gotPending, gotFresh := find(t, old.ID), find(t, pending.ID), find(t, fresh.ID)
		sameTimePtr(t, "old retired_at", &now2, gotOld.RetiredAt)
		sameTimePtr(t, "old expires_at (never earlier than before)", &oldExpires, gotOld.ExpiresAt)
		sameTimePtr(t, "pending retired_at", &now2, gotPending.RetiredAt)
		if !gotFresh.Current() || gotPending.Current() || gotOld.Current() {
			t.Error("the fresh key must be the only current one")
		}
		keys := listAlg(t, s, alg)
		for _, at := range []time.Time{now2, pending.ActivatesAt, pending.ActivatesAt.Add(time.Hour)} {
			if k, ok := domain.SigningKeyAt(keys, alg, at); !ok || k.ID != fresh.ID {
				t.Errorf("at %v the signing key is %s, want the fresh one", at, k.ID)
			}
		}
		if gotPending.SignsAt(pending.ActivatesAt) {
			t.Error("the replaced pending key signs at its activation time")
		}
	})

	// Replaces makes a rotation conditional on the current key (scheduled rotation).
	t.Run("RotateReplacesOnlyTheKeySeen", func(t *testing.T) {
		alg := newAlg()
		old := newKey(alg, base)
		noErr(t, s.Keys.CreateKey(t.Context(), old))
		now := base.Add(time.Hour)
		k1 := newKey(alg, now)
		k1.ActivatesAt = now
		noErr(t, s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: k1, Now: now, OldExpiresAt: now.Add(time.Hour), Replaces: old.ID}))
		k2 := newKey(alg, now)
		k2.ActivatesAt = now
		wantErr(t, s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: k2, Now: now, OldExpiresAt: now.Add(time.Hour), Replaces: old.ID}),
			domain.ErrKeyRotated)
		if !find(t, k1.ID).Current() {
			t.Error("a refused rotation retired the current key")
		}
	})

	// Revocation (gatehouse keys revoke): the key never signs nor is published again;
	// when it signed, the replacement signs from the revocation on and every other key
	// of the alg that would sign is retired.
	t.Run("RevokeTheSigningKey", func(t *testing.T) {
		alg := newAlg()
		old := newKey(alg, base)
		noErr(t, s.Keys.CreateKey(t.Context(), old))
		now := base.Add(time.Hour)
		pending := newKey(alg, now)
		pending.ActivatesAt = now.Add(time.Hour)
		noErr(t, s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: pending, Now: now, OldExpiresAt: pending.ActivatesAt.Add(16 * time.Minute)}))

		revokedAt := now.Add(time.Minute)
		repl := newKey(alg, revokedAt)
		replExpires := revokedAt.Add(16 * time.Minute)
		rev, err := s.Keys.RevokeKey(t.Context(), usecase.KeyRevocation{KID: old.ID, Now: revokedAt, Replacement: &repl,
			OldExpiresAt: replExpires})
		noErr(t, err)
		if rev.AlreadyRevoked || rev.Key.ID != old.ID || rev.Replacement == nil || rev.Replacement.ID != repl.ID {
			t.Fatalf("revocation: %+v", rev)
		}
		gotOld, gotPending, gotRepl := find(t, old.ID), find(t, pending.ID), find(t, repl.ID)
		sameTimePtr(t, "revoked_at", &revokedAt, gotOld.RevokedAt)
		sameTimePtr(t, "revoked key's retired_at", &revokedAt, gotOld.RetiredAt)
		sameTimePtr(t, "revoked key's expires_at", &revokedAt, gotOld.ExpiresAt)
		sameTimePtr(t, "reported revoked_at", &revokedAt, rev.Key.RevokedAt)
		sameTime(t, "replacement activates_at", revokedAt, gotRepl.ActivatesAt)
		sameTimePtr(t, "pending retired_at", &revokedAt, gotPending.RetiredAt)
		sameTimePtr(t, "pending expires_at", &replExpires, gotPending.ExpiresAt)
		if gotPending.RevokedAt != nil {
			t.Error("revoking one key revoked the pending key too")
		}
		keys := listAlg(t, s, alg)
		for _, at := range []time.Time{revokedAt, pending.ActivatesAt, pending.ActivatesAt.Add(time.Hour)} {
			if k, ok := domain.SigningKeyAt(keys, alg, at); !ok || k.ID != repl.ID {
				t.Errorf("at %v the signing key is %s, want the replacement", at, k.ID)
			}
			if gotOld.Published(at) || gotOld.SignsAt(at) {
				t.Errorf("at %v the revoked key is published or signs", at)
			}
		}
		if c, ok := domain.CurrentKey(keys, alg); !ok || c.ID != repl.ID {
			t.Errorf("the current key is %s, want the replacement", c.ID)
		}

		// Twice: nothing changes, and it says so; the replacement offered is unused.
		unused := newKey(alg, revokedAt.Add(time.Minute))
		again, err := s.Keys.RevokeKey(t.Context(), usecase.KeyRevocation{KID: old.ID, Now: revokedAt.Add(time.Minute),
			Replacement: &unused, OldExpiresAt: replExpires})
		noErr(t, err)
		if !again.AlreadyRevoked || again.Replacement != nil {
			t.Errorf("second revocation: %+v", again)
		}
		sameTimePtr(t, "revoked_at after a second revocation", &revokedAt, again.Key.RevokedAt)
		if slices.ContainsFunc(listAlg(t, s, alg), func(k domain.SigningKey) bool { return k.ID == unused.ID }) {
			t.Error("a second revocation stored a replacement")
		}
		checkKey(t, gotRepl, find(t, repl.ID))

		// Later rotations never touch the revoked key.
		later := revokedAt.Add(time.Hour)
		next := newKey(alg, later)
		noErr(t, s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: next, Now: later, OldExpiresAt: later.Add(48 * time.Hour)}))
		after := find(t, old.ID)
		sameTimePtr(t, "revoked key's expires_at after a rotation", &revokedAt, after.ExpiresAt)
		if after.State(later.Add(time.Hour)) != domain.KeyRevoked {
			t.Errorf("the revoked key is %s after a rotation", after.State(later))
		}
	})

	t.Run("RevokeARetiredKey", func(t *testing.T) {
		alg := newAlg()
		old := newKey(alg, base)
		noErr(t, s.Keys.CreateKey(t.Context(), old))
		now := base.Add(time.Hour)
		cur := newKey(alg, now)
		cur.ActivatesAt = now
		noErr(t, s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: cur, Now: now, OldExpiresAt: now.Add(time.Hour)}))
		later := now.Add(time.Minute)
		repl := newKey(alg, later) // offered, but the key no longer signs: unused
		rev, err := s.Keys.RevokeKey(t.Context(), usecase.KeyRevocation{KID: old.ID, Now: later, Replacement: &repl,
			OldExpiresAt: later.Add(time.Hour)})
		noErr(t, err)
		if rev.Replacement != nil {
			t.Errorf("revoking a retired key stored a replacement %s", rev.Replacement.ID)
		}
		sameTimePtr(t, "retired_at kept", &now, find(t, old.ID).RetiredAt)
		sameTimePtr(t, "expires_at", &later, find(t, old.ID).ExpiresAt)
		if got := find(t, cur.ID); !got.Current() || got.RetiredAt != nil {
			t.Errorf("revoking a retired key retired the current one: %+v", got)
		}
		if slices.ContainsFunc(listAlg(t, s, alg), func(k domain.SigningKey) bool { return k.ID == repl.ID }) {
			t.Error("the unused replacement was stored")
		}
	})

	t.Run("RevokeUnknownOrWithoutReplacement", func(t *testing.T) {
		_, err := s.Keys.RevokeKey(t.Context(), usecase.KeyRevocation{KID: newID("missing"), Now: base})
		wantErr(t, err, domain.ErrNotFound)
		// A signing key without a replacement is refused, and stays as it was: an alg
		// must never be left without a signer.
		k := newKey(newAlg(), base)
		noErr(t, s.Keys.CreateKey(t.Context(), k))
		if _, err := s.Keys.RevokeKey(t.Context(), usecase.KeyRevocation{KID: k.ID, Now: base.Add(time.Minute)}); err == nil {
			t.Fatal("a signing key was revoked without a replacement")
		}
		if got := find(t, k.ID); got.Revoked() || !got.Current() {
			t.Errorf("a refused revocation changed the key: %+v", got)
		}
	})
}

// listAlg lists the keys of alg.
func listAlg(t *testing.T, s *suite, alg string) []domain.SigningKey {
	t.Helper()
	keys, err := s.Keys.ListKeys(t.Context())
	noErr(t, err)
	var out []domain.SigningKey
	for _, k := range keys {
		if k.Alg == alg {
			out = append(out, k)
		}
	}
	return out
}

func checkKey(t *testing.T, want, got domain.SigningKey) {
	t.Helper()
	if got.ID != want.ID || got.Alg != want.Alg {
		t.Errorf("key = %s/%s, want %s/%s", got.ID, got.Alg, want.ID, want.Alg)
	}
	sameBytes(t, "private key", want.PrivateKey, got.PrivateKey)
	sameBytes(t, "public key", want.PublicKey, got.PublicKey)
	sameTime(t, "created_at", want.CreatedAt, got.CreatedAt)
	sameTime(t, "activates_at", want.ActivatesAt, got.ActivatesAt)
	sameTimePtr(t, "retired_at", want.RetiredAt, got.RetiredAt)
	sameTimePtr(t, "expires_at", want.ExpiresAt, got.ExpiresAt)
	sameTimePtr(t, "revoked_at", want.RevokedAt, got.RevokedAt)
}
