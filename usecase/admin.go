package usecase

import (
	"context"
	"errors"
	"fmt"

	"gatehouse/domain"
)

// Admin holds the user and client administration behind the CLI and registration page.
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
}

// NewAdminWithClientKeys is NewAdmin that can also register private_key_jwt
// clients, whose JWK Sets keys checks.
func NewAdminWithClientKeys(users UserStore, ids Identifiers, clients ClientAdminStore, tokens TokenStore, sessions SessionStore,
	passwords PasswordHasher, hasher SecretHasher, random Random, clock Clock, keys ClientAssertionVerifier) *Admin {
	a := NewAdmin(users, ids, clients, tokens, sessions, passwords, hasher, random, clock)
	a.keys = keys
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
}

func (e *ValidationError) Error() string { return e.Message }

func invalid(field string, err error) error {
	return &ValidationError{Field: field, Message: err.Error()}
}

// NewUser is what creating a user takes.
type NewUser struct {
	Username string
	Email    string
	Password string
}

// CreateUser validates and stores a user with an argon2id password hash. A taken
// username or email is a *ValidationError naming that field: the operator is trusted.
func (a *Admin) CreateUser(ctx context.Context, in NewUser) (domain.User, error) {
	return a.createUser(ctx, in, false)
}

// SignUp is CreateUser for the registration page, where anyone may ask: a taken
// username is reported (usernames are public handles), a taken email is not. The
// account is made without that email instead, in the same steps and the same time as
// with a free one (one read, one argon2id hash, one insert), so that neither the
// answer nor its timing tells whether an address is registered (SECURITY S48). The
// owner of the address is the one to hear of it, by mail.
func (a *Admin) SignUp(ctx context.Context, in NewUser) (domain.User, error) {
	return a.createUser(ctx, in, true)
}

var (
	errUsernameTaken = &ValidationError{Field: "username", Message: "that username is already taken"}
	errEmailTaken    = &ValidationError{Field: "email", Message: "that email address belongs to another user"}
)

func (a *Admin) createUser(ctx context.Context, in NewUser, withholdTakenEmail bool) (domain.User, error) {
	username, err := a.ids.CanonicalUsername(in.Username)
	if err != nil {
		return domain.User{}, invalid("username", err)
	}
	in.Username, in.Email = username, a.ids.CanonicalEmail(in.Email)
	if err := domain.ValidateUsername(in.Username); err != nil {
		return domain.User{}, invalid("username", err)
	}
	if err := domain.ValidateEmail(in.Email); err != nil {
		return domain.User{}, invalid("email", err)
	}
	if err := domain.ValidatePassword(in.Password, in.Username); err != nil {
		return domain.User{}, invalid("password", err)
	}
	usernameTaken, emailTaken, err := a.users.Taken(ctx, in.Username, in.Email)
	if err != nil {
		return domain.User{}, fmt.Errorf("look up username and email: %w", err)
	}
	// The hash comes before any answer that depends on what is taken.
	hash, err := a.passwords.HashPassword(ctx, in.Password)
	if err != nil {
		return domain.User{}, fmt.Errorf("hash password: %w", err)
	}
	if usernameTaken {
		return domain.User{}, errUsernameTaken
	}
	if emailTaken {
		if !withholdTakenEmail {
			return domain.User{}, errEmailTaken
		}
		in.Email = ""
	}
	now := a.clock.Now()
	u := domain.User{ID: a.random.UserID(), Username: in.Username, Email: in.Email, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	err = a.users.CreateUser(ctx, u)
	if errors.Is(err, domain.ErrDuplicate) {
		// Taken between the read and the insert: by a concurrent registration.
		if usernameTaken, emailTaken, err = a.users.Taken(ctx, u.Username, u.Email); err != nil {
			return domain.User{}, fmt.Errorf("look up username and email: %w", err)
		}
		switch {
		case usernameTaken:
			return domain.User{}, errUsernameTaken
		case emailTaken && !withholdTakenEmail:
			return domain.User{}, errEmailTaken
		case emailTaken:
			u.Email = ""
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

// DeleteUser removes a user and revokes every token family of theirs.
func (a *Admin) DeleteUser(ctx context.Context, id string) error {
	if err := a.tokens.RevokeUserFamilies(ctx, id, a.clock.Now()); err != nil {
		return fmt.Errorf("revoke tokens of user: %w", err)
	}
	return a.users.DeleteUser(ctx, id)
}

// SetPassword changes a user's password, revokes their refresh tokens (SECURITY S33)
// and ends their browser sessions: whoever knew the old password and logged in with
// it is logged out everywhere, and must log in again with the new one.
func (a *Admin) SetPassword(ctx context.Context, id, password string) error {
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
	if err := a.users.UpdatePassword(ctx, id, hash, now); err != nil {
		return err
	}
	if err := a.tokens.RevokeUserFamilies(ctx, id, now); err != nil {
		return fmt.Errorf("revoke tokens after password change: %w", err)
	}
	if err := a.sessions.DeleteUserSessions(ctx, id); err != nil {
		return fmt.Errorf("end sessions after password change: %w", err)
	}
	return nil
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
	// AuthMethod is empty (a secret, or none for a public client) or private_key_jwt,
	// which needs JWKS (a JWK Set, JSON) or JWKSURI; such a client gets no secret.
	AuthMethod string
	JWKS       string
	JWKSURI    string
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
	c := domain.Client{
		ID: a.random.ClientID(), Name: in.Name, Public: in.Public,
		RedirectURIs: in.RedirectURIs, GrantTypes: in.GrantTypes, Scopes: in.Scopes, Audiences: in.Audiences,
		SkipConsent: in.SkipConsent, IDTokenAlg: in.IDTokenAlg, PostLogoutRedirectURIs: in.PostLogoutRedirectURIs,
		RequirePAR: in.RequirePAR, RegistrationTokenHash: in.RegistrationTokenHash,
		RequireDPoP: in.RequireDPoP,
		CreatedAt:   now, UpdatedAt: now,
		TokenEndpointAuthMethod: in.AuthMethod, JWKS: in.JWKS, JWKSURI: in.JWKSURI,
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
	if err := domain.ValidateClient(c); err != nil {
		return CreatedClient{}, invalid("", err)
	}
	if c.JWKS != "" {
		if a.keys == nil {
			return CreatedClient{}, &ValidationError{Field: "jwks", Message: "this build cannot check JWK Sets"}
		}
		if err := a.keys.ValidateJWKS(c.JWKS); err != nil {
			return CreatedClient{}, invalid("jwks", err)
		}
	}
	var secret string
	if !c.Public && !c.UsesPrivateKeyJWT() {
		secret = a.random.Token()
		c.SecretHash = a.hasher.HashSecret(secret)
	}
	if err := a.clients.CreateClient(ctx, c); err != nil {
		if errors.Is(err, domain.ErrDuplicate) {
			return CreatedClient{}, &ValidationError{Field: "name", Message: fmt.Sprintf("a client named %q already exists", c.Name)}
		}
		return CreatedClient{}, fmt.Errorf("create client: %w", err)
	}
	return CreatedClient{Client: c, Secret: secret}, nil
}

// ListClients lists every client (never a secret: only hashes are stored).
func (a *Admin) ListClients(ctx context.Context) ([]domain.Client, error) {
	return a.clients.ListClients(ctx)
}

// DeleteClient removes a client.
func (a *Admin) DeleteClient(ctx context.Context, id string) error {
	return a.clients.DeleteClient(ctx, id)
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
	if err := a.clients.UpdateClientSecret(ctx, id, a.hasher.HashSecret(secret), a.clock.Now()); err != nil {
		return "", err
	}
	return secret, nil
}
