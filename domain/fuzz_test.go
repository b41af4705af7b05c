package domain

// Fuzz targets for the pure parsing rules (run by `make fuzz`; plain `go test` runs
// the seeds below and those in testdata/fuzz/<FuzzName>/ as regression tests).

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// FuzzParseScope: ParseScope never panics; what it returns are valid, unique scope
// tokens, each a space-separated field of the input, in input order; joining them
// parses back to the same list; and it refuses only input that has a malformed
// token or too many tokens (a repeated one counting each time).
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{
		"", " ", "openid", "openid profile email offline_access", "openid  profile openid",
		"api:read api:write", " leading", "trailing ", "a\"b", "a\\b", "caf\u00e9", "a\tb",
		"a\nb", "!#[]~", strings.Repeat("x", 256), strings.Repeat("x", 257),
		strings.Repeat("a ", 64), strings.Repeat("a ", 65), "\x00", "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseScope(s)
		fields := strings.Split(s, " ")
		if err != nil {
			if !errorIsCode(err, ErrInvalidScope) {
				t.Fatalf("ParseScope(%q): error %v is not invalid_scope", s, err)
			}
			// Refused: some field must be malformed, or there are too many tokens
			// (a repeated one counting each time).
			n := 0
			for _, fl := range fields {
				if fl == "" {
					continue
				}
				if !ValidScopeToken(fl) {
					return
				}
				n++
			}
			if n <= MaxScopeTokens {
				t.Fatalf("ParseScope(%q) refused well-formed input: %v", s, err)
			}
			return
		}
		if len(got) > MaxScopeTokens {
			t.Fatalf("ParseScope(%q): %d tokens", s, len(got))
		}
		last := -1
		for i, tok := range got {
			if !ValidScopeToken(tok) {
				t.Fatalf("ParseScope(%q)[%d] = %q is not a scope token", s, i, tok)
			}
			if slices.Index(got, tok) != i {
				t.Fatalf("ParseScope(%q): %q twice", s, tok)
			}
			at := slices.Index(fields, tok)
			if at < 0 {
				t.Fatalf("ParseScope(%q): %q is not in the input", s, tok)
			}
			if at <= last {
				t.Fatalf("ParseScope(%q) = %q: order not kept", s, got)
			}
			last = at
		}
		again, err := ParseScope(ScopeString(got))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("ParseScope(ScopeString(%q)) = %q, %v", got, again, err)
		}
	})
}

func errorIsCode(err error, want *Error) bool {
	e, ok := err.(*Error)
	return ok && e.Code == want.Code
}

// FuzzMatchRedirectURI: MatchRedirectURI never panics, and when it says yes the URI
// is a registered one byte for byte, or both are http loopback IP literals with the
// same host and the same path, query (and fragment) byte for byte, only the port
// differing (SECURITY S1, S2), and the request's port then absent or 1 to 65535
// without leading zeros. What it returns is the request's URI. Every registered URI
// matches itself.
func FuzzMatchRedirectURI(f *testing.F) {
	seeds := [][3]string{
		{"https://app.example.com/cb", "https://app.example.com/q?a=1&b=2", "https://app.example.com/cb"},
		{"https://app.example.com/cb", "", "https://app.example.com/cb/"},
		{"https://app.example.com/cb", "", "https://APP.example.com/cb"},
		{"https://app.example.com/cb", "", "https://app.example.com%2Fcb"},
		{"https://app.example.com/cb", "", "https://evil@app.example.com/cb"},
		{"http://127.0.0.1/loopback", "http://[::1]/v6", "http://127.0.0.1:53111/loopback"},
		{"http://127.0.0.1/loopback", "http://[::1]/v6", "http://[::1]:60000/v6"},
		{"http://127.0.0.1/loopback", "", "http://127.0.0.1:53111/loopback/"},
		{"http://127.0.0.1/loopback", "", "http://127.0.0.1:abc/loopback"},
		{"http://127.0.0.1/loopback", "", "http://user@127.0.0.1:5000/loopback"},
		{"http://127.0.0.1/loopback", "", "HTTP://127.0.0.1:5000/loopback"},
		{"http://127.0.0.1/loopback", "", "http://127.0.0.1:/loopback"},
		{"http://127.0.0.1/loopback", "", "http://127.0.0.1:0/loopback"},
		{"http://127.0.0.1/loopback", "", "http://127.0.0.1:00080/loopback"},
		{"http://127.0.0.1/loopback", "", "http://127.0.0.1:99999/loopback"},
		{"http://127.0.0.1/loopback", "", "http://127.0.0.1:65536/loopback"},
		{"http://127.0.0.1/loopback", "http://[::1]/v6", "http://[::1]:65535/v6"},
		{"http://127.0.0.1/cb?x=1", "", "http://127.0.0.1:8080/cb?x=1"},
		{"http://127.0.0.1/cb?x=1", "", "http://127.0.0.1:8080/cb?x=%31"},
		{"http://127.0.0.1/a%2Fb", "", "http://127.0.0.1:8080/a%2fb"},
		{"http://127.0.0.1/a\"b", "", "http://127.0.0.1:8080/a%22b"},
		{"http://[::1]/cb", "", "http://[0:0::1]:80/cb"},
		{"http://[::1]/cb", "", "http://[::1%25lo]:80/cb"},
		{"http://localhost:8000/local", "", "http://localhost:9000/local"},
		{"com.example.app:/oauth", "", "com.example.app:/oauth"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, reg1, reg2, uri string) {
		c := Client{RedirectURIs: []string{reg1, reg2}}
		for _, r := range c.RedirectURIs {
			if got, ok := c.MatchRedirectURI(r); !ok || got != r {
				t.Fatalf("registered %q does not match itself: %q %v", r, got, ok)
			}
		}
		got, ok := c.MatchRedirectURI(uri)
		if !ok {
			return
		}
		if got != uri {
			t.Fatalf("MatchRedirectURI(%q) returned %q", uri, got)
		}
		if slices.Contains(c.RedirectURIs, uri) {
			return
		}
		host, port, rest, isLoopback := splitLoopback(uri)
		for _, r := range c.RedirectURIs {
			rh, _, rr, ok := splitLoopback(r)
			if isLoopback && ok && rh == host && rr == rest {
				if digits, colon := strings.CutPrefix(port, ":"); colon && !canonicalPort(digits) {
					t.Fatalf("MatchRedirectURI(%q) with %q: accepted the loopback port %q", uri, c.RedirectURIs, port)
				}
				return
			}
		}
		t.Fatalf("MatchRedirectURI(%q) with %q: accepted a URI that differs in more than the loopback port", uri, c.RedirectURIs)
	})
}

// splitLoopback splits an http URI on a loopback IP literal into host, port (with its
// colon, "" for none) and the rest (path, query, fragment), reading the raw text only.
func splitLoopback(s string) (host, port, rest string, ok bool) {
	after, found := strings.CutPrefix(s, "http://")
	if !found {
		return "", "", "", false
	}
	i := strings.IndexAny(after, "/?#")
	if i < 0 {
		i = len(after)
	}
	authority, rest := after[:i], after[i:]
	for _, h := range []string{"127.0.0.1", "[::1]"} {
		if p, found := strings.CutPrefix(authority, h); found {
			if p == "" {
				return h, "", rest, true
			}
			digits, colon := strings.CutPrefix(p, ":")
			if colon && strings.Trim(digits, "0123456789") == "" {
				return h, p, rest, true
			}
		}
	}
	return "", "", "", false
}

// canonicalPort: 1 to 65535 in decimal, written as strconv writes it (no sign, no
// leading zero).
func canonicalPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535 && strconv.Itoa(n) == s
}

// isLocalhost: an http URI whose host is exactly localhost.
func isLocalhost(raw string) bool {
	after, ok := strings.CutPrefix(raw, "http://localhost")
	return ok && (after == "" || strings.ContainsAny(after[:1], ":/?"))
}

// FuzzValidateRedirectURI: ValidateRedirectURI never panics, and a URI it accepts
// holds no fragment, wildcard, backslash, whitespace (any Unicode space) or control
// character, and has no javascript:, data:, vbscript: or file: scheme (SECURITY S4).
// Plain http is accepted only on loopback, and a port only as 1 to 65535 without
// leading zeros (no colon without one).
func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{
		"https://app.example.com/cb", "http://127.0.0.1/cb", "http://[::1]:8080/cb", "http://localhost/cb",
		"com.example.app:/cb", "https://app.example.com/cb?x=1", "", "/relative", "app.example.com/cb",
		"https://app.example.com/cb#x", "https://*.example.com/cb", "javascript:alert(1)", "JavaScript:alert(1)",
		"data:text/html,x", "http://app.example.com/cb", "https://user:pw@app.example.com/cb", "myapp:/cb",
		"https:///nohost", "HTTPS://app.example.com/cb", "https://app.example.com/c b", "https://app.example.com/\u00a0", "https://app.example.com/\u2028", "https://app.example.com/\u0085",
		"java\tscript:alert(1)", "https://app.example.com/%0a", "http://127.0.0.1.evil.example/cb",
		"https://app.example.com:/cb", "https://app.example.com:0/cb", "https://app.example.com:00080/cb",
		"https://app.example.com:99999/cb", "http://[::1]:/cb", "http://127.0.0.1:65535/cb", "com.example.app://h:0/cb",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if ValidateRedirectURI(raw) != nil {
			return
		}
		if strings.ContainsAny(raw, "#*\\") {
			t.Fatalf("accepted %q: fragment, wildcard or backslash", raw)
		}
		if i := strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
			t.Fatalf("accepted %q: whitespace or control character at %d", raw, i)
		}
		scheme, _, _ := strings.Cut(strings.ToLower(raw), ":")
		switch scheme {
		case "javascript", "data", "vbscript", "file":
			t.Fatalf("accepted %q: scheme %s", raw, scheme)
		case "http":
			if _, _, _, ok := splitLoopback(raw); !ok && !isLocalhost(raw) {
				t.Fatalf("accepted %q: plain http off loopback", raw)
			}
		}
		if u, err := url.Parse(raw); err == nil && (strings.HasSuffix(u.Host, ":") || u.Port() != "" && !canonicalPort(u.Port())) {
			t.Fatalf("accepted %q: port %q", raw, u.Port())
		}
	})
}

// FuzzParseClaimsRequest: ParseClaimsRequest never panics, refuses only with
// invalid_request, and what it accepts survives its stored form: Encode parses back
// to the same request, and encoding that again gives the same text.
func FuzzParseClaimsRequest(f *testing.F) {
	for _, s := range []string{
		"", "{}", "null", "[]", `{"id_token":null}`, `{"id_token":{"email":null}}`,
		`{"userinfo":{"name":{"essential":true}},"id_token":{"email":null,"acr":{"essential":true,"values":["urn:gatehouse:acr:mfa"]}}}`,
		`{"id_token":{"acr":{"essential":true,"value":"urn:gatehouse:acr:password"}}}`,
		`{"id_token":{"email":{"essential":"yes"}}}`, `{"id_token":{"email":{"values":"x"}}}`,
		`{"id_token":[]}`, `{"other":1}`, `{"id_token":{"unknown_claim":null}}`, `{"id_token":{"email":1}}`,
		`{"id_token":{"acr":{"essential":true,"values":["\"},{"]}}}`, "{\"id_token\":{\"email\":null}} x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := ParseClaimsRequest(raw)
		if err != nil {
			if !errorIsCode(err, ErrInvalidRequest) {
				t.Fatalf("ParseClaimsRequest(%q): error %v is not invalid_request", raw, err)
			}
			return
		}
		if r.UnmetACR() && r.ACR != "" {
			t.Fatalf("ParseClaimsRequest(%q) = %+v: unmet, yet it names classes", raw, r)
		}
		enc := r.Encode()
		back, err := ParseClaimsRequest(enc)
		if err != nil {
			t.Fatalf("ParseClaimsRequest(%q) = %+v, whose Encode %q does not parse: %v", raw, r, enc, err)
		}
		// An unmet essential acr is refused before anything is stored, so Encode need
		// not keep it: the rest must come back as it was.
		if back.UnmetACR() || back != withoutUnmetACR(r) {
			t.Fatalf("ParseClaimsRequest(%q) = %+v; its Encode %q parses as %+v", raw, r, enc, back)
		}
		if again := back.Encode(); again != enc {
			t.Fatalf("Encode is not stable: %q then %q", enc, again)
		}
	})
}

// FuzzValidateClient: the client rules never panic; a refusal is a *FieldError whose
// problems name distinct fields, the first being the error itself; its message is
// every problem's message joined by "; "; and mending the name (checked first) leaves
// the other problems as they were: each field is checked on its own.
func FuzzValidateClient(f *testing.F) {
	f.Add("app", "authorization_code refresh_token", "https://app.example/cb", "openid profile", "", "", "", "", false, false)
	f.Add(" ", "client_credentials", "javascript:x", `a"b`, "https://api.example/#f", "client_secret_jwt", "http://k.example/j",
		"HS256", true, true)
	f.Add(strings.Repeat("n", 201), "", "", "", "", "private_key_jwt", "", "", true, false)
	f.Add("x", "password implicit", "http://app.example/cb com.example.app:/cb", "", "", "", "https://k.example/{jwks}?p=%25d",
		"EdDSA", false, true)
	f.Fuzz(func(t *testing.T, name, grants, redirects, scopes, audiences, method, jwksURI, alg string, public, pkceOptional bool) {
		c := Client{Name: name, GrantTypes: strings.Fields(grants), RedirectURIs: strings.Fields(redirects),
			Scopes: strings.Fields(scopes), Audiences: strings.Fields(audiences), TokenEndpointAuthMethod: method,
			JWKSURI: jwksURI, IDTokenAlg: alg, Public: public, PKCEOptional: pkceOptional}
		err := ValidateClient(c)
		if err == nil {
			return
		}
		fe, ok := err.(*FieldError)
		if !ok {
			t.Fatalf("%T %v, want a *FieldError", err, err)
		}
		all := fe.All()
		var texts []string
		seen := map[string]bool{}
		for i, p := range all {
			if p.Field == "" || seen[p.Field] || len(p.More) != 0 || p.Error() == "" {
				t.Fatalf("problem %d of %v: %+v", i, err, p)
			}
			seen[p.Field] = true
			texts = append(texts, p.Error())
		}
		if all[0].Field != fe.Field || all[0].Problem != fe.Problem || err.Error() != strings.Join(texts, "; ") {
			t.Fatalf("the error %q is not its problems %q", err, texts)
		}
		// Mending the name leaves the other problems as they were.
		if seen["client_name"] {
			c.Name = "mended"
			var rest []string
			if err := ValidateClient(c); err != nil {
				for _, p := range err.(*FieldError).All() {
					rest = append(rest, p.Error())
				}
			}
			if !slices.Equal(rest, texts[1:]) {
				t.Fatalf("after mending the name: %q, want %q", rest, texts[1:])
			}
		}
	})
}

// withoutUnmetACR is r as Encode keeps it: an unmet essential acr is refused before
// a request is stored, so its encoding does not hold it.
func withoutUnmetACR(r ClaimsRequest) ClaimsRequest {
	r.unmetACR = false
	return r
}
