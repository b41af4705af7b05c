package repotest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"gatehouse/domain"
)

// accounts is the contract of usecase.AccountStore: users by email; a verification
// mark only while the address is the one given; mailed links that a newer one of the
// same purpose voids, that are used once (exactly once under a race), never after
// expiry, and that die with their user.
func (s *suite) accounts(t *testing.T) {
	if s.Accounts == nil {
		t.Skip("no account store")
	}
	ctx := t.Context()
	link := func(u domain.User, purpose string, expires time.Time) domain.EmailToken {
		tok := domain.EmailToken{Hash: newHash(), UserID: u.ID, Purpose: purpose, Email: u.Email,
			CreatedAt: base, ExpiresAt: expires}
		noErr(t, s.Accounts.CreateEmailToken(ctx, tok))
		return tok
	}
	later := base.Add(time.Hour)

	t.Run("UserByEmailAndVerify", func(t *testing.T) {
		u := s.newUser(t)
		got, err := s.Accounts.UserByEmail(ctx, u.Email)
		noErr(t, err)
		if got.ID != u.ID {
			t.Fatalf("UserByEmail = %s, want %s", got.ID, u.ID)
		}
		_, err = s.Accounts.UserByEmail(ctx, "nobody-"+randomHex(4)+"@example.com")
		wantErr(t, err, domain.ErrNotFound)
		ok, err := s.Accounts.MarkEmailVerified(ctx, u.ID, "old-"+u.Email, base)
		noErr(t, err)
		if ok {
			t.Fatal("verified an address the user does not have")
		}
		if got, _ := s.Users.UserByID(ctx, u.ID); got.EmailVerified {
			t.Fatal("a refused verification verified the address")
		}
		ok, err = s.Accounts.MarkEmailVerified(ctx, u.ID, u.Email, base.Add(time.Second))
		noErr(t, err)
		got, _ = s.Users.UserByID(ctx, u.ID)
		if !ok || !got.EmailVerified {
			t.Fatalf("verification: ok %v, user %+v", ok, got)
		}
	})

	t.Run("LinksOnceNewestOnly", func(t *testing.T) {
		u := s.newUser(t)
		old := link(u, domain.PurposeResetPassword, later)
		verify := link(u, domain.PurposeVerifyEmail, later)
		newer := link(u, domain.PurposeResetPassword, later)
		_, err := s.Accounts.EmailToken(ctx, old.Hash)
		wantErr(t, err, domain.ErrNotFound) // voided by the newer reset link
		got, err := s.Accounts.EmailToken(ctx, newer.Hash)
		noErr(t, err)
		if !bytes.Equal(got.Hash, newer.Hash) || got.UserID != u.ID || got.Purpose != domain.PurposeResetPassword || got.Email != u.Email {
			t.Fatalf("link reads %+v", got)
		}
		sameTime(t, "expires_at", later, got.ExpiresAt)
		// A link of the other purpose is untouched, and is not used by this purpose.
		if ok, err := s.Accounts.ConsumeEmailToken(ctx, verify.Hash, domain.PurposeResetPassword, base); err != nil || ok {
			t.Fatalf("a verify link used as a reset link: %v, %v", ok, err)
		}
		// Expired: not used.
		if ok, err := s.Accounts.ConsumeEmailToken(ctx, newer.Hash, domain.PurposeResetPassword, later); err != nil || ok {
			t.Fatalf("an expired link was used: %v, %v", ok, err)
		}
		if ok, err := s.Accounts.ConsumeEmailToken(ctx, newer.Hash, domain.PurposeResetPassword, base); err != nil || !ok {
			t.Fatalf("use: %v, %v", ok, err)
		}
		if ok, err := s.Accounts.ConsumeEmailToken(ctx, newer.Hash, domain.PurposeResetPassword, base); err != nil || ok {
			t.Fatalf("used twice: %v, %v", ok, err)
		}
	})

	// An email change sets the new address, verified, only while the old one is still
	// there; an address another user has is refused by the unique index.
	t.Run("ChangeEmail", func(t *testing.T) {
		u, other := s.newUser(t), s.newUser(t)
		to := "new-" + u.Email
		ok, err := s.Accounts.ChangeEmail(ctx, u.ID, "stale-"+u.Email, to, base)
		noErr(t, err)
		if ok {
			t.Fatal("changed from an address the user no longer has")
		}
		_, err = s.Accounts.ChangeEmail(ctx, u.ID, u.Email, other.Email, base)
		wantErr(t, err, domain.ErrDuplicate)
		if got, _ := s.Users.UserByID(ctx, u.ID); got.Email != u.Email || got.EmailVerified {
			t.Fatalf("a refused change changed the user: %+v", got)
		}
		ok, err = s.Accounts.ChangeEmail(ctx, u.ID, u.Email, to, base.Add(time.Second))
		noErr(t, err)
		got, _ := s.Users.UserByID(ctx, u.ID)
		if !ok || got.Email != to || !got.EmailVerified {
			t.Fatalf("change: ok %v, user %+v", ok, got)
		}
		sameTime(t, "updated_at", base.Add(time.Second), got.UpdatedAt)
		if found, err := s.Accounts.UserByEmail(ctx, to); err != nil || found.ID != u.ID {
			t.Fatalf("UserByEmail(new) = %+v, %v", found, err)
		}
		_, err = s.Accounts.UserByEmail(ctx, u.Email)
		wantErr(t, err, domain.ErrNotFound)
		ok, err = s.Accounts.ChangeEmail(ctx, newID("nobody"), "", "nobody-"+randomHex(4)+"@example.com", base)
		noErr(t, err)
		if ok {
			t.Fatal("changed the email of a user who does not exist")
		}
		// A user without an email (stored as NULL) gets one.
		bare := domain.User{ID: newID("u"), Username: "bare_" + randomHex(6), PasswordHash: "x", CreatedAt: base, UpdatedAt: base}
		noErr(t, s.Users.CreateUser(ctx, bare))
		first := "first-" + randomHex(6) + "@example.com"
		ok, err = s.Accounts.ChangeEmail(ctx, bare.ID, "", first, base)
		noErr(t, err)
		if got, _ := s.Users.UserByID(ctx, bare.ID); !ok || got.Email != first || !got.EmailVerified {
			t.Fatalf("first email: ok %v, user %+v", ok, got)
		}
	})

	t.Run("ClaimedEmail", func(t *testing.T) {
		// A user who signed up with an address another account held: no email, the
		// address only claimed, and not unique.
		owner := s.newUser(t)
		claimer := func(claimed string) domain.User {
			u := domain.User{ID: newID("u"), Username: "claimer_" + randomHex(6), ClaimedEmail: claimed,
				PasswordHash: "x", CreatedAt: base, UpdatedAt: base}
			noErr(t, s.Users.CreateUser(ctx, u))
			return u
		}
		u, twin := claimer(owner.Email), claimer(owner.Email)
		got, err := s.Users.UserByID(ctx, u.ID)
		noErr(t, err)
		if got.Email != "" || got.ClaimedEmail != owner.Email || got.EmailVerified {
			t.Fatalf("claimer reads %+v", got)
		}
		if found, err := s.Accounts.UserByEmail(ctx, owner.Email); err != nil || found.ID != owner.ID {
			t.Fatalf("UserByEmail found %+v, %v: a claim must not be matched", found, err)
		}
		_, err = s.Accounts.TakeClaimedEmail(ctx, u.ID, owner.Email, base)
		wantErr(t, err, domain.ErrDuplicate)
		ok, err := s.Accounts.TakeClaimedEmail(ctx, u.ID, "other-"+owner.Email, base)
		noErr(t, err)
		if ok {
			t.Fatal("took an address the user does not claim")
		}
		// Once the owner has gone, of many claimers racing for the address exactly one
		// takes it (unverified); the others are told another user has it.
		rivals := make([]domain.User, concurrency)
		rivals[0] = u
		for i := 1; i < concurrency; i++ {
			rivals[i] = claimer(owner.Email)
		}
		noErr(t, s.Users.DeleteUser(ctx, owner.ID))
		won := make([]bool, concurrency)
		errs := race(concurrency, func(i int) error {
			var err error
			won[i], err = s.Accounts.TakeClaimedEmail(ctx, rivals[i].ID, owner.Email, base.Add(time.Second))
			return err
		})
		if ok, dup := outcomes(t, errs, domain.ErrDuplicate); ok != 1 || dup != concurrency-1 {
			t.Fatalf("%d of %d claimers took the address, %d were refused", ok, concurrency, dup)
		}
		for i, w := range won {
			if errs[i] == nil && !w {
				t.Fatal("the claimer that took the address was told it did not")
			}
		}
		taker, err := s.Accounts.UserByEmail(ctx, owner.Email)
		noErr(t, err)
		if taker.EmailVerified || taker.ClaimedEmail != "" {
			t.Fatalf("after taking: %+v", taker)
		}
		sameTime(t, "updated_at", base.Add(time.Second), taker.UpdatedAt)
		ok, err = s.Accounts.TakeClaimedEmail(ctx, taker.ID, owner.Email, base)
		noErr(t, err)
		if ok {
			t.Fatal("took the address twice")
		}
		// An address of their own, confirmed by its link, ends the claim.
		mine := "mine-" + randomHex(6) + "@example.com"
		ok, err = s.Accounts.ChangeEmail(ctx, twin.ID, "", mine, base)
		noErr(t, err)
		if got, _ := s.Users.UserByID(ctx, twin.ID); !ok || got.Email != mine || got.ClaimedEmail != "" {
			t.Fatalf("after an email change: ok %v, %+v", ok, got)
		}
	})

	t.Run("PasswordChangeVoidsLinks", func(t *testing.T) {
		// SECURITY S47: links asked for under the old password die with it; the
		// verification of the current address, and other users' links, stay.
		u, other := s.newUser(t), s.newUser(t)
		reset := link(u, domain.PurposeResetPassword, later)
		change := domain.EmailToken{Hash: newHash(), UserID: u.ID, Purpose: domain.PurposeChangeEmail, Email: "x-" + u.Email,
			CreatedAt: base, ExpiresAt: later}
		noErr(t, s.Accounts.CreateEmailToken(ctx, change))
		verify := link(u, domain.PurposeVerifyEmail, later)
		othersReset := link(other, domain.PurposeResetPassword, later)
		noErr(t, s.Users.UpdatePassword(ctx, u.ID, "new-hash", base.Add(time.Second)))
		for name, h := range map[string][]byte{"reset": reset.Hash, "email change": change.Hash} {
			if _, err := s.Accounts.EmailToken(ctx, h); !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("the %s link outlived the password change: %v", name, err)
			}
		}
		for name, h := range map[string][]byte{"verification": verify.Hash, "other user's reset": othersReset.Hash} {
			if _, err := s.Accounts.EmailToken(ctx, h); err != nil {
				t.Errorf("the %s link: %v", name, err)
			}
		}
		if got, _ := s.Users.UserByID(ctx, u.ID); got.PasswordHash != "new-hash" {
			t.Fatalf("password hash %q", got.PasswordHash)
		}
	})

	t.Run("ChangeEmailLinks", func(t *testing.T) {
		u := s.newUser(t)
		to := "next-" + u.Email
		tok := domain.EmailToken{Hash: newHash(), UserID: u.ID, Purpose: domain.PurposeChangeEmail, Email: to, CreatedAt: base, ExpiresAt: later}
		noErr(t, s.Accounts.CreateEmailToken(ctx, tok))
		newer := tok
		newer.Hash, newer.Email = newHash(), "other-"+u.Email
		noErr(t, s.Accounts.CreateEmailToken(ctx, newer))
		_, err := s.Accounts.EmailToken(ctx, tok.Hash)
		wantErr(t, err, domain.ErrNotFound) // voided by the newer change link
		got, err := s.Accounts.EmailToken(ctx, newer.Hash)
		noErr(t, err)
		if got.Purpose != domain.PurposeChangeEmail || got.Email != newer.Email || got.UserID != u.ID {
			t.Fatalf("change link reads %+v", got)
		}
	})

	t.Run("RaceOneUse", func(t *testing.T) {
		u := s.newUser(t)
		tok := link(u, domain.PurposeVerifyEmail, later)
		raceOneWinner(t, "one link", func() (bool, error) {
			return s.Accounts.ConsumeEmailToken(ctx, tok.Hash, domain.PurposeVerifyEmail, base)
		})
	})

	t.Run("DieWithTheirUser", func(t *testing.T) {
		u := s.newUser(t)
		tok := link(u, domain.PurposeResetPassword, later)
		noErr(t, s.Users.DeleteUser(ctx, u.ID))
		_, err := s.Accounts.EmailToken(ctx, tok.Hash)
		wantErr(t, err, domain.ErrNotFound)
	})
}
