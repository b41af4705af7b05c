package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAudit18_PublicClientConsentPerRedirectURI (issue 18, finding 2; RFC 8252 §8.6,
// RFC 6749 §10.2): loopback redirect URIs match on any port (SECURITY S2), so any
// program on the user's machine can send a public client's id with a port of its own.
// A consent given to the public client at http://127.0.0.1:PORT1/cb must not carry to
// PORT2: there the consent page comes again, and prompt=none gets consent_required at
// PORT2's redirect, while PORT1 still goes straight back with a code. A confidential
// client's consent (its codes need its secret) still carries across ports.
func TestAudit18_PublicClientConsentPerRedirectURI(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	const port1, port2 = "http://127.0.0.1:43101/cb", "http://127.0.0.1:43102/cb"
	pub := newAZClient(t, srv, "http://127.0.0.1/cb", "--public")
	conf := newAZClient(t, srv, "http://127.0.0.1/cb")
	user, pass := azUser(t, srv)
	b := newAZBrowser(t, srv)
	at := func(c azClient, uri string) azClient { c.RedirectURI = uri; return c }
	get := func(c azClient, p azPKCE, state string, kv ...string) Response {
		t.Helper()
		return b.get("/oauth/authorize?" + azQuery(c, p, state, kv...).Encode())
	}
	wantCodeAt := func(r Response, uri string) string {
		t.Helper()
		loc := r.Header.Get("Location")
		if r.Status != http.StatusFound || !strings.HasPrefix(loc, uri+"?") {
			t.Fatalf("status %d Location %q, want a code at %s at once\n%s", r.Status, loc, uri, r.Body)
		}
		u, err := url.Parse(loc)
		if err != nil || u.Query().Get("code") == "" {
			t.Fatalf("redirect %q carries no code (%v)", loc, err)
		}
		return u.Query().Get("code")
	}
	redeem := func(c azClient, code string, p azPKCE) {
		t.Helper()
		if r := c.exchange(t, srv, b.hc, code, c.RedirectURI, p.Verifier); r.Status != http.StatusOK {
			t.Fatalf("exchange at %s: %d %s", c.RedirectURI, r.Status, r.Body)
		}
	}

	// The user signs in and consents to the real application at PORT1.
	p := newAZPKCE()
	f := b.authorize(azQuery(at(pub, port1), p, "p1"), user, pass, "allow")
	if !f.SawLogin || !f.SawConsent || !strings.HasPrefix(f.Location, port1+"?") {
		t.Fatalf("first visit: login %v consent %v, redirect %q; want both pages, then PORT1", f.SawLogin, f.SawConsent, f.Location)
	}
	redeem(at(pub, port1), f.Query.Get("code"), p)
	// PORT1 is remembered: with prompt=none too.
	p = newAZPKCE()
	redeem(at(pub, port1), wantCodeAt(get(at(pub, port1), p, "p1-none", "prompt", "none"), port1), p)

	// Another program takes PORT2 and sends the same client id: no silent code.
	wantRedirectError(t, srv, get(at(pub, port2), newAZPKCE(), "p2-none", "prompt", "none"), port2, "consent_required", "p2-none")
	f = b.authorize(azQuery(at(pub, port2), newAZPKCE(), "p2"), user, pass, "deny")
	if f.SawLogin || !f.SawConsent || f.Query.Get("error") != "access_denied" || !strings.HasPrefix(f.Location, port2+"?") {
		t.Fatalf("PORT2: login %v consent %v, redirect %q; want the consent page again (denied here)", f.SawLogin, f.SawConsent, f.Location)
	}
	// Denied, nothing is remembered for PORT2; PORT1 still skips the page.
	wantRedirectError(t, srv, get(at(pub, port2), newAZPKCE(), "p2-again", "prompt", "none"), port2, "consent_required", "p2-again")
	p = newAZPKCE()
	f = b.authorize(azQuery(at(pub, port1), p, "p1-again"), user, pass, "deny")
	if f.SawLogin || f.SawConsent || f.Query.Get("code") == "" {
		t.Fatalf("PORT1 again: login %v consent %v, redirect %q; want a code at once", f.SawLogin, f.SawConsent, f.Location)
	}
	redeem(at(pub, port1), f.Query.Get("code"), p)

	// A confidential client: consent at PORT1 carries to PORT2, prompt=none included.
	p = newAZPKCE()
	f = b.authorize(azQuery(at(conf, port1), p, "c1"), user, pass, "allow")
	if f.SawLogin || !f.SawConsent || f.Query.Get("code") == "" {
		t.Fatalf("confidential client at PORT1: login %v consent %v, redirect %q; want the consent page, then a code",
			f.SawLogin, f.SawConsent, f.Location)
	}
	redeem(at(conf, port1), f.Query.Get("code"), p)
	p = newAZPKCE()
	redeem(at(conf, port2), wantCodeAt(get(at(conf, port2), p, "c2-none", "prompt", "none"), port2), p)
}
