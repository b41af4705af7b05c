package domain

import "testing"

// TestConsentRedirectURI: a public client's consent is bound to the exact redirect URI
// of the request (its loopback port included); a confidential client's to none.
func TestConsentRedirectURI(t *testing.T) {
	public := Client{Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"}}
	confidential := Client{RedirectURIs: []string{"http://127.0.0.1/cb"}}
	for _, uri := range []string{"http://127.0.0.1:5001/cb", "http://127.0.0.1:5002/cb", "http://127.0.0.1/cb"} {
		if got := public.ConsentRedirectURI(uri); got != uri {
			t.Errorf("public client at %q: consent for %q, want the URI itself", uri, got)
		}
		if got := confidential.ConsentRedirectURI(uri); got != "" {
			t.Errorf("confidential client at %q: consent for %q, want every URI (\"\")", uri, got)
		}
	}
}
