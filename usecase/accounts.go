package usecase

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"gatehouse/domain"
)

// AccountStore keeps the mailed links and the account reads and writes they need.
type AccountStore interface {
	// UserByEmail finds the user with exactly this canonical email; ErrNotFound.
	UserByEmail(ctx context.Context, email string) (domain.User, error)
	// MarkEmailVerified verifies the user's email only while it is still email.
	MarkEmailVerified(ctx context.Context, userID, email string, now time.Time) (bool, error)
	// CreateEmailToken stores a link, voiding the user's earlier links of its purpose.
	CreateEmailToken(ctx context.Context, t domain.EmailToken) error
	// EmailToken reads a link by hash; ErrNotFound.
	EmailToken(ctx context.Context, hash []byte) (domain.EmailToken, error)
	// ConsumeEmailToken deletes a live link of this purpose; of concurrent callers
	// exactly one gets true.
	ConsumeEmailToken(ctx context.Context, hash []byte, purpose string, now time.Time) (bool, error)
	// ChangeEmail sets the user's email to to, verified, only while it is still from
	// ("" for none): false when it is not, or the user is gone; ErrDuplicate when
	// another user has to.
	ChangeEmail(ctx context.Context, userID, from, to string, now time.Time) (bool, error)
	// TakeClaimedEmail makes the user's claimed address their email, unverified, only
	// while they have none and still claim it: false when not, or the user is gone;
	// ErrDuplicate when another user has it.
	TakeClaimedEmail(ctx context.Context, userID, email string, now time.Time) (bool, error)
}

// The email verification policies (GATEHOUSE_EMAIL_VERIFICATION).
const (
	EmailVerificationOff      = "off"
	EmailVerificationOptional = "optional"
	EmailVerificationRequired = "required"
)

// AccountSettings are the mailed links' settings.
type AccountSettings struct {
	Issuer string
	// TokenTTL is how long a mailed link lives (GATEHOUSE_EMAIL_TOKEN_TTL).
	TokenTTL time.Duration
	// Verification is off, optional (registration sends a verification mail) or
	// required (an unverified user gets no code until verified).
	Verification string
	// Translator puts the mails in their reader's language; nil: English.
	Translator Translator
	// requestLocale is the language of the page whose request sends the mail: the
	// mail's language when the user has no locale claim.
	requestLocale string
}

type localeKey struct{}

// WithLocale carries the language of the page a request came from (a BCP 47 tag)
// to the mails it sends to a user without a locale claim.
func WithLocale(ctx context.Context, locale string) context.Context {
	return context.WithValue(ctx, localeKey{}, locale)
}

func localeOf(ctx context.Context) string {
	l, _ := ctx.Value(localeKey{}).(string)
	return l
}

// forRequest is s with the language of ctx's page for users without a locale.
func (s AccountSettings) forRequest(ctx context.Context) AccountSettings {
	s.requestLocale = localeOf(ctx)
	return s
}

// Translator gives a message of the catalogs in a language (a BCP 47 tag; an
// unsupported or empty one means the default language), its {{.Name}} placeholders
// filled from args. adapter/i18n implements it.
type Translator interface {
	Text(locale, key string, args map[string]string) string
}

// words are a mail's sentences in its reader's language: the user's locale profile
// claim, else the language of the page that sent the mail, else the default. Without a Translator they are the English given.
type words struct {
	t      Translator
	locale string
}

func (s AccountSettings) wordsFor(u domain.User) words {
	// Both in order of preference (the Translator takes the first it supports), so
	// that a locale claim of a language without a catalog (pt-BR) falls back to the
	// page's language, not to the default.
	return words{t: s.Translator, locale: strings.TrimSpace(u.Locale + " " + s.requestLocale)}
}

// mailText is a sentence of a mail: its catalog key, its English, and its arguments
// (name, value pairs).
type mailText struct {
	key, english string
	args         []string
}

func (w words) text(t mailText, more ...string) string {
	return w.say(t.key, t.english, append(append([]string(nil), t.args...), more...)...)
}

// say is the message key, whose English is english, with its placeholders filled
// from args (name, value pairs).
func (w words) say(key, english string, args ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(args); i += 2 {
		m[args[i]] = args[i+1]
	}
	if w.t != nil {
		return w.t.Text(w.locale, key, m)
	}
	for k, v := range m {
		english = strings.ReplaceAll(english, "{{."+k+"}}", v)
	}
	return english
}

// ErrBadLink is a mailed link that is unknown, used, expired, voided by a newer one,
// or for an address the account no longer has: one answer for all (SECURITY S47).
var ErrBadLink = errors.New("this link is invalid or has expired")

// Accounts is what users do for themselves by mail: verify their address, reset a
// forgotten password, change their address. No answer depends on whether an address
// has an account: the work that does (finding the user, making the link, queueing the
// mail) runs after the answer, in the background (SECURITY S48).
type Accounts struct {
	users     UserStore
	accounts  AccountStore
	ids       Identifiers
	passwords PasswordHasher
	admin     *Admin
	mailer    *Mailer
	throttle  Throttle
	random    Random
	hasher    SecretHasher
	clock     Clock
	settings  AccountSettings
	log       *slog.Logger
	jobs      sync.WaitGroup
}

// NewAccounts builds the self-service account use cases.
func NewAccounts(users UserStore, accounts AccountStore, ids Identifiers, passwords PasswordHasher, admin *Admin, mailer *Mailer,
	throttle Throttle, random Random, hasher SecretHasher, clock Clock, settings AccountSettings, log *slog.Logger) *Accounts {
	return &Accounts{users: users, accounts: accounts, ids: ids, passwords: passwords, admin: admin, mailer: mailer,
		throttle: throttle, random: random, hasher: hasher, clock: clock, settings: settings, log: log}
}

// Settings returns the policy, for the pages.
func (a *Accounts) Settings() AccountSettings { return a.settings }

// LinkLifetime says in words how long a mailed link lives ("30 minutes").
func (a *Accounts) LinkLifetime() string { return words{}.within(a.settings.TokenTTL) }

// LinkLifetimeIn is LinkLifetime in a language (a BCP 47 tag), for a page.
func (a *Accounts) LinkLifetimeIn(locale string) string {
	return words{t: a.settings.Translator, locale: locale}.within(a.settings.TokenTTL)
}

// Wait returns when the background work started so far has ended (tests, shutdown).
func (a *Accounts) Wait() { a.jobs.Wait() }

// background runs fn after the caller has answered, bounded in time, and logs its
// failure: the caller's answer must not depend on it.
func (a *Accounts) background(what string, fn func(ctx context.Context) error) {
	a.jobs.Add(1)
	go func() {
		defer a.jobs.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := fn(ctx); err != nil {
			a.log.Warn("account mail not queued", "what", what, "err", err)
		}
	}()
}

// Welcome follows a sign-up: a verification mail to the new address (unless
// verification is off), or, when the address belonged to another account (the new
// account was made without it), a mail telling that account's owner.
func (a *Accounts) Welcome(userID, submittedEmail string) { a.WelcomeIn("", userID, submittedEmail) }

// WelcomeIn is Welcome from a page in the language locale (for a user without a
// locale claim).
func (a *Accounts) WelcomeIn(locale, userID, submittedEmail string) {
	email := a.ids.CanonicalEmail(submittedEmail)
	a.background("welcome", func(ctx context.Context) error {
		ctx = WithLocale(ctx, locale)
		u, err := a.users.UserByID(ctx, userID)
		if err != nil {
			return fmt.Errorf("look up the new user: %w", err)
		}
		if u.Email != "" {
			if a.settings.Verification == EmailVerificationOff {
				return nil
			}
			return a.sendVerification(ctx, u)
		}
		if u.ClaimedEmail != "" {
			email = u.ClaimedEmail
		}
		if email == "" {
			return nil
		}
		return a.tellOwner(ctx, u, email)
	})
}

// tellOwner mails the account holding email that someone (u) tried to sign up with
// it; nothing when no other account holds it.
func (a *Accounts) tellOwner(ctx context.Context, u domain.User, email string) error {
	owner, err := a.accounts.UserByEmail(ctx, email)
	if errors.Is(err, domain.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return a.mailOwner(ctx, u, owner)
}

// mailOwner tells owner that someone (u) tried to sign up with their address. The
// owner's mails are throttled like failures (a few at once, then ever further
// apart): accounts that claim the address are cheap to make, and each could ask
// again and again.
func (a *Accounts) mailOwner(ctx context.Context, u, owner domain.User) error {
	if owner.ID == u.ID {
		return nil
	}
	key := "signup-attempt:" + owner.ID
	if a.throttle.Check(ctx, key) != nil {
		return nil // told recently: the mail would add nothing
	}
	a.throttle.Failure(ctx, key)
	return a.mailer.Queue(ctx, signUpAttemptMail(a.settings.forRequest(ctx), owner))
}

// ResendVerification mails a new verification link to a signed-in user whose address
// is not verified yet, at most a few times in a row (throttled per user).
func (a *Accounts) ResendVerification(ctx context.Context, userID string) error {
	key := "verify-mail:" + userID
	if err := a.throttle.Check(ctx, key); err != nil {
		return err
	}
	a.throttle.Failure(ctx, key)
	u, err := a.users.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	switch {
	case u.EmailVerified:
		return nil
	case u.Email == "" && u.ClaimedEmail != "":
		return a.resendClaimed(ctx, u)
	case u.Email == "":
		return nil
	}
	return a.sendVerification(ctx, u)
}

// resendClaimed is ResendVerification for a user who signed up with an address
// another account held (domain.User.ClaimedEmail). While one holds it, its owner is
// told again that someone tried to use it; once none does, the address becomes the
// user's (unverified, the unique index deciding a race) and its link goes out as
// for any other. The page the user sees is the same either way.
func (a *Accounts) resendClaimed(ctx context.Context, u domain.User) error {
	owner, err := a.accounts.UserByEmail(ctx, u.ClaimedEmail)
	switch {
	case err == nil:
		return a.mailOwner(ctx, u, owner)
	case !errors.Is(err, domain.ErrNotFound):
		return fmt.Errorf("look up the owner of the claimed address: %w", err)
	}
	ok, err := a.accounts.TakeClaimedEmail(ctx, u.ID, u.ClaimedEmail, a.clock.Now())
	switch {
	case errors.Is(err, domain.ErrDuplicate):
		return a.tellOwner(ctx, u, u.ClaimedEmail) // taken again meanwhile
	case err != nil:
		return err
	case !ok:
		return nil // the user changed meanwhile: nothing of theirs to verify
	}
	u.Email, u.ClaimedEmail = u.ClaimedEmail, ""
	return a.sendVerification(ctx, u)
}

func (a *Accounts) sendVerification(ctx context.Context, u domain.User) error {
	link, err := a.newLink(ctx, u, domain.PurposeVerifyEmail, "/verify-email")
	if err != nil {
		return err
	}
	return a.mailer.Queue(ctx, verifyMail(a.settings.forRequest(ctx), u, link))
}

// newLink stores a fresh link of purpose for u and returns its URL.
func (a *Accounts) newLink(ctx context.Context, u domain.User, purpose, path string) (string, error) {
	secret := a.random.Token()
	now := a.clock.Now()
	err := a.accounts.CreateEmailToken(ctx, domain.EmailToken{Hash: a.hasher.HashSecret(secret), UserID: u.ID,
		Purpose: purpose, Email: u.Email, CreatedAt: now, ExpiresAt: now.Add(a.settings.TokenTTL)})
	if err != nil {
		return "", fmt.Errorf("store %s link: %w", purpose, err)
	}
	return a.settings.Issuer + path + "?token=" + url.QueryEscape(secret), nil
}

// link reads a live link of purpose for its secret; ErrBadLink otherwise.
func (a *Accounts) link(ctx context.Context, secret, purpose string) (domain.EmailToken, error) {
	if secret == "" || len(secret) > 256 {
		return domain.EmailToken{}, ErrBadLink
	}
	t, err := a.accounts.EmailToken(ctx, a.hasher.HashSecret(secret))
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.EmailToken{}, ErrBadLink
	case err != nil:
		return domain.EmailToken{}, fmt.Errorf("look up link: %w", err)
	case t.Purpose != purpose || !t.Live(a.clock.Now()):
		return domain.EmailToken{}, ErrBadLink
	}
	return t, nil
}

// CheckLink tells a page whether its link can still be used, without using it up.
func (a *Accounts) CheckLink(ctx context.Context, secret, purpose string) error {
	if purpose == domain.PurposeResetPassword {
		_, _, err := a.resetLink(ctx, secret)
		return err
	}
	_, err := a.link(ctx, secret, purpose)
	return err
}

// resetLink is a live reset link and its user, who must be enabled and still have
// the address the link was sent to: a link mailed to an address the account no
// longer has resets nothing (SECURITY S47).
func (a *Accounts) resetLink(ctx context.Context, secret string) (domain.EmailToken, domain.User, error) {
	t, err := a.link(ctx, secret, domain.PurposeResetPassword)
	if err != nil {
		return domain.EmailToken{}, domain.User{}, err
	}
	u, err := a.users.UserByID(ctx, t.UserID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.EmailToken{}, domain.User{}, ErrBadLink
	case err != nil:
		return domain.EmailToken{}, domain.User{}, err
	case u.Disabled, u.Email != t.Email:
		return domain.EmailToken{}, domain.User{}, ErrBadLink
	}
	return t, u, nil
}

// VerifyEmail uses a verification link: the user's address is verified if it is still
// the one the link was sent to.
func (a *Accounts) VerifyEmail(ctx context.Context, secret string) error {
	t, err := a.link(ctx, secret, domain.PurposeVerifyEmail)
	if err != nil {
		return err
	}
	now := a.clock.Now()
	ok, err := a.accounts.ConsumeEmailToken(ctx, t.Hash, t.Purpose, now)
	if err != nil {
		return fmt.Errorf("use verification link: %w", err)
	}
	if !ok {
		return ErrBadLink
	}
	ok, err = a.accounts.MarkEmailVerified(ctx, t.UserID, t.Email, now)
	if err != nil {
		return err
	}
	if !ok {
		return ErrBadLink // the address changed since the mail
	}
	a.admin.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserEmailVerified, Actor: t.UserID, Target: t.UserID})
	return nil
}

// ForgotPassword answers every well-formed request the same way, throttled per
// address of the caller and per email; a reset link goes out only when an enabled
// account has the email, decided after the answer.
func (a *Accounts) ForgotPassword(ctx context.Context, rawEmail, address string) error {
	email := a.ids.CanonicalEmail(rawEmail)
	if email == "" {
		return &ValidationError{Field: "email", Message: "enter the email address of your account"}
	}
	if err := domain.ValidateEmail(email); err != nil {
		return invalid("email", err)
	}
	addrKey := "forgot:" + domain.ThrottleAddress(address)
	for _, key := range []string{addrKey, "forgot-email:" + email} {
		if err := a.throttle.Check(ctx, key); err != nil {
			return err
		}
	}
	a.throttle.Failure(ctx, addrKey)
	a.throttle.Failure(ctx, "forgot-email:"+email)
	locale := localeOf(ctx)
	a.background("password reset", func(ctx context.Context) error {
		ctx = WithLocale(ctx, locale)
		u, err := a.accounts.UserByEmail(ctx, email)
		if errors.Is(err, domain.ErrNotFound) || err == nil && u.Disabled {
			return nil
		}
		if err != nil {
			return err
		}
		link, err := a.newLink(ctx, u, domain.PurposeResetPassword, "/reset-password")
		if err != nil {
			return err
		}
		return a.mailer.Queue(ctx, resetMail(a.settings.forRequest(ctx), u, link))
	})
	return nil
}

// ResetPassword uses a reset link: the new password is checked before the link is
// used up, then set, which ends every session and revokes every token of the user
// (Admin.SetPassword). The address the link reached is verified by it. It returns the
// id of the user whose password it set.
func (a *Accounts) ResetPassword(ctx context.Context, secret, password, confirm string) (string, error) {
	t, u, err := a.resetLink(ctx, secret)
	if err != nil {
		return "", err
	}
	if err := domain.ValidatePassword(password, u.Username); err != nil {
		return "", invalid("password", err)
	}
	if password != confirm {
		return "", &ValidationError{Field: "password_confirm", Message: "the two passwords differ"}
	}
	now := a.clock.Now()
	ok, err := a.accounts.ConsumeEmailToken(ctx, t.Hash, t.Purpose, now)
	if err != nil {
		return "", fmt.Errorf("use reset link: %w", err)
	}
	if !ok {
		return "", ErrBadLink
	}
	if err := a.admin.setPassword(WithAuditActor(ctx, u.ID), u.ID, password, domain.AuditUserPasswordReset); err != nil {
		return "", err
	}
	a.PasswordChanged(u.ID)
	if !u.EmailVerified {
		if _, err := a.accounts.MarkEmailVerified(ctx, u.ID, t.Email, now); err != nil {
			return "", err
		}
	}
	return u.ID, nil
}

// UpdateProfile sets the signed-in user's own profile claims (the account page):
// every field of p, an empty one cleared. Bad values are a *ValidationError naming
// the claim. A new phone number is unverified.
func (a *Accounts) UpdateProfile(ctx context.Context, userID string, p domain.Profile) (domain.User, error) {
	return a.admin.UpdateProfile(ctx, userID, ProfileUpdate{Name: &p.Name, GivenName: &p.GivenName,
		FamilyName: &p.FamilyName, Picture: &p.Picture, Locale: &p.Locale, Zoneinfo: &p.Zoneinfo, PhoneNumber: &p.PhoneNumber})
}

// CheckNewEmail is what ChangeEmail would say of rawEmail's form alone (a
// *ValidationError for the field new_email), without a password and without looking
// at who has the address: for a form that found another field missing, so that one
// answer names every wrong field.
func (a *Accounts) CheckNewEmail(rawEmail string) error {
	_, err := a.newEmail(rawEmail)
	return err
}

// newEmail is rawEmail in its stored form, when it may be an address.
func (a *Accounts) newEmail(rawEmail string) (string, error) {
	email := a.ids.CanonicalEmail(rawEmail)
	if email == "" {
		return "", &ValidationError{Field: "new_email", Message: "enter the new email address"}
	}
	if err := domain.ValidateNewEmail(email); err != nil {
		return "", invalid("new_email", err)
	}
	return email, nil
}

// ChangeEmail is the signed-in user's request on /account to change their email to
// rawEmail, confirmed by their current password (checked as at sign-in, throttled).
// Requests are throttled per user and per new address, as forgot-password is. The
// answer is the same whether or not the address belongs to another account, and so
// is the work before it (SECURITY S48); then, in the background, a link to confirm
// goes to the new address, or, when another account has it, a notice to that
// account's owner and no link. It returns the canonical new address.
func (a *Accounts) ChangeEmail(ctx context.Context, userID, password, rawEmail, address string) (string, error) {
	email, err := a.newEmail(rawEmail)
	if err != nil {
		return "", err
	}
	u, err := a.users.UserByID(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("look up the session's user: %w", err)
	}
	if email == u.ShownEmail() {
		// A claimed address too, as a free one would be: the user cannot tell them apart.
		return "", &ValidationError{Field: "new_email", Message: "that is already your email address"}
	}
	for _, key := range []string{"change-email:" + u.ID, "change-email-to:" + email} {
		if err := a.throttle.Check(ctx, key); err != nil {
			return "", err
		}
	}
	if _, err := CheckPassword(ctx, a.users, a.ids, a.passwords, a.throttle, u.Username, password, address); err != nil {
		if errors.Is(err, errBadCredentials) {
			return "", &ValidationError{Field: "current_password", Message: "that is not your current password"}
		}
		return "", err
	}
	a.throttle.Failure(ctx, "change-email:"+u.ID)
	a.throttle.Failure(ctx, "change-email-to:"+email)
	settings := a.settings.forRequest(ctx) // the page's language, for users without a locale
	a.background("email change", func(ctx context.Context) error {
		owner, err := a.accounts.UserByEmail(ctx, email)
		switch {
		case err == nil && owner.ID != u.ID:
			return a.mailer.Queue(ctx, emailTakenMail(settings, owner))
		case err == nil:
			return nil // the user's own address by now
		case !errors.Is(err, domain.ErrNotFound):
			return err
		}
		to := u
		to.Email = email
		link, err := a.newLink(ctx, to, domain.PurposeChangeEmail, "/confirm-email")
		if err != nil {
			return err
		}
		return a.mailer.Queue(ctx, changeEmailMail(settings, to, link))
	})
	return email, nil
}

// CheckEmailChangeLink tells the confirm page whether a change-email link can still
// be used in a browser signed in as signedInAs ("" for none), without using it up.
func (a *Accounts) CheckEmailChangeLink(ctx context.Context, secret, signedInAs string) error {
	_, err := a.emailChangeLink(ctx, secret, signedInAs)
	return err
}

// emailChangeLink reads a live change-email link; in a browser signed in as another
// user than the link's it is a bad link: a signed-in user's button never changes
// another account.
func (a *Accounts) emailChangeLink(ctx context.Context, secret, signedInAs string) (domain.EmailToken, error) {
	t, err := a.link(ctx, secret, domain.PurposeChangeEmail)
	if err != nil {
		return domain.EmailToken{}, err
	}
	if signedInAs != "" && signedInAs != t.UserID {
		return domain.EmailToken{}, ErrBadLink
	}
	return t, nil
}

// ConfirmEmailChange uses a change-email link in a browser signed in as signedInAs
// ("" for none: the link alone is enough): the user's email becomes the address the
// link was sent to, verified (following the link proved it), and the old address is
// told. A link whose address another account has taken meanwhile, of a disabled or
// deleted user, or of another user than the signed-in one, is a bad link and changes
// nothing. It returns the new address.
func (a *Accounts) ConfirmEmailChange(ctx context.Context, secret, signedInAs string) (string, error) {
	t, err := a.emailChangeLink(ctx, secret, signedInAs)
	if err != nil {
		return "", err
	}
	u, err := a.users.UserByID(ctx, t.UserID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return "", ErrBadLink
	case err != nil:
		return "", err
	case u.Disabled:
		return "", ErrBadLink
	}
	owner, err := a.accounts.UserByEmail(ctx, t.Email)
	switch {
	case err == nil && owner.ID != u.ID:
		return "", ErrBadLink
	case err != nil && !errors.Is(err, domain.ErrNotFound):
		return "", err
	}
	now := a.clock.Now()
	ok, err := a.accounts.ConsumeEmailToken(ctx, t.Hash, t.Purpose, now)
	if err != nil {
		return "", fmt.Errorf("use change-email link: %w", err)
	}
	if !ok {
		return "", ErrBadLink
	}
	ok, err = a.accounts.ChangeEmail(ctx, u.ID, u.Email, t.Email, now)
	switch {
	case errors.Is(err, domain.ErrDuplicate):
		return "", ErrBadLink // taken between the check and the change
	case err != nil:
		return "", err
	case !ok:
		return "", ErrBadLink // changed meanwhile by someone else
	}
	a.admin.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserEmailChanged, Actor: u.ID, Target: u.ID,
		Details: changedDetails([]string{"email", "email_verified"})})
	if u.Email != "" && u.Email != t.Email {
		old, settings := u, a.settings.forRequest(ctx)
		a.background("email changed notice", func(ctx context.Context) error {
			return a.mailer.Queue(ctx, emailChangedMail(settings, old, t.Email))
		})
	}
	return t.Email, nil
}

// within says how long a link lives, in words ("30 minutes", "2 hours").
func (w words) within(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		if d == time.Hour {
			return w.say("mail.duration.hour", "1 hour")
		}
		return w.say("mail.duration.hours", "{{.Count}} hours", "Count", fmt.Sprint(int64(d/time.Hour)))
	case d >= time.Minute:
		m := (d + time.Minute - 1) / time.Minute
		if m == 1 {
			return w.say("mail.duration.minute", "1 minute")
		}
		return w.say("mail.duration.minutes", "{{.Count}} minutes", "Count", fmt.Sprint(int64(m)))
	}
	return w.say("mail.duration.seconds", "{{.Count}} seconds", "Count", fmt.Sprint(int64(d/time.Second)))
}

// mailIn builds a mail with a plain-text and an HTML body from paragraphs, its
// greeting and signature in w's language; link, when not empty, follows the first
// paragraph as a button.
func mailIn(w words, kind string, to domain.User, subject string, link, linkLabel string, paragraphs ...string) domain.Mail {
	var text, html strings.Builder
	hello := w.say("mail.hello", "Hello {{.User}},", "User", to.Username)
	text.WriteString(hello + "\n\n")
	fmt.Fprintf(&html, "<p>%s</p>\n", template.HTMLEscapeString(hello))
	for i, p := range paragraphs {
		text.WriteString(p + "\n\n")
		fmt.Fprintf(&html, "<p>%s</p>\n", template.HTMLEscapeString(p))
		if i == 0 && link != "" {
			text.WriteString(link + "\n\n")
			fmt.Fprintf(&html, `<p><a href="%s" style="display:inline-block;padding:10px 18px;background:#2f5bea;color:#ffffff;border-radius:6px;text-decoration:none">%s</a></p>`+"\n",
				template.HTMLEscapeString(link), template.HTMLEscapeString(linkLabel))
			fmt.Fprintf(&html, "<p style=\"font-size:13px;color:#555\">%s</p>\n",
				template.HTMLEscapeString(w.say("mail.or_open", "Or open this address: {{.Link}}", "Link", link)))
		}
	}
	sig := w.say("mail.signature", "— Gatehouse")
	text.WriteString(sig + "\n")
	html.WriteString("<p>" + template.HTMLEscapeString(sig) + "</p>\n")
	return domain.Mail{Kind: kind, To: to.Email, Subject: subject, Text: text.String(), HTML: html.String()}
}

func verifyMail(s AccountSettings, u domain.User, link string) domain.Mail {
	w := s.wordsFor(u)
	return mailIn(w, "verify_email", u, w.say("mail.verify.subject", "Verify your email address"), link,
		w.say("mail.verify.button", "Verify my email address"),
		w.say("mail.verify.body", "Confirm that this is the email address of your account by opening this link within {{.Within}}:",
			"Within", w.within(s.TokenTTL)),
		w.say("mail.verify.ignore", "If you did not create an account, ignore this mail."))
}

func resetMail(s AccountSettings, u domain.User, link string) domain.Mail {
	w := s.wordsFor(u)
	return mailIn(w, "reset_password", u, w.say("mail.reset.subject", "Reset your password"), link,
		w.say("mail.reset.button", "Choose a new password"),
		w.say("mail.reset.body", "Someone (hopefully you) asked to reset the password of your account. Open this link within {{.Within}} to choose a new one:",
			"Within", w.within(s.TokenTTL)),
		w.say("mail.reset.ignore", "If it was not you, ignore this mail: your password stays as it is."))
}

func signUpAttemptMail(s AccountSettings, owner domain.User) domain.Mail {
	w := s.wordsFor(owner)
	return mailIn(w, "sign_up_attempt", owner, w.say("mail.signup_attempt.subject", "Someone tried to create an account with your email address"), "", "",
		w.say("mail.signup_attempt.body", "Someone tried to create a new account with this email address, which already belongs to your account {{.User}}.",
			"User", owner.Username),
		w.say("mail.signup_attempt.advice", "If it was you, sign in instead, or reset your password at {{.Link}}. Otherwise ignore this mail.",
			"Link", s.Issuer+"/forgot-password"))
}

func changeEmailMail(s AccountSettings, to domain.User, link string) domain.Mail {
	w := s.wordsFor(to)
	return mailIn(w, "change_email", to, w.say("mail.change_email.subject", "Confirm your new email address"), link,
		w.say("mail.change_email.button", "Use this email address"),
		w.say("mail.change_email.body", "Someone (hopefully you) asked to make this the email address of the account {{.User}}. Open this link within {{.Within}} to confirm:",
			"User", to.Username, "Within", w.within(s.TokenTTL)),
		w.say("mail.change_email.ignore", "If it was not you, ignore this mail: nothing changes."))
}

func emailTakenMail(s AccountSettings, owner domain.User) domain.Mail {
	w := s.wordsFor(owner)
	return mailIn(w, "change_email_taken", owner, w.say("mail.email_taken.subject", "Someone tried to use your email address"), "", "",
		w.say("mail.email_taken.body", "Someone tried to make this email address, which already belongs to your account {{.User}}, the address of another account. Nothing was changed.",
			"User", owner.Username),
		w.say("mail.email_taken.advice", "If it was you, sign in to {{.User}} instead, or reset its password at {{.Link}}. Otherwise ignore this mail.",
			"User", owner.Username, "Link", s.Issuer+"/forgot-password"))
}

// PasswordChanged mails the user that their password was changed (on /account, or
// by a reset link), in the background: someone who did not do it learns at once,
// and how to take the account back.
func (a *Accounts) PasswordChanged(userID string) {
	a.mailUser("password_changed", userID, func(u domain.User) domain.Mail { return passwordChangedMail(a.settings, u) })
}

// mailUser queues, in the background, the mail build makes for the user userID,
// when the user has an email address: the notices of changes to an account.
func (a *Accounts) mailUser(kind, userID string, build func(u domain.User) domain.Mail) {
	a.background(kind, func(ctx context.Context) error {
		u, err := a.users.UserByID(ctx, userID)
		if err != nil {
			return fmt.Errorf("look up the user: %w", err)
		}
		if u.Email == "" {
			return nil
		}
		return a.mailer.Queue(ctx, build(u))
	})
}

func passwordChangedMail(s AccountSettings, u domain.User) domain.Mail {
	w := s.wordsFor(u)
	return mailIn(w, "password_changed", u, w.say("mail.password_changed.subject", "Your password was changed"), "", "",
		w.say("mail.password_changed.body", "The password of your account {{.User}} was changed, and the devices signed in with the old one were signed out.",
			"User", u.Username),
		w.say("mail.password_changed.advice", "If it was not you, choose a new password at {{.Link}} at once, and tell the administrator.",
			"Link", s.Issuer+"/forgot-password"))
}

func emailChangedMail(s AccountSettings, old domain.User, newEmail string) domain.Mail {
	w := s.wordsFor(old)
	return mailIn(w, "email_changed", old, w.say("mail.email_changed.subject", "Your email address was changed"), "", "",
		w.say("mail.email_changed.body", "The email address of your account {{.User}} was changed from this address to {{.Email}}.",
			"User", old.Username, "Email", newEmail),
		w.say("mail.email_changed.advice", "If it was not you, someone who knows your password did it: tell the administrator of {{.Issuer}} at once.",
			"Issuer", s.Issuer))
}
