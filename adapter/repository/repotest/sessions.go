package repotest

import (
	"testing"
	"time"

	"gatehouse/domain"
)

func (s *suite) sessions(t *testing.T) {
	newSession := func(u domain.User) domain.Session {
		return domain.Session{
			ID: newID("s"), SecretHash: newHash(), UserID: u.ID,
			AuthTime: base.Add(-time.Second), CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour),
		}
	}

	t.Run("CreateReadDelete", func(t *testing.T) {
		u := s.newUser(t)
		want := newSession(u)
		noErr(t, s.Sessions.CreateSession(t.Context(), want))
		got, err := s.Sessions.SessionByHash(t.Context(), want.SecretHash)
		noErr(t, err)
		if got.ID != want.ID || got.UserID != want.UserID {
			t.Errorf("session = %+v, want %+v", got, want)
		}
		sameBytes(t, "secret hash", want.SecretHash, got.SecretHash)
		sameTime(t, "auth_time", want.AuthTime, got.AuthTime)
		sameTime(t, "created_at", want.CreatedAt, got.CreatedAt)
		sameTime(t, "expires_at", want.ExpiresAt, got.ExpiresAt)

		noErr(t, s.Sessions.DeleteSession(t.Context(), want.ID))
		_, err = s.Sessions.SessionByHash(t.Context(), want.SecretHash)
		wantErr(t, err, domain.ErrNotFound)
		// Logging out twice is fine.
		noErr(t, s.Sessions.DeleteSession(t.Context(), want.ID))
	})

	t.Run("DeleteUserSessions", func(t *testing.T) {
		u, other := s.newUser(t), s.newUser(t)
		mine := []domain.Session{newSession(u), newSession(u), newSession(u)}
		for _, sess := range mine {
			noErr(t, s.Sessions.CreateSession(t.Context(), sess))
		}
		theirs := newSession(other)
		noErr(t, s.Sessions.CreateSession(t.Context(), theirs))

		noErr(t, s.Sessions.DeleteUserSessions(t.Context(), u.ID))
		for _, sess := range mine {
			_, err := s.Sessions.SessionByHash(t.Context(), sess.SecretHash)
			wantErr(t, err, domain.ErrNotFound)
		}
		// Another user's session stays.
		got, err := s.Sessions.SessionByHash(t.Context(), theirs.SecretHash)
		noErr(t, err)
		if got.ID != theirs.ID {
			t.Errorf("other user's session = %+v", got)
		}
		// Nothing left to delete, or no such user: not an error.
		noErr(t, s.Sessions.DeleteUserSessions(t.Context(), u.ID))
		noErr(t, s.Sessions.DeleteUserSessions(t.Context(), newID("missing")))
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := s.Sessions.SessionByHash(t.Context(), newHash())
		wantErr(t, err, domain.ErrNotFound)
	})

	t.Run("Duplicates", func(t *testing.T) {
		u := s.newUser(t)
		first := newSession(u)
		noErr(t, s.Sessions.CreateSession(t.Context(), first))
		sameSecret := newSession(u)
		sameSecret.SecretHash = first.SecretHash
		wantErr(t, s.Sessions.CreateSession(t.Context(), sameSecret), domain.ErrDuplicate)
		sameID := newSession(u)
		sameID.ID = first.ID
		wantErr(t, s.Sessions.CreateSession(t.Context(), sameID), domain.ErrDuplicate)
	})

	t.Run("UnknownUser", func(t *testing.T) {
		sess := newSession(domain.User{ID: newID("missing")})
		wantErr(t, s.Sessions.CreateSession(t.Context(), sess), domain.ErrNotFound)
	})
}
