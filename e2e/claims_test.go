package e2e

// Standard claims end to end: a user with every profile claim and groups, made with
// the CLI; a golang.org/x/oauth2 client running the code flow through the pages, its
// ID tokens verified by github.com/coreos/go-oidc, userinfo read by go-oidc, access
// tokens verified against the JWKS; and the OpenID Connect claims request parameter
// (Core §5.5) by GET, POST and PAR. Names start with cl.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// clProfile is the profile the tests give their users, flag by flag.
var clProfile = map[string]string{
	"name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace",
	"picture": "https://img.example.com/ada.png", "locale": "en-GB", "zoneinfo": "Europe/London",
	"phone_number": "+441234567890",
}

// clFullUser creates, with the CLI, a user with a verified email, every profile claim
// and the groups admins and team:math; it returns the id, username and password.
func clFullUser(t testing.TB, srv *Server) (id, name, pass string) {
	t.Helper()
	name, pass = uniqueName("cluser"), "pw-"+randomString(16)
	srv.Sensitive(pass)
	args := []string{"users", "create", "--username", name, "--email", name + "@example.com", "--email-verified",
		"--group", "team:math", "--group", "admins", "--phone-number-verified", "--password-stdin"}
	for claim, v := range clProfile {
		args = append(args, "--"+strings.ReplaceAll(claim, "_", "-"), v)
	}
	var u struct {
		ID string `json:"id"`
	}
	srv.CLIJSON(t, &u, pass+"\n", args...)
	return u.ID, name, pass
}

// clRP is a relying party: its x/oauth2 configuration, go-oidc provider and browser.
type clRP struct {
	srv      *Server
	conf     *oauth2.Config
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	b        *azBrowser
	ctx      context.Context
}

func newCLRP(t *testing.T, srv *Server, scopes string) *clRP {
	t.Helper()
	const redirect = "https://rp.example/cb"
	id, secret := srv.CreateClient(t, "--redirect-uri", redirect, "--scope", scopes)
	ctx := oidc.ClientContext(context.Background(), srv.HTTPClient())
	provider, err := oidc.NewProvider(ctx, srv.URL)
	if err != nil {
		t.Fatalf("OpenID Connect discovery: %v", err)
	}
	return &clRP{srv: srv, provider: provider, verifier: provider.Verifier(&oidc.Config{ClientID: id}),
		b: newAZBrowser(t, srv), ctx: ctx,
		conf: &oauth2.Config{ClientID: id, ClientSecret: secret, RedirectURL: redirect, Endpoint: provider.Endpoint()}}
}

// clTokens is what a code flow gave: the token response, the verified ID token's
// claims and the access token's claims (checked against the JWKS).
type clTokens struct {
	tok    *oauth2.Token
	id     map[string]any
	access map[string]any
}

// flow runs the code flow with scope and extra authorization parameters as user.
func (rp *clRP) flow(t *testing.T, scope, user, pass string, extra ...oauth2.AuthCodeOption) clTokens {
	t.Helper()
	v, nonce := oauth2.GenerateVerifier(), "n-"+randomString(12)
	rp.conf.Scopes = strings.Fields(scope)
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(v), oidc.Nonce(nonce)}, extra...)
	f := rp.b.follow(rp.b.get(rp.conf.AuthCodeURL("st", opts...)), user, pass, "allow")
	return rp.exchange(t, f, v, nonce)
}

// exchange redeems the code of f with x/oauth2 and verifies the tokens.
func (rp *clRP) exchange(t *testing.T, f azFlow, verifier, nonce string) clTokens {
	t.Helper()
	code := f.Query.Get("code")
	if code == "" {
		t.Fatalf("no code: %s", f.Location)
	}
	rp.srv.Sensitive(code)
	tok, err := rp.conf.Exchange(rp.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	rp.srv.Sensitive(tok.AccessToken, tok.RefreshToken, raw)
	idt, err := rp.verifier.Verify(rp.ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc refuses the ID token: %v", err)
	}
	if nonce != "" && idt.Nonce != nonce {
		t.Errorf("nonce %q, want %q", idt.Nonce, nonce)
	}
	var id map[string]any
	if err := idt.Claims(&id); err != nil {
		t.Fatal(err)
	}
	verifyAccessToken(t, rp.srv, tok.AccessToken)
	return clTokens{tok: tok, id: id, access: azJWTClaims(t, tok.AccessToken)}
}

// userinfo reads userinfo with go-oidc.
func (rp *clRP) userinfo(t *testing.T, tok *oauth2.Token) map[string]any {
	t.Helper()
	ui, err := rp.provider.UserInfo(rp.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var m map[string]any
	if err := ui.Claims(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

var clUserClaims = []string{"name", "given_name", "family_name", "preferred_username", "picture", "locale", "zoneinfo",
	"updated_at", "email", "email_verified", "phone_number", "phone_number_verified", "groups"}

// clWantClaims checks that of the user claims m has exactly want, with the values of
// the user made by clFullUser.
func clWantClaims(t *testing.T, what string, m map[string]any, user string, want ...string) {
	t.Helper()
	for _, k := range clUserClaims {
		v, ok := m[k]
		if ok != slices.Contains(want, k) {
			t.Errorf("%s: claim %s present %v, want %v (%v)", what, k, ok, !ok, m)
			continue
		}
		if !ok {
			continue
		}
		var good bool
		switch k {
		case "preferred_username":
			good = v == user
		case "email":
			good = v == user+"@example.com"
		case "email_verified", "phone_number_verified":
			good = v == true
		case "updated_at":
			n, isNum := v.(float64)
			good = isNum && n > 1e9
		case "groups":
			good = fmt.Sprint(v) == "[admins team:math]"
		default:
			good = v == clProfile[k]
		}
		if !good {
			t.Errorf("%s: claim %s = %#v", what, k, v)
		}
	}
}

// TestClaims_CodeFlowPerScope: each scope gives its claims in the ID token (verified by
// go-oidc) and at userinfo, and only with it; groups go into the access token too.
func TestClaims_CodeFlowPerScope(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	rp := newCLRP(t, srv, "openid profile email phone groups offline_access")
	uid, user, pass := clFullUser(t, srv)
	profile := []string{"name", "given_name", "family_name", "preferred_username", "picture", "locale", "zoneinfo", "updated_at"}
	for _, tc := range []struct {
		scope string
		want  []string
	}{
		{"openid profile email phone groups", append(slices.Clone(profile),
			"email", "email_verified", "phone_number", "phone_number_verified", "groups")},
		{"openid", nil},
		{"openid profile", profile},
		{"openid email", []string{"email", "email_verified"}},
		{"openid phone", []string{"phone_number", "phone_number_verified"}},
		{"openid groups", []string{"groups"}},
	} {
		got := rp.flow(t, tc.scope, user, pass)
		if got.id["sub"] != uid {
			t.Errorf("sub %v, want %s", got.id["sub"], uid)
		}
		clWantClaims(t, "ID token, scope "+tc.scope, got.id, user, tc.want...)
		info := rp.userinfo(t, got.tok)
		if info["sub"] != uid {
			t.Errorf("userinfo sub %v", info["sub"])
		}
		clWantClaims(t, "userinfo, scope "+tc.scope, info, user, tc.want...)
		groups, ok := got.access["groups"]
		if wantGroups := slices.Contains(tc.want, "groups"); ok != wantGroups || ok && fmt.Sprint(groups) != "[admins team:math]" {
			t.Errorf("scope %q: access token groups %v (present %v)", tc.scope, groups, ok)
		}
		if _, ok := got.access["uic"]; ok {
			t.Errorf("scope %q: the access token carries uic without a claims parameter", tc.scope)
		}
	}

	// A refresh brings the same claims in a new ID token.
	got := rp.flow(t, "openid profile groups offline_access", user, pass)
	next, err := rp.conf.TokenSource(rp.ctx, &oauth2.Token{RefreshToken: got.tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	raw, _ := next.Extra("id_token").(string)
	srv.Sensitive(next.AccessToken, next.RefreshToken, raw)
	idt, err := rp.verifier.Verify(rp.ctx, raw)
	if err != nil {
		t.Fatalf("refreshed ID token: %v", err)
	}
	var id map[string]any
	if err := idt.Claims(&id); err != nil {
		t.Fatal(err)
	}
	clWantClaims(t, "refreshed ID token", id, user, append(slices.Clone(profile), "groups")...)

	// The groups a user is put in show in the next tokens.
	cliOK(t, srv, "users", "update", user, "--add-group", "navy", "--remove-group", "admins")
	got = rp.flow(t, "openid groups", user, pass)
	if fmt.Sprint(got.id["groups"]) != "[navy team:math]" || fmt.Sprint(got.access["groups"]) != "[navy team:math]" {
		t.Errorf("after update: ID token groups %v, access token groups %v", got.id["groups"], got.access["groups"])
	}
}

// TestClaims_RequestParameter: the claims parameter (OpenID Connect Core §5.5) gives
// claims asked by name without their scope, in the ID token or at userinfo as asked,
// by GET, by POST and through PAR; bad JSON is invalid_request at the redirect URI;
// discovery says so.
func TestClaims_RequestParameter(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	rp := newCLRP(t, srv, "openid profile email phone groups offline_access")
	_, user, pass := clFullUser(t, srv)
	const idEmail = `{"id_token":{"email":{"essential":true},"acr":{"values":["urn:x"]},"nickname":null}}`
	claims := func(s string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam("claims", s) }

	// GET: email in the ID token without the email scope; userinfo as the scope says.
	got := rp.flow(t, "openid", user, pass, claims(idEmail))
	clWantClaims(t, "ID token, claims email", got.id, user, "email")
	clWantClaims(t, "userinfo, claims email in the ID token", rp.userinfo(t, got.tok), user)
	if _, ok := got.access["uic"]; ok {
		t.Error("an ID token claims request put uic into the access token")
	}

	// userinfo members go to userinfo only, through the access token; and again after a
	// refresh.
	got = rp.flow(t, "openid offline_access", user, pass, claims(`{"userinfo":{"phone_number":null,"groups":null}}`))
	clWantClaims(t, "ID token, claims for userinfo", got.id, user)
	clWantClaims(t, "userinfo, claims for userinfo", rp.userinfo(t, got.tok), user, "phone_number", "groups")
	if _, ok := got.access["groups"]; ok {
		t.Error("groups asked of userinfo went into the access token")
	}
	next, err := rp.conf.TokenSource(rp.ctx, &oauth2.Token{RefreshToken: got.tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	srv.Sensitive(next.AccessToken, next.RefreshToken)
	clWantClaims(t, "userinfo after a refresh", rp.userinfo(t, next), user, "phone_number", "groups")

	// POST /oauth/authorize with a form body.
	v, nonce := oauth2.GenerateVerifier(), "n-post"
	form := url.Values{"client_id": {rp.conf.ClientID}, "redirect_uri": {rp.conf.RedirectURL}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st"}, "nonce": {nonce}, "claims": {idEmail},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(v)}, "code_challenge_method": {"S256"}}
	got = rp.exchange(t, rp.b.follow(rp.b.post("/oauth/authorize", form), user, pass, "allow"), v, nonce)
	clWantClaims(t, "ID token, claims by POST", got.id, user, "email")

	// PAR: the claims parameter pushed with the rest.
	v, nonce = oauth2.GenerateVerifier(), "n-par"
	form.Set("code_challenge", oauth2.S256ChallengeFromVerifier(v))
	form.Set("nonce", nonce)
	form.Set("claims", `{"id_token":{"phone_number":null}}`)
	r := srv.PostForm(t, rp.b.hc, "/oauth/par", form.Encode(), rp.conf.ClientID, rp.conf.ClientSecret)
	if r.Status != http.StatusCreated {
		t.Fatalf("PAR: %d %s", r.Status, r.Body)
	}
	uri, _ := r.JSON(t)["request_uri"].(string)
	q := url.Values{"client_id": {rp.conf.ClientID}, "request_uri": {uri}}
	got = rp.exchange(t, rp.b.follow(rp.b.get("/oauth/authorize?"+q.Encode()), user, pass, "allow"), v, nonce)
	clWantClaims(t, "ID token, claims through PAR", got.id, user, "phone_number")

	// Bad JSON: invalid_request back at the redirect URI, with state and iss.
	for _, bad := range []string{`{"id_token":`, `["email"]`, `{"userinfo":{"email":1}}`} {
		q := url.Values{"client_id": {rp.conf.ClientID}, "redirect_uri": {rp.conf.RedirectURL}, "response_type": {"code"},
			"scope": {"openid"}, "state": {"st-bad"}, "claims": {bad},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
		r := rp.b.get("/oauth/authorize?" + q.Encode())
		loc, _ := url.Parse(r.Header.Get("Location"))
		if r.Status != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), rp.conf.RedirectURL+"?") ||
			loc.Query().Get("error") != "invalid_request" || loc.Query().Get("state") != "st-bad" || loc.Query().Get("iss") != srv.URL {
			t.Errorf("claims %s: %d %s, want invalid_request at the redirect URI", bad, r.Status, r.Header.Get("Location"))
		}
		// By PAR: an RFC 6749 §5.2 error.
		pf := url.Values{"response_type": {"code"}, "redirect_uri": {rp.conf.RedirectURL}, "scope": {"openid"}, "claims": {bad},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
		if r := srv.PostForm(t, rp.b.hc, "/oauth/par", pf.Encode(), rp.conf.ClientID, rp.conf.ClientSecret); r.Status != http.StatusBadRequest ||
			r.JSON(t)["error"] != "invalid_request" {
			t.Errorf("PAR with claims %s: %d %s", bad, r.Status, r.Body)
		}
	}

	// Discovery.
	var meta struct {
		ClaimsSupported          []string `json:"claims_supported"`
		ClaimsParameterSupported bool     `json:"claims_parameter_supported"`
		ScopesSupported          []string `json:"scopes_supported"`
	}
	if err := rp.provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	for _, c := range append(slices.Clone(clUserClaims), "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid") {
		if !slices.Contains(meta.ClaimsSupported, c) {
			t.Errorf("claims_supported lacks %s: %v", c, meta.ClaimsSupported)
		}
	}
	if !meta.ClaimsParameterSupported || !slices.Contains(meta.ScopesSupported, "phone") || !slices.Contains(meta.ScopesSupported, "groups") {
		t.Errorf("discovery: %+v", meta)
	}
}

// testCLIUsersProfileAndGroups: users create and update take the profile, groups and
// --email-verified; show and list --json print them; bad values are refused with one
// line and exit 2.
func testCLIUsersProfileAndGroups(t *testing.T, srv *Server) {
	uid, name, _ := clFullUser(t, srv)
	out := cliOK(t, srv, "users", "show", name, "--json")
	m, _ := jsonKeys(t, out)
	if m["id"] != uid || m["username"] != name || m["email_verified"] != true || m["name"] != "Ada Lovelace" ||
		fmt.Sprint(m["groups"]) != "[admins team:math]" || m["disabled"] != false || m["zoneinfo"] != "Europe/London" ||
		m["phone_number"] != "+441234567890" || m["phone_number_verified"] != true {
		t.Errorf("users show --json: %s", out)
	}
	if out := cliOK(t, srv, "users", "show", uid); !strings.Contains(out, "Ada Lovelace") || !strings.Contains(out, "admins team:math") {
		t.Errorf("users show (text):\n%s", out)
	}

	out = cliOK(t, srv, "users", "update", uid, "--name", "Augusta Ada King", "--add-group", "navy", "--add-group", "admins",
		"--remove-group", "team:math", "--phone-number", "+441234567891", "--json")
	if m, _ := jsonKeys(t, out); m["name"] != "Augusta Ada King" || fmt.Sprint(m["groups"]) != "[admins navy]" ||
		m["phone_number_verified"] != false || m["given_name"] != "Ada" {
		t.Errorf("users update --json: %s", out)
	}
	var list []map[string]any
	srv.CLIJSON(t, &list, "", "users", "list")
	i := slices.IndexFunc(list, func(m map[string]any) bool { return m["id"] == uid })
	if i < 0 || list[i]["name"] != "Augusta Ada King" || fmt.Sprint(list[i]["groups"]) != "[admins navy]" {
		t.Errorf("users list --json: %v", list)
	}
	for _, u := range list {
		if _, ok := u["groups"].([]any); !ok {
			t.Errorf("users list --json: groups of %v is not an array", u["username"])
		}
	}
	// Clearing: an empty value removes a claim.
	if m, _ := jsonKeys(t, cliOK(t, srv, "users", "update", name, "--picture", "", "--json")); m["picture"] != "" {
		t.Errorf("picture not removed: %v", m)
	}

	other := uniqueName("cluser")
	bad := [][]string{
		{"users", "update", name, "--add-group", "has space"},
		{"users", "update", name, "--add-group", ""},
		{"users", "update", name, "--add-group", strings.Repeat("g", 65)},
		{"users", "update", name, "--picture", "javascript:alert(1)"},
		{"users", "update", name, "--locale", "english"},
		{"users", "update", name, "--zoneinfo", "Mars/Olympus_Mons"},
		{"users", "update", name, "--phone-number", "555 0100"},
		{"users", "update", name, "--name", "bad\x01name"},
		{"users", "update", name, "--phone-number", "", "--phone-number-verified"},
		{"users", "create", "--username", other, "--email-verified", "--password-stdin"},
		{"users", "create", "--username", other, "--group", "a/b", "--password-stdin"},
		{"users", "create", "--username", other, "--zoneinfo", "../../etc/passwd", "--password-stdin"},
	}
	var calls []CLICall
	for _, args := range bad {
		calls = append(calls, CLICall{Args: args, Stdin: "a long enough password\n"})
	}
	for i, r := range srv.CLIAll(t, calls...) {
		wantUsage(t, strings.Join(bad[i], " "), r.Stdout, r.Stderr, r.Exit)
	}
	if _, _, code := srv.CLI(t, "", "users", "show", other); code != 2 {
		t.Errorf("a refused users create made user %s", other)
	}
	var after map[string]any
	srv.CLIJSON(t, &after, "", "users", "show", uid)
	if after["name"] != "Augusta Ada King" || fmt.Sprint(after["groups"]) != "[admins navy]" || after["locale"] != "en-GB" {
		t.Errorf("a refused update changed the user: %v", after)
	}
}
