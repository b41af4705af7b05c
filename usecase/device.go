package usecase

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"time"

	"gatehouse/domain"
)

// The device authorization grant (RFC 8628) lets a device with no browser or keyboard
// (a CLI, a TV) act for a user: the device asks the device authorization endpoint for
// a device code and a short user code (Device.Authorize), shows the user code, and polls
// the token endpoint with the device code (DeviceCodeGrant) while the user enters the
// code on the verification page in any browser, logs in and approves (Device.Lookup,
// Approve, Deny).

// DeviceAuthorizationRequest is a parsed POST to the device authorization endpoint
// (RFC 8628 §3.1). Empty strings mean absent.
type DeviceAuthorizationRequest struct {
	Credentials Credentials
	Scope       string
	Resource    []string
}

// DeviceAuthorizationResponse is what the device gets back (RFC 8628 §3.2).
type DeviceAuthorizationResponse struct {
	DeviceCode string
	// UserCode is formatted for people: XXXX-XXXX.
	UserCode                string
	VerificationURI         string
	VerificationURIComplete string
	ExpiresIn               time.Duration
	Interval                time.Duration
}

// DevicePrompt is a pending device authorization as the verification page shows it.
type DevicePrompt struct {
	// UserCode is formatted for people: XXXX-XXXX.
	UserCode  string
	Client    domain.Client
	Scope     []string
	ExpiresAt time.Time
}

// userCodeAttempts bounds the retries when a new user code collides with a stored
// one. Expired authorizations are deleted by Housekeeping an hour after expiry, so a
// device still polling is told expired_token rather than invalid_grant.
const userCodeAttempts = 5

// Device is the device authorization endpoint and the verification page behind it.
type Device struct {
	auth     *ClientAuthenticator
	devices  DeviceStore
	clients  ClientStore
	users    UserStore
	throttle Throttle
	hasher   SecretHasher
	random   Random
	clock    Clock
	settings Settings
}

// NewDevice builds the device authorization endpoint and verification page.
func NewDevice(auth *ClientAuthenticator, devices DeviceStore, clients ClientStore, users UserStore, throttle Throttle,
	hasher SecretHasher, random Random, clock Clock, settings Settings) *Device {
	return &Device{auth: auth, devices: devices, clients: clients, users: users, throttle: throttle,
		hasher: hasher, random: random, clock: clock, settings: settings}
}

// TTL is the lifetime of new device and user codes.
func (uc *Device) TTL() time.Duration {
	ttl := time.Duration(uc.settings.DeviceCodeTTL)
	if ttl <= 0 || ttl > domain.MaxDeviceCodeTTL {
		return domain.DefaultDeviceCodeTTL
	}
	return ttl
}

// VerificationURI is the page where users enter user codes.
func (uc *Device) VerificationURI() string { return string(uc.settings.Issuer) + "/device" }

// Authorize authenticates the client (confidential clients with their secret, public
// ones by client_id alone: the shared ClientAuthenticator), checks that it may use the
// device grant, and the scope and resources as every grant does, then starts a device
// authorization.
func (uc *Device) Authorize(ctx context.Context, req DeviceAuthorizationRequest) (DeviceAuthorizationResponse, error) {
	client, err := uc.auth.Authenticate(ctx, req.Credentials)
	if err != nil {
		return DeviceAuthorizationResponse{}, err
	}
	if !client.AllowsGrant(domain.GrantDeviceCode) {
		return DeviceAuthorizationResponse{}, domain.ErrUnauthorizedClient
	}
	scope, err := requestedScope(client, req.Scope)
	if err != nil {
		return DeviceAuthorizationResponse{}, err
	}
	aud, err := client.Audience(req.Resource, string(uc.settings.Audience))
	if err != nil {
		return DeviceAuthorizationResponse{}, err
	}
	now := uc.clock.Now()
	ttl := uc.TTL()
	deviceCode := uc.random.Token()
	d := domain.DeviceAuthorization{
		DeviceCodeHash: uc.hasher.HashSecret(deviceCode),
		ClientID:       client.ID, Scope: scope, Audience: aud,
		Interval: domain.DevicePollInterval, Status: domain.DevicePending,
		FamilyID: uc.random.FamilyID(), CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	var userCode string
	for attempt := 1; ; attempt++ {
		if userCode, err = uc.newUserCode(); err != nil {
			return DeviceAuthorizationResponse{}, err
		}
		d.UserCodeHash = uc.hasher.HashSecret(userCode)
		err = uc.devices.CreateDeviceAuthorization(ctx, d)
		if err == nil {
			break
		}
		// A collision with a stored user code (1 in 2^34 per stored code): draw again.
		if !errors.Is(err, domain.ErrDuplicate) || attempt == userCodeAttempts {
			return DeviceAuthorizationResponse{}, fmt.Errorf("store device authorization: %w", err)
		}
	}
	shown := domain.FormatUserCode(userCode)
	return DeviceAuthorizationResponse{
		DeviceCode:              deviceCode,
		UserCode:                shown,
		VerificationURI:         uc.VerificationURI(),
		VerificationURIComplete: uc.VerificationURI() + "?user_code=" + url.QueryEscape(shown),
		ExpiresIn:               ttl,
		Interval:                domain.DevicePollInterval,
	}, nil
}

// newUserCode draws a normalised user code from the 256 random bits of Random.Token.
func (uc *Device) newUserCode() (string, error) {
	for range 8 {
		b, err := base64.RawURLEncoding.DecodeString(uc.random.Token())
		if err != nil {
			return "", fmt.Errorf("decode random bytes for a user code: %w", err)
		}
		if code, ok := domain.NewUserCode(b); ok {
			return code, nil
		}
	}
	return "", errors.New("draw a user code: not enough usable random bytes")
}

// userCodeThrottleKey counts failed user-code entries per address: a user code has
// only some 34 bits, so guessing must stay slow (RFC 8628 §5.1, SECURITY S28).
func userCodeThrottleKey(address string) string {
	return "device-user-code:" + domain.ThrottleAddress(address)
}

// pending finds the pending authorization of a typed user code. Every entry is
// throttled per address; unknown and malformed codes count as failures. A success
// does not clear the counter, so a guesser cannot reset it with a code of their own.
func (uc *Device) pending(ctx context.Context, typed, address string) (domain.DeviceAuthorization, domain.Client, error) {
	key := userCodeThrottleKey(address)
	if err := uc.throttle.Check(ctx, key); err != nil {
		return domain.DeviceAuthorization{}, domain.Client{}, err
	}
	code, ok := domain.NormalizeUserCode(typed)
	if !ok {
		uc.throttle.Failure(ctx, key)
		return domain.DeviceAuthorization{}, domain.Client{}, domain.ErrUserCodeUnknown
	}
	d, err := uc.devices.DeviceAuthorizationByUserCode(ctx, uc.hasher.HashSecret(code))
	switch {
	case errors.Is(err, domain.ErrNotFound):
		uc.throttle.Failure(ctx, key)
		return domain.DeviceAuthorization{}, domain.Client{}, domain.ErrUserCodeUnknown
	case err != nil:
		return domain.DeviceAuthorization{}, domain.Client{}, fmt.Errorf("look up user code: %w", err)
	}
	// A decided code says so even once expired: it tells the user more.
	if d.Status != domain.DevicePending {
		return domain.DeviceAuthorization{}, domain.Client{}, domain.ErrUserCodeUsed
	}
	if d.Expired(uc.clock.Now()) {
		return domain.DeviceAuthorization{}, domain.Client{}, domain.ErrUserCodeExpired
	}
	client, err := liveClient(ctx, uc.clients, d.ClientID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.DeviceAuthorization{}, domain.Client{}, domain.ErrUserCodeUnknown
	case err != nil:
		return domain.DeviceAuthorization{}, domain.Client{}, fmt.Errorf("look up client: %w", err)
	}
	return d, client, nil
}

func newDevicePrompt(code string, d domain.DeviceAuthorization, c domain.Client) DevicePrompt {
	n, _ := domain.NormalizeUserCode(code)
	return DevicePrompt{UserCode: domain.FormatUserCode(n), Client: c, Scope: d.Scope, ExpiresAt: d.ExpiresAt}
}

// Lookup returns what the verification page asks the user to confirm for a typed user
// code (case, dashes and spaces do not matter). Errors: domain.ErrUserCodeUnknown,
// ErrUserCodeExpired, ErrUserCodeUsed, *domain.ThrottledError, or a wrapped storage
// failure.
func (uc *Device) Lookup(ctx context.Context, typed, address string) (DevicePrompt, error) {
	d, c, err := uc.pending(ctx, typed, address)
	if err != nil {
		return DevicePrompt{}, err
	}
	return newDevicePrompt(typed, d, c), nil
}

// Approve lets the device of a typed user code have tokens for the user of session s.
// The page always asks before approving, even for clients registered to skip consent
// and users who consented before: the code may have been sent by an attacker hoping
// the user approves their device (remote phishing, RFC 8628 §5.4). Errors as Lookup,
// domain.ErrUserDisabled for a session of a user disabled meanwhile,
// ErrDeviceNeedsSecondFactor and ErrDeviceNeedsVerifiedEmail for a session that must
// take a step first (the page sends the browser there).
func (uc *Device) Approve(ctx context.Context, typed, address string, s domain.Session) (DevicePrompt, error) {
	d, c, err := uc.pending(ctx, typed, address)
	if err != nil {
		return DevicePrompt{}, err
	}
	if uc.NeedsSecondFactor(s, c) {
		return DevicePrompt{}, ErrDeviceNeedsSecondFactor
	}
	switch u, err := uc.users.UserByID(ctx, s.UserID); {
	case errors.Is(err, domain.ErrNotFound), err == nil && u.Disabled:
		return DevicePrompt{}, domain.ErrUserDisabled
	case err != nil:
		return DevicePrompt{}, fmt.Errorf("look up the session's user: %w", err)
	case uc.settings.RequireVerifiedEmail && !u.EmailVerified:
		// As no application gets a code for them (Authorize.gates), no device gets
		// tokens (GATEHOUSE_EMAIL_VERIFICATION=required).
		return DevicePrompt{}, ErrDeviceNeedsVerifiedEmail
	}
	a := DeviceApproval{UserID: s.UserID, AuthTime: s.AuthTime, SessionID: s.ID, AMR: sessionAMR(s)}
	if err := uc.decided(uc.devices.ApproveDeviceAuthorization(ctx, d.DeviceCodeHash, a, uc.clock.Now()), "approve"); err != nil {
		return DevicePrompt{}, err
	}
	return newDevicePrompt(typed, d, c), nil
}

// Deny refuses the device of a typed user code: its next poll gets access_denied.
func (uc *Device) Deny(ctx context.Context, typed, address string) (DevicePrompt, error) {
	d, c, err := uc.pending(ctx, typed, address)
	if err != nil {
		return DevicePrompt{}, err
	}
	if err := uc.decided(uc.devices.DenyDeviceAuthorization(ctx, d.DeviceCodeHash, uc.clock.Now()), "deny"); err != nil {
		return DevicePrompt{}, err
	}
	return newDevicePrompt(typed, d, c), nil
}

// decided translates the outcome of a conditional approve or deny: losing the race to
// another tab's decision, or to expiry, means the code is used up.
func (uc *Device) decided(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, domain.ErrAlreadyUsed):
		return domain.ErrUserCodeUsed
	case errors.Is(err, domain.ErrNotFound):
		return domain.ErrUserCodeUnknown
	}
	return fmt.Errorf("%s device authorization: %w", what, err)
}

// DeviceCodeGrant is the token endpoint's side of the device flow (RFC 8628 §3.4,
// §3.5): the device polls with its device code until the user has decided.
type DeviceCodeGrant struct {
	devices DeviceStore
	users   UserStore
	hasher  SecretHasher
	minter  *Minter
	clock   Clock
}

// NewDeviceCodeGrant builds the grant.
func NewDeviceCodeGrant(devices DeviceStore, users UserStore, hasher SecretHasher, minter *Minter, clock Clock) *DeviceCodeGrant {
	return &DeviceCodeGrant{devices: devices, users: users, hasher: hasher, minter: minter, clock: clock}
}

var errBadDeviceCode = domain.ErrInvalidGrant.WithDescription("the device code is invalid or was already used")

// Execute answers one poll. The order of the checks matters: a device code of another
// client is refused before the poll is recorded, so another client cannot push the
// device into slow_down; and the approved authorization is consumed by one conditional
// update, so of concurrent polls exactly one gets tokens. A second poll after success
// is invalid_grant; unlike a replayed authorization code it revokes nothing, since
// only the device (which polls, sometimes twice) ever held the device code.
func (g *DeviceCodeGrant) Execute(ctx context.Context, client domain.Client, req TokenRequest) (domain.IssuedTokens, error) {
	if req.DeviceCode == "" {
		return domain.IssuedTokens{}, domain.ErrInvalidRequest.WithDescription("missing device_code")
	}
	now := g.clock.Now()
	hash := g.hasher.HashSecret(req.DeviceCode)
	d, err := g.devices.DeviceAuthorizationByDeviceCode(ctx, hash)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.IssuedTokens{}, errBadDeviceCode
	case err != nil:
		return domain.IssuedTokens{}, fmt.Errorf("look up device code: %w", err)
	}
	if d.ClientID != client.ID || d.ConsumedAt != nil {
		return domain.IssuedTokens{}, errBadDeviceCode
	}
	if d.Expired(now) {
		return domain.IssuedTokens{}, domain.ErrExpiredToken.WithDescription("the device code has expired; start again on the device")
	}
	d, slowDown, err := g.devices.PollDeviceAuthorization(ctx, hash, now)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.IssuedTokens{}, errBadDeviceCode
	case err != nil:
		return domain.IssuedTokens{}, fmt.Errorf("record device poll: %w", err)
	}
	switch d.Status {
	case domain.DeviceDenied:
		return domain.IssuedTokens{}, domain.ErrAccessDenied.WithDescription("the user denied the request")
	case domain.DevicePending:
		if slowDown {
			return domain.IssuedTokens{}, domain.ErrSlowDown.WithDescription(
				"polling too fast; wait at least %d seconds between requests", int(d.Interval/time.Second))
		}
		return domain.IssuedTokens{}, domain.ErrAuthorizationPending.WithDescription("the user has not decided yet")
	case domain.DeviceApproved:
	default:
		return domain.IssuedTokens{}, fmt.Errorf("device authorization in unknown state %q", d.Status)
	}
	switch err := g.devices.ConsumeDeviceAuthorization(ctx, hash, now); {
	case errors.Is(err, domain.ErrAlreadyUsed), errors.Is(err, domain.ErrNotFound):
		return domain.IssuedTokens{}, errBadDeviceCode
	case err != nil:
		return domain.IssuedTokens{}, fmt.Errorf("consume device code: %w", err)
	}
	user, err := g.users.UserByID(ctx, d.UserID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.IssuedTokens{}, errBadDeviceCode
	case err != nil:
		return domain.IssuedTokens{}, fmt.Errorf("look up user: %w", err)
	case user.Disabled:
		return domain.IssuedTokens{}, errUserDisabled
	}
	return g.minter.IssueForUser(ctx, Subject{Client: client, User: &user, Scope: d.Scope, Audience: d.Audience,
		AuthTime: d.AuthTime, AMR: d.AMR, SessionID: d.SessionID, FamilyID: d.FamilyID, JKT: req.DPoPJKT})
}
