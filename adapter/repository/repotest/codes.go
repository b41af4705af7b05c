package repotest

import (
	"errors"
	"strings"
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
		Claims: someClaims, AMR: someAMR, CreatedAt: base, ExpiresAt: base.Add(time.Minute),
	}
}

// plan is a redemption the tests run (suite.redeem): at Now, starting Family with
// Refresh (nil: no refresh token) when the tests' rule lets the code start its grant.
type plan struct {
	Now     time.Time
	Family  usecase.TokenFamily
	Refresh *domain.RefreshToken
}

// redemption is a plan for s.code(t, u, c) at base, with a refresh token to store.
func redemption(c domain.Client, code domain.AuthorizationCode) plan {
	fam := usecase.TokenFamily{ID: code.FamilyID, ClientID: c.ID, UserID: code.UserID, SessionID: code.SessionID,
		CreatedAt: base, ExpiresAt: base.Add(720 * time.Hour)}
	rt := domain.RefreshToken{Hash: newHash(), FamilyID: code.FamilyID, ClientID: c.ID, UserID: code.UserID,
		Scope: code.Scope, Audience: code.Audience, AuthTime: code.AuthTime, Nonce: code.Nonce, SessionID: code.SessionID,
		Claims: code.Claims, CreatedAt: base, ExpiresAt: base.Add(720 * time.Hour), DPoPJKT: "jkt-1"}
	return plan{Now: base, Family: fam, Refresh: &rt}
}

// errNotLive is the tests' rule refusing a code whose user, client or session ended.
var errNotLive = errors.New("repotest: the code's grant may not start")

// startRule is the tests' stand-in for the code grant's rule (usecase), enough to
// drive the store: a used code is a replay (its family revoked, ErrAlreadyUsed), a
// voided one is refused with ErrDuplicate, one whose user, client or session ended
// with errNotLive; any other starts p's grant. seen gets what the store read.
func startRule(p plan, seen *usecase.CodeRedemption) func(usecase.CodeRedemption) (usecase.CodeOutcome, error) {
	return func(r usecase.CodeRedemption) (usecase.CodeOutcome, error) {
		*seen = r
		switch {
		case r.Code.UsedAt != nil:
			return usecase.CodeOutcome{RevokeFamily: true}, domain.ErrAlreadyUsed
		case r.FamilyExists:
			return usecase.CodeOutcome{}, domain.ErrDuplicate
		case r.User == nil || r.User.Disabled || r.ClientDisabled || !r.SessionLive:
			return usecase.CodeOutcome{}, errNotLive
		}
		return usecase.CodeOutcome{Grant: &usecase.NewGrant{Family: p.Family, Refresh: p.Refresh}}, nil
	}
}

// redeem redeems the code with hash by p under startRule. It returns the code as the
// store read it (before this redemption) and whether the grant was started; a refusal
// for an ended user, client or session is no error.
func (s *suite) redeem(t *testing.T, hash []byte, p plan) (domain.AuthorizationCode, bool, error) {
	t.Helper()
	var seen usecase.CodeRedemption
	err := s.Codes.RedeemCode(t.Context(), hash, p.Now, startRule(p, &seen))
	if errors.Is(err, errNotLive) {
		return seen.Code, false, nil
	}
	return seen.Code, err == nil, err
}

// consume redeems the code with hash at now starting nothing, and returns it as it was
// before; ErrAlreadyUsed when it was used before.
func (s *suite) consume(t *testing.T, hash []byte, now time.Time) (domain.AuthorizationCode, error) {
	t.Helper()
	var seen usecase.CodeRedemption
	err := s.Codes.RedeemCode(t.Context(), hash, now, func(r usecase.CodeRedemption) (usecase.CodeOutcome, error) {
		seen = r
		if r.Code.UsedAt != nil {
			return usecase.CodeOutcome{}, domain.ErrAlreadyUsed
		}
		return usecase.CodeOutcome{}, nil
	})
	return seen.Code, err
}

func (s *suite) codes(t *testing.T) {
	t.Run("Redeem", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(t, u, c)
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		red := redemption(c, code)
		var seen usecase.CodeRedemption
		noErr(t, s.Codes.RedeemCode(t.Context(), code.Hash, base, startRule(red, &seen)))
		// What the rule is given: the code as it was, its user, a live session, an
		// enabled client, no family yet.
		checkCode(t, code, seen.Code)
		if seen.Code.UsedAt != nil {
			t.Error("an unused code was handed over as used")
		}
		if seen.User == nil {
			t.Fatal("the redeemed code came without its user")
		}
		checkUser(t, u, *seen.User)
		if !seen.SessionLive || seen.ClientDisabled || seen.FamilyExists {
			t.Errorf("session live %v, client disabled %v, family exists %v; want true, false, false",
				seen.SessionLive, seen.ClientDisabled, seen.FamilyExists)
		}
		rt, err := s.Tokens.RefreshTokenByHash(t.Context(), red.Refresh.Hash)
		noErr(t, err)
		checkRefreshToken(t, *red.Refresh, rt)
		revoked, err := s.Tokens.FamilyRevoked(t.Context(), code.FamilyID)
		noErr(t, err)
		if revoked {
			t.Error("the new family is revoked")
		}
		// The family is the one the session's logout revokes.
		noErr(t, s.Tokens.RevokeSessionFamilies(t.Context(), code.SessionID, base))
		s.wantRevoked(t, true, usecase.TokenFamily{ID: code.FamilyID}, rt)

		// A second redemption sees the code used at base, and its family; the rule's
		// error comes back, nothing of its grant is stored.
		again := redemption(c, code)
		got, issued, err := s.redeem(t, code.Hash, again)
		wantErr(t, err, domain.ErrAlreadyUsed)
		if issued || got.FamilyID != code.FamilyID {
			t.Errorf("replay: issued = %v, family %q; want false, %q", issued, got.FamilyID, code.FamilyID)
		}
		sameTimePtr(t, "used_at", &base, got.UsedAt)
		_, err = s.Tokens.RefreshTokenByHash(t.Context(), again.Refresh.Hash)
		wantErr(t, err, domain.ErrNotFound)
		_, _, err = s.redeem(t, newHash(), again)
		wantErr(t, err, domain.ErrNotFound)
	})

	t.Run("ReplayRevokesTheFamily", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(t, u, c)
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		red := redemption(c, code)
		_, issued, err := s.redeem(t, code.Hash, red)
		noErr(t, err)
		if !issued {
			t.Fatal("no grant")
		}
		_, _, err = s.redeem(t, code.Hash, redemption(c, code))
		wantErr(t, err, domain.ErrAlreadyUsed)
		s.wantRevoked(t, true, usecase.TokenFamily{ID: code.FamilyID}, *red.Refresh)
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

	t.Run("RefusedIsConsumed", func(t *testing.T) {
		// The rule's error is the answer; the code is used up all the same (SECURITY S12).
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(t, u, c)
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		refused := errors.New("refused")
		err := s.Codes.RedeemCode(t.Context(), code.Hash, base, func(usecase.CodeRedemption) (usecase.CodeOutcome, error) {
			return usecase.CodeOutcome{}, refused
		})
		if err != refused {
			t.Fatalf("err = %v, want the rule's own error", err)
		}
		_, err = s.consume(t, code.Hash, base)
		wantErr(t, err, domain.ErrAlreadyUsed)
		revoked, err := s.Tokens.FamilyRevoked(t.Context(), code.FamilyID)
		noErr(t, err)
		if revoked {
			t.Error("a refusal revoked the family")
		}
	})

	t.Run("GrantOfAnotherFamily", func(t *testing.T) {
		// A grant must start the code's own family: the one revocations void.
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(t, u, c)
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		red := redemption(c, code)
		red.Family.ID = newID("fam")
		red.Refresh.FamilyID = red.Family.ID
		if _, _, err := s.redeem(t, code.Hash, red); err == nil {
			t.Fatal("a grant of another family was stored")
		}
		_, err := s.Tokens.RefreshTokenByHash(t.Context(), red.Refresh.Hash)
		wantErr(t, err, domain.ErrNotFound)
	})

	t.Run("ConsumeOnce", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(t, u, c)
		noErr(t, s.Codes.CreateCode(t.Context(), code))

		used := base.Add(10 * time.Second)
		got, err := s.consume(t, code.Hash, used)
		noErr(t, err)
		checkCode(t, code, got)

		// A replay gets the code (to revoke what the first redemption issued) with the
		// first use time, which stays.
		again, err := s.consume(t, code.Hash, used.Add(time.Second))
		wantErr(t, err, domain.ErrAlreadyUsed)
		checkCode(t, code, again)
		sameTimePtr(t, "used_at after replay", &used, again.UsedAt)
		again, err = s.consume(t, code.Hash, used.Add(2*time.Second))
		wantErr(t, err, domain.ErrAlreadyUsed)
		sameTimePtr(t, "used_at after a second replay", &used, again.UsedAt)
	})

	t.Run("ZeroAuthTime", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(t, u, c)
		code.AuthTime, code.CodeChallenge, code.Nonce, code.Audience = time.Time{}, "", "", nil
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		got, err := s.consume(t, code.Hash, base)
		noErr(t, err)
		checkCode(t, code, got)
	})

	t.Run("ExpiredCodeIsReturnedForTheRuleToJudge", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(t, u, c)
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		late := base.Add(time.Hour)
		got, err := s.consume(t, code.Hash, late)
		noErr(t, err)
		if !got.Expired(late) {
			t.Error("the code should read as expired")
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		called := false
		err := s.Codes.RedeemCode(t.Context(), newHash(), base, func(usecase.CodeRedemption) (usecase.CodeOutcome, error) {
			called = true
			return usecase.CodeOutcome{}, nil
		})
		wantErr(t, err, domain.ErrNotFound)
		if called {
			t.Error("the rule was asked about an unknown code")
		}
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
		got.SessionID != want.SessionID || got.FamilyID != want.FamilyID || got.Claims != want.Claims ||
		strings.Join(got.AMR, " ") != strings.Join(want.AMR, " ") {
		t.Errorf("code = %+v, want %+v", got, want)
	}
	sameList(t, "scope", want.Scope, got.Scope)
	sameList(t, "audience", want.Audience, got.Audience)
	sameTime(t, "auth_time", want.AuthTime, got.AuthTime)
	sameTime(t, "created_at", want.CreatedAt, got.CreatedAt)
	sameTime(t, "expires_at", want.ExpiresAt, got.ExpiresAt)
}
