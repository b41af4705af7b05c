package adminapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/adapter/crypto"
	"gatehouse/adapter/identifier"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/adapter/token"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

const testIssuer = "https://auth.test"

// testAdminClient is the client id of the fixture's admin token (client credentials):
// the actor of what the tests do through the API.
const testAdminClient = "admin-automation"

// stepClock moves a second at each reading, so that every write gets an updated_at
// (and an ETag) of its own.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// allowVerifier is the resource server's verification of the fixture's token (the
// signature and claims are another package's tests): any token has scope
// gatehouse:admin.
type allowVerifier struct{}

func (allowVerifier) VerifyAdminToken(context.Context, string) ([]string, error) {
	return []string{domain.ScopeAdmin}, nil
}

// clientToken is an access token the server issued to testAdminClient by client
// credentials; the server's own checks (revocation, scope) run on it for real.
type clientToken struct{ clock usecase.Clock }

func (v clientToken) VerifyAccessToken(context.Context, string) (domain.AccessToken, error) {
	now := v.clock.Now()
	return domain.AccessToken{ID: "jti-admin", ClientID: testAdminClient, Subject: testAdminClient,
		Audience: []string{testIssuer + domain.AdminAPIAudiencePath}, Scope: []string{domain.ScopeAdmin},
		IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)}, nil
}

// apiFixture is the admin API as `gatehouse serve` wires it (the real use cases,
// audited, over the Bun repositories on a fresh database), called in-process with
// an admin token.
type apiFixture struct {
	t         testing.TB
	e         *echo.Echo
	clock     *stepClock
	admin     *usecase.Admin
	keys      *usecase.Keys
	sessions  *bunrepo.SessionRepository
	consents  *bunrepo.ConsentRepository
	upstreams *usecase.Upstreams
	// identities stores the identities linked at the upstreams.
	identities *bunrepo.UpstreamRepository
}

// eachDatabase runs f on a fixture over every database backend at hand (SQLite
// always; PostgreSQL and MySQL when their test servers answer).
func eachDatabase(t *testing.T, f func(t *testing.T, fx *apiFixture)) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) { f(t, newAPIFixture(t, url)) })
	}
}

func newAPIFixture(t testing.TB, url string) *apiFixture {
	db := bunrepotest.Open(t, url)
	clk := &stepClock{t: time.Now().UTC().Truncate(time.Second)}
	secrets, err := crypto.DeriveKeys("an admin api test secret key that is long enough")
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
	log := slog.New(slog.DiscardHandler)
	random, rules := crypto.NewRandom(), identifier.NewRules()
	users, clients := bunrepo.NewUserRepository(db), bunrepo.NewClientRepository(db)
	tokens := bunrepo.NewTokenRepository(db, bunrepo.NewTxWriter(db))
	sessions, consents := bunrepo.NewSessionRepository(db), bunrepo.NewConsentRepository(db)
	audit := usecase.NewAudit(bunrepo.NewAuditRepository(db), bunrepo.NewTransactor(db), random, clk, log)
	admin := usecase.NewAdminWithClientKeys(users, rules, clients, tokens, sessions, passwords, hasher, random, clk, nil, nil, audit)
	settings := usecase.Settings{Issuer: testIssuer, SigningAlg: domain.AlgES256}
	keys := usecase.NewAuditedKeys(bunrepo.NewKeyRepository(db), token.NewKeyGenerator(cipher), clk, settings, audit)
	identities := bunrepo.NewUpstreamRepository(db)
	upstreams := usecase.NewUpstreams(identities, users, rules, nil, cipher, random, hasher,
		bunrepo.NewReplayRepository(db), clk, audit, nil, nil, usecase.UpstreamSettings{Issuer: testIssuer})
	resources := usecase.NewAdminResources(admin, users, clients, sessions, sessions, consents, tokens, nil, audit, clk)
	api := New(Config{Issuer: testIssuer, Verifier: allowVerifier{}, Access: usecase.NewAdminAccess(clientToken{clk}, tokens, users),
		Admin: admin, Resources: resources, Keys: keys, Upstreams: upstreams, Clock: clk, Log: log})
	e := echo.New()
	api.Mount(e)
	return &apiFixture{t: t, e: e, clock: clk, admin: admin, keys: keys, sessions: sessions, consents: consents, upstreams: upstreams,
		identities: identities}
}

// response is an answer of the API.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// call sends a request with the admin token; body, when not nil, is sent as JSON (a
// string as it is), with header pairs.
func (fx *apiFixture) call(method, path string, body any, header ...string) response {
	fx.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			fx.t.Fatal(err)
		}
		r = strings.NewReader(string(raw))
	}
	req := httptest.NewRequest(method, Prefix+path, r)
	req.Header.Set("Authorization", "Bearer an-admin-token")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	fx.e.ServeHTTP(rec, req)
	return response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// want calls and fails the test unless the answer has status; it decodes the body
// into out when out is not nil.
func (fx *apiFixture) want(status int, method, path string, body, out any, header ...string) response {
	fx.t.Helper()
	r := fx.call(method, path, body, header...)
	if r.Status != status {
		fx.t.Fatalf("%s %s: %d, want %d\n%s", method, path, r.Status, status, r.Body)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			fx.t.Fatalf("%s %s: %v\n%s", method, path, err, r.Body)
		}
	}
	return r
}
