package domain

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// PKCE (RFC 7636). Only S256 is accepted (RFC 9700 §2.1.1).
const PKCEMethodS256 = "S256"

func isUnreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// ValidCodeChallenge: an S256 challenge is exactly 43 base64url characters.
func ValidCodeChallenge(ch string) bool {
	if len(ch) != 43 {
		return false
	}
	for i := 0; i < len(ch); i++ {
		c := ch[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidCodeVerifier: 43 to 128 unreserved characters (RFC 7636 §4.1).
func ValidCodeVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !isUnreserved(v[i]) {
			return false
		}
	}
	return true
}

// VerifyPKCE checks a verifier against an S256 challenge in constant time.
func VerifyPKCE(challenge, verifier string) bool {
	if !ValidCodeVerifier(verifier) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(PKCEChallenge(verifier)), []byte(challenge)) == 1
}

// PKCEChallenge is the S256 code_challenge of verifier: BASE64URL(SHA256(verifier)).
func PKCEChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
