package repotest

import (
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// code is a new, unstored authorization code of u for c, issued in a new, stored
// browser session of u (a code's grant starts only while its session lives), valid
// for a minute from base.
func (s *suite) code(t *testing.T, u domain.User, c domain.Client) domain.AuthorizationCode {
	t.Helper()
	return domain.AuthorizationCode{
		Hash: newHash(), ClientID: c.ID, UserID: u.ID, RedirectURI: "https://app.example.com/cb?a=1",
		Scope: []string{"openid", "profile"}, Audience: []string{"https://api.example.com"},
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Nonce: "nonce-1",
		AuthTime: base.Add(-time.Minute), SessionID: s.newSession(t, u).ID, FamilyID: newID("fam"),
		CreatedAt: base, ExpiresAt: base.Add(time.Minute),
	}
}

// redemption is a redemption that matches s.code(t, u, c) at base: the client, the
// redirect URI and the challenge of the code, with a refresh token to store.
func redemption(c domain.Client, code domain.AuthorizationCode) usecase.CodeRedemption {
	return usecase.CodeRedemption{
		ClientID: c.ID, RedirectURI: code.RedirectURI, Challenge: code.CodeChallenge, Now: base,
		Family:  usecase.TokenFamily{CreatedAt: base, ExpiresAt: base.Add(720 * time.Hour)},
		Refresh: &domain.RefreshToken{Hash: newHash(), CreatedAt: base, ExpiresAt: base.Add(720 * time.Hour), DPoPJKT: "jkt-1"},
	}
}

func (s *suite) codes(t *testing.T) {
	t.Run("Redeem", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(t, u, c)
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		red := redemption(c, code)
		res, err := s.Codes.RedeemCode(t.Context(), code.Hash, red)
		noErr(t, err)
		got := res.Code
		if !res.Issued {
			t.Fatal("a matching redemption started no grant")
		}
		if got.FamilyID != code.FamilyID || got.UserID != u.ID || got.Nonce != code.Nonce {
			t.Errorf("redeemed code = %+v, want %+v", got, code)
		}
		// The user comes with the code.
		if res.User == nil {
			t.Fatal("the redeemed code came without its user")
		}
		checkUser(t, u, *res.User)
		_, wantRT := red.Grant(code)
		rt, err := s.Tokens.RefreshTokenByHash(t.Context(), red.Refresh.Hash)
		noErr(t, err)
		checkRefreshToken(t, *wantRT, rt)
		revoked, err := s.Tokens.FamilyRevoked(t.Context(), code.FamilyID)
		noErr(t, err)
		if revoked {
			t.Error("the new family is revoked")
		}
		// The family is the one the session's logout revokes.
		noErr(t, s.Tokens.RevokeSessionFamilies(t.Context(), code.SessionID, base))
		s.wantRevoked(t, true, usecase.TokenFamily{ID: code.FamilyID}, rt)

		// A second redemption: the code, ErrAlreadyUsed, nothing stored.
		again := redemption(c, code)
		var issued bool
		got, issued, err = s.redeem(t, code.Hash, again)
		wantErr(t, err, domain.ErrAlreadyUsed)
		if issued || got.FamilyID != code.FamilyID {
			t.Errorf("replay: issued = %v, family %q; want false, %q", issued, got.FamilyID, code.FamilyID)
		}
		_, err = s.Tokens.RefreshTokenByHash(t.Context(), again.Refresh.Hash)
		wantErr(t, err, domain.ErrNotFound)
		_, _, err = s.redeem(t, newHash(), again)
		wantErr(t, err, domain.ErrNotFound)
	})

	t.Run("RedeemWithoutRefreshToken", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(t, u, c)
		code.SessionID = "" // a grant without a browser session
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		red := redemption(c, code)
		red.Refresh = nil
		_, issued, err := s.redeem(t, code.Hash, red)
		noErr(t, err)
		if !issued {
			t.Fatal("no grant")
		}
		// The family exists: a later revocation finds it rather than creating it.
		noErr(t, s.Tokens.RevokeFamily(t.Context(), code.FamilyID, base))
		err = s.Tokens.CreateFamily(t.Context(), usecase.TokenFamily{ID: code.FamilyID, CreatedAt: base}, nil)
		wantErr(t, err, domain.ErrDuplicate)
	})

	t.Run("RedeemMismatch", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		other := s.newClient(t)
		for name, change := range map[string]func(*usecase.CodeRedemption){
			"another client":       func(r *usecase.CodeRedemption) { r.ClientID = other.ID },
			"another redirect URI": func(r *usecase.CodeRedemption) { r.RedirectURI += "&b=2" },
			"another challenge":    func(r *usecase.CodeRedemption) { r.Challenge = "x" + r.Challenge[1:] },
			"no verifier":          func(r *usecase.CodeRedemption) { r.Challenge = "" },
			"expired":              func(r *usecase.CodeRedemption) { r.Now = base.Add(time.Minute) },
		} {
			code := s.code(t, u, c)
			noErr(t, s.Codes.CreateCode(t.Context(), code))
			red := redemption(c, code)
			change(&red)
			got, issued, err := s.redeem(t, code.Hash, red)
			noErr(t, err)
			if issued || got.FamilyID != code.FamilyID {
				t.Errorf("%s: issued = %v, family %q; want false, %q", name, issued, got.FamilyID, code.FamilyID)
			}
			if _, err := s.Tokens.RefreshTokenByHash(t.Context(), red.Refresh.Hash); err == nil {
				t.Errorf("%s: a refresh token was stored", name)
			}
			// Consumed all the same (SECURITY S12).
			_, err = s.Codes.ConsumeCode(t.Context(), code.Hash, base)
			wantErr(t, err, domain.ErrAlreadyUsed)
		}
		// A code issued without PKCE matches only a redemption without a verifier.
		code := s.code(t, u, c)
		code.CodeChallenge = ""
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		_, issued, err := s.redeem(t, code.Hash, redemption(c, code))
		noErr(t, err)
		if !issued {
			t.Error("a code without PKCE, redeemed without a verifier, started no grant")
		}
	})

	t.Run("ConsumeOnce", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(t, u, c)
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
		code := s.code(t, u, c)
		code.AuthTime, code.CodeChallenge, code.Nonce, code.Audience = time.Time{}, "", "", nil
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		got, err := s.Codes.ConsumeCode(t.Context(), code.Hash, base)
		noErr(t, err)
		checkCode(t, code, got)
	})

	t.Run("ExpiredCodeIsReturnedForTheCallerToJudge", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(t, u, c)
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
		code := s.code(t, u, c)
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		wantErr(t, s.Codes.CreateCode(t.Context(), code), domain.ErrDuplicate)
	})

	t.Run("UnknownClientOrUser", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(t, u, c)
		code.ClientID = newID("missing")
		wantErr(t, s.Codes.CreateCode(t.Context(), code), domain.ErrNotFound)
		code = s.code(t, u, c)
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

// redeem is RedeemCode's answer as the code and whether the grant was stored; a
// redemption that stored none must come without a user.
func (s *suite) redeem(t *testing.T, hash []byte, red usecase.CodeRedemption) (domain.AuthorizationCode, bool, error) {
	t.Helper()
	res, err := s.Codes.RedeemCode(t.Context(), hash, red)
	if !res.Issued && res.User != nil {
		t.Errorf("a redemption that stored no grant returned user %q", res.User.ID)
	}
	return res.Code, res.Issued, err
}
