package crypto

import (
	"net/url"
	"strings"
	"testing"

	"github.com/pquerna/otp"
)

// The otpauth label is "issuer:account" and the Key URI format allows a colon in
// neither name: one given in either becomes a space, so that apps show the issuer and
// account they were meant to (not issuer "localhost", account "8080:alice").
func TestNewTOTPSecret_LabelWithoutColons(t *testing.T) {
	for _, tc := range []struct{ issuer, account, wantIssuer, wantAccount string }{
		{"id.example.com", "alice", "id.example.com", "alice"},
		{"localhost", "alice@example.com", "localhost", "alice@example.com"},
		{"localhost:8080", "alice", "localhost 8080", "alice"},
		{"Acme: Sign-in", "bob:smith", "Acme Sign-in", "bob smith"},
		{"Acme  ID ", " carol ", "Acme ID", "carol"},
	} {
		secret, uri, err := TOTP{}.NewTOTPSecret(tc.issuer, tc.account)
		if err != nil {
			t.Fatalf("NewTOTPSecret(%q, %q): %v", tc.issuer, tc.account, err)
		}
		u, err := url.Parse(uri)
		if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
			t.Fatalf("URI %q: %v", uri, err)
		}
		// Apps decode the label before they split it at its colon.
		label := strings.TrimPrefix(u.Path, "/")
		if strings.Count(label, ":") != 1 {
			t.Fatalf("URI %q: label %q holds %d colons, want 1", uri, label, strings.Count(label, ":"))
		}
		issuer, account, _ := strings.Cut(label, ":")
		q := u.Query()
		if issuer != tc.wantIssuer || account != tc.wantAccount || q.Get("issuer") != tc.wantIssuer {
			t.Errorf("NewTOTPSecret(%q, %q): issuer %q (parameter %q), account %q; want %q, %q",
				tc.issuer, tc.account, issuer, q.Get("issuer"), account, tc.wantIssuer, tc.wantAccount)
		}
		if q.Get("secret") != secret || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
			t.Errorf("URI %q: parameters %v", uri, q)
		}
		// As the library that reads these URIs sees it.
		key, err := otp.NewKeyFromURL(uri)
		if err != nil || key.Issuer() != tc.wantIssuer || key.AccountName() != tc.wantAccount {
			t.Errorf("URI %q read back: issuer %q, account %q, %v", uri, key.Issuer(), key.AccountName(), err)
		}
	}
	for _, bad := range [][2]string{{":", "alice"}, {"localhost", " : "}, {"", "alice"}} {
		if _, _, err := (TOTP{}).NewTOTPSecret(bad[0], bad[1]); err == nil {
			t.Errorf("NewTOTPSecret(%q, %q): no error", bad[0], bad[1])
		}
	}
}
