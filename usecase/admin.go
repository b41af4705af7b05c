package usecase

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"gatehouse/domain"
)

// Admin holds the user and client administration behind the CLI and registration page.
// It is where the rules of taking access away live: disabling or deleting a user or
// client kills every token, code and session of it at once (SECURITY S58), and a
// password change ends the user's sessions and grants.
type Admin struct {
	users     UserStore
	ids       Identifiers
	clients   ClientAdminStore
	tokens    TokenStore
	sessions  SessionStore
	passwords PasswordHasher
	hasher    SecretHasher
	random    Random
	clock     Clock
	// keys checks the JWK Sets of private_key_jwt clients; nil refuses them.
	keys ClientAssertionVerifier
	// logouts tells clients with a back-channel logout URI that sessions ended; nil
	// tells nobody.
	logouts *BackchannelLogout
	// audit records every change with its event, in one transaction (SECURITY S56);
	// nil records nothing.
	audit *Audit
}

// NewAdminWithClientKeys is NewAdmin that can also register private_key_jwt
// clients, whose JWK Sets keys checks, and records every change in the audit log.
func NewAdminWithClientKeys(users UserStore, ids Identifiers, clients ClientAdminStore, tokens TokenStore, sessions SessionStore,
	passwords PasswordHasher, hasher SecretHasher, random Random, clock Clock, keys ClientAssertionVerifier,
	logouts *BackchannelLogout, audit *Audit) *Admin {
	a := NewAdmin(users, ids, clients, tokens, sessions, passwords, hasher, random, clock)
	a.keys, a.logouts, a.audit = keys, logouts, audit
	return a
}

// NewAdmin builds the administration use cases.
func NewAdmin(users UserStore, ids Identifiers, clients ClientAdminStore, tokens TokenStore, sessions SessionStore,
	passwords PasswordHasher, hasher SecretHasher, random Random, clock Clock) *Admin {
	return &Admin{users: users, ids: ids, clients: clients, tokens: tokens, sessions: sessions, passwords: passwords,
		hasher: hasher, random: random, clock: clock}
}

// ValidationError is bad input from an administrator or a registering user; its
// message is safe to show. Field names the form field when there is one.
type ValidationError struct {
	Field   string
	Message string
	// Conflict: the input is fine but collides with what is stored (a taken name).
	Conflict bool
	// More are the input's other bad fields, found in the same check, so that a form
	// or an API answer can name every one at once; Field and Message are the first.
	More []ValidationError
}

// Error is every problem's message, the first first, joined by "; ".
func (e *ValidationError) Error() string {
	msgs := []string{e.Message}
	for _, m := range e.More {
		msgs = append(msgs, m.Message)
	}
	return strings.Join(msgs, "; ")
}

// All is e and then each of e.More, every one without More of its own.
func (e *ValidationError) All() []ValidationError {
	first := *e
	first.More = nil
	return append([]ValidationError{first}, e.More...)
}

func invalid(field string, err error) error {
	return &ValidationError{Field: field, Message: err.Error()}
}

// problems gathers the bad fields of one input, to be refused together.
type problems []ValidationError

// add records err, when there is one, as field's problem.
func (p *problems) add(field string, err error) {
	if err != nil {
		*p = append(*p, ValidationError{Field: field, Message: err.Error()})
	}
}

// addProfile records a profile's problems (domain.ProfileProblems).
func (p *problems) addProfile(bad []domain.ProfileProblem) {
	for _, b := range bad {
		p.add(b.Field, b.Err)
	}
}

// err is nil without problems, else a ValidationError holding them all.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	first := p[0]
	first.More = p[1:]
	return &first
}

// NewUser is what creating a user takes. SignUp (anyone may ask) takes only the
// username, email and password; the rest is for operators (CreateUser).
type NewUser struct {
	Username string
	Email    string
	Password string
	// EmailVerified: the operator vouches for the address (it must be set).
	EmailVerified bool
	Profile       domain.Profile
	// PhoneNumberVerified: the operator vouches for the phone number (it must be set).
	PhoneNumberVerified bool
	Groups              []string
}

// CreateUser validates and stores a user with an argon2id password hash. A taken
// username or email is a *ValidationError naming that field: the operator is trusted.
func (a *Admin) CreateUser(ctx context.Context, in NewUser) (domain.User, error) {
	return a.createUser(ctx, in, false)
}

// SignUp is CreateUser for the registration page, where anyone may ask: a taken
// username is reported (usernames are public handles), a taken email is not. The
// account is made without that email instead, holding it as its ClaimedEmail, in the
// same steps and the same time as with a free one (one read, one argon2id hash, one
// insert), so that neither the answer, its timing nor any later page or token tells
// whether an address is registered (SECURITY S48): the new account is shown the
// address as unverified, as it would be a free one. The owner of the address is the
// one to hear of it, by mail.
func (a *Admin) SignUp(ctx context.Context, in NewUser) (domain.User, error) {
	return a.createUser(ctx, NewUser{Username: in.Username, Email: in.Email, Password: in.Password}, true)
}

var (
	errUsernameTaken = &ValidationError{Field: "username", Message: "that username is already taken", Conflict: true}
	// errUsernameSimilar: no user has the name, but one has a name drawn like it
	// (SECURITY S49: "alıce" beside "alice"; see UserStore.Taken).
	errUsernameSimilar = &ValidationError{Field: "username", Message: "that username is too like one already taken", Conflict: true}
	errEmailTaken      = &ValidationError{Field: "email", Message: "that email address belongs to another user", Conflict: true}
)

// CheckNewClient is what CreateClient would refuse for in's values alone (a
// *domain.FieldError naming every bad field, or a *ValidationError of its keys),
// without looking at what is stored: for a form that marks the fields it can before
// it has every value.
func (a *Admin) CheckNewClient(in NewClient) error {
	return a.checkClient(clientOf(in, a.clock.Now()))
}

// clientOf is the client in makes, with the defaults of what in leaves out, before
// its id and secret.
func clientOf(in NewClient, now time.Time) domain.Client {
	c := domain.Client{
		Name: in.Name, Public: in.Public,
		RedirectURIs: in.RedirectURIs, GrantTypes: in.GrantTypes, Scopes: in.Scopes, Audiences: in.Audiences,
		SkipConsent: in.SkipConsent, IDTokenAlg: in.IDTokenAlg, PostLogoutRedirectURIs: in.PostLogoutRedirectURIs,
		RequirePAR: in.RequirePAR, RegistrationTokenHash: in.RegistrationTokenHash,
		RequireDPoP: in.RequireDPoP, PKCEOptional: in.PKCEOptional, BackchannelLogoutURI: in.BackchannelLogoutURI,
		RequireMFA: in.RequireMFA, CreatedAt: now, UpdatedAt: now,
		TokenEndpointAuthMethod: in.AuthMethod, JWKS: in.JWKS, JWKSURI: in.JWKSURI,
		UnusedExpiresAt: in.UnusedExpiresAt,
	}
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = append([]string(nil), domain.DefaultGrantTypes...)
	}
	if len(c.Scopes) == 0 {
		c.Scopes = append([]string(nil), domain.DefaultClientScopes...)
	}
	if c.IDTokenAlg == "" {
		c.IDTokenAlg = domain.AlgRS256
	}
	return c
}

// checkClient applies the client rules to c, and checks its JWK Set.
func (a *Admin) checkClient(c domain.Client) error {
	if err := domain.ValidateClient(c); err != nil {
		return err // a *domain.FieldError
	}
	if c.JWKS != "" {
		if a.keys == nil {
			return &ValidationError{Field: "jwks", Message: "this build cannot check JWK Sets"}
		}
		if err := a.keys.ValidateJWKS(c.JWKS); err != nil {
			return invalid("jwks", err)
		}
	}
	return nil
}

// CheckNewUser is what creating in would refuse for its values alone (a
// *ValidationError naming every bad field), without looking at what is stored: for a
// form that marks the fields it can before it has every value.
func (a *Admin) CheckNewUser(in NewUser) error {
	_, bad := a.checkNewUser(&in)
	return bad.err()
}

// checkNewUser puts in's username, email and profile in their stored forms and
// returns its groups as stored, with every problem of its fields: each field is
// checked before any is refused, so that a form names them all.
func (a *Admin) checkNewUser(in *NewUser) (groups []string, bad problems) {
	username, err := a.ids.CanonicalUsername(in.Username)
	if err == nil {
		err = domain.ValidateUsername(username)
		in.Username = username
	}
	bad.add("username", err)
	in.Email = a.ids.CanonicalEmail(in.Email)
	bad.add("email", domain.ValidateNewEmail(in.Email))
	bad.add("password", domain.ValidatePassword(in.Password, in.Username))
	in.Profile = trimProfile(in.Profile)
	bad.addProfile(domain.ProfileProblems(in.Profile))
	groups, err = domain.NormalizeGroups(in.Groups)
	bad.add("groups", err)
	return groups, bad
}

func (a *Admin) createUser(ctx context.Context, in NewUser, withholdTakenEmail bool) (domain.User, error) {
	groups, bad := a.checkNewUser(&in)
	if err := bad.err(); err != nil {
		return domain.User{}, err
	}
	if in.EmailVerified && in.Email == "" {
		return domain.User{}, errVerifiedNoEmail
	}
	if in.PhoneNumberVerified && in.Profile.PhoneNumber == "" {
		return domain.User{}, errVerifiedNoPhone
	}
	usernameTaken, emailTaken, err := a.users.Taken(ctx, in.Username, in.Email)
	if err != nil {
		return domain.User{}, fmt.Errorf("look up username and email: %w", err)
	}
	submitted, claimed := in.Email, ""
	// The hash comes before any answer that depends on what is taken.
	hash, err := a.passwords.HashPassword(ctx, in.Password)
	if err != nil {
		return domain.User{}, fmt.Errorf("hash password: %w", err)
	}
	if usernameTaken {
		return domain.User{}, a.usernameRefusal(ctx, in.Username)
	}
	if emailTaken {
		if !withholdTakenEmail {
			return domain.User{}, errEmailTaken
		}
		in.Email, in.EmailVerified = "", false
		claimed = submitted
	}
	now := a.clock.Now()
	u := domain.User{ID: a.random.UserID(), Username: in.Username, Email: in.Email, EmailVerified: in.EmailVerified, ClaimedEmail: claimed,
		PasswordHash: hash, CreatedAt: now, UpdatedAt: now, Profile: in.Profile,
		PhoneNumberVerified: in.PhoneNumberVerified, Groups: groups}
	event := domain.AuditEvent{Type: domain.AuditUserCreated, Target: u.ID}
	if withholdTakenEmail {
		event.Type, event.Actor = domain.AuditUserRegistered, u.ID
	}
	err = a.audit.Change(ctx, event, func(ctx context.Context) error {
		var err error
		u, err = a.insertUser(ctx, u, withholdTakenEmail)
		return err
	})
	if err != nil {
		return domain.User{}, err
	}
	return u, nil
}

// usernameRefusal says why a taken username is refused: a user has it, or only a name
// drawn like it (then saying "taken" would leave the operator looking for a user who
// is not there).
func (a *Admin) usernameRefusal(ctx context.Context, username string) error {
	if _, err := a.users.UserByUsername(ctx, username); errors.Is(err, domain.ErrNotFound) {
		return errUsernameSimilar
	}
	return errUsernameTaken
}

// insertUser stores u; when its username or email was taken since the check, it
// answers as createUser does (or stores u with the email only claimed, for SignUp).
func (a *Admin) insertUser(ctx context.Context, u domain.User, withholdTakenEmail bool) (domain.User, error) {
	err := a.users.CreateUser(ctx, u)
	if errors.Is(err, domain.ErrDuplicate) {
		var usernameTaken, emailTaken bool
		// Taken between the read and the insert: by a concurrent registration.
		if usernameTaken, emailTaken, err = a.users.Taken(ctx, u.Username, u.Email); err != nil {
			return domain.User{}, fmt.Errorf("look up username and email: %w", err)
		}
		switch {
		case usernameTaken:
			return domain.User{}, a.usernameRefusal(ctx, u.Username)
		case emailTaken && !withholdTakenEmail:
			return domain.User{}, errEmailTaken
		case emailTaken:
			u.Email, u.EmailVerified, u.ClaimedEmail = "", false, u.Email
			err = a.users.CreateUser(ctx, u)
			if errors.Is(err, domain.ErrDuplicate) {
				return domain.User{}, errUsernameTaken
			}
		default:
			err = fmt.Errorf("a user id was drawn twice: %w", domain.ErrDuplicate)
		}
	}
	if err != nil {
		return domain.User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// ListUsers lists every user.
func (a *Admin) ListUsers(ctx context.Context) ([]domain.User, error) { return a.users.ListUsers(ctx) }

// FindUser returns the user whose id or username is ref (the CLI's U). An id wins: it
// is the one name of a user no one else can choose, and the one the API hands out (its
// Location headers, sub claims, audit events). Usernames cannot take an id's form
// (domain.ValidateUsername); a user who took one before still answers to it whenever
// no user has it as an id. ErrNotFound when neither matches.
func (a *Admin) FindUser(ctx context.Context, ref string) (domain.User, error) {
	byID, err := a.users.UserByID(ctx, ref)
	switch {
	case err == nil:
		return byID, nil
	case !errors.Is(err, domain.ErrNotFound):
		return domain.User{}, err
	}
	byName, err := a.userByName(ctx, ref)
	switch {
	case err == nil:
		return byName, nil
	case !errors.Is(err, domain.ErrNotFound):
		return domain.User{}, err
	}
	return domain.User{}, fmt.Errorf("find user %q: %w", ref, domain.ErrNotFound)
}

// userByName looks a username up as sign-in does: in its canonical (PRECIS) form, and
// as it was stored before usernames were canonical (lower case). ErrNotFound when
// ref cannot be a username or no user has it.
func (a *Admin) userByName(ctx context.Context, ref string) (domain.User, error) {
	canonical, err := a.ids.CanonicalUsername(ref)
	if err == nil {
		u, err := a.users.UserByUsername(ctx, canonical)
		if !errors.Is(err, domain.ErrNotFound) {
			return u, err
		}
	}
	if legacy := strings.ToLower(strings.TrimSpace(ref)); legacy != "" && legacy != canonical {
		return a.users.UserByUsername(ctx, legacy)
	}
	return domain.User{}, domain.ErrNotFound
}

// UserUpdate is what `users update` changes; nil fields stay as they are.
type UserUpdate struct {
	Email         *string
	EmailVerified *bool
	Disabled      *bool
	Profile       ProfileUpdate
	// PhoneNumberVerified: the operator vouches for the phone number (it must be set).
	PhoneNumberVerified *bool
	// AddGroups and RemoveGroups change the user's groups; a group in both is removed.
	AddGroups    []string
	RemoveGroups []string
	// Precondition, when set, is asked about the user as read for the update (the
	// admin API's If-Match); its error refuses the update. The write happens only if
	// the user is still as read, so nothing changed between the check and the write.
	Precondition func(domain.User) error
}

// ProfileUpdate changes a user's profile (domain.Profile); nil fields stay as they
// are, "" removes one. Values are trimmed of surrounding spaces.
type ProfileUpdate struct {
	Name, GivenName, FamilyName, Picture, Locale, Zoneinfo, PhoneNumber *string
}

var (
	errVerifiedNoEmail = &ValidationError{Field: "email-verified", Message: "a user without an email cannot have it verified"}
	errVerifiedNoPhone = &ValidationError{Field: "phone-number-verified",
		Message: "a user without a phone number cannot have it verified"}
)

// trimProfile is p with surrounding spaces trimmed off every field.
func trimProfile(p domain.Profile) domain.Profile {
	for _, f := range []*string{&p.Name, &p.GivenName, &p.FamilyName, &p.Picture, &p.Locale, &p.Zoneinfo, &p.PhoneNumber} {
		*f = strings.TrimSpace(*f)
	}
	return p
}

// apply is p with the changes of in; changed reports whether the phone number changed.
func (in ProfileUpdate) apply(p domain.Profile) (next domain.Profile, phoneChanged bool) {
	next = p
	for _, f := range []struct {
		dst *string
		v   *string
	}{{&next.Name, in.Name}, {&next.GivenName, in.GivenName}, {&next.FamilyName, in.FamilyName},
		{&next.Picture, in.Picture}, {&next.Locale, in.Locale}, {&next.Zoneinfo, in.Zoneinfo},
		{&next.PhoneNumber, in.PhoneNumber}} {
		if f.v != nil {
			*f.dst = strings.TrimSpace(*f.v)
		}
	}
	return next, next.PhoneNumber != p.PhoneNumber
}

// UpdateProfile changes what a user says about themselves (the /account page): the
// profile claims, validated as UpdateUser does. A new phone number is unverified.
// updated_at moves, so relying parties see the change.
func (a *Admin) UpdateProfile(ctx context.Context, userID string, in ProfileUpdate) (domain.User, error) {
	return a.updateUserRetrying(WithAuditActor(ctx, userID), userID, UserUpdate{Profile: in}, domain.AuditUserProfileUpdated)
}

// UpdateUser changes a user's email, its verification, the disabled state, the
// profile and the groups. A new email or phone number is unverified unless the update
// says otherwise. Disabling kills every token, code and session of the user at once
// (disableUser); enabling lets the user sign in again, and their earlier tokens stay
// dead. Every update that changes the user moves updated_at; one that changes nothing
// (the user already is as it asks) writes nothing and records no event.
func (a *Admin) UpdateUser(ctx context.Context, id string, in UserUpdate) (domain.User, error) {
	return a.updateUserRetrying(ctx, id, in, domain.AuditUserUpdated)
}

// updateUserRetrying is UpdateUser recording an event of type event.
func (a *Admin) updateUserRetrying(ctx context.Context, id string, in UserUpdate, event string) (domain.User, error) {
	// The user is read, changed and written back only if nobody wrote it meanwhile
	// (an email confirmed on /account, another update): a few tries, then an error.
	for range 4 {
		u, err := a.updateUser(ctx, id, in, event)
		if !errors.Is(err, errUserChanged) {
			return u, err
		}
	}
	return domain.User{}, errors.New("the user kept changing while being updated; try again")
}

// errUserChanged: the user was written between updateUser's read and its write.
var errUserChanged = errors.New("the user changed meanwhile")

func (a *Admin) updateUser(ctx context.Context, id string, in UserUpdate, event string) (domain.User, error) {
	u, err := a.users.UserByID(ctx, id)
	if err != nil {
		return domain.User{}, err
	}
	if in.Precondition != nil {
		if err := in.Precondition(u); err != nil {
			return domain.User{}, err
		}
	}
	next := u
	var phoneChanged bool
	// Every field is checked before any is refused, so that a form names them all.
	var bad problems
	if in.Email != nil {
		next.Email = a.ids.CanonicalEmail(*in.Email)
		if next.Email != u.Email {
			// A new address; the one the user has, stored before today's rules, stays.
			bad.add("email", domain.ValidateNewEmail(next.Email))
		}
	}
	next.Profile, phoneChanged = in.Profile.apply(u.Profile)
	bad.addProfile(domain.ProfileProblems(next.Profile))
	if len(in.AddGroups) > 0 || len(in.RemoveGroups) > 0 {
		next.Groups, err = changeGroups(u.Groups, in.AddGroups, in.RemoveGroups)
		bad.add("groups", err)
	}
	if err := bad.err(); err != nil {
		return domain.User{}, err
	}
	if next.Email != u.Email {
		next.EmailVerified = false
	}
	if next.Email != "" {
		next.ClaimedEmail = "" // the operator gave the user an address of their own
	}
	if phoneChanged {
		next.PhoneNumberVerified = false
	}
	if in.PhoneNumberVerified != nil {
		if *in.PhoneNumberVerified && next.PhoneNumber == "" {
			return domain.User{}, errVerifiedNoPhone
		}
		next.PhoneNumberVerified = *in.PhoneNumberVerified
	}
	if in.EmailVerified != nil {
		if *in.EmailVerified && next.Email == "" {
			return domain.User{}, errVerifiedNoEmail
		}
		next.EmailVerified = *in.EmailVerified
	}
	if in.Disabled != nil {
		next.Disabled = *in.Disabled
	}
	if sameUser(u, next) {
		return u, nil // nothing to change: updated_at (the admin API's ETag) stays, no event
	}
	now := a.clock.Now()
	next.UpdatedAt = now
	save := func(ctx context.Context) error {
		err := a.users.UpdateUser(ctx, next, u.UpdatedAt)
		switch {
		case errors.Is(err, domain.ErrDuplicate):
			return &ValidationError{Field: "email", Message: "that email is already taken", Conflict: true}
		case errors.Is(err, domain.ErrNotFound):
			// Gone, or written since it was read: the next try tells which.
			return errUserChanged
		}
		return err
	}
	p, q := u.Profile, next.Profile
	fields := fieldsChanged(auditField{"email", next.Email != u.Email},
		auditField{"email_verified", next.EmailVerified != u.EmailVerified},
		auditField{"disabled", next.Disabled != u.Disabled}, auditField{"name", p.Name != q.Name},
		auditField{"given_name", p.GivenName != q.GivenName}, auditField{"family_name", p.FamilyName != q.FamilyName},
		auditField{"picture", p.Picture != q.Picture}, auditField{"locale", p.Locale != q.Locale},
		auditField{"zoneinfo", p.Zoneinfo != q.Zoneinfo}, auditField{"phone_number", p.PhoneNumber != q.PhoneNumber},
		auditField{"phone_number_verified", next.PhoneNumberVerified != u.PhoneNumberVerified},
		auditField{"groups", !slices.Equal(next.Groups, u.Groups)})
	err = a.audit.Change(ctx, domain.AuditEvent{Type: event, Target: id, Details: changedDetails(fields)},
		func(ctx context.Context) error {
			save := func() error { return save(ctx) }
			switch {
			case next.Disabled && !u.Disabled:
				return a.disableUser(ctx, next.ID, now, save)
			case !next.Disabled && u.Disabled:
				return a.enablePrincipal(ctx, next.ID, now, save)
			default:
				return save()
			}
		})
	if err != nil {
		return domain.User{}, err
	}
	if next.Disabled && !u.Disabled {
		if err := a.endUserAgain(ctx, id, now); err != nil {
			return domain.User{}, err
		}
	}
	return next, nil
}

// sameUser reports whether next, an update of u, is u as stored: no field differs
// (groups compared as lists, so that none and an empty list are the same).
func sameUser(u, next domain.User) bool {
	if !slices.Equal(u.Groups, next.Groups) {
		return false
	}
	u.Groups, next.Groups = nil, nil
	return reflect.DeepEqual(u, next)
}

// endUserAgain is endUser once more after the unit of work that ended the user
// committed. Inside it, the deny-list entry, the flag or new password, the revoked
// grants and the deleted sessions become visible to others only at the commit: a
// sign-in or grant racing it may store a session or family after its revocations ran
// and still read the user as it was. Whatever such a race stored is committed by now
// (or it is refused, as it reads the committed change after storing), so this pass
// finds it (SECURITY S58).
func (a *Admin) endUserAgain(ctx context.Context, id string, now time.Time) error {
	if a.audit == nil {
		return nil // no unit of work: endUser's own order closed the races
	}
	if err := a.endUser(ctx, id, now); err != nil {
		return fmt.Errorf("after the change was stored: %w", err)
	}
	return nil
}

// changeGroups is groups with add added and remove removed, validated, sorted.
func changeGroups(groups, add, remove []string) ([]string, error) {
	for _, g := range remove {
		if err := domain.ValidateGroupName(g); err != nil {
			return nil, err
		}
	}
	out := slices.DeleteFunc(append(slices.Clone(groups), add...), func(g string) bool { return slices.Contains(remove, g) })
	return domain.NormalizeGroups(out)
}

// principalRevocationRetention is how long the deny-list entry of a deleted or
// re-enabled principal is kept: the longest access-token lifetime the configuration
// allows (24 h), plus the longest client cache (1 h: an instance may mint a token for
// a client deleted elsewhere that long), plus an hour for clocks and requests in
// flight. A fixed bound, so that the CLI and the servers agree whatever their
// settings.
const principalRevocationRetention = 26 * time.Hour

// disableUser is SECURITY S58 for a user: the deny-list entry first, so every access
// token of the user dies at once; then save (the flag), so no sign-in, grant or code
// redemption starts anew; then endUser revokes the grants and ends the sessions.
// A grant that read the user before the flag and stores its family after the
// revocation still dies: Minter.IssueForUser checks the deny-list after storing it.
func (a *Admin) disableUser(ctx context.Context, id string, now time.Time, save func() error) error {
	if err := a.tokens.RevokePrincipal(ctx, domain.PrincipalRevocation{ID: id}); err != nil {
		return fmt.Errorf("revoke the tokens of user %q: %w", id, err)
	}
	if err := save(); err != nil {
		return err
	}
	return a.endUser(ctx, id, now)
}

// enablePrincipal lets a disabled user or client work again: its deny-list entry
// now kills only what was issued up to this moment, so its earlier tokens stay dead;
// then save clears the flag. In this order an interrupted enable leaves the principal
// disabled, and running it again finishes it.
func (a *Admin) enablePrincipal(ctx context.Context, id string, now time.Time, save func() error) error {
	expires := now.Add(principalRevocationRetention)
	if err := a.tokens.RevokePrincipal(ctx, domain.PrincipalRevocation{ID: id, RevokedAt: &now, ExpiresAt: &expires}); err != nil {
		return fmt.Errorf("keep the earlier tokens of %q revoked: %w", id, err)
	}
	return save()
}

// endUser revokes every grant of a user (refresh tokens, and the codes and device
// approvals not redeemed yet) and ends every session of theirs, then revokes the
// grants once more: a code issued while the first revocation ran may have been
// redeemed in a session that still existed, and the second finds it. Once the
// sessions are gone no code of theirs redeems (CodeStore.RedeemCode), so none
// issued before can start a grant after (issue 18 finding 8).
func (a *Admin) endUser(ctx context.Context, id string, now time.Time) error {
	// Before the sessions go: the clients to tell are found through them.
	if err := a.logouts.UserSessionsEnded(ctx, id); err != nil {
		return fmt.Errorf("back-channel logout of user %q: %w", id, err)
	}
	if err := a.tokens.RevokeUserFamilies(ctx, id, now); err != nil {
		return fmt.Errorf("revoke the grants of user %q: %w", id, err)
	}
	if err := a.sessions.DeleteUserSessions(ctx, id); err != nil {
		return fmt.Errorf("end the sessions of user %q: %w", id, err)
	}
	if err := a.tokens.RevokeUserFamilies(ctx, id, now); err != nil {
		return fmt.Errorf("revoke the grants of user %q: %w", id, err)
	}
	return nil
}

// DeleteUser removes a user and, at once, every token, code and session of theirs
// (SECURITY S58): the deny-list entry kills the access tokens (user ids are never
// reused, so it lasts only as long as they could), endUser the grants and sessions.
func (a *Admin) DeleteUser(ctx context.Context, id string) error {
	if _, err := a.users.UserByID(ctx, id); err != nil {
		return err
	}
	now := a.clock.Now()
	expires := now.Add(principalRevocationRetention)
	err := a.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditUserDeleted, Target: id}, func(ctx context.Context) error {
		if err := a.tokens.RevokePrincipal(ctx, domain.PrincipalRevocation{ID: id, ExpiresAt: &expires}); err != nil {
			return fmt.Errorf("revoke the tokens of user %q: %w", id, err)
		}
		if err := a.endUser(ctx, id, now); err != nil {
			return err
		}
		return a.users.DeleteUser(ctx, id)
	})
	if err != nil {
		return err
	}
	return a.endUserAgain(ctx, id, now)
}

// SetPassword changes a user's password, revokes their refresh tokens and unredeemed
// codes (SECURITY S33, issue 18 finding 8) and ends their browser sessions: whoever
// knew the old password and logged in with it is logged out everywhere, and must log
// in again with the new one.
func (a *Admin) SetPassword(ctx context.Context, id, password string) error {
	return a.setPassword(ctx, id, password, domain.AuditUserPasswordChanged)
}

// setPassword is SetPassword recording an event of type event.
func (a *Admin) setPassword(ctx context.Context, id, password, event string) error {
	u, err := a.users.UserByID(ctx, id)
	if err != nil {
		return err
	}
	if err := domain.ValidatePassword(password, u.Username); err != nil {
		return invalid("password", err)
	}
	hash, err := a.passwords.HashPassword(ctx, password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	now := a.clock.Now()
	err = a.audit.Change(ctx, domain.AuditEvent{Type: event, Target: id}, func(ctx context.Context) error {
		if err := a.users.UpdatePassword(ctx, id, hash, now); err != nil {
			return err
		}
		if err := a.endUser(ctx, id, now); err != nil {
			return fmt.Errorf("after the password change: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return a.endUserAgain(ctx, id, now)
}

// NewClient is what registering a client takes. Empty lists get the defaults of SPEC.md.
type NewClient struct {
	Name         string
	RedirectURIs []string
	GrantTypes   []string
	Scopes       []string
	Audiences    []string
	Public       bool
	SkipConsent  bool
	IDTokenAlg   string
	// PostLogoutRedirectURIs are the RP-initiated logout return addresses.
	PostLogoutRedirectURIs []string
	// RequirePAR: authorization requests only through the PAR endpoint (RFC 9126).
	RequirePAR bool
	// RegistrationTokenHash: set for clients of the registration endpoint (RFC 7592).
	RegistrationTokenHash []byte
	// RequireDPoP: the token endpoint refuses the client's requests without a DPoP proof.
	RequireDPoP bool
	// RequireMFA: the client's authorization requests need a second factor.
	RequireMFA bool
	// PKCEOptional: a confidential client's authorization requests may omit PKCE.
	PKCEOptional bool
	// BackchannelLogoutURI: where the client takes logout tokens.
	BackchannelLogoutURI string
	// AuthMethod is empty (a secret, or none for a public client) or private_key_jwt,
	// which needs JWKS (a JWK Set, JSON) or JWKSURI; such a client gets no secret.
	AuthMethod string
	JWKS       string
	JWKSURI    string
	// UnusedExpiresAt: a client of open dynamic registration, deleted by housekeeping
	// when it was not used by then.
	UnusedExpiresAt time.Time
	// Registered: the client registered itself (RFC 7591); audited as client.registered.
	Registered bool
}

// CreatedClient is a new client with its secret, shown this once.
type CreatedClient struct {
	Client domain.Client
	Secret string // empty for public clients
}

// CreateClient validates and stores a client; the secret is generated here (256
// bits) and only its keyed hash is stored.
func (a *Admin) CreateClient(ctx context.Context, in NewClient) (CreatedClient, error) {
	now := a.clock.Now()
	c := clientOf(in, now)
	c.ID = a.random.ClientID()
	if err := a.checkClient(c); err != nil {
		return CreatedClient{}, err
	}
	var secret string
	if !c.Public && !c.UsesPrivateKeyJWT() {
		secret = a.random.Token()
		c.SecretHash = a.hasher.HashSecret(secret)
	}
	event := domain.AuditEvent{Type: domain.AuditClientCreated, Target: c.ID}
	if in.Registered {
		event.Type = domain.AuditClientRegistered
		event.Details = map[string]any{"open": !in.UnusedExpiresAt.IsZero(), "public": c.Public}
	}
	if err := a.audit.Change(ctx, event,
		func(ctx context.Context) error { return a.clients.CreateClient(ctx, c) }); err != nil {
		if errors.Is(err, domain.ErrDuplicate) {
			return CreatedClient{}, &ValidationError{Field: "name", Message: fmt.Sprintf("a client named %q already exists", c.Name), Conflict: true}
		}
		return CreatedClient{}, fmt.Errorf("create client: %w", err)
	}
	return CreatedClient{Client: c, Secret: secret}, nil
}

// ListClients lists every client (never a secret: only hashes are stored).
func (a *Admin) ListClients(ctx context.Context) ([]domain.Client, error) {
	return a.clients.ListClients(ctx)
}

// Client returns one client (never its secret: only a hash is stored).
func (a *Admin) Client(ctx context.Context, id string) (domain.Client, error) {
	return a.clients.ClientByID(ctx, id)
}

// ClientUpdate is what `clients update` changes; nil fields stay as they are. Lists
// given replace the client's; an empty GrantTypes or Scopes gets the defaults, as at
// creation.
type ClientUpdate struct {
	Name                   *string
	RedirectURIs           *[]string
	GrantTypes             *[]string
	Scopes                 *[]string
	Audiences              *[]string
	Public                 *bool
	SkipConsent            *bool
	IDTokenAlg             *string
	PostLogoutRedirectURIs *[]string
	RequirePAR             *bool
	RequireDPoP            *bool
	RequireMFA             *bool
	PKCEOptional           *bool
	BackchannelLogoutURI   *string
	AuthMethod             *string
	JWKS                   *string
	JWKSURI                *string
	Disabled               *bool
}

// CheckClientUpdate is what UpdateClient would refuse for in's values alone (a
// *domain.FieldError naming every bad field, or a *ValidationError), without writing:
// for an adapter that found other fields it could not read, so that one answer names
// them all.
func (a *Admin) CheckClientUpdate(ctx context.Context, id string, in ClientUpdate) error {
	c, err := a.clients.ClientByID(ctx, id)
	if err != nil {
		return err
	}
	_, err = a.updatedClient(c, in)
	return err
}

// updatedClient is c changed by in, checked by the client rules.
func (a *Admin) updatedClient(c domain.Client, in ClientUpdate) (domain.Client, error) {
	if in.Public != nil && *in.Public != c.Public {
		return domain.Client{}, &ValidationError{Field: "public",
			Message: "a client cannot change between public and confidential; register a new client instead"}
	}
	if in.AuthMethod != nil && *in.AuthMethod != c.TokenEndpointAuthMethod {
		return domain.Client{}, &ValidationError{Field: "auth-method",
			Message: "a client cannot change how it authenticates (secret or private_key_jwt); register a new client instead"}
	}
	next := c
	set := func(dst *[]string, v *[]string, def []string) {
		if v != nil {
			*dst = slices.Clone(*v)
			if len(*dst) == 0 && def != nil {
				*dst = slices.Clone(def)
			}
		}
	}
	if in.Name != nil {
		next.Name = *in.Name
	}
	set(&next.RedirectURIs, in.RedirectURIs, nil)
	set(&next.GrantTypes, in.GrantTypes, domain.DefaultGrantTypes)
	set(&next.Scopes, in.Scopes, domain.DefaultClientScopes)
	set(&next.Audiences, in.Audiences, nil)
	set(&next.PostLogoutRedirectURIs, in.PostLogoutRedirectURIs, nil)
	for _, b := range []struct {
		dst *bool
		v   *bool
	}{{&next.SkipConsent, in.SkipConsent}, {&next.RequirePAR, in.RequirePAR}, {&next.RequireDPoP, in.RequireDPoP},
		{&next.PKCEOptional, in.PKCEOptional}, {&next.Disabled, in.Disabled}, {&next.RequireMFA, in.RequireMFA}} {
		if b.v != nil {
			*b.dst = *b.v
		}
	}
	if in.BackchannelLogoutURI != nil {
		next.BackchannelLogoutURI = *in.BackchannelLogoutURI
	}
	if in.IDTokenAlg != nil {
		next.IDTokenAlg = *in.IDTokenAlg
		if next.IDTokenAlg == "" {
			next.IDTokenAlg = domain.AlgRS256
		}
	}
	// One key source replaces the other; both given is refused by ValidateClient.
	switch {
	case in.JWKS != nil && in.JWKSURI != nil:
		next.JWKS, next.JWKSURI = *in.JWKS, *in.JWKSURI
	case in.JWKS != nil:
		next.JWKS, next.JWKSURI = *in.JWKS, ""
	case in.JWKSURI != nil:
		next.JWKS, next.JWKSURI = "", *in.JWKSURI
	}
	if err := domain.ValidateClient(next); err != nil {
		return domain.Client{}, err // a *domain.FieldError
	}
	if in.JWKS != nil && next.JWKS != "" {
		if a.keys == nil {
			return domain.Client{}, &ValidationError{Field: "jwks", Message: "this build cannot check JWK Sets"}
		}
		if err := a.keys.ValidateJWKS(next.JWKS); err != nil {
			return domain.Client{}, invalid("jwks", err)
		}
	}
	return next, nil
}

// UpdateClient changes a client, keeping its id and secret, and validates the result
// exactly as CreateClient does. A client cannot change between public and
// confidential, nor how it authenticates (a secret or private_key_jwt): a new client
// is the way. Disabling kills every token and code of the client at once; enabling
// lets it work again, and its earlier tokens stay dead. An update that changes nothing
// (the client already is as it asks) writes nothing, keeps updated_at and records no
// event; it returns the client as stored.
func (a *Admin) UpdateClient(ctx context.Context, id string, in ClientUpdate) (domain.Client, error) {
	if id == ConsoleClientID {
		return domain.Client{}, errConsoleClient
	}
	c, err := a.clients.ClientByID(ctx, id)
	if err != nil {
		return domain.Client{}, err
	}
	next, err := a.updatedClient(c, in)
	if err != nil {
		return domain.Client{}, err
	}
	if sameClient(c, next) {
		return c, nil
	}
	changed := clientFieldsChanged(c, next)
	now := a.clock.Now()
	next.UpdatedAt = now
	save := func(ctx context.Context) error {
		err := a.clients.UpdateClient(ctx, next)
		if errors.Is(err, domain.ErrDuplicate) {
			return &ValidationError{Field: "name", Message: fmt.Sprintf("a client named %q already exists", next.Name), Conflict: true}
		}
		return err
	}
	err = a.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditClientUpdated, Target: id,
		Details: changedDetails(changed)}, func(ctx context.Context) error {
		save := func() error { return save(ctx) }
		switch {
		case next.Disabled && !c.Disabled:
			return a.disableClient(ctx, id, now, save)
		case !next.Disabled && c.Disabled:
			return a.enablePrincipal(ctx, id, now, save)
		default:
			return save()
		}
	})
	if err != nil {
		return domain.Client{}, err
	}
	if next.Disabled && !c.Disabled {
		if err := a.revokeClientAgain(ctx, id, now); err != nil {
			return domain.Client{}, err
		}
	}
	return next, nil
}

// revokeClientAgain revokes the client's grants once more after the unit of work that
// disabled or deleted it committed, for a grant that raced it (endUserAgain).
func (a *Admin) revokeClientAgain(ctx context.Context, id string, now time.Time) error {
	if a.audit == nil {
		return nil
	}
	if err := a.tokens.RevokeClientFamilies(ctx, id, now); err != nil {
		return fmt.Errorf("after the change was stored: revoke the grants of client %q: %w", id, err)
	}
	return nil
}

// sameClient reports whether next, an update of c, is c as stored, a list given empty
// being the same as none: the check that an update may skip its write does not rest
// on clientFieldsChanged naming every field a future update may change.
func sameClient(c, next domain.Client) bool {
	for _, l := range []struct{ a, b *[]string }{{&c.RedirectURIs, &next.RedirectURIs}, {&c.GrantTypes, &next.GrantTypes},
		{&c.Scopes, &next.Scopes}, {&c.Audiences, &next.Audiences}, {&c.PostLogoutRedirectURIs, &next.PostLogoutRedirectURIs}} {
		if !slices.Equal(*l.a, *l.b) {
			return false
		}
		*l.a, *l.b = nil, nil
	}
	return reflect.DeepEqual(c, next)
}

// clientFieldsChanged names the fields of an update of c to next that changed (names
// only: a JWK Set or URI may be long, and the audit log keeps no values), every field
// updatedClient can change, by the names of the admin API (and of `clients show
// --json`): scope, require_pkce. None is an update that changes nothing.
func clientFieldsChanged(c, next domain.Client) []string {
	return fieldsChanged(auditField{"name", c.Name != next.Name},
		auditField{"redirect_uris", !slices.Equal(c.RedirectURIs, next.RedirectURIs)},
		auditField{"grant_types", !slices.Equal(c.GrantTypes, next.GrantTypes)},
		auditField{"scope", !slices.Equal(c.Scopes, next.Scopes)},
		auditField{"audiences", !slices.Equal(c.Audiences, next.Audiences)},
		auditField{"skip_consent", c.SkipConsent != next.SkipConsent},
		auditField{"id_token_alg", c.IDTokenAlg != next.IDTokenAlg},
		auditField{"post_logout_redirect_uris", !slices.Equal(c.PostLogoutRedirectURIs, next.PostLogoutRedirectURIs)},
		auditField{"require_par", c.RequirePAR != next.RequirePAR},
		auditField{"require_dpop", c.RequireDPoP != next.RequireDPoP},
		auditField{"require_mfa", c.RequireMFA != next.RequireMFA},
		auditField{"require_pkce", c.PKCEOptional != next.PKCEOptional},
		auditField{"backchannel_logout_uri", c.BackchannelLogoutURI != next.BackchannelLogoutURI},
		auditField{"jwks", c.JWKS != next.JWKS}, auditField{"jwks_uri", c.JWKSURI != next.JWKSURI},
		auditField{"disabled", c.Disabled != next.Disabled})
}

// disableClient is SECURITY S58 for a client, in the order of disableUser: the
// deny-list entry (every token of the client dies at once), the flag (client
// authentication and code redemption refuse it), then its grants: families, codes and
// device authorizations. Instances that still hold the enabled client in their cache
// may issue a token for a moment; the entry kills it too.
func (a *Admin) disableClient(ctx context.Context, id string, now time.Time, save func() error) error {
	if err := a.tokens.RevokePrincipal(ctx, domain.PrincipalRevocation{ID: id}); err != nil {
		return fmt.Errorf("revoke the tokens of client %q: %w", id, err)
	}
	if err := save(); err != nil {
		return err
	}
	if err := a.tokens.RevokeClientFamilies(ctx, id, now); err != nil {
		return fmt.Errorf("revoke the grants of client %q: %w", id, err)
	}
	return nil
}

// DeleteClient removes a client and, at once, every token and code of it (SECURITY
// S58): the deny-list entry kills its access tokens (client ids are never reused),
// the revocation of its grants the rest; its codes, consents and refresh tokens go
// with it.
func (a *Admin) DeleteClient(ctx context.Context, id string) error {
	if id == ConsoleClientID {
		return errConsoleClient
	}
	if _, err := a.clients.ClientByID(ctx, id); err != nil {
		return err
	}
	now := a.clock.Now()
	expires := now.Add(principalRevocationRetention)
	err := a.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditClientDeleted, Target: id}, func(ctx context.Context) error {
		if err := a.tokens.RevokePrincipal(ctx, domain.PrincipalRevocation{ID: id, ExpiresAt: &expires}); err != nil {
			return fmt.Errorf("revoke the tokens of client %q: %w", id, err)
		}
		if err := a.tokens.RevokeClientFamilies(ctx, id, now); err != nil {
			return fmt.Errorf("revoke the grants of client %q: %w", id, err)
		}
		return a.clients.DeleteClient(ctx, id)
	})
	if err != nil {
		return err
	}
	return a.revokeClientAgain(ctx, id, now)
}

// RotateSecret gives a confidential client a new secret; the old one stops working.
func (a *Admin) RotateSecret(ctx context.Context, id string) (string, error) {
	c, err := a.clients.ClientByID(ctx, id)
	if err != nil {
		return "", err
	}
	if c.Public {
		return "", &ValidationError{Message: "a public client has no secret"}
	}
	if c.UsesPrivateKeyJWT() {
		return "", &ValidationError{Message: "a private_key_jwt client has no secret; it proves itself with its keys"}
	}
	secret := a.random.Token()
	hash, now := a.hasher.HashSecret(secret), a.clock.Now()
	if err := a.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditClientSecretRotated, Target: id},
		func(ctx context.Context) error { return a.clients.UpdateClientSecret(ctx, id, hash, now) }); err != nil {
		return "", err
	}
	return secret, nil
}

// ClientIDTokenAlgs lists the ID token algs clients registered, so that start-up can
// make sure each has a signing key.
func (a *Admin) ClientIDTokenAlgs(ctx context.Context) ([]string, error) {
	return a.clients.IDTokenAlgs(ctx)
}
