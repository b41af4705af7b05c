package repotest

import (
	"slices"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// registeredClients checks UpdateRegisteredClient when the client store has it.
func (s *suite) registeredClients(t *testing.T) {
	store, ok := s.Clients.(usecase.ClientRegistrationStore)
	if !ok {
		t.Skip("the client store is no ClientRegistrationStore")
	}
	t.Run("UpdateKeepsIdentity", func(t *testing.T) {
		c := s.newClient(t)
		upd := c
		upd.Name = c.Name + " renamed"
		upd.RedirectURIs = []string{"https://new.example.com/cb", "http://127.0.0.1/cb"}
		upd.GrantTypes = []string{domain.GrantAuthorizationCode}
		upd.Scopes = []string{"openid"}
		upd.PostLogoutRedirectURIs = []string{"https://new.example.com/bye"}
		upd.RequirePAR = true
		upd.RegistrationTokenHash = newHash()
		upd.UpdatedAt = base.Add(time.Hour)
		// What the update must not touch.
		upd.SecretHash, upd.CreatedAt, upd.Public = newHash(), base.Add(time.Hour), true
		noErr(t, store.UpdateRegisteredClient(t.Context(), upd, nil))
		got, err := store.ClientByID(t.Context(), c.ID)
		noErr(t, err)
		want := upd
		want.SecretHash, want.CreatedAt, want.Public = c.SecretHash, c.CreatedAt, c.Public
		checkClient(t, want, got)
		if !got.RequirePAR {
			t.Errorf("require_par not updated")
		}
		sameBytes(t, "registration token hash", upd.RegistrationTokenHash, got.RegistrationTokenHash)
	})
	t.Run("UnknownAndDuplicate", func(t *testing.T) {
		wantErr(t, store.UpdateRegisteredClient(t.Context(), domain.Client{ID: newID("missing"), Name: "x", UpdatedAt: base}, nil), domain.ErrNotFound)
		a, b := s.newClient(t), s.newClient(t)
		b.Name = a.Name
		wantErr(t, store.UpdateRegisteredClient(t.Context(), b, nil), domain.ErrDuplicate)
	})
	t.Run("TokenHashIsCompareAndSet", func(t *testing.T) {
		c := s.newClient(t)
		c.RegistrationTokenHash = newHash()
		noErr(t, store.UpdateRegisteredClient(t.Context(), c, nil))
		// A stale hash changes nothing.
		stale := c
		stale.Name, stale.RegistrationTokenHash = c.Name+" stale", newHash()
		wantErr(t, store.UpdateRegisteredClient(t.Context(), stale, newHash()), domain.ErrNotFound)
		got, err := store.ClientByID(t.Context(), c.ID)
		noErr(t, err)
		checkClient(t, c, got)
		sameBytes(t, "registration token hash after a stale update", c.RegistrationTokenHash, got.RegistrationTokenHash)
		// Racing rotations of one hash: exactly one wins, and its hash is the one kept.
		next := make([][]byte, concurrency)
		for i := range next {
			next[i] = newHash()
		}
		errs := race(concurrency, func(i int) error {
			upd := c
			upd.RegistrationTokenHash, upd.UpdatedAt = next[i], base.Add(time.Duration(i+1)*time.Second)
			return store.UpdateRegisteredClient(t.Context(), upd, c.RegistrationTokenHash)
		})
		ok, lost := outcomes(t, errs, domain.ErrNotFound)
		if ok != 1 || lost != concurrency-1 {
			t.Fatalf("%d of %d racing rotations of one registration token won (%d lost), want exactly 1", ok, concurrency, lost)
		}
		winner := slices.IndexFunc(errs, func(err error) bool { return err == nil })
		got, err = store.ClientByID(t.Context(), c.ID)
		noErr(t, err)
		sameBytes(t, "registration token hash after the race", next[winner], got.RegistrationTokenHash)
	})
}
