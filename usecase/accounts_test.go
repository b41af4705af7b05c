package usecase_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"testing"
	"time"

	"gatehouse/adapter/identifier"
	"gatehouse/adapter/mail"
	"gatehouse/adapter/mail/smtptest"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// accountsSetup is the fixture with Accounts over its repositories, mailing through
// a real SMTP server.
type accountsSetup struct {
	*fixture
	accounts *usecase.Accounts
	mailer   *usecase.Mailer
	mx       *smtptest.Server
}

func newAccountsSetup(t *testing.T) *accountsSetup {
	t.Helper()
	f := newFixture(t)
	mx := smtptest.Start(t, smtptest.Options{})
	cfg, err := mail.ParseSMTPURL(mx.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.From = "no-reply@id.example.com"
	mailer := usecase.NewMailer(bunrepo.NewMailRepository(f.db), mail.NewSMTP(cfg, f.clock.Now), newCipher(t), f.random,
		f.clock, usecase.DefaultMailPolicy())
	settings := usecase.AccountSettings{Issuer: "https://id.example.com", TokenTTL: 30 * time.Minute,
		Verification: usecase.EmailVerificationOptional}
	a := usecase.NewAccounts(f.users, bunrepo.NewAccountRepository(f.db), identifier.NewRules(), f.passwords, f.admin, mailer, f.throttle,
		f.random, f.hasher, f.clock, settings, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &accountsSetup{fixture: f, accounts: a, mailer: mailer, mx: mx}
}

var tokenInLink = regexp.MustCompile(`\?token=([A-Za-z0-9_-]+)`)

// sent delivers what is queued and returns the secret of the link in the n-th mail.
func (s *accountsSetup) sent(t *testing.T, n int) string {
	t.Helper()
	s.accounts.Wait()
	if _, err := s.mailer.DeliverDue(s.ctx); err != nil {
		t.Fatal(err)
	}
	got := s.mx.Mails()
	if len(got) < n {
		t.Fatalf("%d mails sent, want %d", len(got), n)
	}
	p, err := smtptest.Parse(got[n-1].Raw)
	if err != nil {
		t.Fatal(err)
	}
	m := tokenInLink.FindStringSubmatch(p.Text)
	if m == nil {
		t.Fatalf("no link in mail %d:\n%s", n, p.Text)
	}
	return m[1]
}

func TestAccounts_LinksExpireAndFollowTheAddress(t *testing.T) {
	s := newAccountsSetup(t)
	u := s.user(t, "vera", "vera's password")

	s.accounts.Welcome(u.ID, u.Email)
	first := s.sent(t, 1)
	s.clock.Advance(31 * time.Minute)
	if err := s.accounts.VerifyEmail(s.ctx, first); !errors.Is(err, usecase.ErrBadLink) {
		t.Fatalf("an expired link: %v", err)
	}

	if err := s.accounts.ResendVerification(s.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	second := s.sent(t, 2)
	// The user changes the address after the mail: the link verifies nothing.
	newEmail := "vera.new@example.com"
	if _, err := s.admin.UpdateUser(s.ctx, u.ID, usecase.UserUpdate{Email: &newEmail}); err != nil {
		t.Fatal(err)
	}
	if err := s.accounts.VerifyEmail(s.ctx, second); !errors.Is(err, usecase.ErrBadLink) {
		t.Fatalf("a link to the old address: %v", err)
	}
	if got, _ := s.users.UserByID(s.ctx, u.ID); got.EmailVerified {
		t.Fatal("the new address was verified by a link sent to the old one")
	}

	if err := s.accounts.ResendVerification(s.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	third := s.sent(t, 3)
	if got := s.mx.Mails()[2].To; got != newEmail {
		t.Fatalf("the new link went to %s", got)
	}
	if err := s.accounts.VerifyEmail(s.ctx, third); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.users.UserByID(s.ctx, u.ID); !got.EmailVerified {
		t.Fatal("not verified")
	}
	// A verified user asking again gets no mail.
	if err := s.accounts.ResendVerification(s.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	s.accounts.Wait()
	if _, err := s.mailer.DeliverDue(s.ctx); err != nil || len(s.mx.Mails()) != 3 {
		t.Fatalf("a verified address was mailed again: %d mails, %v", len(s.mx.Mails()), err)
	}
}

// TestAccounts_ClaimedAddress (SECURITY S48): an account made at sign-up with an
// address another account holds asks for its verification mail as any other; its
// owner is told instead, each time, and nothing reaches the claimer. Once the owner
// has given the address up, the next ask makes it the claimer's, unverified, and its
// link goes out and verifies it. An ask never throws the owner's address away.
func TestAccounts_ClaimedAddress(t *testing.T) {
	s := newAccountsSetup(t)
	owner := s.user(t, "olga", "olga's password") // olga@example.com
	claimer, err := s.admin.SignUp(s.ctx, usecase.NewUser{Username: "mallory", Email: "OLGA@example.com", Password: "a good long password"})
	if err != nil {
		t.Fatal(err)
	}
	s.accounts.Welcome(claimer.ID, "OLGA@example.com")
	s.accounts.Wait()
	if _, err := s.mailer.DeliverDue(s.ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.accounts.ResendVerification(s.ctx, claimer.ID); err != nil {
		t.Fatal(err)
	}
	s.accounts.Wait()
	if _, err := s.mailer.DeliverDue(s.ctx); err != nil {
		t.Fatal(err)
	}
	mails := s.mx.Mails()
	if len(mails) != 2 {
		t.Fatalf("%d mails, want 2 (the sign-up and the ask, each to the owner)", len(mails))
	}
	for i, m := range mails {
		p, err := smtptest.Parse(m.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if m.To != owner.Email || tokenInLink.MatchString(p.Text) || !regexp.MustCompile(`tried to create a new account`).MatchString(p.Text) {
			t.Errorf("mail %d to %s, want the owner told of an attempt, without a verification link:\n%s", i+1, m.To, p.Text)
		}
	}
	if got, _ := s.users.UserByID(s.ctx, claimer.ID); got.Email != "" || got.ClaimedEmail != owner.Email {
		t.Fatalf("the claimer after asking: %+v", got)
	}
	// Many accounts claiming the address, each asking twice, do not flood the owner: a
	// few mails, then none for a while.
	for i := range 8 {
		c, err := s.admin.SignUp(s.ctx, usecase.NewUser{Username: fmt.Sprintf("mallory%d", i), Email: owner.Email, Password: "a good long password"})
		if err != nil {
			t.Fatal(err)
		}
		_ = s.accounts.ResendVerification(s.ctx, c.ID)
		_ = s.accounts.ResendVerification(s.ctx, c.ID)
	}
	s.accounts.Wait()
	if _, err := s.mailer.DeliverDue(s.ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(s.mx.Mails()); n > 6 {
		t.Fatalf("%d mails to the owner after 16 asks of 8 accounts claiming the address", n)
	}
	sent := len(s.mx.Mails())

	// Asking to change to the claimed address reads as for an address of one's own.
	var ve *usecase.ValidationError
	if _, err := s.accounts.ChangeEmail(s.ctx, claimer.ID, "a good long password", owner.Email, "192.0.2.1"); !errors.As(err, &ve) ||
		ve.Message != "that is already your email address" {
		t.Fatalf("a change to the claimed address: %v", err)
	}

	// The owner moves to another address: the claim can now be made good.
	moved := "olga.elsewhere@example.com"
	if _, err := s.admin.UpdateUser(s.ctx, owner.ID, usecase.UserUpdate{Email: &moved}); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(time.Hour) // past the throttle of the asks
	if err := s.accounts.ResendVerification(s.ctx, claimer.ID); err != nil {
		t.Fatal(err)
	}
	link := s.sent(t, sent+1)
	if got := s.mx.Mails()[sent].To; got != owner.Email {
		t.Fatalf("the verification link went to %s, want %s", got, owner.Email)
	}
	got, _ := s.users.UserByID(s.ctx, claimer.ID)
	if got.Email != owner.Email || got.EmailVerified || got.ClaimedEmail != "" {
		t.Fatalf("after the address was freed: %+v; want it the claimer's email, unverified", got)
	}
	if err := s.accounts.VerifyEmail(s.ctx, link); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.users.UserByID(s.ctx, claimer.ID); !got.EmailVerified {
		t.Fatal("the link did not verify the address")
	}
}

// TestAccounts_ResetLinkOfAnOldAddress: a reset link mailed to an address the account
// has since given up resets nothing, on the page or by its form (SECURITY S47).
func TestAccounts_ResetLinkOfAnOldAddress(t *testing.T) {
	s := newAccountsSetup(t)
	u := s.user(t, "edna", "edna's password")
	if err := s.accounts.ForgotPassword(s.ctx, u.Email, "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	link := s.sent(t, 1)
	if err := s.accounts.CheckLink(s.ctx, link, domain.PurposeResetPassword); err != nil {
		t.Fatalf("a fresh link: %v", err)
	}
	moved := "edna.new@example.com"
	if _, err := s.admin.UpdateUser(s.ctx, u.ID, usecase.UserUpdate{Email: &moved}); err != nil {
		t.Fatal(err)
	}
	if err := s.accounts.CheckLink(s.ctx, link, domain.PurposeResetPassword); !errors.Is(err, usecase.ErrBadLink) {
		t.Errorf("the page of a link to the old address: %v", err)
	}
	if _, err := s.accounts.ResetPassword(s.ctx, link, "a new password!", "a new password!"); !errors.Is(err, usecase.ErrBadLink) {
		t.Fatalf("reset by a link to the old address: %v", err)
	}
	if _, err := usecase.CheckPassword(s.ctx, s.users, identifier.NewRules(), s.passwords, s.throttle, "edna", "edna's password", "192.0.2.7"); err != nil {
		t.Fatalf("the old password no longer works: %v", err)
	}
}

func TestAccounts_ResetRefusesDisabledUsersAndIsThrottled(t *testing.T) {
	s := newAccountsSetup(t)
	u := s.user(t, "dora", "dora's password")
	if err := s.accounts.ForgotPassword(s.ctx, u.Email, "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	link := s.sent(t, 1)
	disabled := true
	if _, err := s.admin.UpdateUser(s.ctx, u.ID, usecase.UserUpdate{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.accounts.ResetPassword(s.ctx, link, "a new password!", "a new password!"); !errors.Is(err, usecase.ErrBadLink) {
		t.Fatalf("reset of a disabled user: %v", err)
	}
	// A disabled account gets no reset mail; the answer is the same.
	if err := s.accounts.ForgotPassword(s.ctx, u.Email, "192.0.2.8"); err != nil {
		t.Fatal(err)
	}
	s.accounts.Wait()
	if _, err := s.mailer.DeliverDue(s.ctx); err != nil || len(s.mx.Mails()) != 1 {
		t.Fatalf("mails: %d, %v", len(s.mx.Mails()), err)
	}
	// One address asking again and again is throttled, whatever the email.
	var throttled *domain.ThrottledError
	for i := range 10 {
		err := s.accounts.ForgotPassword(s.ctx, "nobody"+string(rune('a'+i))+"@example.com", "192.0.2.9")
		if errors.As(err, &throttled) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("ten requests from one address in a row were not throttled")
}

// mailAt delivers what is queued and returns the n-th mail, parsed, after checking
// it went to want.
func (s *accountsSetup) mailAt(t *testing.T, n int, want string) smtptest.Parsed {
	t.Helper()
	s.accounts.Wait()
	if _, err := s.mailer.DeliverDue(s.ctx); err != nil {
		t.Fatal(err)
	}
	got := s.mx.Mails()
	if len(got) < n {
		t.Fatalf("%d mails sent, want %d", len(got), n)
	}
	if got[n-1].To != want {
		t.Fatalf("mail %d went to %s, want %s", n, got[n-1].To, want)
	}
	p, err := smtptest.Parse(got[n-1].Raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAccounts_ChangeEmail: the current password and a new, valid, other address are
// required; the link goes to the new address only; using it (not signed in as
// someone else) changes the address, verified, and tells the old one; the link is
// single use.
func TestAccounts_ChangeEmail(t *testing.T) {
	s := newAccountsSetup(t)
	u := s.user(t, "erin", "erin's password")
	var ve *usecase.ValidationError
	for _, tc := range []struct{ password, email, field string }{
		{"not erin's password", "erin.new@example.com", "current_password"},
		{"erin's password", "", "new_email"},
		{"erin's password", "not an address", "new_email"},
		{"erin's password", " ERIN@example.com ", "new_email"}, // already hers, once canonical
	} {
		_, err := s.accounts.ChangeEmail(s.ctx, u.ID, tc.password, tc.email, "192.0.2.1")
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Fatalf("ChangeEmail(%q, %q) = %v, want an error on %s", tc.password, tc.email, err, tc.field)
		}
	}
	email, err := s.accounts.ChangeEmail(s.ctx, u.ID, "erin's password", "Erin.New@Example.com", "192.0.2.1")
	if err != nil || email != "Erin.New@example.com" && email != "erin.new@example.com" {
		t.Fatalf("ChangeEmail = %q, %v", email, err)
	}
	m := s.mailAt(t, 1, email)
	if m.Subject != "Confirm your new email address" {
		t.Fatalf("mail to the new address: %q", m.Subject)
	}
	link := tokenInLink.FindStringSubmatch(m.Text)[1]
	if got, _ := s.users.UserByID(s.ctx, u.ID); got.Email != u.Email {
		t.Fatal("the address changed before the link was used")
	}
	// The link is not a verification or reset link.
	if err := s.accounts.VerifyEmail(s.ctx, link); !errors.Is(err, usecase.ErrBadLink) {
		t.Fatalf("a change link used to verify: %v", err)
	}
	// In a browser signed in as someone else, the link changes nothing.
	if _, err := s.accounts.ConfirmEmailChange(s.ctx, link, "someone-else"); !errors.Is(err, usecase.ErrBadLink) {
		t.Fatalf("the link used by another signed-in user: %v", err)
	}
	got, err := s.accounts.ConfirmEmailChange(s.ctx, link, u.ID)
	if err != nil || got != email {
		t.Fatalf("ConfirmEmailChange = %q, %v", got, err)
	}
	if after, _ := s.users.UserByID(s.ctx, u.ID); after.Email != email || !after.EmailVerified {
		t.Fatalf("after the change: %+v", after)
	}
	notice := s.mailAt(t, 2, u.Email)
	if notice.Subject != "Your email address was changed" || tokenInLink.MatchString(notice.Text) {
		t.Fatalf("notice to the old address: %q\n%s", notice.Subject, notice.Text)
	}
	if _, err := s.accounts.ConfirmEmailChange(s.ctx, link, ""); !errors.Is(err, usecase.ErrBadLink) {
		t.Fatalf("a used link: %v", err)
	}
}

// TestAccounts_ChangeEmailToATakenAddress: the answer is the same as for a free
// address; the owner is told and no link goes out; an address taken between the
// mail and the link makes the link bad, and nothing changes.
func TestAccounts_ChangeEmailToATakenAddress(t *testing.T) {
	s := newAccountsSetup(t)
	u, owner := s.user(t, "fred", "fred's password"), s.user(t, "gina", "gina's password")
	email, err := s.accounts.ChangeEmail(s.ctx, u.ID, "fred's password", owner.Email, "192.0.2.1")
	if err != nil || email != owner.Email {
		t.Fatalf("ChangeEmail to a taken address = %q, %v", email, err)
	}
	m := s.mailAt(t, 1, owner.Email)
	if m.Subject != "Someone tried to use your email address" || tokenInLink.MatchString(m.Text) ||
		!regexp.MustCompile(`\bgina\b`).MatchString(m.Text) || regexp.MustCompile(`\bfred\b`).MatchString(m.Text) {
		t.Fatalf("notice to the owner: %q\n%s", m.Subject, m.Text)
	}

	// Taken meanwhile.
	free := "fred.free@example.com"
	if _, err := s.accounts.ChangeEmail(s.ctx, u.ID, "fred's password", free, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	link := tokenInLink.FindStringSubmatch(s.mailAt(t, 2, free).Text)[1]
	if _, err := s.admin.UpdateUser(s.ctx, owner.ID, usecase.UserUpdate{Email: &free}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.accounts.ConfirmEmailChange(s.ctx, link, ""); !errors.Is(err, usecase.ErrBadLink) {
		t.Fatalf("a link to an address taken meanwhile: %v", err)
	}
	if got, _ := s.users.UserByID(s.ctx, u.ID); got.Email != u.Email {
		t.Fatalf("the address changed: %+v", got)
	}
	// Asking again and again is throttled per user.
	var throttled *domain.ThrottledError
	for i := range 10 {
		_, err := s.accounts.ChangeEmail(s.ctx, u.ID, "fred's password", "fred"+string(rune('a'+i))+"@example.com", "192.0.2.9")
		if errors.As(err, &throttled) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("ten email changes in a row were not throttled")
}

// TestAccounts_AddressStoredBeforeTheRules: an address stored before the rules for
// new ones (an invisible character, SECURITY S49) still finds its account at
// forgot-password, and the operator can change the rest of the user without
// touching it; a new address with one is refused.
func TestAccounts_AddressStoredBeforeTheRules(t *testing.T) {
	s := newAccountsSetup(t)
	u := s.user(t, "zora", "zora's password")
	old := "zora\u200b@example.com"
	if err := s.users.UpdateUser(s.ctx, domain.User{ID: u.ID, Username: u.Username, Email: old, PasswordHash: u.PasswordHash,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt.Add(time.Second)}, u.UpdatedAt); err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := s.admin.UpdateUser(s.ctx, u.ID, usecase.UserUpdate{Email: &old, EmailVerified: &yes, AddGroups: []string{"staff"}}); err != nil {
		t.Fatalf("an update keeping the old address: %v", err)
	}
	if err := s.accounts.ForgotPassword(s.ctx, old, "192.0.2.1"); err != nil {
		t.Fatalf("forgot-password for the old address: %v", err)
	}
	if link := s.sent(t, 1); link == "" || s.mx.Mails()[0].To != old {
		t.Fatalf("the reset link went to %q", s.mx.Mails()[0].To)
	}
	other := "other\u200b@example.com"
	var ve *usecase.ValidationError
	if _, err := s.admin.UpdateUser(s.ctx, u.ID, usecase.UserUpdate{Email: &other}); !errors.As(err, &ve) || ve.Field != "email" {
		t.Fatalf("a new address with an invisible character: %v", err)
	}
}
