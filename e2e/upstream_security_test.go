package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// SECURITY S54: an upstream identity provider is checked like any token issuer:
// state, nonce and PKCE go toward it; its ID token's signature, iss, aud, exp and
// nonce are checked; an identity is linked by upstream and subject, never by email;
// an unverified email is never trusted. Each way an upstream can lie ends on an error
// page naming it, with nothing created.

// s54Env is a server with registration on (so an upstream identity that verified
// would create a user) and a fake OP registered as upstream "op".
type s54Env struct {
	srv *Server
	op  *fakeOP
}

func newS54Env(t *testing.T) s54Env {
	t.Helper()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_REGISTRATION_ENABLED": "true"}})
	op := newFakeOP(t)
	op.Claims = map[string]any{"sub": "op-user-1", "email": "lied@example.com", "email_verified": true,
		"preferred_username": "lied"}
	createUpstream(t, srv, op.ClientSecret, "--id", "op", "--name", "Fake OP", "--type", "oidc", "--issuer", op.Issuer,
		"--client-id", op.ClientID, "--client-secret-stdin")
	return s54Env{srv: srv, op: op}
}

// wantRefused checks that the callback ended on the error page naming the upstream
// (status want, never a 500), and that no user was created.
func (e s54Env) wantRefused(t *testing.T, r Response, want int, mention string, usersBefore int) {
	t.Helper()
	body := string(r.Body)
	if r.Status != want {
		t.Fatalf("callback: %d, want %d\n%s", r.Status, want, body)
	}
	if !strings.Contains(body, "Fake OP") || !strings.Contains(body, mention) {
		t.Fatalf("the error page does not name the upstream and say %q:\n%s", mention, body)
	}
	if n := userCount(t, e.srv); n != usersBefore {
		t.Fatalf("%d users after a refused upstream sign-in, want %d: something was created", n, usersBefore)
	}
}

// lie runs one sign-in against an upstream that lies as lie says, and checks it is
// refused with the message mention.
func s54Lie(t *testing.T, lie func(claims map[string]any), mention string) {
	e := newS54Env(t)
	e.op.Lie = lie
	before := userCount(t, e.srv)
	r, _ := newAZBrowser(t, e.srv).upstreamSignIn("/login/upstream/op")
	e.wantRefused(t, r, http.StatusBadGateway, mention, before)
	// The server is fine: the same upstream telling the truth signs in.
	e.op.Lie = nil
	r, _ = newAZBrowser(t, e.srv).upstreamSignIn("/login/upstream/op")
	if r.Status != http.StatusFound || r.Header.Get("Location") != "/" {
		t.Fatalf("honest sign-in after the lie: %d %s\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
}

func TestSecurity_S54_StateNonceAndPKCESentToUpstream(t *testing.T) {
	t.Parallel()
	e := newS54Env(t)
	r, at := newAZBrowser(t, e.srv).upstreamSignIn("/login/upstream/op")
	if r.Status != http.StatusFound {
		t.Fatalf("callback: %d\n%s", r.Status, r.Body)
	}
	q := at.Query()
	if len(q.Get("state")) < 32 || len(q.Get("nonce")) < 32 || q.Get("code_challenge_method") != "S256" ||
		len(q.Get("code_challenge")) != 43 || q.Get("client_id") != e.op.ClientID ||
		q.Get("redirect_uri") != e.srv.URL+"/login/upstream/op/callback" || q.Get("response_type") != "code" {
		t.Fatalf("authorization request to the upstream: %v", q)
	}
	// The fake OP redeemed the code only with the verifier of that challenge, so the
	// sign-in above also proves the PKCE verifier was sent.
}

func TestSecurity_S54_BadSignature(t *testing.T) {
	t.Parallel()
	e := newS54Env(t)
	e.op.SignWith = newRSAKey(t) // same kid, another key
	before := userCount(t, e.srv)
	r, _ := newAZBrowser(t, e.srv).upstreamSignIn("/login/upstream/op")
	e.wantRefused(t, r, http.StatusBadGateway, "bad signature", before)
}

func TestSecurity_S54_WrongIssuer(t *testing.T) {
	t.Parallel()
	s54Lie(t, func(c map[string]any) { c["iss"] = "https://evil.example" }, "wrong issuer")
}

func TestSecurity_S54_WrongAudience(t *testing.T) {
	t.Parallel()
	s54Lie(t, func(c map[string]any) { c["aud"] = "another-client" }, "wrong audience")
}

// A token for several audiences, ours among them, names the client it was issued to
// (azp): another client of the upstream must not sign in here with its token
// (OpenID Connect Core §3.1.3.7 steps 4 and 5). Issued to us, it is taken.
func TestSecurity_S54_AuthorizedParty(t *testing.T) {
	t.Parallel()
	s54Lie(t, func(c map[string]any) { c["aud"], c["azp"] = []any{c["aud"], "another-client"}, "another-client" }, "azp")
	s54Lie(t, func(c map[string]any) { c["aud"] = []any{c["aud"], "another-client"} }, "azp")
	s54Lie(t, func(c map[string]any) { c["azp"] = "another-client" }, "azp")
	e := newS54Env(t)
	e.op.Lie = func(c map[string]any) { c["aud"], c["azp"] = []any{c["aud"], "another-client"}, c["aud"] }
	if r, _ := newAZBrowser(t, e.srv).upstreamSignIn("/login/upstream/op"); r.Status != http.StatusFound || r.Header.Get("Location") != "/" {
		t.Fatalf("a token for two audiences issued to us: %d %s\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
}

func TestSecurity_S54_WrongNonce(t *testing.T) {
	t.Parallel()
	s54Lie(t, func(c map[string]any) { c["nonce"] = "forged-" + randomString(20) }, "nonce")
}

func TestSecurity_S54_MissingNonce(t *testing.T) {
	t.Parallel()
	s54Lie(t, func(c map[string]any) { delete(c, "nonce") }, "nonce")
}

func TestSecurity_S54_ExpiredIDToken(t *testing.T) {
	t.Parallel()
	s54Lie(t, func(c map[string]any) {
		c["iat"], c["exp"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-30*time.Minute).Unix()
	}, "expired")
}

func TestSecurity_S54_WrongAtHash(t *testing.T) {
	t.Parallel()
	s54Lie(t, func(c map[string]any) { c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" }, "at_hash")
}

// An ID token signed with "none" (or a key the JWKS does not hold) never verifies.
func TestSecurity_S54_UnsignedIDToken(t *testing.T) {
	t.Parallel()
	e := newS54Env(t)
	e.op.mu.Lock()
	e.op.Unsigned = true
	e.op.mu.Unlock()
	before := userCount(t, e.srv)
	r, _ := newAZBrowser(t, e.srv).upstreamSignIn("/login/upstream/op")
	e.wantRefused(t, r, http.StatusBadGateway, "did not verify", before)
}

// A callback used once cannot be used again, even with the state cookie put back
// (the state is single use on the server), nor from another browser (the state is
// bound to the browser that started).
func TestSecurity_S54_ReplayedState(t *testing.T) {
	t.Parallel()
	e := newS54Env(t)
	b := newAZBrowser(t, e.srv)
	start := b.get("/login/upstream/op")
	cookie := b.cookie("gatehouse_upstream")
	if start.Status != http.StatusFound || cookie == "" {
		t.Fatalf("start: %d, cookie %q", start.Status, cookie)
	}
	back := b.get(start.Header.Get("Location")).Header.Get("Location")
	r := b.get(back)
	if r.Status != http.StatusFound {
		t.Fatalf("first callback: %d\n%s", r.Status, r.Body)
	}
	users := userCount(t, e.srv)

	// The same callback again, with the state cookie restored.
	b.setCookie("gatehouse_upstream", cookie)
	e.wantRefused(t, b.get(back), http.StatusBadRequest, "already used", users)

	// A fresh state, its callback brought to another browser (with or without the cookie).
	b2 := newAZBrowser(t, e.srv)
	start = b2.get("/login/upstream/op")
	back = b2.get(start.Header.Get("Location")).Header.Get("Location")
	other := newAZBrowser(t, e.srv)
	e.wantRefused(t, other.get(back), http.StatusBadRequest, "another browser", users)
	other.setCookie("gatehouse_upstream", b2.cookie("gatehouse_upstream"))
	e.wantRefused(t, other.get(back), http.StatusBadRequest, "another browser", users)

	// A forged state with the right cookie.
	u, _ := url.Parse(back)
	q := u.Query()
	q.Set("state", randomString(43))
	u.RawQuery = q.Encode()
	e.wantRefused(t, b2.get(u.String()), http.StatusBadRequest, "expired", users)
}

// With registration off, an unverified email claim gets the same answer whether an
// account here has the address or not ("no account": nothing tells that it is
// registered, SECURITY S48); a verified one's owner is asked to sign in and link.
func TestSecurity_S48_UpstreamClaimsWithRegistrationOff(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_REGISTRATION_ENABLED": "false"}})
	op := newFakeOP(t)
	createUpstream(t, srv, op.ClientSecret, "--id", "op", "--name", "Fake OP", "--type", "oidc", "--issuer", op.Issuer,
		"--client-id", op.ClientID, "--client-secret-stdin")
	e := s54Env{srv: srv, op: op}
	srv.CLI(t, "correct horse battery\n", "users", "create", "--username", "owner", "--email", "owner@example.com",
		"--email-verified", "--password-stdin")
	before := userCount(t, srv)
	var pages []string
	for _, email := range []string{"owner@example.com", "nobody-" + strings.ToLower(randomString(6)) + "@example.com"} {
		op.Claims = map[string]any{"sub": "claimant-" + randomString(6), "email": email, "email_verified": false}
		r, _ := newAZBrowser(t, srv).upstreamSignIn("/login/upstream/op")
		e.wantRefused(t, r, http.StatusForbidden, "No account here is linked", before)
		pages = append(pages, pageMessage(string(r.Body)))
	}
	if pages[0] != pages[1] {
		t.Errorf("the answers differ:\n%s\n%s", pages[0], pages[1])
	}
	op.Claims = map[string]any{"sub": "claimant-" + randomString(6), "email": "owner@example.com", "email_verified": true}
	r, _ := newAZBrowser(t, srv).upstreamSignIn("/login/upstream/op")
	e.wantRefused(t, r, http.StatusConflict, "not linked", before)
}

// pageMessage is the main text of an error page: its title, message and links, without
// the footer (its language links carry the request's query).
func pageMessage(body string) string {
	i := strings.Index(body, "<h1")
	j := strings.Index(body, "</section>")
	if i < 0 || j < i {
		return body
	}
	return body[i:j]
}

// An unverified email claim equal to an account's email is refused; so is a verified
// one (never linked by email alone). Nothing is created or linked: the account's
// owner can still sign in only with the password, and the identity stays unlinked.
func TestSecurity_S54_EmailOfExistingAccountNeverLinks(t *testing.T) {
	t.Parallel()
	e := newS54Env(t)
	var victim struct {
		ID string `json:"id"`
	}
	e.srv.CLIJSON(t, &victim, "correct horse battery\n", "users", "create", "--username", "victim", "--email", "victim@example.com",
		"--email-verified", "--password-stdin")
	for _, verified := range []any{false, "false", true} {
		e.op.Claims = map[string]any{"sub": "attacker-" + randomString(6), "email": "Victim@Example.com", "email_verified": verified,
			"preferred_username": "victim"}
		before := userCount(t, e.srv)
		b := newAZBrowser(t, e.srv)
		r, _ := b.upstreamSignIn("/login/upstream/op")
		e.wantRefused(t, r, http.StatusConflict, "not linked", before)
		if b.cookie("gatehouse_session") != "" {
			t.Fatalf("email_verified=%v: the browser got a session", verified)
		}
		// The victim's account has no identity: the same upstream subject is still
		// unknown, and so refused again in the same way.
		r, _ = newAZBrowser(t, e.srv).upstreamSignIn("/login/upstream/op")
		e.wantRefused(t, r, http.StatusConflict, "not linked", before)
	}
	var audit []map[string]any
	e.srv.CLIJSON(t, &audit, "", "audit", "list", "--type", "user.login.failed")
	found := false
	for _, ev := range audit {
		if ev["reason"] == "upstream_email_taken" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no user.login.failed event with reason upstream_email_taken: %v", audit)
	}
}

// TestUpstream_RefusalInThePageLanguage: why an upstream sign-in failed is said in the
// page's language, like the rest of the page: a callback brought to another browser,
// and an ID token from another issuer, in German and in Japanese.
func TestUpstream_RefusalInThePageLanguage(t *testing.T) {
	t.Parallel()
	e := newS54Env(t)
	for lang, want := range map[string]string{
		"de": "Anmeldung mit Fake OP fehlgeschlagen: Diese Anmeldung ist abgelaufen, wurde schon verwendet oder in einem anderen Browser begonnen",
		"ja": "このサインインは期限切れか、使用済みか、別のブラウザーで開始されました。",
	} {
		b := newAZBrowser(t, e.srv)
		start := b.get("/login/upstream/op")
		back := b.get(start.Header.Get("Location")).Header.Get("Location")
		r := langBrowser(t, e.srv, lang).get(back)
		if r.Status != http.StatusBadRequest {
			t.Fatalf("%s: a callback in another browser: %d, want 400\n%s", lang, r.Status, r.Body)
		}
		wantLang(t, "the upstream's refusal", r, lang, want)
	}
	// The upstream's own failure too: an ID token from another issuer.
	e.op.Lie = func(c map[string]any) { c["iss"] = "https://evil.example" }
	for lang, want := range map[string]string{
		"de": "Das ID-Token des Anbieters ließ sich nicht prüfen: falscher Aussteller (iss).",
		"ja": "プロバイダーの ID トークンを検証できませんでした: 発行者 (iss) が違います。",
	} {
		r, _ := langBrowser(t, e.srv, lang).upstreamSignIn("/login/upstream/op")
		if r.Status != http.StatusBadGateway {
			t.Fatalf("%s: a lying upstream: %d, want 502\n%s", lang, r.Status, r.Body)
		}
		wantLang(t, "the upstream's failure", r, lang, want)
		// Its language links lead back to the login page: the callback's code and
		// state work once, and would only fail again.
		body := string(r.Body)
		if strings.Contains(body, "callback?") || !strings.Contains(body, `href="/login?lang=en"`) {
			t.Errorf("%s: the failure page's language links:\n%s", lang, body[max(0, strings.Index(body, "<footer")):])
		}
	}
	// A sign-in for an authorization request keeps it: the links lead back to the
	// login page of that request, so that after switching language the user can
	// still sign in for the application.
	c := newAZClient(t, e.srv, "http://127.0.0.1:9/cb")
	b := langBrowser(t, e.srv, "de")
	r := b.get("/oauth/authorize?" + azQuery(c, newAZPKCE(), "st-lang").Encode())
	wantLoginRedirect(t, r)
	login := r.Header.Get("Location")
	lu, err := url.Parse(login)
	if err != nil {
		t.Fatal(err)
	}
	reqID := lu.Query().Get("req")
	r, _ = b.upstreamSignIn("/login/upstream/op?req=" + url.QueryEscape(reqID))
	if r.Status != http.StatusBadGateway {
		t.Fatalf("a lying upstream for a pending request: %d\n%s", r.Status, r.Body)
	}
	wantHref := `href="/login?lang=en&amp;req=` + url.QueryEscape(reqID) + `"`
	if body := string(r.Body); !strings.Contains(body, wantHref) {
		t.Errorf("the failure page's language links drop the pending request (want %s):\n%s", wantHref, body[max(0, strings.Index(body, "<footer")):])
	}
	if r = b.get("/login?lang=en&req=" + url.QueryEscape(reqID)); r.Status != http.StatusOK || !strings.Contains(string(r.Body), reqID) {
		t.Errorf("the login page of the pending request in English: %d", r.Status)
	}
	// A sign-in for the device page keeps its user code the same way, in the page's
	// link back and in its language links.
	r, _ = langBrowser(t, e.srv, "de").upstreamSignIn("/login/upstream/op?user_code=bcdf-ghjk")
	if body := string(r.Body); r.Status != http.StatusBadGateway || !strings.Contains(body, `href="/login?user_code=BCDF-GHJK"`) ||
		!strings.Contains(body, `href="/login?lang=en&amp;user_code=BCDF-GHJK"`) {
		t.Errorf("a failed sign-in for the device page: %d, want its links to keep the user code\n%s", r.Status, body)
	}
}

// An upstream id in the URL that names none, however malformed (a NUL byte, an
// upper-case or over-long id), is a 404 page at the start and at the callback, never
// a 5xx (SPEC "Errors"; SECURITY S45).
func TestUpstream_UnknownOrMalformedID(t *testing.T) {
	t.Parallel()
	e := newS54Env(t)
	b := newAZBrowser(t, e.srv)
	for _, id := range []string{"nosuch", "%00", "a%00b", "op%00", "OP", strings.Repeat("a", 64), "%C3%28", "op%20"} {
		for _, path := range []string{"/login/upstream/" + id, "/login/upstream/" + id + "/callback?state=a&code=b"} {
			if r := b.get(path); r.Status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404\n%.300s", path, r.Status, r.Body)
			}
		}
	}
	// The real one still starts.
	if r := b.get("/login/upstream/op"); r.Status != http.StatusFound {
		t.Errorf("GET /login/upstream/op: %d, want 302", r.Status)
	}
}
