package usecase

import "github.com/google/wire"

// ProviderSet builds every use case; the adapters' sets provide the ports.
var ProviderSet = wire.NewSet(
	NewClientAuthenticatorWithAssertions,
	DefaultClientAssertionConfig,
	NewMinter,
	NewClientCredentialsGrant,
	NewAuditedPasswordGrant,
	NewRefreshTokenGrant,
	NewAuthorizationCodeGrant,
	wire.Struct(new(Grants), "*"),
	NewToken,
	NewRevoke,
	NewIntrospect,
	NewAdminWithClientKeys,
	NewAuditedKeys,
	NewAudit,
	NewKeySchedule,
	NewUserInfo,
	NewDevice,
	NewDeviceCodeGrant,
	NewTokenExchangeGrant,
	NewHousekeeping,
	NewAuthorizeWithResources,
	NewResources,
	NewLogin,
	NewEndSession,
	NewPushedAuthorizationWithResources,
	NewRegistration,
	NewDPoP,
	NewMailer,
	NewAccounts,
	NewFactors,
	NewConnectedApps,
	NewBackchannelLogout,
)
