package usecase

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gatehouse/domain"
)

// SessionTTL is how long a browser stays logged in at most. The cookie itself lasts
// only as long as the browser runs.
const SessionTTL = 12 * time.Hour

// Login holds the browser sessions behind the login, registration and logout pages.
type Login struct {
	users     UserStore
	ids       Identifiers
	passwords PasswordHasher
	throttle  Throttle
	sessions  SessionStore
	tokens    TokenStore
	admin     *Admin
	random    Random
	hasher    SecretHasher
	clock     Clock
	factors   *Factors
}

// NewLogin builds the session use cases.
func NewLogin(users UserStore, ids Identifiers, passwords PasswordHasher, throttle Throttle, sessions SessionStore, tokens TokenStore,
	admin *Admin, random Random, hasher SecretHasher, clock Clock, factors *Factors) *Login {
	return &Login{users: users, ids: ids, passwords: passwords, throttle: throttle, sessions: sessions, tokens: tokens,
		admin: admin, random: random, hasher: hasher, clock: clock, factors: factors}
}

// Session returns the live session whose cookie secret is secret, or nil when there is
// none (no cookie, unknown, expired).
func (uc *Login) Session(ctx context.Context, secret string) (*domain.Session, error) {
	if secret == "" || len(secret) > 256 {
		return nil, nil
	}
	s, err := uc.sessions.SessionByHash(ctx, uc.hasher.HashSecret(secret))
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("look up session: %w", err)
	}
	if !uc.clock.Now().Before(s.ExpiresAt) {
		// Best effort: an expired row is harmless, it can never be used again.
		_ = uc.sessions.DeleteSession(ctx, s.ID)
		return nil, nil
	}
	return &s, nil
}

// LogIn checks a username and password (throttled per username and address, the same
// error for an unknown user and a wrong password: CheckPassword; domain.ErrUserDisabled
// for a disabled user, after the right password) and starts a new session, replacing
// old. It returns the session and the cookie secret. A user with a second factor gets
// no session but *SecondFactorRequired (CompleteSecondFactor starts it).
func (uc *Login) LogIn(ctx context.Context, username, password, address string, old *domain.Session) (domain.Session, string, error) {
	return uc.LogInFrom(ctx, username, password, address, "", old)
}

// LogInFrom is LogIn from a browser that may hold mark, a KnownBrowserMark of the
// username: with a valid one, the user's own throttle, which anyone's wrong guesses
// lock, does not stop this browser, whose own counter does; without, it does. So a
// stranger guessing at a victim's name every few minutes cannot keep the victim out
// of the browsers they signed in with before (SECURITY S28).
func (uc *Login) LogInFrom(ctx context.Context, username, password, address, mark string, old *domain.Session) (domain.Session, string, error) {
	ctx = WithAuditIP(ctx, address)
	user, reason, err := checkPasswordFrom(ctx, uc.users, uc.ids, uc.passwords, uc.throttle, username, password, address,
		uc.knownBrowserKey(mark, username))
	if err != nil {
		if reason != "" {
			// Never the username typed: it may be a password typed in the wrong field.
			uc.admin.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserLoginFailed, Actor: user.ID,
				Target: user.ID, Reason: reason})
		}
		return domain.Session{}, "", err
	}
	if err := uc.secondFactorNeeded(ctx, user.ID, AMRPassword); err != nil {
		return domain.Session{}, "", err
	}
	return uc.startChecked(ctx, user.ID, AMRPassword, old)
}

// startChecked starts a session for a user who just authenticated, and makes sure
// the user was not disabled meanwhile.
func (uc *Login) startChecked(ctx context.Context, userID string, amr []string, old *domain.Session) (domain.Session, string, error) {
	return uc.startCheckedWith(ctx, userID, amr, old, nil)
}

// startCheckedWith is startChecked whose sign-in event carries details (the upstream).
func (uc *Login) startCheckedWith(ctx context.Context, userID string, amr []string, old *domain.Session,
	details map[string]any) (domain.Session, string, error) {
	return uc.renewChecked(ctx, userID, amr, old, true, details)
}

// renewChecked is startChecked for a session that a sign-in (signIn: audited as
// user.login.succeeded with details) or something else (the enrolment of a second
// factor, audited as such) renews.
func (uc *Login) renewChecked(ctx context.Context, userID string, amr []string, old *domain.Session,
	signIn bool, details map[string]any) (domain.Session, string, error) {
	s, secret, err := uc.startWith(ctx, userID, amr, old)
	if err != nil {
		return domain.Session{}, "", err
	}
	// Disabling a user sets the flag and then deletes the user's sessions; a sign-in
	// that read the user before the flag may store its session after that deletion.
	// Reading the user again after storing the session closes the gap: either this
	// read sees the flag, or the deletion came later and removed the session.
	u, err := uc.users.UserByID(ctx, userID)
	if err == nil && !u.Disabled {
		if signIn {
			uc.admin.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserLoginSucceeded, Actor: userID, Target: userID,
				Details: details})
		}
		return s, secret, nil
	}
	if err == nil || errors.Is(err, domain.ErrNotFound) {
		uc.admin.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserLoginFailed, Actor: userID, Target: userID,
			Reason: domain.AuditReasonDisabled})
	}
	if derr := uc.sessions.DeleteSession(ctx, s.ID); derr != nil {
		return domain.Session{}, "", fmt.Errorf("end the session of a user disabled meanwhile: %w", derr)
	}
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return domain.Session{}, "", fmt.Errorf("look up the user again: %w", err)
	}
	if err != nil {
		return domain.Session{}, "", errBadCredentials // deleted meanwhile
	}
	return domain.Session{}, "", domain.ErrUserDisabled
}

// Register creates a user from the registration page (Admin.SignUp validates, answers
// *ValidationError, and makes an account with a taken email without that email) and
// logs them in. Every attempt from an address counts against it, successful or not:
// sign-ups are rare, and an address that makes more than a few in a row must wait
// (*domain.ThrottledError), as after failed logins.
func (uc *Login) Register(ctx context.Context, in NewUser, address string, old *domain.Session) (domain.Session, string, error) {
	key := "register:" + domain.ThrottleAddress(address)
	if err := uc.throttle.Check(ctx, key); err != nil {
		return domain.Session{}, "", err
	}
	uc.throttle.Failure(ctx, key)
	user, err := uc.admin.SignUp(WithAuditIP(ctx, address), in)
	if err != nil {
		return domain.Session{}, "", err
	}
	return uc.start(ctx, user.ID, old)
}

// CheckSignUp is what Register would refuse in for its values alone (Admin.
// CheckNewUser of what sign-up takes): for the registration page, which marks the
// problems of the fields filled in beside the ones left empty. It reads nothing
// stored and counts against no address.
func (uc *Login) CheckSignUp(in NewUser) error {
	return uc.admin.CheckNewUser(NewUser{Username: in.Username, Email: in.Email, Password: in.Password})
}

// start makes a session with a fresh cookie secret, so a secret planted before login
// is worthless after it (session fixation; SECURITY S44). When the same user logs in
// again, the session keeps its id: the tokens issued under it stay tied to it, and
// logout still revokes them.
func (uc *Login) start(ctx context.Context, userID string, old *domain.Session) (domain.Session, string, error) {
	return uc.startWith(ctx, userID, AMRPassword, old)
}

// startWith is start for a sign-in by the methods amr (RFC 8176).
func (uc *Login) startWith(ctx context.Context, userID string, amr []string, old *domain.Session) (domain.Session, string, error) {
	id := uc.random.ID()
	if old != nil {
		if old.UserID == userID {
			id = old.ID
		}
		if err := uc.sessions.DeleteSession(ctx, old.ID); err != nil {
			return domain.Session{}, "", fmt.Errorf("end the previous session: %w", err)
		}
	}
	now := uc.clock.Now()
	secret := uc.random.Token()
	s := domain.Session{ID: id, SecretHash: uc.hasher.HashSecret(secret), UserID: userID,
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(SessionTTL), AMR: amr}
	err := uc.sessions.CreateSession(ctx, s)
	if errors.Is(err, domain.ErrDuplicate) && id != "" {
		// Two logins of one browser at once both kept the old id: the second gets a new one.
		s.ID = uc.random.ID()
		err = uc.sessions.CreateSession(ctx, s)
	}
	if err != nil {
		return domain.Session{}, "", fmt.Errorf("create session: %w", err)
	}
	return s, secret, nil
}

// LogOut ends the session on the server and revokes what was issued under it: refresh
// tokens (SECURITY S33, S44) and the codes and device approvals not redeemed yet
// (issue 18 finding 8). Revocation comes first, so that if it fails the session
// remains and the user can try again; then the session goes, and from then on no code
// of it redeems (CodeStore.RedeemCode); then the revocation runs once more, for a code
// issued while the first one ran and redeemed before the session went.
func (uc *Login) LogOut(ctx context.Context, s domain.Session) error {
	if err := uc.endSession(ctx, s); err != nil {
		return err
	}
	uc.admin.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditUserLogout, Actor: s.UserID, Target: s.UserID,
		Details: map[string]any{"session": s.ID}})
	return nil
}

// endSession is LogOut without its audit event.
func (uc *Login) endSession(ctx context.Context, s domain.Session) error {
	now := uc.clock.Now()
	if err := uc.admin.logouts.SessionEnded(ctx, s.ID); err != nil {
		return fmt.Errorf("back-channel logout: %w", err)
	}
	if err := uc.tokens.RevokeSessionFamilies(ctx, s.ID, now); err != nil {
		return fmt.Errorf("revoke the session's tokens: %w", err)
	}
	if err := uc.sessions.DeleteSession(ctx, s.ID); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	if err := uc.tokens.RevokeSessionFamilies(ctx, s.ID, now); err != nil {
		return fmt.Errorf("revoke the session's tokens: %w", err)
	}
	return nil
}

// UserOf returns the user of a session, for the home page.
func (uc *Login) UserOf(ctx context.Context, s domain.Session) (domain.User, error) {
	u, err := uc.users.UserByID(ctx, s.UserID)
	if err != nil {
		return domain.User{}, fmt.Errorf("look up the session's user: %w", err)
	}
	return u, nil
}

// ChangePassword is the signed-in user's password change on /account: the current
// password is checked as at sign-in (throttled, SECURITY S19), the new one by the
// password rules. Setting it ends every session of the user and revokes every token
// (Admin.SetPassword), this one included; the browser gets a new session at once, so
// only the other devices are signed out.
func (uc *Login) ChangePassword(ctx context.Context, s domain.Session, current, next, address string) (domain.Session, string, error) {
	u, err := uc.users.UserByID(ctx, s.UserID)
	if err != nil {
		return domain.Session{}, "", fmt.Errorf("look up the session's user: %w", err)
	}
	ctx = WithAuditIP(WithAuditActor(ctx, u.ID), address)
	if u.PasswordHash == "" {
		// An account made through an upstream identity provider has no password yet:
		// a recent sign-in stands for the current one (as for factors, SECURITY S52).
		if uc.clock.Now().Sub(s.AuthTime) > FreshSignIn {
			return domain.Session{}, "", &ValidationError{Field: "new_password",
				Message: "you signed in more than 5 minutes ago: sign out and in again to set a password"}
		}
	} else if _, err := CheckPassword(ctx, uc.users, uc.ids, uc.passwords, uc.throttle, u.Username, current, address); err != nil {
		if errors.Is(err, errBadCredentials) {
			return domain.Session{}, "", &ValidationError{Field: "current_password", Message: "that is not your current password"}
		}
		return domain.Session{}, "", err
	}
	if err := uc.admin.SetPassword(ctx, u.ID, next); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) && ve.Field == "password" {
			return domain.Session{}, "", &ValidationError{Field: "new_password", Message: ve.Message}
		}
		return domain.Session{}, "", err
	}
	if uc.factors != nil && uc.factors.accounts != nil {
		uc.factors.accounts.PasswordChanged(u.ID)
	}
	return uc.startWith(ctx, u.ID, sessionAMR(s), nil) // this browser keeps how it signed in
}

// sessionSeenEvery bounds how often a session's last-seen time is written: at most
// once a minute, or at once when its browser or address changed.
const sessionSeenEvery = time.Minute

// Seen records that the browser of s came back, from userAgent at address, for the
// account page's list of sessions.
func (uc *Login) Seen(ctx context.Context, s *domain.Session, userAgent, address string) error {
	if s == nil {
		return nil
	}
	if len(userAgent) > 300 {
		userAgent = userAgent[:300]
	}
	now := uc.clock.Now()
	if s.UserAgent == userAgent && s.Address == address && now.Sub(s.LastSeenAt) < sessionSeenEvery {
		return nil
	}
	if err := uc.sessions.TouchSession(ctx, s.ID, userAgent, address, now); err != nil {
		return err
	}
	s.UserAgent, s.Address, s.LastSeenAt = userAgent, address, now
	return nil
}

// Sessions lists the live sessions of the user of s, most recently seen first.
func (uc *Login) Sessions(ctx context.Context, s domain.Session) ([]domain.Session, error) {
	all, err := uc.sessions.UserSessions(ctx, s.UserID)
	if err != nil {
		return nil, err
	}
	now := uc.clock.Now()
	live := all[:0]
	for _, x := range all {
		if now.Before(x.ExpiresAt) {
			live = append(live, x)
		}
	}
	return live, nil
}

// EndSessions ends sessions of the user of s from the account page: the one with id,
// or, with id empty, every one but s. Each ends as a logout does (its tokens revoked,
// its clients told by back-channel logout); a session of another user is not found.
func (uc *Login) EndSessions(ctx context.Context, s domain.Session, id string) error {
	all, err := uc.sessions.UserSessions(ctx, s.UserID)
	if err != nil {
		return err
	}
	found := false
	for _, x := range all {
		if id == "" && x.ID != s.ID || id != "" && x.ID == id {
			found = true
			if err := uc.endSession(ctx, x); err != nil {
				return err
			}
			uc.admin.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditSessionRevoked, Actor: s.UserID, Target: x.ID})
		}
	}
	if id != "" && !found {
		return domain.ErrNotFound
	}
	return nil
}

// KnownBrowserMark is a new mark for a browser that gave username's right password:
// a random id, then a keyed hash binding it to the username. LogInFrom takes it back.
func (uc *Login) KnownBrowserMark(username string) string {
	canonical, err := uc.ids.CanonicalUsername(username)
	if err != nil {
		return ""
	}
	return newMark(uc.random, uc.hasher, uc.clock.Now(), knownBrowserPrefix, canonical)
}

const knownBrowserPrefix = "known-browser:"

// knownBrowserKey is the throttle key of the browser holding mark, when mark is a
// KnownBrowserMark of username; "" otherwise.
func (uc *Login) knownBrowserKey(mark, username string) string {
	canonical, err := uc.ids.CanonicalUsername(username)
	if err != nil {
		return ""
	}
	if id := markID(uc.hasher, uc.clock.Now(), mark, knownBrowserPrefix, canonical); id != "" {
		return "browser:" + id
	}
	return ""
}

// KnownMarkLifetime is how long a browser mark (KnownBrowserMark, KnownFactorMark)
// is honoured after it was given; each sign-in gives a new one.
const KnownMarkLifetime = 180 * 24 * time.Hour

// newMark is a mark for a browser: a random id and the time it was given, then a
// keyed hash binding both to subject for the purpose prefix (KnownBrowserMark,
// Factors.KnownFactorMark).
func newMark(random Random, hasher SecretHasher, now time.Time, prefix, subject string) string {
	id, given := random.Token(), strconv.FormatInt(now.Unix(), 10)
	return id + "." + given + "." + base64.RawURLEncoding.EncodeToString(hasher.HashSecret(prefix+id+"\n"+given+"\n"+subject))
}

// markID is the id of mark when newMark made it for subject and prefix, at most
// KnownMarkLifetime before now; "" otherwise (a copied mark does not serve for ever).
func markID(hasher SecretHasher, now time.Time, mark, prefix, subject string) string {
	parts := strings.Split(mark, ".")
	if len(parts) != 3 || parts[0] == "" || subject == "" || len(mark) > 256 {
		return ""
	}
	id, given, proof := parts[0], parts[1], parts[2]
	at, err := strconv.ParseInt(given, 10, 64)
	if err != nil || now.Sub(time.Unix(at, 0)) > KnownMarkLifetime || time.Unix(at, 0).After(now.Add(time.Minute)) {
		return ""
	}
	want := base64.RawURLEncoding.EncodeToString(hasher.HashSecret(prefix + id + "\n" + given + "\n" + subject))
	if subtle.ConstantTimeCompare([]byte(proof), []byte(want)) != 1 {
		return ""
	}
	return id
}
