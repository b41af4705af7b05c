package usecase_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// TestLogin_KnownBrowserOutlastsAStrangersLock: a stranger's wrong guesses at a
// user's name lock the user, from any address; a browser that gave the user's right
// password before (it holds a KnownBrowserMark) still signs in. A mark of another
// user, or a forged one, does not; and a known browser guessing wrong is throttled
// by its own counter (SECURITY S28).
func TestLogin_KnownBrowserOutlastsAStrangersLock(t *testing.T) {
	s := newFactorsSetup(t)
	s.user(t, "vera", "vera's password")
	s.user(t, "walt", "walt's password")
	if _, _, err := s.login.LogIn(s.ctx, "vera", "vera's password", "192.0.2.1", nil); err != nil {
		t.Fatal(err)
	}
	mark := s.login.KnownBrowserMark("vera")
	if mark == "" {
		t.Fatal("no mark")
	}
	var throttled *domain.ThrottledError
	// The stranger, from a new address each time.
	for i := range 8 {
		_, _, _ = s.login.LogIn(s.ctx, "vera", "a guess", fmt.Sprintf("198.51.100.%d", i+1), nil)
	}
	if _, _, err := s.login.LogIn(s.ctx, "vera", "vera's password", "192.0.2.2", nil); !errors.As(err, &throttled) {
		t.Fatalf("the right password from an unknown browser: %v, want throttled", err)
	}
	for what, m := range map[string]string{
		"walt's mark":   s.login.KnownBrowserMark("walt"),
		"a forged mark": mark[:len(mark)-2] + "xx",
		"no proof":      mark[:len(mark)/2],
	} {
		if _, _, err := s.login.LogInFrom(s.ctx, "vera", "vera's password", "192.0.2.3", m, nil); !errors.As(err, &throttled) {
			t.Errorf("%s: %v, want throttled", what, err)
		}
	}
	if _, _, err := s.login.LogInFrom(s.ctx, "VERA", "vera's password", "192.0.2.4", mark, nil); err != nil {
		t.Fatalf("the right password from vera's known browser: %v", err)
	}
	// A mark serves KnownMarkLifetime, not for ever (a copied one too): one given a
	// day too long ago does not lift the lock.
	s.clock.Advance(-usecase.KnownMarkLifetime - 24*time.Hour)
	old := s.login.KnownBrowserMark("vera")
	s.clock.Advance(usecase.KnownMarkLifetime + 24*time.Hour)
	if _, _, err := s.login.LogInFrom(s.ctx, "vera", "vera's password", "192.0.2.6", old, nil); !errors.As(err, &throttled) {
		t.Fatalf("a mark given 181 days ago: %v, want throttled", err)
	}
	// That sign-in does not lift the stranger's lock for the browsers it stops.
	if _, _, err := s.login.LogIn(s.ctx, "vera", "vera's password", "192.0.2.5", nil); !errors.As(err, &throttled) {
		t.Fatalf("the right password from an unknown browser after the known one's: %v, want throttled", err)
	}
	// The known browser guessing wrong, from new addresses, meets its own lock.
	for i := range 8 {
		_, _, err := s.login.LogInFrom(s.ctx, "vera", "a guess", fmt.Sprintf("203.0.113.%d", i+1), mark, nil)
		if errors.As(err, &throttled) {
			if i == 0 {
				t.Fatal("the known browser throttled before its own first failure")
			}
			return
		}
	}
	t.Fatal("a known browser's 8 wrong passwords were not throttled")
}

// TestLogin_OtherSpellingsShareTheLock (SECURITY S28): a name found under another
// spelling than the stored one (the lower-casing fallback maps İ to i and the Kelvin
// sign to k) counts on, and is stopped by, the stored user's lock: each spelling is
// not an allowance of guesses of its own.
func TestLogin_OtherSpellingsShareTheLock(t *testing.T) {
	s := newFactorsSetup(t)
	s.user(t, "kilian", "kilian's password")
	var throttled *domain.ThrottledError
	for i := range 8 {
		_, _, _ = s.login.LogIn(s.ctx, "kilian", "a guess", fmt.Sprintf("198.51.100.%d", i+1), nil)
	}
	for i, spelling := range []string{"kİlİan", "\u212Ailian", "kilİan"} {
		if _, _, err := s.login.LogIn(s.ctx, spelling, "kilian's password", fmt.Sprintf("192.0.2.%d", i+1), nil); !errors.As(err, &throttled) {
			t.Errorf("%q with the right password during the lock: %v, want throttled", spelling, err)
		}
	}
	// Their failures count on the stored name: a second user, locked only through
	// another spelling, is locked under its own.
	s.user(t, "ilse", "ilse's password")
	for i := range 8 {
		_, _, _ = s.login.LogIn(s.ctx, "İlse", "a guess", fmt.Sprintf("203.0.113.%d", i+1), nil)
	}
	if _, _, err := s.login.LogIn(s.ctx, "ilse", "ilse's password", "192.0.2.9", nil); !errors.As(err, &throttled) {
		t.Errorf("ilse after guesses at İlse: %v, want throttled", err)
	}
}

// TestFactors_KnownBrowserOutlastsALockOfTheFactor (SECURITY S28, S50): someone who
// knows the password locks the user's second step with wrong codes, from any
// address; a browser that passed the user's factor before (a KnownFactorMark) still
// gets through with the right code. Another user's mark, a forged one or the
// password's mark does not; and that browser guessing wrong meets its own lock.
func TestFactors_KnownBrowserOutlastsALockOfTheFactor(t *testing.T) {
	s := newFactorsSetup(t)
	u := s.user(t, "fiona", "fiona's password")
	_, secret, _ := s.enrol(t, "fiona", "fiona's password")
	walt := s.user(t, "walt", "walt's password")
	mark := s.factors.KnownFactorMark(u.ID)
	if mark == "" {
		t.Fatal("no mark")
	}
	var throttled *domain.ThrottledError
	for i := range 8 {
		_, _ = s.factors.Verify(s.ctx, u.ID, "000000", "", fmt.Sprintf("198.51.100.%d", i+1), "")
	}
	s.clock.Advance(30 * time.Second)
	right := code(t, secret, s.clock.Now())
	if _, err := s.factors.Verify(s.ctx, u.ID, right, "", "192.0.2.1", ""); !errors.As(err, &throttled) {
		t.Fatalf("the right code from an unknown browser: %v, want throttled", err)
	}
	for what, m := range map[string]string{
		"walt's mark":         s.factors.KnownFactorMark(walt.ID),
		"a forged mark":       mark[:len(mark)-2] + "xx",
		"the password's mark": s.login.KnownBrowserMark("fiona"),
	} {
		if _, err := s.factors.Verify(s.ctx, u.ID, right, "", "192.0.2.2", m); !errors.As(err, &throttled) {
			t.Errorf("%s: %v, want throttled", what, err)
		}
	}
	if _, err := s.factors.Verify(s.ctx, u.ID, right, "", "192.0.2.3", mark); err != nil {
		t.Fatalf("the right code from fiona's known browser: %v", err)
	}
	// The known browser guessing wrong, from new addresses, meets its own lock.
	for i := range 8 {
		_, err := s.factors.Verify(s.ctx, u.ID, "000000", "", fmt.Sprintf("203.0.113.%d", i+1), mark)
		if errors.As(err, &throttled) {
			if i == 0 {
				t.Fatal("the known browser throttled before its own first failure")
			}
			return
		}
	}
	t.Fatal("the known browser guessed without limit")
}
