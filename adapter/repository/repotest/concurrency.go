package repotest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// race runs fn(i) for i in [0, n) on n goroutines released at once, and returns the
// errors by i.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// raceOneWinner runs try on concurrency goroutines released at once and fails the
// test unless none errs and exactly one reports it won; what names the prize.
func raceOneWinner(t *testing.T, what string, try func() (bool, error)) {
	t.Helper()
	won := make([]bool, concurrency)
	errs := race(concurrency, func(i int) error {
		var err error
		won[i], err = try()
		return err
	})
	winners := 0
	for i, err := range errs {
		noErr(t, err)
		if won[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d of %d racing callers won %s, want exactly 1", winners, concurrency, what)
	}
}

// outcomes counts nil errors and errors matching want; anything else fails the test.
func outcomes(t *testing.T, errs []error, want error) (ok, matched int) {
	t.Helper()
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, want):
			matched++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	return ok, matched
}

func (s *suite) concurrency(t *testing.T) {
	t.Run("ConsumeCodeOnce", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(t, u, c)
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		got := make([]domain.AuthorizationCode, concurrency)
		errs := race(concurrency, func(i int) error {
			var err error
			got[i], err = s.consume(t, code.Hash, base.Add(time.Duration(i)*time.Millisecond))
			return err
		})
		ok, used := outcomes(t, errs, domain.ErrAlreadyUsed)
		if ok != 1 || used != concurrency-1 {
			t.Fatalf("%d redemptions found the code unused and %d used; want 1 and %d", ok, used, concurrency-1)
		}
		for i, g := range got {
			if g.FamilyID != code.FamilyID {
				t.Errorf("caller %d got family %q, want %q (a replay must learn what to revoke)", i, g.FamilyID, code.FamilyID)
			}
		}
	})

	t.Run("RedeemCodeOnce", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(t, u, c)
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		reds := make([]plan, concurrency)
		issued := make([]bool, concurrency)
		for i := range reds {
			reds[i] = redemption(c, code)
		}
		errs := race(concurrency, func(i int) error {
			var err error
			_, issued[i], err = s.redeem(t, code.Hash, reds[i])
			return err
		})
		ok, used := outcomes(t, errs, domain.ErrAlreadyUsed)
		if ok != 1 || used != concurrency-1 {
			t.Fatalf("%d redemptions succeeded and %d saw ErrAlreadyUsed; want 1 and %d", ok, used, concurrency-1)
		}
		stored := 0
		for i, red := range reds {
			if _, err := s.Tokens.RefreshTokenByHash(t.Context(), red.Refresh.Hash); err == nil {
				stored++
				if !issued[i] || errs[i] != nil {
					t.Errorf("caller %d stored a refresh token without winning", i)
				}
			}
		}
		if stored != 1 {
			t.Errorf("%d refresh tokens stored, want 1", stored)
		}
		// The replays revoked the winner's grant (RFC 6749 §4.1.2).
		noLiveToken(t, s, base, reds[0].Refresh.Hash)
	})

	t.Run("RotateRefreshTokenOnce", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		f, old := s.newFamily(t, u, c, "")
		next := make([]domain.RefreshToken, concurrency)
		for i := range next {
			next[i] = s.refreshToken(f)
		}
		now := base.Add(time.Minute)
		rotated := make([]bool, concurrency)
		errs := race(concurrency, func(i int) error {
			var err error
			_, rotated[i], err = s.rotate(t, old.Hash, c.ID, "", now, next[i])
			return err
		})
		// Each caller reads the token as the one before left it: one rotates it, the
		// others find it rotated (a reuse, which revokes the family).
		ok, reused := outcomes(t, errs, domain.ErrAlreadyUsed)
		if ok != 1 || reused != concurrency-1 {
			t.Fatalf("%d rotations succeeded and %d saw a reuse; want 1 and %d (SECURITY S32)", ok, reused, concurrency-1)
		}
		for i := range next {
			_, stored := s.Tokens.RefreshTokenByHash(t.Context(), next[i].Hash)
			if rotated[i] {
				noErr(t, stored)
			} else {
				wantErr(t, stored, domain.ErrNotFound) // the loser's token was never stored
			}
		}
		noLiveToken(t, s, now, old.Hash)
	})

	t.Run("RotateWhileRevoking", func(t *testing.T) {
		// Whichever commits first, a revoked family keeps no live token (S30, S32).
		u, c := s.newUser(t), s.newClient(t)
		for range 16 {
			f, old := s.newFamily(t, u, c, "")
			next := s.refreshToken(f)
			errs := race(2, func(i int) error {
				if i == 0 {
					_, _, err := s.rotate(t, old.Hash, c.ID, "", base, next)
					if errors.Is(err, errNotUsable) {
						return nil // the family was revoked first
					}
					return err
				}
				return s.Tokens.RevokeFamily(t.Context(), f.ID, base)
			})
			noErr(t, errs[1])
			if errs[0] != nil {
				t.Fatalf("rotate: %v", errs[0])
			}
			if !noLiveToken(t, s, base, old.Hash, next.Hash) {
				t.FailNow()
			}
		}
	})

	t.Run("RefreshesAndRedemptionsWhileRevoking", func(t *testing.T) {
		// Many grants at once, as under load: each family is refreshed (or its code
		// redeemed) while a replay revokes it, so that the writes meet in the same
		// batches (PostgreSQL's pipeline) or groups (SQLite). Whatever the order, a
		// revoked family keeps no live token, and every call answers.
		u, c := s.newUser(t), s.newClient(t)
		const n = 16
		fams := make([]usecase.TokenFamily, n)
		olds := make([]domain.RefreshToken, n)
		nexts := make([]domain.RefreshToken, n)
		codes := make([]domain.AuthorizationCode, n)
		reds := make([]plan, n)
		for i := range n {
			fams[i], olds[i] = s.newFamily(t, u, c, "")
			nexts[i] = s.refreshToken(fams[i])
			codes[i] = s.code(t, u, c)
			noErr(t, s.Codes.CreateCode(t.Context(), codes[i]))
			reds[i] = redemption(c, codes[i])
		}
		now := base.Add(time.Minute)
		errs := race(4*n, func(i int) error {
			k := i % n
			switch i / n {
			case 0:
				_, _, err := s.rotate(t, olds[k].Hash, c.ID, "", now, nexts[k])
				if errors.Is(err, errNotUsable) {
					return nil // the family was revoked first
				}
				return err
			case 1:
				return s.Tokens.RevokeFamily(t.Context(), fams[k].ID, now)
			case 2:
				_, _, err := s.redeem(t, codes[k].Hash, reds[k])
				if errors.Is(err, domain.ErrDuplicate) {
					return nil // the replay's revocation wrote the family first
				}
				return err
			default:
				return s.Tokens.RevokeFamily(t.Context(), codes[k].FamilyID, now)
			}
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("call %d: %v", i, err)
			}
		}
		for k := range n {
			for _, fam := range []string{fams[k].ID, codes[k].FamilyID} {
				revoked, err := s.Tokens.FamilyRevoked(t.Context(), fam)
				noErr(t, err)
				if !revoked {
					t.Errorf("family %s is not revoked", fam)
				}
			}
			noLiveToken(t, s, now, olds[k].Hash, nexts[k].Hash, reds[k].Refresh.Hash)
		}
	})

	t.Run("CreateFamilyWhileRevoking", func(t *testing.T) {
		// A code replay revokes the family its first redemption is creating: either the
		// creation fails (ErrDuplicate) or the family and its token end up revoked.
		u, c := s.newUser(t), s.newClient(t)
		for range 16 {
			f := usecase.TokenFamily{ID: newID("fam"), ClientID: c.ID, UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
			rt := s.refreshToken(f)
			errs := race(2, func(i int) error {
				if i == 0 {
					return s.Tokens.CreateFamily(t.Context(), f, &rt)
				}
				return s.Tokens.RevokeFamily(t.Context(), f.ID, base)
			})
			noErr(t, errs[1])
			revoked, err := s.Tokens.FamilyRevoked(t.Context(), f.ID)
			noErr(t, err)
			if !revoked {
				t.Fatal("family not revoked")
			}
			got, err := s.Tokens.RefreshTokenByHash(t.Context(), rt.Hash)
			switch {
			case errs[0] == nil:
				noErr(t, err)
				if got.Active(base) {
					t.Fatal("the family was created and revoked, but its token is live")
				}
			case errors.Is(errs[0], domain.ErrDuplicate):
				wantErr(t, err, domain.ErrNotFound)
			default:
				t.Fatalf("create: %v", errs[0])
			}
		}
	})

	t.Run("RevokeUnknownFamilyTogether", func(t *testing.T) {
		id := newID("fam")
		errs := race(concurrency, func(int) error { return s.Tokens.RevokeFamily(t.Context(), id, base) })
		for _, err := range errs {
			noErr(t, err)
		}
		revoked, err := s.Tokens.FamilyRevoked(t.Context(), id)
		noErr(t, err)
		if !revoked {
			t.Error("family not revoked")
		}
	})

	t.Run("SaveConsentTogether", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		errs := race(concurrency, func(i int) error {
			return s.Consents.SaveConsent(t.Context(), domain.Consent{UserID: u.ID, ClientID: c.ID, RedirectURI: loopbackCB,
				Scope: []string{"openid"}, GrantedAt: base.Add(time.Duration(i) * time.Second)})
		})
		for _, err := range errs {
			noErr(t, err)
		}
		_, err := s.Consents.ConsentFor(t.Context(), u.ID, c.ID, loopbackCB)
		noErr(t, err)
	})

	// Immediate rotations of an alg at once all succeed, one after the other; one key
	// ends up current.
	t.Run("RotateKeyTogether", func(t *testing.T) {
		alg := "T" + randomHex(4)
		const n = 8
		ids := make([]string, n)
		errs := race(n, func(i int) error {
			now := base.Add(time.Duration(i) * time.Second)
			k := domain.SigningKey{ID: newID("kid"), Alg: alg, PrivateKey: newHash(), PublicKey: newHash(),
				CreatedAt: now, ActivatesAt: now}
			ids[i] = k.ID
			return s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: k, Now: now, OldExpiresAt: base.Add(time.Hour)})
		})
		for _, err := range errs {
			noErr(t, err)
		}
		stored, current := countKeys(t, s, ids)
		if stored != n || current != 1 {
			t.Errorf("%d keys stored, %d current; want %d and 1", stored, current, n)
		}
	})

	// Delayed rotations of an alg at once: exactly one stores its key, the others are
	// refused because that key is pending (two CLIs, or the CLI and the scheduler).
	t.Run("DelayedRotationsTogether", func(t *testing.T) {
		alg := "T" + randomHex(4)
		noErr(t, s.Keys.CreateKey(t.Context(), domain.SigningKey{ID: newID("kid"), Alg: alg,
			PrivateKey: newHash(), PublicKey: newHash(), CreatedAt: base}))
		const n = 8
		ids := make([]string, n)
		now := base.Add(time.Hour)
		errs := race(n, func(i int) error {
			k := domain.SigningKey{ID: newID("kid"), Alg: alg, PrivateKey: newHash(), PublicKey: newHash(),
				CreatedAt: now, ActivatesAt: now.Add(time.Minute)}
			ids[i] = k.ID
			return s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: k, Now: now, OldExpiresAt: now.Add(time.Hour)})
		})
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, domain.ErrKeyPending):
				t.Errorf("a losing rotation failed with %v, want ErrKeyPending", err)
			}
		}
		stored, current := countKeys(t, s, ids)
		if ok != 1 || stored != 1 || current != 1 {
			t.Errorf("%d rotations succeeded, %d keys stored, %d current; want 1, 1, 1", ok, stored, current)
		}
	})

	// Rotations that each replace the key they saw (scheduled rotation on instances
	// whose leases overlap): exactly one goes through.
	t.Run("ReplacingRotationsTogether", func(t *testing.T) {
		alg := "T" + randomHex(4)
		seen := domain.SigningKey{ID: newID("kid"), Alg: alg, PrivateKey: newHash(), PublicKey: newHash(), CreatedAt: base}
		noErr(t, s.Keys.CreateKey(t.Context(), seen))
		const n = 8
		ids := make([]string, n)
		now := base.Add(time.Hour)
		errs := race(n, func(i int) error {
			k := domain.SigningKey{ID: newID("kid"), Alg: alg, PrivateKey: newHash(), PublicKey: newHash(),
				CreatedAt: now, ActivatesAt: now}
			ids[i] = k.ID
			return s.Keys.RotateKey(t.Context(), usecase.KeyRotation{Key: k, Now: now, OldExpiresAt: now.Add(time.Hour), Replaces: seen.ID})
		})
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, domain.ErrKeyRotated):
				t.Errorf("a losing rotation failed with %v, want ErrKeyRotated", err)
			}
		}
		stored, current := countKeys(t, s, ids)
		if ok != 1 || stored != 1 || current != 1 {
			t.Errorf("%d rotations succeeded, %d keys stored, %d current; want 1, 1, 1", ok, stored, current)
		}
	})
}

// countKeys counts the keys of ids that are stored, and those that are current.
// noLiveToken reports, as test errors, every refresh token of hashes that is still
// stored and active at now (its family having been revoked); false when there is one.
func noLiveToken(t *testing.T, s *suite, now time.Time, hashes ...[]byte) bool {
	t.Helper()
	ok := true
	for _, h := range hashes {
		got, err := s.Tokens.RefreshTokenByHash(t.Context(), h)
		if errors.Is(err, domain.ErrNotFound) {
			continue
		}
		noErr(t, err)
		if got.Active(now) {
			t.Errorf("family %s is revoked but token %x is live", got.FamilyID, h[:4])
			ok = false
		}
	}
	return ok
}

func countKeys(t *testing.T, s *suite, ids []string) (stored, current int) {
	t.Helper()
	keys, err := s.Keys.ListKeys(t.Context())
	noErr(t, err)
	for _, k := range keys {
		if slices.Contains(ids, k.ID) {
			stored++
			if k.Current() {
				current++
			}
		}
	}
	return stored, current
}
