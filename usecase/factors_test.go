package usecase_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
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
	return newFactorsSetupWith(t, usecase.MFASettings{Issuer: "https://id.example.com", Policy: usecase.MFAOptional})
}

func newFactorsSetupWith(t *testing.T, settings usecase.MFASettings) *factorsSetup {
	t.Helper()
	s := newAccountsSetup(t)
	store := bunrepo.NewFactorRepository(s.db)
	factors := usecase.NewFactors(s.users, store, crypto.NewTOTP(), newCipher(t), identifier.NewRules(), s.passwords, s.throttle,
		s.random, s.hasher, s.clock, s.accounts, nil, settings, nil, nil, nil)
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

// TestFactors_TOTPURINamesWithoutColons: the authenticator app's otpauth URI names
// this server by its brand name, else by the issuer's host without its port, and
// neither that name nor the account holds a colon (the label is "issuer:account").
func TestFactors_TOTPURINamesWithoutColons(t *testing.T) {
	for _, tc := range []struct {
		settings usecase.MFASettings
		want     string
	}{
		{usecase.MFASettings{Issuer: "https://id.example.com"}, "id.example.com"},
		{usecase.MFASettings{Issuer: "http://localhost:8080"}, "localhost"},
		{usecase.MFASettings{Issuer: "https://id.example.com:8443/tenant"}, "id.example.com"},
		{usecase.MFASettings{Issuer: "http://127.0.0.1:8080"}, "127.0.0.1"},
		{usecase.MFASettings{Issuer: "http://[::1]:8080"}, "--1"},
		{usecase.MFASettings{Issuer: "http://localhost:8080", Name: "Acme: Sign-in"}, "Acme Sign-in"},
		{usecase.MFASettings{Issuer: "http://localhost:8080", Name: " : "}, "localhost"},
	} {
		s := newFactorsSetupWith(t, tc.settings)
		s.user(t, "alice", "alice's password")
		sess, _, err := s.login.LogIn(s.ctx, "alice", "alice's password", "192.0.2.1", nil)
		if err != nil {
			t.Fatal(err)
		}
		e, err := s.factors.BeginTOTP(s.ctx, sess, "", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(e.URI)
		if err != nil {
			t.Fatal(err)
		}
		if label, issuer := u.Path, u.Query().Get("issuer"); label != "/"+tc.want+":alice" || issuer != tc.want {
			t.Errorf("issuer %q, name %q: label %q, issuer parameter %q; want %q", tc.settings.Issuer, tc.settings.Name,
				label, issuer, tc.want)
		}
	}
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
	pending, err := s.factors.BeginSecondFactor(u.ID, "browser-a", nil, sf.Credential)
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
	// A password changed since the first step (a reset, set-password) ends it too.
	if err := s.admin.SetPassword(s.ctx, u.ID, "penny's new password"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.login.CompleteSecondFactor(s.ctx, pending, "browser-a", "123456", "", "192.0.2.1", "", nil); !errors.Is(err, usecase.ErrSecondFactorExpired) {
		t.Fatalf("CompleteSecondFactor after the password changed: %v, want ErrSecondFactorExpired", err)
	}
	s.clock.Advance(usecase.SecondFactorTTL + time.Second)
	if _, err := s.factors.PendingUser(pending, "browser-a"); !errors.Is(err, usecase.ErrSecondFactorExpired) {
		t.Fatalf("an expired pending state: %v", err)
	}
	if _, _, err := s.login.CompleteSecondFactor(s.ctx, pending, "browser-a", "123456", "", "192.0.2.1", "", nil); !errors.Is(err, usecase.ErrSecondFactorExpired) {
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
	if _, err := s.factors.Verify(s.ctx, u.ID, code(t, secret, s.clock.Now()), "", "192.0.2.2", ""); !errors.Is(err, usecase.ErrBadSecondFactor) {
		t.Fatalf("the enrolment's code again: %v", err)
	}
	s.clock.Advance(30 * time.Second)
	next := code(t, secret, s.clock.Now())
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 16 {
		wg.Go(func() {
			if _, err := s.factors.Verify(s.ctx, u.ID, next, "", "192.0.2.2", ""); err == nil {
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

	_, _, err := s.login.LogIn(s.ctx, "otto", "otto's password", "192.0.2.3", nil)
	var sf *usecase.SecondFactorRequired
	if !errors.As(err, &sf) {
		t.Fatalf("LogIn: %v, want SecondFactorRequired", err)
	}
	pending, _ := s.factors.BeginSecondFactor(u.ID, "browser", nil, sf.Credential)
	ns, _, err := s.login.CompleteSecondFactor(s.ctx, pending, "browser", "", codes[0], "192.0.2.3", "", &sess)
	if err != nil {
		t.Fatal(err)
	}
	if !ns.HasMFA() || ns.ID != sess.ID {
		t.Fatalf("session after the factor: amr %v, id kept %v", ns.AMR, ns.ID == sess.ID)
	}
	if _, _, err := s.login.CompleteSecondFactor(s.ctx, pending, "browser", "", codes[0], "192.0.2.3", "", nil); !errors.Is(err, usecase.ErrBadSecondFactor) {
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

// TestFactors_SessionFromBeforeTheFactor: a browser signed in with the password
// before the account had a second factor cannot change the factors, fresh or with
// the password again: the password alone would otherwise remove the factor. Once
// stepped up with the factor it can (SECURITY S50, S52).
func TestFactors_SessionFromBeforeTheFactor(t *testing.T) {
	s := newFactorsSetup(t)
	u := s.user(t, "pia", "pia's password")
	early, _, err := s.login.LogIn(s.ctx, "pia", "pia's password", "192.0.2.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _ := s.enrol(t, "pia", "pia's password")
	var ve *usecase.ValidationError
	for _, stale := range []bool{false, true} {
		if stale {
			s.clock.Advance(usecase.FreshSignIn + time.Second)
		}
		if err := s.factors.RemoveTOTP(s.ctx, early, "pia's password", "192.0.2.1"); !errors.As(err, &ve) ||
			!strings.Contains(ve.Message, "without your second factor") {
			t.Fatalf("removal by the earlier session (stale %v): %v", stale, err)
		}
		if _, err := s.factors.BeginTOTP(s.ctx, early, "pia's password", "192.0.2.1"); !errors.As(err, &ve) ||
			!strings.Contains(ve.Message, "without your second factor") {
			t.Fatalf("enrolment by the earlier session (stale %v): %v", stale, err)
		}
	}
	if has, _ := s.factors.HasTOTP(s.ctx, u.ID); !has {
		t.Fatal("the factor was removed")
	}
	s.clock.Advance(30 * time.Second)
	up, _, err := s.login.StepUp(s.ctx, early, code(t, secret, s.clock.Now()), "", "192.0.2.1", "")
	if err != nil || !up.HasMFA() {
		t.Fatalf("step-up: %v, amr %v", err, up.AMR)
	}
	if err := s.factors.RemoveTOTP(s.ctx, up, "", "192.0.2.1"); err != nil {
		t.Fatalf("removal after the step-up: %v", err)
	}
}

// TestLogin_PasskeyEnrolled: a password session that added a passkey counts as one
// with a second factor (amr pwd, mfa; acr mfa, not the phishing-resistant level, which
// needs a sign-in with the passkey), so it may go on changing the factors.
func TestLogin_PasskeyEnrolled(t *testing.T) {
	s := newFactorsSetup(t)
	s.user(t, "quin", "quin's password")
	sess, _, err := s.login.LogIn(s.ctx, "quin", "quin's password", "192.0.2.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	up, secret, err := s.login.PasskeyEnrolled(s.ctx, sess)
	if err != nil || secret == "" || up.ID != sess.ID || !slices.Equal(up.AMR, []string{"pwd", "mfa"}) ||
		domain.SessionACR(up.AMR) != domain.ACRMFA {
		t.Fatalf("after a passkey: %v, amr %v, same id %v", err, up.AMR, up.ID == sess.ID)
	}
	if again, secret, err := s.login.PasskeyEnrolled(s.ctx, up); err != nil || secret != "" || again.ID != up.ID {
		t.Fatalf("a session with a second factor changed: %v %q", err, secret)
	}
	// With a factor now (an app, say), the stepped-up session may change factors.
	e, err := s.factors.BeginTOTP(s.ctx, up, "", "192.0.2.1")
	if err != nil {
		t.Fatalf("enrolment after the passkey: %v", err)
	}
	if _, err := s.factors.ConfirmTOTP(s.ctx, up, e.Token, code(t, e.Secret, s.clock.Now())); err != nil {
		t.Fatal(err)
	}
	if err := s.factors.RemoveTOTP(s.ctx, up, "", "192.0.2.1"); err != nil {
		t.Fatalf("removal by the stepped-up session: %v", err)
	}
}

// TestFactors_SecondFactorKeepsFirstStepAMR: after an upstream sign-in (no password
// typed) and the authenticator app, the session says "fed", the upstream's methods,
// "otp" and "mfa", and no "pwd"; a step-up of such a session too. After a password,
// "pwd", "otp", "mfa" as before.
func TestFactors_SecondFactorKeepsFirstStepAMR(t *testing.T) {
	s := newFactorsSetup(t)
	u := s.user(t, "fedora", "fedora's password")
	_, secret, _ := s.enrol(t, "fedora", "fedora's password")
	step := func(d time.Duration) string {
		s.clock.Advance(d)
		return code(t, secret, s.clock.Now())
	}

	_, _, err := s.login.LogIn(s.ctx, "fedora", "fedora's password", "192.0.2.9", nil)
	var first1 *usecase.SecondFactorRequired
	if !errors.As(err, &first1) {
		t.Fatalf("LogIn: %v, want SecondFactorRequired", err)
	}
	first := usecase.UpstreamAMR(usecase.UpstreamIdentity{AMR: []string{"kba", "magic"}})
	pending, err := s.factors.BeginSecondFactor(u.ID, "browser", first, first1.Credential)
	if err != nil {
		t.Fatal(err)
	}
	ns, _, err := s.login.CompleteSecondFactor(s.ctx, pending, "browser", step(30*time.Second), "", "192.0.2.9", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"fed", "kba", "otp", "mfa"}; !slices.Equal(ns.AMR, want) {
		t.Fatalf("amr after an upstream and the app: %v, want %v", ns.AMR, want)
	}
	if domain.SessionACR(ns.AMR) != domain.ACRMFA {
		t.Fatalf("acr %v", domain.SessionACR(ns.AMR))
	}

	// A password sign-in then the app: as always.
	_, _, err = s.login.LogIn(s.ctx, "fedora", "fedora's password", "192.0.2.9", nil)
	var sf *usecase.SecondFactorRequired
	if !errors.As(err, &sf) || !slices.Equal(sf.AMR, []string{"pwd"}) {
		t.Fatalf("LogIn: %v (amr %v), want SecondFactorRequired with pwd", err, sf)
	}
	pending, _ = s.factors.BeginSecondFactor(u.ID, "browser", sf.AMR, sf.Credential)
	ps, _, err := s.login.CompleteSecondFactor(s.ctx, pending, "browser", step(30*time.Second), "", "192.0.2.9", "", nil)
	if err != nil || !slices.Equal(ps.AMR, usecase.AMRSecond) {
		t.Fatalf("amr after the password and the app: %v, %v", ps.AMR, err)
	}

	// A step-up of an upstream-only session keeps its methods too.
	fedOnly := ns
	fedOnly.AMR = []string{"fed"}
	ss, _, err := s.login.StepUp(s.ctx, fedOnly, step(30*time.Second), "", "192.0.2.9", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"fed", "otp", "mfa"}; !slices.Equal(ss.AMR, want) {
		t.Fatalf("amr after a step-up of an upstream session: %v, want %v", ss.AMR, want)
	}
}
