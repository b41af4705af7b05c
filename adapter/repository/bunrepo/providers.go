package bunrepo

import (
	"github.com/google/wire"

	"gatehouse/usecase"
)

// ProviderSet builds every repository from a *bun.DB and binds each to the port it
// fills. ClientRepository fills ClientAdminStore (CLI); the caller binds ClientStore
// (the token endpoint's reads), to the repository or to a cache in front of it. The
// user, code and token stores, and the Writer of the code and token repositories, come from
// PlainSet or from a decorator's set that wraps these repositories
// (batchrepo.ProviderSet).
var ProviderSet = wire.NewSet(
	NewClientRepository,
	wire.Bind(new(usecase.ClientAdminStore), new(*ClientRepository)),
	wire.Bind(new(usecase.ClientRegistrationStore), new(*ClientRepository)),
	NewConsentRepository,
	wire.Bind(new(usecase.ConsentStore), new(*ConsentRepository)),
	NewSessionRepository,
	wire.Bind(new(usecase.SessionStore), new(*SessionRepository)),
	NewKeyRepository,
	wire.Bind(new(usecase.KeyStore), new(*KeyRepository)),
	NewAuthRequestRepository, wire.Bind(new(usecase.AuthRequestStore), new(*AuthRequestRepository)),
	NewDeviceRepository, wire.Bind(new(usecase.DeviceStore), new(*DeviceRepository)),
	NewHousekeeperKeeping, wire.Bind(new(usecase.Purger), new(*Housekeeper)),
	NewLeaseRepository, wire.Bind(new(usecase.Leases), new(*LeaseRepository)),
	NewMailRepository, wire.Bind(new(usecase.MailOutbox), new(*MailRepository)),
	NewAccountRepository, wire.Bind(new(usecase.AccountStore), new(*AccountRepository)),
	NewBackchannelRepository, wire.Bind(new(usecase.LogoutStore), new(*BackchannelRepository)),
	NewPushedRequestRepository, wire.Bind(new(usecase.PushedRequestStore), new(*PushedRequestRepository)),
	NewReplayRepository, wire.Bind(new(usecase.ReplayStore), new(*ReplayRepository)),
	NewPasskeyRepository, wire.Bind(new(usecase.PasskeyStore), new(*PasskeyRepository)),
	NewAuditRepository, wire.Bind(new(usecase.AuditStore), new(*AuditRepository)),
	NewTransactor, wire.Bind(new(usecase.Transactor), new(*Transactor)),
	NewFactorRepository, wire.Bind(new(usecase.FactorStore), new(*FactorRepository)),
	NewUpstreamRepository, wire.Bind(new(usecase.UpstreamStore), new(*UpstreamRepository)),
	NewResourceRepository, wire.Bind(new(usecase.ResourceStore), new(*ResourceRepository)),
	NewScopeRepository, wire.Bind(new(usecase.ScopeStore), new(*ScopeRepository)),
	NewIssuanceRepository, wire.Bind(new(usecase.IssuanceStore), new(*IssuanceRepository)),
)

// PlainSet binds the user, code and token stores to the repositories themselves, whose writes
// run one transaction each: the storage layer with no fast paths.
var PlainSet = wire.NewSet(
	NewTxWriter, wire.Bind(new(Writer), new(*TxWriter)),
	NewUserRepository, wire.Bind(new(usecase.UserStore), new(*UserRepository)),
	NewTokenRepository, wire.Bind(new(usecase.TokenStore), new(*TokenRepository)),
	NewCodeRepository, wire.Bind(new(usecase.CodeStore), new(*CodeRepository)),
)
