package usecase

import (
	"context"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gatehouse/domain"
)

// TOTP is the authenticator app algorithm (RFC 6238: SHA-1, 6 digits, 30 s).
type TOTP interface {
	// NewTOTPSecret makes a random secret (base32) and its otpauth:// URI naming
	// account at issuer. Neither name holds a colon in the URI (the label is
	// "issuer:account"): a colon given in either becomes a space.
	NewTOTPSecret(issuer, account string) (secret, uri string, err error)
	// MatchTOTP returns the step of the code among the current step and one on either
	// side; false when it matches none.
	MatchTOTP(secret, code string, now time.Time) (int64, bool)
}

// The MFA policies (GATEHOUSE_MFA).
const (
	MFAOptional = "optional"
	MFARequired = "required"
)

// MFASettings are the second factors' settings.
type MFASettings struct {
	Issuer string
	// Name, when set, names this server in authenticator apps instead of the issuer's
	// host (GATEHOUSE_BRAND_NAME).
	Name string
	// Policy is MFAOptional or MFARequired (a user without a factor enrols one before
	// a sign-in for an application completes).
	Policy string
}

const (
	// FreshSignIn is how recent a sign-in must be to enrol or remove a factor without
	// typing the password again (SECURITY S52).
	FreshSignIn = 5 * time.Minute
	// SecondFactorTTL is how long the browser that passed the password has to give
	// the second factor (SECURITY S50).
	SecondFactorTTL = 5 * time.Minute
	// enrolmentTTL is how long a shown QR code can be confirmed.
	enrolmentTTL = 10 * time.Minute
	// RecoveryCodeCount is how many recovery codes an enrolment gives.
	RecoveryCodeCount = 10
)

// The authentication methods (RFC 8176) a session records.
var (
	AMRPassword = []string{"pwd"}
	// AMRSecond is a password and then the authenticator app.
	AMRSecond = domain.WithSecondFactor(AMRPassword, AMROTP)
	// AMROTP is the authenticator app's (or a recovery code's) own method.
	AMROTP = []string{"otp"}
)

// ErrBadSecondFactor is a wrong, used or replayed authenticator or recovery code.
var ErrBadSecondFactor = errors.New("that code is not right, or was already used")

// ErrSecondFactorExpired is a second-factor page without a live password step of this
// browser: expired, from another browser, or never started.
var ErrSecondFactorExpired = errors.New("this sign-in has expired; enter your password again")

// SecondFactorRequired is LogIn's answer for a user with a second factor after the
// right password: no session yet; the browser is sent to the second-factor page.
// AMR are the methods of the first step (the password, or an upstream's), which the
// session keeps besides the factor's.
type SecondFactorRequired struct {
	UserID string
	AMR    []string
	// Credential marks the user's password at the first step (BeginSecondFactor).
	Credential string
}

func (e *SecondFactorRequired) Error() string { return "a second factor is required" }

// Factors are the users' second factors: the authenticator app (TOTP) and recovery
// codes. The TOTP secret is stored sealed with the server's key; recovery codes as
// keyed hashes; each TOTP step and each recovery code signs in once.
type Factors struct {
	users     UserStore
	store     FactorStore
	totp      TOTP
	sealer    Sealer
	ids       Identifiers
	passwords PasswordHasher
	throttle  Throttle
	random    Random
	hasher    SecretHasher
	clock     Clock
	accounts  *Accounts
	audit     *Audit
	settings  MFASettings
	// passkeys, webauthn and replay are the passkeys (nil: none offered).
	passkeys PasskeyStore
	webauthn WebAuthn
	replay   ReplayStore
}

// NewFactors builds the second-factor use cases.
func NewFactors(users UserStore, store FactorStore, totp TOTP, sealer Sealer, ids Identifiers, passwords PasswordHasher,
	throttle Throttle, random Random, hasher SecretHasher, clock Clock, accounts *Accounts, audit *Audit, settings MFASettings,
	passkeys PasskeyStore, webauthn WebAuthn, replay ReplayStore) *Factors {
	return &Factors{users: users, store: store, totp: totp, sealer: sealer, ids: ids, passwords: passwords, throttle: throttle,
		random: random, hasher: hasher, clock: clock, accounts: accounts, audit: audit, settings: settings,
		passkeys: passkeys, webauthn: webauthn, replay: replay}
}

// Settings returns the policy, for the pages.
func (f *Factors) Settings() MFASettings { return f.settings }

// FactorStatus is what the account page shows of a user's factors.
type FactorStatus struct {
	TOTP              bool
	RecoveryCodesLeft int
	// Passkeys are the user's passkeys, oldest first.
	Passkeys []domain.Passkey
}

// Status returns the factors of a user.
func (f *Factors) Status(ctx context.Context, userID string) (FactorStatus, error) {
	has, err := f.HasTOTP(ctx, userID)
	if err != nil {
		return FactorStatus{}, err
	}
	n, err := f.store.RecoveryCodesLeft(ctx, userID)
	if err != nil {
		return FactorStatus{}, err
	}
	pks, err := f.Passkeys(ctx, userID)
	if err != nil {
		return FactorStatus{}, err
	}
	return FactorStatus{TOTP: has, RecoveryCodesLeft: n, Passkeys: pks}, nil
}

// Has reports whether the user has a second factor: an authenticator app or a passkey.
func (f *Factors) Has(ctx context.Context, userID string) (bool, error) {
	has, err := f.HasTOTP(ctx, userID)
	if err != nil || has {
		return has, err
	}
	pks, err := f.Passkeys(ctx, userID)
	return len(pks) > 0, err
}

// HasTOTP reports whether the user has an authenticator app.
func (f *Factors) HasTOTP(ctx context.Context, userID string) (bool, error) {
	_, err := f.store.TOTPFactor(ctx, userID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up the user's authenticator: %w", err)
	}
	return true, nil
}

// Fresh reports whether s signed in recently enough to change factors without the
// password.
func (f *Factors) Fresh(s domain.Session) bool { return f.clock.Now().Sub(s.AuthTime) <= FreshSignIn }

// errFactorNeeded: the session signed in without the second factor the account has
// now, so it may not change the account's factors.
var errFactorNeeded = &ValidationError{Message: "this browser signed in without your second factor: sign out and in again with it to change your factors"}

// reauth lets a stale session prove itself with the password (throttled as at
// sign-in). A session without a second factor, of a user who has one now (the
// session predates it), cannot: the password alone would then remove the factor, or
// add one of its own (SECURITY S50, S52).
func (f *Factors) reauth(ctx context.Context, s domain.Session, password, address string) error {
	if !s.HasMFA() {
		has, err := f.Has(ctx, s.UserID)
		if err != nil {
			return err
		}
		if has {
			return errFactorNeeded
		}
	}
	if f.Fresh(s) {
		return nil
	}
	if password == "" {
		return &ValidationError{Field: "current_password", Message: "you signed in more than 5 minutes ago: enter your password to continue"}
	}
	u, err := f.users.UserByID(ctx, s.UserID)
	if err != nil {
		return fmt.Errorf("look up the session's user: %w", err)
	}
	if _, err := CheckPassword(ctx, f.users, f.ids, f.passwords, f.throttle, u.Username, password, address); err != nil {
		if errors.Is(err, errBadCredentials) {
			return &ValidationError{Field: "current_password", Message: "that is not your current password"}
		}
		return err
	}
	return nil
}

// TOTPEnrolment is a secret shown for enrolment, before its first code confirms it.
// Token carries it, sealed, from the page to the confirmation.
type TOTPEnrolment struct {
	Secret, URI, Token string
}

const enrolmentAD = "gatehouse totp enrolment"

// BeginTOTP starts enrolling an authenticator app for the user of s: a fresh sign-in
// or the password (SECURITY S52); nothing is stored until a code confirms it.
func (f *Factors) BeginTOTP(ctx context.Context, s domain.Session, password, address string) (TOTPEnrolment, error) {
	if err := f.reauth(ctx, s, password, address); err != nil {
		return TOTPEnrolment{}, err
	}
	has, err := f.HasTOTP(ctx, s.UserID)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	if has {
		return TOTPEnrolment{}, &ValidationError{Message: "you already use an authenticator app: remove it first to set up another"}
	}
	u, err := f.users.UserByID(ctx, s.UserID)
	if err != nil {
		return TOTPEnrolment{}, fmt.Errorf("look up the session's user: %w", err)
	}
	secret, uri, err := f.totp.NewTOTPSecret(f.issuerLabel(), u.Username)
	if err != nil {
		return TOTPEnrolment{}, fmt.Errorf("make an authenticator secret: %w", err)
	}
	exp := f.clock.Now().Add(enrolmentTTL).Unix()
	sealed, err := f.sealer.Seal([]byte(s.UserID+"\n"+secret+"\n"+uri+"\n"+strconv.FormatInt(exp, 10)), []byte(enrolmentAD))
	if err != nil {
		return TOTPEnrolment{}, fmt.Errorf("seal the enrolment: %w", err)
	}
	return TOTPEnrolment{Secret: secret, URI: uri, Token: base64.RawURLEncoding.EncodeToString(sealed)}, nil
}

// Enrolment reopens the enrolment of token for the user of s (the page shown again).
func (f *Factors) Enrolment(s domain.Session, token string) (TOTPEnrolment, error) {
	expired := &ValidationError{Message: "this setup has expired: start again"}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(token) > 2048 {
		return TOTPEnrolment{}, expired
	}
	plain, err := f.sealer.Open(raw, []byte(enrolmentAD))
	if err != nil {
		return TOTPEnrolment{}, expired
	}
	parts := strings.Split(string(plain), "\n")
	if len(parts) != 4 || parts[0] != s.UserID {
		return TOTPEnrolment{}, expired
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || f.clock.Now().Unix() > exp {
		return TOTPEnrolment{}, expired
	}
	return TOTPEnrolment{Secret: parts[1], URI: parts[2], Token: token}, nil
}

// ConfirmTOTP stores the enrolment of token once code matches it (that code's step is
// then used), and returns new recovery codes, shown once. The user is told by mail.
func (f *Factors) ConfirmTOTP(ctx context.Context, s domain.Session, token, code string) ([]string, error) {
	e, err := f.Enrolment(s, token)
	if err != nil {
		return nil, err
	}
	key := "mfa:" + s.UserID
	if err := f.throttle.Check(ctx, key); err != nil {
		return nil, err
	}
	step, ok := f.totp.MatchTOTP(e.Secret, normalizeOTP(code), f.clock.Now())
	if !ok {
		f.throttle.Failure(ctx, key)
		return nil, &ValidationError{Field: "otp", Message: "that code is not right: enter the 6 digits your app shows now"}
	}
	sealed, err := f.sealer.Seal([]byte(e.Secret), totpAD(s.UserID))
	if err != nil {
		return nil, fmt.Errorf("seal the authenticator secret: %w", err)
	}
	now := f.clock.Now()
	err = f.store.CreateTOTPFactor(ctx, domain.TOTPFactor{UserID: s.UserID, SealedSecret: sealed, LastStep: step, CreatedAt: now})
	switch {
	case errors.Is(err, domain.ErrDuplicate):
		return nil, &ValidationError{Message: "you already use an authenticator app: remove it first to set up another"}
	case err != nil:
		return nil, fmt.Errorf("store the authenticator: %w", err)
	}
	codes, err := f.newRecoveryCodes(ctx, s.UserID)
	if err != nil {
		return nil, err
	}
	f.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserMFAEnrolled, Actor: s.UserID, Target: s.UserID,
		Details: map[string]any{"factor": "totp"}})
	f.tell(s.UserID, "mfa_enrolled", mailText{key: "mail.mfa_enrolled.subject", english: "An authenticator app was added to your account"},
		mailText{key: "mail.mfa_enrolled.body", english: "An authenticator app was set up as the second factor of your account {{.User}}. Signing in now asks for its code."})
	return codes, nil
}

// newRecoveryCodes replaces the user's recovery codes with RecoveryCodeCount new
// ones (50 random bits each, as xxxxx-xxxxx) and returns them.
func (f *Factors) newRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes := make([]string, RecoveryCodeCount)
	hashes := make([][]byte, RecoveryCodeCount)
	for i := range codes {
		raw, _ := base64.RawURLEncoding.DecodeString(f.random.Token())
		s := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))[:10]
		codes[i] = s[:5] + "-" + s[5:]
		hashes[i] = f.hasher.HashSecret(recoveryPrefix + s)
	}
	if err := f.store.ReplaceRecoveryCodes(ctx, userID, hashes, f.clock.Now()); err != nil {
		return nil, fmt.Errorf("store recovery codes: %w", err)
	}
	return codes, nil
}

const recoveryPrefix = "recovery:"

// RemoveTOTP removes the authenticator app and the recovery codes of the user of s
// (fresh sign-in or the password); ErrNotFound when there was none. Audited with
// factor totp, and mailed, saying whether passkeys remain the second step.
func (f *Factors) RemoveTOTP(ctx context.Context, s domain.Session, password, address string) error {
	if err := f.reauth(ctx, s, password, address); err != nil {
		return err
	}
	ok, err := f.store.DeleteFactors(ctx, s.UserID)
	if err != nil {
		return fmt.Errorf("remove factors: %w", err)
	}
	if !ok {
		return domain.ErrNotFound
	}
	f.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserMFARemoved, Actor: s.UserID, Target: s.UserID,
		Details: map[string]any{"factor": "totp"}})
	body := mailText{key: "mail.mfa_removed.body", english: "The authenticator app and the recovery codes of your account {{.User}} were removed. Signing in now asks only for your password."}
	if pks, err := f.Passkeys(ctx, s.UserID); err != nil {
		return err
	} else if len(pks) > 0 {
		// The passkeys are still the second step: the mail must not say otherwise.
		body = mailText{key: "mail.mfa_removed.body_passkeys", english: "The authenticator app and the recovery codes of your account {{.User}} were removed. Signing in still asks for one of your passkeys after the password."}
	}
	f.tell(s.UserID, "mfa_removed", mailText{key: "mail.mfa_removed.subject", english: "The authenticator app was removed from your account"}, body)
	return nil
}

// Reset removes every factor of a user (the administrator's `users reset-mfa`);
// false when there was none. The user is told by mail.
func (f *Factors) Reset(ctx context.Context, userID string) (bool, error) {
	var ok bool
	errNone := errors.New("no factor")
	err := f.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditUserMFARemoved, Target: userID,
		Details: map[string]any{"reset": true}}, func(ctx context.Context) error {
		var err error
		if ok, err = f.store.DeleteFactors(ctx, userID); err != nil {
			return err
		}
		if f.passkeys != nil {
			pk, err := f.passkeys.DeletePasskeys(ctx, userID)
			if err != nil {
				return err
			}
			ok = ok || pk
		}
		if !ok {
			return errNone // nothing removed: no event either
		}
		return nil
	})
	if errors.Is(err, errNone) {
		err = nil
	}
	if err != nil {
		return false, fmt.Errorf("remove factors: %w", err)
	}
	if ok {
		f.tell(userID, "mfa_reset", mailText{key: "mail.mfa_reset.subject", english: "The second factor of your account was reset"},
			mailText{key: "mail.mfa_reset.body", english: "An administrator removed the authenticator app, the passkeys and the recovery codes of your account {{.User}}. Signing in now asks only for your password."})
	}
	return ok, nil
}

// tell mails the user about a change of their factors, in the background.
func (f *Factors) tell(userID, kind string, subject, body mailText) {
	f.accounts.mailUser(kind, userID, func(u domain.User) domain.Mail {
		w := f.accounts.settings.wordsFor(u)
		return mailIn(w, kind, u, w.text(subject), "", "", w.text(body, "User", u.Username),
			w.say("mail.factor.advice", "If it was not you, someone who knows your password did it: change your password at {{.Link}} and tell the administrator.",
				"Link", f.settings.Issuer+"/account"))
	})
}

// BeginSecondFactor returns the pending second-factor state of userID for the
// browser with cookie browser: sealed, bound to that browser, alive SecondFactorTTL.
// It is no session and grants nothing but the second-factor page (SECURITY S50).
// amr are the methods of the first step (nil: the password), kept in the state, and
// credential is SecondFactorRequired.Credential, a keyed fingerprint of the user's
// password hash at that step: the state dies when the password changes (a reset
// ends every sign-in, S47, a half-finished one too).
func (f *Factors) BeginSecondFactor(userID, browser string, amr []string, credential string) (string, error) {
	if browser == "" {
		return "", ErrSecondFactorExpired
	}
	exp := f.clock.Now().Add(SecondFactorTTL).Unix()
	bh := base64.RawURLEncoding.EncodeToString(f.hasher.HashSecret("mfa-browser:" + browser))
	if len(amr) == 0 {
		amr = AMRPassword
	}
	sealed, err := f.sealer.Seal([]byte(userID+"\n"+bh+"\n"+strconv.FormatInt(exp, 10)+"\n"+strings.Join(amr, " ")+"\n"+credential),
		[]byte(pendingAD))
	if err != nil {
		return "", fmt.Errorf("seal the second-factor state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

const pendingAD = "gatehouse second factor pending"

// credentialMark is a keyed fingerprint of u's password hash (of no password too).
func (f *Factors) credentialMark(u domain.User) string {
	return base64.RawURLEncoding.EncodeToString(f.hasher.HashSecret("mfa-credential:" + u.PasswordHash))
}

// PendingUser returns the user of a pending second-factor state, when it is alive and
// the browser is the one that passed the password; ErrSecondFactorExpired otherwise.
func (f *Factors) PendingUser(pending, browser string) (string, error) {
	userID, _, _, err := f.pending(pending, browser)
	return userID, err
}

// Pending is PendingUser with the methods of the first step, for finishing the
// sign-in: also ErrSecondFactorExpired when the user's password changed since the
// first step (a reset, or set-password).
func (f *Factors) Pending(ctx context.Context, pending, browser string) (userID string, amr []string, err error) {
	userID, amr, credential, err := f.pending(pending, browser)
	if err != nil {
		return "", nil, err
	}
	u, err := f.users.UserByID(ctx, userID)
	if err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			return "", nil, ErrSecondFactorExpired // deleted meanwhile
		}
		return "", nil, err
	}
	mark, derr := base64.RawURLEncoding.DecodeString(credential)
	if derr != nil || !f.hasher.SecretMatches(mark, "mfa-credential:"+u.PasswordHash) {
		return "", nil, ErrSecondFactorExpired
	}
	return userID, amr, nil
}

func (f *Factors) pending(pending, browser string) (userID string, amr []string, credential string, err error) {
	if pending == "" || browser == "" || len(pending) > 1024 {
		return "", nil, "", ErrSecondFactorExpired
	}
	raw, err := base64.RawURLEncoding.DecodeString(pending)
	if err != nil {
		return "", nil, "", ErrSecondFactorExpired
	}
	plain, err := f.sealer.Open(raw, []byte(pendingAD))
	if err != nil {
		return "", nil, "", ErrSecondFactorExpired
	}
	parts := strings.Split(string(plain), "\n")
	if len(parts) != 5 {
		return "", nil, "", ErrSecondFactorExpired
	}
	bh, err := base64.RawURLEncoding.DecodeString(parts[1])
	exp, perr := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || perr != nil || f.clock.Now().Unix() > exp || !f.hasher.SecretMatches(bh, "mfa-browser:"+browser) {
		return "", nil, "", ErrSecondFactorExpired
	}
	amr = AMRPassword
	if parts[3] != "" {
		amr = strings.Fields(parts[3])
	}
	return parts[0], amr, parts[4], nil
}

// Verify checks a second factor of the user: an authenticator code (its step then
// used, so it cannot serve twice) or a recovery code (then gone). Failures count
// like wrong passwords, per user and per address (SECURITY S50), and for a browser
// holding mark (a KnownFactorMark of the user) on its own counter too, which stops
// it instead of the user's (see factorAttempt). It returns the factor's own
// authentication methods (RFC 8176); domain.WithSecondFactor adds them to the first
// step's.
func (f *Factors) Verify(ctx context.Context, userID, otp, recoveryCode, address, mark string) ([]string, error) {
	attempt := f.factorAttempt(userID, address, mark)
	if err := attempt.check(ctx, f.throttle); err != nil {
		return nil, err
	}
	ok, err := f.verify(ctx, userID, normalizeOTP(otp), recoveryCode)
	if err != nil {
		return nil, err
	}
	if !ok {
		attempt.failed(ctx, f.throttle)
		f.audit.Note(WithAuditIP(ctx, address), domain.AuditEvent{Type: domain.AuditUserLoginFailed, Actor: userID, Target: userID,
			Reason: domain.AuditReasonMFAFailed})
		return nil, ErrBadSecondFactor
	}
	attempt.succeeded(ctx, f.throttle)
	return AMROTP, nil
}

// factorAttempt is the throttle of one attempt at userID's second factor: the
// user's counter, which every wrong code locks, and the address's. Someone who knows
// the password could otherwise keep the user out of the second step for good, one
// wrong code every few minutes (SECURITY S28). So a browser that passed this
// user's second factor before (mark, a KnownFactorMark) is stopped by a counter of
// its own instead of the user's; its failures still count on the user's. A mark is
// only given for the factor itself, never for the password: the password's
// KnownBrowserMark does not serve here.
type factorAttempt struct{ user, addr, browser string }

func (f *Factors) factorAttempt(userID, address, mark string) factorAttempt {
	return factorAttempt{user: "mfa:" + userID, addr: "addr:" + domain.ThrottleAddress(address), browser: f.knownFactorKey(mark, userID)}
}

func (a factorAttempt) check(ctx context.Context, throttle Throttle) error {
	first := a.user
	if a.browser != "" {
		first = a.browser
	}
	for _, k := range []string{first, a.addr} {
		if err := throttle.Check(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

func (a factorAttempt) failed(ctx context.Context, throttle Throttle) {
	throttle.Failure(ctx, a.user)
	throttle.Failure(ctx, a.addr)
	if a.browser != "" {
		throttle.Failure(ctx, a.browser)
	}
}

// succeeded clears the counter that stopped the attempt: a known browser's own (the
// user's is a stranger's doing), else the user's.
func (a factorAttempt) succeeded(ctx context.Context, throttle Throttle) {
	if a.browser != "" {
		throttle.Success(ctx, a.browser)
		return
	}
	throttle.Success(ctx, a.user)
}

// KnownFactorMark is a new mark for a browser that just passed userID's second
// factor: a random id, then a keyed hash binding it to the user. Verify and
// VerifyPasskey take it back (factorAttempt).
func (f *Factors) KnownFactorMark(userID string) string {
	if userID == "" {
		return ""
	}
	return newMark(f.random, f.hasher, f.clock.Now(), knownFactorPrefix, userID)
}

const knownFactorPrefix = "known-factor:"

// knownFactorKey is the throttle key of the browser holding mark, when mark is a
// KnownFactorMark of userID; "" otherwise.
func (f *Factors) knownFactorKey(mark, userID string) string {
	if id := markID(f.hasher, f.clock.Now(), mark, knownFactorPrefix, userID); id != "" {
		return "factor-browser:" + id
	}
	return ""
}

func (f *Factors) verify(ctx context.Context, userID, otp, recoveryCode string) (bool, error) {
	if otp == "" {
		code := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(recoveryCode))
		if len(code) != 10 {
			return false, nil
		}
		ok, err := f.store.UseRecoveryCode(ctx, userID, f.hasher.HashSecret(recoveryPrefix+code))
		if err != nil {
			return false, fmt.Errorf("use a recovery code: %w", err)
		}
		return ok, nil
	}
	tf, err := f.store.TOTPFactor(ctx, userID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up the authenticator: %w", err)
	}
	secret, err := f.sealer.Open(tf.SealedSecret, totpAD(userID))
	if err != nil {
		return false, fmt.Errorf("open the authenticator secret: %w", err)
	}
	step, ok := f.totp.MatchTOTP(string(secret), otp, f.clock.Now())
	if !ok {
		return false, nil
	}
	used, err := f.store.UseTOTPStep(ctx, userID, step)
	if err != nil {
		return false, fmt.Errorf("use an authenticator code: %w", err)
	}
	return used, nil
}

func totpAD(userID string) []byte { return []byte("gatehouse totp:" + userID) }

// normalizeOTP drops the spaces apps show in the middle of a code.
func normalizeOTP(code string) string { return strings.ReplaceAll(strings.TrimSpace(code), " ", "") }

// issuerLabel names this server in authenticator apps: the brand name when there is
// one, else the issuer's host without its port ("localhost" for
// http://localhost:8080), as apps show a domain. The otpauth label is
// "issuer:account", so the Key URI format allows no colon in either: an IPv6 literal
// host has its colons written as hyphens (the ipv6-literal.net spelling), and the
// TOTP port takes the colons out of whatever else it is given.
func (f *Factors) issuerLabel() string {
	if name := strings.TrimSpace(f.settings.Name); strings.Trim(name, ": ") != "" {
		return name // the TOTP port takes the colons out; one of colons only names nothing
	}
	if u, err := url.Parse(f.settings.Issuer); err == nil && u.Hostname() != "" {
		return strings.ReplaceAll(u.Hostname(), ":", "-")
	}
	return "Gatehouse"
}
