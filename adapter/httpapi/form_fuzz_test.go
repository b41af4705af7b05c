package httpapi

import (
	"errors"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"gatehouse/domain"
)

// FuzzParseFormBody: parseFormBody never panics; every refusal is invalid_request;
// a parameter other than resource that appears twice is always refused (RFC 6749
// §3.1, §3.2; SECURITY S7); what it accepts is valid UTF-8 without NUL, empty values
// are absent, and it agrees with url.ParseQuery on every value it keeps.
func FuzzParseFormBody(f *testing.F) {
	for _, s := range []string{
		"", "grant_type=client_credentials", "grant_type=client_credentials&scope=api%3Aread",
		"a=1&a=2", "a=1&a=", "a=&a=", "a&a", "resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb",
		"resource=&resource=x", "scope=%zz", "scope=%4", "a=1;b=2", "scope=%FF%FE", "scope=\xff\xfe",
		"%C0%AF=x", "scope=api%00read", "scope=api\x00read", "=x", "&&&", "a=b=c", "a+b=c+d",
		"client_id=x&client_secret=%2B%25%3A", "a=1&A=2", "%61=1&a=2",
		"scope=" + strings.Repeat("a", domain.MaxParamBytes), "scope=" + strings.Repeat("a", domain.MaxParamBytes+1),
		"token=" + strings.Repeat("a", domain.MaxParamBytes+1), "nonce=" + strings.Repeat("n", domain.MaxNonceBytes+1),
		strings.Repeat("resource=r&", domain.MaxResourceParams+1),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, err := parseFormBody(body)
		ref, refErr := url.ParseQuery(body)
		if err != nil {
			var e *domain.Error
			if !errors.As(err, &e) || e.Code != "invalid_request" {
				t.Fatalf("parseFormBody(%q): error %v is not invalid_request", body, err)
			}
			return
		}
		if refErr != nil {
			t.Fatalf("parseFormBody(%q) accepted what url.ParseQuery refuses: %v", body, refErr)
		}
		for k, vs := range ref {
			if k != "resource" && len(vs) > 1 {
				t.Fatalf("parseFormBody(%q) accepted %q repeated", body, k)
			}
		}
		clean := func(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
		for k, v := range got.values {
			if !clean(k) || !clean(v) || v == "" {
				t.Fatalf("parseFormBody(%q) kept %q=%q", body, k, v)
			}
			if k == "resource" {
				t.Fatalf("parseFormBody(%q): resource among the single values", body)
			}
			if len(v) > domain.ParamLimit(k) {
				t.Fatalf("parseFormBody(%q) kept %q of %d bytes, over its limit", body, k, len(v))
			}
			if vs := ref[k]; len(vs) != 1 || vs[0] != v {
				t.Fatalf("parseFormBody(%q)[%q] = %q, url.ParseQuery says %q", body, k, v, vs)
			}
		}
		for k, vs := range ref {
			if k != "resource" && vs[0] != "" && got.values[k] != vs[0] {
				t.Fatalf("parseFormBody(%q) lost %q", body, k)
			}
		}
		var wantRes []string
		for _, v := range ref["resource"] {
			if v != "" {
				wantRes = append(wantRes, v)
			}
		}
		if !slices.Equal(got.resources, wantRes) {
			t.Fatalf("parseFormBody(%q) resources %q, want %q", body, got.resources, wantRes)
		}
		if len(got.resources) > domain.MaxResourceParams {
			t.Fatalf("parseFormBody(%q) kept %d resources", body, len(got.resources))
		}
		for _, r := range got.resources {
			if !clean(r) || len(r) > domain.ParamLimit("resource") {
				t.Fatalf("parseFormBody(%q) kept resource %q", body, r)
			}
		}
	})
}

// FuzzParseFormBodyRoundTrip: a map of distinct parameters, encoded by url.Values,
// parses back to the same map (empty values being absent), or is refused exactly when
// a name or value is not valid UTF-8 or holds a NUL, or a value is over its limit.
func FuzzParseFormBodyRoundTrip(f *testing.F) {
	f.Add("grant_type", "client_credentials", "scope", "api:read api:write", "client_secret", "a+b%c:d")
	f.Add("", "", "a", "", "b", "x")
	f.Add("username", "al ice", "password", "pa&ss=word;", "x\xff", "y")
	f.Add("a", "\x00", "b", "c", "d", "e")
	f.Add("résumé", "ü", "キー", "値", "+", "%")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		in := map[string]string{k1: v1, k2: v2, k3: v3}
		if len(in) != 3 {
			return // names must be distinct
		}
		delete(in, "resource") // may repeat; its own list
		q := url.Values{}
		ok := true
		want := map[string]string{}
		for k, v := range in {
			q.Set(k, v)
			ok = ok && utf8.ValidString(k) && utf8.ValidString(v) && !strings.ContainsRune(k+v, 0) &&
				len(v) <= domain.ParamLimit(k)
			if v != "" {
				want[k] = v
			}
		}
		body := q.Encode()
		got, err := parseFormBody(body)
		if !ok {
			if err == nil {
				t.Fatalf("parseFormBody(%q) accepted invalid text", body)
			}
			return
		}
		if err != nil {
			t.Fatalf("parseFormBody(%q): %v", body, err)
		}
		if !maps.Equal(got.values, want) {
			t.Fatalf("parseFormBody(%q) = %q, want %q", body, got.values, want)
		}
	})
}
