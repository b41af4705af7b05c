package usecase

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gatehouse/domain"
)

// The validation of an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 8707
// §2, OpenID Connect Core §3.1.2.1), shared by the authorization endpoint and the PAR
// endpoint (RFC 9126 §2.1: a pushed request is validated as the authorization endpoint
// would). Pure: no storage, no clock.

// AuthorizeParams are the parameters of an authorization request as the HTTP adapter
// read them. Empty means absent; unknown parameters never get here.
type AuthorizeParams struct {
	ClientID     string
	RedirectURI  string
	ResponseType string
	// ResponseMode is the OAuth 2.0 Multiple Response Types response_mode: only query
	// (the default of response_type=code) is supported.
	ResponseMode        string
	Scope               string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              string
	MaxAge              string
	// IDTokenHint is the OpenID Connect id_token_hint (Core §3.1.2.1): an ID token of
	// ours naming the user the client expects. Checked by Authorize.Start, which has
	// the keys; the pure validation only bounds its length.
	IDTokenHint string
	// Claims is the OpenID Connect claims request parameter (Core §5.5), JSON.
	Claims string
	// ACRValues is the OpenID Connect acr_values (space-separated classes).
	ACRValues string
	// Request and RequestURI are OpenID Connect request objects (Core §6), which
	// Gatehouse does not support; present, they are refused rather than ignored.
	Request    string
	RequestURI string
	Resource   []string
	// Repeated names the parameters sent more than once (RFC 6749 §3.1); `resource`
	// may repeat and is never listed.
	Repeated []string
}

// AuthorizePolicy is what validation takes from the configuration.
type AuthorizePolicy struct {
	// DefaultAudience is the `aud` of tokens for a request without resource.
	DefaultAudience string
	// RequirePKCE makes PKCE mandatory for confidential clients too (public clients
	// always need it).
	RequirePKCE bool
	// OpenResources are resources registered as open that the request names: the
	// client may ask for them although they are not in its audience list, and for
	// their OpenScopes besides its own scopes.
	OpenResources []domain.Resource
}

// authorizePolicy is the validation policy of the server's settings.
func (s Settings) authorizePolicy() AuthorizePolicy {
	return AuthorizePolicy{DefaultAudience: string(s.Audience), RequirePKCE: s.RequirePKCE}
}

// Bounds on what a request may carry, besides the length of each parameter
// (domain.ParamLimit); longer values are refused, not truncated, so that state always
// comes back byte for byte. A client_id over maxClientIDSize is no client of ours.
const (
	maxMaxAge       = 10 * 365 * 24 * 3600 // ten years, in seconds
	maxClientIDSize = 255
)

// ValidateAuthRequest checks every parameter of an authorization request of client but
// client_id and redirect_uri, whose trust comes first (RedirectFor). It returns the
// request as granted: client, scope (the default one when none was asked), audience,
// PKCE challenge, prompt, max_age and nonce. The error is a *domain.Error meant for the
// client at its redirect URI.
func ValidateAuthRequest(client domain.Client, p AuthorizeParams, policy AuthorizePolicy) (domain.AuthRequest, error) {
	fail := func(err error) (domain.AuthRequest, error) { return domain.AuthRequest{}, err }
	if err := checkRepeated(p); err != nil {
		return fail(err)
	}
	if err := checkRequestObjects(p); err != nil {
		return fail(err)
	}
	if err := checkLengths(p); err != nil {
		return fail(err)
	}
	if err := checkResponseType(client, p); err != nil {
		return fail(err)
	}
	if err := checkResponseMode(p.ResponseMode); err != nil {
		return fail(err)
	}
	scope, err := checkScope(client, p, policy.OpenResources)
	if err != nil {
		return fail(err)
	}
	open := make([]string, len(policy.OpenResources))
	for i, r := range policy.OpenResources {
		open[i] = r.URI
	}
	audience, _, err := client.AudienceWithOpen(p.Resource, policy.DefaultAudience, open)
	if err != nil {
		return fail(err)
	}
	if err := checkPKCE(client, p, policy); err != nil {
		return fail(err)
	}
	prompt, err := checkPrompt(p.Prompt)
	if err != nil {
		return fail(err)
	}
	maxAge, err := checkMaxAge(p.MaxAge)
	if err != nil {
		return fail(err)
	}
	claims, err := checkClaims(client, scope, p.Claims)
	if err != nil {
		return fail(err)
	}
	// A class asked for by acr_values is held to as an essential one (SECURITY S53).
	claims = claims.WithACRValues(p.ACRValues)
	return domain.AuthRequest{ClientID: client.ID, Scope: scope, Audience: audience, CodeChallenge: p.CodeChallenge,
		Prompt: prompt, MaxAge: maxAge, Nonce: p.Nonce, Claims: claims}, nil
}

// errUnmetACR: an essential acr asks only for classes no sign-in here reaches.
var errUnmetACR = domain.ErrAccessDenied.WithDescription("the essential acr asks for no class this server offers (acr_values_supported in discovery)")

// checkClaims parses the claims request (OpenID Connect Core §5.5). It means something
// only with openid; and a claim asked by name must be one a scope the client may ask
// would give: a client allowed only openid gets no email by naming it. Others are
// left out, as claims the provider does not return (§5.5.1).
func checkClaims(client domain.Client, scope []string, raw string) (domain.ClaimsRequest, error) {
	r, err := domain.ParseClaimsRequest(raw)
	if err != nil || !slices.Contains(scope, domain.ScopeOpenID) {
		return domain.ClaimsRequest{}, err
	}
	if r.UnmetACR() {
		return domain.ClaimsRequest{}, errUnmetACR
	}
	return r.Within(domain.ScopeClaims(client.Scopes)), nil
}

// checkRepeated: a repeated parameter makes the request ambiguous (RFC 6749 §3.1).
func checkRepeated(p AuthorizeParams) error {
	if len(p.Repeated) > 0 {
		return domain.ErrInvalidRequest.WithDescription("parameter %q is repeated", p.Repeated[0])
	}
	return nil
}

// checkRequestObjects refuses OpenID Connect request objects (Core §6.1, §6.2), which
// Gatehouse does not support, rather than ignoring what they would say.
func checkRequestObjects(p AuthorizeParams) error {
	switch {
	case p.Request != "":
		return &domain.Error{Code: "request_not_supported", Description: "request objects are not supported"}
	case p.RequestURI != "":
		return &domain.Error{Code: "request_uri_not_supported", Description: "request_uri is not supported"}
	}
	return nil
}

// checkLengths holds every parameter to its length limit and to valid text, before any
// work is done on it.
func checkLengths(p AuthorizeParams) error {
	for _, v := range []struct{ name, value string }{
		{"state", p.State}, {"nonce", p.Nonce}, {"response_type", p.ResponseType}, {"scope", p.Scope},
		{"code_challenge", p.CodeChallenge}, {"code_challenge_method", p.CodeChallengeMethod},
		{"prompt", p.Prompt}, {"max_age", p.MaxAge}, {"claims", p.Claims}, {"acr_values", p.ACRValues},
		{"response_mode", p.ResponseMode}, {"id_token_hint", p.IDTokenHint},
	} {
		if err := domain.CheckParam(v.name, v.value); err != nil {
			return err
		}
		if !cleanParam(v.value, len(v.value)) {
			return domain.ErrInvalidRequest.WithDescription("%s must be valid text", v.name)
		}
	}
	if err := domain.CheckResourceCount(len(p.Resource)); err != nil {
		return err
	}
	for _, r := range p.Resource {
		if err := domain.CheckParam("resource", r); err != nil {
			return err
		}
		if !cleanParam(r, len(r)) {
			return domain.ErrInvalidTarget.WithDescription("resource must be valid text")
		}
	}
	return nil
}

// checkResponseType: the code flow only, for clients registered for it.
func checkResponseType(client domain.Client, p AuthorizeParams) error {
	switch p.ResponseType {
	case "":
		return domain.ErrInvalidRequest.WithDescription("missing response_type")
	case "code":
	default:
		// No implicit or hybrid flow (RFC 9700 §2.1.2).
		return domain.ErrUnsupportedResponseType.WithDescription("only response_type=code is supported")
	}
	if !client.AllowsGrant(domain.GrantAuthorizationCode) {
		return domain.ErrUnauthorizedClient.WithDescription("the client may not use the authorization code flow")
	}
	return nil
}

// checkResponseMode: the answer goes in the query of the redirect URI, the default
// mode of response_type=code and the only one discovery lists
// (response_modes_supported). Another mode (fragment, form_post, or an unknown one)
// is refused rather than ignored: a form_post client would find the code in a URL
// it did not expect it in. The refusal itself goes in the query, the one way this
// server answers.
func checkResponseMode(mode string) error {
	switch mode {
	case "", "query":
		return nil
	}
	return domain.ErrInvalidRequest.WithDescription("response_mode %s is not supported; this server answers in the query", safeValue(mode))
}

// checkScope is the scope asked, or the default one, within what the client may ask.
func checkScope(client domain.Client, p AuthorizeParams, open []domain.Resource) ([]string, error) {
	scope, err := domain.ParseScope(p.Scope)
	if err != nil {
		return nil, err
	}
	if len(scope) == 0 {
		scope = defaultAuthorizeScope(client)
	}
	// The open resources the request names offer their own scopes too (their users
	// consent to the resource and its scopes on the consent page).
	var offered []string
	for _, r := range open {
		offered = append(offered, r.OpenScopes()...)
	}
	if len(offered) > 0 {
		client.Scopes = slices.Concat(client.Scopes, offered)
	}
	return client.NarrowScope(scope)
}

// defaultAuthorizeScope is the scope of a request without one: openid when the client
// may ask it (SPEC "Behaviour that clients rely on"), else all the client may ask, as
// at the token endpoint.
func defaultAuthorizeScope(client domain.Client) []string {
	if slices.Contains(client.Scopes, domain.ScopeOpenID) {
		return []string{domain.ScopeOpenID}
	}
	return slices.Clone(client.Scopes)
}

// checkPKCE: S256 only (RFC 7636 §4.3; 9700 §2.1.1), required for public clients and,
// by default, for every client.
func checkPKCE(client domain.Client, p AuthorizeParams, policy AuthorizePolicy) error {
	switch {
	case p.CodeChallengeMethod != "" && p.CodeChallengeMethod != domain.PKCEMethodS256:
		return domain.ErrInvalidRequest.WithDescription("code_challenge_method must be S256")
	case p.CodeChallenge == "" && p.CodeChallengeMethod != "":
		return domain.ErrInvalidRequest.WithDescription("code_challenge_method without code_challenge")
	case p.CodeChallenge != "" && p.CodeChallengeMethod == "":
		// An absent method means plain (RFC 7636 §4.3), which is not accepted.
		return domain.ErrInvalidRequest.WithDescription("code_challenge_method must be S256")
	case p.CodeChallenge != "" && !domain.ValidCodeChallenge(p.CodeChallenge):
		return domain.ErrInvalidRequest.WithDescription("code_challenge must be 43 base64url characters (S256)")
	case p.CodeChallenge == "" && (client.Public || policy.RequirePKCE && !client.PKCEOptional):
		return domain.ErrInvalidRequest.WithDescription("code_challenge is required (PKCE with S256)")
	}
	return nil
}

// checkPrompt parses the OpenID Connect prompt values, each once. select_account
// shows the login page even to a browser with a session, where the user signs in
// with the account of their choice (loginNeeded): one account per session.
func checkPrompt(s string) ([]string, error) {
	var out []string
	for _, v := range strings.Fields(s) {
		switch v {
		case domain.PromptNone, domain.PromptLogin, domain.PromptConsent, domain.PromptSelectAccount:
		default:
			return nil, domain.ErrInvalidRequest.WithDescription("unknown prompt value %q", safeValue(v))
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	if slices.Contains(out, domain.PromptNone) && len(out) > 1 {
		return nil, domain.ErrInvalidRequest.WithDescription("prompt=none cannot be combined with other values")
	}
	return out, nil
}

// checkMaxAge parses max_age, a number of seconds; nil when absent.
func checkMaxAge(s string) (*time.Duration, error) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > maxMaxAge {
		return nil, domain.ErrInvalidRequest.WithDescription("max_age must be a number of seconds")
	}
	d := time.Duration(n) * time.Second
	return &d, nil
}

// RedirectFor finds the redirect URI a request of client answers to, and whether the
// request named it. Its error is a *domain.Error that must not go to any redirect URI:
// none is trusted (RFC 6749 §4.1.2.1, §10.15).
func RedirectFor(client domain.Client, p AuthorizeParams) (uri string, sent bool, err error) {
	if p.RedirectURI == "" {
		// Optional only when there is no choice (RFC 6749 §3.1.2.3).
		if len(client.RedirectURIs) != 1 {
			return "", false, domain.ErrInvalidRequest.WithDescription("the request has no redirect_uri, and the application has several")
		}
		return client.RedirectURIs[0], false, nil
	}
	if err := domain.CheckParam("redirect_uri", p.RedirectURI); err != nil {
		return "", false, err
	}
	uri, ok := client.MatchRedirectURI(p.RedirectURI)
	if !ok {
		return "", false, domain.ErrInvalidRequest.WithDescription("the redirect_uri is not registered for this application")
	}
	return uri, true, nil
}

// echoState is the state an answer to p carries: the request's, unless it was repeated
// or not valid text (then no one can tell which value the client meant).
func echoState(p AuthorizeParams) string {
	if slices.Contains(p.Repeated, "state") || !cleanParam(p.State, domain.ParamLimit("state")) {
		return ""
	}
	return p.State
}

// cleanParam: valid UTF-8, no control characters that no legitimate value holds (NUL),
// at most max bytes.
func cleanParam(s string, max int) bool {
	return len(s) <= max && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// safeValue shortens a client-supplied value before it goes into a description.
func safeValue(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "..."
	}
	return s
}
