package usecase_test

import (
	"strings"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// TestCodeRedemptionMatchesAgreesWithExchangeError: the repositories decide with
// CodeRedemption.Matches (PostgreSQL in SQL with the same conditions), the grant
// explains with domain.AuthorizationCode.ExchangeError; for every combination of a
// code's bindings and a request's, they agree.
func TestCodeRedemptionMatchesAgreesWithExchangeError(t *testing.T) {
	now := time.Date(2026, 3, 13, 12, 0, 0, 0, time.UTC)
	v1, v2 := strings.Repeat("a", 43), strings.Repeat("b", 43)
	n := 0
	for _, challenge := range []string{"", domain.PKCEChallenge(v1)} {
		for _, codeURI := range []string{"", "https://app.example/cb"} {
			for _, expires := range []time.Time{now.Add(time.Minute), now} {
				code := domain.AuthorizationCode{ClientID: "c1", RedirectURI: codeURI, CodeChallenge: challenge, ExpiresAt: expires}
				for _, client := range []string{"c1", "c2"} {
					for _, uri := range []string{"", "https://app.example/cb", "https://app.example/other"} {
						for _, verifier := range []string{"", v1, v2} {
							sent := ""
							if verifier != "" {
								sent = domain.PKCEChallenge(verifier)
							}
							r := usecase.CodeRedemption{ClientID: client, RedirectURI: uri, Challenge: sent, Now: now}
							matches, err := r.Matches(code), code.ExchangeError(client, uri, verifier, now)
							if matches != (err == nil) {
								t.Errorf("code %+v, request %s %q %q: Matches %v, ExchangeError %v", code, client, uri, verifier, matches, err)
							}
							n++
						}
					}
				}
			}
		}
	}
	if n != 144 {
		t.Fatalf("%d combinations", n)
	}
}
