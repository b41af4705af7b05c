package usecase

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"gatehouse/domain"
)

// LogoutStore finds the clients to tell when a browser session ends and keeps the
// logout tokens not delivered yet (OpenID Connect Back-Channel Logout 1.0).
type LogoutStore interface {
	// LogoutTargetsOfSession lists each client with a back-channel logout URI that
	// got tokens under the session; LogoutTargetsOfUser does so for every live
	// session of the user.
	LogoutTargetsOfSession(ctx context.Context, sessionID string) ([]LogoutTarget, error)
	LogoutTargetsOfUser(ctx context.Context, userID string) ([]LogoutTarget, error)
	EnqueueLogouts(ctx context.Context, ds []LogoutDelivery) error
	// DueLogouts lists up to limit deliveries due at now, oldest first.
	DueLogouts(ctx context.Context, now time.Time, limit int) ([]LogoutDelivery, error)
	DeleteLogout(ctx context.Context, id string) error
	RetryLogout(ctx context.Context, id string, attempts int, next time.Time) error
}

// LogoutTarget is one client to tell that one session ended.
type LogoutTarget struct {
	SessionID, UserID, ClientID string
	URI                         string // the client's backchannel_logout_uri
	IDTokenAlg                  string
}

// LogoutDelivery is a logout to deliver to a client: the token is signed at each
// attempt, so that a retry after the last one's token expired carries a live one.
type LogoutDelivery struct {
	ID         string
	ClientID   string
	URI        string
	UserID     string
	SessionID  string
	IDTokenAlg string
	// Untrusted: a dynamically registered client chose the URI (or the client is
	// gone), so it is reached at public addresses only (SECURITY S57).
	Untrusted     bool
	Attempts      int
	CreatedAt     time.Time
	NextAttemptAt time.Time
}

// LogoutTokenSigner signs logout tokens (adapter/token.Signer).
type LogoutTokenSigner interface {
	SignLogoutToken(ctx context.Context, t domain.LogoutToken) (string, error)
}

// LogoutSender delivers a logout token to a client's back-channel logout URI; nil
// when the client took it (adapter/backchannel.Sender). An untrusted URI, one a
// registrant chose, may lead to public addresses only.
type LogoutSender interface {
	SendLogoutToken(ctx context.Context, uri, token string, untrusted bool) error
}

// BackchannelLogoutLease names the lease of the delivery job: one instance delivers
// at a time on a shared database.
const BackchannelLogoutLease = "backchannel_logout"

// backchannelRetries are the waits after each failed delivery; after the last the
// delivery is dropped (the client's own session times out in the end).
var backchannelRetries = []time.Duration{10 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute}

// BackchannelLogout tells clients that sessions they took part in ended. Ending a
// session only signs and stores the logout tokens; a background job delivers them,
// so a client that never answers costs the user who signs out nothing.
type BackchannelLogout struct {
	store   LogoutStore
	signer  LogoutTokenSigner
	sender  LogoutSender
	leases  Leases
	random  Random
	clock   Clock
	holder  string
	timeout time.Duration
}

// NewBackchannelLogout builds the use case.
func NewBackchannelLogout(store LogoutStore, signer LogoutTokenSigner, sender LogoutSender, leases Leases, random Random,
	clock Clock) *BackchannelLogout {
	return &BackchannelLogout{store: store, signer: signer, sender: sender, leases: leases, random: random, clock: clock,
		holder: random.ID(), timeout: 5 * time.Second}
}

// SessionEnded queues the logout tokens of one session.
func (b *BackchannelLogout) SessionEnded(ctx context.Context, sessionID string) error {
	if b == nil || sessionID == "" {
		return nil
	}
	targets, err := b.store.LogoutTargetsOfSession(ctx, sessionID)
	if err != nil {
		return fmt.Errorf("find the clients of the session: %w", err)
	}
	return b.queue(ctx, targets)
}

// UserSessionsEnded queues the logout tokens of every live session of a user; call
// it before the sessions are deleted.
func (b *BackchannelLogout) UserSessionsEnded(ctx context.Context, userID string) error {
	if b == nil {
		return nil
	}
	targets, err := b.store.LogoutTargetsOfUser(ctx, userID)
	if err != nil {
		return fmt.Errorf("find the clients of the user's sessions: %w", err)
	}
	return b.queue(ctx, targets)
}

func (b *BackchannelLogout) queue(ctx context.Context, targets []LogoutTarget) error {
	if len(targets) == 0 {
		return nil
	}
	now := b.clock.Now()
	ds := make([]LogoutDelivery, 0, len(targets))
	for _, t := range targets {
		ds = append(ds, LogoutDelivery{ID: b.random.FamilyID(), ClientID: t.ClientID, URI: t.URI, UserID: t.UserID,
			SessionID: t.SessionID, IDTokenAlg: t.IDTokenAlg, CreatedAt: now, NextAttemptAt: now})
	}
	return b.store.EnqueueLogouts(ctx, ds)
}

// LogoutResult is what became of one delivery, for the log.
type LogoutResult struct {
	ClientID string
	Attempts int
	Err      error // nil when the client answered 200 or 204
	Dropped  bool  // no retry left
	Retry    time.Duration
}

// DeliverDue delivers the due logouts, when there are any, if this instance holds
// the lease (it takes it then), up to eight clients at once, each POST bounded by a
// timeout.
func (b *BackchannelLogout) DeliverDue(ctx context.Context, leaseTTL time.Duration) ([]LogoutResult, error) {
	// A look first, without the lease: taking it is a write, and an idle server
	// would otherwise write to the database every round.
	due, err := b.store.DueLogouts(ctx, b.clock.Now(), 1)
	if err != nil {
		return nil, fmt.Errorf("list due logout tokens: %w", err)
	}
	if len(due) == 0 {
		return nil, nil
	}
	ok, err := b.leases.AcquireLease(ctx, BackchannelLogoutLease, b.holder, b.clock.Now(), leaseTTL)
	if err != nil || !ok {
		return nil, err
	}
	due, err = b.store.DueLogouts(ctx, b.clock.Now(), 64)
	if err != nil {
		return nil, fmt.Errorf("list due logout tokens: %w", err)
	}
	results := make([]LogoutResult, len(due))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, d := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = b.deliver(ctx, d)
		}()
	}
	wg.Wait()
	var errs []error
	for i, d := range due {
		r := results[i]
		switch {
		case r.Err == nil || r.Dropped:
			errs = append(errs, b.store.DeleteLogout(ctx, d.ID))
		default:
			errs = append(errs, b.store.RetryLogout(ctx, d.ID, r.Attempts, b.clock.Now().Add(r.Retry)))
		}
	}
	return results, errors.Join(errs...)
}

// Release gives the lease up (shutdown).
func (b *BackchannelLogout) Release(ctx context.Context) error {
	return b.leases.ReleaseLease(ctx, BackchannelLogoutLease, b.holder)
}

func (b *BackchannelLogout) deliver(ctx context.Context, d LogoutDelivery) LogoutResult {
	r := LogoutResult{ClientID: d.ClientID, Attempts: d.Attempts + 1}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	now := b.clock.Now()
	tok, err := b.signer.SignLogoutToken(ctx, domain.LogoutToken{ID: b.random.ID(), Subject: d.UserID,
		Audience: d.ClientID, SessionID: d.SessionID, IssuedAt: now, ExpiresAt: now.Add(2 * time.Minute), Alg: d.IDTokenAlg})
	if err == nil {
		err = b.sender.SendLogoutToken(ctx, d.URI, tok, d.Untrusted)
	}
	if err == nil {
		return r
	}
	r.Err = err
	if d.Attempts >= len(backchannelRetries) {
		r.Dropped = true
		return r
	}
	r.Retry = backchannelRetries[d.Attempts]
	return r
}
