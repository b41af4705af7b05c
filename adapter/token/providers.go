package token

import (
	"github.com/google/wire"

	"gatehouse/usecase"
)

// ProviderSet provides the key generator, key ring, signer and verifier, bound to
// their ports. The caller provides a KeySource (the key repository), a KeyCipher
// (adapter/crypto.Cipher), a KeyRingConfig, usecase.Settings and a usecase.Clock.
var ProviderSet = wire.NewSet(
	NewKeyGenerator,
	wire.Bind(new(usecase.KeyGenerator), new(*KeyGenerator)),
	NewKeyRing,
	SignerConfigFromSettings,
	NewSigner,
	wire.Bind(new(usecase.AccessTokenSigner), new(*Signer)),
	wire.Bind(new(usecase.IDTokenSigner), new(*Signer)),
	VerifierConfigFromSettings,
	NewVerifier,
	wire.Bind(new(usecase.AccessTokenVerifier), new(*Verifier)),
	NewHintVerifier,
	wire.Bind(new(usecase.IDTokenHintVerifier), new(*HintVerifier)),
)
