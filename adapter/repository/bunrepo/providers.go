package bunrepo

import (
	"github.com/google/wire"

	"gatehouse/usecase"
)

// ProviderSet builds every repository from a *bun.DB and binds each to the port it
// fills. ClientRepository fills ClientAdminStore (CLI); the caller binds ClientStore
// (the token endpoint's reads), to the repository or to a cache in front of it.
var ProviderSet = wire.NewSet(
	NewConnGate,
	NewClientRepository,
	wire.Bind(new(usecase.ClientAdminStore), new(*ClientRepository)),
	wire.Bind(new(usecase.ClientRegistrationStore), new(*ClientRepository)),
	NewUserRepository,
	wire.Bind(new(usecase.UserStore), new(*UserRepository)),
	NewCodeRepository,
	wire.Bind(new(usecase.CodeStore), new(*CodeRepository)),
	NewTokenRepository,
	wire.Bind(new(usecase.TokenStore), new(*TokenRepository)),
	NewConsentRepository,
	wire.Bind(new(usecase.ConsentStore), new(*ConsentRepository)),
	NewSessionRepository,
	wire.Bind(new(usecase.SessionStore), new(*SessionRepository)),
	NewKeyRepository,
	wire.Bind(new(usecase.KeyStore), new(*KeyRepository)),
	NewAuthRequestRepository, wire.Bind(new(usecase.AuthRequestStore), new(*AuthRequestRepository)),
	NewDeviceRepository, wire.Bind(new(usecase.DeviceStore), new(*DeviceRepository)),
	NewHousekeeper, wire.Bind(new(usecase.Purger), new(*Housekeeper)),
	NewLeaseRepository, wire.Bind(new(usecase.Leases), new(*LeaseRepository)),
	NewMailRepository, wire.Bind(new(usecase.MailOutbox), new(*MailRepository)),
	NewAccountRepository, wire.Bind(new(usecase.AccountStore), new(*AccountRepository)),
	NewBackchannelRepository, wire.Bind(new(usecase.LogoutStore), new(*BackchannelRepository)),
	NewPushedRequestRepository, wire.Bind(new(usecase.PushedRequestStore), new(*PushedRequestRepository)),
	NewReplayRepository, wire.Bind(new(usecase.ReplayStore), new(*ReplayRepository)),
)
