package usecase_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// deviceFixture adds the device flow (RFC 8628) to the fixture: the endpoint and page
// use case, and the grant registered with the fixture's token endpoint.
type deviceFixture struct {
	*fixture
	device *usecase.Device
	grant  *usecase.DeviceCodeGrant
}

func newDeviceFixture(t *testing.T) *deviceFixture {
	t.Helper()
	f := newFixture(t)
	return &deviceFixture{fixture: f,
		device: usecase.NewDevice(f.auth, f.devices, f.clients, f.users, f.throttle, f.hasher, f.random, f.clock, f.settings),
		grant:  f.grants.DeviceCode,
	}
}

// deviceClient registers a confidential client for the device grant and refresh.
func (f *deviceFixture) deviceClient(t *testing.T, more ...string) (domain.Client, usecase.Credentials) {
	t.Helper()
	return f.client(t, usecase.NewClient{GrantTypes: append([]string{domain.GrantDeviceCode, domain.GrantRefreshToken}, more...),
		Audiences: []string{"https://tv.test"}})
}

func (f *deviceFixture) start(t *testing.T, cr usecase.Credentials, scope string) usecase.DeviceAuthorizationResponse {
	t.Helper()
	got, err := f.device.Authorize(f.ctx, usecase.DeviceAuthorizationRequest{Credentials: cr, Scope: scope})
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	return got
}

func (f *deviceFixture) poll(cr usecase.Credentials, deviceCode string) (domain.IssuedTokens, error) {
	return f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantDeviceCode, Credentials: cr, DeviceCode: deviceCode})
}

func (f *deviceFixture) session(u domain.User) domain.Session {
	return domain.Session{ID: f.random.ID(), UserID: u.ID, AuthTime: f.clock.Now().Add(-time.Minute)}
}

var userCodeFormat = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

func TestDeviceAuthorizationEndpoint(t *testing.T) {
	f := newDeviceFixture(t)
	c, cr := f.deviceClient(t)
	_, pub := f.client(t, usecase.NewClient{Public: true, GrantTypes: []string{domain.GrantDeviceCode}})
	_, codeOnly := f.client(t, usecase.NewClient{RedirectURIs: []string{"https://app.test/cb"}})
	wrongSecret := cr
	wrongSecret.Secret = "nope"
	unknown := cr
	unknown.ClientID = "nobody"
	secretForPublic := pub
	secretForPublic.Secret, secretForPublic.Method = "x", usecase.AuthMethodPost

	cases := []struct {
		name string
		req  usecase.DeviceAuthorizationRequest
		want error
	}{
		{"unknown client", usecase.DeviceAuthorizationRequest{Credentials: unknown}, domain.ErrInvalidClient},
		{"wrong secret", usecase.DeviceAuthorizationRequest{Credentials: wrongSecret}, domain.ErrInvalidClient},
		{"public client sending a secret", usecase.DeviceAuthorizationRequest{Credentials: secretForPublic}, domain.ErrInvalidClient},
		{"client not registered for the device grant", usecase.DeviceAuthorizationRequest{Credentials: codeOnly}, domain.ErrUnauthorizedClient},
		{"malformed scope", usecase.DeviceAuthorizationRequest{Credentials: cr, Scope: "a\"b"}, domain.ErrInvalidScope},
		{"scope not allowed", usecase.DeviceAuthorizationRequest{Credentials: cr, Scope: "openid admin"}, domain.ErrInvalidScope},
		{"resource not allowed", usecase.DeviceAuthorizationRequest{Credentials: cr, Resource: []string{"https://other.test"}}, domain.ErrInvalidTarget},
		{"confidential client", usecase.DeviceAuthorizationRequest{Credentials: cr, Scope: "openid", Resource: []string{"https://tv.test"}}, nil},
		{"public client by client_id alone", usecase.DeviceAuthorizationRequest{Credentials: pub}, nil},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Credentials.Address = fmt.Sprintf("192.0.2.%d", 10+i)
			got, err := f.device.Authorize(f.ctx, tc.req)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err != nil {
				return
			}
			if len(got.DeviceCode) < 43 || !userCodeFormat.MatchString(got.UserCode) {
				t.Errorf("device code %d characters, user code %q", len(got.DeviceCode), got.UserCode)
			}
			if got.VerificationURI != "https://auth.test/device" ||
				got.VerificationURIComplete != "https://auth.test/device?user_code="+got.UserCode {
				t.Errorf("verification URIs %q, %q", got.VerificationURI, got.VerificationURIComplete)
			}
			if got.ExpiresIn != 10*time.Minute || got.Interval != 5*time.Second {
				t.Errorf("expires_in %s, interval %s; want the 10 min default and 5 s", got.ExpiresIn, got.Interval)
			}
		})
	}

	t.Run("codes are stored only as hashes", func(t *testing.T) {
		got := f.start(t, cr, "")
		d, err := f.devices.DeviceAuthorizationByDeviceCode(f.ctx, f.hasher.HashSecret(got.DeviceCode))
		if err != nil {
			t.Fatal(err)
		}
		code, _ := domain.NormalizeUserCode(got.UserCode)
		if !f.hasher.SecretMatches(d.UserCodeHash, code) || strings.Contains(string(d.UserCodeHash), code) {
			t.Error("the user code must be stored as the keyed hash of its normalised form")
		}
		if !slices.Equal(d.Scope, c.Scopes) || d.ClientID != c.ID || d.Status != domain.DevicePending {
			t.Errorf("an omitted scope means every scope the client may ask: %+v", d)
		}
		if !slices.Equal(d.Audience, []string{"https://api.test"}) {
			t.Errorf("audience %v, want the default", d.Audience)
		}
	})

	t.Run("configured lifetime", func(t *testing.T) {
		s := f.settings
		s.DeviceCodeTTL = usecase.DeviceCodeTTL(2 * time.Minute)
		dev := usecase.NewDevice(f.auth, f.devices, f.clients, f.users, f.throttle, f.hasher, f.random, f.clock, s)
		got, err := dev.Authorize(f.ctx, usecase.DeviceAuthorizationRequest{Credentials: cr})
		if err != nil || got.ExpiresIn != 2*time.Minute {
			t.Fatalf("expires_in %s, %v; want 2m", got.ExpiresIn, err)
		}
	})
}

func TestDevicePollingErrors(t *testing.T) {
	f := newDeviceFixture(t)
	_, cr := f.deviceClient(t)
	_, other := f.deviceClient(t)
	_, ccOnly := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}})
	u := f.user(t, "dora", "dora's password")
	wrongSecret := cr
	wrongSecret.Secret = "nope"

	approve := func(t *testing.T, a usecase.DeviceAuthorizationResponse) {
		t.Helper()
		if _, err := f.device.Approve(f.ctx, a.UserCode, "198.51.100.1", f.session(u)); err != nil {
			t.Fatalf("approve: %v", err)
		}
	}
	pollOnce := func(t *testing.T, a usecase.DeviceAuthorizationResponse) { t.Helper(); _, _ = f.poll(cr, a.DeviceCode) }

	cases := []struct {
		name    string
		prepare func(t *testing.T, a usecase.DeviceAuthorizationResponse)
		poller  usecase.Credentials
		code    func(a usecase.DeviceAuthorizationResponse) string // default: the device code
		want    error
	}{
		{name: "pending", want: domain.ErrAuthorizationPending},
		{name: "polling faster than the interval", prepare: pollOnce, want: domain.ErrSlowDown},
		{name: "pending again after the longer interval", prepare: func(t *testing.T, a usecase.DeviceAuthorizationResponse) {
			pollOnce(t, a)
			if _, err := f.poll(cr, a.DeviceCode); !errors.Is(err, domain.ErrSlowDown) {
				t.Fatalf("second poll: %v, want slow_down", err)
			}
			f.clock.Advance(9 * time.Second) // the interval is 10 s now: still too soon
			if _, err := f.poll(cr, a.DeviceCode); !errors.Is(err, domain.ErrSlowDown) {
				t.Fatalf("poll 9 s later: %v, want slow_down (interval grew to 10 s)", err)
			}
			f.clock.Advance(15 * time.Second)
		}, want: domain.ErrAuthorizationPending},
		{name: "missing device_code", code: func(usecase.DeviceAuthorizationResponse) string { return "" }, want: domain.ErrInvalidRequest},
		{name: "unknown device code", code: func(usecase.DeviceAuthorizationResponse) string { return f.random.Token() }, want: domain.ErrInvalidGrant},
		{name: "the user code is not a device code", code: func(a usecase.DeviceAuthorizationResponse) string { return a.UserCode }, want: domain.ErrInvalidGrant},
		{name: "another client", poller: other, want: domain.ErrInvalidGrant},
		{name: "another client does not count as a poll", prepare: func(t *testing.T, a usecase.DeviceAuthorizationResponse) {
			if _, err := f.poll(other, a.DeviceCode); !errors.Is(err, domain.ErrInvalidGrant) {
				t.Fatalf("other client: %v", err)
			}
		}, want: domain.ErrAuthorizationPending},
		{name: "client not registered for the device grant", poller: ccOnly, want: domain.ErrUnauthorizedClient},
		{name: "wrong client secret", poller: wrongSecret, want: domain.ErrInvalidClient},
		{name: "denied", prepare: func(t *testing.T, a usecase.DeviceAuthorizationResponse) {
			if _, err := f.device.Deny(f.ctx, a.UserCode, "198.51.100.1"); err != nil {
				t.Fatal(err)
			}
		}, want: domain.ErrAccessDenied},
		{name: "denied, asked again", prepare: func(t *testing.T, a usecase.DeviceAuthorizationResponse) {
			if _, err := f.device.Deny(f.ctx, a.UserCode, "198.51.100.1"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.poll(cr, a.DeviceCode); !errors.Is(err, domain.ErrAccessDenied) {
				t.Fatalf("first poll after denial: %v", err)
			}
		}, want: domain.ErrAccessDenied},
		{name: "expired", prepare: func(t *testing.T, a usecase.DeviceAuthorizationResponse) {
			f.clock.Advance(a.ExpiresIn)
		}, want: domain.ErrExpiredToken},
		{name: "approved but expired before the device polled", prepare: func(t *testing.T, a usecase.DeviceAuthorizationResponse) {
			approve(t, a)
			f.clock.Advance(a.ExpiresIn + time.Second)
		}, want: domain.ErrExpiredToken},
		{name: "approved: tokens, then the device code is used up", prepare: func(t *testing.T, a usecase.DeviceAuthorizationResponse) {
			approve(t, a)
			if _, err := f.poll(cr, a.DeviceCode); err != nil {
				t.Fatalf("first poll after approval: %v", err)
			}
		}, want: domain.ErrInvalidGrant},
		{name: "approved: another client still gets nothing", prepare: approve, poller: other, want: domain.ErrInvalidGrant},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := f.start(t, cr, "openid")
			if tc.prepare != nil {
				tc.prepare(t, a)
			}
			poller := cr
			if tc.poller.ClientID != "" {
				poller = tc.poller
			}
			poller.Address = fmt.Sprintf("192.0.2.%d", 100+i)
			code := a.DeviceCode
			if tc.code != nil {
				code = tc.code(a)
			}
			_, err := f.poll(poller, code)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDeviceCodeGrantIssuesTokens(t *testing.T) {
	f := newDeviceFixture(t)
	c, cr := f.deviceClient(t)
	_, noRefresh := f.client(t, usecase.NewClient{Public: true, GrantTypes: []string{domain.GrantDeviceCode}, Scopes: []string{"api:read"}})
	u := f.user(t, "erin", "erin's password")
	s := f.session(u)

	a, err := f.device.Authorize(f.ctx, usecase.DeviceAuthorizationRequest{Credentials: cr, Scope: "openid profile",
		Resource: []string{"https://tv.test"}})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(3 * time.Second)
	got, err := f.device.Approve(f.ctx, strings.ToLower(strings.ReplaceAll(a.UserCode, "-", " ")), "198.51.100.2", s)
	if err != nil {
		t.Fatalf("approve with a lower-case, spaced code: %v", err)
	}
	if got.Client.ID != c.ID || got.UserCode != a.UserCode || !slices.Equal(got.Scope, []string{"openid", "profile"}) {
		t.Errorf("approval prompt %+v", got)
	}
	tok, err := f.poll(cr, a.DeviceCode)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.IDToken == "" || tok.TokenType != "Bearer" {
		t.Fatal("a refresh-allowed client asking openid must get refresh and ID tokens")
	}
	at, err := f.verifier.VerifyAccessToken(f.ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if at.Subject != u.ID || at.ClientID != c.ID || !slices.Equal(at.Audience, []string{"https://tv.test"}) ||
		!slices.Equal(at.Scope, []string{"openid", "profile"}) || !at.AuthTime.Equal(s.AuthTime) || at.FamilyID == "" {
		t.Fatalf("access token %+v", at)
	}
	// The refresh token works, and the tokens belong to the approving browser session:
	// logging it out revokes them, as for the code flow (SECURITY S33).
	if _, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantRefreshToken, Credentials: cr, RefreshToken: tok.RefreshToken}); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if err := f.tokens.RevokeSessionFamilies(f.ctx, s.ID, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if f.active(t, cr, tok.AccessToken) {
		t.Error("the device's tokens must die with the session that approved them")
	}

	// A client without the refresh grant gets no refresh token; without openid, no ID token.
	b := f.start(t, noRefresh, "")
	if _, err := f.device.Approve(f.ctx, b.UserCode, "198.51.100.2", s); err != nil {
		t.Fatal(err)
	}
	tok, err = f.poll(noRefresh, b.DeviceCode)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "" || tok.IDToken != "" || !slices.Equal(tok.Scope, []string{"api:read"}) {
		t.Fatalf("tokens for a public client without refresh or openid: %+v", tok)
	}
}

func TestDeviceVerificationPage(t *testing.T) {
	f := newDeviceFixture(t)
	c, cr := f.deviceClient(t)
	u := f.user(t, "finn", "finn's password")
	const addr = "203.0.113.7"

	a := f.start(t, cr, "openid")
	for _, typed := range []string{a.UserCode, strings.ToLower(a.UserCode), strings.ReplaceAll(a.UserCode, "-", ""),
		" " + strings.ReplaceAll(a.UserCode, "-", " ") + " "} {
		p, err := f.device.Lookup(f.ctx, typed, addr)
		if err != nil || p.Client.ID != c.ID || p.UserCode != a.UserCode {
			t.Fatalf("Lookup(%q) = %+v, %v", typed, p, err)
		}
	}

	expired := f.start(t, cr, "")
	used := f.start(t, cr, "")
	if _, err := f.device.Approve(f.ctx, used.UserCode, addr, f.session(u)); err != nil {
		t.Fatal(err)
	}
	denied := f.start(t, cr, "")
	if _, err := f.device.Deny(f.ctx, denied.UserCode, addr); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(5 * time.Minute)
	fresh := f.start(t, cr, "")
	f.clock.Advance(5 * time.Minute) // expired is 10 minutes old now, fresh 5

	cases := []struct {
		name  string
		typed string
		want  error
	}{
		{"expired", expired.UserCode, domain.ErrUserCodeExpired},
		{"approved already", used.UserCode, domain.ErrUserCodeUsed},
		{"denied already", denied.UserCode, domain.ErrUserCodeUsed},
		{"live", fresh.UserCode, nil},
		{"unknown", "BCDF-GHJK", domain.ErrUserCodeUnknown},
		{"malformed", "hello", domain.ErrUserCodeUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.device.Lookup(f.ctx, tc.typed, "203.0.113.8")
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := f.device.Approve(f.ctx, expired.UserCode, addr, f.session(u)); !errors.Is(err, domain.ErrUserCodeExpired) {
		t.Errorf("approving an expired code: %v", err)
	}
	if _, err := f.device.Deny(f.ctx, used.UserCode, addr); !errors.Is(err, domain.ErrUserCodeUsed) {
		t.Errorf("denying an approved code: %v", err)
	}

	t.Run("guessing is throttled per address", func(t *testing.T) {
		const guesser = "203.0.113.66"
		a := f.start(t, cr, "")
		var te *domain.ThrottledError
		locked := false
		for i := range 10 {
			_, err := f.device.Lookup(f.ctx, fmt.Sprintf("BCDF-%04d", i), guesser)
			if errors.As(err, &te) {
				locked = true
				break
			}
			if !errors.Is(err, domain.ErrUserCodeUnknown) {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		if !locked {
			t.Fatal("10 wrong guesses from one address were not throttled (SECURITY S28)")
		}
		// Locked out: even the right code waits, and cannot be approved meanwhile...
		if _, err := f.device.Lookup(f.ctx, a.UserCode, guesser); !errors.As(err, &te) {
			t.Fatalf("right code during the lock: %v", err)
		}
		if _, err := f.device.Approve(f.ctx, a.UserCode, guesser, f.session(u)); !errors.As(err, &te) {
			t.Fatalf("approval during the lock: %v", err)
		}
		// ...but only from that address, and only for a while.
		if _, err := f.device.Lookup(f.ctx, a.UserCode, "203.0.113.67"); err != nil {
			t.Fatalf("another address: %v", err)
		}
		f.clock.Advance(2 * time.Minute)
		if _, err := f.device.Lookup(f.ctx, a.UserCode, guesser); err != nil {
			t.Fatalf("after the lock: %v", err)
		}
	})
}

func TestDeviceConcurrentPollsAfterApproval(t *testing.T) {
	f := newDeviceFixture(t)
	_, cr := f.deviceClient(t)
	u := f.user(t, "gus", "gus's password")
	a := f.start(t, cr, "openid")
	if _, err := f.device.Approve(f.ctx, a.UserCode, "198.51.100.3", f.session(u)); err != nil {
		t.Fatal(err)
	}
	const pollers = 16
	errs := make([]error, pollers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range pollers {
		wg.Go(func() {
			<-start
			_, errs[i] = f.poll(cr, a.DeviceCode)
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, domain.ErrInvalidGrant):
			t.Errorf("a losing poller got %v, want invalid_grant", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d pollers got tokens, want exactly 1", wins)
	}
}

// TestDeviceTokensCarryTheApproversMethods: a device's tokens say how the browser
// session that approved it signed in (amr, RFC 8176; the ID token's acr follows from
// it), as the code flow's do; a session from before methods were recorded counts as
// signed in with the password.
func TestDeviceTokensCarryTheApproversMethods(t *testing.T) {
	f := newDeviceFixture(t)
	_, cr := f.deviceClient(t)
	u := f.user(t, "fay", "fay's password")
	for _, c := range []struct {
		amr, want []string
	}{{[]string{"hwk", "user", "mfa"}, []string{"hwk", "user", "mfa"}}, {[]string{"pwd", "otp", "mfa"}, []string{"pwd", "otp", "mfa"}}, {nil, []string{"pwd"}}} {
		s := f.session(u)
		s.AMR = c.amr
		a, err := f.device.Authorize(f.ctx, usecase.DeviceAuthorizationRequest{Credentials: cr, Scope: "openid"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.device.Approve(f.ctx, a.UserCode, "198.51.100.3", s); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(10 * time.Second)
		tok, err := f.poll(cr, a.DeviceCode)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.verifier.VerifyAccessToken(f.ctx, tok.AccessToken); err != nil {
			t.Fatal(err)
		}
		for name, jwt := range map[string]string{"access token": tok.AccessToken, "ID token": tok.IDToken} {
			var claims struct {
				AMR []string `json:"amr"`
				ACR string   `json:"acr"`
			}
			parts := strings.Split(jwt, ".")
			payload, err := base64.RawURLEncoding.DecodeString(parts[min(1, len(parts)-1)])
			if err != nil || json.Unmarshal(payload, &claims) != nil {
				t.Fatalf("%s %q is no JWT", name, jwt)
			}
			if !slices.Equal(claims.AMR, c.want) || claims.ACR != domain.SessionACR(c.want) {
				t.Errorf("session amr %v: the device's %s says amr %v acr %q, want %v %q", c.amr, name, claims.AMR, claims.ACR,
					c.want, domain.SessionACR(c.want))
			}
		}
	}
}
