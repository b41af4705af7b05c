package domain

import (
	"errors"
	"strings"
	"testing"
)

// TestValidateClient_Rules: the rules every way of registering a client shares (CLI,
// dynamic registration), one row each.
func TestValidateClient_Rules(t *testing.T) {
	base := Client{Name: "c", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"api:read"}}
	with := func(f func(*Client)) Client { c := base; f(&c); return c }
	for _, tc := range []struct {
		name    string
		c       Client
		wantErr string // "" for valid
	}{
		{"valid", base, ""},
		{"confidential password client", with(func(c *Client) { c.GrantTypes = []string{GrantPassword, GrantRefreshToken} }), ""},
		{"public password client", with(func(c *Client) {
			c.Public, c.GrantTypes = true, []string{GrantPassword, GrantRefreshToken}
		}), "a public client cannot use the password grant"},
		{"public device client", with(func(c *Client) { c.Public, c.GrantTypes = true, []string{GrantDeviceCode, GrantRefreshToken} }), ""},
		{"64 scopes", with(func(c *Client) {
			c.Scopes = strings.Fields(strings.TrimSpace(strings.Repeat("s ", 64)))
			for i := range c.Scopes {
				c.Scopes[i] += string(rune('0'+i/10)) + string(rune('0'+i%10))
			}
		}), ""},
		{"65 scopes", with(func(c *Client) {
			c.Scopes = nil
			for i := range 65 {
				c.Scopes = append(c.Scopes, "s"+string(rune('A'+i/26))+string(rune('a'+i%26)))
			}
		}), "at most 64 scopes"},
		{"scopes over 4 KiB together", with(func(c *Client) {
			c.Scopes = []string{strings.Repeat("a", 250)}
			for i := range 16 {
				c.Scopes = append(c.Scopes, strings.Repeat(string(rune('b'+i)), 250))
			}
		}), "4096 bytes together"},
	} {
		err := ValidateClient(tc.c)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

// TestValidateClient_FieldErrors: every refusal names the field it is about as RFC
// 7591 names client metadata, so that the CLI can name its flag and dynamic
// registration its error code; no message names a CLI flag.
func TestValidateClient_FieldErrors(t *testing.T) {
	base := Client{Name: "c", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"api:read"}}
	with := func(f func(*Client)) Client { c := base; f(&c); return c }
	flags := func(field string) string { return "--" + strings.ReplaceAll(field, "_", "-") }
	for _, tc := range []struct {
		name  string
		c     Client
		field string
		text  string // the message with the fields named by flags
	}{
		{"no name", with(func(c *Client) { c.Name = " " }), "client_name", "client name must be 1 to 200 characters"},
		{"unknown grant", with(func(c *Client) { c.GrantTypes = []string{"implicit"} }), "grant_types", ""},
		{"public client credentials", with(func(c *Client) { c.Public = true }), "grant_types", "a public client cannot use client_credentials"},
		{"code without redirect URI", with(func(c *Client) { c.GrantTypes = []string{GrantAuthorizationCode} }), "redirect_uris",
			"the authorization_code grant needs at least one redirect URI"},
		{"javascript redirect URI", with(func(c *Client) { c.RedirectURIs = []string{"javascript:x"} }), "redirect_uris",
			`redirect URI "javascript:x" uses a forbidden scheme`},
		{"redirect URI with port 0", with(func(c *Client) { c.RedirectURIs = []string{"http://127.0.0.1:0/cb"} }), "redirect_uris",
			`redirect URI "http://127.0.0.1:0/cb": the port must be 1 to 65535 without leading zeros (no colon for none)`},
		{"redirect URI with port 99999", with(func(c *Client) {
			c.RedirectURIs = []string{"https://app.example/cb", "https://app.example:99999/cb"}
		}), "redirect_uris", `redirect URI "https://app.example:99999/cb": the port must be 1 to 65535 without leading zeros (no colon for none)`},
		{"redirect URI with leading zeros", with(func(c *Client) { c.RedirectURIs = []string{"https://app.example:00080/cb"} }), "redirect_uris",
			`redirect URI "https://app.example:00080/cb": the port must be 1 to 65535 without leading zeros (no colon for none)`},
		{"redirect URI with an empty port", with(func(c *Client) { c.RedirectURIs = []string{"http://[::1]:/cb"} }), "redirect_uris",
			`redirect URI "http://[::1]:/cb": the port must be 1 to 65535 without leading zeros (no colon for none)`},
		{"post-logout redirect URI with port 0", with(func(c *Client) { c.PostLogoutRedirectURIs = []string{"https://app.example:0/"} }),
			"post_logout_redirect_uris", `post-logout redirect URI "https://app.example:0/": the port must be 1 to 65535 without leading zeros (no colon for none)`},
		{"post-logout redirect URI", with(func(c *Client) { c.PostLogoutRedirectURIs = []string{"http://x.example/"} }), "post_logout_redirect_uris",
			`post-logout redirect URI "http://x.example/": plain http is allowed only on loopback; use https`},
		{"scope token", with(func(c *Client) { c.Scopes = []string{`a"b`} }), "scope", ""},
		{"audience with fragment", with(func(c *Client) { c.Audiences = []string{"https://a.example/#f"} }), "audience", ""},
		{"audience not a URI", with(func(c *Client) { c.Audiences = []string{"not a uri"} }), "audience", ""},
		{"relative audience", with(func(c *Client) { c.Audiences = []string{"/api"} }), "audience", ""},
		{"audience without host", with(func(c *Client) { c.Audiences = []string{"https:///api"} }), "audience", ""},
		{"keys without the method", with(func(c *Client) { c.JWKSURI = "https://k.example/j" }), "token_endpoint_auth_method",
			"--jwks and --jwks-uri are for --token-endpoint-auth-method private_key_jwt"},
		{"unknown method", with(func(c *Client) { c.TokenEndpointAuthMethod = "client_secret_jwt" }), "token_endpoint_auth_method",
			`--token-endpoint-auth-method "client_secret_jwt" is not private_key_jwt (leave it out for a client secret)`},
		{"no keys", with(func(c *Client) { c.TokenEndpointAuthMethod = AuthPrivateKeyJWT }), "jwks",
			"private_key_jwt needs exactly one of --jwks and --jwks-uri"},
		{"jwks_uri over http", with(func(c *Client) { c.TokenEndpointAuthMethod, c.JWKSURI = AuthPrivateKeyJWT, "http://k.example/j" }), "jwks_uri",
			`--jwks-uri "http://k.example/j" must use https (plain http only to 127.0.0.1 or [::1])`},
		{"id token alg", with(func(c *Client) { c.IDTokenAlg = "HS256" }), "id_token_signed_response_alg",
			`--id-token-signed-response-alg "HS256" is not one of RS256, ES256, EdDSA`},
	} {
		err := ValidateClient(tc.c)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: %v, want a FieldError of %s", tc.name, err, tc.field)
			continue
		}
		if strings.Contains(err.Error(), "--") || strings.ContainsAny(err.Error(), "{}") {
			t.Errorf("%s: message %q names a flag or a placeholder", tc.name, err)
		}
		if tc.text != "" && fe.Text(flags) != tc.text {
			t.Errorf("%s: text %q, want %q", tc.name, fe.Text(flags), tc.text)
		}
	}
	// Values are quoted as they came: braces or percent signs in them are no names.
	err := ValidateClient(with(func(c *Client) {
		c.TokenEndpointAuthMethod, c.JWKSURI = AuthPrivateKeyJWT, "http://k.example/{jwks}?p=%25d"
	}))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Text(flags) != `--jwks-uri "http://k.example/{jwks}?p=%25d" must use https (plain http only to 127.0.0.1 or [::1])` {
		t.Errorf("a value with braces: %v", err)
	}
}

// TestValidateClient_EveryBadField: a client with several bad fields is refused with
// each of them, once, in the order of the checks; the message says them all and each
// problem alone reads as it would by itself.
func TestValidateClient_EveryBadField(t *testing.T) {
	c := Client{Name: " ", Public: true, GrantTypes: []string{GrantAuthorizationCode, GrantClientCredentials},
		RedirectURIs: []string{"javascript:x", "http://evil.example/cb"}, Scopes: []string{`a"b`},
		IDTokenAlg: "HS256", PKCEOptional: true}
	err := ValidateClient(c)
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("%v, want a FieldError", err)
	}
	var fields, texts []string
	for _, f := range fe.All() {
		if len(f.More) != 0 {
			t.Errorf("%s: nested problems", f.Field)
		}
		fields = append(fields, f.Field)
		texts = append(texts, f.Error())
	}
	want := []string{"client_name", "grant_types", "redirect_uris", "scope", "require_pkce", "id_token_signed_response_alg"}
	if strings.Join(fields, " ") != strings.Join(want, " ") {
		t.Errorf("fields %v, want %v", fields, want)
	}
	if len(texts) != len(want) {
		t.Fatalf("%d problems, want %d: %v", len(texts), len(want), texts)
	}
	if texts[2] != `redirect URI "javascript:x" uses a forbidden scheme` {
		t.Errorf("the redirect URI's problem alone: %q", texts[2])
	}
	if err.Error() != strings.Join(texts, "; ") || fe.Field != "client_name" || fe.Problem != "client name must be 1 to 200 characters" {
		t.Errorf("the error: %q (first %s %q)", err, fe.Field, fe.Problem)
	}
	// A name for flags applies to every problem.
	flags := func(field string) string { return "--" + strings.ReplaceAll(field, "_", "-") }
	if text := fe.Text(flags); !strings.Contains(text, "; --require-pkce false is only for") ||
		!strings.HasSuffix(text, `; --id-token-signed-response-alg "HS256" is not one of RS256, ES256, EdDSA`) {
		t.Errorf("Text: %q", text)
	}
}
