package repotest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

func (s *suite) tokens(t *testing.T) {
	t.Run("CreateFamilyAndReadToken", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		f, rt := s.newFamily(t, u, c, newID("s"))
		got, err := s.Tokens.RefreshTokenByHash(t.Context(), rt.Hash)
		noErr(t, err)
		checkRefreshToken(t, rt, got)
		if !got.Active(base) {
			t.Error("a new token is not active")
		}
		revoked, err := s.Tokens.FamilyRevoked(t.Context(), f.ID)
		noErr(t, err)
		if revoked {
			t.Error("a new family is revoked")
		}
	})

	t.Run("CreateFamilyWithoutToken", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		f := usecase.TokenFamily{ID: newID("fam"), ClientID: c.ID, UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
		noErr(t, s.Tokens.CreateFamily(t.Context(), f, nil))
		wantErr(t, s.Tokens.CreateFamily(t.Context(), f, nil), domain.ErrDuplicate)
	})

	t.Run("CreateFamilyDuplicateLeavesNoToken", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		f, _ := s.newFamily(t, u, c, "")
		rt := s.refreshToken(f)
		wantErr(t, s.Tokens.CreateFamily(t.Context(), f, &rt), domain.ErrDuplicate)
		_, err := s.Tokens.RefreshTokenByHash(t.Context(), rt.Hash)
		wantErr(t, err, domain.ErrNotFound)
	})

	t.Run("CreateFamilyRefusesATokenOfAnotherFamily", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		f := usecase.TokenFamily{ID: newID("fam"), ClientID: c.ID, UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
		rt := s.refreshToken(f)
		rt.FamilyID = newID("other")
		if err := s.Tokens.CreateFamily(t.Context(), f, &rt); err == nil {
			t.Fatal("stored a token under the wrong family")
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := s.Tokens.RefreshTokenByHash(t.Context(), newHash())
		wantErr(t, err, domain.ErrNotFound)
		revoked, err := s.Tokens.FamilyRevoked(t.Context(), newID("missing"))
		noErr(t, err)
		if revoked {
			t.Error("an unknown family reads as revoked")
		}
	})

	t.Run("RevokeFamily", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		f, rt := s.newFamily(t, u, c, "")
		other, otherRT := s.newFamily(t, u, c, "")
		at := base.Add(time.Minute)
		noErr(t, s.Tokens.RevokeFamily(t.Context(), f.ID, at))
		noErr(t, s.Tokens.RevokeFamily(t.Context(), f.ID, at.Add(time.Minute))) // again: fine, first time stays

		revoked, err := s.Tokens.FamilyRevoked(t.Context(), f.ID)
		noErr(t, err)
		if !revoked {
			t.Error("family not revoked")
		}
		got, err := s.Tokens.RefreshTokenByHash(t.Context(), rt.Hash)
		noErr(t, err)
		sameTimePtr(t, "token revoked_at", &at, got.RevokedAt)
		if got.Active(base) {
			t.Error("token of a revoked family is active")
		}

		revoked, err = s.Tokens.FamilyRevoked(t.Context(), other.ID)
		noErr(t, err)
		gotOther, err := s.Tokens.RefreshTokenByHash(t.Context(), otherRT.Hash)
		noErr(t, err)
		if revoked || gotOther.RevokedAt != nil {
			t.Error("revoking one family touched another")
		}
	})

	t.Run("RevokeFamilyBeforeItExists", func(t *testing.T) {
		// A replayed code revokes the family its first redemption is still creating.
		u, c := s.newUser(t), s.newClient(t)
		id := newID("fam")
		noErr(t, s.Tokens.RevokeFamily(t.Context(), id, base))
		revoked, err := s.Tokens.FamilyRevoked(t.Context(), id)
		noErr(t, err)
		if !revoked {
			t.Error("revocation of a future family not recorded")
		}
		f := usecase.TokenFamily{ID: id, ClientID: c.ID, UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
		rt := s.refreshToken(f)
		wantErr(t, s.Tokens.CreateFamily(t.Context(), f, &rt), domain.ErrDuplicate)
		_, err = s.Tokens.RefreshTokenByHash(t.Context(), rt.Hash)
		wantErr(t, err, domain.ErrNotFound)
	})

	t.Run("RevokeUserFamilies", func(t *testing.T) {
		u, other, c := s.newUser(t), s.newUser(t), s.newClient(t)
		f1, rt1 := s.newFamily(t, u, c, "")
		f2, rt2 := s.newFamily(t, u, c, newID("s"))
		f3, rt3 := s.newFamily(t, other, c, "")
		noErr(t, s.Tokens.RevokeUserFamilies(t.Context(), u.ID, base))
		s.wantRevoked(t, true, f1, rt1)
		s.wantRevoked(t, true, f2, rt2)
		s.wantRevoked(t, false, f3, rt3)
		noErr(t, s.Tokens.RevokeUserFamilies(t.Context(), newID("nobody"), base))
	})

	t.Run("RevokeSessionFamilies", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		sid := newID("s")
		f1, rt1 := s.newFamily(t, u, c, sid)
		f2, rt2 := s.newFamily(t, u, c, newID("s"))
		f3, rt3 := s.newFamily(t, u, c, "")
		noErr(t, s.Tokens.RevokeSessionFamilies(t.Context(), sid, base))
		s.wantRevoked(t, true, f1, rt1)
		s.wantRevoked(t, false, f2, rt2)
		s.wantRevoked(t, false, f3, rt3)
		// No session id must not mean "every family without a session".
		noErr(t, s.Tokens.RevokeSessionFamilies(t.Context(), "", base))
		s.wantRevoked(t, false, f3, rt3)
	})

	// A connected app revoked: the user's families with that client, and only those;
	// the user's unused codes for it are voided, a code for another client is not.
	t.Run("RevokeGrantFamilies", func(t *testing.T) {
		u, c, other := s.newUser(t), s.newClient(t), s.newClient(t)
		f1, rt1 := s.newFamily(t, u, c, "")
		f2, rt2 := s.newFamily(t, u, c, newID("s"))
		f3, rt3 := s.newFamily(t, u, other, "")
		f4, rt4 := s.newFamily(t, s.newUser(t), c, "")
		voided, kept := s.code(t, u, c), s.code(t, u, other)
		noErr(t, s.Codes.CreateCode(t.Context(), voided))
		noErr(t, s.Codes.CreateCode(t.Context(), kept))
		noErr(t, s.Tokens.RevokeGrantFamilies(t.Context(), u.ID, c.ID, base))
		s.wantRevoked(t, true, f1, rt1)
		s.wantRevoked(t, true, f2, rt2)
		s.wantRevoked(t, false, f3, rt3)
		s.wantRevoked(t, false, f4, rt4)
		_, _, err := s.redeem(t, voided.Hash, redemption(c, voided))
		wantErr(t, err, domain.ErrDuplicate) // its family was revoked before it existed
		if _, _, err := s.redeem(t, kept.Hash, redemption(other, kept)); err != nil {
			t.Errorf("a code of the user for another client: %v", err)
		}
		// Nothing of anyone for an empty user or client.
		noErr(t, s.Tokens.RevokeGrantFamilies(t.Context(), "", other.ID, base))
		noErr(t, s.Tokens.RevokeGrantFamilies(t.Context(), u.ID, "", base))
		s.wantRevoked(t, false, f3, rt3)
		noErr(t, s.Tokens.RevokeGrantFamilies(t.Context(), newID("nobody"), c.ID, base))
	})

	t.Run("Rotate", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		f, old := s.newFamily(t, u, c, newID("s"))
		now := base.Add(5 * time.Minute)
		next := domain.RefreshToken{Hash: newHash(), CreatedAt: now, ExpiresAt: now.Add(2 * time.Hour),
			DPoPJKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"} // a bound token keeps its binding
		var seen usecase.RefreshState
		noErr(t, s.Tokens.UpdateRefreshToken(t.Context(), old.Hash, rotateRule(c.ID, "", now, next, &seen)))
		// What the rule is given: the token as it was, its live family, its user.
		checkRefreshToken(t, old, seen.Token)
		if seen.FamilyRevoked || seen.User == nil {
			t.Fatalf("family revoked %v, user %v; want false and the user", seen.FamilyRevoked, seen.User)
		}
		checkUser(t, u, *seen.User)

		stored, err := s.Tokens.RefreshTokenByHash(t.Context(), old.Hash)
		noErr(t, err)
		sameTimePtr(t, "old rotated_at", &now, stored.RotatedAt)
		if stored.Active(now) {
			t.Error("rotated token still active")
		}
		successor, err := s.Tokens.RefreshTokenByHash(t.Context(), next.Hash)
		noErr(t, err)
		checkRefreshToken(t, old.Successor(next), successor) // the grant copied, the rest new
		if successor.FamilyID != f.ID || successor.SessionID != f.SessionID || !successor.Active(now) {
			t.Errorf("successor = %+v, want a live token of family %s and session %s", successor, f.ID, f.SessionID)
		}

		// Rotated: the rule sees it so; its reuse revokes the family, successor included.
		third := s.refreshToken(f)
		_, rotated, err := s.rotate(t, old.Hash, c.ID, "", now, third)
		wantErr(t, err, domain.ErrAlreadyUsed)
		if rotated {
			t.Error("a rotated token was rotated again")
		}
		_, err = s.Tokens.RefreshTokenByHash(t.Context(), third.Hash)
		wantErr(t, err, domain.ErrNotFound)
		s.wantRevoked(t, true, f, successor)

		_, _, err = s.rotate(t, newHash(), c.ID, "", now, third)
		wantErr(t, err, domain.ErrNotFound)
	})

	t.Run("UnknownTokenIsNotHandedOver", func(t *testing.T) {
		called := false
		err := s.Tokens.UpdateRefreshToken(t.Context(), newHash(), func(usecase.RefreshState) (usecase.RefreshChange, error) {
			called = true
			return usecase.RefreshChange{}, nil
		})
		wantErr(t, err, domain.ErrNotFound)
		if called {
			t.Error("the rule was asked about an unknown token")
		}
	})

	t.Run("RefusalChangesNothing", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		f, rt := s.newFamily(t, u, c, "")
		refused := errors.New("refused")
		next := s.refreshToken(f)
		err := s.Tokens.UpdateRefreshToken(t.Context(), rt.Hash, func(usecase.RefreshState) (usecase.RefreshChange, error) {
			return usecase.RefreshChange{}, refused
		})
		if err != refused {
			t.Fatalf("err = %v, want the rule's own error", err)
		}
		_, rotated, err := s.rotate(t, rt.Hash, c.ID, "", base, next)
		noErr(t, err)
		if !rotated {
			t.Error("a refused refresh used the token up")
		}
	})

	t.Run("SuccessorOfAnotherFamily", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		_, rt := s.newFamily(t, u, c, "")
		stranger := s.refreshToken(usecase.TokenFamily{ID: newID("fam"), ClientID: c.ID, UserID: u.ID})
		err := s.Tokens.UpdateRefreshToken(t.Context(), rt.Hash, func(usecase.RefreshState) (usecase.RefreshChange, error) {
			return usecase.RefreshChange{Next: &stranger, Now: base}, nil
		})
		if err == nil {
			t.Fatal("rotated into another family")
		}
		got, err := s.Tokens.RefreshTokenByHash(t.Context(), rt.Hash)
		noErr(t, err)
		if !got.Active(base) {
			t.Error("a failed rotation used the token up")
		}
	})

	t.Run("RotateRefusals", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		other := s.newClient(t)
		const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
		f := usecase.TokenFamily{ID: newID("fam"), ClientID: c.ID, UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
		bound := s.refreshToken(f)
		bound.DPoPJKT = jkt
		noErr(t, s.Tokens.CreateFamily(t.Context(), f, &bound))
		try := func(name, clientID, proof string, now time.Time, want bool) {
			t.Helper()
			next := s.refreshToken(f)
			got, rotated, err := s.rotate(t, bound.Hash, clientID, proof, now, next)
			if rotated != want || (err == nil) != want {
				t.Errorf("%s: rotated = %v, err = %v; want rotated %v", name, rotated, err, want)
			}
			if !rotated {
				checkRefreshToken(t, bound, got)
				if _, err := s.Tokens.RefreshTokenByHash(t.Context(), next.Hash); err == nil {
					t.Errorf("%s: a successor was stored without a rotation", name)
				}
			}
		}
		try("another client", other.ID, jkt, base, false)
		try("no proof of the bound key", c.ID, "", base, false)
		try("another key", c.ID, "some-other-thumbprint", base, false)
		try("expired", c.ID, jkt, base.Add(time.Hour), false)
		try("the right client and key", c.ID, jkt, base, true)

		// A live token of a revoked family (here stored so; otherwise a revocation
		// racing the rotation) is handed over with its family revoked.
		revokedAt := base
		f2 := usecase.TokenFamily{ID: newID("fam"), ClientID: c.ID, UserID: u.ID, CreatedAt: base,
			ExpiresAt: base.Add(time.Hour), RevokedAt: &revokedAt}
		rt2 := s.refreshToken(f2)
		noErr(t, s.Tokens.CreateFamily(t.Context(), f2, &rt2))
		var seen usecase.RefreshState
		err := s.Tokens.UpdateRefreshToken(t.Context(), rt2.Hash, rotateRule(c.ID, "", base, s.refreshToken(f2), &seen))
		if !errors.Is(err, errNotUsable) || !seen.FamilyRevoked || !seen.Token.UsableBy(c.ID, "", base) {
			t.Errorf("family revoked: err %v, family revoked %v, token usable %v; want errNotUsable, true, true",
				err, seen.FamilyRevoked, seen.Token.UsableBy(c.ID, "", base))
		}

		// A deleted user's token comes without its user.
		u3 := s.newUser(t)
		_, rt3 := s.newFamily(t, u3, c, "")
		noErr(t, s.Users.DeleteUser(t.Context(), u3.ID))
		if err := s.Tokens.UpdateRefreshToken(t.Context(), rt3.Hash, rotateRule(c.ID, "", base, s.refreshToken(f), &seen)); err == nil {
			if seen.User != nil {
				t.Errorf("a deleted user's token came with user %+v", seen.User)
			}
		}
	})

	t.Run("RotateExpiryBoundary", func(t *testing.T) {
		// Expiry is judged on the token as read: it comes back at microsecond
		// precision, whatever the storage format.
		u, c := s.newUser(t), s.newClient(t)
		whole := base.Truncate(time.Second)
		for _, tc := range []struct {
			expires, now time.Time
			ok           bool
		}{
			{whole.Add(500 * time.Millisecond), whole, true},
			{whole.Add(500 * time.Millisecond), whole.Add(499999 * time.Microsecond), true},
			{whole.Add(500 * time.Millisecond), whole.Add(500 * time.Millisecond), false},
			{whole.Add(500 * time.Millisecond), whole.Add(500001 * time.Microsecond), false},
			{whole.Add(time.Second), whole.Add(999999 * time.Microsecond), true},
			{whole, whole.Add(time.Microsecond), false},
			{whole.Add(10 * time.Microsecond), whole.Add(9 * time.Microsecond), true},
		} {
			f := usecase.TokenFamily{ID: newID("fam"), ClientID: c.ID, UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
			rt := s.refreshToken(f)
			rt.ExpiresAt = tc.expires
			noErr(t, s.Tokens.CreateFamily(t.Context(), f, &rt))
			_, rotated, err := s.rotate(t, rt.Hash, c.ID, "", tc.now, s.refreshToken(f))
			if rotated != tc.ok {
				t.Errorf("expires %v, now %v: rotated = %v (%v), want %v", tc.expires, tc.now, rotated, err, tc.ok)
			}
		}
	})

	t.Run("AccessTokenDenyList", func(t *testing.T) {
		jti := newID("jti")
		revoked, err := s.Tokens.AccessTokenRevoked(t.Context(), usecase.RevocationCheck{JTI: jti})
		noErr(t, err)
		if revoked {
			t.Fatal("unknown jti reads as revoked")
		}
		entry := domain.RevokedAccessToken{JTI: jti, ExpiresAt: base.Add(15 * time.Minute)}
		noErr(t, s.Tokens.RevokeAccessToken(t.Context(), entry))
		noErr(t, s.Tokens.RevokeAccessToken(t.Context(), entry)) // idempotent
		revoked, err = s.Tokens.AccessTokenRevoked(t.Context(), usecase.RevocationCheck{JTI: jti})
		noErr(t, err)
		if !revoked {
			t.Error("revoked jti reads as live")
		}
	})

	t.Run("AccessTokenRevokedWithItsFamily", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		f, _ := s.newFamily(t, u, c, "")
		jti := newID("jti")
		revoked, err := s.Tokens.AccessTokenRevoked(t.Context(), usecase.RevocationCheck{JTI: jti, FamilyID: f.ID})
		noErr(t, err)
		if revoked {
			t.Fatal("a token of a live family reads as revoked")
		}
		revoked, err = s.Tokens.AccessTokenRevoked(t.Context(), usecase.RevocationCheck{JTI: jti, FamilyID: newID("missing")})
		noErr(t, err)
		if revoked {
			t.Fatal("a token of an unknown family reads as revoked")
		}
		noErr(t, s.Tokens.RevokeFamily(t.Context(), f.ID, base))
		revoked, err = s.Tokens.AccessTokenRevoked(t.Context(), usecase.RevocationCheck{JTI: jti, FamilyID: f.ID})
		noErr(t, err)
		if !revoked {
			t.Error("a token of a revoked family reads as live")
		}
		revoked, err = s.Tokens.AccessTokenRevoked(t.Context(), usecase.RevocationCheck{JTI: jti})
		noErr(t, err)
		if revoked {
			t.Error("without its family id the token reads as revoked")
		}
	})
}

// wantRevoked checks the family's and its token's revocation.
func (s *suite) wantRevoked(t *testing.T, want bool, f usecase.TokenFamily, rt domain.RefreshToken) {
	t.Helper()
	revoked, err := s.Tokens.FamilyRevoked(t.Context(), f.ID)
	noErr(t, err)
	got, err := s.Tokens.RefreshTokenByHash(t.Context(), rt.Hash)
	noErr(t, err)
	if revoked != want || (got.RevokedAt != nil) != want {
		t.Errorf("family %s revoked = %v, token revoked_at = %v; want revoked %v", f.ID, revoked, got.RevokedAt, want)
	}
}

func checkRefreshToken(t *testing.T, want, got domain.RefreshToken) {
	t.Helper()
	sameBytes(t, "hash", want.Hash, got.Hash)
	if got.FamilyID != want.FamilyID || got.ClientID != want.ClientID || got.UserID != want.UserID ||
		got.Nonce != want.Nonce || got.SessionID != want.SessionID || got.DPoPJKT != want.DPoPJKT ||
		got.Claims != want.Claims || strings.Join(got.AMR, " ") != strings.Join(want.AMR, " ") {
		t.Errorf("refresh token = %+v, want %+v", got, want)
	}
	sameList(t, "scope", want.Scope, got.Scope)
	sameList(t, "audience", want.Audience, got.Audience)
	sameTime(t, "auth_time", want.AuthTime, got.AuthTime)
	sameTime(t, "created_at", want.CreatedAt, got.CreatedAt)
	sameTime(t, "expires_at", want.ExpiresAt, got.ExpiresAt)
	sameTimePtr(t, "rotated_at", want.RotatedAt, got.RotatedAt)
	sameTimePtr(t, "revoked_at", want.RevokedAt, got.RevokedAt)
}

// errNotUsable is rotateRule refusing a token.
var errNotUsable = errors.New("repotest: the refresh token is not usable")

// rotateRule is the tests' stand-in for the refresh grant's rule (usecase), enough to
// drive the store: a rotated token of clientID is a reuse (its family revoked,
// ErrAlreadyUsed); one not UsableBy clientID with proof jkt at now, of a revoked family
// or of a user gone, is refused with errNotUsable; any other is rotated to
// old.Successor(next). seen gets what the store read.
func rotateRule(clientID, jkt string, now time.Time, next domain.RefreshToken, seen *usecase.RefreshState) func(usecase.RefreshState) (usecase.RefreshChange, error) {
	return func(st usecase.RefreshState) (usecase.RefreshChange, error) {
		*seen = st
		old := st.Token
		switch {
		case old.RotatedAt != nil && old.ClientID == clientID:
			return usecase.RefreshChange{RevokeFamily: true, Now: now}, domain.ErrAlreadyUsed
		case !old.UsableBy(clientID, jkt, now), st.FamilyRevoked, st.User == nil:
			return usecase.RefreshChange{}, errNotUsable
		}
		succ := old.Successor(next)
		return usecase.RefreshChange{Next: &succ, Now: now}, nil
	}
}

// rotate refreshes the token with hash under rotateRule; it returns the token as the
// store read it and whether it was rotated. A refusal (errNotUsable) is an error.
func (s *suite) rotate(t *testing.T, hash []byte, clientID, jkt string, now time.Time, next domain.RefreshToken) (domain.RefreshToken, bool, error) {
	t.Helper()
	var seen usecase.RefreshState
	err := s.Tokens.UpdateRefreshToken(t.Context(), hash, rotateRule(clientID, jkt, now, next, &seen))
	return seen.Token, err == nil, err
}
