package repotest

import (
	"testing"
	"time"

	"gatehouse/domain"
)

// code is a new, unstored authorization code of u for c, valid for a minute from base.
func (s *suite) code(u domain.User, c domain.Client) domain.AuthorizationCode {
	return domain.AuthorizationCode{
		Hash: newHash(), ClientID: c.ID, UserID: u.ID, RedirectURI: "https://app.example.com/cb?a=1",
		Scope: []string{"openid", "profile"}, Audience: []string{"https://api.example.com"},
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Nonce: "nonce-1",
		AuthTime: base.Add(-time.Minute), SessionID: newID("s"), FamilyID: newID("fam"),
		CreatedAt: base, ExpiresAt: base.Add(time.Minute),
	}
}

func (s *suite) codes(t *testing.T) {
	t.Run("ConsumeOnce", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(u, c)
		noErr(t, s.Codes.CreateCode(t.Context(), code))

		used := base.Add(10 * time.Second)
		got, err := s.Codes.ConsumeCode(t.Context(), code.Hash, used)
		noErr(t, err)
		checkCode(t, code, got)
		sameTimePtr(t, "used_at", &used, got.UsedAt)

		// A replay gets the code (to revoke what the first redemption issued) and
		// ErrAlreadyUsed; the first use time stays.
		again, err := s.Codes.ConsumeCode(t.Context(), code.Hash, used.Add(time.Second))
		wantErr(t, err, domain.ErrAlreadyUsed)
		checkCode(t, code, again)
		sameTimePtr(t, "used_at after replay", &used, again.UsedAt)
	})

	t.Run("ZeroAuthTime", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(u, c)
		code.AuthTime, code.CodeChallenge, code.Nonce, code.Audience = time.Time{}, "", "", nil
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		got, err := s.Codes.ConsumeCode(t.Context(), code.Hash, base)
		noErr(t, err)
		checkCode(t, code, got)
	})

	t.Run("ExpiredCodeIsReturnedForTheCallerToJudge", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(u, c)
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		late := base.Add(time.Hour)
		got, err := s.Codes.ConsumeCode(t.Context(), code.Hash, late)
		noErr(t, err)
		if !got.Expired(late) {
			t.Error("the code should read as expired")
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := s.Codes.ConsumeCode(t.Context(), newHash(), base)
		wantErr(t, err, domain.ErrNotFound)
	})

	t.Run("DuplicateHash", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(u, c)
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		wantErr(t, s.Codes.CreateCode(t.Context(), code), domain.ErrDuplicate)
	})

	t.Run("UnknownClientOrUser", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(u, c)
		code.ClientID = newID("missing")
		wantErr(t, s.Codes.CreateCode(t.Context(), code), domain.ErrNotFound)
		code = s.code(u, c)
		code.UserID = newID("missing")
		wantErr(t, s.Codes.CreateCode(t.Context(), code), domain.ErrNotFound)
	})
}

func checkCode(t *testing.T, want, got domain.AuthorizationCode) {
	t.Helper()
	sameBytes(t, "hash", want.Hash, got.Hash)
	if got.ClientID != want.ClientID || got.UserID != want.UserID || got.RedirectURI != want.RedirectURI ||
		got.CodeChallenge != want.CodeChallenge || got.Nonce != want.Nonce ||
		got.SessionID != want.SessionID || got.FamilyID != want.FamilyID {
		t.Errorf("code = %+v, want %+v", got, want)
	}
	sameList(t, "scope", want.Scope, got.Scope)
	sameList(t, "audience", want.Audience, got.Audience)
	sameTime(t, "auth_time", want.AuthTime, got.AuthTime)
	sameTime(t, "created_at", want.CreatedAt, got.CreatedAt)
	sameTime(t, "expires_at", want.ExpiresAt, got.ExpiresAt)
}
