// Package throttle slows down guessing (SECURITY S27, S28): after a few failures for
// one key (a username, an address) every further attempt must wait, the wait doubling
// up to a cap. The cap is what keeps an attacker from locking a victim out for long.
package throttle
