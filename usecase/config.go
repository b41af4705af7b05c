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
	// KeyActivationDelay is how long after a rotation the new key starts signing.
	KeyActivationDelay time.Duration
	// KeyRotationInterval is how often signing keys are rotated; zero is never.
	KeyRotationInterval time.Duration
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
	// KeyActivationDelay: a rotated-in key is published at once but signs only this
	// long after, so that every instance sharing the database, and every resource
	// server caching the JWKS, has it first. Zero signs at once.
	KeyActivationDelay KeyActivationDelay
	// KeyRotationInterval: scheduled rotation replaces a key this old; zero is off.
	KeyRotationInterval KeyRotationInterval
	// RequireVerifiedEmail (GATEHOUSE_EMAIL_VERIFICATION=required): a signed-in user
	// whose email is not verified is shown the "verify your email" page and no
	// application gets a code for them until it is.
	RequireVerifiedEmail bool
	// RequireMFA (GATEHOUSE_MFA=required): a session signed in without a second factor
	// gives the second-factor page (or, for a user without one, its enrolment) before
	// any code.
	RequireMFA bool
}
