package domain

// Grant type names (RFC 6749, RFC 8628, RFC 8693).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
	GrantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange" // RFC 8693
)

// KnownGrantTypes lists every grant type a client may be registered for.
var KnownGrantTypes = []string{
	GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantPassword, GrantDeviceCode,
	GrantTokenExchange,
}

// DefaultGrantTypes is what a client registered without --grant-type gets.
var DefaultGrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
