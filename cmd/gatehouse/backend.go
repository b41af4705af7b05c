package main

import (
	"context"

	"gatehouse/adapter/adminapi"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// adminBackend is what the admin commands do, on the database (localAdmin) or on a
// server through its admin API (remoteAdmin, --server URL). Both answer with the
// same domain values (or the admin API's resources), so every command prints the
// same either way.
type adminBackend interface {
	CreateClient(ctx context.Context, in usecase.NewClient) (usecase.CreatedClient, error)
	ListClients(ctx context.Context) ([]domain.Client, error)
	Client(ctx context.Context, id string) (domain.Client, error)
	UpdateClient(ctx context.Context, id string, in usecase.ClientUpdate) (domain.Client, error)
	DeleteClient(ctx context.Context, id string) error
	RotateSecret(ctx context.Context, id string) (string, error)

	CreateUser(ctx context.Context, in usecase.NewUser) (domain.User, error)
	ListUsers(ctx context.Context) ([]domain.User, error)
	FindUser(ctx context.Context, ref string) (domain.User, error)
	UpdateUser(ctx context.Context, id string, in usecase.UserUpdate) (domain.User, error)
	DeleteUser(ctx context.Context, id string) error
	// ResetMFA removes every second factor of the user (id); false when there was none.
	ResetMFA(ctx context.Context, id string) (bool, error)
	// A user's sessions, consents and upstream identities (usergrants.go), as the
	// admin API's resources; ending, revoking and unlinking are domain.ErrNotFound
	// when the user has no such one.
	UserSessions(ctx context.Context, userID string) ([]adminapi.SessionResource, error)
	EndSession(ctx context.Context, userID, sessionID string) error
	UserConsents(ctx context.Context, userID string) ([]adminapi.ConsentResource, error)
	RevokeConsent(ctx context.Context, userID, clientID string) error
	UserIdentities(ctx context.Context, userID string) ([]adminapi.IdentityResource, error)
	UnlinkIdentity(ctx context.Context, userID, upstreamID string) error

	ListKeys(ctx context.Context) ([]domain.SigningKey, error)
	RotateKey(ctx context.Context, alg string, immediate bool) (domain.SigningKey, error)
	AuditEvents(ctx context.Context, f usecase.AuditFilter) ([]domain.AuditEvent, error)

	// The upstream identity providers: each answer is the upstream as stored.
	CreateUpstream(ctx context.Context, in usecase.UpstreamInput) (domain.Upstream, error)
	ListUpstreams(ctx context.Context) ([]domain.Upstream, error)
	UpdateUpstream(ctx context.Context, id string, in usecase.UpstreamUpdate) (domain.Upstream, error)
	DeleteUpstream(ctx context.Context, id string) error
	UpstreamCallbackURL(id string) string

	// SharedDatabase: --now needs the warning about caching resource servers.
	SharedDatabase() bool
}

// openAdmin is the backend of an admin command: the server of --server, else the
// database of the configuration.
func (g *globals) openAdmin(ctx context.Context) (adminBackend, func(), error) {
	if g.server != "" {
		r, err := newRemoteAdmin(ctx, g.server, g.env)
		if err != nil {
			return nil, nil, err
		}
		return r, func() {}, nil
	}
	app, cleanup, err := g.openApp(ctx, needsSchema)
	if err != nil {
		return nil, nil, err
	}
	return localAdmin{app}, cleanup, nil
}

// localAdmin is the admin commands on the database.
type localAdmin struct{ app *App }

func (l localAdmin) CreateClient(ctx context.Context, in usecase.NewClient) (usecase.CreatedClient, error) {
	created, err := l.app.Admin.CreateClient(ctx, in)
	if err != nil {
		return created, err
	}
	// The client's ID tokens need an active key of its alg now, not at the server's
	// next start; every running instance loads it within a second.
	return created, l.app.Keys.Ensure(ctx, created.Client.IDTokenAlg)
}

func (l localAdmin) ListClients(ctx context.Context) ([]domain.Client, error) {
	return l.app.Admin.ListClients(ctx)
}

func (l localAdmin) Client(ctx context.Context, id string) (domain.Client, error) {
	return l.app.Admin.Client(ctx, id)
}

func (l localAdmin) UpdateClient(ctx context.Context, id string, in usecase.ClientUpdate) (domain.Client, error) {
	c, err := l.app.Admin.UpdateClient(ctx, id, in)
	if err != nil {
		return c, err
	}
	return c, l.app.Keys.Ensure(ctx, c.IDTokenAlg)
}

func (l localAdmin) DeleteClient(ctx context.Context, id string) error {
	return l.app.Admin.DeleteClient(ctx, id)
}

func (l localAdmin) RotateSecret(ctx context.Context, id string) (string, error) {
	return l.app.Admin.RotateSecret(ctx, id)
}

func (l localAdmin) CreateUser(ctx context.Context, in usecase.NewUser) (domain.User, error) {
	return l.app.Admin.CreateUser(ctx, in)
}

func (l localAdmin) ListUsers(ctx context.Context) ([]domain.User, error) {
	return l.app.Admin.ListUsers(ctx)
}

func (l localAdmin) FindUser(ctx context.Context, ref string) (domain.User, error) {
	return l.app.Admin.FindUser(ctx, ref)
}

func (l localAdmin) UpdateUser(ctx context.Context, id string, in usecase.UserUpdate) (domain.User, error) {
	return l.app.Admin.UpdateUser(ctx, id, in)
}

func (l localAdmin) DeleteUser(ctx context.Context, id string) error {
	return l.app.Admin.DeleteUser(ctx, id)
}

func (l localAdmin) ResetMFA(ctx context.Context, id string) (bool, error) {
	had, err := l.app.Factors.Reset(ctx, id)
	l.app.Accounts.Wait() // the mail is queued before the process ends
	return had, err
}

func (l localAdmin) ListKeys(ctx context.Context) ([]domain.SigningKey, error) {
	if err := l.app.Keys.Ensure(ctx); err != nil {
		return nil, err
	}
	return l.app.Keys.List(ctx)
}

func (l localAdmin) RotateKey(ctx context.Context, alg string, immediate bool) (domain.SigningKey, error) {
	if err := l.app.Keys.Ensure(ctx); err != nil {
		return domain.SigningKey{}, err
	}
	return l.app.Keys.Rotate(ctx, alg, immediate)
}

func (l localAdmin) AuditEvents(ctx context.Context, f usecase.AuditFilter) ([]domain.AuditEvent, error) {
	return l.app.Audit.List(ctx, f)
}

func (l localAdmin) CreateUpstream(ctx context.Context, in usecase.UpstreamInput) (domain.Upstream, error) {
	u, err := l.app.Upstreams.CreateUpstream(ctx, in)
	if err != nil {
		return u, err
	}
	return l.app.Upstreams.Upstream(ctx, u.ID)
}

func (l localAdmin) ListUpstreams(ctx context.Context) ([]domain.Upstream, error) {
	return l.app.Upstreams.ListUpstreams(ctx)
}

func (l localAdmin) UpdateUpstream(ctx context.Context, id string, in usecase.UpstreamUpdate) (domain.Upstream, error) {
	u, err := l.app.Upstreams.UpdateUpstream(ctx, id, in)
	if err != nil {
		return u, err
	}
	return l.app.Upstreams.Upstream(ctx, u.ID)
}

func (l localAdmin) DeleteUpstream(ctx context.Context, id string) error {
	return l.app.Upstreams.DeleteUpstream(ctx, id)
}

func (l localAdmin) UpstreamCallbackURL(id string) string { return l.app.Upstreams.CallbackURL(id) }

func (l localAdmin) SharedDatabase() bool { return !l.app.Config.IsSQLite() }
