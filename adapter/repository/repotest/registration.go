package repotest

import (
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
		noErr(t, store.UpdateRegisteredClient(t.Context(), upd))
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
		wantErr(t, store.UpdateRegisteredClient(t.Context(), domain.Client{ID: newID("missing"), Name: "x", UpdatedAt: base}), domain.ErrNotFound)
		a, b := s.newClient(t), s.newClient(t)
		b.Name = a.Name
		wantErr(t, store.UpdateRegisteredClient(t.Context(), b), domain.ErrDuplicate)
	})
}
