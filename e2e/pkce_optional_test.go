package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestSecurity_S9_PKCEOptionalOnlyForConfidentialClientsThatSayIt: a confidential
// client created with --require-pkce=false may omit PKCE, and its code redeems without
// a verifier; every other client still must send it (S9), a public client cannot be
// made to do without, and updating the client back requires PKCE again at once.
func TestSecurity_S9_PKCEOptionalOnlyForConfidentialClientsThatSayIt(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	optional := newAZClient(t, srv, "https://rp.example.com/cb", "--require-pkce=false")
	strict := newAZClient(t, srv, "https://rp.example.com/cb")
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	noPKCE := []string{"code_challenge", "", "code_challenge_method", ""}
	p := newAZPKCE()

	flow := b.authorize(azQuery(optional, p, "opt", noPKCE...), user, pass, "allow")
	if flow.Query.Get("code") == "" {
		t.Fatalf("no code for a client that may omit PKCE: %s", flow.Location)
	}
	// Its code carries no challenge: a verifier is refused, none is accepted.
	if r := optional.exchange(t, srv, b.hc, flow.Query.Get("code"), optional.RedirectURI, p.Verifier); r.Status != http.StatusBadRequest {
		t.Fatalf("a verifier for a code without a challenge: %d %s", r.Status, r.Body)
	}
	flow = b.authorize(azQuery(optional, p, "opt2", noPKCE...), user, pass, "allow")
	r := optional.exchange(t, srv, b.hc, flow.Query.Get("code"), optional.RedirectURI, "")
	if r.Status != http.StatusOK {
		t.Fatalf("exchange without PKCE: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	srv.Sensitive(m["access_token"].(string))
	// With PKCE it works as for any client.
	flow = b.authorize(azQuery(optional, p, "opt3"), user, pass, "allow")
	if r := optional.exchange(t, srv, b.hc, flow.Query.Get("code"), optional.RedirectURI, p.Verifier); r.Status != http.StatusOK {
		t.Fatalf("exchange with PKCE: %d %s", r.Status, r.Body)
	} else {
		srv.Sensitive(r.JSON(t)["access_token"].(string))
	}

	// The default stays: another confidential client must send PKCE.
	wantRedirectError(t, srv, b.get("/oauth/authorize?"+azQuery(strict, p, "strict", noPKCE...).Encode()),
		strict.RedirectURI, "invalid_request", "strict")

	var shown struct {
		RequirePKCE bool `json:"require_pkce"`
	}
	srv.CLIJSON(t, &shown, "", "clients", "show", optional.ID)
	if shown.RequirePKCE {
		t.Fatalf("clients show --json: require_pkce true for a client created with --require-pkce=false")
	}
	// Updating it back takes effect within the second every change has to reach the
	// server (the client cache hears of it through the change feed).
	if out, errOut, code := srv.CLI(t, "", "clients", "update", optional.ID, "--require-pkce=true"); code != 0 {
		t.Fatalf("update: %d %s %s", code, out, errOut)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		r := b.get("/oauth/authorize?" + azQuery(optional, p, "again", noPKCE...).Encode())
		if loc, _ := url.Parse(r.Header.Get("Location")); loc != nil && loc.Query().Get("error") != "" {
			wantRedirectError(t, srv, r, optional.RedirectURI, "invalid_request", "again")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("2 s after clients update --require-pkce=true the client may still omit PKCE: %d %s", r.Status, r.Header.Get("Location"))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A public client cannot do without PKCE.
	out, errOut, code := srv.CLI(t, "", "clients", "create", "--name", uniqueName("pub-nopkce"), "--public",
		"--redirect-uri", "http://127.0.0.1/cb", "--require-pkce=false")
	wantUsage(t, "public client with --require-pkce=false", out, errOut, code, "--require-pkce", "public client")
}
