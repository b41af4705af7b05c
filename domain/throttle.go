package domain

import (
	"net/netip"
	"time"
)

// ThrottlePolicy is the arithmetic of failure throttling (SECURITY S27, S28): after
// FreeFailures failures in a row for one key, each further failure locks the key for
// a wait that starts at BaseDelay and doubles up to MaxDelay; a key with no failure
// for Forget starts afresh. Every throttle store (in memory, in the database) keeps
// only a key's failure count and the time of its last failure and asks the policy the
// rest, so that all of them behave alike.
type ThrottlePolicy struct {
	FreeFailures int           // failures allowed before any wait
	BaseDelay    time.Duration // wait after the first failure past FreeFailures
	MaxDelay     time.Duration // the wait never grows past this
	Forget       time.Duration // a key with no failure for this long starts afresh
}

// DefaultThrottlePolicy: 5 free failures, then 1 s doubling up to 5 minutes; a key
// is forgotten 15 minutes after its last failure. The cap is what keeps an attacker
// from locking a victim out for long.
func DefaultThrottlePolicy() ThrottlePolicy {
	return ThrottlePolicy{FreeFailures: 5, BaseDelay: time.Second, MaxDelay: 5 * time.Minute, Forget: 15 * time.Minute}
}

// ForgetBefore is the cutoff at now: a key whose last failure is before it is
// forgotten, and its next failure counts as the first.
func (p ThrottlePolicy) ForgetBefore(now time.Time) time.Time { return now.Add(-p.Forget) }

// Forgotten reports whether a key whose last failure was at last starts afresh at now.
func (p ThrottlePolicy) Forgotten(last, now time.Time) bool { return last.Before(p.ForgetBefore(now)) }

// Delay is how long a key is locked after its failures-th failure in a row: nothing
// within the free failures, then BaseDelay, doubling with each failure, at most MaxDelay.
func (p ThrottlePolicy) Delay(failures int) time.Duration {
	over := failures - p.FreeFailures
	if over <= 0 {
		return 0
	}
	d := p.BaseDelay << min(over-1, 30)
	if d > p.MaxDelay || d <= 0 {
		d = p.MaxDelay
	}
	return d
}

// LockedUntil is when a key with failures failures, the last at last, is free again
// (at or before last when it is not locked at all).
func (p ThrottlePolicy) LockedUntil(failures int, last time.Time) time.Time {
	return last.Add(p.Delay(failures))
}

// Check returns a *ThrottledError while a key with failures failures, the last at
// last, is locked at now, and nil otherwise. RetryAfter rounds up to whole seconds
// and never says less than the wait left.
func (p ThrottlePolicy) Check(failures int, last, now time.Time) error {
	if wait := p.LockedUntil(failures, last).Sub(now); wait > 0 {
		return &ThrottledError{RetryAfter: wait.Round(time.Second) + time.Second}
	}
	return nil
}

// Retention is how long after its last failure a key's counter can still matter:
// past both its lock and its Forget window. A store may drop it after that.
func (p ThrottlePolicy) Retention() time.Duration { return max(p.Forget, p.MaxDelay) }

// ThrottleAddress is the part of a client address its throttle counters are kept
// under: an IPv4 address whole, an IPv6 address by its /64 network (SECURITY S28).
// One host or home is commonly given a whole /64, so counting each of its 2^64
// addresses apart would let it guess without limit. An IPv4 address in IPv6 form is
// the IPv4 address; text that is no address is kept as it is.
func ThrottleAddress(address string) string {
	ip, err := netip.ParseAddr(address)
	if err != nil {
		return address
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.WithZone("").Prefix(64)
	if err != nil {
		return address
	}
	return p.String()
}
