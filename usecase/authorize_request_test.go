package usecase_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// TestValidateAuthRequest: the validator shared by the authorization and PAR
// endpoints, on its own: no storage, no clock. Each defect gives its code; a good
// request gives the request as granted, defaults filled in.
func TestValidateAuthRequest(t *testing.T) {
	client := domain.Client{ID: "c1", RedirectURIs: []string{"https://app.test/cb"},
		GrantTypes: []string{domain.GrantAuthorizationCode}, Scopes: []string{"openid", "profile"},
		Audiences: []string{"https://api.test/x"}}
	public := client
	public.Public = true
	cc := client
	cc.GrantTypes = []string{domain.GrantClientCredentials}
	policy := usecase.AuthorizePolicy{DefaultAudience: "https://default.test", RequirePKCE: true}
	lax := usecase.AuthorizePolicy{DefaultAudience: "https://default.test"}
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSGw_cM0"
	good := usecase.AuthorizeParams{ClientID: "c1", ResponseType: "code", State: "s", Nonce: "n",
		CodeChallenge: challenge, CodeChallengeMethod: "S256"}

	for _, tc := range []struct {
		name   string
		client domain.Client
		policy usecase.AuthorizePolicy
		edit   func(p *usecase.AuthorizeParams)
		code   string
	}{
		{"repeated", client, policy, func(p *usecase.AuthorizeParams) { p.Repeated = []string{"scope"} }, "invalid_request"},
		{"request object", client, policy, func(p *usecase.AuthorizeParams) { p.Request = "x" }, "request_not_supported"},
		{"request_uri", client, policy, func(p *usecase.AuthorizeParams) { p.RequestURI = "https://x" }, "request_uri_not_supported"},
		{"long state", client, policy, func(p *usecase.AuthorizeParams) { p.State = strings.Repeat("s", 5000) }, "invalid_request"},
		{"NUL in nonce", client, policy, func(p *usecase.AuthorizeParams) { p.Nonce = "a\x00" }, "invalid_request"},
		{"bad UTF-8 resource", client, policy, func(p *usecase.AuthorizeParams) { p.Resource = []string{"\xff"} }, "invalid_target"},
		{"no response_type", client, policy, func(p *usecase.AuthorizeParams) { p.ResponseType = "" }, "invalid_request"},
		{"implicit", client, policy, func(p *usecase.AuthorizeParams) { p.ResponseType = "token" }, "unsupported_response_type"},
		{"no code grant", cc, policy, func(p *usecase.AuthorizeParams) {}, "unauthorized_client"},
		{"scope not allowed", client, policy, func(p *usecase.AuthorizeParams) { p.Scope = "openid admin" }, "invalid_scope"},
		{"malformed scope", client, policy, func(p *usecase.AuthorizeParams) { p.Scope = `a"b` }, "invalid_scope"},
		{"resource not allowed", client, policy, func(p *usecase.AuthorizeParams) { p.Resource = []string{"https://other.test"} }, "invalid_target"},
		{"plain", client, policy, func(p *usecase.AuthorizeParams) { p.CodeChallengeMethod = "plain" }, "invalid_request"},
		{"method missing", client, policy, func(p *usecase.AuthorizeParams) { p.CodeChallengeMethod = "" }, "invalid_request"},
		{"challenge missing", client, policy, func(p *usecase.AuthorizeParams) { p.CodeChallenge = "" }, "invalid_request"},
		{"short challenge", client, policy, func(p *usecase.AuthorizeParams) { p.CodeChallenge = challenge[:40] }, "invalid_request"},
		{"no PKCE, required", client, policy, func(p *usecase.AuthorizeParams) { p.CodeChallenge, p.CodeChallengeMethod = "", "" }, "invalid_request"},
		{"no PKCE, public", public, lax, func(p *usecase.AuthorizeParams) { p.CodeChallenge, p.CodeChallengeMethod = "", "" }, "invalid_request"},
		{"unknown prompt", client, policy, func(p *usecase.AuthorizeParams) { p.Prompt = "sometimes" }, "invalid_request"},
		{"prompt none and login", client, policy, func(p *usecase.AuthorizeParams) { p.Prompt = "none login" }, "invalid_request"},
		{"negative max_age", client, policy, func(p *usecase.AuthorizeParams) { p.MaxAge = "-1" }, "invalid_request"},
		{"max_age over ten years", client, policy, func(p *usecase.AuthorizeParams) { p.MaxAge = "999999999999" }, "invalid_request"},
		{"response_mode form_post", client, policy, func(p *usecase.AuthorizeParams) { p.ResponseMode = "form_post" }, "invalid_request"},
		{"response_mode fragment", client, policy, func(p *usecase.AuthorizeParams) { p.ResponseMode = "fragment" }, "invalid_request"},
		{"response_mode unknown", client, policy, func(p *usecase.AuthorizeParams) { p.ResponseMode = "xyz" }, "invalid_request"},
		{"response_mode in capitals", client, policy, func(p *usecase.AuthorizeParams) { p.ResponseMode = "QUERY" }, "invalid_request"},
		{"long id_token_hint", client, policy, func(p *usecase.AuthorizeParams) { p.IDTokenHint = strings.Repeat("h", 17<<10) }, "invalid_request"},
	} {
		p := good
		tc.edit(&p)
		_, err := usecase.ValidateAuthRequest(tc.client, p, tc.policy)
		var e *domain.Error
		if !errors.As(err, &e) || e.Code != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}

	req, err := usecase.ValidateAuthRequest(client, good, policy)
	if err != nil || req.ClientID != "c1" || !slices.Equal(req.Scope, []string{"openid"}) ||
		!slices.Equal(req.Audience, []string{"https://default.test"}) || req.CodeChallenge != challenge ||
		req.Nonce != "n" || req.Prompt != nil || req.MaxAge != nil {
		t.Fatalf("good request: %+v, %v", req, err)
	}
	p := good
	p.Scope, p.Resource, p.Prompt, p.MaxAge = "profile openid", []string{"https://api.test/x"}, "login consent login", "600"
	req, err = usecase.ValidateAuthRequest(client, p, policy)
	if err != nil || !slices.Equal(req.Scope, []string{"profile", "openid"}) || !slices.Equal(req.Audience, p.Resource) ||
		!slices.Equal(req.Prompt, []string{"login", "consent"}) || req.MaxAge == nil || *req.MaxAge != 10*time.Minute {
		t.Fatalf("request with scope, resource, prompt and max_age: %+v, %v", req, err)
	}
	// response_mode=query is the mode the server answers in anyway; the refusal of
	// another names it.
	p = good
	p.ResponseMode = "query"
	if _, err := usecase.ValidateAuthRequest(client, p, policy); err != nil {
		t.Fatalf("response_mode=query: %v", err)
	}
	p.ResponseMode = "form_post"
	var e *domain.Error
	if _, err := usecase.ValidateAuthRequest(client, p, policy); !errors.As(err, &e) ||
		e.Description != "response_mode form_post is not supported; this server answers in the query" {
		t.Fatalf("response_mode=form_post: %v", err)
	}
	// prompt=select_account is accepted, alone; with none it is refused, as every
	// other value is.
	p = good
	p.Prompt = "select_account"
	if req, err := usecase.ValidateAuthRequest(client, p, policy); err != nil || !req.HasPrompt(domain.PromptSelectAccount) {
		t.Fatalf("prompt=select_account: %+v, %v", req, err)
	}
	p.Prompt = "none select_account"
	if _, err := usecase.ValidateAuthRequest(client, p, policy); !errors.As(err, &e) || e.Code != "invalid_request" {
		t.Fatalf("prompt=none select_account: %v, want invalid_request", err)
	}
	// A confidential client may leave PKCE out where the policy allows it.
	p = good
	p.CodeChallenge, p.CodeChallengeMethod = "", ""
	if _, err := usecase.ValidateAuthRequest(client, p, lax); err != nil {
		t.Fatalf("confidential client without PKCE, not required: %v", err)
	}
}

// TestValidateAuthRequest_OpenResourceScopes: a request that names an open resource
// may ask for that resource's own scopes besides the client's; never for its user
// scopes or the admin API's, and not without naming it.
func TestValidateAuthRequest_OpenResourceScopes(t *testing.T) {
	client := domain.Client{ID: "c1", RedirectURIs: []string{"https://app.test/cb"}, Public: true,
		GrantTypes: []string{domain.GrantAuthorizationCode}, Scopes: []string{"openid"}}
	const mcp = "https://mcp.test/mcp"
	files := domain.Resource{URI: mcp, Name: "Files", Open: true,
		Scopes: []string{"files:read", "files:write", "email", "offline_access", domain.ScopeAdmin}}
	withFiles := usecase.AuthorizePolicy{DefaultAudience: "https://default.test", OpenResources: []domain.Resource{files}}
	without := usecase.AuthorizePolicy{DefaultAudience: "https://default.test"}
	p := usecase.AuthorizeParams{ClientID: "c1", ResponseType: "code", State: "s", Scope: "openid files:read",
		Resource: []string{mcp}, CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSGw_cM0", CodeChallengeMethod: "S256"}

	req, err := usecase.ValidateAuthRequest(client, p, withFiles)
	if err != nil || !slices.Equal(req.Scope, []string{"openid", "files:read"}) || !slices.Equal(req.Audience, []string{mcp}) {
		t.Fatalf("open resource's scope: %+v, %v", req, err)
	}
	// Without the resource in the request (its policy lists only resources asked for).
	noResource := p
	noResource.Resource = nil
	for name, tc := range map[string]struct {
		p      usecase.AuthorizeParams
		policy usecase.AuthorizePolicy
	}{
		"resource not named":     {noResource, without},
		"a user scope":           {withScope(p, "openid email"), withFiles},
		"offline_access":         {withScope(p, "openid offline_access"), withFiles},
		"the admin API's":        {withScope(p, "openid "+domain.ScopeAdmin), withFiles},
		"a scope it lacks":       {withScope(p, "openid files:delete"), withFiles},
		"closed resource scopes": {p, usecase.AuthorizePolicy{DefaultAudience: "x", OpenResources: []domain.Resource{{URI: mcp, Scopes: files.Scopes}}}},
	} {
		_, err := usecase.ValidateAuthRequest(client, tc.p, tc.policy)
		var e *domain.Error
		if !errors.As(err, &e) || (e.Code != "invalid_scope" && e.Code != "invalid_target") {
			t.Errorf("%s: %v, want invalid_scope", name, err)
		}
	}
}

func withScope(p usecase.AuthorizeParams, scope string) usecase.AuthorizeParams {
	p.Scope = scope
	return p
}

// TestRedirectFor: the redirect URI is the registered one named (a loopback one on
// any port), or the only one when none is named; anything else is an error for a
// page, never for a redirect.
func TestRedirectFor(t *testing.T) {
	one := domain.Client{RedirectURIs: []string{"http://127.0.0.1/cb"}}
	two := domain.Client{RedirectURIs: []string{"https://a.test/cb", "https://b.test/cb"}}
	for _, tc := range []struct {
		client   domain.Client
		sent     string
		want     string
		wantSent bool
		ok       bool
	}{
		{one, "", "http://127.0.0.1/cb", false, true},
		{one, "http://127.0.0.1:5000/cb", "http://127.0.0.1:5000/cb", true, true},
		{one, "http://127.0.0.1/cb/", "", false, false},
		{two, "", "", false, false},
		{two, "https://b.test/cb", "https://b.test/cb", true, true},
		{two, "https://b.test/cb?x=1", "", false, false},
		{two, "https://b.test/" + strings.Repeat("x", 5000), "", false, false},
	} {
		got, sent, err := usecase.RedirectFor(tc.client, usecase.AuthorizeParams{RedirectURI: tc.sent})
		if tc.ok != (err == nil) || got != tc.want || sent != tc.wantSent {
			t.Errorf("%v, %q: %q %v %v; want %q %v ok=%v", tc.client.RedirectURIs, tc.sent, got, sent, err, tc.want, tc.wantSent, tc.ok)
		}
		if err != nil && !errors.Is(err, domain.ErrInvalidRequest) {
			t.Errorf("%q: %v, want invalid_request", tc.sent, err)
		}
	}
}
