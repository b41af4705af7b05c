package domain

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// Scopes that ask for claims besides openid, profile and email (OpenID Connect Core
// §5.4; groups is the de facto scope of Keycloak, Dex and oauth2-proxy).
const (
	ScopePhone  = "phone"
	ScopeGroups = "groups"
)

// ClaimSet is a set of the standard user claims Gatehouse emits, one bit each: the
// minter and userinfo test membership without allocating, and a set of a claims
// request (Core §5.5) is stored and carried as its names.
type ClaimSet uint32

// The claims of ClaimSet. The order of claimNames is theirs; a set is only ever
// written out as names, so bits may be added anywhere.
const (
	ClaimName ClaimSet = 1 << iota
	ClaimGivenName
	ClaimFamilyName
	ClaimPreferredUsername
	ClaimPicture
	ClaimLocale
	ClaimZoneinfo
	ClaimUpdatedAt
	ClaimEmail
	ClaimEmailVerified
	ClaimPhoneNumber
	ClaimPhoneNumberVerified
	ClaimGroups
)

var claimNames = [...]string{
	"name", "given_name", "family_name", "preferred_username", "picture", "locale", "zoneinfo", "updated_at",
	"email", "email_verified", "phone_number", "phone_number_verified", "groups",
}

// Claims of each scope (Core §5.4; groups: its one claim).
const (
	ProfileClaims = ClaimName | ClaimGivenName | ClaimFamilyName | ClaimPreferredUsername | ClaimPicture |
		ClaimLocale | ClaimZoneinfo | ClaimUpdatedAt
	EmailClaims  = ClaimEmail | ClaimEmailVerified
	PhoneClaims  = ClaimPhoneNumber | ClaimPhoneNumberVerified
	GroupsClaims = ClaimGroups
)

// UserClaimNames lists every user claim Gatehouse emits (for discovery's
// claims_supported).
func UserClaimNames() []string { return append([]string(nil), claimNames[:]...) }

// claimByName is the claim named n; 0 for a name Gatehouse does not emit.
func claimByName(n string) ClaimSet {
	for i, name := range claimNames {
		if name == n {
			return 1 << i
		}
	}
	return 0
}

// Has reports whether every claim of c is in s.
func (s ClaimSet) Has(c ClaimSet) bool { return s&c == c }

// Names are the names of the claims of s, in a fixed order.
func (s ClaimSet) Names() []string {
	var out []string
	for i, name := range claimNames {
		if s&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return out
}

// String is the names of s separated by single spaces ("" for none).
func (s ClaimSet) String() string { return strings.Join(s.Names(), " ") }

// ParseClaimNames reads names separated by spaces (String's output); unknown names
// are left out.
func ParseClaimNames(s string) ClaimSet {
	var out ClaimSet
	for _, f := range strings.Fields(s) {
		out |= claimByName(f)
	}
	return out
}

// ScopeClaims are the claims a scope grants.
func ScopeClaims(scope []string) ClaimSet {
	var out ClaimSet
	for _, sc := range scope {
		out |= scopeClaims(sc)
	}
	return out
}

func scopeClaims(sc string) ClaimSet {
	switch sc {
	case ScopeProfile:
		return ProfileClaims
	case ScopeEmail:
		return EmailClaims
	case ScopePhone:
		return PhoneClaims
	case ScopeGroups:
		return GroupsClaims
	}
	return 0
}

// ClaimScopes are the scopes whose claims s holds (some of them at least): what a
// user consents to when a client asks for s by name.
func (s ClaimSet) Scopes() []string {
	var out []string
	for _, sc := range []string{ScopeProfile, ScopeEmail, ScopePhone, ScopeGroups} {
		if s&scopeClaims(sc) != 0 {
			out = append(out, sc)
		}
	}
	return out
}

// ClaimsRequest is the OpenID Connect claims request parameter (Core §5.5) as
// Gatehouse honours it: the standard claims asked for by name, for the ID token and
// for userinfo. essential, value and values are accepted and not acted on (§5.5.1
// lets a provider return a claim whatever they say); claims Gatehouse does not emit
// are left out. The one exception is an essential acr (§5.5.1.1): ACR holds the
// authentication context classes it accepts (space-separated, those Gatehouse knows),
// and the sign-in must reach one of them (SECURITY S53); acr_values adds to it.
type ClaimsRequest struct {
	IDToken  ClaimSet
	UserInfo ClaimSet
	ACR      string
	// unmetACR: an essential acr named values, none of them a class Gatehouse knows.
	unmetACR bool
}

// UnmetACR reports whether r asks, as essential, only for acr values no sign-in here
// reaches: OpenID Connect Core §5.5.1.1 has that treated as a failed authentication,
// never answered with another class.
func (r ClaimsRequest) UnmetACR() bool { return r.unmetACR }

// IsZero reports whether r asks for nothing.
func (r ClaimsRequest) IsZero() bool { return r.IDToken == 0 && r.UserInfo == 0 && r.ACR == "" }

// Within is r without the claims that allowed does not hold.
func (r ClaimsRequest) Within(allowed ClaimSet) ClaimsRequest {
	return ClaimsRequest{IDToken: r.IDToken & allowed, UserInfo: r.UserInfo & allowed, ACR: r.ACR, unmetACR: r.unmetACR}
}

// Scopes are the scopes of the claims r asks for (ClaimSet.Scopes).
func (r ClaimsRequest) Scopes() []string { return (r.IDToken | r.UserInfo).Scopes() }

var errClaimsParam = ErrInvalidRequest.WithDescription(
	`claims must be a JSON object like {"id_token":{"email":null},"userinfo":{"name":{"essential":true}}} (OpenID Connect Core 5.5)`)

// ParseClaimsRequest reads the claims request parameter, "" meaning absent. JSON
// that is not a claims request (not an object; id_token or userinfo not an object;
// a claim's request neither null nor an object; essential not a boolean; values
// not an array) is invalid_request. Members other than id_token and userinfo are
// ignored, as Core §5.5 asks.
func ParseClaimsRequest(raw string) (ClaimsRequest, error) {
	if raw == "" {
		return ClaimsRequest{}, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &top); err != nil || top == nil {
		return ClaimsRequest{}, errClaimsParam
	}
	var out ClaimsRequest
	var acr []string
	for _, m := range []struct {
		name string
		dst  *ClaimSet
	}{{"id_token", &out.IDToken}, {"userinfo", &out.UserInfo}} {
		v, ok := top[m.name]
		if !ok || isNull(v) {
			continue
		}
		set, values, err := parseClaimsMember(v)
		if err != nil {
			return ClaimsRequest{}, err
		}
		*m.dst = set
		acr = append(acr, values...)
	}
	out.ACR = KnownACRs(acr)
	out.unmetACR = len(acr) > 0 && out.ACR == ""
	return out, nil
}

// parseClaimsMember reads the object of id_token or userinfo, and the values of an
// essential acr in it.
func parseClaimsMember(v json.RawMessage) (ClaimSet, []string, error) {
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(v, &claims); err != nil || claims == nil {
		return 0, nil, errClaimsParam
	}
	var set ClaimSet
	var acr []string
	for name, spec := range claims {
		if !isNull(spec) {
			var s struct {
				Essential *json.RawMessage `json:"essential"`
				Value     *json.RawMessage `json:"value"`
				Values    *json.RawMessage `json:"values"`
			}
			if err := json.Unmarshal(spec, &s); err != nil {
				return 0, nil, errClaimsParam
			}
			var essential bool
			var values []json.RawMessage
			if s.Essential != nil && !isNull(*s.Essential) && json.Unmarshal(*s.Essential, &essential) != nil {
				return 0, nil, errClaimsParam
			}
			if s.Values != nil && !isNull(*s.Values) && json.Unmarshal(*s.Values, &values) != nil {
				return 0, nil, errClaimsParam
			}
			if name == "acr" && essential {
				if s.Value != nil {
					values = append(values, *s.Value)
				}
				for _, raw := range values {
					var v string
					if json.Unmarshal(raw, &v) == nil {
						acr = append(acr, v)
					}
				}
			}
		}
		set |= claimByName(name)
	}
	return set, acr, nil
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// Encode writes r as a claims request parameter in a normal form,
// {"id_token":{"email":null},"userinfo":{"name":null}}, to be stored with the
// requests, codes and refresh tokens of a grant and read back by
// ParseClaimsRequest; "" when r asks for nothing.
func (r ClaimsRequest) Encode() string {
	if r.IsZero() {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	member := func(name string, set ClaimSet, acr string) {
		if set == 0 && acr == "" {
			return
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + name + `":{`)
		for i, n := range set.Names() {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + n + `":null`)
		}
		if acr != "" {
			if set != 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"acr":{"essential":true,"values":[`)
			for i, v := range strings.Fields(acr) {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`"` + v + `"`) // known values only: no escaping needed
			}
			b.WriteString(`]}`)
		}
		b.WriteByte('}')
	}
	member("id_token", r.IDToken, r.ACR)
	member("userinfo", r.UserInfo, "")
	b.WriteByte('}')
	return b.String()
}

// UserClaims are the claims about a user that go into an ID token or a userinfo
// answer: only those asked for and set. A nil pointer or an empty string is a claim
// left out; Groups is left out when nil and is an array, empty or not, otherwise.
type UserClaims struct {
	Name                string
	GivenName           string
	FamilyName          string
	PreferredUsername   string
	Picture             string
	Locale              string
	Zoneinfo            string
	UpdatedAt           time.Time // zero: left out
	Email               string
	EmailVerified       *bool
	PhoneNumber         string
	PhoneNumberVerified *bool
	Groups              []string
}

// noGroups is the groups claim of a user in none: an empty array, not a missing claim.
var noGroups = []string{}

// Claims are the claims of set that u has. email_verified and
// phone_number_verified come only with the email or phone number they speak of.
func (u User) Claims(set ClaimSet) UserClaims {
	if set == 0 {
		return UserClaims{}
	}
	var c UserClaims
	str := func(claim ClaimSet, dst *string, v string) {
		if set&claim != 0 {
			*dst = v
		}
	}
	str(ClaimName, &c.Name, u.Name)
	str(ClaimGivenName, &c.GivenName, u.GivenName)
	str(ClaimFamilyName, &c.FamilyName, u.FamilyName)
	str(ClaimPreferredUsername, &c.PreferredUsername, u.Username)
	str(ClaimPicture, &c.Picture, u.Picture)
	str(ClaimLocale, &c.Locale, u.Locale)
	str(ClaimZoneinfo, &c.Zoneinfo, u.Zoneinfo)
	str(ClaimEmail, &c.Email, u.ShownEmail())
	str(ClaimPhoneNumber, &c.PhoneNumber, u.PhoneNumber)
	if set&ClaimUpdatedAt != 0 {
		c.UpdatedAt = u.UpdatedAt
	}
	if set&ClaimEmailVerified != 0 && u.ShownEmail() != "" {
		v := u.EmailVerified && u.Email != ""
		c.EmailVerified = &v
	}
	if set&ClaimPhoneNumberVerified != 0 && u.PhoneNumber != "" {
		v := u.PhoneNumberVerified
		c.PhoneNumberVerified = &v
	}
	if set&ClaimGroups != 0 {
		c.Groups = u.Groups
		if c.Groups == nil {
			c.Groups = noGroups
		}
	}
	return c
}
