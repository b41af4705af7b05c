package token

import (
	"strconv"
	"unicode/utf8"

	"gatehouse/domain"
)

// The signer writes claims with these appenders instead of encoding/json: the
// claim set is fixed, and building it in place saves the reflection and the
// intermediate maps on every token request.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string (RFC 8259 §7). Invalid UTF-8 becomes
// U+FFFD, as encoding/json does; U+2028 and U+2029 are escaped for JavaScript.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped appends the escaped contents of the JSON string s, without quotes.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// appendStringMember appends ,"name":"value" (name must need no escaping).
func appendStringMember(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendIntMember appends ,"name":n.
func appendIntMember(b []byte, name string, n int64) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, n, 10)
}

// appendAudience appends ,"aud":… as a string for one audience and an array for
// several (RFC 7519 §4.1.3 allows both; a single string is what most verifiers
// expect).
func appendAudience(b []byte, aud []string) []byte {
	if len(aud) == 1 {
		return appendStringMember(b, "aud", aud[0])
	}
	b = append(b, `,"aud":[`...)
	for i, a := range aud {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, a)
	}
	return append(b, ']')
}

// appendStringsMember appends ,"name":[…] (name must need no escaping).
func appendStringsMember(b []byte, name string, values []string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':', '[')
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v)
	}
	return append(b, ']')
}

// appendBoolMember appends ,"name":true or false.
func appendBoolMember(b []byte, name string, v bool) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendBool(b, v)
}

// appendUserClaims appends the claims of c that are set (OpenID Connect Core §5.1).
func appendUserClaims(b []byte, c *domain.UserClaims) []byte {
	for _, m := range [...]struct {
		name, value string
	}{
		{"name", c.Name}, {"given_name", c.GivenName}, {"family_name", c.FamilyName},
		{"preferred_username", c.PreferredUsername}, {"picture", c.Picture}, {"locale", c.Locale},
		{"zoneinfo", c.Zoneinfo}, {"email", c.Email}, {"phone_number", c.PhoneNumber},
	} {
		if m.value != "" {
			b = appendStringMember(b, m.name, m.value)
		}
	}
	if c.EmailVerified != nil {
		b = appendBoolMember(b, "email_verified", *c.EmailVerified)
	}
	if c.PhoneNumberVerified != nil {
		b = appendBoolMember(b, "phone_number_verified", *c.PhoneNumberVerified)
	}
	if !c.UpdatedAt.IsZero() {
		b = appendIntMember(b, "updated_at", c.UpdatedAt.Unix())
	}
	if c.Groups != nil {
		b = appendStringsMember(b, "groups", c.Groups)
	}
	return b
}
