package repotest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"gatehouse/domain"
)

// passkeys is the contract of usecase.PasskeyStore: a credential id belongs to one
// user (a second registration of it, by anyone, is ErrDuplicate), its signature
// counter only goes up (a use that does not raise it loses, and of racing uses with
// one counter exactly one wins), removal is per user, and passkeys die with their user.
func (s *suite) passkeys(t *testing.T) {
	if s.Passkeys == nil {
		t.Skip("no passkey store")
	}
	ctx := t.Context()
	p := s.Passkeys
	add := func(t *testing.T, u domain.User, count uint32) domain.Passkey {
		t.Helper()
		k := domain.Passkey{ID: newID("pk"), UserID: u.ID, CredentialID: append(newHash(), newHash()...), PublicKey: newHash(),
			SignCount: count, AAGUID: newHash()[:16], Transports: []string{"internal", "hybrid"}, BackupEligible: true,
			BackupState: true, UserVerified: true, Name: "Laptop", CreatedAt: base}
		noErr(t, p.CreatePasskey(ctx, k))
		return k
	}

	t.Run("RoundTrip", func(t *testing.T) {
		u := s.newUser(t)
		if got, err := p.PasskeysOf(ctx, u.ID); err != nil || len(got) != 0 {
			t.Fatalf("PasskeysOf a user without any = %v, %v", got, err)
		}
		want := add(t, u, 7)
		second := add(t, u, 0)
		got, err := p.PasskeysOf(ctx, u.ID)
		noErr(t, err)
		if len(got) != 2 {
			t.Fatalf("PasskeysOf = %d passkeys, want 2", len(got))
		}
		k := got[slices.IndexFunc(got, func(k domain.Passkey) bool { return k.ID == want.ID })]
		if k.UserID != u.ID || !bytes.Equal(k.CredentialID, want.CredentialID) || !bytes.Equal(k.PublicKey, want.PublicKey) ||
			k.SignCount != 7 || !bytes.Equal(k.AAGUID, want.AAGUID) || !slices.Equal(k.Transports, want.Transports) ||
			!k.BackupEligible || !k.BackupState || !k.UserVerified || k.Name != "Laptop" || !k.LastUsedAt.IsZero() {
			t.Fatalf("passkey = %+v, want %+v", k, want)
		}
		sameTime(t, "created_at", want.CreatedAt, k.CreatedAt)
		byID, err := p.PasskeyByCredentialID(ctx, second.CredentialID)
		noErr(t, err)
		if byID.ID != second.ID || byID.UserID != u.ID {
			t.Fatalf("PasskeyByCredentialID = %+v, want %s", byID, second.ID)
		}
		_, err = p.PasskeyByCredentialID(ctx, newHash())
		wantErr(t, err, domain.ErrNotFound)
	})

	t.Run("ACredentialIDBelongsToOneUser", func(t *testing.T) {
		u, other := s.newUser(t), s.newUser(t)
		k := add(t, u, 1)
		for _, owner := range []domain.User{u, other} {
			again := k
			again.ID, again.UserID = newID("pk"), owner.ID
			wantErr(t, p.CreatePasskey(ctx, again), domain.ErrDuplicate)
		}
		got, err := p.PasskeyByCredentialID(ctx, k.CredentialID)
		noErr(t, err)
		if got.UserID != u.ID {
			t.Fatalf("the credential now belongs to %s, want %s", got.UserID, u.ID)
		}
		none := k
		none.CredentialID, none.UserID = newHash(), "nobody-"+randomHex(4)
		wantErr(t, p.CreatePasskey(ctx, none), domain.ErrNotFound)
	})

	t.Run("CounterOnlyForward", func(t *testing.T) {
		u := s.newUser(t)
		k := add(t, u, 10)
		used := base.Add(time.Hour)
		for _, c := range []struct {
			count uint32
			want  bool
		}{{10, false}, {9, false}, {0, false}, {11, true}, {11, false}, {15, true}} {
			ok, err := p.UsePasskey(ctx, k.CredentialID, c.count, false, used)
			noErr(t, err)
			if ok != c.want {
				t.Fatalf("UsePasskey(%d) = %v, want %v", c.count, ok, c.want)
			}
		}
		got, _ := p.PasskeyByCredentialID(ctx, k.CredentialID)
		if got.SignCount != 15 || got.BackupState {
			t.Fatalf("after uses: count %d, backup state %v; want 15, false", got.SignCount, got.BackupState)
		}
		sameTime(t, "last_used_at", used, got.LastUsedAt)
		ok, err := p.UsePasskey(ctx, newHash(), 100, false, used)
		noErr(t, err)
		if ok {
			t.Fatal("used an unknown credential")
		}
	})

	t.Run("NoCounterStaysUsable", func(t *testing.T) {
		// An authenticator without a counter (most synced passkeys) always says 0.
		u := s.newUser(t)
		k := add(t, u, 0)
		for range 2 {
			ok, err := p.UsePasskey(ctx, k.CredentialID, 0, true, base)
			noErr(t, err)
			if !ok {
				t.Fatal("a counterless passkey was refused")
			}
		}
		ok, _ := p.UsePasskey(ctx, k.CredentialID, 3, true, base)
		if !ok {
			t.Fatal("a counter starting was refused")
		}
		if ok, _ := p.UsePasskey(ctx, k.CredentialID, 0, true, base); ok {
			t.Fatal("a counter back to 0 was accepted")
		}
	})

	t.Run("CounterRaceOneWinner", func(t *testing.T) {
		u := s.newUser(t)
		k := add(t, u, 5)
		raceOneWinner(t, "one assertion", func() (bool, error) { return p.UsePasskey(ctx, k.CredentialID, 6, false, base) })
	})

	t.Run("DeletePerUser", func(t *testing.T) {
		u, other := s.newUser(t), s.newUser(t)
		k, k2 := add(t, u, 0), add(t, u, 0)
		ok, err := p.DeletePasskey(ctx, other.ID, k.ID)
		noErr(t, err)
		if ok {
			t.Fatal("another user deleted a passkey")
		}
		ok, err = p.DeletePasskey(ctx, u.ID, k.ID)
		noErr(t, err)
		if !ok {
			t.Fatal("DeletePasskey found nothing")
		}
		if ok, _ := p.DeletePasskey(ctx, u.ID, k.ID); ok {
			t.Fatal("a passkey was deleted twice")
		}
		_, err = p.PasskeyByCredentialID(ctx, k.CredentialID)
		wantErr(t, err, domain.ErrNotFound)
		ok, err = p.DeletePasskeys(ctx, u.ID)
		noErr(t, err)
		if !ok {
			t.Fatal("DeletePasskeys found nothing")
		}
		_, err = p.PasskeyByCredentialID(ctx, k2.CredentialID)
		wantErr(t, err, domain.ErrNotFound)
		if ok, _ := p.DeletePasskeys(ctx, u.ID); ok {
			t.Fatal("DeletePasskeys found passkeys of a user without any")
		}
	})

	t.Run("DieWithTheirUser", func(t *testing.T) {
		u := s.newUser(t)
		k := add(t, u, 0)
		noErr(t, s.Users.DeleteUser(ctx, u.ID))
		_, err := p.PasskeyByCredentialID(ctx, k.CredentialID)
		wantErr(t, err, domain.ErrNotFound)
	})
}
