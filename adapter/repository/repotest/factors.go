package repotest

import (
	"bytes"
	"testing"
	"time"

	"gatehouse/domain"
)

// factors is the contract of usecase.FactorStore: one authenticator app per user, its
// steps used in increasing order only (exactly one winner when racing callers use one
// step: a code cannot sign in twice), recovery codes used once (exactly once under a
// race), and both removed together and with their user.
func (s *suite) factors(t *testing.T) {
	if s.Factors == nil {
		t.Skip("no factor store")
	}
	ctx := t.Context()
	f := s.Factors
	enrol := func(t *testing.T, u domain.User, step int64) domain.TOTPFactor {
		t.Helper()
		tf := domain.TOTPFactor{UserID: u.ID, SealedSecret: newHash(), LastStep: step, CreatedAt: base}
		noErr(t, f.CreateTOTPFactor(ctx, tf))
		return tf
	}

	t.Run("TOTPRoundTripAndOnePerUser", func(t *testing.T) {
		u := s.newUser(t)
		_, err := f.TOTPFactor(ctx, u.ID)
		wantErr(t, err, domain.ErrNotFound)
		want := enrol(t, u, 41)
		got, err := f.TOTPFactor(ctx, u.ID)
		noErr(t, err)
		if got.UserID != u.ID || !bytes.Equal(got.SealedSecret, want.SealedSecret) || got.LastStep != 41 {
			t.Fatalf("TOTPFactor = %+v, want %+v", got, want)
		}
		sameTime(t, "created_at", want.CreatedAt, got.CreatedAt)
		wantErr(t, f.CreateTOTPFactor(ctx, domain.TOTPFactor{UserID: u.ID, SealedSecret: newHash(), CreatedAt: base}), domain.ErrDuplicate)
		wantErr(t, f.CreateTOTPFactor(ctx, domain.TOTPFactor{UserID: "nobody-" + randomHex(4), SealedSecret: newHash(), CreatedAt: base}),
			domain.ErrNotFound)
	})

	t.Run("StepsOnlyForward", func(t *testing.T) {
		u := s.newUser(t)
		ok, err := f.UseTOTPStep(ctx, u.ID, 10)
		noErr(t, err)
		if ok {
			t.Fatal("used a step of a user without an authenticator")
		}
		enrol(t, u, 100)
		for _, c := range []struct {
			step int64
			want bool
		}{{100, false}, {99, false}, {101, true}, {101, false}, {100, false}, {103, true}} {
			ok, err := f.UseTOTPStep(ctx, u.ID, c.step)
			noErr(t, err)
			if ok != c.want {
				t.Fatalf("UseTOTPStep(%d) = %v, want %v", c.step, ok, c.want)
			}
		}
		got, _ := f.TOTPFactor(ctx, u.ID)
		if got.LastStep != 103 {
			t.Fatalf("last step = %d, want 103", got.LastStep)
		}
	})

	t.Run("StepRaceOneWinner", func(t *testing.T) {
		u := s.newUser(t)
		enrol(t, u, 5)
		raceOneWinner(t, "one code", func() (bool, error) { return f.UseTOTPStep(ctx, u.ID, 6) })
	})

	t.Run("RecoveryCodesOnce", func(t *testing.T) {
		u := s.newUser(t)
		old := [][]byte{newHash(), newHash()}
		noErr(t, f.ReplaceRecoveryCodes(ctx, u.ID, old, base))
		codes := [][]byte{newHash(), newHash(), newHash()}
		noErr(t, f.ReplaceRecoveryCodes(ctx, u.ID, codes, base.Add(time.Second)))
		if n, err := f.RecoveryCodesLeft(ctx, u.ID); err != nil || n != 3 {
			t.Fatalf("RecoveryCodesLeft = %d, %v; want 3", n, err)
		}
		ok, err := f.UseRecoveryCode(ctx, u.ID, old[0])
		noErr(t, err)
		if ok {
			t.Fatal("a replaced recovery code was accepted")
		}
		other := s.newUser(t)
		if ok, _ := f.UseRecoveryCode(ctx, other.ID, codes[0]); ok {
			t.Fatal("another user's recovery code was accepted")
		}
		ok, err = f.UseRecoveryCode(ctx, u.ID, codes[0])
		noErr(t, err)
		if !ok {
			t.Fatal("a recovery code was refused")
		}
		if ok, _ := f.UseRecoveryCode(ctx, u.ID, codes[0]); ok {
			t.Fatal("a recovery code was accepted twice")
		}
		raceOneWinner(t, "one recovery code", func() (bool, error) { return f.UseRecoveryCode(ctx, u.ID, codes[1]) })
		if n, _ := f.RecoveryCodesLeft(ctx, u.ID); n != 1 {
			t.Fatalf("RecoveryCodesLeft = %d, want 1", n)
		}
	})

	t.Run("DeleteFactors", func(t *testing.T) {
		u := s.newUser(t)
		ok, err := f.DeleteFactors(ctx, u.ID)
		noErr(t, err)
		if ok {
			t.Fatal("deleted factors of a user without any")
		}
		enrol(t, u, 1)
		noErr(t, f.ReplaceRecoveryCodes(ctx, u.ID, [][]byte{newHash()}, base))
		ok, err = f.DeleteFactors(ctx, u.ID)
		noErr(t, err)
		if !ok {
			t.Fatal("DeleteFactors found nothing")
		}
		_, err = f.TOTPFactor(ctx, u.ID)
		wantErr(t, err, domain.ErrNotFound)
		if n, _ := f.RecoveryCodesLeft(ctx, u.ID); n != 0 {
			t.Fatalf("%d recovery codes left after DeleteFactors", n)
		}
	})

	t.Run("DieWithTheirUser", func(t *testing.T) {
		u := s.newUser(t)
		enrol(t, u, 1)
		noErr(t, f.ReplaceRecoveryCodes(ctx, u.ID, [][]byte{newHash()}, base))
		noErr(t, s.Users.DeleteUser(ctx, u.ID))
		_, err := f.TOTPFactor(ctx, u.ID)
		wantErr(t, err, domain.ErrNotFound)
		if n, _ := f.RecoveryCodesLeft(ctx, u.ID); n != 0 {
			t.Fatalf("%d recovery codes outlived their user", n)
		}
	})
}
