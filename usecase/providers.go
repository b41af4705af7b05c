package usecase

import "github.com/google/wire"

// ProviderSet builds every use case; the adapters' sets provide the ports.
var ProviderSet = wire.NewSet(
	NewClientAuthenticator,
	NewMinter,
	NewClientCredentials,
	NewPassword,
	NewRefresh,
	NewAuthorizationCodeGrant,
	NewToken,
	NewRevoke,
	NewIntrospect,
	NewAdmin,
	NewKeys,
	NewUserInfo,
	NewDevice,
	NewDeviceCodeGrant,
	NewHousekeeping,
	NewAuthorize,
	NewLogin,
	NewEndSession,
	NewDPoP,
)
