package repotest

import (
	"strings"
	"testing"
	"time"

	"gatehouse/domain"
)

// loopbackCB is a public client's loopback redirect URI as a request used it.
const loopbackCB = "http://127.0.0.1:49152/cb"

func (s *suite) consents(t *testing.T) {
	t.Run("SaveAndRead", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		for _, uri := range []string{"", loopbackCB} {
			want := domain.Consent{UserID: u.ID, ClientID: c.ID, RedirectURI: uri, Scope: []string{"openid", "profile", "api:read"}, GrantedAt: base}
			noErr(t, s.Consents.SaveConsent(t.Context(), want))
			got, err := s.Consents.ConsentFor(t.Context(), u.ID, c.ID, uri)
			noErr(t, err)
			checkConsent(t, want, got)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		_, err := s.Consents.ConsentFor(t.Context(), u.ID, c.ID, "")
		wantErr(t, err, domain.ErrNotFound)
		_, err = s.Consents.ConsentFor(t.Context(), u.ID, c.ID, loopbackCB)
		wantErr(t, err, domain.ErrNotFound)
	})

	// A consent bound to a redirect URI answers for exactly that URI: not another
	// port, not another path, not a case change, and not "" (every URI); a consent for
	// every URI answers for none of the bound lookups.
	t.Run("PerRedirectURI", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		bound := domain.Consent{UserID: u.ID, ClientID: c.ID, RedirectURI: loopbackCB, Scope: []string{"openid"}, GrantedAt: base}
		noErr(t, s.Consents.SaveConsent(t.Context(), bound))
		for _, other := range []string{"", "http://127.0.0.1:49153/cb", "http://127.0.0.1/cb", "http://127.0.0.1:49152/cb/",
			"http://127.0.0.1:49152/CB", "http://[::1]:49152/cb"} {
			_, err := s.Consents.ConsentFor(t.Context(), u.ID, c.ID, other)
			wantErr(t, err, domain.ErrNotFound)
		}

		u2 := s.newUser(t)
		all := domain.Consent{UserID: u2.ID, ClientID: c.ID, Scope: []string{"email"}, GrantedAt: base}
		noErr(t, s.Consents.SaveConsent(t.Context(), all))
		_, err := s.Consents.ConsentFor(t.Context(), u2.ID, c.ID, loopbackCB)
		wantErr(t, err, domain.ErrNotFound)

		// Both kinds side by side for one user and client, each kept apart.
		noErr(t, s.Consents.SaveConsent(t.Context(), domain.Consent{UserID: u.ID, ClientID: c.ID, Scope: []string{"email"}, GrantedAt: base}))
		got, err := s.Consents.ConsentFor(t.Context(), u.ID, c.ID, loopbackCB)
		noErr(t, err)
		checkConsent(t, bound, got)
	})

	// Redirect URIs may be up to 2000 characters (domain.ValidateRedirectURI): longer
	// than any key column, so the key is a hash; two URIs alike but for their last
	// character stay apart.
	t.Run("LongRedirectURI", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		long := "http://127.0.0.1:50000/" + strings.Repeat("p", 1970)
		a := domain.Consent{UserID: u.ID, ClientID: c.ID, RedirectURI: long + "a", Scope: []string{"openid"}, GrantedAt: base}
		b := domain.Consent{UserID: u.ID, ClientID: c.ID, RedirectURI: long + "b", Scope: []string{"email"}, GrantedAt: base}
		noErr(t, s.Consents.SaveConsent(t.Context(), a))
		noErr(t, s.Consents.SaveConsent(t.Context(), b))
		got, err := s.Consents.ConsentFor(t.Context(), u.ID, c.ID, a.RedirectURI)
		noErr(t, err)
		checkConsent(t, a, got)
		got, err = s.Consents.ConsentFor(t.Context(), u.ID, c.ID, b.RedirectURI)
		noErr(t, err)
		checkConsent(t, b, got)
	})

	t.Run("SaveReplaces", func(t *testing.T) {
		u, c, other := s.newUser(t), s.newClient(t), s.newClient(t)
		for _, uri := range []string{"", loopbackCB} {
			noErr(t, s.Consents.SaveConsent(t.Context(), domain.Consent{UserID: u.ID, ClientID: c.ID, RedirectURI: uri, Scope: []string{"openid"}, GrantedAt: base}))
		}
		kept := domain.Consent{UserID: u.ID, ClientID: other.ID, Scope: []string{"email"}, GrantedAt: base}
		noErr(t, s.Consents.SaveConsent(t.Context(), kept))
		keptURI := domain.Consent{UserID: u.ID, ClientID: c.ID, RedirectURI: loopbackCB, Scope: []string{"openid"}, GrantedAt: base}

		later := domain.Consent{UserID: u.ID, ClientID: c.ID, Scope: []string{"profile"}, GrantedAt: base.Add(time.Hour)}
		noErr(t, s.Consents.SaveConsent(t.Context(), later))
		got, err := s.Consents.ConsentFor(t.Context(), u.ID, c.ID, "")
		noErr(t, err)
		checkConsent(t, later, got)
		// Consents are per client, and per redirect URI.
		got, err = s.Consents.ConsentFor(t.Context(), u.ID, other.ID, "")
		noErr(t, err)
		checkConsent(t, kept, got)
		got, err = s.Consents.ConsentFor(t.Context(), u.ID, c.ID, loopbackCB)
		noErr(t, err)
		checkConsent(t, keptURI, got)

		laterURI := domain.Consent{UserID: u.ID, ClientID: c.ID, RedirectURI: loopbackCB, Scope: []string{"email"}, GrantedAt: base.Add(2 * time.Hour)}
		noErr(t, s.Consents.SaveConsent(t.Context(), laterURI))
		got, err = s.Consents.ConsentFor(t.Context(), u.ID, c.ID, loopbackCB)
		noErr(t, err)
		checkConsent(t, laterURI, got)
		got, err = s.Consents.ConsentFor(t.Context(), u.ID, c.ID, "")
		noErr(t, err)
		checkConsent(t, later, got)
	})

	// The account page lists a user's consents of both kinds and deletes those for one
	// client, every redirect URI at once; other clients and other users keep theirs.
	t.Run("UserConsentsAndDelete", func(t *testing.T) {
		u, other, c, c2 := s.newUser(t), s.newUser(t), s.newClient(t), s.newClient(t)
		got, err := s.Consents.UserConsents(t.Context(), u.ID)
		noErr(t, err)
		if len(got) != 0 {
			t.Fatalf("a new user has consents: %+v", got)
		}
		all := domain.Consent{UserID: u.ID, ClientID: c.ID, Scope: []string{"openid", "email"}, GrantedAt: base}
		atURI := domain.Consent{UserID: u.ID, ClientID: c.ID, RedirectURI: loopbackCB, Scope: []string{"openid"}, GrantedAt: base.Add(time.Minute)}
		keep := domain.Consent{UserID: u.ID, ClientID: c2.ID, Scope: []string{"profile"}, GrantedAt: base.Add(time.Hour)}
		theirs := domain.Consent{UserID: other.ID, ClientID: c.ID, Scope: []string{"openid"}, GrantedAt: base}
		for _, x := range []domain.Consent{all, atURI, keep, theirs} {
			noErr(t, s.Consents.SaveConsent(t.Context(), x))
		}
		got, err = s.Consents.UserConsents(t.Context(), u.ID)
		noErr(t, err)
		if len(got) != 3 {
			t.Fatalf("UserConsents = %+v, want 3", got)
		}
		for _, want := range []domain.Consent{all, atURI, keep} {
			found := false
			for _, g := range got {
				if g.ClientID == want.ClientID && g.RedirectURI == want.RedirectURI {
					checkConsent(t, want, g)
					found = true
				}
			}
			if !found {
				t.Errorf("UserConsents lacks %+v", want)
			}
		}
		noErr(t, s.Consents.DeleteConsents(t.Context(), u.ID, c.ID))
		for _, uri := range []string{"", loopbackCB} {
			_, err := s.Consents.ConsentFor(t.Context(), u.ID, c.ID, uri)
			wantErr(t, err, domain.ErrNotFound)
		}
		got, err = s.Consents.UserConsents(t.Context(), u.ID)
		noErr(t, err)
		if len(got) != 1 {
			t.Fatalf("after delete: %+v, want only the other client's", got)
		}
		checkConsent(t, keep, got[0])
		g, err := s.Consents.ConsentFor(t.Context(), other.ID, c.ID, "")
		noErr(t, err)
		checkConsent(t, theirs, g)
		// Deleting what is not there is not an error.
		noErr(t, s.Consents.DeleteConsents(t.Context(), u.ID, c.ID))
		noErr(t, s.Consents.DeleteConsents(t.Context(), newID("nobody"), newID("none")))
	})

	t.Run("UnknownUserOrClient", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		for _, uri := range []string{"", loopbackCB} {
			err := s.Consents.SaveConsent(t.Context(), domain.Consent{UserID: newID("missing"), ClientID: c.ID, RedirectURI: uri, GrantedAt: base})
			wantErr(t, err, domain.ErrNotFound)
			err = s.Consents.SaveConsent(t.Context(), domain.Consent{UserID: u.ID, ClientID: newID("missing"), RedirectURI: uri, GrantedAt: base})
			wantErr(t, err, domain.ErrNotFound)
		}
	})
}

func checkConsent(t *testing.T, want, got domain.Consent) {
	t.Helper()
	if got.UserID != want.UserID || got.ClientID != want.ClientID || got.RedirectURI != want.RedirectURI {
		t.Errorf("consent = %+v, want %+v", got, want)
	}
	sameList(t, "scope", want.Scope, got.Scope)
	sameTime(t, "granted_at", want.GrantedAt, got.GrantedAt)
}
