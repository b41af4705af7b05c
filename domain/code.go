package domain

import "time"

// AuthorizationCode is an issued code (RFC 6749 §4.1.2). Only the hash of the code is
// stored; the code itself is shown once, in the redirect.
type AuthorizationCode struct {
	Hash          []byte
	ClientID      string
	UserID        string
	RedirectURI   string
	Scope         []string
	Audience      []string
	CodeChallenge string // S256 challenge, or empty
	Nonce         string
	AuthTime      time.Time
	// AMR are the authentication methods of the session the code was issued in.
	AMR       []string
	SessionID string
	// Claims is the claims request of the authorization request (OpenID Connect Core
	// §5.5), carried to the tokens.
	Claims ClaimsRequest
	// FamilyID names the token family the code's redemption starts, so that a second
	// redemption can revoke everything the first one issued (RFC 6749 §4.1.2).
	FamilyID  string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// MaxAuthCodeTTL caps the code lifetime whatever the configuration says (RFC 6749 §4.1.2).
const MaxAuthCodeTTL = 10 * time.Minute

// Expired reports whether the code can no longer be redeemed at now.
func (c AuthorizationCode) Expired(now time.Time) bool { return !now.Before(c.ExpiresAt) }

// ExchangeError says why a token request may not exchange the code, nil when it may
// (RFC 6749 §4.1.3, RFC 7636 §4.6): the client that presents it, the redirect_uri
// and the code_verifier it sent, at now. It checks, in this order, that the code is
// the client's, unexpired, for the redirect URI of the authorization request
// (absent when that request named none), and that the verifier matches the
// challenge: none when the code was issued without one (RFC 9700 §4.8.2). The
// descriptions say only what the caller sent or was issued, never the code's
// bindings (the other client, the registered URI).
//
// The code grant applies it to the code as the store read it, inside the transaction
// that consumes the code (usecase.CodeStore.RedeemCode); a failed exchange has
// consumed the code all the same (SECURITY S12).
func (c AuthorizationCode) ExchangeError(clientID, redirectURI, verifier string, now time.Time) *Error {
	switch {
	case c.ClientID != clientID:
		return ErrInvalidGrant.WithDescription("the authorization code was issued to another client")
	case c.Expired(now):
		return ErrInvalidGrant.WithDescription("the authorization code has expired")
	case c.RedirectURI != "" && redirectURI == "":
		return ErrInvalidGrant.WithDescription("redirect_uri is missing; the authorization request named one, and it must be sent again")
	case c.RedirectURI == "" && redirectURI != "":
		return ErrInvalidGrant.WithDescription("redirect_uri was not in the authorization request; leave it out here too")
	case c.RedirectURI != redirectURI:
		return ErrInvalidGrant.WithDescription("redirect_uri differs from the one in the authorization request")
	case verifier != "" && !ValidCodeVerifier(verifier):
		return ErrInvalidGrant.WithDescription("code_verifier must be 43 to 128 unreserved characters")
	case c.CodeChallenge != "" && verifier == "":
		return ErrInvalidGrant.WithDescription("code_verifier is missing; the code was issued with a code_challenge (PKCE)")
	case c.CodeChallenge == "" && verifier != "":
		// A verifier for a code issued without a challenge: a downgrade (RFC 9700 §4.8.2).
		return ErrInvalidGrant.WithDescription("code_verifier sent for a code issued without a code_challenge")
	case c.CodeChallenge != "" && !VerifyPKCE(c.CodeChallenge, verifier):
		return ErrInvalidGrant.WithDescription("code_verifier does not match the code_challenge")
	}
	return nil
}
