package batchrepo

import (
	"github.com/google/wire"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/usecase"
)

// ProviderSet binds the user and token stores to bunrepo's repositories with the fast
// paths of this package, and gives the code and token repositories the group commit as
// their Writer: use it instead of bunrepo.PlainSet, beside bunrepo.ProviderSet.
var ProviderSet = wire.NewSet(
	NewGroupCommit, wire.Bind(new(bunrepo.Writer), new(*GroupCommit)),
	bunrepo.NewUserRepository, NewUsers, wire.Bind(new(usecase.UserStore), new(*Users)),
	bunrepo.NewTokenRepository, NewTokens, wire.Bind(new(usecase.TokenStore), new(*Tokens)),
	bunrepo.NewCodeRepository, NewCodes, wire.Bind(new(usecase.CodeStore), new(*Codes)),
)
