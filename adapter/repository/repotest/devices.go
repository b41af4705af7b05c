package repotest

import (
	"strings"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// deviceRacers is how many goroutines race for one device authorization.
const deviceRacers = 16

// device is a new, unstored pending device authorization for c, valid for ten minutes
// from base.
func (s *suite) device(c domain.Client) domain.DeviceAuthorization {
	return domain.DeviceAuthorization{
		DeviceCodeHash: newHash(), UserCodeHash: newHash(), ClientID: c.ID,
		Scope: []string{"openid", "offline_access"}, Audience: []string{"https://api.example.com"},
		Interval: domain.DevicePollInterval, Status: domain.DevicePending, FamilyID: newID("fam"),
		CreatedAt: base, ExpiresAt: base.Add(10 * time.Minute),
	}
}

func (s *suite) newDevice(t *testing.T, c domain.Client) domain.DeviceAuthorization {
	t.Helper()
	d := s.device(c)
	noErr(t, s.Devices.CreateDeviceAuthorization(t.Context(), d))
	return d
}

func (s *suite) approval(u domain.User) usecase.DeviceApproval {
	return usecase.DeviceApproval{UserID: u.ID, AuthTime: base.Add(-time.Minute), SessionID: newID("s"), AMR: []string{"hwk", "user", "mfa"}}
}

func (s *suite) devices(t *testing.T) {
	if s.Devices == nil {
		t.Skip("no DeviceStore given")
	}
	t.Run("CreateAndFind", func(t *testing.T) {
		c := s.newClient(t)
		d := s.newDevice(t, c)
		byUser, err := s.Devices.DeviceAuthorizationByUserCode(t.Context(), d.UserCodeHash)
		noErr(t, err)
		checkDevice(t, d, byUser)
		byDevice, err := s.Devices.DeviceAuthorizationByDeviceCode(t.Context(), d.DeviceCodeHash)
		noErr(t, err)
		checkDevice(t, d, byDevice)
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := s.Devices.DeviceAuthorizationByUserCode(t.Context(), newHash())
		wantErr(t, err, domain.ErrNotFound)
		_, err = s.Devices.DeviceAuthorizationByDeviceCode(t.Context(), newHash())
		wantErr(t, err, domain.ErrNotFound)
		_, _, err = s.Devices.PollDeviceAuthorization(t.Context(), newHash(), base)
		wantErr(t, err, domain.ErrNotFound)
		wantErr(t, s.Devices.ApproveDeviceAuthorization(t.Context(), newHash(), s.approval(s.newUser(t)), base), domain.ErrNotFound)
		wantErr(t, s.Devices.DenyDeviceAuthorization(t.Context(), newHash(), base), domain.ErrNotFound)
		wantErr(t, s.Devices.ConsumeDeviceAuthorization(t.Context(), newHash(), base), domain.ErrNotFound)
	})

	t.Run("Duplicates", func(t *testing.T) {
		c := s.newClient(t)
		d := s.newDevice(t, c)
		sameUserCode := s.device(c)
		sameUserCode.UserCodeHash = d.UserCodeHash
		wantErr(t, s.Devices.CreateDeviceAuthorization(t.Context(), sameUserCode), domain.ErrDuplicate)
		sameDeviceCode := s.device(c)
		sameDeviceCode.DeviceCodeHash = d.DeviceCodeHash
		wantErr(t, s.Devices.CreateDeviceAuthorization(t.Context(), sameDeviceCode), domain.ErrDuplicate)
	})

	t.Run("UnknownClient", func(t *testing.T) {
		d := s.device(domain.Client{ID: newID("missing")})
		wantErr(t, s.Devices.CreateDeviceAuthorization(t.Context(), d), domain.ErrNotFound)
	})

	t.Run("ApproveOnce", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		d := s.newDevice(t, c)
		a := s.approval(u)
		noErr(t, s.Devices.ApproveDeviceAuthorization(t.Context(), d.DeviceCodeHash, a, base.Add(time.Minute)))
		got, err := s.Devices.DeviceAuthorizationByDeviceCode(t.Context(), d.DeviceCodeHash)
		noErr(t, err)
		if got.Status != domain.DeviceApproved || got.UserID != u.ID || got.SessionID != a.SessionID ||
			strings.Join(got.AMR, " ") != "hwk user mfa" {
			t.Errorf("after approval: %+v", got)
		}
		sameTime(t, "auth_time", a.AuthTime, got.AuthTime)
		// The decision is taken once: neither a second approval nor a denial changes it.
		wantErr(t, s.Devices.ApproveDeviceAuthorization(t.Context(), d.DeviceCodeHash, s.approval(s.newUser(t)), base), domain.ErrAlreadyUsed)
		wantErr(t, s.Devices.DenyDeviceAuthorization(t.Context(), d.DeviceCodeHash, base), domain.ErrAlreadyUsed)
		got, _ = s.Devices.DeviceAuthorizationByDeviceCode(t.Context(), d.DeviceCodeHash)
		if got.Status != domain.DeviceApproved || got.UserID != u.ID {
			t.Errorf("the first decision must stand: %+v", got)
		}
	})

	t.Run("DenyOnce", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		d := s.newDevice(t, c)
		noErr(t, s.Devices.DenyDeviceAuthorization(t.Context(), d.DeviceCodeHash, base))
		wantErr(t, s.Devices.ApproveDeviceAuthorization(t.Context(), d.DeviceCodeHash, s.approval(u), base), domain.ErrAlreadyUsed)
		got, err := s.Devices.DeviceAuthorizationByDeviceCode(t.Context(), d.DeviceCodeHash)
		noErr(t, err)
		if got.Status != domain.DeviceDenied || got.UserID != "" {
			t.Errorf("after denial: %+v", got)
		}
		wantErr(t, s.Devices.ConsumeDeviceAuthorization(t.Context(), d.DeviceCodeHash, base), domain.ErrAlreadyUsed)
	})

	t.Run("NoDecisionAfterExpiry", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		d := s.newDevice(t, c)
		wantErr(t, s.Devices.ApproveDeviceAuthorization(t.Context(), d.DeviceCodeHash, s.approval(u), d.ExpiresAt), domain.ErrAlreadyUsed)
		wantErr(t, s.Devices.DenyDeviceAuthorization(t.Context(), d.DeviceCodeHash, d.ExpiresAt.Add(time.Second)), domain.ErrAlreadyUsed)
	})

	t.Run("PollSlowDown", func(t *testing.T) {
		c := s.newClient(t)
		d := s.newDevice(t, c)
		poll := func(at time.Time, wantSlow bool, wantInterval time.Duration) {
			t.Helper()
			got, slow, err := s.Devices.PollDeviceAuthorization(t.Context(), d.DeviceCodeHash, at)
			noErr(t, err)
			if slow != wantSlow || got.Interval != wantInterval || got.Status != domain.DevicePending {
				t.Fatalf("poll at +%s: slow=%v interval=%s status=%s, want slow=%v interval=%s pending",
					at.Sub(base), slow, got.Interval, got.Status, wantSlow, wantInterval)
			}
			sameTime(t, "last_polled_at", at, got.LastPolledAt)
		}
		poll(base, false, 5*time.Second)                     // the first poll is never too soon
		poll(base.Add(5*time.Second), false, 5*time.Second)  // exactly the interval later
		poll(base.Add(6*time.Second), true, 10*time.Second)  // too soon: +5 s, stored
		poll(base.Add(15*time.Second), true, 15*time.Second) // 9 s < 10 s: +5 s again
		poll(base.Add(30*time.Second), false, 15*time.Second)
	})

	t.Run("PollDecided", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		d := s.newDevice(t, c)
		_, _, err := s.Devices.PollDeviceAuthorization(t.Context(), d.DeviceCodeHash, base)
		noErr(t, err)
		noErr(t, s.Devices.ApproveDeviceAuthorization(t.Context(), d.DeviceCodeHash, s.approval(u), base))
		// The answer to a decided authorization is never slow_down, however fast.
		got, slow, err := s.Devices.PollDeviceAuthorization(t.Context(), d.DeviceCodeHash, base.Add(time.Millisecond))
		noErr(t, err)
		if slow || got.Status != domain.DeviceApproved || got.UserID != u.ID || got.Interval != domain.DevicePollInterval {
			t.Errorf("poll after approval: slow=%v %+v", slow, got)
		}
	})

	t.Run("ConsumeOnce", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		d := s.newDevice(t, c)
		// Not yet approved: nothing to consume.
		wantErr(t, s.Devices.ConsumeDeviceAuthorization(t.Context(), d.DeviceCodeHash, base), domain.ErrAlreadyUsed)
		noErr(t, s.Devices.ApproveDeviceAuthorization(t.Context(), d.DeviceCodeHash, s.approval(u), base))
		used := base.Add(time.Minute)
		noErr(t, s.Devices.ConsumeDeviceAuthorization(t.Context(), d.DeviceCodeHash, used))
		wantErr(t, s.Devices.ConsumeDeviceAuthorization(t.Context(), d.DeviceCodeHash, used), domain.ErrAlreadyUsed)
		got, err := s.Devices.DeviceAuthorizationByDeviceCode(t.Context(), d.DeviceCodeHash)
		noErr(t, err)
		sameTimePtr(t, "consumed_at", &used, got.ConsumedAt)
	})

	t.Run("NoConsumeAfterExpiry", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		d := s.newDevice(t, c)
		noErr(t, s.Devices.ApproveDeviceAuthorization(t.Context(), d.DeviceCodeHash, s.approval(u), base))
		wantErr(t, s.Devices.ConsumeDeviceAuthorization(t.Context(), d.DeviceCodeHash, d.ExpiresAt), domain.ErrAlreadyUsed)
	})

	t.Run("ConsumeConcurrentlyOnce", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		d := s.newDevice(t, c)
		noErr(t, s.Devices.ApproveDeviceAuthorization(t.Context(), d.DeviceCodeHash, s.approval(u), base))
		errs := race(deviceRacers, func(i int) error {
			return s.Devices.ConsumeDeviceAuthorization(t.Context(), d.DeviceCodeHash, base.Add(time.Duration(i)*time.Millisecond))
		})
		ok, used := outcomes(t, errs, domain.ErrAlreadyUsed)
		if ok != 1 || used != deviceRacers-1 {
			t.Fatalf("%d consumptions succeeded and %d saw ErrAlreadyUsed; want 1 and %d", ok, used, deviceRacers-1)
		}
	})

	t.Run("PollConcurrentlyOneThrough", func(t *testing.T) {
		c := s.newClient(t)
		d := s.newDevice(t, c)
		through := make([]bool, deviceRacers)
		errs := race(deviceRacers, func(i int) error {
			_, slow, err := s.Devices.PollDeviceAuthorization(t.Context(), d.DeviceCodeHash, base.Add(time.Duration(i)*time.Millisecond))
			through[i] = err == nil && !slow
			return err
		})
		for _, err := range errs {
			noErr(t, err)
		}
		n := 0
		for _, ok := range through {
			if ok {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d of %d polls inside one interval were let through, want 1", n, deviceRacers)
		}
		got, err := s.Devices.DeviceAuthorizationByDeviceCode(t.Context(), d.DeviceCodeHash)
		noErr(t, err)
		want := domain.DevicePollInterval + (deviceRacers-1)*domain.DeviceSlowDownStep
		if got.Interval != want {
			t.Errorf("interval = %s after %d slow_downs, want %s", got.Interval, deviceRacers-1, want)
		}
	})

	t.Run("DecideConcurrentlyOnce", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		d := s.newDevice(t, c)
		errs := race(deviceRacers, func(i int) error {
			if i%2 == 0 {
				return s.Devices.DenyDeviceAuthorization(t.Context(), d.DeviceCodeHash, base)
			}
			return s.Devices.ApproveDeviceAuthorization(t.Context(), d.DeviceCodeHash, s.approval(u), base)
		})
		ok, used := outcomes(t, errs, domain.ErrAlreadyUsed)
		if ok != 1 || used != deviceRacers-1 {
			t.Fatalf("%d decisions succeeded and %d saw ErrAlreadyUsed; want 1 and %d", ok, used, deviceRacers-1)
		}
		got, err := s.Devices.DeviceAuthorizationByDeviceCode(t.Context(), d.DeviceCodeHash)
		noErr(t, err)
		winner := firstNil(errs)
		want := domain.DeviceApproved
		if winner%2 == 0 {
			want = domain.DeviceDenied
		}
		if got.Status != want {
			t.Errorf("status %s, but the winner was a %s", got.Status, want)
		}
	})
}

func firstNil(errs []error) int {
	for i, err := range errs {
		if err == nil {
			return i
		}
	}
	return -1
}

func checkDevice(t *testing.T, want, got domain.DeviceAuthorization) {
	t.Helper()
	sameBytes(t, "device_code_hash", want.DeviceCodeHash, got.DeviceCodeHash)
	sameBytes(t, "user_code_hash", want.UserCodeHash, got.UserCodeHash)
	if got.ClientID != want.ClientID || got.Status != want.Status || got.Interval != want.Interval ||
		got.UserID != want.UserID || got.SessionID != want.SessionID || got.FamilyID != want.FamilyID {
		t.Errorf("device authorization = %+v, want %+v", got, want)
	}
	sameList(t, "scope", want.Scope, got.Scope)
	sameList(t, "audience", want.Audience, got.Audience)
	sameTime(t, "last_polled_at", want.LastPolledAt, got.LastPolledAt)
	sameTime(t, "auth_time", want.AuthTime, got.AuthTime)
	sameTime(t, "created_at", want.CreatedAt, got.CreatedAt)
	sameTime(t, "expires_at", want.ExpiresAt, got.ExpiresAt)
	sameTimePtr(t, "consumed_at", want.ConsumedAt, got.ConsumedAt)
}
