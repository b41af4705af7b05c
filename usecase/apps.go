package usecase

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"gatehouse/domain"
)

// ConnectedApps are the clients a user let act for them (by consent), as the account
// page lists them, and their revocation.
type ConnectedApps struct {
	consents ConsentStore
	clients  ClientStore
	tokens   TokenStore
	clock    Clock
	audit    *Audit
}

// NewConnectedApps builds the connected-apps use cases.
func NewConnectedApps(consents ConsentStore, clients ClientStore, tokens TokenStore, clock Clock, audit *Audit) *ConnectedApps {
	return &ConnectedApps{consents: consents, clients: clients, tokens: tokens, clock: clock, audit: audit}
}

// ConnectedApp is one client the user consented to: every scope its consents grant
// (a public client's are per redirect URI; they are shown together), and when the
// latest was given.
type ConnectedApp struct {
	ClientID   string
	ClientName string
	Scopes     []ScopeView
	GrantedAt  time.Time
}

// List returns the user's connected apps, the most recently granted first.
func (uc *ConnectedApps) List(ctx context.Context, userID string) ([]ConnectedApp, error) {
	consents, err := uc.consents.UserConsents(ctx, userID)
	if err != nil {
		return nil, err
	}
	byClient := map[string]*ConnectedApp{}
	var order []string
	for _, c := range consents {
		app := byClient[c.ClientID]
		if app == nil {
			app = &ConnectedApp{ClientID: c.ClientID}
			byClient[c.ClientID] = app
			order = append(order, c.ClientID)
		}
		for _, sc := range c.Scope {
			if !slices.ContainsFunc(app.Scopes, func(v ScopeView) bool { return v.Name == sc }) {
				app.Scopes = append(app.Scopes, ScopeView{Name: sc, Description: domain.DescribeScope(sc)})
			}
		}
		if c.GrantedAt.After(app.GrantedAt) {
			app.GrantedAt = c.GrantedAt
		}
	}
	apps := make([]ConnectedApp, 0, len(order))
	for _, id := range order {
		client, err := uc.clients.ClientByID(ctx, id)
		if errors.Is(err, domain.ErrNotFound) {
			continue // deleted meanwhile: its consents go with it
		}
		if err != nil {
			return nil, fmt.Errorf("look up a connected app: %w", err)
		}
		app := byClient[id]
		app.ClientName = client.Name
		apps = append(apps, *app)
	}
	sort.SliceStable(apps, func(i, j int) bool { return apps[i].GrantedAt.After(apps[j].GrantedAt) })
	return apps, nil
}

// Revoke disconnects a connected app: the user's consents for the client go (its next
// authorization asks again), and every grant of the user to it is revoked — refresh
// tokens, the access tokens of their families, codes and device authorizations not
// redeemed yet. The grants are revoked before and after the consents go: a code
// issued under the consent while it was being deleted is caught by the second pass.
// It returns the app's name; ErrNotFound when the user has no consent for clientID.
func (uc *ConnectedApps) Revoke(ctx context.Context, userID, clientID string) (string, error) {
	apps, err := uc.List(ctx, userID)
	if err != nil {
		return "", err
	}
	i := slices.IndexFunc(apps, func(a ConnectedApp) bool { return a.ClientID == clientID })
	if i < 0 || clientID == "" {
		return "", domain.ErrNotFound
	}
	if err := uc.tokens.RevokeGrantFamilies(ctx, userID, clientID, uc.clock.Now()); err != nil {
		return "", fmt.Errorf("revoke the app's tokens: %w", err)
	}
	if err := uc.consents.DeleteConsents(ctx, userID, clientID); err != nil {
		return "", fmt.Errorf("delete the app's consents: %w", err)
	}
	if err := uc.tokens.RevokeGrantFamilies(ctx, userID, clientID, uc.clock.Now()); err != nil {
		return "", fmt.Errorf("revoke the app's tokens: %w", err)
	}
	uc.audit.Note(ctx, domain.AuditEvent{Type: domain.AuditConsentRevoked, Actor: userID, Target: clientID})
	return apps[i].ClientName, nil
}
