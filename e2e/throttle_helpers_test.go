package e2e

import (
	"net/http"
	"strconv"
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
