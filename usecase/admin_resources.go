package usecase

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gatehouse/domain"
)

// SessionDirectory finds a browser session by its id (the admin API's sessions/{id}).
type SessionDirectory interface {
	SessionByID(ctx context.Context, id string) (domain.Session, error) // ErrNotFound
}

// AdminAccess decides whether an admin API call may go on (SECURITY S55): its access
// token must be live now (not revoked, its user or client not disabled or deleted
// since it was issued) and carry the scope gatehouse:admin; a token issued to a user
// needs that user in group admin at the time of the call, not when it was minted.
type AdminAccess struct {
	verifier AccessTokenVerifier
	tokens   TokenStore
	users    UserStore
}

// NewAdminAccess builds the admin API's authorization.
func NewAdminAccess(verifier AccessTokenVerifier, tokens TokenStore, users UserStore) *AdminAccess {
	return &AdminAccess{verifier: verifier, tokens: tokens, users: users}
}

// AdminCaller is who makes an admin API call: Actor is what the audit log records
// (the user id of a user's token, else the client id).
type AdminCaller struct {
	Actor    string
	UserID   string // empty for a client's own token (client credentials)
	ClientID string
}

// ErrNotAdmin: the token's user is not in group admin (now).
var ErrNotAdmin = errors.New("the token's user is not in group admin")

var errAdminTokenInactive = domain.ErrInvalidToken.WithDescription("the access token is invalid, expired or revoked")

// Authorize checks a token that the resource server's verification (signature, iss,
// aud, exp) already accepted against what only this server knows: revocation, the
// scope, and the user's groups and state now. Errors: domain.ErrInvalidToken (401),
// domain.ErrInsufficientScope or ErrNotAdmin (403), anything else is a failure.
func (a *AdminAccess) Authorize(ctx context.Context, raw string) (AdminCaller, error) {
	at, err := a.verifier.VerifyAccessToken(ctx, raw)
	if err != nil {
		return AdminCaller{}, errAdminTokenInactive
	}
	revoked, err := accessTokenRevoked(ctx, a.tokens, at)
	if err != nil {
		return AdminCaller{}, err
	}
	if revoked {
		return AdminCaller{}, errAdminTokenInactive
	}
	if !slices.Contains(at.Scope, domain.ScopeAdmin) {
		return AdminCaller{}, domain.ErrInsufficientScope.WithDescription("the admin API needs scope " + domain.ScopeAdmin)
	}
	if at.Subject == at.ClientID && at.FamilyID == "" {
		// Client credentials: the client acts for itself.
		return AdminCaller{Actor: at.ClientID, ClientID: at.ClientID}, nil
	}
	u, err := a.users.UserByID(ctx, at.Subject)
	if errors.Is(err, domain.ErrNotFound) {
		return AdminCaller{}, errAdminTokenInactive
	}
	if err != nil {
		return AdminCaller{}, fmt.Errorf("look up the token's user: %w", err)
	}
	if u.Disabled {
		return AdminCaller{}, errAdminTokenInactive
	}
	if !slices.Contains(u.Groups, domain.GroupAdmin) {
		return AdminCaller{}, ErrNotAdmin
	}
	return AdminCaller{Actor: u.ID, UserID: u.ID, ClientID: at.ClientID}, nil
}

// AdminResources is what the admin API reads and changes beyond Admin's own use
// cases: pages of users and clients, a user's sessions and consents, one session,
// and a password reset mailed on an administrator's behalf. Every change is audited
// in the transaction that makes it (SECURITY S56).
type AdminResources struct {
	admin     *Admin
	userDir   UserDirectory
	clientDir ClientDirectory
	sessions  SessionStore
	directory SessionDirectory
	consents  ConsentStore
	tokens    TokenStore
	accounts  *Accounts
	audit     *Audit
	clock     Clock
}

// NewAdminResources builds them.
func NewAdminResources(admin *Admin, userDir UserDirectory, clientDir ClientDirectory, sessions SessionStore,
	directory SessionDirectory, consents ConsentStore, tokens TokenStore, accounts *Accounts, audit *Audit, clock Clock) *AdminResources {
	return &AdminResources{admin: admin, userDir: userDir, clientDir: clientDir, sessions: sessions, directory: directory,
		consents: consents, tokens: tokens, accounts: accounts, audit: audit, clock: clock}
}

// Page bounds of the admin API's lists.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// PageSize is limit within 1..MaxPageSize, DefaultPageSize for 0.
func PageSize(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}

// ListPosition is where an item stands in a list ordered by creation time, then id:
// the last item of a page, after which the next page starts.
type ListPosition struct {
	CreatedAt time.Time
	ID        string
}

// UserFilter selects a page of users for UserDirectory: Q in the username, email or
// name (any case), in Group, Disabled or not (nil: both), after After, at most Limit.
type UserFilter struct {
	Q, Group string
	Disabled *bool
	After    ListPosition
	Limit    int
}

// UserDirectory reads pages of users, oldest first (ties by id), with the filter
// applied by the store: a page costs the same however many users there are.
type UserDirectory interface {
	FindUsers(ctx context.Context, f UserFilter) ([]domain.User, error)
}

// ClientFilter selects a page of clients: Q in the client id or name (any case).
type ClientFilter struct {
	Q     string
	After ListPosition
	Limit int
}

// ClientDirectory reads pages of clients, oldest first (ties by id).
type ClientDirectory interface {
	FindClients(ctx context.Context, f ClientFilter) ([]domain.Client, error)
}

// Users is one page of the users that match f (f.Limit: PageSize), oldest first as
// `users list`; next is the position to ask After for the next page, zero on the
// last one.
func (r *AdminResources) Users(ctx context.Context, f UserFilter) (page []domain.User, next ListPosition, err error) {
	limit := PageSize(f.Limit)
	f.Limit = limit + 1 // one more than the page says whether another follows
	page, err = r.userDir.FindUsers(ctx, f)
	return pageOf(page, err, limit, func(u domain.User) ListPosition { return ListPosition{CreatedAt: u.CreatedAt, ID: u.ID} })
}

// Clients is one page of the clients that match f, oldest first as `clients list`.
func (r *AdminResources) Clients(ctx context.Context, f ClientFilter) (page []domain.Client, next ListPosition, err error) {
	limit := PageSize(f.Limit)
	f.Limit = limit + 1
	page, err = r.clientDir.FindClients(ctx, f)
	return pageOf(page, err, limit, func(c domain.Client) ListPosition { return ListPosition{CreatedAt: c.CreatedAt, ID: c.ID} })
}

// pageOf cuts rows, read with a limit of one more than limit, to a page, and gives
// the position of its last row when more followed (zero on the last page).
func pageOf[T any](rows []T, err error, limit int, at func(T) ListPosition) ([]T, ListPosition, error) {
	if err != nil {
		return nil, ListPosition{}, err
	}
	if len(rows) <= limit {
		return rows, ListPosition{}, nil
	}
	rows = rows[:limit]
	return rows, at(rows[limit-1]), nil
}

// SessionOrder is the order of a user's sessions in lists: most recently seen first,
// those never seen last, then newest first (as the store lists them), then by id.
func SessionOrder(a, b domain.Session) int {
	if c := cmp.Compare(boolInt(a.LastSeenAt.IsZero()), boolInt(b.LastSeenAt.IsZero())); c != 0 {
		return c
	}
	return cmp.Or(b.LastSeenAt.Compare(a.LastSeenAt), b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// IdentityOrder is the order of a user's upstream identities in the admin lists: by
// upstream, then subject.
func IdentityOrder(a, b LinkedView) int {
	return cmp.Or(cmp.Compare(a.UpstreamID, b.UpstreamID), cmp.Compare(a.Subject, b.Subject))
}

// UserSessions lists the live sessions of a user in SessionOrder; ErrNotFound when
// there is no such user.
func (r *AdminResources) UserSessions(ctx context.Context, userID string) ([]domain.Session, error) {
	if _, err := r.admin.users.UserByID(ctx, userID); err != nil {
		return nil, err
	}
	all, err := r.sessions.UserSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := r.clock.Now()
	all = slices.DeleteFunc(all, func(s domain.Session) bool { return !now.Before(s.ExpiresAt) })
	slices.SortFunc(all, SessionOrder)
	return all, nil
}

// Session returns a live session; ErrNotFound when it is gone or expired.
func (r *AdminResources) Session(ctx context.Context, id string) (domain.Session, error) {
	s, err := r.directory.SessionByID(ctx, id)
	if err != nil {
		return domain.Session{}, err
	}
	if !r.clock.Now().Before(s.ExpiresAt) {
		return domain.Session{}, fmt.Errorf("session %q expired: %w", id, domain.ErrNotFound)
	}
	return s, nil
}

// EndSession ends a session as a logout does: its clients are told by back-channel
// logout, its tokens revoked, the session deleted; the event and the change commit
// together. ErrNotFound when there is no such session.
func (r *AdminResources) EndSession(ctx context.Context, id string) error {
	s, err := r.directory.SessionByID(ctx, id)
	if err != nil {
		return err
	}
	if err := r.admin.logouts.SessionEnded(ctx, s.ID); err != nil {
		return fmt.Errorf("back-channel logout: %w", err)
	}
	err = r.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditSessionRevoked, Target: s.ID, User: s.UserID,
		Details: map[string]any{"user": s.UserID}}, func(ctx context.Context) error {
		now := r.clock.Now()
		if err := r.tokens.RevokeSessionFamilies(ctx, s.ID, now); err != nil {
			return fmt.Errorf("revoke the session's tokens: %w", err)
		}
		return r.sessions.DeleteSession(ctx, s.ID)
	})
	if err != nil {
		return err
	}
	// A code redeemed while the session was being deleted: caught now (endSession).
	return r.tokens.RevokeSessionFamilies(ctx, s.ID, r.clock.Now())
}

// UserConsents lists a user's consents; ErrNotFound when there is no such user.
func (r *AdminResources) UserConsents(ctx context.Context, userID string) ([]domain.Consent, error) {
	if _, err := r.admin.users.UserByID(ctx, userID); err != nil {
		return nil, err
	}
	all, err := r.consents.UserConsents(ctx, userID)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(all, func(a, b domain.Consent) int {
		return cmp.Or(cmp.Compare(a.ClientID, b.ClientID), cmp.Compare(a.RedirectURI, b.RedirectURI))
	})
	return all, nil
}

// RevokeConsent takes a user's consents for a client away and revokes every grant of
// the user to it, as the account page's "disconnect" does. ErrNotFound when the user
// has no consent for the client.
func (r *AdminResources) RevokeConsent(ctx context.Context, userID, clientID string) error {
	all, err := r.consents.UserConsents(ctx, userID)
	if err != nil {
		return err
	}
	if clientID == "" || !slices.ContainsFunc(all, func(c domain.Consent) bool { return c.ClientID == clientID }) {
		return fmt.Errorf("consent of %q for %q: %w", userID, clientID, domain.ErrNotFound)
	}
	err = r.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditConsentRevoked, Target: clientID, User: userID,
		Details: map[string]any{"user": userID}}, func(ctx context.Context) error {
		if err := r.tokens.RevokeGrantFamilies(ctx, userID, clientID, r.clock.Now()); err != nil {
			return fmt.Errorf("revoke the app's tokens: %w", err)
		}
		return r.consents.DeleteConsents(ctx, userID, clientID)
	})
	if err != nil {
		return err
	}
	return r.tokens.RevokeGrantFamilies(ctx, userID, clientID, r.clock.Now())
}

// SendPasswordReset mails a user a password reset link, as "forgot password" does,
// on an administrator's behalf: the user must be enabled and have an email address.
// The link and the queued mail commit with the event.
func (r *AdminResources) SendPasswordReset(ctx context.Context, userID string) error {
	u, err := r.admin.users.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	if u.Email == "" {
		return &ValidationError{Field: "email", Message: "the user has no email address to mail a reset link to"}
	}
	if u.Disabled {
		return &ValidationError{Field: "disabled", Message: "the user is disabled"}
	}
	a := r.accounts
	return r.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditUserPasswordResetSent, Target: u.ID},
		func(ctx context.Context) error {
			link, err := a.newLink(ctx, u, domain.PurposeResetPassword, "/reset-password")
			if err != nil {
				return err
			}
			return a.mailer.Queue(ctx, resetMail(a.settings, u, link))
		})
}

// AuditEvents is one page of the audit events that match f, newest first; next is
// the position to ask Before for the next page, zero on the last one.
func (r *AdminResources) AuditEvents(ctx context.Context, f AuditFilter) (page []domain.AuditEvent, next AuditPosition, err error) {
	limit := PageSize(f.Limit)
	f.Limit = limit + 1
	all, err := r.audit.List(ctx, f)
	if err != nil {
		return nil, AuditPosition{}, err
	}
	if len(all) > limit {
		all = all[:limit]
		last := all[limit-1]
		next = AuditPosition{Time: last.Time, ID: last.ID}
	}
	return all, next, nil
}
