package repotest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// throttleClock is a settable clock, safe for racing goroutines.
type throttleClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *throttleClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *throttleClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *throttleClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// wantFree fails unless key may try now.
func wantFree(t *testing.T, th usecase.Throttle, key, what string) {
	t.Helper()
	if err := th.Check(t.Context(), key); err != nil {
		t.Fatalf("%s: Check = %v, want a free key", what, err)
	}
}

// wantLocked fails unless key is locked now with exactly retryAfter to wait.
func wantLocked(t *testing.T, th usecase.Throttle, key, what string, retryAfter time.Duration) {
	t.Helper()
	var te *domain.ThrottledError
	err := th.Check(t.Context(), key)
	if !errors.As(err, &te) {
		t.Fatalf("%s: Check = %v, want *domain.ThrottledError", what, err)
	}
	if te.RetryAfter != retryAfter {
		t.Fatalf("%s: RetryAfter = %s, want %s", what, te.RetryAfter, retryAfter)
	}
}

func fail(t *testing.T, th usecase.Throttle, key string, n int) {
	for range n {
		th.Failure(t.Context(), key)
	}
}

// throttle checks a shared throttle store against domain.ThrottlePolicy: the same
// locks as the in-memory throttle, every concurrent failure counted, success and
// time forgetting a key, and housekeeping dropping what no longer matters.
func (s *suite) throttle(t *testing.T) {
	if s.NewThrottle == nil {
		t.Skip("no throttle store given")
	}
	policy := domain.ThrottlePolicy{FreeFailures: 3, BaseDelay: time.Second, MaxDelay: 10 * time.Second, Forget: time.Hour}

	t.Run("Policy", func(t *testing.T) {
		clk := &throttleClock{now: base}
		th := s.NewThrottle(policy, clk.Now)
		key, other := "user:"+randomHex(8), "addr:"+randomHex(8)
		wantFree(t, th, key, "a key never seen")
		fail(t, th, key, 3)
		wantFree(t, th, key, "within the free failures")
		fail(t, th, key, 1)
		wantLocked(t, th, key, "the first failure past the free ones", 2*time.Second)
		wantFree(t, th, other, "another key")
		clk.Advance(time.Second)
		wantFree(t, th, key, "once the first wait is over")
		fail(t, th, key, 1)
		wantLocked(t, th, key, "the second failure past the free ones", 3*time.Second) // 2 s, rounded up
		clk.Advance(500 * time.Millisecond)
		wantLocked(t, th, key, "half a second later", 3*time.Second) // 1.5 s left: Round(1.5s)=2s, +1s
		fail(t, th, key, 40)
		wantLocked(t, th, key, "many failures", 11*time.Second) // capped at MaxDelay
		clk.Advance(10 * time.Second)
		wantFree(t, th, key, "after the capped wait")
	})

	t.Run("InstancesShareCounters", func(t *testing.T) {
		// Two throttles over one storage stand for two instances on one database.
		clk := &throttleClock{now: base}
		a, b := s.NewThrottle(policy, clk.Now), s.NewThrottle(policy, clk.Now)
		key := "user:" + randomHex(8)
		fail(t, a, key, 2)
		fail(t, b, key, 2)
		wantLocked(t, a, key, "instance a after 2+2 failures", 2*time.Second)
		wantLocked(t, b, key, "instance b after 2+2 failures", 2*time.Second)
		b.Success(t.Context(), key)
		wantFree(t, a, key, "instance a after a success on b")
	})

	t.Run("ConcurrentFailuresCountExactly", func(t *testing.T) {
		// With 31 free failures and an hour's base delay, 32 failures lock for exactly
		// an hour, 31 not at all, and 33 for two hours.
		p := domain.ThrottlePolicy{FreeFailures: concurrency - 1, BaseDelay: time.Hour, MaxDelay: 100 * time.Hour, Forget: 1000 * time.Hour}
		clk := &throttleClock{now: base}
		th := s.NewThrottle(p, clk.Now)
		key := "addr:" + randomHex(8)
		race(concurrency, func(int) error {
			th.Failure(t.Context(), key)
			return nil
		})
		wantLocked(t, th, key, "after 32 concurrent failures", time.Hour+time.Second)
		// Racing on a key that already exists counts exactly too.
		key2 := "addr:" + randomHex(8)
		fail(t, th, key2, 1)
		race(concurrency-1, func(int) error {
			th.Failure(t.Context(), key2)
			return nil
		})
		wantLocked(t, th, key2, "after 1 + 31 concurrent failures", time.Hour+time.Second)
	})

	t.Run("SuccessResets", func(t *testing.T) {
		clk := &throttleClock{now: base}
		th := s.NewThrottle(policy, clk.Now)
		key := "user:" + randomHex(8)
		fail(t, th, key, 5)
		wantLocked(t, th, key, "after 5 failures", 3*time.Second)
		th.Success(t.Context(), key)
		wantFree(t, th, key, "after a success")
		fail(t, th, key, 3)
		wantFree(t, th, key, "3 failures after a success (the count started afresh)")
		fail(t, th, key, 1)
		wantLocked(t, th, key, "4 failures after a success", 2*time.Second)
		th.Success(t.Context(), "user:"+randomHex(8)) // a key never seen: nothing to do, no panic
	})

	t.Run("ForgottenAfterQuietPeriod", func(t *testing.T) {
		clk := &throttleClock{now: base}
		th := s.NewThrottle(policy, clk.Now)
		key := "user:" + randomHex(8)
		fail(t, th, key, 3)
		clk.Advance(policy.Forget) // exactly Forget: still remembered
		fail(t, th, key, 1)
		wantLocked(t, th, key, "4th failure Forget after the 3rd", 2*time.Second)
		clk.Advance(policy.Forget + time.Microsecond) // past Forget: starts afresh
		fail(t, th, key, 3)
		wantFree(t, th, key, "3 failures after a quiet period")
		fail(t, th, key, 1)
		wantLocked(t, th, key, "4 failures after a quiet period", 2*time.Second)
	})

	t.Run("ClockSkewNeverShortensALock", func(t *testing.T) {
		// An instance whose clock is behind records a failure: the last failure
		// stays the latest one seen, so the lock does not move back.
		ahead := &throttleClock{now: base.Add(time.Minute)}
		behind := &throttleClock{now: base}
		a, b := s.NewThrottle(policy, ahead.Now), s.NewThrottle(policy, behind.Now)
		key := "user:" + randomHex(8)
		fail(t, a, key, 4)
		fail(t, b, key, 1)
		wantLocked(t, a, key, "after a failure from a clock a minute behind", 3*time.Second)
	})

	t.Run("Purge", func(t *testing.T) {
		if s.Purger == nil {
			t.Skip("no Purger given")
		}
		// Long before every other row of the suite, so that only these counters can
		// be past their expiry at the purge's now.
		t0 := base.Add(-100 * 24 * time.Hour)
		clk := &throttleClock{now: t0}
		th := s.NewThrottle(policy, clk.Now)
		old := []string{"user:" + randomHex(8), "user:" + randomHex(8), "addr:" + randomHex(8)}
		for _, k := range old {
			fail(t, th, k, 10)
		}
		purgeAt := t0.Add(policy.Retention() + time.Second)
		// Still counting (within Forget) though no longer locked: kept.
		counting := "user:" + randomHex(8)
		clk.Set(purgeAt.Add(-policy.Forget + time.Minute))
		fail(t, th, counting, 3)
		// Locked at the purge: kept.
		locked := "addr:" + randomHex(8)
		clk.Set(purgeAt.Add(-time.Second))
		fail(t, th, locked, 5)

		deleted, err := s.Purger.PurgeExpired(t.Context(), purgeAt, 2) // small batches: the loop must go on
		noErr(t, err)
		if deleted["throttle_counters"] != int64(len(old)) {
			t.Fatalf("purged %d throttle counters, want %d (%v)", deleted["throttle_counters"], len(old), deleted)
		}
		clk.Set(purgeAt)
		wantLocked(t, th, locked, "a locked key after the purge", 2*time.Second) // 1 s left
		fail(t, th, counting, 1)
		wantLocked(t, th, counting, "a counting key after the purge", 2*time.Second)
		for _, k := range old {
			wantFree(t, th, k, "a purged key")
		}
		again, err := s.Purger.PurgeExpired(t.Context(), purgeAt, 2)
		noErr(t, err)
		if again["throttle_counters"] != 0 {
			t.Errorf("a second purge deleted %d throttle counters", again["throttle_counters"])
		}
	})
}
