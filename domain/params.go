package domain

// Request parameter bounds. Every parameter a client or browser sends — form fields of
// the token, revocation, introspection, device authorization and PAR endpoints and of
// the pages, the authorization request's query, the members of a registration — is
// held to its limit before anything is done with it (no parsing, hashing or lookup),
// and a longer value is refused, never truncated (a truncated state would not come back
// byte for byte). The limits are in bytes of the decoded value.
const (
	// MaxParamBytes bounds every parameter not named below. 4 KiB holds with room to
	// spare the longest values of this kind that clients send: a redirect URI
	// (registration allows 2,000 characters), a state into which a client packs its own
	// data, a scope of MaxScopeTokens tokens of 60 characters, a password
	// (MaxPasswordLength characters of up to 4 bytes: 512). The authorization
	// endpoint has used it for years without a complaint; a browser sends its query in
	// the request line, where every server caps it at a few KiB anyway.
	MaxParamBytes = 4096
	// MaxNonceBytes bounds the OpenID Connect nonce, which is copied into the code, the
	// refresh token and every ID token of the grant: 2 KiB, far above the 22 to 64
	// characters clients use.
	MaxNonceBytes = 2048
	// MaxTokenParamBytes bounds the parameters that carry a whole token or JWT: a
	// client assertion (RFC 7523), a subject or actor token (RFC 8693), the token of a
	// revocation or introspection, an id_token_hint, a request object, a software
	// statement. Our access tokens take a few hundred bytes to a few KiB (their scope
	// is at most MaxParamBytes, see ValidateClient; a DPoP cnf claim and a short act
	// chain add little), an assertion signed with RSA-4096 and carrying an x5c
	// certificate about 5 KiB: 16 KiB leaves room for both, and is a quarter of a form
	// body (64 KiB).
	MaxTokenParamBytes = 16 << 10
	// MaxResourceParams bounds how many resource parameters (RFC 8707, the only one that
	// may repeat) a request may carry: each becomes an audience of the token, and a
	// client registers a handful.
	MaxResourceParams = 32
)

// tokenParams are the parameters that carry a whole token (MaxTokenParamBytes).
var tokenParams = map[string]bool{
	"client_assertion": true, "subject_token": true, "actor_token": true, "token": true,
	"id_token_hint": true, "request": true, "software_statement": true,
	// A passkey page's answer (WebAuthn credential JSON) and its sealed ceremony.
	"credential": true, "webauthn_state": true,
}

// ParamLimit is the most bytes parameter name may hold.
func ParamLimit(name string) int {
	switch {
	case tokenParams[name]:
		return MaxTokenParamBytes
	case name == "nonce":
		return MaxNonceBytes
	}
	return MaxParamBytes
}

// CheckParam refuses a value of parameter name longer than ParamLimit(name), with an
// invalid_request that names the parameter.
func CheckParam(name, value string) *Error {
	if limit := ParamLimit(name); len(value) > limit {
		return ErrInvalidRequest.WithDescription("parameter %s is too long (at most %d bytes)", shortName(name), limit)
	}
	return nil
}

// CheckResourceCount refuses more than MaxResourceParams resource parameters, with an
// invalid_request (the request's shape is wrong, whatever its resources).
func CheckResourceCount(n int) *Error {
	if n > MaxResourceParams {
		return ErrInvalidRequest.WithDescription("too many resource parameters (at most %d)", MaxResourceParams)
	}
	return nil
}

// shortName makes a parameter name, which the caller chose, fit for a description:
// at most 40 bytes, and only the characters RFC 6749 §5.2 allows there.
func shortName(name string) string {
	b := []byte(name)
	if len(b) > 40 {
		b = b[:40]
	}
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = '?'
		}
	}
	if len(name) > 40 {
		return string(b) + "..."
	}
	return string(b)
}
