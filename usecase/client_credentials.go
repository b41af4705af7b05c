package usecase

import (
	"context"

	"gatehouse/domain"
)

// ClientCredentialsGrant is RFC 6749 §4.4: a confidential client gets an access token for
// itself; never a refresh token (SECURITY S25).
type ClientCredentialsGrant struct {
	minter   *Minter
	settings Settings
}

// NewClientCredentialsGrant builds the grant.
func NewClientCredentialsGrant(minter *Minter, settings Settings) *ClientCredentialsGrant {
	return &ClientCredentialsGrant{minter: minter, settings: settings}
}

// Execute issues the token; the client is already authenticated.
func (uc *ClientCredentialsGrant) Execute(ctx context.Context, client domain.Client, req TokenRequest) (domain.IssuedTokens, error) {
	if client.Public {
		return domain.IssuedTokens{}, domain.ErrUnauthorizedClient.WithDescription("public clients cannot use client_credentials")
	}
	scope, err := requestedScope(client, req.Scope)
	if err != nil {
		return domain.IssuedTokens{}, err
	}
	aud, err := client.Audience(req.Resource, string(uc.settings.Audience))
	if err != nil {
		return domain.IssuedTokens{}, err
	}
	return uc.minter.IssueForClient(ctx, Subject{Client: client, Scope: scope, Audience: aud, JKT: req.DPoPJKT})
}
