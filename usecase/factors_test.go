package usecase_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"gatehouse/adapter/crypto"
	"gatehouse/adapter/identifier"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/usecase"
)

type factorsSetup struct {
	*accountsSetup
	factors *usecase.Factors
	login   *usecase.Login
	store   *bunrepo.FactorRepository
}

func newFactorsSetup(t *testing.T) *factorsSetup {
	t.Helper()
	s := newAccountsSetup(t)
	store := bunrepo.NewFactorRepository(s.db)
	factors := usecase.NewFactors(s.users, store, crypto.NewTOTP(), newCipher(t), identifier.NewRules(), s.passwords, s.throttle,
		s.random, s.hasher, s.clock, s.accounts, nil, usecase.MFASettings{Issuer: "https://id.example.com", Policy: usecase.MFAOptional},
		nil, nil, nil)
	login := usecase.NewLogin(s.users, identifier.NewRules(), s.passwords, s.throttle, bunrepo.NewSessionRepository(s.db), s.tokens,
		s.admin, s.random, s.hasher, s.clock, factors)
	return &factorsSetup{accountsSetup: s, factors: factors, login: login, store: store}
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol signs the user in (password only) and enrols an authenticator app.
func (s *factorsSetup) enrol(t *testing.T, name, password string) (domain.Session, string, []string) {
	t.Helper()
	sess, _, err := s.login.LogIn(s.ctx, name, password, "192.0.2.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if sess.HasMFA() || len(sess.AMR) != 1 || sess.AMR[0] != "pwd" {
		t.Fatalf("a password sign-in has amr %v", sess.AMR)
	}
	e, err := s.factors.BeginTOTP(s.ctx, sess, "", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	codes, err := s.factors.ConfirmTOTP(s.ctx, sess, e.Token, code(t, e.Secret, s.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return sess, e.Secret, codes
}

// TestFactors_PendingStateBoundAndShortLived: the state between the password and the
// factor names its user only for the browser that gave the password, for 5 minutes,
// and cannot be forged (SECURITY S50).
func TestFactors_PendingStateBoundAndShortLived(t *testing.T) {
	s := newFactorsSetup(t)
	u := s.user(t, "penny", "penny's password")
	s.enrol(t, "penny", "penny's password")
	_, _, err := s.login.LogIn(s.ctx, "penny", "penny's password", "192.0.2.1", nil)
	var sf *usecase.SecondFactorRequired
	if !errors.As(err, &sf) || sf.UserID != u.ID {
		t.Fatalf("LogIn of a user with a factor: %v, want SecondFactorRequired", err)
	}
	pending, err := s.factors.BeginSecondFactor(u.ID, "browser-a")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.factors.PendingUser(pending, "browser-a"); err != nil || got != u.ID {
		t.Fatalf("PendingUser = %q, %v", got, err)
	}
	for _, c := range []struct{ pending, browser string }{
		{pending, "browser-b"}, {pending, ""}, {pending[:len(pending)-2] + "AA", "browser-a"}, {"", "browser-a"},
	} {
		if _, err := s.factors.PendingUser(c.pending, c.browser); !errors.Is(err, usecase.ErrSecondFactorExpired) {
			t.Fatalf("PendingUser(%.10q, %q) = %v, want ErrSecondFactorExpired", c.pending, c.browser, err)
		}
	}
	s.clock.Advance(usecase.SecondFactorTTL + time.Second)
	if _, err := s.factors.PendingUser(pending, "browser-a"); !errors.Is(err, usecase.ErrSecondFactorExpired) {
		t.Fatalf("an expired pending state: %v", err)
	}
	if _, _, err := s.login.CompleteSecondFactor(s.ctx, pending, "browser-a", "123456", "", "192.0.2.1", nil); !errors.Is(err, usecase.ErrSecondFactorExpired) {
		t.Fatalf("CompleteSecondFactor with an expired state: %v", err)
	}
}

// TestFactors_CodesOnceAndStaleSessions: a code signs in once (once too among racing
// callers), recovery codes once, the session records mfa; a session older than 5
// minutes needs the password to change factors.
func TestFactors_CodesOnceAndStaleSessions(t *testing.T) {
	s := newFactorsSetup(t)
	u := s.user(t, "otto", "otto's password")
	sess, secret, codes := s.enrol(t, "otto", "otto's password")
	if len(codes) != usecase.RecoveryCodeCount {
		t.Fatalf("%d recovery codes", len(codes))
	}
	// The enrolment's code is used already.
	if _, err := s.factors.Verify(s.ctx, u.ID, code(t, secret, s.clock.Now()), "", "192.0.2.2"); !errors.Is(err, usecase.ErrBadSecondFactor) {
		t.Fatalf("the enrolment's code again: %v", err)
	}
	s.clock.Advance(30 * time.Second)
	next := code(t, secret, s.clock.Now())
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 16 {
		wg.Go(func() {
			if _, err := s.factors.Verify(s.ctx, u.ID, next, "", "192.0.2.2"); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d racing uses of one code won, want 1", wins)
	}
	s.throttle.Success(s.ctx, "mfa:"+u.ID)
	s.throttle.Success(s.ctx, "addr:192.0.2.2")

	pending, _ := s.factors.BeginSecondFactor(u.ID, "browser")
	ns, _, err := s.login.CompleteSecondFactor(s.ctx, pending, "browser", "", codes[0], "192.0.2.3", &sess)
	if err != nil {
		t.Fatal(err)
	}
	if !ns.HasMFA() || ns.ID != sess.ID {
		t.Fatalf("session after the factor: amr %v, id kept %v", ns.AMR, ns.ID == sess.ID)
	}
	if _, _, err := s.login.CompleteSecondFactor(s.ctx, pending, "browser", "", codes[0], "192.0.2.3", nil); !errors.Is(err, usecase.ErrBadSecondFactor) {
		t.Fatalf("a recovery code twice: %v", err)
	}
	// A password change keeps how this browser signed in.
	cs, _, err := s.login.ChangePassword(s.ctx, ns, "otto's password", "otto's new password", "192.0.2.3")
	if err != nil || !cs.HasMFA() {
		t.Fatalf("ChangePassword: %v, amr %v", err, cs.AMR)
	}
	ns = cs

	s.clock.Advance(usecase.FreshSignIn + time.Second)
	var ve *usecase.ValidationError
	if err := s.factors.RemoveTOTP(s.ctx, ns, "", "192.0.2.3"); !errors.As(err, &ve) || ve.Field != "current_password" {
		t.Fatalf("removal by a stale session without the password: %v", err)
	}
	if err := s.factors.RemoveTOTP(s.ctx, ns, "otto's new password", "192.0.2.3"); err != nil {
		t.Fatal(err)
	}
	if has, _ := s.factors.Has(s.ctx, u.ID); has {
		t.Fatal("the factor outlived its removal")
	}
	if _, _, err := s.login.LogIn(s.ctx, "otto", "otto's new password", "192.0.2.3", nil); err != nil {
		t.Fatalf("LogIn after removal: %v", err)
	}
}
