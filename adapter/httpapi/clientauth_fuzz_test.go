package httpapi

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

// basicHeader encodes id and secret as RFC 6749 §2.3.1 says a client must: each
// form-urlencoded, then base64 of id ":" secret.
func basicHeader(scheme, id, secret string) string {
	return scheme + " " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// FuzzParseBasic: parseBasic never panics; it accepts only the Basic scheme (any
// case); and what it accepts, encoded again, parses back to the same id and secret.
func FuzzParseBasic(f *testing.F) {
	for _, s := range []string{
		"", "Basic", "Basic ", "basic Og==", "BASIC YTpi", "Basic YTpi", "Bearer YTpi", "Basic !!!",
		"Basic YQ==", "Basic YTpiOmM=", "Basic JTNBOiUyQg==", "Basic JXp6OmI=", "Basic YTolenp6",
		"Basic  YTpi ", "Basic YTpi\r\n", "Basic YT\npi", "Basic YTpi=", "Basic YTpiYw", "BaSiC YTpi",
		"Basic\tYTpi", "Basic YSUwMDpi", "Basic /w==", "Basic " + base64.StdEncoding.EncodeToString([]byte("\xff:\xfe")),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		id, secret, ok := parseBasic(header)
		if !ok {
			if id != "" || secret != "" {
				t.Fatalf("parseBasic(%q) refused but returned %q, %q", header, id, secret)
			}
			return
		}
		scheme, _, _ := strings.Cut(header, " ")
		if !strings.EqualFold(scheme, "basic") {
			t.Fatalf("parseBasic(%q) accepted scheme %q", header, scheme)
		}
		id2, secret2, ok := parseBasic(basicHeader("Basic", id, secret))
		if !ok || id2 != id || secret2 != secret {
			t.Fatalf("parseBasic(%q) = %q, %q; encoded again: %q, %q, %v", header, id, secret, id2, secret2, ok)
		}
	})
}

// FuzzParseBasicRoundTrip: any id and secret, form-urlencoded and base64-encoded
// under a scheme name in any case, parse back exactly (SECURITY S20: secrets with
// ':', '%' and '+' work).
func FuzzParseBasicRoundTrip(f *testing.F) {
	f.Add("client", "secret", uint8(0))
	f.Add("a:b", "c:d:e", uint8(1))
	f.Add("", "", uint8(2))
	f.Add("id", "%2B+%:=&?/ ", uint8(0x1f))
	f.Add("ü", "\x00\xff", uint8(3))
	f.Add("x", "s\r\n\t ", uint8(4))
	f.Fuzz(func(t *testing.T, id, secret string, caseBits uint8) {
		scheme := []byte("basic")
		for i := range scheme {
			if caseBits&(1<<i) != 0 {
				scheme[i] -= 'a' - 'A'
			}
		}
		h := basicHeader(string(scheme), id, secret)
		gotID, gotSecret, ok := parseBasic(h)
		if !ok || gotID != id || gotSecret != secret {
			t.Fatalf("parseBasic(%q) = %q, %q, %v; want %q, %q", h, gotID, gotSecret, ok, id, secret)
		}
	})
}
