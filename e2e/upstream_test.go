package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Signing in with an upstream identity provider (issue 22), with a second Gatehouse
// as the upstream: both are real servers; the upstream listens on 127.0.0.2 so the
// one cookie jar keeps their cookies apart.

// gatehouseUpstream is a second server registered at down as upstream "gh2", with a
// confidential client whose redirect URI is down's callback, and a user with a
// verified email.
type gatehouseUpstream struct {
	up             *Server
	user, password string
	email          string
	clientID       string
}

func newGatehouseUpstream(t *testing.T, down *Server) gatehouseUpstream {
	t.Helper()
	up := startServer(t, Options{Host: "127.0.0.2"})
	g := gatehouseUpstream{up: up, user: uniqueName("ada"), password: "pw-" + randomString(16)}
	g.email = g.user + "@upstream.example"
	up.Sensitive(g.password)
	up.CLIJSON(t, &map[string]any{}, g.password+"\n", "users", "create", "--username", g.user, "--email", g.email,
		"--email-verified", "--name", "Ada Lovelace", "--password-stdin")
	id, secret := up.CreateClient(t, "--redirect-uri", down.URL+"/login/upstream/gh2/callback", "--scope", "openid email profile")
	g.clientID = id
	out := createUpstream(t, down, secret, "--id", "gh2", "--name", "Upstream House", "--type", "oidc", "--issuer", up.URL,
		"--client-id", id, "--client-secret-stdin")
	if out["callback_url"] != down.URL+"/login/upstream/gh2/callback" {
		t.Fatalf("upstreams create: callback_url %v", out["callback_url"])
	}
	return g
}

// atUpstream is a view of browser b on the upstream server (same cookie jar).
func (g gatehouseUpstream) browser(b *azBrowser) *azBrowser {
	return &azBrowser{t: b.t, srv: g.up, hc: b.hc}
}

var continueRE = regexp.MustCompile(`href="(/login/upstream/[^"]+)">Continue with ([^<]+)</a>`)

// continueWith finds the "Continue with NAME" link of a login page.
func continueWith(t *testing.T, page Response, name string) string {
	t.Helper()
	for _, m := range continueRE.FindAllStringSubmatch(string(page.Body), -1) {
		if m[2] == name {
			return strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	t.Fatalf("no Continue with %s on the page\n%s", name, page.Body)
	return ""
}

// viaUpstream goes from a downstream "Continue with" link through the upstream's
// login and consent back to the downstream callback, and returns its answer.
func (g gatehouseUpstream) viaUpstream(t *testing.T, b *azBrowser, link string) Response {
	t.Helper()
	r := b.get(link)
	if r.Status != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), g.up.URL+"/oauth/authorize?") {
		t.Fatalf("GET %s: %d %q, want the upstream's authorization endpoint\n%s", link, r.Status, r.Header.Get("Location"), r.Body)
	}
	return b.get(g.through(t, b, r))
}

// through follows the downstream's redirect r to the upstream, signs in and consents
// there, and returns the URL of the downstream callback it sends the browser to.
func (g gatehouseUpstream) through(t *testing.T, b *azBrowser, r Response) string {
	t.Helper()
	ub := g.browser(b)
	flow := ub.follow(ub.get(r.Header.Get("Location")), g.user, g.password, "allow")
	if !strings.HasPrefix(flow.Location, b.srv.URL+"/login/upstream/gh2/callback?") {
		t.Fatalf("the upstream sent the browser to %q", flow.Location)
	}
	return flow.Location
}

// downClient is an x/oauth2 client of the downstream server.
func downClient(t *testing.T, down *Server) (*oauth2.Config, context.Context) {
	t.Helper()
	id, secret := down.CreateClient(t, "--redirect-uri", "http://127.0.0.1:9/cb", "--scope", "openid profile email")
	cfg := &oauth2.Config{ClientID: id, ClientSecret: secret, RedirectURL: "http://127.0.0.1:9/cb",
		Endpoint: oauth2.Endpoint{AuthURL: down.URL + "/oauth/authorize", TokenURL: down.URL + "/oauth/token"},
		Scopes:   []string{"openid", "profile", "email"}}
	return cfg, oidc.ClientContext(context.WithValue(t.Context(), oauth2.HTTPClient, down.HTTPClient()), down.HTTPClient())
}

// redeem exchanges the code of the client's redirect with the x/oauth2 client and
// verifies the ID token with go-oidc against the downstream's JWKS.
func redeem(t *testing.T, down *Server, cfg *oauth2.Config, ctx context.Context, location, verifier string) *oidc.IDToken {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil || !strings.HasPrefix(location, cfg.RedirectURL+"?") || u.Query().Get("code") == "" {
		t.Fatalf("want the client's redirect with a code, got %q", location)
	}
	down.Sensitive(u.Query().Get("code"))
	tok, err := cfg.Exchange(ctx, u.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	down.Sensitive(tok.AccessToken, raw, tok.RefreshToken)
	p, err := oidc.NewProvider(ctx, down.URL)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	return idt
}

type shownUser struct {
	ID            string `json:"id"`
	Username      string `json:"username"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	Name          string `json:"name"`
}

// TestUpstream_GatehouseAsUpstream: an application's authorization request at the
// downstream, "Continue with", sign-in and consent at the upstream, back, consent at
// the downstream, the code redeemed by an x/oauth2 client: the ID token's sub is the
// account made just in time, with the upstream's verified email. The second time the
// same identity signs into the same account; that account has no password, so the
// password form refuses it, and its only identity cannot be unlinked.
func TestUpstream_GatehouseAsUpstream(t *testing.T) {
	t.Parallel()
	down := startServer(t, Options{Env: map[string]string{"GATEHOUSE_REGISTRATION_ENABLED": "true"}})
	g := newGatehouseUpstream(t, down)
	cfg, ctx := downClient(t, down)

	signIn := func(b *azBrowser) *oidc.IDToken {
		t.Helper()
		verifier := oauth2.GenerateVerifier()
		r := b.get(cfg.AuthCodeURL("st-"+randomString(8), oauth2.S256ChallengeOption(verifier)))
		wantLoginRedirect(t, r)
		login := b.get(r.Header.Get("Location"))
		r = g.viaUpstream(t, b, continueWith(t, login, "Upstream House"))
		flow := b.follow(r, "", "", "allow")
		return redeem(t, down, cfg, ctx, flow.Location, verifier)
	}
	b := newAZBrowser(t, down)
	idt := signIn(b)
	var u shownUser
	down.CLIJSON(t, &u, "", "users", "show", idt.Subject)
	if u.ID != idt.Subject || u.Username != g.user || u.Email != g.email || !u.EmailVerified || u.Name != "Ada Lovelace" {
		t.Fatalf("the account made from the upstream identity: %+v (sub %s)", u, idt.Subject)
	}
	var claims struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.ACR != "urn:gatehouse:acr:pwd" || len(claims.AMR) == 0 || claims.AMR[0] != "fed" {
		t.Fatalf("acr %q amr %v, want the password level and fed first", claims.ACR, claims.AMR)
	}

	// Again, from a fresh browser: the same account, none created.
	before := userCount(t, down)
	if again := signIn(newAZBrowser(t, down)); again.Subject != idt.Subject {
		t.Fatalf("second sign-in: sub %s, want %s", again.Subject, idt.Subject)
	}
	if n := userCount(t, down); n != before {
		t.Fatalf("%d users after the second sign-in, want %d", n, before)
	}

	// No password: the password form refuses the account like a wrong password.
	r := newAZBrowser(t, down).logIn("/login", g.user, "")
	if r.Status != http.StatusBadRequest {
		t.Fatalf("empty password: %d", r.Status)
	}
	r = newAZBrowser(t, down).logIn("/login", g.user, g.password)
	wantPageText(t, r, http.StatusUnauthorized, "Incorrect username or password.")

	// Its only way in cannot be unlinked.
	page := b.get("/account")
	wantPageText(t, page, http.StatusOK, "Linked accounts")
	wantPageText(t, page, http.StatusOK, "Upstream House")
	csrf, _ := azFormFields(t, page)
	sub := regexp.MustCompile(`name="subject" value="([^"]+)"`).FindStringSubmatch(string(page.Body))
	if sub == nil {
		t.Fatalf("no unlink form\n%s", page.Body)
	}
	r = b.post("/account/upstreams/unlink", url.Values{"csrf_token": {csrf}, "upstream": {"gh2"}, "subject": {sub[1]}})
	wantPageText(t, r, http.StatusBadRequest, "only way you can sign in")
	// Without the CSRF token nothing happens.
	r = b.post("/account/upstreams/unlink", url.Values{"upstream": {"gh2"}, "subject": {sub[1]}})
	if r.Status != http.StatusForbidden {
		t.Fatalf("unlink without CSRF: %d", r.Status)
	}

	// The account sets a password (no current one to give, the sign-in is fresh);
	// then the password signs in, and the identity may go.
	wantPageText(t, page, http.StatusOK, "Set a password")
	if strings.Contains(string(page.Body), `action="/account/email"`) {
		t.Fatal("the email change form, which asks for the current password, is shown to an account without one")
	}
	own := "own-pw-" + randomString(12)
	down.Sensitive(own)
	r = b.post("/account/password", url.Values{"csrf_token": {csrf}, "new_password": {own}})
	wantPageText(t, r, http.StatusOK, "Your password was changed")
	csrf, _ = azFormFields(t, r)
	if r := newAZBrowser(t, down).logIn("/login", g.user, own); r.Status != http.StatusSeeOther {
		t.Fatalf("sign-in with the new password: %d\n%s", r.Status, r.Body)
	}
	r = b.post("/account/upstreams/unlink", url.Values{"csrf_token": {csrf}, "upstream": {"gh2"}, "subject": {sub[1]}})
	wantPageText(t, r, http.StatusOK, "The account was unlinked.")
}

// TestUpstream_LinkFromAccount: a user signed in with the password links the
// upstream identity from /account (mailed), then signs in with it; unlinking it is
// allowed (the password remains), and the identity no longer signs in.
func TestUpstream_LinkFromAccount(t *testing.T) {
	t.Parallel()
	down := startServer(t, Options{Env: map[string]string{"GATEHOUSE_REGISTRATION_ENABLED": "false"}})
	g := newGatehouseUpstream(t, down)
	user, pass := uniqueName("bob"), "pw-"+randomString(16)
	id := down.CreateUser(t, user, pass)

	b := newAZBrowser(t, down)
	if r := b.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("password sign-in: %d", r.Status)
	}
	page := b.get("/account")
	wantPageText(t, page, http.StatusOK, "Link Upstream House")
	csrf, _ := azFormFields(t, page)
	r := b.post("/account/upstreams/link", url.Values{"csrf_token": {csrf}, "upstream": {"gh2"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("link: %d\n%s", r.Status, r.Body)
	}
	r = b.get(g.through(t, b, r))
	if r.Status != http.StatusFound || r.Header.Get("Location") != "/account?linked=gh2" {
		t.Fatalf("link callback: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	page = b.get(r.Header.Get("Location"))
	wantPageText(t, page, http.StatusOK, "Your Upstream House account is linked")
	wantPageText(t, page, http.StatusOK, g.email)

	// A fresh browser signs in with the upstream as bob.
	b2 := newAZBrowser(t, down)
	r = g.viaUpstream(t, b2, continueWith(t, b2.get("/login"), "Upstream House"))
	if r.Status != http.StatusFound || r.Header.Get("Location") != "/" {
		t.Fatalf("upstream sign-in: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	wantPageText(t, b2.get("/"), http.StatusOK, user)

	var events []map[string]any
	down.CLIJSON(t, &events, "", "audit", "list", "--user", id)
	seen := map[string]bool{}
	for _, e := range events {
		if d, _ := e["details"].(map[string]any); d["upstream"] == "gh2" {
			seen[e["type"].(string)] = true
		}
	}
	if !seen["user.identity.linked"] || !seen["user.login.succeeded"] {
		t.Fatalf("audit events of the user: %v", events)
	}

	// Disabled, bob cannot sign in through the upstream either.
	if _, errOut, code := down.CLI(t, "", "users", "update", user, "--disabled=true"); code != 0 {
		t.Fatalf("users update --disabled: %d %s", code, errOut)
	}
	bd := newAZBrowser(t, down)
	r = g.viaUpstream(t, bd, continueWith(t, bd.get("/login"), "Upstream House"))
	wantPageText(t, r, http.StatusForbidden, "This account is disabled.")
	if _, errOut, code := down.CLI(t, "", "users", "update", user, "--disabled=false"); code != 0 {
		t.Fatalf("users update --disabled=false: %d %s", code, errOut)
	}
	b = newAZBrowser(t, down)
	if r := b.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("password sign-in after enabling: %d", r.Status)
	}

	// Unlinked (bob keeps his password), the identity signs in no more.
	page = b.get("/account")
	csrf, _ = azFormFields(t, page)
	sub := regexp.MustCompile(`name="subject" value="([^"]+)"`).FindStringSubmatch(string(page.Body))
	r = b.post("/account/upstreams/unlink", url.Values{"csrf_token": {csrf}, "upstream": {"gh2"}, "subject": {sub[1]}})
	wantPageText(t, r, http.StatusOK, "The account was unlinked.")
	b3 := newAZBrowser(t, down)
	r = g.viaUpstream(t, b3, continueWith(t, b3.get("/login"), "Upstream House"))
	// Registration is off here: an unknown identity gets no account.
	wantPageText(t, r, http.StatusForbidden, "No account here is linked to this Upstream House account")
}

// TestUpstream_MFAAfterUpstream: a user with an authenticator app who signs in through
// an upstream gives the second factor before the application gets a code; the tokens
// then say mfa.
func TestUpstream_MFAAfterUpstream(t *testing.T) {
	t.Parallel()
	down, mx := mailServer(t, nil)
	g := newGatehouseUpstream(t, down)
	user, pass, email, _ := mfaUser(t, down)
	b := newAZBrowser(t, down)
	if r := b.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("password sign-in: %d", r.Status)
	}
	awayFromStepEdge(20 * 1e9)
	secret, _ := enrolTOTP(t, b, pass)
	csrf, _ := b.openForm("/account")
	r := b.post("/account/upstreams/link", url.Values{"csrf_token": {csrf}, "upstream": {"gh2"}})
	if r := b.get(g.through(t, b, r)); r.Header.Get("Location") != "/account?linked=gh2" {
		t.Fatalf("link: %d %q", r.Status, r.Header.Get("Location"))
	}
	waitMail(t, mx, email, "Sign-in with Upstream House was linked to your account")

	c := newAZClient(t, down, "http://127.0.0.1:9/cb")
	pk := newAZPKCE()
	b2 := newAZBrowser(t, down)
	r = b2.get("/oauth/authorize?" + azQuery(c, pk, "st-up-mfa").Encode())
	wantLoginRedirect(t, r)
	r = g.viaUpstream(t, b2, continueWith(t, b2.get(r.Header.Get("Location")), "Upstream House"))
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login/mfa?req=") || b2.cookie("gatehouse_session") != "" {
		t.Fatalf("after the upstream: %d %q, want the second-factor page and no session", r.Status, loc)
	}
	r = secondFactor(t, b2, loc, "otp", totpCode(t, secret, 0))
	flow := b2.follow(r, "", "", "allow")
	tokens := codeTokens(t, down, c, pk, asSeeOther(Response{Status: http.StatusSeeOther, Header: http.Header{"Location": {flow.Location}}}))
	claims := jwtPayload(t, tokens["id_token"].(string))
	if claims["acr"] != "urn:gatehouse:acr:mfa" {
		t.Fatalf("acr %v amr %v after the upstream and the second factor", claims["acr"], claims["amr"])
	}
	// amr is honest: federated ("fed"), what the upstream said it checked (its own
	// password sign-in: "pwd"), then this server's factor. No password was typed here,
	// so "pwd" comes only from the upstream's ID token.
	amr := fmt.Sprint(claims["amr"])
	if amr != "[fed pwd otp mfa]" {
		t.Fatalf("amr %v after the upstream and the second factor, want [fed pwd otp mfa]", amr)
	}
}

// TestUpstream_MFAAfterUpstreamNoPassword: an upstream whose ID token says amr
// ["face"] (no password), then the authenticator app here: the tokens say
// fed, face, otp, mfa, and never pwd, since no password was checked anywhere.
func TestUpstream_MFAAfterUpstreamNoPassword(t *testing.T) {
	t.Parallel()
	down, mx := mailServer(t, nil)
	op := newFakeOP(t)
	op.Claims = map[string]any{"sub": "face-1", "preferred_username": "facey", "amr": []string{"face"}}
	createUpstream(t, down, op.ClientSecret, "--id", "op", "--name", "Fake OP", "--type", "oidc", "--issuer", op.Issuer,
		"--client-id", op.ClientID, "--client-secret-stdin")
	user, pass, email, _ := mfaUser(t, down)
	b := newAZBrowser(t, down)
	if r := b.logIn("/login", user, pass); r.Status != http.StatusSeeOther {
		t.Fatalf("password sign-in: %d", r.Status)
	}
	awayFromStepEdge(20 * 1e9)
	secret, _ := enrolTOTP(t, b, pass)
	csrf, _ := b.openForm("/account")
	r := b.post("/account/upstreams/link", url.Values{"csrf_token": {csrf}, "upstream": {"op"}})
	r = b.get(r.Header.Get("Location")) // the fake OP approves at once
	if r = b.get(r.Header.Get("Location")); r.Header.Get("Location") != "/account?linked=op" {
		t.Fatalf("link: %d %q %s", r.Status, r.Header.Get("Location"), r.Body)
	}

	c := newAZClient(t, down, "http://127.0.0.1:9/cb")
	pk := newAZPKCE()
	b2 := newAZBrowser(t, down)
	r = b2.get("/oauth/authorize?" + azQuery(c, pk, "st-up-face").Encode())
	wantLoginRedirect(t, r)
	r, _ = b2.upstreamSignIn(continueWith(t, b2.get(r.Header.Get("Location")), "Fake OP"))
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login/mfa?req=") {
		t.Fatalf("after the upstream: %d %q, want the second-factor page", r.Status, loc)
	}
	r = secondFactor(t, b2, loc, "otp", totpCode(t, secret, 0))
	flow := b2.follow(r, "", "", "allow")
	tokens := codeTokens(t, down, c, pk, asSeeOther(Response{Status: http.StatusSeeOther, Header: http.Header{"Location": {flow.Location}}}))
	claims := jwtPayload(t, tokens["id_token"].(string))
	if amr := fmt.Sprint(claims["amr"]); amr != "[fed face otp mfa]" || claims["acr"] != "urn:gatehouse:acr:mfa" {
		t.Fatalf("amr %v acr %v after a passwordless upstream and the app, want [fed face otp mfa] and mfa", amr, claims["acr"])
	}

	// A password reset ends the sessions, but the linked account still signs in
	// without the password: the page after the reset says so, and what to do.
	r = submitLinkForm(t, newAZBrowser(t, down), resetLinkFor(t, down, mx, email), "/reset-password", url.Values{"password": {"a brand new password"}, "password_confirm": {"a brand new password"}})
	wantPageText(t, r, http.StatusOK, "Your password was changed", "What still signs you in",
		"your account at Fake OP, linked", "If there is one you did not add, sign in with your new password and remove it")
	// Whoever holds the link may have only the mailbox: the page does not say who the
	// user is at the provider, and, with an authenticator app as the second step, does
	// not send them to an administrator.
	if body := string(r.Body); strings.Contains(body, "facey") || strings.Contains(body, "administrator") {
		t.Fatalf("the page after the reset names the account at the provider, or asks for an administrator:\n%s", body)
	}
}

// TestUpstream_RefusedByTheUser: the user clicking Deny at the upstream, a callback
// whose code was altered on the way, or one naming another issuer (RFC 9207), is no
// failure of the upstream: a 400 page naming it, not a 502, and nothing created; the
// next honest sign-in works.
func TestUpstream_RefusedByTheUser(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_REGISTRATION_ENABLED": "true"}})
	op := newFakeOP(t)
	op.Claims = map[string]any{"sub": "s-deny", "preferred_username": "denier"}
	createUpstream(t, srv, op.ClientSecret, "--id", "op", "--name", "Fake OP", "--type", "oidc", "--issuer", op.Issuer,
		"--client-id", op.ClientID, "--client-secret-stdin")
	before := userCount(t, srv)

	op.mu.Lock()
	op.AuthorizeError = "access_denied"
	op.mu.Unlock()
	b := newAZBrowser(t, srv)
	login := b.get("/login")
	r, _ := b.upstreamSignIn(continueWith(t, login, "Fake OP"))
	wantPageText(t, r, http.StatusBadRequest, "Sign-in with Fake OP failed")
	wantPageText(t, r, http.StatusBadRequest, "access_denied")
	op.mu.Lock()
	op.AuthorizeError = ""
	op.mu.Unlock()

	// A code altered between the upstream and the callback.
	r = b.get(continueWith(t, login, "Fake OP"))
	at, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	r = b.get(at.String())
	back, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := back.Query()
	q.Set("code", q.Get("code")+"x")
	back.RawQuery = q.Encode()
	r = b.get(back.String())
	wantPageText(t, r, http.StatusBadRequest, "Sign-in with Fake OP failed: Its token endpoint")

	// An answer naming another issuer (RFC 9207): refused before its code goes to the
	// token endpoint.
	callback := func(iss string) (Response, string) {
		t.Helper()
		r := b.get(continueWith(t, login, "Fake OP"))
		at, err := url.Parse(r.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		back, err := url.Parse(b.get(at.String()).Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		q := back.Query()
		q.Set("iss", iss)
		back.RawQuery = q.Encode()
		return b.get(back.String()), q.Get("code")
	}
	r, code := callback("https://evil.example")
	wantPageText(t, r, http.StatusBadRequest, "Sign-in with Fake OP failed: Its answer names another issuer.")
	op.mu.Lock()
	_, unspent := op.codes[code]
	op.mu.Unlock()
	if !unspent {
		t.Errorf("the code of an answer naming another issuer went to the token endpoint")
	}
	if n := userCount(t, srv); n != before {
		t.Fatalf("%d users after refused sign-ins, want %d", n, before)
	}

	// The honest answer, with its own issuer named, signs in.
	r, _ = callback(op.Issuer)
	if r.Status != http.StatusFound && r.Status != http.StatusSeeOther {
		t.Fatalf("an honest sign-in after them: %d\n%s", r.Status, r.Body)
	}
	// The account it made has no password: the console says how it signs in instead
	// of "asks only for the password".
	var made struct{ ID string }
	srv.CLIJSON(t, &made, "", "users", "show", "denier", "--json")
	_, adminName, adminPass := newConsoleAdmin(t, srv)
	page := consoleSignIn(t, newAZBrowser(t, srv), "/admin/users/"+made.ID, adminName, adminPass)
	wantConsolePage(t, "an upstream account in the console", page, "None, and no password: this user signs in through a sign-in provider.")
}

// TestUpstream_FailingUpstream: an upstream that is down, or whose token endpoint
// fails, ends on a 502 page naming it; the other upstream's button still works.
func TestUpstream_FailingUpstream(t *testing.T) {
	t.Parallel()
	down := startServer(t, Options{Env: map[string]string{"GATEHOUSE_REGISTRATION_ENABLED": "true"}})
	port := refusingPort(t)
	createUpstream(t, down, "s3cret-"+randomString(8), "--id", "gone", "--name", "Gone IdP", "--type", "oidc",
		"--issuer", "http://127.0.0.1:"+itoa(port), "--client-id", "x", "--client-secret-stdin")
	op := newFakeOP(t)
	op.Claims = map[string]any{"sub": "s-1", "preferred_username": "fine"}
	createUpstream(t, down, op.ClientSecret, "--id", "op", "--name", "Fake OP", "--type", "oidc", "--issuer", op.Issuer,
		"--client-id", op.ClientID, "--client-secret-stdin")

	b := newAZBrowser(t, down)
	login := b.get("/login")
	r := b.get(continueWith(t, login, "Gone IdP"))
	wantPageText(t, r, http.StatusBadGateway, "Sign-in with Gone IdP failed")
	op.mu.Lock()
	op.TokenFailure = http.StatusInternalServerError
	op.mu.Unlock()
	r, _ = b.upstreamSignIn(continueWith(t, login, "Fake OP"))
	wantPageText(t, r, http.StatusBadGateway, "Sign-in with Fake OP failed: Its token endpoint")
	op.mu.Lock()
	op.TokenFailure = 0
	op.mu.Unlock()
	r, _ = b.upstreamSignIn(continueWith(t, login, "Fake OP"))
	if r.Status != http.StatusFound || r.Header.Get("Location") != "/" {
		t.Fatalf("the working upstream: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	// A sign-in for the device page (RFC 8628) goes back there with its user code.
	dev := newAZBrowser(t, down)
	r, _ = dev.upstreamSignIn(continueWith(t, dev.get("/login?user_code=BCDF-GHJK"), "Fake OP"))
	if r.Status != http.StatusFound || r.Header.Get("Location") != "/device?user_code=BCDF-GHJK" {
		t.Fatalf("upstream sign-in for the device page: %d %q", r.Status, r.Header.Get("Location"))
	}
	r = b.get("/login/upstream/nope")
	wantPageText(t, r, http.StatusNotFound, "There is no sign-in provider")
	var events []map[string]any
	down.CLIJSON(t, &events, "", "audit", "list", "--type", "user.login.failed")
	if len(events) < 2 || events[0]["reason"] != "upstream_error" {
		t.Fatalf("failed upstream sign-ins in the audit log: %v", events)
	}
	// Each names the address it came from: the one that failed at its start (Gone
	// IdP, on the GET of /login/upstream/gone) as well as the one that failed at its
	// callback.
	for _, e := range events {
		if ip, _ := e["ip"].(string); e["reason"] == "upstream_error" && !strings.HasPrefix(ip, "127.") {
			t.Errorf("failed upstream sign-in without its address: %v", e)
		}
	}
}

// TestUpstream_GitHub: a GitHub OAuth app (a fake GitHub Enterprise: --api-url and
// --web-url): the numeric user id is the subject, the login the username, the primary
// email verified only when GitHub says so; an unverified primary email equal to an
// account's email is refused with nothing created.
func TestUpstream_GitHub(t *testing.T) {
	t.Parallel()
	down := startServer(t, Options{Env: map[string]string{"GATEHOUSE_REGISTRATION_ENABLED": "true"}})
	gh := newFakeGitHub(t)
	out := createUpstream(t, down, gh.ClientSecret, "--id", "github", "--name", "GitHub", "--type", "github",
		"--client-id", gh.ClientID, "--client-secret-stdin", "--api-url", gh.srv.URL+"/api/v3", "--web-url", gh.srv.URL)
	if out["scope"] != "read:user user:email" || out["api_url"] != gh.srv.URL+"/api/v3" {
		t.Fatalf("upstreams create --type github: %v", out)
	}
	signIn := func(user map[string]any, emails []map[string]any) Response {
		gh.mu.Lock()
		gh.User, gh.Emails = user, emails
		gh.mu.Unlock()
		b := newAZBrowser(t, down)
		r, at := b.upstreamSignIn(continueWith(t, b.get("/login"), "GitHub"))
		if q := at.Query(); q.Get("code_challenge_method") != "S256" || q.Get("scope") != "read:user user:email" || q.Get("state") == "" {
			t.Fatalf("authorization request to GitHub: %v", q)
		}
		return r
	}

	r := signIn(map[string]any{"id": 4242, "login": "Octo-Cat", "name": "Octo Cat", "email": nil},
		[]map[string]any{{"email": "other@example.com", "primary": false, "verified": true},
			{"email": "octo@example.com", "primary": true, "verified": true}})
	if r.Status != http.StatusFound {
		t.Fatalf("GitHub sign-in: %d\n%s", r.Status, r.Body)
	}
	var u shownUser
	down.CLIJSON(t, &u, "", "users", "show", "octo-cat")
	if u.Email != "octo@example.com" || !u.EmailVerified || u.Name != "Octo Cat" {
		t.Fatalf("the GitHub user: %+v", u)
	}

	// Another GitHub user whose login is taken here, with an unverified primary email.
	r = signIn(map[string]any{"id": 777, "login": "octo-cat"},
		[]map[string]any{{"email": "new@example.com", "primary": true, "verified": false}})
	if r.Status != http.StatusFound {
		t.Fatalf("second GitHub sign-in: %d\n%s", r.Status, r.Body)
	}
	var users []shownUser
	down.CLIJSON(t, &users, "", "users", "list")
	var second *shownUser
	for i := range users {
		if users[i].Email == "new@example.com" {
			second = &users[i]
		}
	}
	if second == nil || second.EmailVerified || second.Username == "octo-cat" || !strings.HasPrefix(second.Username, "octo-cat") {
		t.Fatalf("the second GitHub user (unverified email, login taken): %+v", users)
	}

	// An unverified primary email that an account here has: refused, nothing created.
	before := userCount(t, down)
	r = signIn(map[string]any{"id": 999, "login": "mallory"},
		[]map[string]any{{"email": "octo@example.com", "primary": true, "verified": false}})
	wantPageText(t, r, http.StatusConflict, "sign in to that account, then link GitHub")
	if n := userCount(t, down); n != before {
		t.Fatalf("%d users after a refused GitHub sign-in, want %d", n, before)
	}
	_, _, code := down.CLI(t, "", "users", "show", "mallory")
	if code == 0 {
		t.Fatal("a user mallory was created")
	}

	// A code GitHub does not know (altered, used or expired: bad_verification_code,
	// with HTTP 200) is no fault of GitHub's: 400, not 502.
	b := newAZBrowser(t, down)
	start := b.get(continueWith(t, b.get("/login"), "GitHub"))
	back, err := url.Parse(b.get(start.Header.Get("Location")).Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := back.Query()
	q.Set("code", q.Get("code")+"x")
	back.RawQuery = q.Encode()
	wantPageText(t, b.get(back.String()), http.StatusBadRequest, "GitHub")
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestUpstream_UnlinkWithAPasskeyLeft: an account made through an upstream, without a
// password, may unlink the identity once it has a passkey, which signs in without
// one; without the passkey the identity is its only way in and stays.
func TestUpstream_UnlinkWithAPasskeyLeft(t *testing.T) {
	t.Parallel()
	down := startServer(t, Options{Localhost: true, Env: map[string]string{"GATEHOUSE_REGISTRATION_ENABLED": "true"}})
	g := newGatehouseUpstream(t, down)
	b := newAZBrowser(t, down)
	if r := g.viaUpstream(t, b, continueWith(t, b.get("/login"), "Upstream House")); r.Status != http.StatusFound && r.Status != http.StatusSeeOther {
		t.Fatalf("sign-in through the upstream: %d\n%s", r.Status, r.Body)
	}
	var u shownUser
	down.CLIJSON(t, &u, "", "users", "show", g.user)
	page := b.get("/account")
	csrf, _ := azFormFields(t, page)
	sub := regexp.MustCompile(`name="subject" value="([^"]+)"`).FindStringSubmatch(string(page.Body))
	if sub == nil {
		t.Fatalf("no unlink form\n%s", page.Body)
	}
	unlink := url.Values{"csrf_token": {csrf}, "upstream": {"gh2"}, "subject": {sub[1]}}
	wantPageText(t, b.post("/account/upstreams/unlink", unlink), http.StatusBadRequest, "only way you can sign in")

	// A passkey of the account, as /account stores one (its browser ceremony is
	// TestSecurity_S51_Passkeys's).
	db := openDB(t, down.DatabaseURL)
	now := time.Now().UTC()
	if _, err := db.ExecContext(t.Context(), `INSERT INTO user_passkeys (credential_hash, id, user_id, credential_id, public_key,
		sign_count, transports, backup_eligible, backup_state, user_verified, name, created_at)
		VALUES (?, ?, ?, ?, ?, 0, '[]', ?, ?, ?, ?, ?)`, []byte(randomString(32)), "pk-"+randomString(8), u.ID,
		[]byte(randomString(16)), []byte("cose"), true, true, true, "Ada's phone", now); err != nil {
		t.Fatal(err)
	}
	wantPageText(t, b.post("/account/upstreams/unlink", unlink), http.StatusOK, "The account was unlinked.")
}
