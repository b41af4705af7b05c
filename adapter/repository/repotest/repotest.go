package repotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/adapter/repository/batchrepo"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// Stores are the ports under test.
type Stores struct {
	Clients  usecase.ClientAdminStore
	Users    usecase.UserStore
	Codes    usecase.CodeStore
	Tokens   usecase.TokenStore
	Consents usecase.ConsentStore
	Sessions usecase.SessionStore
	Keys     usecase.KeyStore
	// AuthRequests is optional: the suite skips it when nil.
	AuthRequests usecase.AuthRequestStore
	// Devices is optional: the suite skips it when nil.
	Devices usecase.DeviceStore
	// NewThrottle is optional: it returns a throttle store with policy and clock now
	// over the storage under test (each call standing for another instance sharing
	// it). The suite skips throttling when nil.
	NewThrottle func(policy domain.ThrottlePolicy, now func() time.Time) usecase.Throttle
	// Purger is optional: housekeeping over the same storage, for the throttle
	// counters' expiry.
	Purger usecase.Purger
	// PushedRequests is optional (RFC 9126): the suite skips it when nil.
	PushedRequests usecase.PushedRequestStore
	// Replay is optional: the jti replay store (DPoP proofs, client assertions).
	Replay usecase.ReplayStore
	// ChangeCounts is optional: it reads the change counters (bunrepo.ChangeCounters)
	// of the storage under test; the suite then checks that the writes of clients and
	// signing keys bump them.
	ChangeCounts func(ctx context.Context) (map[bunrepo.Topic]int64, error)
	// Mail is optional: the outbox of mails not yet sent.
	Mail usecase.MailOutbox
	// Accounts is optional: mailed links and the account writes they need.
	Accounts usecase.AccountStore
	// Logouts is optional: the queue of back-channel logout tokens.
	Logouts usecase.LogoutStore
	// Audit is optional: the audit log.
	Audit usecase.AuditStore
	// Tx is optional: units of work over the stores (the audit log's atomicity).
	Tx usecase.Transactor
	// Factors is optional: second factors (authenticator apps, recovery codes).
	Factors usecase.FactorStore
	// Passkeys is optional: users' WebAuthn credentials.
	Passkeys usecase.PasskeyStore
	// Upstreams is optional: upstream identity providers and linked identities.
	Upstreams usecase.UpstreamStore
	// Resources is optional: the registered protected resources.
	Resources usecase.ResourceStore
	// Scopes is optional: the scope descriptions of the consent page.
	Scopes usecase.ScopeStore
	// Issuance is optional: the tokens issued per hour (the console's chart).
	Issuance usecase.IssuanceStore
}

// RunAll runs the whole contract on the plain Bun repositories over db, which must be
// migrated.
func RunAll(t *testing.T, db *bun.DB) {
	w := bunrepo.NewTxWriter(db)
	s := bunStores(db)
	s.Users = bunrepo.NewUserRepository(db)
	s.Codes = bunrepo.NewCodeRepository(db, w)
	s.Tokens = bunrepo.NewTokenRepository(db, w)
	Run(t, s)
}

// RunAllBatched runs the whole contract on the Bun repositories over db with the fast
// paths of batchrepo, as Wire builds them for the server.
func RunAllBatched(t *testing.T, db *bun.DB) {
	w := batchrepo.NewGroupCommit(db)
	s := bunStores(db)
	s.Users = batchrepo.NewUsers(bunrepo.NewUserRepository(db))
	tokens := batchrepo.NewTokens(bunrepo.NewTokenRepository(db, w), w, db)
	s.Codes = batchrepo.NewCodes(bunrepo.NewCodeRepository(db, w), tokens, w, db)
	s.Tokens = tokens
	Run(t, s)
}

// bunStores are the stores over db that have no fast path (Users, Codes and Tokens are
// left to the caller).
func bunStores(db *bun.DB) Stores {
	return Stores{
		Clients:      bunrepo.NewClientRepository(db),
		Consents:     bunrepo.NewConsentRepository(db),
		Sessions:     bunrepo.NewSessionRepository(db),
		Keys:         bunrepo.NewKeyRepository(db),
		AuthRequests: bunrepo.NewAuthRequestRepository(db),
		Devices:      bunrepo.NewDeviceRepository(db),
		NewThrottle: func(p domain.ThrottlePolicy, now func() time.Time) usecase.Throttle {
			return bunrepo.NewThrottleRepository(db, p, now, nil)
		},
		Purger:         bunrepo.NewHousekeeper(db),
		PushedRequests: bunrepo.NewPushedRequestRepository(db),
		Replay:         bunrepo.NewReplayRepository(db),
		ChangeCounts: func(ctx context.Context) (map[bunrepo.Topic]int64, error) {
			return bunrepo.ChangeCounters(ctx, db)
		},
		Mail:      bunrepo.NewMailRepository(db),
		Accounts:  bunrepo.NewAccountRepository(db),
		Logouts:   bunrepo.NewBackchannelRepository(db),
		Audit:     bunrepo.NewAuditRepository(db),
		Tx:        bunrepo.NewTransactor(db),
		Factors:   bunrepo.NewFactorRepository(db),
		Upstreams: bunrepo.NewUpstreamRepository(db),
		Passkeys:  bunrepo.NewPasskeyRepository(db),
		// Resources: the protected resources (issue 24).
		Resources: bunrepo.NewResourceRepository(db),
		// Scopes: the scope descriptions (issue 25).
		Scopes:   bunrepo.NewScopeRepository(db),
		Issuance: bunrepo.NewIssuanceRepository(db),
	}
}

// Run runs the whole contract on s.
func Run(t *testing.T, s Stores) {
	st := &suite{Stores: s}
	t.Run("Users", st.users)
	t.Run("Clients", st.clients)
	t.Run("Codes", st.codes)
	t.Run("Tokens", st.tokens)
	t.Run("Consents", st.consents)
	t.Run("Sessions", st.sessions)
	t.Run("Keys", st.keys)
	t.Run("Concurrency", st.concurrency)
	t.Run("AuthRequests", st.authRequests)
	t.Run("Devices", st.devices)
	t.Run("PushedRequests", st.pushedRequests)
	t.Run("RegisteredClients", st.registeredClients)
	t.Run("Replay", st.replay)
	t.Run("Changes", st.changes)
	t.Run("Principals", st.principals)
	t.Run("Mail", st.mail)
	t.Run("Accounts", st.accounts)
	t.Run("Logouts", st.logouts)
	t.Run("Audit", st.audit)
	t.Run("Factors", st.factors)
	t.Run("Passkeys", st.passkeys)
	t.Run("AdminLists", st.adminLists)
	t.Run("Upstreams", st.upstreams)
	t.Run("Resources", st.resources)
	t.Run("Scopes", st.scopes)
	t.Run("UnusedClients", st.unusedClients)
	t.Run("Issuance", st.issuance)
	// Last: its purge deletes whatever else has expired by then.
	t.Run("Throttle", st.throttle)
}

// bunrepoDefaultAuditRetention is how long the housekeeping of the suite keeps audit
// events.
const bunrepoDefaultAuditRetention = bunrepo.DefaultAuditRetention

type suite struct {
	Stores
}

// base is the suite's clock: not UTC and with nanoseconds, so the tests see that
// times come back in UTC, truncated to the microsecond every backend keeps.
var base = time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.FixedZone("UTC+1", 3600))

// concurrency is how many goroutines race for one single-use item.
const concurrency = 32

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newID(prefix string) string { return prefix + "-" + randomHex(8) }

// newHash is a random key of one of the two shapes the server stores, in turn: 32
// bytes (an HMAC: client secrets, sessions, tokens made before sorted tokens) and 40
// (a refresh token's or code's time in 8 characters, then its HMAC).
func newHash() []byte {
	if hashes.Add(1)%2 == 0 {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return b
	}
	b := make([]byte, 40)
	copy(b, fmt.Sprintf("%08s", strconv.FormatInt(time.Now().UnixMilli(), 36)))
	_, _ = rand.Read(b[8:])
	return b
}

var hashes atomic.Uint64

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// sameTime checks that got is want, in UTC, at microsecond precision.
func sameTime(t *testing.T, what string, want, got time.Time) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want zero", what, got)
		}
		return
	}
	if got.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, got.Location())
	}
	if w := want.Truncate(time.Microsecond); !got.Equal(w) {
		t.Errorf("%s = %v, want %v", what, got, w.UTC())
	}
}

func sameTimePtr(t *testing.T, what string, want, got *time.Time) {
	t.Helper()
	switch {
	case want == nil && got == nil:
	case want == nil:
		t.Errorf("%s = %v, want nil", what, *got)
	case got == nil:
		t.Errorf("%s = nil, want %v", what, *want)
	default:
		sameTime(t, what, *want, *got)
	}
}

func sameList(t *testing.T, what string, want, got []string) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s = %q, want %q", what, got, want)
		return
	}
	for i := range want {
		if want[i] != got[i] {
			t.Errorf("%s = %q, want %q", what, got, want)
			return
		}
	}
}

func sameBytes(t *testing.T, what string, want, got []byte) {
	t.Helper()
	if !bytes.Equal(want, got) {
		t.Errorf("%s = %x, want %x", what, got, want)
	}
}

// Fixtures: each creates fresh rows through the stores under test.

func (s *suite) newUser(t *testing.T) domain.User {
	t.Helper()
	id := randomHex(8)
	u := domain.User{
		ID: "u-" + id, Username: "user_" + id, Email: "user_" + id + "@example.com",
		PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", CreatedAt: base, UpdatedAt: base,
		// A whole profile and groups, so every read of a user (with a code, a refresh
		// token, in a batch) is checked to bring them.
		Profile:             fullProfile,
		PhoneNumberVerified: true,
		Groups:              []string{"admins", "team:équipe"},
		// Set beside Email only so that every read of a user is checked to bring it.
		ClaimedEmail: "claimed_" + id + "@example.com",
	}
	noErr(t, s.Users.CreateUser(t.Context(), u))
	return u
}

// fullProfile has every profile field set, with text that survives only if nothing
// on the way normalises it.
var fullProfile = domain.Profile{
	Name: "Zoë \"Z\" O'Brien-山田", GivenName: "Zoë", FamilyName: "O'Brien", Picture: "https://img.example.com/z.png?s=64&x=%20",
	Locale: "fr-CA", Zoneinfo: "America/Argentina/Buenos_Aires", PhoneNumber: "+15145550100",
}

// someClaims is a claims request (OpenID Connect Core §5.5) the stored grants carry.
var someClaims = domain.ClaimsRequest{IDToken: domain.ClaimEmail | domain.ClaimGroups, UserInfo: domain.ClaimPhoneNumber,
	ACR: domain.ACRMFA + " " + domain.ACRPhishingResistant}

// someAMR are the authentication methods the fixtures' codes and tokens carry.
var someAMR = []string{"pwd", "otp", "mfa"}

func (s *suite) newClient(t *testing.T) domain.Client {
	t.Helper()
	id := randomHex(8)
	c := domain.Client{
		ID: "c-" + id, Name: "client " + id, SecretHash: newHash(),
		RedirectURIs: []string{"https://app.example.com/cb"},
		GrantTypes:   []string{domain.GrantAuthorizationCode, domain.GrantRefreshToken},
		Scopes:       []string{"openid", "offline_access"}, IDTokenAlg: domain.AlgRS256,
		CreatedAt: base, UpdatedAt: base,
	}
	noErr(t, s.Clients.CreateClient(t.Context(), c))
	return c
}

// newSession stores a browser session of u, live for a day from base.
func (s *suite) newSession(t *testing.T, u domain.User) domain.Session {
	t.Helper()
	sess := domain.Session{ID: newID("s"), SecretHash: newHash(), UserID: u.ID,
		AuthTime: base.Add(-time.Minute), CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour)}
	noErr(t, s.Sessions.CreateSession(t.Context(), sess))
	return sess
}

// newFamily stores a family of user and client with a first refresh token.
func (s *suite) newFamily(t *testing.T, u domain.User, c domain.Client, sessionID string) (usecase.TokenFamily, domain.RefreshToken) {
	t.Helper()
	f := usecase.TokenFamily{
		ID: newID("fam"), ClientID: c.ID, UserID: u.ID, SessionID: sessionID,
		CreatedAt: base, ExpiresAt: base.Add(720 * time.Hour),
	}
	rt := s.refreshToken(f)
	noErr(t, s.Tokens.CreateFamily(t.Context(), f, &rt))
	return f, rt
}

// refreshToken is a new, unstored token of family f, valid for an hour from base.
func (s *suite) refreshToken(f usecase.TokenFamily) domain.RefreshToken {
	return domain.RefreshToken{
		Hash: newHash(), FamilyID: f.ID, ClientID: f.ClientID, UserID: f.UserID,
		Scope: []string{"openid", "offline_access"}, Audience: []string{"https://api.example.com"},
		AuthTime: base.Add(-time.Minute), Nonce: "n-0S6_WzA2Mj", SessionID: f.SessionID, Claims: someClaims, AMR: someAMR,
		CreatedAt: base, ExpiresAt: base.Add(time.Hour),
	}
}
