package domain

import (
	"slices"
	"testing"
)

// TestWithSecondFactor: the first step's methods are kept, the factor's added, "mfa"
// once at the end; a password is claimed only when the first step was one.
func TestWithSecondFactor(t *testing.T) {
	for _, tc := range []struct {
		name          string
		first, factor []string
		want          []string
	}{
		{"password then app", []string{"pwd"}, []string{"otp"}, []string{"pwd", "otp", "mfa"}},
		{"legacy session", nil, []string{"otp"}, []string{"pwd", "otp", "mfa"}},
		{"upstream then app", []string{"fed"}, []string{"otp"}, []string{"fed", "otp", "mfa"}},
		{"upstream with its amr", []string{"fed", "hwk"}, []string{"otp"}, []string{"fed", "hwk", "otp", "mfa"}},
		{"upstream said mfa", []string{"fed", "pwd", "otp", "mfa"}, []string{"otp"}, []string{"fed", "pwd", "otp", "mfa"}},
		{"a security key", []string{"pwd"}, []string{"hwk"}, []string{"pwd", "hwk", "mfa"}},
	} {
		if got := WithSecondFactor(tc.first, tc.factor); !slices.Equal(got, tc.want) {
			t.Errorf("%s: WithSecondFactor(%v, %v) = %v, want %v", tc.name, tc.first, tc.factor, got, tc.want)
		}
	}
}
