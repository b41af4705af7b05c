package usecase

import (
	"context"
	"errors"
	"time"

	"gatehouse/domain"
)

// Ports: what the use cases call. Repositories report domain.ErrNotFound,
// domain.ErrDuplicate, domain.ErrAlreadyUsed and domain.ErrUnavailable (wrapped);
// anything else is an internal failure.

// Clock gives the time; tests fix it.
type Clock interface{ Now() time.Time }

// ClientStore reads clients.
type ClientStore interface {
	ClientByID(ctx context.Context, id string) (domain.Client, error)
}

// ClientAdminStore changes clients (CLI, admin).
type ClientAdminStore interface {
	ClientStore
	CreateClient(ctx context.Context, c domain.Client) error // ErrDuplicate: name taken
	ListClients(ctx context.Context) ([]domain.Client, error)
	// IDTokenAlgs lists the distinct ID token algs clients registered, in one small
	// read however many clients there are (start-up makes sure each has a key).
	IDTokenAlgs(ctx context.Context) ([]string, error)
	DeleteClient(ctx context.Context, id string) error // ErrNotFound
	UpdateClientSecret(ctx context.Context, id string, secretHash []byte, now time.Time) error
	// UpdateClient replaces what an administrator may change (all but the id, the
	// secret, public or confidential, the registration token and the creation time).
	// ErrNotFound, or ErrDuplicate when the name is taken.
	UpdateClient(ctx context.Context, c domain.Client) error
}

// UserStore reads and changes users.
type UserStore interface {
	CreateUser(ctx context.Context, u domain.User) error // ErrDuplicate: username or email taken
	UserByID(ctx context.Context, id string) (domain.User, error)
	UserByUsername(ctx context.Context, username string) (domain.User, error)
	// Taken reports, in one read, whether a user has this username or one drawn like
	// it (SECURITY S49: the store keeps names that are drawn alike apart, as it keeps
	// names apart; CreateUser answers ErrDuplicate for either) and whether one has
	// exactly this email (never for an empty email).
	Taken(ctx context.Context, username, email string) (usernameTaken, emailTaken bool, err error)
	ListUsers(ctx context.Context) ([]domain.User, error)
	DeleteUser(ctx context.Context, id string) error // ErrNotFound
	// UpdatePassword replaces the password hash and, with it, voids the user's
	// mailed password-reset and email-change links: each was asked for under the old
	// password, possibly by whoever the change locks out (an email change to their
	// own mailbox would hand them the account back, SECURITY S47). ErrNotFound when
	// there is no such user.
	UpdatePassword(ctx context.Context, id, passwordHash string, now time.Time) error
	// UpdateUser replaces the email, its verification, the disabled flag, the
	// profile, the groups and the update time, if the stored user's update time is
	// still seen (what the caller read: an email change or another update since then
	// must not be overwritten). ErrNotFound when there is no such user or it changed
	// since, ErrDuplicate when the email is taken.
	UpdateUser(ctx context.Context, u domain.User, seen time.Time) error
	// ReplacePasswordHash stores newHash as the user's password hash only while the
	// stored one is still oldHash, so a password set meanwhile is never overwritten; it
	// is no error when nothing was replaced. updated_at stays: a rehash of the same
	// password (after the hashing cost changed) changes nothing the user could see.
	ReplacePasswordHash(ctx context.Context, id, oldHash, newHash string) error
}

// CodeStore keeps authorization codes by hash.
type CodeStore interface {
	// CreateCode stores a code; ErrNotFound when its client or user does not exist.
	CreateCode(ctx context.Context, c domain.AuthorizationCode) error
	// RedeemCode is a code exchange as one atomic step: it reads the code and what its
	// grant depends on (CodeRedemption), calls decide, marks the code used when it was
	// not, and stores what decide asked (CodeOutcome). Concurrent callers are served as
	// if one after the other, each finding the code as the one before left it, so
	// exactly one finds it unused: the store holds the code while it decides, or writes
	// only if the code is still as read and otherwise reads and decides again. The rule
	// is decide's; the store only reads, locks and writes. decide must only decide: it
	// may run more than once.
	//
	// decide's error is RedeemCode's answer, returned after the commit: a refused code is
	// consumed all the same (SECURITY S12), and a replay's revocation is stored.
	// ErrNotFound for an unknown hash (decide is not called); ErrDuplicate, with nothing
	// of the grant stored, when the grant's family was created meanwhile (a revocation
	// voided the code while it was being redeemed, see TokenStore.RevokeFamily).
	RedeemCode(ctx context.Context, hash []byte, now time.Time, decide func(CodeRedemption) (CodeOutcome, error)) error
}

// CodeRedemption is what CodeStore.RedeemCode read, in its transaction, for decide.
type CodeRedemption struct {
	// Code is the code as it was before this redemption: UsedAt is set when it was used
	// before.
	Code domain.AuthorizationCode
	// User is the code's user; nil when it no longer exists.
	User *domain.User
	// SessionLive: the browser session the code was issued in exists, or it was issued
	// without one.
	SessionLive bool
	// ClientDisabled: the code's client is disabled (or gone).
	ClientDisabled bool
	// FamilyExists: the family the code's grant would start exists already. For an
	// unused code that means a revocation voided it (TokenStore.RevokeUserFamilies and
	// its kin revoke the families of codes not yet redeemed).
	FamilyExists bool
}

// CodeOutcome is what a redemption's decide asks CodeStore.RedeemCode to store.
type CodeOutcome struct {
	// Grant, when not nil, is the grant the code starts: its family and first refresh
	// token, stored in the transaction that consumed the code.
	Grant *NewGrant
	// RevokeFamily revokes the code's family and its refresh tokens (a replay, RFC 6749
	// §4.1.2).
	RevokeFamily bool
}

// NewGrant is a family and its first refresh token (nil when none).
type NewGrant struct {
	Family  TokenFamily
	Refresh *domain.RefreshToken
}

// TokenFamily is the record of one grant: a code redemption or password/device grant and
// every refresh and access token that descends from it.
type TokenFamily struct {
	ID        string
	ClientID  string
	UserID    string
	SessionID string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
}

// RefreshState is what TokenStore.UpdateRefreshToken read, in its transaction, for
// its update.
type RefreshState struct {
	Token domain.RefreshToken
	// FamilyRevoked: the token's family is revoked.
	FamilyRevoked bool
	// User is the token's user; nil when it no longer exists.
	User *domain.User
}

// RefreshChange is what an update asks TokenStore.UpdateRefreshToken to store; the
// zero value changes nothing.
type RefreshChange struct {
	// Next, when not nil, is the token's successor: the token is marked rotated at Now
	// and Next stored, in the same family.
	Next *domain.RefreshToken
	// RevokeFamily revokes the token's family and all its refresh tokens at Now (reuse of
	// a rotated token, RFC 9700 §4.14.2).
	RevokeFamily bool
	Now          time.Time
}

// TokenStore keeps refresh tokens, token families and the access-token deny-list.
type TokenStore interface {
	// CreateFamily stores a new family and, when rt is not nil, its first refresh token,
	// in one transaction. ErrDuplicate when the family id exists (it was revoked
	// before it was created: a code replayed while its first redemption was in flight).
	CreateFamily(ctx context.Context, f TokenFamily, rt *domain.RefreshToken) error
	// FamilyRevoked reports whether the family is revoked; an unknown family is not.
	FamilyRevoked(ctx context.Context, familyID string) (bool, error)
	// RevokeFamily marks the family and all its refresh tokens revoked. It records the
	// revocation even when the family does not exist yet (see CreateFamily).
	RevokeFamily(ctx context.Context, familyID string, now time.Time) error
	// RevokeUserFamilies revokes every family of a user (password change, disabling,
	// deletion), RevokeClientFamilies every family of a client (disabling, deletion),
	// RevokeSessionFamilies those a browser session started (logout). Each also voids
	// the codes and device authorizations of that user, client or session that have
	// not started their grant yet: their families, known in advance, are revoked
	// before they exist (see RevokeFamily), so a redemption racing the revocation
	// cannot leave a live token.
	RevokeUserFamilies(ctx context.Context, userID string, now time.Time) error
	RevokeClientFamilies(ctx context.Context, clientID string, now time.Time) error
	RevokeSessionFamilies(ctx context.Context, sessionID string, now time.Time) error
	// RevokeGrantFamilies revokes every family of one user with one client (a
	// connected app revoked on the account page), with the same voiding of codes and
	// device authorizations.
	RevokeGrantFamilies(ctx context.Context, userID, clientID string, now time.Time) error
	// RevokePrincipal stores the deny-list entry of a user or client, replacing an
	// earlier one (SECURITY S58).
	RevokePrincipal(ctx context.Context, p domain.PrincipalRevocation) error

	// RefreshTokenByHash reads a token (introspection, revocation); ErrNotFound when
	// there is none.
	RefreshTokenByHash(ctx context.Context, hash []byte) (domain.RefreshToken, error)
	// UpdateRefreshToken is a refresh as one atomic step: it reads the token, whether its
	// family is revoked, and the token's user (RefreshState), calls update, and stores
	// what update asked (RefreshChange). Concurrent callers are served as if one after
	// the other, each finding the token as the one before left it, and a revocation
	// never misses a successor: the store holds the token's family while it decides
	// (the lock every writer of the family's tokens takes first), or writes only if the
	// token and its family are still as read and otherwise reads and decides again. The
	// rule is update's; the store only reads, locks and writes. update must only
	// decide: it may run more than once. update's error is UpdateRefreshToken's answer,
	// returned after the commit with what update asked stored all the same (a reuse
	// revokes the family and is refused). ErrNotFound for an unknown hash (update is not
	// called).
	UpdateRefreshToken(ctx context.Context, hash []byte, update func(RefreshState) (RefreshChange, error)) error

	// RevokeAccessToken puts a jti on the deny-list until the token's expiry.
	RevokeAccessToken(ctx context.Context, t domain.RevokedAccessToken) error
	// AccessTokenRevoked reports whether an access token (or a grant) is revoked: its
	// jti on the deny-list, its family revoked, or its subject or client revoked as a
	// principal at or after it was issued (domain.PrincipalRevocation.Kills). One
	// query: it runs on every introspection and userinfo call.
	AccessTokenRevoked(ctx context.Context, c RevocationCheck) (bool, error)
}

// RevocationCheck is what TokenStore.AccessTokenRevoked looks at; empty fields are
// not looked at.
type RevocationCheck struct {
	JTI      string // an access token's jti; empty for a grant
	FamilyID string
	Subject  string // a user id, or a client id for client credentials
	ClientID string
	IssuedAt time.Time
}

// revocationCheckOf is the check of a verified access token.
func revocationCheckOf(at domain.AccessToken) RevocationCheck {
	return RevocationCheck{JTI: at.ID, FamilyID: at.FamilyID, Subject: at.Subject, ClientID: at.ClientID, IssuedAt: at.IssuedAt}
}

// ConsentStore remembers consents per user, client and redirect URI: the exact URI
// of a public client's request, or "" for every URI of a confidential client
// (domain.Client.ConsentRedirectURI).
type ConsentStore interface {
	// ConsentFor returns the consent remembered for exactly this redirect URI; a
	// consent for another URI (or for "") does not count. ErrNotFound when none.
	ConsentFor(ctx context.Context, userID, clientID, redirectURI string) (domain.Consent, error)
	// SaveConsent stores c, replacing the consent of the same user, client and
	// redirect URI.
	SaveConsent(ctx context.Context, c domain.Consent) error
	// UserConsents lists every consent of the user, for every client and redirect
	// URI (the account page's connected apps).
	UserConsents(ctx context.Context, userID string) ([]domain.Consent, error)
	// DeleteConsents deletes the user's consents for the client, for every redirect
	// URI; none is not an error.
	DeleteConsents(ctx context.Context, userID, clientID string) error
}

// SessionStore keeps browser sessions, looked up by the hash of the cookie secret.
type SessionStore interface {
	CreateSession(ctx context.Context, s domain.Session) error
	SessionByHash(ctx context.Context, secretHash []byte) (domain.Session, error) // ErrNotFound
	// DeleteSession ends a session; deleting one already gone is not an error
	// (logging out in two tabs must not fail).
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions ends every session of a user (password change); a user
	// without sessions is not an error.
	DeleteUserSessions(ctx context.Context, userID string) error
	// UserSessions lists the sessions of a user, most recently seen first.
	UserSessions(ctx context.Context, userID string) ([]domain.Session, error)
	// TouchSession records the browser of a session and when it was seen; a session
	// already gone is not an error.
	TouchSession(ctx context.Context, id, userAgent, address string, now time.Time) error
}

// KeyStore keeps signing keys.
type KeyStore interface {
	ListKeys(ctx context.Context) ([]domain.SigningKey, error)
	// CreateKey stores k; domain.ErrDuplicate when its kid exists, or when k is
	// current and the alg has a current key already.
	CreateKey(ctx context.Context, k domain.SigningKey) error
	// RotateKey stores r.Key as the current key of its alg and, in the same
	// transaction, retires the keys of the alg that sign at r.Now or would later:
	// RetiredAt becomes r.Key's activation (or stays, when earlier), ExpiresAt
	// r.OldExpiresAt (or stays, when later). A delayed rotation (r.Key.ActivatesAt
	// after r.Now) is refused with a *domain.KeyPendingError while the current key has
	// not started signing; an immediate one retires that key at once too. With
	// r.Replaces set it is refused with domain.ErrKeyRotated when the current key is
	// another one (a concurrent rotation won).
	RotateKey(ctx context.Context, r KeyRotation) error
	// RevokeKey revokes the key r.KID at r.Now, in one transaction: it never signs nor
	// is published again. When it signed at r.Now or was to sign later, r.Replacement
	// (of its alg) becomes the alg's current key, signing from r.Now, and the alg's
	// other keys that sign at r.Now or would later are retired as by an immediate
	// rotation (ExpiresAt r.OldExpiresAt, or later). A key revoked before is reported
	// (AlreadyRevoked) and nothing changes; domain.ErrNotFound for an unknown kid.
	RevokeKey(ctx context.Context, r KeyRevocation) (domain.KeyRevocation, error)
}

// KeyRevocation is one revocation for KeyStore.RevokeKey.
type KeyRevocation struct {
	KID string
	Now time.Time
	// Replacement is a new key of the revoked key's alg, used only when the revoked
	// key signs at Now or would later.
	Replacement *domain.SigningKey
	// OldExpiresAt is when the keys the replacement retires leave the JWKS.
	OldExpiresAt time.Time
}

// KeyRotation is one rotation for KeyStore.RotateKey.
type KeyRotation struct {
	// Key is the new key; Key.ActivatesAt is when it starts signing: after Now for a
	// rotation with an activation delay, Now for an immediate one.
	Key domain.SigningKey
	Now time.Time
	// OldExpiresAt is when the keys it retires leave the JWKS.
	OldExpiresAt time.Time
	// Replaces, when not empty, is the kid of the current key the rotation replaces.
	Replaces string
}

// Random makes identifiers and secrets from crypto/rand.
type Random interface {
	// Token: at least 256 random bits, base64url (codes, refresh tokens, secrets).
	Token() string
	// ID: 128 random bits (jti, session ids).
	ID() string
	// SortedToken: like Token, 256 random bits, led by the time it was made, for
	// refresh tokens and codes: their keys (SecretHasher.HashToken) sort by time.
	SortedToken() string
	// FamilyID: a token family's id, unique and unguessable like ID but in the order
	// families are made, so that new families and their tokens go to the end of the
	// indexes on family ids instead of to a random page each.
	FamilyID() string
	// UserID: a UUID. ClientID: a format no UUID has, so a client's sub never equals
	// a user's (SECURITY S26).
	UserID() string
	ClientID() string
}

// SecretHasher hashes high-entropy secrets (client secrets, codes, refresh tokens)
// with a keyed fast hash: a slow hash buys nothing for 256 random bits.
type SecretHasher interface {
	HashSecret(secret string) []byte
	// HashToken: the key of a refresh token or code, which for a SortedToken begins
	// with its time; HashSecret for anything else.
	HashToken(token string) []byte
	// SecretMatches compares in constant time.
	SecretMatches(hash []byte, secret string) bool
}

// Identifiers turn typed usernames and emails into the forms stored and compared
// (SECURITY S49). Every place that creates a user or looks one up by name goes through
// it, so that creation and lookup agree.
type Identifiers interface {
	// CanonicalUsername is the PRECIS form (RFC 8265 UsernameCaseMapped) of a
	// username; an error when raw cannot be one. New usernames must also pass
	// domain.ValidateUsername (characters, length, one script).
	CanonicalUsername(raw string) (string, error)
	// CanonicalEmail is the form an email address is stored and compared in.
	CanonicalEmail(raw string) string
}

// PasswordHasher hashes user passwords slowly (argon2id).
type PasswordHasher interface {
	HashPassword(ctx context.Context, password string) (string, error)
	// VerifyPassword reports whether password matches encoded. With an empty encoded it
	// still spends the same work, so unknown users take as long as wrong passwords.
	VerifyPassword(ctx context.Context, encoded, password string) (bool, error)
	// NeedsRehash reports whether encoded was made otherwise than HashPassword makes
	// hashes now (another algorithm, other costs): after a successful sign-in the
	// password is hashed again and stored.
	NeedsRehash(encoded string) bool
}

// AccessTokenSigner turns an access token into a signed JWT (RFC 9068).
type AccessTokenSigner interface {
	SignAccessToken(ctx context.Context, t domain.AccessToken) (string, error)
}

// IDTokenSigner signs OpenID Connect ID tokens with the key of t.Alg.
type IDTokenSigner interface {
	SignIDToken(ctx context.Context, t domain.IDToken) (string, error)
}

// AccessTokenVerifier checks a JWT access token of ours (signature, typ, iss, exp)
// and returns its contents; any defect is domain.ErrInvalidToken.
type AccessTokenVerifier interface {
	VerifyAccessToken(ctx context.Context, raw string) (domain.AccessToken, error)
}

// ErrAccessTokenExpired is wrapped (with domain.ErrInvalidToken) in the error of an
// access token that verified but whose exp has passed, so that token exchange can
// say so.
var ErrAccessTokenExpired = errors.New("the access token has expired")

// KeyGenerator makes a new key pair of an alg, its private part already encrypted.
type KeyGenerator interface {
	GenerateKey(alg string, now time.Time) (domain.SigningKey, error)
}

// Throttle counts failures per key (a username, an address, a client) and refuses
// attempts for a while after too many. Check returns *domain.ThrottledError when the
// key must wait; Failure records a failed attempt; Success forgets the key.
type Throttle interface {
	Check(ctx context.Context, key string) error
	Failure(ctx context.Context, key string)
	Success(ctx context.Context, key string)
}
