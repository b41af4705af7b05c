package httpapi

import (
	"encoding/json"
	"strconv"
)

// appendJSON appends r as encoding/json (behind echo's c.JSON) encodes it, byte for
// byte, newline included: the token endpoint answers on every request, and the
// reflection-driven encoder cost more than building the few fields by hand.
func (r *tokenResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"access_token":`...)
	b = appendJSONString(b, r.AccessToken)
	b = append(b, `,"token_type":`...)
	b = appendJSONString(b, r.TokenType)
	b = append(b, `,"expires_in":`...)
	b = strconv.AppendInt(b, r.ExpiresIn, 10)
	for _, f := range [...]struct{ name, value string }{
		{`,"refresh_token":`, r.RefreshToken}, {`,"id_token":`, r.IDToken}, {`,"scope":`, r.Scope},
		{`,"issued_token_type":`, r.IssuedTokenType},
	} {
		if f.value != "" { // omitempty
			b = append(b, f.name...)
			b = appendJSONString(b, f.value)
		}
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string the way encoding/json writes it with
// HTML escaping on. Tokens and scopes are plain printable ASCII and are copied; any
// other string is left to encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			if err != nil { // a string always marshals
				panic(err)
			}
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSON appends r as encoding/json encodes it, byte for byte, newline included,
// for the same reason as the token answer: resource servers introspect on every call.
func (r *introspectionResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"active":`...)
	b = strconv.AppendBool(b, r.Active)
	for _, f := range [...]struct{ name, value string }{
		{`,"scope":`, r.Scope}, {`,"client_id":`, r.ClientID}, {`,"sub":`, r.Sub},
	} {
		if f.value != "" {
			b = append(b, f.name...)
			b = appendJSONString(b, f.value)
		}
	}
	if len(r.Aud) > 0 {
		b = append(b, `,"aud":[`...)
		for i, a := range r.Aud {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, a)
		}
		b = append(b, ']')
	}
	if r.Iss != "" {
		b = append(b, `,"iss":`...)
		b = appendJSONString(b, r.Iss)
	}
	for _, f := range [...]struct {
		name  string
		value int64
	}{{`,"exp":`, r.Exp}, {`,"iat":`, r.Iat}} {
		if f.value != 0 {
			b = append(b, f.name...)
			b = strconv.AppendInt(b, f.value, 10)
		}
	}
	for _, f := range [...]struct{ name, value string }{
		{`,"jti":`, r.JTI}, {`,"token_type":`, r.TokenType}, {`,"token_use":`, r.TokenUse},
	} {
		if f.value != "" {
			b = append(b, f.name...)
			b = appendJSONString(b, f.value)
		}
	}
	if r.Cnf != nil {
		b = append(b, `,"cnf":{"jkt":`...)
		b = appendJSONString(b, r.Cnf.JKT)
		b = append(b, '}')
	}
	return append(b, "}\n"...)
}
