package repotest

import (
	"testing"
	"time"

	"gatehouse/domain"
)

func (s *suite) consents(t *testing.T) {
	t.Run("SaveAndRead", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		want := domain.Consent{UserID: u.ID, ClientID: c.ID, Scope: []string{"openid", "profile", "api:read"}, GrantedAt: base}
		noErr(t, s.Consents.SaveConsent(t.Context(), want))
		got, err := s.Consents.ConsentFor(t.Context(), u.ID, c.ID)
		noErr(t, err)
		checkConsent(t, want, got)
	})

	t.Run("NotFound", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		_, err := s.Consents.ConsentFor(t.Context(), u.ID, c.ID)
		wantErr(t, err, domain.ErrNotFound)
	})

	t.Run("SaveReplaces", func(t *testing.T) {
		u, c, other := s.newUser(t), s.newClient(t), s.newClient(t)
		noErr(t, s.Consents.SaveConsent(t.Context(), domain.Consent{UserID: u.ID, ClientID: c.ID, Scope: []string{"openid"}, GrantedAt: base}))
		kept := domain.Consent{UserID: u.ID, ClientID: other.ID, Scope: []string{"email"}, GrantedAt: base}
		noErr(t, s.Consents.SaveConsent(t.Context(), kept))

		later := domain.Consent{UserID: u.ID, ClientID: c.ID, Scope: []string{"profile"}, GrantedAt: base.Add(time.Hour)}
		noErr(t, s.Consents.SaveConsent(t.Context(), later))
		got, err := s.Consents.ConsentFor(t.Context(), u.ID, c.ID)
		noErr(t, err)
		checkConsent(t, later, got)
		// Consents are per client.
		got, err = s.Consents.ConsentFor(t.Context(), u.ID, other.ID)
		noErr(t, err)
		checkConsent(t, kept, got)
	})

	t.Run("UnknownUserOrClient", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		err := s.Consents.SaveConsent(t.Context(), domain.Consent{UserID: newID("missing"), ClientID: c.ID, GrantedAt: base})
		wantErr(t, err, domain.ErrNotFound)
		err = s.Consents.SaveConsent(t.Context(), domain.Consent{UserID: u.ID, ClientID: newID("missing"), GrantedAt: base})
		wantErr(t, err, domain.ErrNotFound)
	})
}

func checkConsent(t *testing.T, want, got domain.Consent) {
	t.Helper()
	if got.UserID != want.UserID || got.ClientID != want.ClientID {
		t.Errorf("consent = %+v, want %+v", got, want)
	}
	sameList(t, "scope", want.Scope, got.Scope)
	sameTime(t, "granted_at", want.GrantedAt, got.GrantedAt)
}
