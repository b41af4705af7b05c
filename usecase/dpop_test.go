package usecase_test

import (
	"testing"
	"time"

	"gatehouse/adapter/crypto"
)

// TestDPoPNonces: a nonce is accepted in its window and the next, not later, not
// when altered, and not under another secret key (another deployment).
func TestDPoPNonces(t *testing.T) {
	keys, err := crypto.DeriveKeys("a test secret key that is long enough!!")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := crypto.DeriveKeys("another secret key that is long enough!")
	n, m := crypto.NewDPoPNonces(keys), crypto.NewDPoPNonces(other)
	now := time.Date(2026, 3, 8, 10, 0, 0, 0, time.UTC)
	nonce := n.Nonce(now)
	for _, tc := range []struct {
		at time.Time
		ok bool
	}{
		{now, true},
		{now.Add(crypto.DPoPNonceWindow), true},
		{now.Add(2 * crypto.DPoPNonceWindow), false},
		{now.Add(-crypto.DPoPNonceWindow), false},
	} {
		if got := n.ValidNonce(nonce, tc.at); got != tc.ok {
			t.Errorf("nonce at %s: %v, want %v", tc.at.Sub(now), got, tc.ok)
		}
	}
	if m.ValidNonce(nonce, now) {
		t.Error("a nonce of another secret key is accepted")
	}
	altered := []byte(nonce)
	altered[len(altered)-3] ^= 1
	for _, bad := range []string{string(altered), "", "x", nonce + "A"} {
		if n.ValidNonce(bad, now) {
			t.Errorf("nonce %q accepted", bad)
		}
	}
}
