package crypto

import (
	"github.com/google/wire"

	"gatehouse/usecase"
)

// ProviderSet provides Random, SecretHasher, PasswordHasher and the signing-key
// Cipher, bound to their ports. The caller provides Keys (DeriveKeys of
// GATEHOUSE_SECRET_KEY) and PasswordParams (DefaultPasswordParams, say).
var ProviderSet = wire.NewSet(
	NewRandom,
	wire.Bind(new(usecase.Random), new(Random)),
	NewSecretHasher,
	wire.Bind(new(usecase.SecretHasher), new(*SecretHasher)),
	NewPasswordHasher,
	wire.Bind(new(usecase.PasswordHasher), new(*PasswordHasher)),
	NewKeyCipher,
	NewTOTP,
	wire.Bind(new(usecase.TOTP), new(TOTP)),
	NewWebAuthn,
	wire.Bind(new(usecase.WebAuthn), new(*WebAuthn)),
)
