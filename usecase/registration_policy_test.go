package usecase

import (
	"strings"
	"testing"

	"gatehouse/domain"
)

func TestValidateRegistrationPolicy(t *testing.T) {
	for _, tc := range []struct {
		grants []string
		want   string // "" when valid
	}{
		{DefaultRegistrationGrantTypes, ""},
		{[]string{domain.GrantDeviceCode}, ""},
		{nil, "at least one grant type"},
		{[]string{domain.GrantAuthorizationCode, domain.GrantPassword}, "password cannot be open"},
		{[]string{domain.GrantTokenExchange}, "token-exchange cannot be open"},
		{[]string{"implicit"}, "unknown grant type"},
	} {
		err := ValidateRegistrationGrantTypes(tc.grants)
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("grants %q: %v, want %q", tc.grants, err, tc.want)
		}
	}
	for _, tc := range []struct {
		scopes []string
		want   string
	}{
		{DefaultRegistrationScopes, ""},
		{[]string{"api:read"}, ""},
		{nil, "at least one scope"},
		{[]string{`a"b`}, "not a scope token"},
		{strings.Fields(strings.Repeat("x ", 65)), "at most 64 scopes"},
	} {
		err := ValidateRegistrationScopes(tc.scopes)
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("scopes %q: %v, want %q", tc.scopes, err, tc.want)
		}
	}
}
