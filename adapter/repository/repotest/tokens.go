package repotest

import (
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

	t.Run("Rotate", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		f, old := s.newFamily(t, u, c, "")
		now := base.Add(5 * time.Minute)
		next := s.refreshToken(f)
		next.CreatedAt, next.ExpiresAt = now, now.Add(time.Hour)
		next.DPoPJKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" // a bound token keeps its binding
		noErr(t, s.Tokens.RotateRefreshToken(t.Context(), old.Hash, next, now))

		gotOld, err := s.Tokens.RefreshTokenByHash(t.Context(), old.Hash)
		noErr(t, err)
		sameTimePtr(t, "old rotated_at", &now, gotOld.RotatedAt)
		if gotOld.Active(now) {
			t.Error("rotated token still active")
		}
		gotNext, err := s.Tokens.RefreshTokenByHash(t.Context(), next.Hash)
		noErr(t, err)
		checkRefreshToken(t, next, gotNext)
		if !gotNext.Active(now) {
			t.Error("new token not active")
		}

		// The rotated token cannot be rotated again.
		third := s.refreshToken(f)
		wantErr(t, s.Tokens.RotateRefreshToken(t.Context(), old.Hash, third, now), domain.ErrAlreadyUsed)
		_, err = s.Tokens.RefreshTokenByHash(t.Context(), third.Hash)
		wantErr(t, err, domain.ErrNotFound)
	})

	t.Run("RotateRefusals", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		f, rt := s.newFamily(t, u, c, "")
		wantErr(t, s.Tokens.RotateRefreshToken(t.Context(), newHash(), s.refreshToken(f), base), domain.ErrNotFound)
		// Expired (expires_at is base + 1h).
		wantErr(t, s.Tokens.RotateRefreshToken(t.Context(), rt.Hash, s.refreshToken(f), base.Add(time.Hour)), domain.ErrAlreadyUsed)
		// Another family.
		stranger := s.refreshToken(usecase.TokenFamily{ID: newID("fam"), ClientID: c.ID, UserID: u.ID})
		if err := s.Tokens.RotateRefreshToken(t.Context(), rt.Hash, stranger, base); err == nil {
			t.Error("rotated into another family")
		}
		// Revoked.
		noErr(t, s.Tokens.RevokeFamily(t.Context(), f.ID, base))
		wantErr(t, s.Tokens.RotateRefreshToken(t.Context(), rt.Hash, s.refreshToken(f), base), domain.ErrAlreadyUsed)
	})

	t.Run("RotateUsable", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		f, old := s.newFamily(t, u, c, newID("s"))
		now := base.Add(5 * time.Minute)
		next := domain.RefreshToken{Hash: newHash(), CreatedAt: now, ExpiresAt: now.Add(2 * time.Hour),
			DPoPJKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
		rot := usecase.RefreshRotation{ClientID: c.ID, Next: next, Now: now}
		got, rotated, err := s.Tokens.RotateUsableRefreshToken(t.Context(), old.Hash, rot)
		noErr(t, err)
		if !rotated {
			t.Fatal("a usable token was not rotated")
		}
		checkRefreshToken(t, old, got) // as it was before
		stored, err := s.Tokens.RefreshTokenByHash(t.Context(), old.Hash)
		noErr(t, err)
		sameTimePtr(t, "old rotated_at", &now, stored.RotatedAt)
		successor, err := s.Tokens.RefreshTokenByHash(t.Context(), next.Hash)
		noErr(t, err)
		checkRefreshToken(t, old.Successor(next), successor) // the grant copied, the rest new
		if successor.FamilyID != f.ID || successor.SessionID != f.SessionID {
			t.Errorf("successor = %+v, want family %s and session %s", successor, f.ID, f.SessionID)
		}

		// Rotated: returned as it is now, not rotated again.
		again, rotated, err := s.Tokens.RotateUsableRefreshToken(t.Context(), old.Hash,
			usecase.RefreshRotation{ClientID: c.ID, Next: s.refreshToken(f), Now: now})
		noErr(t, err)
		if rotated || again.RotatedAt == nil {
			t.Errorf("a rotated token: rotated = %v, rotated_at = %v; want false and set", rotated, again.RotatedAt)
		}
		_, _, err = s.Tokens.RotateUsableRefreshToken(t.Context(), newHash(), rot)
		wantErr(t, err, domain.ErrNotFound)
	})

	t.Run("RotateUsableRefusals", func(t *testing.T) {
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
			got, rotated, err := s.Tokens.RotateUsableRefreshToken(t.Context(), bound.Hash,
				usecase.RefreshRotation{ClientID: clientID, ProofJKT: proof, Next: next, Now: now})
			noErr(t, err)
			if rotated != want {
				t.Errorf("%s: rotated = %v, want %v", name, rotated, want)
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
		noErr(t, s.Tokens.RevokeFamily(t.Context(), f.ID, base))
		// The token itself is revoked too, so it is returned revoked.
		_, rotated, err := s.Tokens.RotateUsableRefreshToken(t.Context(), bound.Hash,
			usecase.RefreshRotation{ClientID: c.ID, ProofJKT: jkt, Next: s.refreshToken(f), Now: base})
		noErr(t, err)
		if rotated {
			t.Error("a token of a revoked family was rotated")
		}

		// A live token of a revoked family (here stored so; otherwise a revocation
		// racing the rotation) is refused by the family check.
		revokedAt := base
		f2 := usecase.TokenFamily{ID: newID("fam"), ClientID: c.ID, UserID: u.ID, CreatedAt: base,
			ExpiresAt: base.Add(time.Hour), RevokedAt: &revokedAt}
		rt2 := s.refreshToken(f2)
		noErr(t, s.Tokens.CreateFamily(t.Context(), f2, &rt2))
		got, rotated, err := s.Tokens.RotateUsableRefreshToken(t.Context(), rt2.Hash,
			usecase.RefreshRotation{ClientID: c.ID, Next: s.refreshToken(f2), Now: base})
		noErr(t, err)
		if rotated || !got.UsableBy(c.ID, "", base) {
			t.Errorf("family revoked: rotated = %v, usable = %v; want false, true", rotated, got.UsableBy(c.ID, "", base))
		}
	})

	t.Run("RotateExpiryBoundary", func(t *testing.T) {
		// Expiry is compared in the database at microsecond precision, whatever the
		// storage format (SQLite compares text): whole seconds against fractions.
		u, c := s.newUser(t), s.newClient(t)
		whole := base.Truncate(time.Second)
		for _, tc := range []struct {
			expires, now time.Time
			ok           bool
		}{
			{whole.Add(500 * time.Millisecond), whole, true},
			{whole.Add(500 * time.Millisecond), whole.Add(450 * time.Millisecond), true},
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
			err := s.Tokens.RotateRefreshToken(t.Context(), rt.Hash, s.refreshToken(f), tc.now)
			if tc.ok {
				noErr(t, err)
			} else {
				wantErr(t, err, domain.ErrAlreadyUsed)
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
		got.Nonce != want.Nonce || got.SessionID != want.SessionID || got.DPoPJKT != want.DPoPJKT {
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
