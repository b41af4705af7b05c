package usecase

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"gatehouse/domain"
)

// EndSession reads RP-initiated logout requests (OpenID Connect RP-Initiated Logout
// 1.0): which client asks, for which user, and whether the browser may go back to it
// afterwards. Ending the session itself is Login.LogOut, after the user confirmed.
//
// The post_logout_redirect_uri arrives on a GET anyone can forge, so it is honoured
// only when it is one the client registered, byte for byte, and the client is
// known for sure: named by a valid id_token_hint or by client_id (both agreeing when
// both are given). Anything else shows the logout page without a redirect; there is
// no open redirect (SECURITY S42).
type EndSession struct {
	clients ClientStore
	hints   IDTokenHintVerifier
}

// NewEndSession builds the logout request checks.
func NewEndSession(clients ClientStore, hints IDTokenHintVerifier) *EndSession {
	return &EndSession{clients: clients, hints: hints}
}

// EndSessionParams are the parameters of a logout request (§2); empty means absent.
type EndSessionParams struct {
	IDTokenHint           string
	ClientID              string
	PostLogoutRedirectURI string
	State                 string
}

// EndSessionRequest is what a logout request asks, as far as it could be trusted.
type EndSessionRequest struct {
	// ClientName names the client that sent the browser, when it is known.
	ClientName string
	// HintSubject is the sub of a valid id_token_hint; empty without one.
	HintSubject string
	// RedirectURI is the registered post-logout redirect URI the browser goes to
	// after logout, and RedirectURL the same with state added; both empty when the
	// request asked for none or could not be trusted.
	RedirectURI string
	RedirectURL string
	// Problem says, for the page, why a requested redirect is not honoured.
	Problem string
}

// Check works out a logout request. It fails only when the client store does;
// anything wrong with the request itself is a request without a redirect.
func (uc *EndSession) Check(ctx context.Context, p EndSessionParams) (EndSessionRequest, error) {
	var r EndSessionRequest
	refuse := func(problem string) (EndSessionRequest, error) {
		if p.PostLogoutRedirectURI != "" {
			r.Problem = problem
		}
		r.RedirectURI, r.RedirectURL = "", ""
		return r, nil
	}
	// A parameter over its limit (domain.ParamLimit) makes the request untrusted; it
	// is never truncated.
	for _, v := range []struct{ name, value string }{{"id_token_hint", p.IDTokenHint}, {"client_id", p.ClientID},
		{"post_logout_redirect_uri", p.PostLogoutRedirectURI}, {"state", p.State}} {
		if domain.CheckParam(v.name, v.value) != nil {
			return refuse("the " + v.name + " of the sign-out request is too long")
		}
	}
	if len(p.ClientID) > maxClientIDSize {
		return refuse("the request names no application of this server")
	}
	clientID := p.ClientID
	if p.IDTokenHint != "" {
		hint, err := uc.hints.VerifyIDTokenHint(ctx, p.IDTokenHint)
		if err != nil {
			return refuse("the application's sign-out request could not be verified")
		}
		if clientID != "" && clientID != hint.ClientID {
			return refuse("the client_id does not match the id_token_hint")
		}
		r.HintSubject, clientID = hint.Subject, hint.ClientID
	}
	if clientID == "" {
		return refuse("the request does not say which application sent it")
	}
	client, err := liveClient(ctx, uc.clients, clientID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return refuse("the application is unknown")
	case err != nil:
		return EndSessionRequest{}, fmt.Errorf("look up client: %w", err)
	}
	r.ClientName = client.Name
	if p.PostLogoutRedirectURI == "" {
		return r, nil
	}
	if !client.AllowsPostLogoutRedirectURI(p.PostLogoutRedirectURI) {
		return refuse("the post_logout_redirect_uri is not registered for this application")
	}
	r.RedirectURI, r.RedirectURL = p.PostLogoutRedirectURI, withState(p.PostLogoutRedirectURI, p.State)
	return r, nil
}

// withState adds state to a registered URI (which has no fragment), keeping the URI's
// own query as registered.
func withState(uri, state string) string {
	if state == "" {
		return uri
	}
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
		if strings.HasSuffix(uri, "?") || strings.HasSuffix(uri, "&") {
			sep = ""
		}
	}
	return uri + sep + "state=" + url.QueryEscape(state)
}
