package domain

import (
	"slices"
	"strings"
)

// Authentication context classes (OpenID Connect acr) and the levels they stand for.
const (
	// ACRPassword: signed in with the password alone.
	ACRPassword = "urn:gatehouse:acr:pwd"
	// ACRMFA: signed in with the password and a second factor.
	ACRMFA = "urn:gatehouse:acr:mfa"
	// ACRPhishingResistant: phishing-resistant (a passkey).
	ACRPhishingResistant = "phr"
)

// ACRValuesSupported are the classes discovery lists.
var ACRValuesSupported = []string{ACRPassword, ACRMFA, ACRPhishingResistant}

// ACRLevel orders the classes: 1 password, 2 second factor, 3 phishing-resistant;
// 0 for a class Gatehouse does not know.
func ACRLevel(acr string) int {
	switch acr {
	case ACRPassword:
		return 1
	case ACRMFA:
		return 2
	case ACRPhishingResistant:
		return 3
	}
	return 0
}

// KnownACRs keeps the classes Gatehouse knows, once each, space-separated.
func KnownACRs(values []string) string {
	var out []string
	for _, v := range values {
		if ACRLevel(v) > 0 && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return strings.Join(out, " ")
}

// RequiredACRLevel is the level a sign-in must reach for r: the lowest among the
// classes it accepts (any of them will do), 0 when it asks for none.
func (r ClaimsRequest) RequiredACRLevel() int {
	level := 0
	for _, v := range strings.Fields(r.ACR) {
		if l := ACRLevel(v); level == 0 || l < level {
			level = l
		}
	}
	return level
}

// WithACRValues makes the classes of an acr_values parameter those r accepts, unless
// an essential acr claim named some already (it then decides).
func (r ClaimsRequest) WithACRValues(acrValues string) ClaimsRequest {
	if r.ACR == "" {
		r.ACR = KnownACRs(strings.Fields(acrValues))
	}
	return r
}

// SessionACR is the class of a sign-in by the methods amr (RFC 8176).
func SessionACR(amr []string) string {
	if slices.Contains(amr, "hwk") {
		// A passkey: bound to the origin, so phishing-resistant.
		return ACRPhishingResistant
	}
	if slices.Contains(amr, "mfa") {
		return ACRMFA
	}
	return ACRPassword
}
