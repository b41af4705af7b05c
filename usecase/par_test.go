package usecase_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// TestPushedAuthorization: a push is validated like an authorization request, and its
// request_uri works once, for its client, until it expires (the fixed clock moves, no
// waiting).
func TestPushedAuthorization(t *testing.T) {
	f := newPagesFixture(t)
	par := usecase.NewPushedAuthorization(f.auth, bunrepo.NewPushedRequestRepository(f.db),
		f.hasher, f.random, f.clock, usecase.PARSettings{TTL: 30 * time.Second}, f.settings)
	c, cr := f.client(t, usecase.NewClient{RedirectURIs: []string{"https://app.test/cb"}})
	other, _ := f.client(t, usecase.NewClient{RedirectURIs: []string{"https://other.test/cb"}})
	push := func(p usecase.AuthorizeParams) (string, error) {
		got, err := par.Push(f.ctx, usecase.PushInput{Credentials: cr, Params: p})
		if err == nil && (got.ExpiresIn != 30*time.Second || !strings.HasPrefix(got.RequestURI, domain.RequestURIPrefix)) {
			t.Fatalf("push answered %+v", got)
		}
		return got.RequestURI, err
	}
	start := func(clientID, uri string) (usecase.Step, error) {
		return f.authorize.Start(f.ctx, usecase.AuthorizeInput{
			Params: usecase.AuthorizeParams{ClientID: clientID, RequestURI: uri}, BrowserSecret: browserA})
	}
	wantPage := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, domain.ErrInvalidRequest) || errors.As(err, new(*domain.AuthorizationError)) {
			t.Fatalf("%s: err %v, want invalid_request for a page", what, err)
		}
	}

	// Validation errors are the authorization endpoint's, as JSON codes.
	for name, tc := range map[string]struct {
		edit func(p *usecase.AuthorizeParams)
		code string
	}{
		"unregistered uri": {func(p *usecase.AuthorizeParams) { p.RedirectURI += "/" }, "invalid_request"},
		"request_uri":      {func(p *usecase.AuthorizeParams) { p.RequestURI = domain.RequestURIPrefix + "x" }, "invalid_request"},
		"other client_id":  {func(p *usecase.AuthorizeParams) { p.ClientID = other.ID }, "invalid_request"},
		"bad scope":        {func(p *usecase.AuthorizeParams) { p.Scope = "openid admin" }, "invalid_scope"},
		"no PKCE":          {func(p *usecase.AuthorizeParams) { p.CodeChallenge, p.CodeChallengeMethod = "", "" }, "invalid_request"},
		"token":            {func(p *usecase.AuthorizeParams) { p.ResponseType = "token" }, "unsupported_response_type"},
	} {
		p := pkceParams(c)
		tc.edit(&p)
		_, err := push(p)
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != tc.code {
			t.Errorf("%s: err %v, want %s", name, err, tc.code)
		}
	}

	// Used once, by its own client only.
	uri, err := push(pkceParams(c))
	if err != nil {
		t.Fatal(err)
	}
	_, err = start(other.ID, uri)
	wantPage("other client", err)
	step, err := start(c.ID, uri)
	if err != nil || step.Kind != usecase.StepLogin || step.RedirectURI != "https://app.test/cb" {
		t.Fatalf("first use: %+v %v", step, err)
	}
	_, err = start(c.ID, uri)
	wantPage("second use", err)

	// Expired: one tick past the TTL.
	uri, err = push(pkceParams(c))
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(30 * time.Second)
	_, err = start(c.ID, uri)
	wantPage("expired", err)
}
