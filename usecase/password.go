package usecase

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gatehouse/domain"
)

// PasswordGrant is the resource owner password credentials grant (RFC 6749 §4.3). It is
// off unless the client was registered for it (RFC 9700 §2.4), and throttled per
// username and per address (SECURITY S27).
type PasswordGrant struct {
	users     UserStore
	ids       Identifiers
	passwords PasswordHasher
	throttle  Throttle
	minter    *Minter
	clock     Clock
	settings  Settings
	factors   FactorStore
	// passkeys are second factors too (nil: no user has one).
	passkeys PasskeyStore
	// audit records its sign-ins, succeeded or failed; nil records none.
	audit *Audit
}

// NewAuditedPasswordGrant is NewPasswordGrant recording every sign-in in the audit log.
// A user's passkeys are second factors the password alone must not skip.
func NewAuditedPasswordGrant(users UserStore, ids Identifiers, passwords PasswordHasher, throttle Throttle, minter *Minter,
	clock Clock, settings Settings, factors FactorStore, passkeys PasskeyStore, audit *Audit) *PasswordGrant {
	g := NewPasswordGrant(users, ids, passwords, throttle, minter, clock, settings, factors)
	g.passkeys, g.audit = passkeys, audit
	return g
}

// NewPasswordGrant builds the grant.
func NewPasswordGrant(users UserStore, ids Identifiers, passwords PasswordHasher, throttle Throttle, minter *Minter, clock Clock, settings Settings,
	factors FactorStore) *PasswordGrant {
	return &PasswordGrant{users: users, ids: ids, passwords: passwords, throttle: throttle, minter: minter, clock: clock, settings: settings,
		factors: factors}
}

var (
	errBadCredentials = domain.ErrInvalidGrant.WithDescription("invalid username or password")
	// errUserDisabled is told only to whoever gave the right password (SECURITY S58).
	errUserDisabled = domain.ErrInvalidGrant.WithDescription("the account is disabled")
	// errSecondFactorGrant is told only to whoever gave the right password.
	errSecondFactorGrant = domain.ErrInvalidGrant.WithDescription("the account signs in with a second factor: use the authorization code flow")
	// errMFARequiredGrant: GATEHOUSE_MFA=required or the client's --require-mfa asks
	// for a second factor, which this grant cannot take.
	errMFARequiredGrant = domain.ErrInvalidGrant.WithDescription("a second factor is required: use the authorization code flow")
	// errEmailUnverifiedGrant: GATEHOUSE_EMAIL_VERIFICATION=required, as no code is
	// issued for the user until the address is verified; told only to whoever gave the
	// right password.
	errEmailUnverifiedGrant = domain.ErrInvalidGrant.WithDescription("the account's email address is not verified yet: open the link mailed to it")
)

// Execute checks the user's password and issues tokens.
func (uc *PasswordGrant) Execute(ctx context.Context, client domain.Client, req TokenRequest) (domain.IssuedTokens, error) {
	if req.Username == "" || req.Password == "" {
		return domain.IssuedTokens{}, domain.ErrInvalidRequest.WithDescription("username and password are required")
	}
	scope, err := requestedScope(client, req.Scope)
	if err != nil {
		return domain.IssuedTokens{}, err
	}
	aud, err := client.Audience(req.Resource, string(uc.settings.Audience))
	if err != nil {
		return domain.IssuedTokens{}, err
	}
	user, reason, err := checkPassword(ctx, uc.users, uc.ids, uc.passwords, uc.throttle, req.Username, req.Password, req.Credentials.Address)
	event := domain.AuditEvent{Type: domain.AuditUserLoginSucceeded, Actor: user.ID, Target: user.ID,
		IP: req.Credentials.Address, Reason: reason, Details: map[string]any{"client_id": client.ID, "grant": "password"}}
	if reason != "" {
		// Never the username given: it may be a password sent in the wrong field.
		event.Type = domain.AuditUserLoginFailed
		uc.audit.Note(ctx, event)
	}
	if errors.Is(err, domain.ErrUserDisabled) {
		return domain.IssuedTokens{}, errUserDisabled
	}
	if err != nil {
		return domain.IssuedTokens{}, err
	}
	// The password alone never gets tokens for a user with a second factor, nor where
	// one is required (SECURITY S50, S53).
	if refusal, err := uc.secondFactorRefusal(ctx, client, user.ID); err != nil || refusal != nil {
		if refusal != nil {
			event.Type, event.Reason = domain.AuditUserLoginFailed, domain.AuditReasonSecondFactor
			uc.audit.Note(ctx, event)
			return domain.IssuedTokens{}, refusal
		}
		return domain.IssuedTokens{}, err
	}
	if uc.settings.RequireVerifiedEmail && !user.EmailVerified {
		event.Type, event.Reason = domain.AuditUserLoginFailed, domain.AuditReasonEmailUnverified
		uc.audit.Note(ctx, event)
		return domain.IssuedTokens{}, errEmailUnverifiedGrant
	}
	uc.audit.Note(ctx, event)
	return uc.minter.IssueForUser(ctx, Subject{Client: client, User: &user, Scope: scope, Audience: aud, AuthTime: uc.clock.Now(), JKT: req.DPoPJKT})
}

// secondFactorRefusal is why the password alone must not sign userID in for client:
// a second factor is required (GATEHOUSE_MFA=required, the client's --require-mfa),
// or the user has one (an authenticator app or a passkey); nil when it may.
func (uc *PasswordGrant) secondFactorRefusal(ctx context.Context, client domain.Client, userID string) (*domain.Error, error) {
	if uc.settings.RequireMFA || client.RequireMFA {
		return errMFARequiredGrant, nil
	}
	if uc.factors != nil {
		if _, err := uc.factors.TOTPFactor(ctx, userID); err == nil {
			return errSecondFactorGrant, nil
		} else if !errors.Is(err, domain.ErrNotFound) {
			return nil, fmt.Errorf("look up the user's second factor: %w", err)
		}
	}
	if uc.passkeys != nil {
		pks, err := uc.passkeys.PasskeysOf(ctx, userID)
		if err != nil {
			return nil, fmt.Errorf("list the user's passkeys: %w", err)
		}
		if len(pks) > 0 {
			return errSecondFactorGrant, nil
		}
	}
	return nil, nil
}

// CheckPassword verifies a username and password with throttling per username and per
// address; an unknown user and a wrong password take the same time and give the same
// error. The username is looked up in its canonical form (ids: ａlice is alice); one
// that cannot be a username is an unknown user. A disabled user with the right
// password gets domain.ErrUserDisabled. The login page shares it.
func CheckPassword(ctx context.Context, users UserStore, ids Identifiers, passwords PasswordHasher, throttle Throttle,
	username, password, address string) (domain.User, error) {
	user, _, err := checkPassword(ctx, users, ids, passwords, throttle, username, password, address)
	return user, err
}

// checkPassword is CheckPassword that also says, for the audit log only, why it
// failed (a domain.AuditReasonXxx) and whose password it was (the user, when found;
// a failure's user carries only the id).
func checkPassword(ctx context.Context, users UserStore, ids Identifiers, passwords PasswordHasher, throttle Throttle,
	username, password, address string) (domain.User, string, error) {
	return checkPasswordFrom(ctx, users, ids, passwords, throttle, username, password, address, "")
}

// checkPasswordFrom is checkPassword from a browser known to have signed in as the
// user (known, its throttle key; "" for any other caller): the user's own key is
// not checked for it, its own is; its failures count on both.
func checkPasswordFrom(ctx context.Context, users UserStore, ids Identifiers, passwords PasswordHasher, throttle Throttle,
	username, password, address, known string) (domain.User, string, error) {
	canonical, cerr := ids.CanonicalUsername(username)
	if cerr != nil {
		canonical = "" // no user has it: the lookup finds none, and the dummy hash runs
	}
	userKey := "user:" + canonical
	if cerr != nil {
		userKey = "user:?" + strings.ToLower(strings.TrimSpace(username))
	}
	addrKey := "addr:" + domain.ThrottleAddress(address)
	checked := []string{userKey, addrKey}
	if known != "" {
		checked = []string{known, addrKey}
	}
	for _, k := range checked {
		if err := throttle.Check(ctx, k); err != nil {
			return domain.User{}, domain.AuditReasonThrottled, err
		}
	}
	var user domain.User
	err := domain.ErrNotFound
	if canonical != "" {
		user, err = users.UserByUsername(ctx, canonical)
	}
	if legacy := strings.ToLower(strings.TrimSpace(username)); errors.Is(err, domain.ErrNotFound) && legacy != "" && legacy != canonical {
		// A name stored before usernames were canonicalized was only lower-cased: one
		// typed in another Unicode form (decomposed, say) is still found as it was.
		user, err = users.UserByUsername(ctx, legacy)
	}
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return domain.User{}, "", fmt.Errorf("look up user: %w", err)
	}
	if found := "user:" + user.Username; err == nil && found != userKey {
		// Found under another spelling than its own (the lower-casing above maps İ to
		// i, the Kelvin sign to k): the user's lock is the one of the name stored, or
		// each spelling would be an allowance of its own.
		if known == "" {
			if terr := throttle.Check(ctx, found); terr != nil {
				return domain.User{}, domain.AuditReasonThrottled, terr
			}
		}
		userKey = found
	}
	ok, verr := passwords.VerifyPassword(ctx, user.PasswordHash, password)
	if verr != nil {
		return domain.User{}, "", fmt.Errorf("verify password: %w", verr)
	}
	if err != nil || !ok {
		throttle.Failure(ctx, userKey)
		throttle.Failure(ctx, addrKey)
		if known != "" {
			throttle.Failure(ctx, known)
		}
		if err != nil {
			return domain.User{}, domain.AuditReasonUnknownUser, errBadCredentials
		}
		return domain.User{ID: user.ID}, domain.AuditReasonWrongPassword, errBadCredentials
	}
	if known != "" {
		// The user's own counter is the stranger's doing: it stays as it is.
		throttle.Success(ctx, known)
	} else {
		throttle.Success(ctx, userKey)
	}
	if user.Disabled {
		return domain.User{ID: user.ID}, domain.AuditReasonDisabled, domain.ErrUserDisabled
	}
	if passwords.NeedsRehash(user.PasswordHash) {
		user.PasswordHash = rehash(ctx, users, passwords, user, password)
	}
	return user, "", nil
}

// rehash hashes a password that was just verified again with the current settings
// (another algorithm, such as an imported bcrypt hash, or costs changed since) and
// stores it, so that every sign-in costs what the settings say: a user whose old hash
// is cheaper than the dummy hash of an unknown user would otherwise be told apart by
// the time a wrong password takes. Only the hash changes: no token or session is
// revoked, the password is the same. A failure leaves the old hash, which still works,
// and the sign-in goes on; the next one tries again. It returns the hash now stored.
func rehash(ctx context.Context, users UserStore, passwords PasswordHasher, user domain.User, password string) string {
	fresh, err := passwords.HashPassword(ctx, password)
	if err != nil {
		return user.PasswordHash
	}
	if err := users.ReplacePasswordHash(ctx, user.ID, user.PasswordHash, fresh); err != nil {
		return user.PasswordHash
	}
	return fresh
}
