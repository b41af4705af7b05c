package domain

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Client is a registered OAuth client (RFC 6749 §2).
type Client struct {
	ID   string
	Name string
	// SecretHash is the keyed hash of the client secret; empty for public clients.
	SecretHash   []byte
	Public       bool
	RedirectURIs []string
	GrantTypes   []string
	// Scopes the client may ask for.
	Scopes []string
	// Audiences are the RFC 8707 resource values the client may ask for.
	Audiences   []string
	SkipConsent bool
	// IDTokenAlg is the JWS alg of this client's ID tokens (RS256 unless registered otherwise).
	IDTokenAlg string
	// PostLogoutRedirectURIs are where RP-initiated logout may send the browser
	// afterwards (OpenID Connect RP-Initiated Logout 1.0 §3.1).
	PostLogoutRedirectURIs []string
	CreatedAt              time.Time
	UpdatedAt              time.Time

	// RequirePAR: the client's authorization requests must come through the PAR
	// endpoint (RFC 9126 §5, require_pushed_authorization_requests).
	RequirePAR bool
	// RegistrationTokenHash is the keyed hash of the registration access token of a
	// dynamically registered client (RFC 7592); empty for clients made otherwise.
	RegistrationTokenHash []byte
	// UnusedExpiresAt is set for a client of open dynamic registration (no initial
	// access token): when it was never used by then, housekeeping deletes it. Zero for
	// any other client, and once the client got a token.
	UnusedExpiresAt time.Time
	// RequireDPoP makes the token endpoint refuse this client's requests without a
	// DPoP proof (RFC 9449 §5.2).
	RequireDPoP bool
	// RequireMFA demands a sign-in with a second factor for this client's own
	// authorization requests (clients create --require-mfa).
	RequireMFA bool
	// PKCEOptional lets a confidential client send authorization requests without PKCE
	// (clients create --require-pkce=false), for relying parties that cannot, such as
	// an OpenID certification run. A public client always needs PKCE.
	PKCEOptional bool
	// BackchannelLogoutURI is where the client takes logout tokens when a session it
	// took part in ends (OpenID Connect Back-Channel Logout 1.0); empty for none.
	BackchannelLogoutURI string
	// TokenEndpointAuthMethod is how the client authenticates (RFC 7591 §2): empty
	// for the default (a secret, or none for a public client), or AuthPrivateKeyJWT.
	TokenEndpointAuthMethod string
	// JWKS (a JWK Set, JSON, public keys only) or JWKSURI (where to fetch one) holds
	// the keys of a private_key_jwt client (RFC 7523 §2.2); at most one is set.
	JWKS    string
	JWKSURI string
	// Disabled: the client is treated as unknown everywhere (authentication fails,
	// authorization requests get the error page), and its tokens are dead
	// (PrincipalRevocation). Re-enabled, it works again; its earlier tokens stay dead.
	Disabled bool
}

// AllowsGrant reports whether the client was registered for grant type g.
func (c Client) AllowsGrant(g string) bool { return slices.Contains(c.GrantTypes, g) }

// SubjectID is the `sub` of tokens issued to the client itself (client credentials).
// Client ids and user ids are drawn from disjoint formats (see NewClientID and
// NewUserID in the adapters), so a client's sub never equals a user's (SECURITY S26).
func (c Client) SubjectID() string { return c.ID }

// NarrowScope checks a requested scope against what the client may ask.
// An empty request means every scope the client may ask.
func (c Client) NarrowScope(requested []string) ([]string, error) {
	if len(requested) == 0 {
		return slices.Clone(c.Scopes), nil
	}
	for _, s := range requested {
		if !slices.Contains(c.Scopes, s) {
			return nil, ErrInvalidScope.WithDescription("the client may not ask for scope %q", s)
		}
	}
	return slices.Clone(requested), nil
}

// Audience resolves the RFC 8707 resource parameters into the `aud` of an access
// token: the requested resources when the client may use each, else def.
func (c Client) Audience(resources []string, def string) ([]string, error) {
	if len(resources) == 0 {
		return []string{def}, nil
	}
	for _, r := range resources {
		if !slices.Contains(c.Audiences, r) {
			return nil, ErrInvalidTarget.WithDescription("the client may not ask for resource %q", r)
		}
	}
	return DistinctResources(resources), nil
}

// MatchRedirectURI returns the registered redirect URI that uri matches, comparing
// exact strings (RFC 9700 §4.1.3). A loopback IP literal URI (http://127.0.0.1 or
// http://[::1]) matches on any port (1 to 65535, see validPort), path and query still
// exact (RFC 8252 §7.3).
func (c Client) MatchRedirectURI(uri string) (string, bool) {
	for _, r := range c.RedirectURIs {
		if r == uri {
			return r, true
		}
	}
	host, rest, ok := loopbackParts(uri)
	if !ok {
		return "", false
	}
	if _, err := url.Parse(uri); err != nil {
		return "", false
	}
	for _, r := range c.RedirectURIs {
		if rh, rr, ok := loopbackParts(r); ok && rh == host && rr == rest {
			return uri, true
		}
	}
	return "", false
}

// AllowsPostLogoutRedirectURI reports whether uri is one of the client's registered
// post-logout redirect URIs. The comparison is exact, with no loopback port
// exception: the URI arrives on a plain GET that anyone can forge, and only a
// registered value may become a redirect (RP-Initiated Logout 1.0 §3, no open redirect).
func (c Client) AllowsPostLogoutRedirectURI(uri string) bool {
	return uri != "" && slices.Contains(c.PostLogoutRedirectURIs, uri)
}

// loopbackParts splits an http URI on a loopback IP literal, 127.0.0.1 or [::1] with
// an optional port (validPort: not empty after a colon, 0, with leading zeros or above
// 65535), into that host and the rest (path, query and fragment). It reads the raw
// text, not a parsed URL: url.Parse lowers the scheme, forgets an empty fragment or
// query and re-escapes some paths, and everything but the port must match byte for
// byte.
func loopbackParts(uri string) (host, rest string, ok bool) {
	after, ok := strings.CutPrefix(uri, "http://")
	if !ok {
		return "", "", false
	}
	i := strings.IndexAny(after, "/?#")
	if i < 0 {
		i = len(after)
	}
	authority, rest := after[:i], after[i:]
	for _, h := range []string{"127.0.0.1", "[::1]"} {
		if p, found := strings.CutPrefix(authority, h); found {
			if port, colon := strings.CutPrefix(p, ":"); p == "" || colon && validPort(port) {
				return h, rest, true
			}
		}
	}
	return "", "", false
}

// validPort reports whether p, the text after the colon of an authority, is a port
// Gatehouse accepts in a redirect URI: 1 to 65535 in decimal, without leading zeros
// (RFC 3986 §3.2.3, RFC 8252 §7.3). An empty port (a colon and nothing after it),
// port 0, "00080" and "99999" are not; a URI without a port has no colon at all.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	n := 0
	for _, c := range []byte(p) {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

// hostPort returns the port of host (a URL's Host, IPv6 literals in brackets) and
// whether it has one: the text after its last colon outside brackets, maybe empty.
func hostPort(host string) (port string, ok bool) {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || i < strings.LastIndexByte(host, ']') {
		return "", false
	}
	return host[i+1:], true
}

// isLoopbackIPLiteral reports whether host (with an optional port) is 127.0.0.1 or
// [::1]. "localhost" is not one (RFC 8252 §8.3).
func isLoopbackIPLiteral(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		host = hostport[1 : len(hostport)-1]
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback() && (host == "127.0.0.1" || host == "::1")
}

// FieldError is bad input in a field of a client (and, in More, in its other fields):
// Field names it as RFC 7591 names client metadata (redirect_uris, jwks_uri,
// token_endpoint_auth_method, …), which each adapter maps to its own words:
// `gatehouse clients` to its flags, dynamic registration to invalid_redirect_uri or
// invalid_client_metadata (RFC 7591 §3.2.2).
// Problem says what is wrong, as a format for Args (the values, quoted). Where it
// names a field as the caller sets it, it writes the field in braces ({jwks_uri}), so
// that each caller reads the name it knows (Text); a value described in words
// ("redirect URI %q") needs no braces. No message names a CLI flag.
type FieldError struct {
	Field   string
	Problem string
	Args    []any
	// More are the problems of the client's other fields, one each, found by the same
	// check (ValidateClient), so that a form or an API answer can name every bad
	// field at once; Field, Problem and Args are the first.
	More []*FieldError
}

func fieldError(field, problem string, args ...any) *FieldError {
	return &FieldError{Field: field, Problem: problem, Args: args}
}

// Error is the message with every field in braces named as RFC 7591 names it.
func (e *FieldError) Error() string { return e.Text(func(field string) string { return field }) }

// All is e and then each of e.More, every one without More of its own.
func (e *FieldError) All() []*FieldError {
	first := *e
	first.More = nil
	return append([]*FieldError{&first}, e.More...)
}

// Text is the message with every field in braces named by name: a CLI flag, say.
// With More, every problem's message, the first first, joined by "; ".
func (e *FieldError) Text(name func(field string) string) string {
	msgs := []string{e.text(name)}
	for _, f := range e.More {
		msgs = append(msgs, f.text(name))
	}
	return strings.Join(msgs, "; ")
}

// text is Text of this problem alone.
func (e *FieldError) text(name func(field string) string) string {
	var b strings.Builder
	rest := e.Problem
	for {
		i := strings.IndexByte(rest, '{')
		j := strings.IndexByte(rest, '}')
		if i < 0 || j < i {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		b.WriteString(strings.ReplaceAll(name(rest[i+1:j]), "%", "%%"))
		rest = rest[j+1:]
	}
	return fmt.Sprintf(b.String(), e.Args...)
}

// ValidateRedirectURI applies the registration rules (RFC 6749 §3.1.2, SECURITY S4):
// absolute, no fragment, no wildcard, no userinfo, not javascript:/data:/file:, a port
// (if any) of 1 to 65535 without leading zeros, and plain http only on loopback
// (127.0.0.1, [::1] or localhost). Private-use schemes for native apps
// (com.example.app:/cb) are allowed. The error is a *FieldError of redirect_uris.
func ValidateRedirectURI(raw string) error {
	if err := validateRedirectURI("redirect_uris", "redirect URI", raw); err != nil {
		return err
	}
	return nil
}

func validateRedirectURI(field, what, raw string) *FieldError {
	bad := func(problem string) *FieldError { return fieldError(field, what+" %q"+problem, raw) }
	if raw == "" || len(raw) > 2000 {
		return fieldError(field, what+" must be 1 to 2000 characters")
	}
	if strings.ContainsAny(raw, "*#\\") || strings.IndexFunc(raw, isSpaceOrControl) >= 0 {
		return bad(" must not contain a fragment, wildcard, backslash or whitespace")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad(" is not a valid URI")
	}
	if !u.IsAbs() {
		return bad(" must be absolute")
	}
	switch strings.ToLower(u.Scheme) {
	case "javascript", "data", "file", "vbscript", "about", "blob":
		return bad(" uses a forbidden scheme")
	case "https":
		if u.Host == "" {
			return bad(" has no host")
		}
	case "http":
		h := u.Hostname()
		if h != "localhost" && !isLoopbackIPLiteral(u.Host) {
			return bad(": plain http is allowed only on loopback; use https")
		}
	default:
		// A private-use URI scheme for a native app (RFC 8252 §7.1) must contain a dot.
		if !strings.Contains(u.Scheme, ".") {
			return bad(": a custom scheme must be reverse-domain (com.example.app)")
		}
	}
	if u.User != nil {
		return bad(" must not contain user information")
	}
	if port, ok := hostPort(u.Host); ok && !validPort(port) {
		return bad(": the port must be 1 to 65535 without leading zeros (no colon for none)")
	}
	// url.Parse lowers the scheme; look at the raw text, since the match is exact.
	if scheme, _, _ := strings.Cut(raw, ":"); scheme != strings.ToLower(scheme) {
		return bad(": the scheme must be lower case")
	}
	return nil
}

// isSpaceOrControl: any Unicode white space (U+00A0 and U+2028 too, which url.Parse
// lets through in a path) or control character.
func isSpaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// ValidateClient checks a client before it is stored. The error is a *FieldError.
func ValidateClient(c Client) error {
	if err := validateClient(c); err != nil {
		return err
	}
	return nil
}

// validateClient runs every check of c, each about fields of its own and returning
// its first problem, and returns the first problem found with the others in More;
// nil when c is valid. The problems come in the order of the checks.
func validateClient(c Client) *FieldError {
	var first *FieldError
	for _, check := range []func(Client) *FieldError{
		validateClientName, validateGrantTypes, validateRedirectURIs, validatePostLogoutRedirectURIs,
		validateClientScopes, validateAudiences, validateClientAuth, validateClientBackchannel,
		validateClientPKCE, validateIDTokenAlg,
	} {
		switch e := check(c); {
		case e == nil:
		case first == nil:
			first = e
		default:
			first.More = append(first.More, e)
		}
	}
	return first
}

func validateClientName(c Client) *FieldError {
	if strings.TrimSpace(c.Name) == "" || len(c.Name) > 200 {
		return fieldError("client_name", "client name must be 1 to 200 characters")
	}
	return nil
}

func validateGrantTypes(c Client) *FieldError {
	for _, g := range c.GrantTypes {
		if !slices.Contains(KnownGrantTypes, g) {
			return fieldError("grant_types", "unknown grant type %q; use one of %s", g, strings.Join(KnownGrantTypes, ", "))
		}
	}
	if len(c.GrantTypes) == 0 {
		return fieldError("grant_types", "a client needs at least one grant type")
	}
	if c.Public && c.AllowsGrant(GrantClientCredentials) {
		return fieldError("grant_types", "a public client cannot use client_credentials")
	}
	if c.Public && c.AllowsGrant(GrantTokenExchange) {
		return fieldError("grant_types", "a public client cannot use token exchange")
	}
	// RFC 9700 §2.4: the password grant must not be used at all; Gatehouse keeps it
	// for a confidential client the operator trusts with users' passwords. A public
	// client is any program that knows its id: with the grant it could try passwords
	// on any user's behalf, and no secret would tell it from an attacker.
	if c.Public && c.AllowsGrant(GrantPassword) {
		return fieldError("grant_types", "a public client cannot use the password grant (RFC 9700 §2.4); use the authorization code flow with PKCE, or the device flow")
	}
	return nil
}

func validateRedirectURIs(c Client) *FieldError {
	if c.AllowsGrant(GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		return fieldError("redirect_uris", "the authorization_code grant needs at least one redirect URI")
	}
	for _, r := range c.RedirectURIs {
		if err := validateRedirectURI("redirect_uris", "redirect URI", r); err != nil {
			return err
		}
	}
	return nil
}

func validatePostLogoutRedirectURIs(c Client) *FieldError {
	for _, r := range c.PostLogoutRedirectURIs {
		if err := validateRedirectURI("post_logout_redirect_uris", "post-logout redirect URI", r); err != nil {
			return err
		}
	}
	return nil
}

func validateClientScopes(c Client) *FieldError {
	for _, s := range c.Scopes {
		if !ValidScopeToken(s) {
			return fieldError("scope", "scope %q is not a valid scope token", s)
		}
	}
	// A client must be able to ask for all its scopes in one scope parameter.
	if len(c.Scopes) > MaxScopeTokens || len(ScopeString(c.Scopes)) > MaxParamBytes {
		return fieldError("scope", "a client may have at most %d scopes, %d bytes together", MaxScopeTokens, MaxParamBytes)
	}
	return nil
}

func validateAudiences(c Client) *FieldError {
	for _, a := range c.Audiences {
		// What the client then asks for as resource (RFC 8707 §2), and gets as aud.
		if checkResourceURI(a) != nil {
			return fieldError("audience", "audience %q must be an absolute URI without fragment", a)
		}
	}
	return nil
}

func validateClientBackchannel(c Client) *FieldError {
	if c.BackchannelLogoutURI != "" {
		return validateBackchannelLogoutURI(c.BackchannelLogoutURI)
	}
	return nil
}

func validateClientPKCE(c Client) *FieldError {
	if c.Public && c.PKCEOptional {
		return fieldError("require_pkce", "{require_pkce} false is only for a confidential client; a public client must use PKCE (RFC 9700 §2.1.1)")
	}
	return nil
}

func validateIDTokenAlg(c Client) *FieldError {
	switch c.IDTokenAlg {
	case "", AlgRS256, AlgES256, AlgEdDSA:
		return nil
	}
	return fieldError("id_token_signed_response_alg", "{id_token_signed_response_alg} %q is not one of RS256, ES256, EdDSA", c.IDTokenAlg)
}

// AuthPrivateKeyJWT is the private_key_jwt client authentication method (OpenID
// Connect Core §9, RFC 7523 §2.2): a JWT signed with a key the client holds.
const AuthPrivateKeyJWT = "private_key_jwt"

// UsesPrivateKeyJWT reports whether the client authenticates with private_key_jwt.
func (c Client) UsesPrivateKeyJWT() bool { return c.TokenEndpointAuthMethod == AuthPrivateKeyJWT }

// validateClientAuth checks the authentication method and the keys it needs. The
// JWKS itself (key material) is checked by the adapter that reads it.
func validateClientAuth(c Client) *FieldError {
	switch c.TokenEndpointAuthMethod {
	case "":
		if c.JWKS != "" || c.JWKSURI != "" {
			return fieldError("token_endpoint_auth_method", "{jwks} and {jwks_uri} are for {token_endpoint_auth_method} private_key_jwt")
		}
		return nil
	case AuthPrivateKeyJWT:
	default:
		return fieldError("token_endpoint_auth_method",
			"{token_endpoint_auth_method} %q is not private_key_jwt (leave it out for a client secret)", c.TokenEndpointAuthMethod)
	}
	if c.Public {
		return fieldError("token_endpoint_auth_method", "a public client cannot use private_key_jwt")
	}
	if (c.JWKS == "") == (c.JWKSURI == "") {
		return fieldError("jwks", "private_key_jwt needs exactly one of {jwks} and {jwks_uri}")
	}
	if c.JWKSURI != "" {
		return validateJWKSURI(c.JWKSURI)
	}
	if len(c.JWKS) > 64<<10 || !utf8.ValidString(c.JWKS) || strings.ContainsRune(c.JWKS, 0) {
		return fieldError("jwks", "the JWK Set must be UTF-8 text of at most 64 KiB")
	}
	return nil
}

// ValidateJWKSURI accepts https URLs, and plain http only to a loopback IP literal
// (tests, a key server beside Gatehouse). The URL is supplied by an administrator,
// and Gatehouse fetches it: it must not carry credentials or a fragment. The error is
// a *FieldError of jwks_uri.
func ValidateJWKSURI(raw string) error {
	if err := validateJWKSURI(raw); err != nil {
		return err
	}
	return nil
}

func validateJWKSURI(raw string) *FieldError {
	if len(raw) > 2000 || strings.IndexFunc(raw, isSpaceOrControl) >= 0 {
		return fieldError("jwks_uri", "{jwks_uri} %q is not a valid URL", raw)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fieldError("jwks_uri", "{jwks_uri} %q must be an absolute URL without user information or fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackIPLiteral(u.Host) {
			return nil
		}
	}
	return fieldError("jwks_uri", "{jwks_uri} %q must use https (plain http only to 127.0.0.1 or [::1])", raw)
}

// validateBackchannelLogoutURI: an absolute http(s) URL without fragment or user
// information (Back-Channel Logout 1.0 §2.2), at most 2000 characters. Plain http is
// allowed: relying parties often take logout tokens inside their own network, and the
// token is signed.
func validateBackchannelLogoutURI(raw string) *FieldError {
	u, err := url.Parse(raw)
	switch {
	case len(raw) > 2000 || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return fieldError("backchannel_logout_uri", "{backchannel_logout_uri} %q must be an absolute http or https URL", raw)
	case u.Fragment != "" || strings.Contains(raw, "#") || u.User != nil:
		return fieldError("backchannel_logout_uri", "{backchannel_logout_uri} %q must have no fragment and no user information", raw)
	}
	return nil
}
