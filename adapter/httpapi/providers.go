package httpapi

import "github.com/google/wire"

// ProviderSet builds the HTTP adapter. The caller provides a *slog.Logger, a
// *prometheus.Registry, a Pinger, a JWKSFunc and Features.
var ProviderSet = wire.NewSet(
	NewMetrics,
	NewTokenHandler,
	NewDiscovery,
	NewHealth,
	NewUserInfoHandler,
	NewDeviceHandler,
	NewPARHandler,
	NewConsole,
	wire.Struct(new(Handlers), "Log", "Metrics", "Token", "Revoke", "Introspect", "Discovery", "Health", "UserInfo", "Pages", "Device", "TrustedProxies", "PAR", "Registration", "Console", "Settings", "Features", "AdminAPI"),
	NewEcho,
)
