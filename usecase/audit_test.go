package usecase_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/adapter/crypto"
	"gatehouse/adapter/identifier"
	"gatehouse/adapter/repository/batchrepo"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/adapter/token"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

// flakyAudit is the real audit log whose appends fail while fail is set: the way to
// see that a change whose event cannot be written is not made either.
type flakyAudit struct {
	*bunrepo.AuditRepository
	fail atomic.Bool
}

var errAuditDown = errors.New("audit log unavailable")

func (a *flakyAudit) Record(ctx context.Context, e domain.AuditEvent) error {
	if a.fail.Load() {
		return errAuditDown
	}
	return a.AuditRepository.Record(ctx, e)
}

// auditRig is Admin and Keys as the server wires them (the batched user and token
// stores, the Transactor) over one database, with the flaky audit log.
type auditRig struct {
	db     *bun.DB
	log    *flakyAudit
	audit  *usecase.Audit
	admin  *usecase.Admin
	keys   *usecase.Keys
	users  usecase.UserStore
	tokens usecase.TokenStore
	hasher *crypto.SecretHasher
	clock  *clock
}

func newAuditRig(t *testing.T, url string) *auditRig {
	t.Helper()
	db := bunrepotest.Open(t, url)
	secrets, err := crypto.DeriveKeys("a test secret key that is long enough!!")
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := crypto.NewSecretHasher(secrets)
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := crypto.NewKeyCipher(secrets)
	if err != nil {
		t.Fatal(err)
	}
	passwords, err := crypto.NewPasswordHasher(crypto.PasswordParams{Memory: 8 * 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	random := crypto.NewRandom()
	w := batchrepo.NewGroupCommit(db)
	users := batchrepo.NewUsers(bunrepo.NewUserRepository(db))
	tokens := batchrepo.NewTokens(bunrepo.NewTokenRepository(db, w), w, db)
	log := &flakyAudit{AuditRepository: bunrepo.NewAuditRepository(db)}
	audit := usecase.NewAudit(log, bunrepo.NewTransactor(db), random, clk, nil)
	admin := usecase.NewAdminWithClientKeys(users, identifier.NewRules(), bunrepo.NewClientRepository(db), tokens,
		bunrepo.NewSessionRepository(db), passwords, hasher, random, clk, nil, nil, audit)
	settings := usecase.Settings{AccessTokenTTL: usecase.AccessTokenTTL(15 * time.Minute),
		IDTokenTTL: usecase.IDTokenTTL(time.Hour), SigningAlg: domain.AlgES256}
	keys := usecase.NewAuditedKeys(bunrepo.NewKeyRepository(db), token.NewKeyGenerator(cipher), clk, settings, audit)
	if err := keys.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &auditRig{db: db, log: log, audit: audit, admin: admin, keys: keys, users: users, tokens: tokens, hasher: hasher, clock: clk}
}

func (r *auditRig) events(t *testing.T, target string) []domain.AuditEvent {
	t.Helper()
	es, err := r.audit.List(t.Context(), usecase.AuditFilter{User: target})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestAudit_ChangeAndEventCommitTogether is SECURITY S56's atomicity on the three
// databases: every admin change and key rotation is stored with its audit event, and
// when the event cannot be written the change is not made either (nor any of its
// revocations); a change refused makes no event.
func TestAudit_ChangeAndEventCommitTogether(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newAuditRig(t, url)
			ctx := usecase.WithAuditActor(t.Context(), domain.AuditActorCLI)
			u, err := r.admin.CreateUser(ctx, usecase.NewUser{Username: "alice", Email: "alice@example.com",
				Password: "Correct-Horse-9!"})
			if err != nil {
				t.Fatal(err)
			}
			if es := r.events(t, u.ID); len(es) != 1 || es[0].Type != domain.AuditUserCreated || es[0].Actor != "cli" {
				t.Fatalf("events after create: %+v", es)
			}

			r.log.fail.Store(true)
			disable := true
			if _, err := r.admin.UpdateUser(ctx, u.ID, usecase.UserUpdate{Disabled: &disable}); !errors.Is(err, errAuditDown) {
				t.Fatalf("disable with the audit log down: %v", err)
			}
			got, err := r.users.UserByID(ctx, u.ID)
			if err != nil || got.Disabled {
				t.Fatalf("user after a failed audited disable: %+v, %v (want enabled)", got, err)
			}
			if dead, err := r.tokens.AccessTokenRevoked(ctx, usecase.RevocationCheck{Subject: u.ID,
				IssuedAt: time.Now().Add(-time.Minute)}); err != nil || dead {
				t.Fatalf("the user's tokens revoked by a disable that did not happen: %v, %v", dead, err)
			}
			if err := r.admin.SetPassword(ctx, u.ID, "Another-Horse-10!"); !errors.Is(err, errAuditDown) {
				t.Fatalf("set-password with the audit log down: %v", err)
			}
			if after, _ := r.users.UserByID(ctx, u.ID); after.PasswordHash != got.PasswordHash {
				t.Fatal("the password changed without its audit event")
			}
			if err := r.admin.DeleteUser(ctx, u.ID); !errors.Is(err, errAuditDown) {
				t.Fatalf("delete with the audit log down: %v", err)
			}
			if _, err := r.users.UserByID(ctx, u.ID); err != nil {
				t.Fatalf("user deleted without its audit event: %v", err)
			}
			if _, err := r.admin.CreateUser(ctx, usecase.NewUser{Username: "bob", Password: "Correct-Horse-9!"}); !errors.Is(err, errAuditDown) {
				t.Fatalf("create with the audit log down: %v", err)
			}
			if _, err := r.admin.FindUser(ctx, "bob"); !errors.Is(err, domain.ErrNotFound) {
				t.Fatalf("user created without its audit event: %v", err)
			}
			if _, err := r.admin.CreateClient(ctx, usecase.NewClient{Name: "lost", RedirectURIs: []string{"https://app.example/cb"}}); !errors.Is(err, errAuditDown) {
				t.Fatalf("client create with the audit log down: %v", err)
			}
			if cs, _ := r.admin.ListClients(ctx); len(cs) != 0 {
				t.Fatalf("client created without its audit event: %+v", cs)
			}
			before, err := r.keys.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.keys.Rotate(ctx, "", true); !errors.Is(err, errAuditDown) {
				t.Fatalf("key rotation with the audit log down: %v", err)
			}
			if after, _ := r.keys.List(ctx); len(after) != len(before) {
				t.Fatalf("%d keys after a failed audited rotation, want %d", len(after), len(before))
			}
			if es := r.events(t, u.ID); len(es) != 1 {
				t.Fatalf("events after the failures: %+v", es)
			}

			// Back up: each change lands with its event, naming the changed fields.
			r.log.fail.Store(false)
			r.clock.Advance(time.Second)
			name := "Alice"
			if _, err := r.admin.UpdateUser(ctx, u.ID, usecase.UserUpdate{Disabled: &disable,
				Profile: usecase.ProfileUpdate{Name: &name}}); err != nil {
				t.Fatal(err)
			}
			es := r.events(t, u.ID)
			if len(es) != 2 || es[0].Type != domain.AuditUserUpdated {
				t.Fatalf("events after the disable: %+v", es)
			}
			if fields, _ := es[0].Details["fields"].([]any); !slices.Equal(fields, []any{"disabled", "name"}) {
				t.Fatalf("fields of the update: %#v", es[0].Details)
			}
			if got, _ := r.users.UserByID(ctx, u.ID); !got.Disabled {
				t.Fatal("user not disabled")
			}
			c, err := r.admin.CreateClient(ctx, usecase.NewClient{Name: "app", RedirectURIs: []string{"https://app.example/cb"}})
			if err != nil {
				t.Fatal(err)
			}
			r.log.fail.Store(true)
			if _, err := r.admin.RotateSecret(ctx, c.Client.ID); !errors.Is(err, errAuditDown) {
				t.Fatalf("rotate-secret with the audit log down: %v", err)
			}
			stored, err := r.admin.Client(ctx, c.Client.ID)
			if err != nil || !bytes.Equal(stored.SecretHash, r.hasher.HashSecret(c.Secret)) {
				t.Fatalf("the secret changed without its audit event (%v)", err)
			}
			if err := r.admin.DeleteClient(ctx, c.Client.ID); !errors.Is(err, errAuditDown) {
				t.Fatalf("client delete with the audit log down: %v", err)
			}
			r.log.fail.Store(false)
			r.clock.Advance(time.Second) // events of one instant have no order
			if _, err := r.admin.RotateSecret(ctx, c.Client.ID); err != nil {
				t.Fatal(err)
			}
			r.clock.Advance(time.Second)
			if err := r.admin.DeleteClient(ctx, c.Client.ID); err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, e := range r.events(t, c.Client.ID) {
				types = append(types, e.Type)
			}
			if want := []string{domain.AuditClientDeleted, domain.AuditClientSecretRotated, domain.AuditClientCreated}; !slices.Equal(types, want) {
				t.Fatalf("client events %v, want %v", types, want)
			}

			// The other way round: a change refused (a taken name) leaves no event.
			if _, err := r.admin.CreateUser(ctx, usecase.NewUser{Username: "alice", Password: "Correct-Horse-9!"}); err == nil {
				t.Fatal("a taken username was accepted")
			}
			all, err := r.audit.List(ctx, usecase.AuditFilter{Type: domain.AuditUserCreated})
			if err != nil || len(all) != 1 {
				t.Fatalf("user.created events: %+v, %v; want alice's only", all, err)
			}
		})
	}
}
