package repotest

import (
	"slices"
	"testing"
	"time"

	"gatehouse/domain"
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
		checkKey(t, k1, got[0])
		checkKey(t, k2, got[1])
	})

	t.Run("OneActiveKeyPerAlg", func(t *testing.T) {
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

	t.Run("RotateRetiresTheActiveKey", func(t *testing.T) {
		alg, otherAlg := newAlg(), newAlg()
		old := newKey(alg, base)
		other := newKey(otherAlg, base)
		noErr(t, s.Keys.CreateKey(t.Context(), old))
		noErr(t, s.Keys.CreateKey(t.Context(), other))

		next := newKey(alg, base.Add(time.Hour))
		oldExpires := base.Add(time.Hour + 16*time.Minute)
		noErr(t, s.Keys.RotateKey(t.Context(), next, oldExpires))

		gotOld := find(t, old.ID)
		if gotOld.Active() {
			t.Error("old key still active")
		}
		sameTimePtr(t, "old retired_at", &next.CreatedAt, gotOld.RetiredAt)
		sameTimePtr(t, "old expires_at", &oldExpires, gotOld.ExpiresAt)
		if !gotOld.Published(base.Add(time.Hour)) || gotOld.Published(oldExpires) {
			t.Error("old key must stay published until it expires, and no longer")
		}
		checkKey(t, next, find(t, next.ID))
		if !find(t, other.ID).Active() {
			t.Error("rotating one alg retired another")
		}

		// Rotating again retires the key the last rotation made, not the old one again.
		third := newKey(alg, base.Add(2*time.Hour))
		noErr(t, s.Keys.RotateKey(t.Context(), third, base.Add(3*time.Hour)))
		sameTimePtr(t, "old retired_at after second rotation", &next.CreatedAt, find(t, old.ID).RetiredAt)
		sameTimePtr(t, "second retired_at", &third.CreatedAt, find(t, next.ID).RetiredAt)
		if !find(t, third.ID).Active() {
			t.Error("newest key not active")
		}
	})

	t.Run("RotateWithoutActiveKey", func(t *testing.T) {
		k := newKey(newAlg(), base)
		noErr(t, s.Keys.RotateKey(t.Context(), k, base.Add(time.Hour)))
		checkKey(t, k, find(t, k.ID))
	})
}

func checkKey(t *testing.T, want, got domain.SigningKey) {
	t.Helper()
	if got.ID != want.ID || got.Alg != want.Alg {
		t.Errorf("key = %s/%s, want %s/%s", got.ID, got.Alg, want.ID, want.Alg)
	}
	sameBytes(t, "private key", want.PrivateKey, got.PrivateKey)
	sameBytes(t, "public key", want.PublicKey, got.PublicKey)
	sameTime(t, "created_at", want.CreatedAt, got.CreatedAt)
	sameTimePtr(t, "retired_at", want.RetiredAt, got.RetiredAt)
	sameTimePtr(t, "expires_at", want.ExpiresAt, got.ExpiresAt)
}
