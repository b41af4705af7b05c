package usecase_test

import (
	"errors"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// TestEndSession: which RP-initiated logout requests may send the browser back, and
// where (OpenID Connect RP-Initiated Logout 1.0 §2, §3; no open redirect, S42).
func TestEndSession(t *testing.T) {
	f := newFixture(t)
	es := usecase.NewEndSession(f.clients, f.hints)
	rp, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantPassword},
		PostLogoutRedirectURIs: []string{"https://rp.example/bye", "https://rp.example/bye?from=op"}})
	other, _ := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantPassword},
		PostLogoutRedirectURIs: []string{"https://other.example/bye"}})
	u := f.user(t, "eve", "eve's long password")
	tok, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantPassword, Credentials: cr,
		Username: "eve", Password: "eve's long password", Scope: "openid"})
	if err != nil || tok.IDToken == "" {
		t.Fatalf("password grant: %v, id token %q", err, tok.IDToken)
	}
	hint := tok.IDToken

	cases := []struct {
		name    string
		in      usecase.EndSessionParams
		want    string // RedirectURL
		sub     string
		problem bool
	}{
		{"hint and registered URI", usecase.EndSessionParams{IDTokenHint: hint, PostLogoutRedirectURI: "https://rp.example/bye", State: "s 1&2"},
			"https://rp.example/bye?state=s+1%262", u.ID, false},
		{"registered URI with a query", usecase.EndSessionParams{IDTokenHint: hint, PostLogoutRedirectURI: "https://rp.example/bye?from=op", State: "x"},
			"https://rp.example/bye?from=op&state=x", u.ID, false},
		{"no state", usecase.EndSessionParams{ClientID: rp.ID, PostLogoutRedirectURI: "https://rp.example/bye"},
			"https://rp.example/bye", "", false},
		{"hint and its client_id", usecase.EndSessionParams{IDTokenHint: hint, ClientID: rp.ID, PostLogoutRedirectURI: "https://rp.example/bye"},
			"https://rp.example/bye", u.ID, false},
		{"no redirect asked", usecase.EndSessionParams{IDTokenHint: hint}, "", u.ID, false},
		{"nothing at all", usecase.EndSessionParams{}, "", "", false},
		{"unregistered URI", usecase.EndSessionParams{IDTokenHint: hint, PostLogoutRedirectURI: "https://evil.example/"}, "", u.ID, true},
		{"trailing slash", usecase.EndSessionParams{ClientID: rp.ID, PostLogoutRedirectURI: "https://rp.example/bye/"}, "", "", true},
		{"another client's URI", usecase.EndSessionParams{ClientID: rp.ID, PostLogoutRedirectURI: "https://other.example/bye"}, "", "", true},
		{"client_id against the hint", usecase.EndSessionParams{IDTokenHint: hint, ClientID: other.ID, PostLogoutRedirectURI: "https://other.example/bye"}, "", "", true},
		{"no client named", usecase.EndSessionParams{PostLogoutRedirectURI: "https://rp.example/bye"}, "", "", true},
		{"unknown client", usecase.EndSessionParams{ClientID: "nope", PostLogoutRedirectURI: "https://rp.example/bye"}, "", "", true},
		{"forged hint", usecase.EndSessionParams{IDTokenHint: hint[:len(hint)-4] + "AAAA", PostLogoutRedirectURI: "https://rp.example/bye"}, "", "", true},
		{"access token as hint", usecase.EndSessionParams{IDTokenHint: tok.AccessToken, PostLogoutRedirectURI: "https://rp.example/bye"}, "", "", true},
	}
	for _, tc := range cases {
		got, err := es.Check(f.ctx, tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.RedirectURL != tc.want || got.HintSubject != tc.sub || (got.Problem != "") != tc.problem {
			t.Errorf("%s: got %+v, want redirect %q, sub %q, problem %v", tc.name, got, tc.want, tc.sub, tc.problem)
		}
		if tc.want != "" && got.ClientName != rp.Name {
			t.Errorf("%s: client name %q", tc.name, got.ClientName)
		}
	}

	// The hint stays good after the ID token expired.
	f.clock.Advance(3 * time.Hour)
	got, err := es.Check(f.ctx, usecase.EndSessionParams{IDTokenHint: hint, PostLogoutRedirectURI: "https://rp.example/bye"})
	if err != nil || got.RedirectURL != "https://rp.example/bye" || got.HintSubject != u.ID {
		t.Errorf("expired hint: %+v %v", got, err)
	}
}

// TestSecurity_S33_PasswordChangeEndsSessions: setting a new password ends every
// browser session of the user, besides revoking their refresh tokens.
func TestSecurity_S33_PasswordChangeEndsSessions(t *testing.T) {
	f := newPagesFixture(t)
	f.user(t, "fay", "fay's long password")
	f.user(t, "gus", "gus's long password")
	s1, secret1, err := f.login.LogIn(f.ctx, "fay", "fay's long password", "192.0.2.9", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, secret2, err := f.login.LogIn(f.ctx, "fay", "fay's long password", "192.0.2.10", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, secretGus, err := f.login.LogIn(f.ctx, "gus", "gus's long password", "192.0.2.9", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.admin.SetPassword(f.ctx, s1.UserID, "fay's new long password"); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{secret1, secret2} {
		if s, err := f.login.Session(f.ctx, secret); s != nil || err != nil {
			t.Errorf("a session of the user outlived the password change: %+v %v", s, err)
		}
	}
	if s, err := f.login.Session(f.ctx, secretGus); s == nil || err != nil {
		t.Errorf("another user's session ended: %v", err)
	}
	// A bad password changes nothing and ends nothing.
	_, secret3, err := f.login.LogIn(f.ctx, "fay", "fay's new long password", "192.0.2.9", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ve *usecase.ValidationError
	if err := f.admin.SetPassword(f.ctx, s1.UserID, "short"); !errors.As(err, &ve) {
		t.Fatalf("short password: %v", err)
	}
	if s, _ := f.login.Session(f.ctx, secret3); s == nil {
		t.Error("a refused password change ended the session")
	}
}
