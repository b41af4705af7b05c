//go:build wireinject

package main

import (
	"context"
	"io"

	"github.com/google/wire"
	"github.com/uptrace/bun"

	"gatehouse/adapter/backchannel"
	"gatehouse/adapter/cache"
	"gatehouse/adapter/crypto"
	"gatehouse/adapter/httpapi"
	"gatehouse/adapter/identifier"
	"gatehouse/adapter/outbound"
	"gatehouse/adapter/repository/batchrepo"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/token"
	"gatehouse/adapter/upstream"
	"gatehouse/infrastructure/config"
	"gatehouse/usecase"
)

// appSet is the one place where the concrete adapters meet (ARCHITECTURE "Wire"), but
// for the user, code and token stores, which the injectors below choose.
var appSet = wire.NewSet(
	provideLogger, provideSettings, provideDB, provideAuditRetention, provideCryptoKeys, providePasswordParams,
	provideKeyRingConfig, provideClock, provideThrottle, provideRegistry, provideJWKS, provideFeatures, provideTrustedProxies,
	providePARSettings, adminAPISet,
	provideMailTransport, provideMailPolicy, provideAccountSettings, provideLanguages, provideMFASettings,
	provideUpstreamSettings, upstream.NewConnector, wire.Bind(new(usecase.UpstreamConnector), new(*upstream.Connector)),
	backchannel.NewSender, wire.Bind(new(usecase.LogoutSender), new(*backchannel.Sender)),
	provideOutboundPolicy, provideUntrustedHTTP, wire.Bind(new(usecase.URLPolicy), new(outbound.Policy)),
	wire.Bind(new(usecase.LogoutTokenSigner), new(*token.Signer)), wire.Bind(new(usecase.Sealer), new(*crypto.Cipher)),
	provideRegistrationSettings, provideRegistrationHandler,
	wire.Bind(new(usecase.ClientForgetter), new(*cache.Clients)),
	wire.Bind(new(usecase.Clock), new(usecase.SystemClock)),
	wire.Bind(new(httpapi.Pinger), new(*bun.DB)),
	crypto.ProviderSet,
	identifier.NewRules, wire.Bind(new(usecase.Identifiers), new(identifier.Rules)),
	wire.Bind(new(token.KeyCipher), new(*crypto.Cipher)),
	token.ProviderSet,
	token.NewDPoPParser, wire.Bind(new(usecase.DPoPProofParser), new(*token.DPoPParser)),
	crypto.NewDPoPNonces, wire.Bind(new(usecase.DPoPNonces), new(*crypto.DPoPNonces)), provideDPoPConfig,
	provideAssertionVerifier, wire.Bind(new(usecase.ClientAssertionVerifier), new(*token.AssertionVerifier)),
	bunrepo.ProviderSet,
	provideClientCache, provideChangeFeed,
	provideClientIDMetadata, wire.Bind(new(usecase.ClientStore), new(*usecase.ClientIDMetadata)),
	wire.Bind(new(token.KeySource), new(*bunrepo.KeyRepository)),
	usecase.ProviderSet,
	httpapi.ProviderSet,
	providePageConfig, httpapi.NewPages, wire.Bind(new(httpapi.PageMounter), new(*httpapi.Pages)),
	wire.Struct(new(App), "*"),
)

// initApp builds the server with the storage fast paths (batchrepo) in front of the
// user, code and token repositories.
func initApp(ctx context.Context, cfg config.Config, logOut io.Writer) (*App, func(), error) {
	wire.Build(appSet, batchrepo.ProviderSet)
	return nil, nil, nil
}

// initPlainApp builds it with the plain repositories, one query or transaction per
// call (GATEHOUSE_STORAGE_FAST_PATHS=false).
func initPlainApp(ctx context.Context, cfg config.Config, logOut io.Writer) (*App, func(), error) {
	wire.Build(appSet, bunrepo.PlainSet)
	return nil, nil, nil
}
