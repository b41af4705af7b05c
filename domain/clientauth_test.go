package domain

import (
	"strings"
	"testing"
)

// TestValidateClientAuth: private_key_jwt needs exactly one of a JWK Set and a
// jwks_uri, on a confidential client; keys without the method are refused.
func TestValidateClientAuth(t *testing.T) {
	base := Client{Name: "c", GrantTypes: []string{GrantClientCredentials}}
	with := func(f func(*Client)) Client { c := base; f(&c); return c }
	const set = `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`
	for _, tc := range []struct {
		name string
		c    Client
		ok   bool
	}{
		{"secret client", base, true},
		{"jwks", with(func(c *Client) { c.TokenEndpointAuthMethod, c.JWKS = AuthPrivateKeyJWT, set }), true},
		{"jwks_uri https", with(func(c *Client) {
			c.TokenEndpointAuthMethod, c.JWKSURI = AuthPrivateKeyJWT, "https://keys.example/jwks.json"
		}), true},
		{"jwks_uri http loopback", with(func(c *Client) {
			c.TokenEndpointAuthMethod, c.JWKSURI = AuthPrivateKeyJWT, "http://127.0.0.1:8443/jwks"
		}), true},
		{"jwks_uri http [::1]", with(func(c *Client) { c.TokenEndpointAuthMethod, c.JWKSURI = AuthPrivateKeyJWT, "http://[::1]/jwks" }), true},
		{"no keys", with(func(c *Client) { c.TokenEndpointAuthMethod = AuthPrivateKeyJWT }), false},
		{"both", with(func(c *Client) {
			c.TokenEndpointAuthMethod, c.JWKS, c.JWKSURI = AuthPrivateKeyJWT, set, "https://k.example/j"
		}), false},
		{"public", with(func(c *Client) {
			c.Public, c.GrantTypes, c.TokenEndpointAuthMethod, c.JWKS = true, []string{GrantDeviceCode}, AuthPrivateKeyJWT, set
		}), false},
		{"keys without the method", with(func(c *Client) { c.JWKS = set }), false},
		{"unknown method", with(func(c *Client) { c.TokenEndpointAuthMethod = "client_secret_jwt" }), false},
		{"http off loopback", with(func(c *Client) { c.TokenEndpointAuthMethod, c.JWKSURI = AuthPrivateKeyJWT, "http://keys.example/j" }), false},
		{"http localhost", with(func(c *Client) { c.TokenEndpointAuthMethod, c.JWKSURI = AuthPrivateKeyJWT, "http://localhost/j" }), false},
		{"userinfo in uri", with(func(c *Client) { c.TokenEndpointAuthMethod, c.JWKSURI = AuthPrivateKeyJWT, "https://u:p@k.example/j" }), false},
		{"fragment", with(func(c *Client) { c.TokenEndpointAuthMethod, c.JWKSURI = AuthPrivateKeyJWT, "https://k.example/j#x" }), false},
		{"relative", with(func(c *Client) { c.TokenEndpointAuthMethod, c.JWKSURI = AuthPrivateKeyJWT, "/jwks" }), false},
		{"file", with(func(c *Client) { c.TokenEndpointAuthMethod, c.JWKSURI = AuthPrivateKeyJWT, "file:///etc/passwd" }), false},
		{"jwks not UTF-8", with(func(c *Client) { c.TokenEndpointAuthMethod, c.JWKS = AuthPrivateKeyJWT, "{\xff}" }), false},
		{"jwks too large", with(func(c *Client) { c.TokenEndpointAuthMethod, c.JWKS = AuthPrivateKeyJWT, strings.Repeat(" ", 65<<10) }), false},
	} {
		err := ValidateClient(tc.c)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
