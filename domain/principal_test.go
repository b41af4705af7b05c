package domain

import (
	"testing"
	"time"
)

func TestPrincipalRevocationKills(t *testing.T) {
	cut := time.Date(2026, 3, 11, 12, 0, 0, 300_000_000, time.UTC) // 12:00:00.3
	for _, tc := range []struct {
		name     string
		at       *time.Time
		issuedAt time.Time
		want     bool
	}{
		{"disabled: long before", nil, cut.Add(-time.Hour), true},
		{"disabled: after", nil, cut.Add(time.Hour), true},
		{"re-enabled: a second before", &cut, cut.Add(-time.Second).Truncate(time.Second), true},
		// An iat of the revocation's second may stand for 12:00:00.9: dead all the same.
		{"re-enabled: an iat of the same second", &cut, cut.Truncate(time.Second), true},
		{"re-enabled: the next second", &cut, cut.Truncate(time.Second).Add(time.Second), false},
		{"re-enabled: a grant just after (exact time)", &cut, cut.Add(time.Millisecond), false},
		{"re-enabled: a grant at the same instant", &cut, cut, true},
	} {
		if got := (PrincipalRevocation{ID: "p", RevokedAt: tc.at}).Kills(tc.issuedAt); got != tc.want {
			t.Errorf("%s: Kills = %v, want %v", tc.name, got, tc.want)
		}
	}
}
