package repotest

import (
	"slices"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

func (s *suite) sessions(t *testing.T) {
	newSession := func(u domain.User) domain.Session {
		return domain.Session{
			ID: newID("s"), SecretHash: newHash(), UserID: u.ID,
			AuthTime: base.Add(-time.Second), CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour),
		}
	}

	t.Run("ListAndTouch", func(t *testing.T) {
		ctx := t.Context()
		u := s.newUser(t)
		older, newer, unseen := newSession(u), newSession(u), newSession(u)
		for _, x := range []domain.Session{older, newer, unseen} {
			noErr(t, s.Sessions.CreateSession(ctx, x))
		}
		ua := "Mozilla/5.0 (X11; Linux x86_64) ünïcode ☃"
		noErr(t, s.Sessions.TouchSession(ctx, older.ID, ua, "192.0.2.1", base.Add(time.Minute)))
		noErr(t, s.Sessions.TouchSession(ctx, newer.ID, "curl/8", "2001:db8::1", base.Add(2*time.Minute)))
		noErr(t, s.Sessions.TouchSession(ctx, newID("gone"), "x", "y", base)) // gone: no error
		got, err := s.Sessions.UserSessions(ctx, u.ID)
		noErr(t, err)
		if len(got) != 3 || got[0].ID != newer.ID || got[1].ID != older.ID || got[2].ID != unseen.ID {
			t.Fatalf("sessions %+v, want most recently seen first, never seen last", got)
		}
		if got[1].UserAgent != ua || got[1].Address != "192.0.2.1" || !got[2].LastSeenAt.IsZero() {
			t.Fatalf("touched session reads %+v; unseen %+v", got[1], got[2])
		}
		sameTime(t, "last_seen_at", base.Add(2*time.Minute), got[0].LastSeenAt)
		if other, err := s.Sessions.UserSessions(ctx, s.newUser(t).ID); err != nil || len(other) != 0 {
			t.Fatalf("another user's sessions: %+v, %v", other, err)
		}
	})

	t.Run("CreateReadDelete", func(t *testing.T) {
		u := s.newUser(t)
		want := newSession(u)
		want.AMR = []string{"pwd", "otp", "mfa"}
		noErr(t, s.Sessions.CreateSession(t.Context(), want))
		got, err := s.Sessions.SessionByHash(t.Context(), want.SecretHash)
		noErr(t, err)
		if got.ID != want.ID || got.UserID != want.UserID || !slices.Equal(got.AMR, want.AMR) {
			t.Errorf("session = %+v, want %+v", got, want)
		}
		sameBytes(t, "secret hash", want.SecretHash, got.SecretHash)
		sameTime(t, "auth_time", want.AuthTime, got.AuthTime)
		sameTime(t, "created_at", want.CreatedAt, got.CreatedAt)
		sameTime(t, "expires_at", want.ExpiresAt, got.ExpiresAt)

		dir, byID := s.Sessions.(usecase.SessionDirectory)
		if byID {
			got, err := dir.SessionByID(t.Context(), want.ID)
			noErr(t, err)
			if got.ID != want.ID || got.UserID != want.UserID || !slices.Equal(got.AMR, want.AMR) {
				t.Errorf("session by id = %+v, want %+v", got, want)
			}
			_, err = dir.SessionByID(t.Context(), newID("nosuch"))
			wantErr(t, err, domain.ErrNotFound)
		}

		noErr(t, s.Sessions.DeleteSession(t.Context(), want.ID))
		_, err = s.Sessions.SessionByHash(t.Context(), want.SecretHash)
		wantErr(t, err, domain.ErrNotFound)
		if byID {
			_, err = dir.SessionByID(t.Context(), want.ID)
			wantErr(t, err, domain.ErrNotFound)
		}
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
