package domain

import (
	"strings"
	"testing"
	"time"
)

// TestExchangeError: each reason a code exchange fails gets its own description
// (audit finding 11 of issue 18).
func TestExchangeError(t *testing.T) {
	now := time.Date(2026, 3, 13, 12, 0, 0, 0, time.UTC)
	verifier := strings.Repeat("v", 43)
	withPKCE := AuthorizationCode{ClientID: "c1", RedirectURI: "https://app.example/cb", CodeChallenge: PKCEChallenge(verifier),
		ExpiresAt: now.Add(time.Minute)}
	noPKCE := withPKCE
	noPKCE.CodeChallenge = ""
	noURI := withPKCE
	noURI.RedirectURI = ""
	for _, tc := range []struct {
		name                  string
		code                  AuthorizationCode
		client, uri, verifier string
		at                    time.Time
		want                  string // "" when the exchange may go on
	}{
		{"all good", withPKCE, "c1", "https://app.example/cb", verifier, now, ""},
		{"all good without PKCE", noPKCE, "c1", "https://app.example/cb", "", now, ""},
		{"all good without redirect_uri", noURI, "c1", "", verifier, now, ""},
		{"another client's", withPKCE, "c2", "https://app.example/cb", verifier, now, "issued to another client"},
		{"expired", withPKCE, "c1", "https://app.example/cb", verifier, now.Add(time.Minute), "has expired"},
		{"redirect_uri missing", withPKCE, "c1", "", verifier, now, "redirect_uri is missing"},
		{"redirect_uri different", withPKCE, "c1", "https://app.example/cb/", verifier, now, "redirect_uri differs"},
		{"redirect_uri not asked", noURI, "c1", "https://app.example/cb", verifier, now, "redirect_uri was not in the authorization request"},
		{"verifier malformed", withPKCE, "c1", "https://app.example/cb", "short", now, "43 to 128"},
		{"verifier missing", withPKCE, "c1", "https://app.example/cb", "", now, "code_verifier is missing"},
		{"verifier without challenge", noPKCE, "c1", "https://app.example/cb", verifier, now, "issued without a code_challenge"},
		{"verifier wrong", withPKCE, "c1", "https://app.example/cb", strings.Repeat("w", 43), now, "does not match"},
		// The first failing condition is the one told.
		{"another client's, expired, wrong everything", withPKCE, "c2", "", "", now.Add(time.Hour), "issued to another client"},
	} {
		err := tc.code.ExchangeError(tc.client, tc.uri, tc.verifier, tc.at)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || err.Code != ErrInvalidGrant.Code || !strings.Contains(err.Description, tc.want)):
			t.Errorf("%s: %v, want invalid_grant saying %q", tc.name, err, tc.want)
		}
	}
}
