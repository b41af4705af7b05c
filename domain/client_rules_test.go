package domain

import (
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
