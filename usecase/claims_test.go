package usecase_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// jwtPayload is the claims of a JWT, unverified (the adapter's tests verify).
func jwtPayload(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// fullUser creates a user with every profile claim and two groups.
func (f *fixture) fullUser(t *testing.T, name string) domain.User {
	t.Helper()
	u, err := f.admin.CreateUser(f.ctx, usecase.NewUser{Username: name, Email: name + "@example.com", Password: "pw-" + name + "-long",
		EmailVerified: true, Profile: domain.Profile{Name: "Ada Lovelace", GivenName: "Ada", FamilyName: "Lovelace",
			Picture: "https://img.example.com/ada.png", Locale: "en-GB", Zoneinfo: "Europe/London", PhoneNumber: "+441234567890"},
		Groups: []string{"math", "admins"}})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

var allScopes = []string{"openid", "profile", "email", "phone", "groups", "offline_access"}

// TestClaims_PerScope: each scope gives its claims, in the ID token and at userinfo;
// groups also in the access token; and only the claims that are set.
func TestClaims_PerScope(t *testing.T) {
	f := newFixture(t)
	ui := usecase.NewUserInfo(f.verifier, f.tokens, f.users, f.dpop)
	_, cr := f.client(t, usecase.NewClient{Scopes: allScopes,
		GrantTypes: []string{domain.GrantPassword, domain.GrantRefreshToken}})
	u := f.fullUser(t, "ada")
	issue := func(scope string) domain.IssuedTokens {
		t.Helper()
		got, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantPassword, Credentials: cr,
			Username: "ada", Password: "pw-ada-long", Scope: scope})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	profile := []string{"name", "given_name", "family_name", "preferred_username", "picture", "locale", "zoneinfo", "updated_at"}
	for _, tc := range []struct {
		scope string
		want  []string
	}{
		{"openid", nil},
		{"openid profile", profile},
		{"openid email", []string{"email", "email_verified"}},
		{"openid phone", []string{"phone_number", "phone_number_verified"}},
		{"openid groups", []string{"groups"}},
		{"openid profile email phone groups", append(slices.Clone(profile),
			"email", "email_verified", "phone_number", "phone_number_verified", "groups")},
	} {
		got := issue(tc.scope)
		id := jwtPayload(t, got.IDToken)
		c, err := ui.Execute(f.ctx, got.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		info := userInfoMap(t, c)
		for _, name := range domain.UserClaimNames() {
			want := slices.Contains(tc.want, name)
			if _, ok := id[name]; ok != want {
				t.Errorf("scope %q: ID token has %s: %v, want %v", tc.scope, name, ok, want)
			}
			if _, ok := info[name]; ok != want {
				t.Errorf("scope %q: userinfo has %s: %v, want %v", tc.scope, name, ok, want)
			}
		}
		at := jwtPayload(t, got.AccessToken)
		if _, ok := at["groups"]; ok != strings.Contains(tc.scope, "groups") {
			t.Errorf("scope %q: access token groups %v", tc.scope, at["groups"])
		}
		if _, ok := at["uic"]; ok {
			t.Errorf("scope %q: access token carries uic without a claims request", tc.scope)
		}
	}
	all := issue("openid profile email phone groups")
	id := jwtPayload(t, all.IDToken)
	for k, v := range map[string]any{"name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace",
		"preferred_username": "ada", "picture": "https://img.example.com/ada.png", "locale": "en-GB",
		"zoneinfo": "Europe/London", "updated_at": float64(u.UpdatedAt.Unix()), "email": "ada@example.com",
		"email_verified": true, "phone_number": "+441234567890", "phone_number_verified": false} {
		if id[k] != v {
			t.Errorf("ID token %s = %#v, want %#v", k, id[k], v)
		}
	}
	if g, _ := json.Marshal(id["groups"]); string(g) != `["admins","math"]` {
		t.Errorf("ID token groups = %s", g)
	}
	at, err := f.verifier.VerifyAccessToken(f.ctx, all.AccessToken)
	if err != nil || !slices.Equal(at.Groups, []string{"admins", "math"}) {
		t.Fatalf("access token groups %v, %v", at.Groups, err)
	}

	// A user with nothing set: only what always exists; groups an empty array.
	plain := f.user(t, "plain", "plain's password")
	got, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantPassword, Credentials: cr,
		Username: "plain", Password: "plain's password", Scope: "openid profile phone groups"})
	if err != nil {
		t.Fatal(err)
	}
	id = jwtPayload(t, got.IDToken)
	for _, absent := range []string{"name", "given_name", "picture", "locale", "zoneinfo", "phone_number", "phone_number_verified"} {
		if _, ok := id[absent]; ok {
			t.Errorf("unset claim %s in the ID token: %v", absent, id[absent])
		}
	}
	if id["preferred_username"] != "plain" || id["updated_at"] != float64(plain.UpdatedAt.Unix()) {
		t.Errorf("ID token of a plain user: %v", id)
	}
	if g, ok := id["groups"].([]any); !ok || len(g) != 0 {
		t.Errorf("groups of a user in none = %#v, want []", id["groups"])
	}
}

func userInfoMap(t *testing.T, c usecase.Claims) map[string]any {
	t.Helper()
	m := map[string]any{"sub": c.Subject}
	for k, v := range map[string]string{"name": c.Name, "given_name": c.GivenName, "family_name": c.FamilyName,
		"preferred_username": c.PreferredUsername, "picture": c.Picture, "locale": c.Locale, "zoneinfo": c.Zoneinfo,
		"email": c.Email, "phone_number": c.PhoneNumber} {
		if v != "" {
			m[k] = v
		}
	}
	if !c.UpdatedAt.IsZero() {
		m["updated_at"] = c.UpdatedAt.Unix()
	}
	if c.EmailVerified != nil {
		m["email_verified"] = *c.EmailVerified
	}
	if c.PhoneNumberVerified != nil {
		m["phone_number_verified"] = *c.PhoneNumberVerified
	}
	if c.Groups != nil {
		m["groups"] = c.Groups
	}
	return m
}

// TestClaims_RequestParameter: claims asked by name (OpenID Connect Core §5.5) come
// without their scope, in the ID token or at userinfo as asked, through the code and
// every refresh; unknown names and acr are ignored; a client may not get claims of a
// scope it may not ask; bad JSON is invalid_request at the redirect URI; the consent
// page asks for the scopes of the claims.
func TestClaims_RequestParameter(t *testing.T) {
	f := newPagesFixture(t)
	ui := usecase.NewUserInfo(f.verifier, f.tokens, f.users, f.dpop)
	const redirect = "https://app.test/cb"
	c, cr := f.client(t, usecase.NewClient{RedirectURIs: []string{redirect}, Scopes: allScopes, SkipConsent: true})
	narrow, narrowCr := f.client(t, usecase.NewClient{RedirectURIs: []string{redirect}, Scopes: []string{"openid"}, SkipConsent: true})
	asking, _ := f.client(t, usecase.NewClient{RedirectURIs: []string{redirect}, Scopes: allScopes})
	f.fullUser(t, "ada")
	s, _, err := f.login.LogIn(f.ctx, "ada", "pw-ada-long", "192.0.2.9", nil)
	if err != nil {
		t.Fatal(err)
	}
	start := func(c domain.Client, claims string) (usecase.Step, string, error) {
		v := oauth2.GenerateVerifier()
		p := usecase.AuthorizeParams{ClientID: c.ID, RedirectURI: redirect, ResponseType: "code", Scope: "openid",
			State: "st", CodeChallenge: oauth2.S256ChallengeFromVerifier(v), CodeChallengeMethod: "S256", Claims: claims}
		step, err := f.authorize.Start(f.ctx, usecase.AuthorizeInput{Params: p, Session: &s, BrowserSecret: browserA})
		return step, v, err
	}
	tokens := func(c domain.Client, cr usecase.Credentials, claims string) domain.IssuedTokens {
		t.Helper()
		step, verifier, err := start(c, claims)
		if err != nil || step.Kind != usecase.StepRedirect {
			t.Fatalf("authorize: %+v, %v", step, err)
		}
		got, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantAuthorizationCode, Credentials: cr,
			Code: step.Response.Code, RedirectURI: redirect, CodeVerifier: verifier})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	const claims = `{"id_token":{"email":null,"phone_number":{"essential":true},"nickname":null,"acr":{"values":["urn:x"]}},` +
		`"userinfo":{"groups":{"essential":false},"given_name":{"value":"Ada"}},"other":{"x":1}}`
	got := tokens(c, cr, claims)
	check := func(got domain.IssuedTokens) {
		t.Helper()
		id := jwtPayload(t, got.IDToken)
		if id["email"] != "ada@example.com" || id["phone_number"] != "+441234567890" {
			t.Errorf("ID token lacks the claims asked by name: %v", id)
		}
		// acr and amr come with every grant from a browser sign-in, asked or not.
		if id["acr"] != domain.ACRPassword || fmt.Sprint(id["amr"]) != "[pwd]" {
			t.Errorf("ID token acr %v amr %v, want the password's", id["acr"], id["amr"])
		}
		for _, absent := range []string{"email_verified", "name", "groups", "given_name", "nickname", "preferred_username"} {
			if _, ok := id[absent]; ok {
				t.Errorf("ID token has %s, not asked of it: %v", absent, id)
			}
		}
		info, err := ui.Execute(f.ctx, got.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(info.Groups, []string{"admins", "math"}) || info.GivenName != "Ada" || info.Email != "" || info.Name != "" {
			t.Errorf("userinfo = %+v, want groups and given_name only", info)
		}
		if jwtPayload(t, got.AccessToken)["groups"] != nil {
			t.Error("groups in the access token without the groups scope")
		}
	}
	check(got)
	// A refresh carries the request on: the new ID token and access token honour it.
	refreshed, err := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantRefreshToken, Credentials: cr,
		RefreshToken: got.RefreshToken})
	if err != nil {
		t.Fatal(err)
	}
	check(refreshed)

	// Without a claims parameter the access token is as it always was.
	if at := jwtPayload(t, tokens(c, cr, "").AccessToken); at["uic"] != nil {
		t.Errorf("access token without a claims request carries uic: %v", at)
	}
	// A client allowed only openid gets nothing more by naming claims.
	id := jwtPayload(t, tokens(narrow, narrowCr, claims).IDToken)
	if id["email"] != nil || id["phone_number"] != nil {
		t.Errorf("a client allowed only openid got claims by name: %v", id)
	}

	// Bad JSON, or JSON that is no claims request: invalid_request at the redirect URI.
	for _, bad := range []string{`{`, `[]`, `"email"`, `null`, `{"id_token":[]}`, `{"userinfo":{"email":true}}`,
		`{"id_token":{"email":{"essential":"yes"}}}`, `{"id_token":{"email":{"values":"a"}}}`, `{"id_token":{}}x`} {
		_, _, err := start(c, bad)
		var ae *domain.AuthorizationError
		if !errors.As(err, &ae) || ae.Err.Code != "invalid_request" || ae.RedirectURI != redirect || ae.State != "st" {
			t.Errorf("claims %s: %v, want invalid_request at the redirect URI", bad, err)
		}
	}

	// Consent: claims asked by name are asked for as their scopes.
	step, _, err := start(asking, `{"id_token":{"email":null}}`)
	if err != nil || step.Kind != usecase.StepConsent {
		t.Fatalf("step %+v, %v; want consent", step, err)
	}
	view, _, err := f.authorize.ConsentPrompt(f.ctx, step.RequestID, browserA, &s)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range view.Scopes {
		names = append(names, sc.Name)
	}
	if !slices.Equal(names, []string{"openid", "email"}) {
		t.Fatalf("consent asks for %v, want openid and email", names)
	}
	if _, err := f.authorize.Decide(f.ctx, step.RequestID, browserA, &s, true); err != nil {
		t.Fatal(err)
	}
	// Consented: the same request goes through; one naming a phone number asks again.
	if step, _, err := start(asking, `{"id_token":{"email":null}}`); err != nil || step.Kind != usecase.StepRedirect {
		t.Fatalf("after consent: %+v, %v", step, err)
	}
	if step, _, err := start(asking, `{"userinfo":{"phone_number":null}}`); err != nil || step.Kind != usecase.StepConsent {
		t.Fatalf("claims of another scope: %+v, %v; want consent", step, err)
	}
}

// TestAdmin_EveryBadFieldAtOnce: creating or updating a user with several bad fields
// names every one of them, in the form's order, and stores nothing.
func TestAdmin_EveryBadFieldAtOnce(t *testing.T) {
	f := newFixture(t)
	fields := func(err error) []string {
		t.Helper()
		var ve *usecase.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%v, want a validation error", err)
		}
		var got []string
		for _, e := range ve.All() {
			if e.Message == "" || len(e.More) != 0 {
				t.Errorf("problem %+v: want a message and no nesting", e)
			}
			got = append(got, e.Field)
		}
		return got
	}

	bad := usecase.NewUser{Username: "a b", Email: "not an address", Password: "short",
		Profile: domain.Profile{Picture: "javascript:alert(1)", Locale: "english please"}, Groups: []string{"has space"}}
	_, err := f.admin.CreateUser(f.ctx, bad)
	if got, want := fields(err), []string{"username", "email", "password", "picture", "locale", "groups"}; !slices.Equal(got, want) {
		t.Errorf("CreateUser refused %v, want %v", got, want)
	}
	// The error's text names them all, the first first: the CLI prints it on one line.
	var ve *usecase.ValidationError
	errors.As(err, &ve)
	if msg := err.Error(); !strings.HasPrefix(msg, ve.Message+"; ") || strings.Count(msg, "; ") != 5 ||
		!strings.Contains(msg, "locale: must be a language tag") {
		t.Errorf("message %q", msg)
	}
	// CheckNewUser finds the same without storing or reading anything: a taken
	// username is no problem of its values.
	if got, want := fields(f.admin.CheckNewUser(bad)), []string{"username", "email", "password", "picture", "locale", "groups"}; !slices.Equal(got, want) {
		t.Errorf("CheckNewUser refused %v, want %v", got, want)
	}
	// One bad field reads as before.
	_, err = f.admin.CreateUser(f.ctx, usecase.NewUser{Username: "solo", Password: "short"})
	if got := fields(err); !slices.Equal(got, []string{"password"}) || strings.Contains(err.Error(), ";") {
		t.Errorf("one bad field: %v (%q)", got, err)
	}

	u, err := f.admin.CreateUser(f.ctx, usecase.NewUser{Username: "ada", Email: "ada@example.com", Password: "a long password",
		Profile: domain.Profile{Name: "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.admin.CheckNewUser(usecase.NewUser{Username: "ada", Email: "ada@example.com", Password: "another password"}); err != nil {
		t.Errorf("CheckNewUser of good values, the username taken: %v", err)
	}
	email, picture, phone := "nope", "ftp://example.com/a.png", "12345"
	_, err = f.admin.UpdateUser(f.ctx, u.ID, usecase.UserUpdate{Email: &email, AddGroups: []string{""},
		Profile: usecase.ProfileUpdate{Picture: &picture, PhoneNumber: &phone}})
	if got, want := fields(err), []string{"email", "picture", "phone_number", "groups"}; !slices.Equal(got, want) {
		t.Errorf("UpdateUser refused %v, want %v", got, want)
	}
	name, locale := "a\x00b", "xx_YY"
	_, err = f.admin.UpdateProfile(f.ctx, u.ID, usecase.ProfileUpdate{Name: &name, Locale: &locale})
	if got, want := fields(err), []string{"name", "locale"}; !slices.Equal(got, want) {
		t.Errorf("UpdateProfile refused %v, want %v", got, want)
	}
	if stored, err := f.users.UserByID(f.ctx, u.ID); err != nil || stored.Email != "ada@example.com" ||
		stored.Profile != (domain.Profile{Name: "Ada"}) || stored.Groups != nil {
		t.Fatalf("after refused updates: %+v, %v", stored, err)
	}
}

// TestAdmin_CheckNewClient: the client rules of CreateClient, with its defaults,
// without creating anything: every bad field named, good values answered nil.
func TestAdmin_CheckNewClient(t *testing.T) {
	f := newFixture(t)
	err := f.admin.CheckNewClient(usecase.NewClient{Name: "checked", RedirectURIs: []string{"javascript:x"},
		Scopes: []string{`a"b`}, BackchannelLogoutURI: "ftp://rp.example/logout"})
	var fe *domain.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("%v, want a FieldError", err)
	}
	var fields []string
	for _, p := range fe.All() {
		fields = append(fields, p.Field)
	}
	if want := []string{"redirect_uris", "scope", "backchannel_logout_uri"}; !slices.Equal(fields, want) {
		t.Errorf("fields %v, want %v", fields, want)
	}
	// The default grants (the code flow) want a redirect URI.
	if err := f.admin.CheckNewClient(usecase.NewClient{Name: "checked"}); !errors.As(err, &fe) || fe.Field != "redirect_uris" {
		t.Errorf("no redirect URI with the default grants: %v", err)
	}
	if err := f.admin.CheckNewClient(usecase.NewClient{Name: "checked", RedirectURIs: []string{"https://app.example/cb"}}); err != nil {
		t.Fatalf("good values: %v", err)
	}
	// Nothing was created: the name is free.
	if _, err := f.admin.CreateClient(f.ctx, usecase.NewClient{Name: "checked", RedirectURIs: []string{"https://app.example/cb"}}); err != nil {
		t.Fatalf("create after the checks: %v", err)
	}
}

// TestAdmin_CheckClientUpdate: the check finds what UpdateClient would refuse, and
// writes nothing.
func TestAdmin_CheckClientUpdate(t *testing.T) {
	f := newFixture(t)
	made, err := f.admin.CreateClient(f.ctx, usecase.NewClient{Name: "to-check", RedirectURIs: []string{"https://app.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	id := made.Client.ID
	bad, name := []string{"javascript:x"}, "renamed"
	err = f.admin.CheckClientUpdate(f.ctx, id, usecase.ClientUpdate{Name: &name, RedirectURIs: &bad})
	var fe *domain.FieldError
	if !errors.As(err, &fe) || fe.Field != "redirect_uris" || len(fe.More) != 0 {
		t.Fatalf("a bad redirect URI: %v", err)
	}
	public := true
	var ve *usecase.ValidationError
	if err := f.admin.CheckClientUpdate(f.ctx, id, usecase.ClientUpdate{Public: &public}); !errors.As(err, &ve) || ve.Field != "public" {
		t.Errorf("confidential to public: %v", err)
	}
	if err := f.admin.CheckClientUpdate(f.ctx, id, usecase.ClientUpdate{Name: &name}); err != nil {
		t.Errorf("a good update: %v", err)
	}
	if err := f.admin.CheckClientUpdate(f.ctx, "nosuch", usecase.ClientUpdate{Name: &name}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("an unknown client: %v", err)
	}
	// Nothing was written.
	if c, err := f.admin.Client(f.ctx, id); err != nil || c.Name != "to-check" || !c.UpdatedAt.Equal(made.Client.UpdatedAt) {
		t.Fatalf("after the checks: %+v, %v", c, err)
	}
}

// TestAdmin_ProfileAndGroups: the profile is validated and trimmed; verified flags
// need what they vouch for; groups are validated, sorted and unique; UpdateProfile
// moves updated_at and a new phone number is unverified.
func TestAdmin_ProfileAndGroups(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name  string
		in    usecase.NewUser
		field string
	}{
		{"picture not a URL", usecase.NewUser{Profile: domain.Profile{Picture: "javascript:alert(1)"}}, "picture"},
		{"picture without host", usecase.NewUser{Profile: domain.Profile{Picture: "https:///x.png"}}, "picture"},
		{"locale", usecase.NewUser{Profile: domain.Profile{Locale: "english please"}}, "locale"},
		{"zoneinfo", usecase.NewUser{Profile: domain.Profile{Zoneinfo: "Mars/Olympus_Mons"}}, "zoneinfo"},
		{"zoneinfo path", usecase.NewUser{Profile: domain.Profile{Zoneinfo: "../../etc/passwd"}}, "zoneinfo"},
		{"zoneinfo Local", usecase.NewUser{Profile: domain.Profile{Zoneinfo: "Local"}}, "zoneinfo"},
		{"phone", usecase.NewUser{Profile: domain.Profile{PhoneNumber: "555-0100"}}, "phone_number"},
		{"name too long", usecase.NewUser{Profile: domain.Profile{Name: strings.Repeat("n", domain.MaxNameLength+1)}}, "name"},
		{"name control", usecase.NewUser{Profile: domain.Profile{GivenName: "a\x00b"}}, "given_name"},
		{"group", usecase.NewUser{Groups: []string{"has space"}}, "groups"},
		{"empty group", usecase.NewUser{Groups: []string{""}}, "groups"},
		{"long group", usecase.NewUser{Groups: []string{strings.Repeat("g", domain.MaxGroupLength+1)}}, "groups"},
		{"verified without email", usecase.NewUser{EmailVerified: true}, "email-verified"},
		{"verified without phone", usecase.NewUser{PhoneNumberVerified: true}, "phone-number-verified"},
	} {
		tc.in.Username, tc.in.Password = "u"+strings.ToLower(f.random.ID()[:8]), "a long password"
		_, err := f.admin.CreateUser(f.ctx, tc.in)
		var ve *usecase.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%s: %v, want a validation error of %s", tc.name, err, tc.field)
		}
	}

	u, err := f.admin.CreateUser(f.ctx, usecase.NewUser{Username: "grace", Email: "grace@example.com", Password: "a long password",
		EmailVerified: true, Profile: domain.Profile{Name: "  Grace Hopper ", PhoneNumber: "+12025550100"},
		PhoneNumberVerified: true, Groups: []string{"navy", "cobol", "navy", "team:\u00e9quipe"}})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "Grace Hopper" || !u.EmailVerified || !u.PhoneNumberVerified ||
		!slices.Equal(u.Groups, []string{"cobol", "navy", "team:\u00e9quipe"}) {
		t.Fatalf("created %+v", u)
	}
	// SignUp takes none of what only operators may set.
	su, err := f.admin.SignUp(f.ctx, usecase.NewUser{Username: "mallory", Email: "mallory@example.com", Password: "a long password",
		EmailVerified: true, Groups: []string{"admins"}, Profile: domain.Profile{Name: "M"}})
	if err != nil || su.EmailVerified || su.Groups != nil || su.Name != "" {
		t.Fatalf("sign-up kept operator fields: %+v, %v", su, err)
	}

	f.clock.Advance(time.Minute)
	name, phone, empty := "Rear Admiral Hopper", "+12025550199", ""
	locale, zone := "en-US", "America/New_York"
	got, err := f.admin.UpdateProfile(f.ctx, u.ID, usecase.ProfileUpdate{Name: &name, PhoneNumber: &phone,
		Locale: &locale, Zoneinfo: &zone, GivenName: &empty})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != name || got.PhoneNumber != phone || got.PhoneNumberVerified || got.Locale != locale ||
		got.Zoneinfo != zone || !got.UpdatedAt.Equal(f.clock.Now()) || !got.EmailVerified {
		t.Fatalf("after UpdateProfile: %+v", got)
	}
	stored, err := f.users.UserByID(f.ctx, u.ID)
	if err != nil || stored.Profile != got.Profile || !stored.UpdatedAt.Equal(got.UpdatedAt) {
		t.Fatalf("stored %+v, %v; want %+v", stored, err, got)
	}
	bad := "not a zone"
	if _, err := f.admin.UpdateProfile(f.ctx, u.ID, usecase.ProfileUpdate{Zoneinfo: &bad}); err == nil {
		t.Fatal("a bad zoneinfo was saved")
	}
	if _, err := f.admin.UpdateProfile(f.ctx, "missing", usecase.ProfileUpdate{Name: &name}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}

	got, err = f.admin.UpdateUser(f.ctx, u.ID, usecase.UserUpdate{AddGroups: []string{"admins", "navy"}, RemoveGroups: []string{"cobol"}})
	if err != nil || !slices.Equal(got.Groups, []string{"admins", "navy", "team:\u00e9quipe"}) {
		t.Fatalf("groups after update: %v, %v", got.Groups, err)
	}
	if _, err := f.admin.UpdateUser(f.ctx, u.ID, usecase.UserUpdate{AddGroups: []string{"a b"}}); err == nil {
		t.Fatal("a bad group name was added")
	}
	got, err = f.admin.UpdateUser(f.ctx, u.ID, usecase.UserUpdate{RemoveGroups: []string{"admins", "navy", "team:\u00e9quipe"}})
	if err != nil || got.Groups != nil {
		t.Fatalf("groups after removing all: %#v, %v", got.Groups, err)
	}
}

// TestAdmin_UpdateRacingAnEmailChange: a profile update that read the user before
// an email change on /account was confirmed does not write the old email back.
func TestAdmin_UpdateRacingAnEmailChange(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "racer", "correct horse battery")
	accounts := bunrepo.NewAccountRepository(f.db)
	email := u.Email
	for i := range 20 {
		next := fmt.Sprintf("racer%d@example.com", i)
		name := fmt.Sprintf("Racer %d", i)
		var wg sync.WaitGroup
		var changed bool
		var changeErr, updateErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			changed, changeErr = accounts.ChangeEmail(f.ctx, u.ID, email, next, f.clock.Now().Add(time.Duration(i+1)*time.Second))
		}()
		go func() {
			defer wg.Done()
			_, updateErr = f.admin.UpdateProfile(f.ctx, u.ID, usecase.ProfileUpdate{Name: &name})
		}()
		wg.Wait()
		if changeErr != nil || updateErr != nil || !changed {
			t.Fatalf("round %d: change %v %v, update %v", i, changed, changeErr, updateErr)
		}
		got, err := f.users.UserByID(f.ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Email != next || !got.EmailVerified || got.Profile.Name != name {
			t.Fatalf("round %d: email %q verified %v name %q; want %q, true, %q", i, got.Email, got.EmailVerified,
				got.Profile.Name, next, name)
		}
		email = next
	}
}
