package domain_test

import (
	"fmt"
	"strings"
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

// TestValidateNewEmail: plain addresses, internationalized ones of one writing system
// each, pass; an address drawn like another (SECURITY S49) is refused: invisible
// characters anywhere, a local part or a domain label that mixes scripts or reads as
// Latin. A lookup (ValidateEmail) still takes what was stored before those rules.
func TestValidateNewEmail(t *testing.T) {
	for _, ok := range []string{"", "alice@example.com", "a.b+tag@sub.example.co.uk", "алиса@пример.рф",
		"山田@例え.jp", "josé@example.es", "ζωή@example.gr", "alice@例え.jp"} {
		if err := domain.ValidateNewEmail(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"not-an-email", "Alice <alice@example.com>", "alice\u200b@example.com",
		"al\u200dice@example.com", "alice@exam\u00adple.com", "alice\ufe0f@example.com", "\u0430lice@example.com",
		"alice@ex\u0430mple.com", "alice@\u0435xample.com", "a\u3164lice@example.com", "ali ce@example.com",
		"\u0441\u043e\u0441\u043e@example.com", "coco@\u0441\u043e\u0441\u043e.com"} {
		err := domain.ValidateNewEmail(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if want := fmt.Sprintf("email %q is not a valid address", bad); err.Error() != want {
			t.Errorf("%q: %q, want %q", bad, err, want)
		}
		if strings.Contains(bad, "@") && !strings.ContainsAny(bad, " <") {
			if err := domain.ValidateEmail(bad); err != nil {
				t.Errorf("lookup of %q refused: %v", bad, err)
			}
		}
	}
}
