package domain

import (
	"errors"
	"testing"
	"time"
)

func TestThrottlePolicyDelayDoublesUpToTheCap(t *testing.T) {
	p := DefaultThrottlePolicy()
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{
		{0, 0}, {1, 0}, {5, 0}, // the free failures
		{6, time.Second}, {7, 2 * time.Second}, {8, 4 * time.Second},
		{13, 128 * time.Second}, {14, 256 * time.Second},
		{15, 5 * time.Minute}, {40, 5 * time.Minute}, {1 << 20, 5 * time.Minute}, // capped, no overflow
	} {
		if got := p.Delay(tc.failures); got != tc.want {
			t.Errorf("Delay(%d) = %s, want %s", tc.failures, got, tc.want)
		}
	}
}

func TestThrottlePolicyCheckAndForget(t *testing.T) {
	p := ThrottlePolicy{FreeFailures: 2, BaseDelay: 10 * time.Second, MaxDelay: time.Minute, Forget: time.Hour}
	last := time.Unix(1_700_000_000, 0)
	if err := p.Check(2, last, last); err != nil {
		t.Fatalf("free failures locked: %v", err)
	}
	var te *ThrottledError
	if err := p.Check(3, last, last.Add(4*time.Second)); !errors.As(err, &te) || te.RetryAfter != 7*time.Second {
		t.Fatalf("6 s left: %v, want a RetryAfter of 7 s", err)
	}
	if err := p.Check(3, last, last.Add(10*time.Second)); err != nil {
		t.Fatalf("lock over: %v", err)
	}
	if p.Forgotten(last, last.Add(time.Hour)) || !p.Forgotten(last, last.Add(time.Hour+time.Microsecond)) {
		t.Error("a key is forgotten just after Forget, not before")
	}
	if p.Retention() != time.Hour || (ThrottlePolicy{MaxDelay: time.Hour, Forget: time.Minute}).Retention() != time.Hour {
		t.Error("retention must cover both the lock and the forget window")
	}
}

// TestThrottleAddress: throttle counters are kept per IPv4 address and per IPv6 /64.
func TestThrottleAddress(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2::1":      "2001:db8:1:2::/64",
		"2001:DB8:1:2:ffff::":  "2001:db8:1:2::/64",
		"fe80::1%eth0":         "fe80::/64",
		"::1":                  "::/64",
		"not an address":       "not an address",
		"":                     "",
	} {
		if got := ThrottleAddress(in); got != want {
			t.Errorf("ThrottleAddress(%q) = %q, want %q", in, got, want)
		}
	}
	if ThrottleAddress("2001:db8:1:2::1") == ThrottleAddress("2001:db8:1:3::1") {
		t.Error("two /64 networks share a counter")
	}
}
