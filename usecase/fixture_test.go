package usecase_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/adapter/crypto"
	"gatehouse/adapter/identifier"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/adapter/throttle"
	"gatehouse/adapter/token"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

// clock is a fixed clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is the use cases wired to the real Bun repositories over SQLite in a temp
// directory, the real crypto and JWT adapters, and a fixed clock.
type fixture struct {
	ctx      context.Context
	clock    *clock
	settings usecase.Settings
	random   crypto.Random
	hasher   *crypto.SecretHasher
	clients  *bunrepo.ClientRepository
	users    *bunrepo.UserRepository
	codes    *bunrepo.CodeRepository
	tokens   *bunrepo.TokenRepository
	issued   *usecase.IssuanceCounter
	keys     *usecase.Keys
	verifier *token.Verifier
	hints    *token.HintVerifier
	throttle *throttle.Memory
	admin    *usecase.Admin
	token    *usecase.Token
	grants   usecase.Grants
	devices  *bunrepo.DeviceRepository
	revoke   *usecase.Revoke
	inspect  *usecase.Introspect
	// db, auth and minter let tests in other files build more use cases on the
	// same repositories and keys.
	db     *bun.DB
	auth   *usecase.ClientAuthenticator
	minter *usecase.Minter
	// keyRepo, keyGen and ring let key tests build Keys with other settings.
	keyRepo *bunrepo.KeyRepository
	keyGen  *token.KeyGenerator
	ring    *token.KeyRing
	// dpop checks DPoP proofs with the real parser, replay store and nonces.
	dpop *usecase.DPoP
	// passwords hashes and checks passwords as the admin's user creation does.
	passwords *crypto.PasswordHasher
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := bunrepotest.Open(t, dbtest.SQLite(t))
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	settings := usecase.Settings{
		Issuer: "https://auth.test", Audience: "https://api.test",
		AccessTokenTTL: usecase.AccessTokenTTL(15 * time.Minute), RefreshTokenTTL: usecase.RefreshTokenTTL(24 * time.Hour),
		AuthCodeTTL: usecase.AuthCodeTTL(time.Minute), IDTokenTTL: usecase.IDTokenTTL(time.Hour),
		SigningAlg: domain.AlgES256, RequirePKCE: true,
	}
	keys, err := crypto.DeriveKeys("a test secret key that is long enough!!")
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := crypto.NewSecretHasher(keys)
	if err != nil {
		t.Fatal(err)
	}
	passwords, err := crypto.NewPasswordHasher(crypto.PasswordParams{Memory: 8 * 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := crypto.NewKeyCipher(keys)
	if err != nil {
		t.Fatal(err)
	}
	random := crypto.NewRandom()
	f := &fixture{ctx: ctx, clock: clk, settings: settings, random: random, hasher: hasher,
		clients: bunrepo.NewClientRepository(db), users: bunrepo.NewUserRepository(db),
		codes: bunrepo.NewCodeRepository(db, bunrepo.NewTxWriter(db)), tokens: bunrepo.NewTokenRepository(db, bunrepo.NewTxWriter(db))}
	keyRepo := bunrepo.NewKeyRepository(db)
	f.keyRepo, f.keyGen = keyRepo, token.NewKeyGenerator(cipher)
	f.keys = usecase.NewKeys(keyRepo, f.keyGen, clk, settings)
	if err := f.keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	ring := token.NewKeyRing(keyRepo, cipher, token.KeyRingConfig{Now: clk.Now})
	f.ring = ring
	signer, err := token.NewSigner(ring, token.SignerConfigFromSettings(settings))
	if err != nil {
		t.Fatal(err)
	}
	f.verifier, err = token.NewVerifier(ring, token.VerifierConfigFromSettings(settings), clk)
	if err != nil {
		t.Fatal(err)
	}
	if f.hints, err = token.NewHintVerifier(ring, token.VerifierConfigFromSettings(settings), clk); err != nil {
		t.Fatal(err)
	}
	f.throttle = throttle.NewMemory(throttle.Policy{FreeFailures: 3, BaseDelay: time.Minute, MaxDelay: time.Hour, Forget: time.Hour, MaxKeys: 1000}, clk.Now)
	auth := usecase.NewClientAuthenticator(f.clients, hasher, f.throttle)
	minter := usecase.NewMinter(signer, signer, f.tokens, f.users, random, hasher, clk, settings)
	f.db, f.auth, f.minter, f.passwords = db, auth, minter, passwords
	f.dpop = usecase.NewDPoP(token.NewDPoPParser(), bunrepo.NewReplayRepository(db), crypto.NewDPoPNonces(keys), clk,
		usecase.DPoPConfig{IATWindow: time.Minute}, settings)
	f.admin = usecase.NewAdmin(f.users, identifier.NewRules(), f.clients, f.tokens, bunrepo.NewSessionRepository(db), passwords, hasher, random, clk)
	f.devices = bunrepo.NewDeviceRepository(db)
	f.grants = usecase.Grants{
		ClientCredentials: usecase.NewClientCredentialsGrant(minter, settings),
		Password:          usecase.NewPasswordGrant(f.users, identifier.NewRules(), passwords, f.throttle, minter, clk, settings, nil),
		RefreshToken:      usecase.NewRefreshTokenGrant(f.tokens, hasher, minter, clk),
		AuthorizationCode: usecase.NewAuthorizationCodeGrant(f.codes, hasher, minter, clk),
		DeviceCode:        usecase.NewDeviceCodeGrant(f.devices, f.users, hasher, minter, clk),
		TokenExchange:     usecase.NewTokenExchangeGrant(f.verifier, f.tokens, minter, clk, settings),
	}
	f.issued = usecase.NewIssuanceCounter(bunrepo.NewIssuanceRepository(db), clk)
	f.token = usecase.NewToken(auth, f.grants, f.dpop, f.issued)
	f.revoke = usecase.NewRevoke(auth, f.tokens, f.verifier, hasher, clk)
	f.inspect = usecase.NewIntrospect(auth, f.tokens, f.verifier, hasher, clk, settings)
	return f
}

// client registers a client and returns it with credentials for client_secret_basic.
func (f *fixture) client(t *testing.T, in usecase.NewClient) (domain.Client, usecase.Credentials) {
	t.Helper()
	if in.Name == "" {
		in.Name = "client-" + f.random.ID()
	}
	c, err := f.admin.CreateClient(f.ctx, in)
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	cr := usecase.Credentials{ClientID: c.Client.ID, Secret: c.Secret, Method: usecase.AuthMethodBasic, Address: "192.0.2.1"}
	if in.Public {
		cr.Method = usecase.AuthMethodNone
	}
	return c.Client, cr
}

func (f *fixture) user(t *testing.T, name, password string) domain.User {
	t.Helper()
	u, err := f.admin.CreateUser(f.ctx, usecase.NewUser{Username: name, Email: name + "@example.com", Password: password})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

// active reports what introspection says of a token.
func (f *fixture) active(t *testing.T, cr usecase.Credentials, tok string) bool {
	t.Helper()
	in, err := f.inspect.Execute(f.ctx, usecase.IntrospectRequest{Credentials: cr, Token: tok})
	if err != nil {
		t.Fatalf("introspect: %v", err)
	}
	return in.Active
}
