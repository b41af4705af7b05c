package domain

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"
)

func TestNormalizeUserCode(t *testing.T) {
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"BCDF-GHJK", "BCDFGHJK", true},
		{"bcdf-ghjk", "BCDFGHJK", true},
		{"BcDfGhJk", "BCDFGHJK", true},
		{" bcdf ghjk ", "BCDFGHJK", true},
		{"B-C-D-F-G-H-J-K", "BCDFGHJK", true},
		{"bcdf\u00a0ghjk", "BCDFGHJK", true},
		{"BCDF-GHJ", "", false},       // too short
		{"BCDF-GHJKL", "", false},     // too long
		{"ABCD-GHJK", "", false},      // a vowel is not in the alphabet
		{"BCD1-GHJK", "", false},      // nor a digit
		{"BCDF_GHJK", "", false},      // nor an underscore
		{"BCDF-GHJ\u212a", "", false}, // the Kelvin sign is not a K
		{"", "", false},
		{strings.Repeat("B", 65), "", false},
	}
	for _, tc := range cases {
		got, ok := NormalizeUserCode(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NormalizeUserCode(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNewUserCode(t *testing.T) {
	seen := map[byte]int{}
	for range 2000 {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		code, ok := NewUserCode(b)
		if !ok {
			t.Fatal("32 random bytes did not make a user code")
		}
		if n, ok := NormalizeUserCode(FormatUserCode(code)); !ok || n != code {
			t.Fatalf("code %q does not survive formatting and normalising", code)
		}
		for i := 0; i < len(code); i++ {
			seen[code[i]]++
		}
	}
	if len(seen) != len(UserCodeAlphabet) {
		t.Errorf("%d distinct letters in 16000, want all %d", len(seen), len(UserCodeAlphabet))
	}
	// Bytes at or above 240 (the largest multiple of 20) are skipped, not folded in.
	if _, ok := NewUserCode([]byte{240, 241, 255, 0, 1, 2, 3, 4, 5, 6}); ok {
		t.Error("a code from 7 usable bytes")
	}
	if code, ok := NewUserCode([]byte{240, 0, 1, 2, 3, 4, 5, 6, 19}); !ok || code != "BCDFGHJZ" {
		t.Errorf("NewUserCode = %q, %v", code, ok)
	}
}

func TestFormatUserCode(t *testing.T) {
	if got := FormatUserCode("BCDFGHJK"); got != "BCDF-GHJK" {
		t.Errorf("FormatUserCode = %q", got)
	}
}

func TestDevicePollTooSoon(t *testing.T) {
	now := time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)
	d := DeviceAuthorization{Interval: 5 * time.Second, ExpiresAt: now.Add(time.Minute)}
	if d.PollTooSoon(now) {
		t.Error("the first poll is never too soon")
	}
	d.LastPolledAt = now.Add(-4 * time.Second)
	if !d.PollTooSoon(now) {
		t.Error("4 s after the last poll with a 5 s interval is too soon")
	}
	d.LastPolledAt = now.Add(-5 * time.Second)
	if d.PollTooSoon(now) {
		t.Error("exactly the interval is not too soon")
	}
	if d.Expired(now) || !d.Expired(now.Add(time.Minute)) {
		t.Error("expiry is at ExpiresAt")
	}
}
