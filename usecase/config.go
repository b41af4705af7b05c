package usecase

import "time"

// Named scalar types so that Wire can tell them apart.
type (
	Issuer          string
	DefaultAudience string
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	AuthCodeTTL     time.Duration
	IDTokenTTL      time.Duration
	SigningAlg      string
	DeviceCodeTTL   time.Duration
)

// Settings gathers the configuration the use cases read.
type Settings struct {
	Issuer          Issuer
	Audience        DefaultAudience
	AccessTokenTTL  AccessTokenTTL
	RefreshTokenTTL RefreshTokenTTL
	AuthCodeTTL     AuthCodeTTL
	IDTokenTTL      IDTokenTTL
	SigningAlg      SigningAlg
	// DeviceCodeTTL is how long device and user codes live (RFC 8628 §3.2
	// expires_in); zero means domain.DefaultDeviceCodeTTL.
	DeviceCodeTTL DeviceCodeTTL
	// RequirePKCE makes PKCE mandatory for confidential clients too (the default).
	RequirePKCE bool
}
