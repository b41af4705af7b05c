package usecase_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"gatehouse/adapter/crypto"
	"gatehouse/adapter/identifier"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// TestSecurity_S51_CeremonyBoundAndSingleUse: a page's passkey ceremony answers only
// in the browser and session it was made for, for its purpose, within 5 minutes, and
// once: the first answer uses its challenge up (even a wrong one), so the same state
// posted again finds it used; a state refused for its binding or age uses nothing.
func TestSecurity_S51_CeremonyBoundAndSingleUse(t *testing.T) {
	s := newAccountsSetup(t)
	replay := bunrepo.NewReplayRepository(s.db)
	settings := usecase.MFASettings{Issuer: "https://id.example.com", Policy: usecase.MFAOptional}
	f := usecase.NewFactors(s.users, bunrepo.NewFactorRepository(s.db), crypto.NewTOTP(), newCipher(t), identifier.NewRules(),
		s.passwords, s.throttle, s.random, s.hasher, s.clock, s.accounts, nil, settings,
		bunrepo.NewPasskeyRepository(s.db), crypto.NewWebAuthn(settings), replay)
	if !f.PasskeysEnabled() {
		t.Fatal("passkeys off for an https issuer")
	}
	u := s.user(t, "pia", "pia's password")
	challenge := func(ch usecase.PasskeyChallenge) string {
		var o struct {
			PublicKey struct {
				Challenge string `json:"challenge"`
				RPID      string `json:"rpId"`
				UV        string `json:"userVerification"`
			} `json:"publicKey"`
		}
		if err := json.Unmarshal([]byte(ch.Options), &o); err != nil || o.PublicKey.Challenge == "" {
			t.Fatalf("options %s: %v", ch.Options, err)
		}
		if o.PublicKey.RPID != "id.example.com" || o.PublicKey.UV != "required" {
			t.Fatalf("options for rpId %q, user verification %q; want id.example.com, required", o.PublicKey.RPID, o.PublicKey.UV)
		}
		return o.PublicKey.Challenge
	}
	const answer = `{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA"}}`
	ch, err := f.BeginPasskeySignIn("browser-a", "")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct{ what, user, browser, session, state string }{
		{"another browser", "", "browser-b", "", ch.State},
		{"no browser", "", "", "", ch.State},
		{"another session", "", "browser-a", "session-1", ch.State},
		{"another purpose (second factor)", u.ID, "browser-a", "", ch.State},
		{"a tampered state", "", "browser-a", "", ch.State[:len(ch.State)-2] + "AA"},
	} {
		// Each from its own address: failures are throttled per address (and user).
		if _, err := f.VerifyPasskey(s.ctx, c.user, c.browser, c.session, c.state, answer, "198.51.100."+strconv.Itoa(i), ""); !errors.Is(err, usecase.ErrBadPasskey) {
			t.Fatalf("%s: %v, want ErrBadPasskey", c.what, err)
		}
	}
	if _, err := f.VerifyPasskey(s.ctx, "", "browser-a", "", ch.State, answer, "192.0.2.7", ""); !errors.Is(err, usecase.ErrBadPasskey) {
		t.Fatalf("a bogus answer: %v", err)
	}
	if fresh, err := replay.MarkUsed(s.ctx, "webauthn-challenge", challenge(ch), s.clock.Now().Add(time.Hour)); err != nil || fresh {
		t.Fatalf("the challenge was not used up by its first answer: fresh %v, %v", fresh, err)
	}

	late, err := f.BeginPasskeySignIn("browser-a", "")
	if err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(usecase.PasskeyCeremonyTTL + time.Second)
	if _, err := f.VerifyPasskey(s.ctx, "", "browser-a", "", late.State, answer, "192.0.2.7", ""); !errors.Is(err, usecase.ErrBadPasskey) {
		t.Fatalf("an expired ceremony: %v", err)
	}
	if fresh, err := replay.MarkUsed(s.ctx, "webauthn-challenge", challenge(late), s.clock.Now().Add(time.Hour)); err != nil || !fresh {
		t.Fatalf("a refused expired state used its challenge: fresh %v, %v", fresh, err)
	}

	// An issuer on an IP address cannot be a relying party: no passkeys.
	ip := usecase.MFASettings{Issuer: "http://127.0.0.1:8080"}
	off := usecase.NewFactors(s.users, bunrepo.NewFactorRepository(s.db), crypto.NewTOTP(), newCipher(t), identifier.NewRules(),
		s.passwords, s.throttle, s.random, s.hasher, s.clock, s.accounts, nil, ip,
		bunrepo.NewPasskeyRepository(s.db), crypto.NewWebAuthn(ip), replay)
	if off.PasskeysEnabled() || !crypto.NewWebAuthn(usecase.MFASettings{Issuer: "http://localhost:8080"}).Available() {
		t.Fatal("passkeys must be off for an IP issuer and on for localhost")
	}
}

// TestFactors_ResetRemovesPasskeys: `users reset-mfa` (a lost phone) removes the
// user's passkeys with the authenticator app: afterwards the user has no factor.
func TestFactors_ResetRemovesPasskeys(t *testing.T) {
	s := newAccountsSetup(t)
	settings := usecase.MFASettings{Issuer: "https://id.example.com", Policy: usecase.MFAOptional}
	store := bunrepo.NewPasskeyRepository(s.db)
	f := usecase.NewFactors(s.users, bunrepo.NewFactorRepository(s.db), crypto.NewTOTP(), newCipher(t), identifier.NewRules(),
		s.passwords, s.throttle, s.random, s.hasher, s.clock, s.accounts, nil, settings,
		store, crypto.NewWebAuthn(settings), bunrepo.NewReplayRepository(s.db))
	u := s.user(t, "quinn", "quinn's password")
	if err := store.CreatePasskey(s.ctx, domain.Passkey{ID: "pk1", UserID: u.ID, CredentialID: []byte("credential-1"),
		PublicKey: []byte("key"), Name: "Phone", CreatedAt: s.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if has, err := f.Has(s.ctx, u.ID); err != nil || !has {
		t.Fatalf("Has with a passkey = %v, %v", has, err)
	}
	ok, err := f.Reset(s.ctx, u.ID)
	if err != nil || !ok {
		t.Fatalf("Reset = %v, %v", ok, err)
	}
	if has, err := f.Has(s.ctx, u.ID); err != nil || has {
		t.Fatalf("Has after the reset = %v, %v", has, err)
	}
	if ok, err := f.Reset(s.ctx, u.ID); err != nil || ok {
		t.Fatalf("a second Reset = %v, %v; want nothing removed", ok, err)
	}
}
