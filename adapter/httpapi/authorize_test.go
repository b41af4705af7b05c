package httpapi

import (
	"testing"

	"gatehouse/domain"
)

// TestResponseURL: the answer goes into the client's redirect URI, its own query
// kept, with state as received (absent when there is none) and iss (RFC 9207); an
// error description keeps only the characters RFC 6749 §4.1.2.1 allows.
func TestResponseURL(t *testing.T) {
	const iss = "https://auth.test"
	for _, tc := range []struct {
		r    domain.AuthResponse
		want string
	}{
		{domain.AuthResponse{RedirectURI: "https://app.test/cb", State: "a b&c", Code: "xyz"},
			"https://app.test/cb?code=xyz&iss=https%3A%2F%2Fauth.test&state=a+b%26c"},
		{domain.AuthResponse{RedirectURI: "https://app.test/cb?k=v", Code: "xyz"},
			"https://app.test/cb?k=v&code=xyz&iss=https%3A%2F%2Fauth.test"},
		{domain.AuthResponse{RedirectURI: "com.example.app:/cb", State: "s", Err: domain.ErrAccessDenied},
			"com.example.app:/cb?error=access_denied&iss=https%3A%2F%2Fauth.test&state=s"},
		{domain.AuthResponse{RedirectURI: "https://app.test/cb", State: "s",
			Err: domain.ErrInvalidRequest.WithDescription("prompt \"é\x01\" \\ unknown")},
			"https://app.test/cb?error=invalid_request&error_description=prompt+%27%3F%3F%27+%3F+unknown&iss=https%3A%2F%2Fauth.test&state=s"},
	} {
		if got := responseURL(iss, tc.r); got != tc.want {
			t.Errorf("%+v:\n got %s\nwant %s", tc.r, got, tc.want)
		}
	}
}
