package usecase

import (
	"slices"
	"testing"

	"gatehouse/domain"
)

// TestUpstreamAMR: a session signed in through an upstream never claims more than the
// upstream vouched for: "fed" first, the upstream's RFC 8176 values, and the second
// factor's level only when the upstream said "mfa" (or Gatehouse's mfa class).
func TestUpstreamAMR(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   UpstreamIdentity
		want []string
		acr  string
	}{
		{"nothing said", UpstreamIdentity{}, []string{"fed"}, domain.ACRPassword},
		{"password", UpstreamIdentity{AMR: []string{"pwd"}}, []string{"fed", "pwd"}, domain.ACRPassword},
		{"unregistered values dropped", UpstreamIdentity{AMR: []string{"pwd", "magic", "mfa-ish", "pwd"}}, []string{"fed", "pwd"}, domain.ACRPassword},
		{"otp without mfa stays password level", UpstreamIdentity{AMR: []string{"pwd", "otp"}}, []string{"fed", "pwd", "otp"}, domain.ACRPassword},
		{"mfa said", UpstreamIdentity{AMR: []string{"mfa", "pwd", "otp"}}, []string{"fed", "pwd", "otp", "mfa"}, domain.ACRMFA},
		{"gatehouse mfa acr", UpstreamIdentity{AMR: []string{"pwd"}, ACR: domain.ACRMFA}, []string{"fed", "pwd", "mfa"}, domain.ACRMFA},
		{"another acr is not mfa", UpstreamIdentity{ACR: "urn:other:loa:3"}, []string{"fed"}, domain.ACRPassword},
	} {
		got := UpstreamAMR(tc.in)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: UpstreamAMR = %v, want %v", tc.name, got, tc.want)
		}
		if acr := domain.SessionACR(got); acr != tc.acr {
			t.Errorf("%s: session acr %s, want %s", tc.name, acr, tc.acr)
		}
	}
}
