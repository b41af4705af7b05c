package repotest

import (
	"sync"
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// changes: every write that instances must hear of (a client updated or deleted, a
// signing key created, rotated or revoked) bumps its topic's counter exactly once, in
// its own transaction, so a write that fails or changes nothing announces nothing; and
// concurrent bumps are all counted.
func (s *suite) changes(t *testing.T) {
	if s.ChangeCounts == nil {
		t.Skip("no change counters")
	}
	counts := func(t *testing.T) map[bunrepo.Topic]int64 {
		t.Helper()
		c, err := s.ChangeCounts(t.Context())
		noErr(t, err)
		return c
	}
	// bumps runs write and checks how much each topic's counter moved.
	bumps := func(t *testing.T, what string, clients, keys int64, write func()) {
		t.Helper()
		before := counts(t)
		write()
		after := counts(t)
		if d := after[bunrepo.TopicClients] - before[bunrepo.TopicClients]; d != clients {
			t.Errorf("%s: the clients counter moved by %d, want %d", what, d, clients)
		}
		if d := after[bunrepo.TopicKeys] - before[bunrepo.TopicKeys]; d != keys {
			t.Errorf("%s: the keys counter moved by %d, want %d", what, d, keys)
		}
	}

	t.Run("ClientWrites", func(t *testing.T) {
		var c domain.Client
		bumps(t, "create a client", 0, 0, func() { c = s.newClient(t) })
		bumps(t, "rotate its secret", 1, 0, func() {
			noErr(t, s.Clients.UpdateClientSecret(t.Context(), c.ID, newHash(), base.Add(time.Hour)))
		})
		bumps(t, "rotate the secret of a missing client", 0, 0, func() {
			wantErr(t, s.Clients.UpdateClientSecret(t.Context(), newID("missing"), newHash(), base), domain.ErrNotFound)
		})
		if reg, ok := s.Clients.(usecase.ClientRegistrationStore); ok {
			bumps(t, "update a registered client", 1, 0, func() {
				upd := c
				upd.Name += " renamed"
				noErr(t, reg.UpdateRegisteredClient(t.Context(), upd, nil))
			})
		}
		bumps(t, "delete it", 1, 0, func() { noErr(t, s.Clients.DeleteClient(t.Context(), c.ID)) })
		bumps(t, "delete it again", 0, 0, func() {
			wantErr(t, s.Clients.DeleteClient(t.Context(), c.ID), domain.ErrNotFound)
		})
	})

	t.Run("KeyWrites", func(t *testing.T) {
		alg := "T" + randomHex(4)
		newKey := func(created time.Time) domain.SigningKey {
			return domain.SigningKey{ID: newID("kid"), Alg: alg, PrivateKey: append([]byte("sealed:"), newHash()...),
				PublicKey: append([]byte{0x30, 0x59}, newHash()...), CreatedAt: created}
		}
		first := newKey(base)
		bumps(t, "create a key", 0, 1, func() { noErr(t, s.Keys.CreateKey(t.Context(), first)) })
		bumps(t, "create a second current key of the alg (refused)", 0, 0, func() {
			wantErr(t, s.Keys.CreateKey(t.Context(), newKey(base)), domain.ErrDuplicate)
		})
		now := base.Add(time.Hour)
		pending := newKey(now)
		pending.ActivatesAt = now.Add(time.Minute)
		bumps(t, "a delayed rotation", 0, 1, func() {
			noErr(t, s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: pending, Now: now, OldExpiresAt: now.Add(time.Hour)}))
		})
		bumps(t, "a delayed rotation refused while one is pending", 0, 0, func() {
			k := newKey(now)
			k.ActivatesAt = now.Add(time.Minute)
			wantErr(t, s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: k, Now: now, OldExpiresAt: now.Add(time.Hour)}),
				domain.ErrKeyPending)
		})
		bumps(t, "revoke the pending key", 0, 1, func() {
			repl := newKey(now)
			_, err := s.Keys.RevokeKey(t.Context(), usecase.KeyRevocation{KID: pending.ID, Now: now, Replacement: &repl,
				OldExpiresAt: now.Add(time.Hour)})
			noErr(t, err)
		})
		bumps(t, "revoke it again", 0, 0, func() {
			rev, err := s.Keys.RevokeKey(t.Context(), usecase.KeyRevocation{KID: pending.ID, Now: now})
			noErr(t, err)
			if !rev.AlreadyRevoked {
				t.Error("a second revocation is not reported as such")
			}
		})
		bumps(t, "revoke an unknown kid", 0, 0, func() {
			_, err := s.Keys.RevokeKey(t.Context(), usecase.KeyRevocation{KID: newID("missing"), Now: now})
			wantErr(t, err, domain.ErrNotFound)
		})
	})

	// Concurrent writes each count: the counter is incremented in the database, never
	// read and written back.
	t.Run("ConcurrentBumpsAllCount", func(t *testing.T) {
		c := s.newClient(t)
		const n = 16
		bumps(t, "concurrent secret rotations", n, 0, func() {
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					errs <- s.Clients.UpdateClientSecret(t.Context(), c.ID, newHash(), base.Add(time.Duration(i)*time.Second))
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				noErr(t, err)
			}
		})
	})
}
