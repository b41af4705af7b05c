package domain_test

import (
	"testing"

	"gatehouse/domain"
)

// TestUserClaims_ClaimedEmail (SECURITY S48): a user who signed up with an address
// another account holds carries it in tokens as any new user carries theirs,
// unverified; an email of their own wins over the claim.
func TestUserClaims_ClaimedEmail(t *testing.T) {
	for _, tc := range []struct {
		name      string
		u         domain.User
		email     string
		verified  *bool
		shownFrom string
	}{
		{"fresh sign-up", domain.User{Email: "a@example.com"}, "a@example.com", ptr(false), "a@example.com"},
		{"claimed address", domain.User{ClaimedEmail: "a@example.com"}, "a@example.com", ptr(false), "a@example.com"},
		{"claimed, marked verified by mistake", domain.User{ClaimedEmail: "a@example.com", EmailVerified: true}, "a@example.com", ptr(false), "a@example.com"},
		{"own address and a stale claim", domain.User{Email: "b@example.com", EmailVerified: true, ClaimedEmail: "a@example.com"}, "b@example.com", ptr(true), "b@example.com"},
		{"no address", domain.User{}, "", nil, ""},
	} {
		c := tc.u.Claims(domain.EmailClaims)
		if c.Email != tc.email || (c.EmailVerified == nil) != (tc.verified == nil) ||
			(c.EmailVerified != nil && *c.EmailVerified != *tc.verified) {
			t.Errorf("%s: email %q verified %v, want %q %v", tc.name, c.Email, deref(c.EmailVerified), tc.email, deref(tc.verified))
		}
		if got := tc.u.ShownEmail(); got != tc.shownFrom {
			t.Errorf("%s: ShownEmail %q, want %q", tc.name, got, tc.shownFrom)
		}
	}
}

func ptr(b bool) *bool { return &b }

func deref(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}
