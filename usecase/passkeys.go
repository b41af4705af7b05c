package usecase

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gatehouse/domain"
)

// Passkeys (WebAuthn): registered on /account, used as the second factor, alone
// (passwordless, user verification required) and to step a session up to the
// phishing-resistant level (SECURITY S51).
//
// A ceremony's state is sealed with the server's key and carried by the page: it is
// bound to the browser (the hash of its browser cookie) and to the session of the
// page (when there is one), lives PasskeyCeremonyTTL, and its challenge is single use
// (ReplayStore: one insert decides, on every instance).

// PasskeyCeremonyTTL is how long a page's passkey challenge can be answered.
const PasskeyCeremonyTTL = 5 * time.Minute

// The purposes of a ceremony: a state of one is worthless for another.
const (
	passkeyRegister = "register"
	passkeySignIn   = "signin" // passwordless: any discoverable credential
	passkeySecond   = "second" // the second factor or a step-up: one user's passkeys
)

const (
	passkeyAD        = "gatehouse webauthn ceremony"
	passkeyNamespace = "webauthn-challenge"
	maxPasskeyName   = 64
	maxPasskeyAnswer = 64 << 10
)

// The authentication methods (RFC 8176) of a passkey sign-in: hwk (proof of
// possession of a key kept by an authenticator), and for a passwordless sign-in
// user (the authenticator verified the user; whether by PIN or biometrics it does
// not say, so no pin, fpt or face) and mfa (possession plus that verification).
var (
	AMRPasskey = []string{"hwk", "user", "mfa"}
	// AMRPasskeyFactor is a passkey's own method as a second factor.
	AMRPasskeyFactor = []string{"hwk"}
	// AMRPasswordPasskey is a password and then a passkey.
	AMRPasswordPasskey = domain.WithSecondFactor(AMRPassword, AMRPasskeyFactor)
)

// ErrBadPasskey is a passkey answer that was refused: it did not verify, it answered
// a used, expired or another browser's challenge, or the credential is another
// user's or unknown.
var ErrBadPasskey = errors.New("that passkey was not accepted: try again")

// PasskeyChallenge is what a page carries for one ceremony: Options for the
// browser (JSON) and State, sealed, posted back with the answer.
type PasskeyChallenge struct {
	Options string
	State   string
}

type passkeyState struct {
	Purpose   string `json:"p"`
	UserID    string `json:"u,omitempty"`
	Browser   string `json:"b"`
	Session   string `json:"s,omitempty"`
	Expires   int64  `json:"e"`
	Challenge string `json:"c"`
	State     []byte `json:"d"`
}

// PasskeysEnabled reports whether passkeys are offered.
func (f *Factors) PasskeysEnabled() bool {
	return f.passkeys != nil && f.webauthn != nil && f.replay != nil && f.webauthn.Available()
}

// Passkeys lists the user's passkeys.
func (f *Factors) Passkeys(ctx context.Context, userID string) ([]domain.Passkey, error) {
	if !f.PasskeysEnabled() {
		return nil, nil
	}
	pks, err := f.passkeys.PasskeysOf(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list the user's passkeys: %w", err)
	}
	return pks, nil
}

func (f *Factors) passkeyUser(ctx context.Context, userID string) (PasskeyUser, error) {
	u, err := f.users.UserByID(ctx, userID)
	if err != nil {
		return PasskeyUser{}, fmt.Errorf("look up the user: %w", err)
	}
	pks, err := f.Passkeys(ctx, userID)
	if err != nil {
		return PasskeyUser{}, err
	}
	display := u.Profile.Name
	if display == "" {
		display = u.Username
	}
	return PasskeyUser{ID: u.ID, Name: u.Username, DisplayName: display, Passkeys: pks}, nil
}

// sealPasskey makes the page's state of ceremony c for purpose, bound to browser and session.
func (f *Factors) sealPasskey(purpose, userID, browser, sessionID string, c WebAuthnCeremony) (PasskeyChallenge, error) {
	if browser == "" {
		return PasskeyChallenge{}, ErrSecondFactorExpired
	}
	st := passkeyState{Purpose: purpose, UserID: userID, Session: sessionID, Challenge: c.Challenge, State: c.State,
		Browser: base64.RawURLEncoding.EncodeToString(f.hasher.HashSecret("webauthn-browser:" + browser)),
		Expires: f.clock.Now().Add(PasskeyCeremonyTTL).Unix()}
	plain, err := json.Marshal(st)
	if err != nil {
		return PasskeyChallenge{}, fmt.Errorf("encode the passkey ceremony: %w", err)
	}
	sealed, err := f.sealer.Seal(plain, []byte(passkeyAD))
	if err != nil {
		return PasskeyChallenge{}, fmt.Errorf("seal the passkey ceremony: %w", err)
	}
	return PasskeyChallenge{Options: string(c.Options), State: base64.RawURLEncoding.EncodeToString(sealed)}, nil
}

// openPasskey opens a page's state for purpose in this browser and session, and
// uses its challenge up; a reason for the audit log when it cannot be used.
func (f *Factors) openPasskey(ctx context.Context, state, purpose, browser, sessionID string) (passkeyState, string, error) {
	var st passkeyState
	raw, err := base64.RawURLEncoding.DecodeString(state)
	if err != nil || len(state) > 8192 || browser == "" {
		return st, domain.AuditReasonPasskeyFailed, ErrBadPasskey
	}
	plain, err := f.sealer.Open(raw, []byte(passkeyAD))
	if err != nil || json.Unmarshal(plain, &st) != nil {
		return st, domain.AuditReasonPasskeyFailed, ErrBadPasskey
	}
	bh, err := base64.RawURLEncoding.DecodeString(st.Browser)
	if err != nil || st.Purpose != purpose || st.Session != sessionID || f.clock.Now().Unix() > st.Expires ||
		!f.hasher.SecretMatches(bh, "webauthn-browser:"+browser) {
		return st, domain.AuditReasonPasskeyFailed, ErrBadPasskey
	}
	fresh, err := f.replay.MarkUsed(ctx, passkeyNamespace, st.Challenge, time.Unix(st.Expires, 0).Add(time.Minute))
	if err != nil {
		return st, "", fmt.Errorf("use the passkey challenge: %w", err)
	}
	if !fresh {
		return st, domain.AuditReasonPasskeyReplayed, ErrBadPasskey
	}
	return st, "", nil
}

// BeginPasskeyRegistration is the /account page's ceremony to add a passkey to the
// user of s, in this browser.
func (f *Factors) BeginPasskeyRegistration(ctx context.Context, s domain.Session, browser string) (PasskeyChallenge, error) {
	if !f.PasskeysEnabled() {
		return PasskeyChallenge{}, nil
	}
	u, err := f.passkeyUser(ctx, s.UserID)
	if err != nil {
		return PasskeyChallenge{}, err
	}
	c, err := f.webauthn.BeginRegistration(u)
	if err != nil {
		return PasskeyChallenge{}, fmt.Errorf("begin a passkey registration: %w", err)
	}
	return f.sealPasskey(passkeyRegister, s.UserID, browser, s.ID, c)
}

// AddPasskey finishes a registration begun in this browser for s: after a fresh
// sign-in or the password (SECURITY S52), the browser's answer verified, the passkey
// stored under name, the user mailed and the event audited.
func (f *Factors) AddPasskey(ctx context.Context, s domain.Session, browser, state, response, name, password, address string) (domain.Passkey, error) {
	if !f.PasskeysEnabled() {
		return domain.Passkey{}, &ValidationError{Message: "passkeys are not available on this server"}
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Passkey"
	}
	if utf8.RuneCountInString(name) > maxPasskeyName || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return domain.Passkey{}, &ValidationError{Field: "passkey_name", Message: "the name must be at most 64 characters, on one line"}
	}
	if err := f.reauth(ctx, s, password, address); err != nil {
		return domain.Passkey{}, err
	}
	if response == "" || len(response) > maxPasskeyAnswer {
		return domain.Passkey{}, &ValidationError{Message: "your browser gave no passkey: try again, in a browser with JavaScript on"}
	}
	st, _, err := f.openPasskey(ctx, state, passkeyRegister, browser, s.ID)
	if err != nil || st.UserID != s.UserID {
		if err == nil || errors.Is(err, ErrBadPasskey) {
			return domain.Passkey{}, &ValidationError{Message: "this passkey request expired or was already used: try again"}
		}
		return domain.Passkey{}, err
	}
	u, err := f.passkeyUser(ctx, s.UserID)
	if err != nil {
		return domain.Passkey{}, err
	}
	pk, err := f.webauthn.FinishRegistration(u, st.State, []byte(response))
	if err != nil {
		f.accounts.log.WarnContext(ctx, "passkey registration refused", "user_id", s.UserID, "err", err)
		return domain.Passkey{}, &ValidationError{Message: "your browser's passkey could not be verified: try again"}
	}
	now := f.clock.Now()
	pk.ID, pk.UserID, pk.Name, pk.CreatedAt = f.random.ID(), s.UserID, name, now
	err = f.passkeys.CreatePasskey(ctx, pk)
	switch {
	case errors.Is(err, domain.ErrDuplicate):
		return domain.Passkey{}, &ValidationError{Message: "this passkey is registered already"}
	case err != nil:
		return domain.Passkey{}, fmt.Errorf("store the passkey: %w", err)
	}
	f.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserMFAEnrolled, Actor: s.UserID, Target: s.UserID,
		Details: map[string]any{"factor": "passkey", "passkey": pk.ID, "backup_eligible": pk.BackupEligible}})
	f.tell(s.UserID, "passkey_added", mailText{key: "mail.passkey_added.subject", english: "A passkey was added to your account"},
		mailText{key: "mail.passkey_added.body", english: "A passkey named \"{{.Name}}\" was added to your account {{.User}}. It can now sign you in.", args: []string{"Name", name}})
	return pk, nil
}

// RemovePasskey removes the passkey id of the user of s (fresh sign-in or the
// password); ErrNotFound when the user has no such passkey. Mailed and audited.
func (f *Factors) RemovePasskey(ctx context.Context, s domain.Session, id, password, address string) error {
	if !f.PasskeysEnabled() {
		return domain.ErrNotFound
	}
	if err := f.reauth(ctx, s, password, address); err != nil {
		return err
	}
	pks, err := f.Passkeys(ctx, s.UserID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(pks, func(p domain.Passkey) bool { return p.ID == id })
	if i < 0 {
		return domain.ErrNotFound
	}
	ok, err := f.passkeys.DeletePasskey(ctx, s.UserID, id)
	if err != nil {
		return fmt.Errorf("remove the passkey: %w", err)
	}
	if !ok {
		return domain.ErrNotFound
	}
	f.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserMFARemoved, Actor: s.UserID, Target: s.UserID,
		Details: map[string]any{"factor": "passkey", "passkey": id}})
	f.tell(s.UserID, "passkey_removed", mailText{key: "mail.passkey_removed.subject", english: "A passkey was removed from your account"},
		mailText{key: "mail.passkey_removed.body", english: "The passkey named \"{{.Name}}\" was removed from your account {{.User}}. It can no longer sign you in.", args: []string{"Name", pks[i].Name}})
	return nil
}

// BeginPasskeySignIn is the login page's ceremony: any discoverable credential, with
// user verification required (a passkey alone stands for two factors).
func (f *Factors) BeginPasskeySignIn(browser, sessionID string) (PasskeyChallenge, error) {
	if !f.PasskeysEnabled() {
		return PasskeyChallenge{}, nil
	}
	c, err := f.webauthn.BeginLogin(nil, true)
	if err != nil {
		return PasskeyChallenge{}, fmt.Errorf("begin a passkey sign-in: %w", err)
	}
	return f.sealPasskey(passkeySignIn, "", browser, sessionID, c)
}

// BeginPasskeySecondFactor is the second-factor page's ceremony for userID's
// passkeys; zero when the user has none.
func (f *Factors) BeginPasskeySecondFactor(ctx context.Context, userID, browser, sessionID string) (PasskeyChallenge, error) {
	if !f.PasskeysEnabled() {
		return PasskeyChallenge{}, nil
	}
	u, err := f.passkeyUser(ctx, userID)
	if err != nil || len(u.Passkeys) == 0 {
		return PasskeyChallenge{}, err
	}
	c, err := f.webauthn.BeginLogin(&u, false)
	if err != nil {
		return PasskeyChallenge{}, fmt.Errorf("begin a passkey check: %w", err)
	}
	return f.sealPasskey(passkeySecond, userID, browser, sessionID, c)
}

// VerifyPasskey checks a passkey answer to a ceremony of this browser and session:
// for userID's passkeys (the second factor, a step-up), or, when userID is "", a
// passwordless sign-in, which answers the credential's owner. Failures count like
// wrong passwords (per user and per address) and are audited; a counter that went
// back is refused and reported (SECURITY S51).
func (f *Factors) VerifyPasskey(ctx context.Context, userID, browser, sessionID, state, response, address, mark string) (string, error) {
	if !f.PasskeysEnabled() {
		return "", ErrBadPasskey
	}
	ctx = WithAuditIP(ctx, address)
	addrKey := "addr:" + domain.ThrottleAddress(address)
	attempt := f.factorAttempt(userID, address, mark)
	if userID == "" {
		// A passwordless sign-in: no user yet, only the address.
		if err := f.throttle.Check(ctx, addrKey); err != nil {
			return "", err
		}
	} else if err := attempt.check(ctx, f.throttle); err != nil {
		return "", err
	}
	fail := func(actor, reason string) (string, error) {
		if userID == "" {
			f.throttle.Failure(ctx, addrKey)
		} else {
			attempt.failed(ctx, f.throttle)
		}
		if actor != "" && actor != userID {
			f.throttle.Failure(ctx, "mfa:"+actor)
		}
		if actor == "" {
			actor = userID
		}
		f.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserLoginFailed, Actor: actor, Target: actor, Reason: reason,
			Details: map[string]any{"factor": "passkey"}})
		return "", ErrBadPasskey
	}
	if response == "" || len(response) > maxPasskeyAnswer {
		return "", ErrBadPasskey // nothing was tried: a page without JavaScript
	}
	purpose := passkeySecond
	if userID == "" {
		purpose = passkeySignIn
	}
	st, reason, err := f.openPasskey(ctx, state, purpose, browser, sessionID)
	switch {
	case errors.Is(err, ErrBadPasskey):
		return fail("", reason)
	case err != nil:
		return "", err
	case st.UserID != userID:
		return fail("", domain.AuditReasonPasskeyFailed)
	}
	credID, handle, err := f.webauthn.AssertionCredential([]byte(response))
	if err != nil {
		return fail("", domain.AuditReasonPasskeyFailed)
	}
	pk, err := f.passkeys.PasskeyByCredentialID(ctx, credID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return fail("", domain.AuditReasonPasskeyFailed)
	case err != nil:
		return "", fmt.Errorf("look up the passkey: %w", err)
	}
	// A credential signs in its owner only (SECURITY S51): never the user expected
	// here if it is another's, nor the user its answer's handle names if that differs.
	if (userID != "" && pk.UserID != userID) || (len(handle) > 0 && string(handle) != pk.UserID) {
		f.accounts.log.WarnContext(ctx, "passkey of another user refused", "user_id", userID, "owner", pk.UserID, "remote", address)
		return fail(userID, domain.AuditReasonPasskeyWrongUser)
	}
	u, err := f.passkeyUser(ctx, pk.UserID)
	if err != nil {
		return "", err
	}
	a, err := f.webauthn.FinishLogin(u, st.State, []byte(response))
	if err != nil {
		f.accounts.log.InfoContext(ctx, "passkey assertion refused", "user_id", pk.UserID, "err", err)
		return fail(pk.UserID, domain.AuditReasonPasskeyFailed)
	}
	used := false
	if !a.CounterRegressed {
		if used, err = f.passkeys.UsePasskey(ctx, pk.CredentialID, a.SignCount, a.BackupState, f.clock.Now()); err != nil {
			return "", fmt.Errorf("record the passkey's use: %w", err)
		}
	}
	if !used {
		// WebAuthn L2 §7.2 step 17: the counter did not go up; the authenticator may
		// have been cloned. Refused, and reported.
		f.accounts.log.WarnContext(ctx, "passkey signature counter went back: refused, the authenticator may be cloned",
			"user_id", pk.UserID, "passkey", pk.ID, "stored", pk.SignCount, "received", a.SignCount, "remote", address)
		return fail(pk.UserID, domain.AuditReasonPasskeyCounter)
	}
	if userID != "" {
		attempt.succeeded(ctx, f.throttle)
	}
	return pk.UserID, nil
}
