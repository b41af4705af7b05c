package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A throttled test must show that even a right answer is refused while the lock
// holds. The first lock lasts a second, and a busy machine can take longer than that
// to send the next requests; so these helpers grow the lock first, and judge the
// right answer by how long after the lock's refusal it was answered.

// lockedOut repeats a failing attempt until the server refuses one with 429 and a
// Retry-After of at least minWait seconds, sleeping out each shorter lock: an attempt
// refused while locked does not count, so only failures after a lock ends grow the
// next one. failed checks each answer before the lock. It returns the 429, when its
// attempt was sent and its Retry-After.
func lockedOut(t *testing.T, what string, attempts, minWait int, attempt func() Response, failed func(Response)) (Response, time.Time, int) {
	t.Helper()
	for range attempts {
		sent := time.Now()
		r := attempt()
		if r.Status != http.StatusTooManyRequests {
			failed(r)
			continue
		}
		wait, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || wait < 1 {
			t.Fatalf("%s: 429 with Retry-After %q, want whole seconds", what, r.Header.Get("Retry-After"))
		}
		if wait >= minWait {
			return r, sent, wait
		}
		time.Sleep(time.Duration(wait) * time.Second)
	}
	t.Fatalf("%s: %d failures did not lock for %d s", what, attempts, minWait)
	return Response{}, time.Time{}, 0
}

// refusedWhileLocked checks that r, a right answer sent after the refusal that
// lockedOut returned, was refused with 429 if it was answered while the lock surely
// held. Retry-After is the wait rounded to a second, plus a second
// (domain.ThrottlePolicy.Check), so the lock holds for at least wait-1.5 s after sent.
func refusedWhileLocked(t *testing.T, what string, sent time.Time, wait int, r Response) {
	t.Helper()
	switch took := time.Since(sent); {
	case r.Status == http.StatusTooManyRequests:
	case took < time.Duration(wait)*time.Second-1500*time.Millisecond:
		t.Errorf("%s: %d, want 429", what, r.Status)
	default:
		t.Logf("%s came %s after the lock's refusal, maybe after the lock: %d", what, took, r.Status)
	}
}

// TestSecurity_S28_IPv6NetworkThrottledAsOne: a caller given a /64 (as IPv6 homes and
// hosts commonly are) cannot spread its guesses over the network's addresses: wrong
// passwords from addresses of one /64 count together, and are throttled as those of
// one address would be; addresses of other networks are counted apart.
func TestSecurity_S28_IPv6NetworkThrottledAsOne(t *testing.T) {
	t.Parallel()
	// The harness's loopback sources are the proxy; X-Forwarded-For names the caller.
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "127.0.0.0/8"}})
	_, id, secret := newPasswordClient(t, srv)
	guess := func(from string) int {
		t.Helper()
		body := form("grant_type", "password", "username", uniqueName("nobody"), "password", "wrong password")
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/oauth/token", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Basic "+basicHeader(id, secret))
		req.Header.Set("X-Forwarded-For", from)
		return srv.Do(t, nil, req).Status
	}
	// Other networks, one guess each: never throttled.
	for i := range 8 {
		if s := guess(fmt.Sprintf("2001:db8:77:%x::1", i+1)); s != http.StatusBadRequest {
			t.Fatalf("a guess from network %d: %d, want 400", i+1, s)
		}
	}
	// One /64, a new address for each guess: throttled after the free failures.
	for i := range 12 {
		switch s := guess(fmt.Sprintf("2001:db8:1:2:%x::%x", i+1, i+7)); s {
		case http.StatusTooManyRequests:
			if i < 5 {
				t.Fatalf("throttled after %d guesses, want 5 free", i)
			}
			return
		case http.StatusBadRequest:
		default:
			t.Fatalf("guess %d: %d", i+1, s)
		}
	}
	t.Fatal("12 guesses from addresses of one /64 were not throttled")
}

// TestSecurity_S28_KnownBrowserSignsInThroughALock: a stranger's wrong guesses at a
// user's name, from addresses of their own, lock the user; the right password from
// an unknown browser then waits too, but the browser the user signed in with before
// (it holds the gatehouse_known cookie) signs in.
func TestSecurity_S28_KnownBrowserSignsInThroughALock(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	user, pass, _ := newUser(t, srv)
	home := newAZBrowser(t, srv)
	if r := home.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("log in: %d", r.Status)
	}
	if home.cookie("gatehouse_known") == "" {
		t.Fatal("no gatehouse_known cookie after a right password")
	}
	home.setCookie("gatehouse_session", "") // signed out, the mark kept
	_, sent, wait := lockedOut(t, "a stranger's guesses", 20, 3, func() Response {
		return newAZBrowser(t, srv).logIn("/login", user, "a wrong guess")
	}, func(r Response) {
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("a wrong guess: %d, want 401", r.Status)
		}
	})
	refusedWhileLocked(t, "the right password from an unknown browser", sent, wait, newAZBrowser(t, srv).logIn("/login", user, pass))
	if r := home.logIn("/login", user, pass); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("the right password from the known browser: %d %q, want signed in", r.Status, r.Header.Get("Location"))
	}
}

// TestSecurity_S28_KnownBrowserPassesALockedFactor: someone who knows a user's
// password locks the second step with wrong codes, each from a browser and address
// of their own; the right code from an unknown browser then waits too, but the
// browser that passed the user's factor before (it holds the gatehouse_known_factor
// cookie) signs in.
func TestSecurity_S28_KnownBrowserPassesALockedFactor(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	user, pass, _, _ := mfaUser(t, srv)
	home := newAZBrowser(t, srv)
	if r := home.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("log in: %d", r.Status)
	}
	secret, codes := enrolTOTP(t, home, pass)
	home.setCookie("gatehouse_session", "")
	toFactor := func(b *azBrowser) string {
		t.Helper()
		r := b.logIn("/login", user, pass)
		loc := r.Header.Get("Location")
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login/mfa") {
			t.Fatalf("after the password: %d %q, want the second-factor page", r.Status, loc)
		}
		return loc
	}
	if r := secondFactor(t, home, toFactor(home), "recovery_code", codes[0]); r.Status != http.StatusSeeOther {
		t.Fatalf("the second factor at home: %d\n%s", r.Status, r.Body)
	}
	if home.cookie("gatehouse_known_factor") == "" {
		t.Fatal("no gatehouse_known_factor cookie after the second factor")
	}
	home.setCookie("gatehouse_session", "") // signed out, the marks kept

	wrong := wrongCode(t, secret)
	_, sent, wait := lockedOut(t, "the intruder's wrong codes", 20, 3, func() Response {
		b := newAZBrowser(t, srv)
		return secondFactor(t, b, toFactor(b), "otp", wrong)
	}, func(r Response) {
		if r.Status != http.StatusBadRequest {
			t.Fatalf("a wrong code: %d, want 400", r.Status)
		}
	})
	b := newAZBrowser(t, srv)
	loc := toFactor(b)
	refusedWhileLocked(t, "the right code from an unknown browser", sent, wait, secondFactor(t, b, loc, "recovery_code", codes[1]))
	if r := secondFactor(t, home, toFactor(home), "recovery_code", codes[2]); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("the right code from the known browser: %d %q, want signed in\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
}
