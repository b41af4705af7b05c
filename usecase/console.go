package usecase

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gatehouse/domain"
)

// ConsoleClientID is the built-in first-party client the admin console (/admin) signs
// in with: a public client (PKCE) whose only redirect URI is <issuer>/admin/callback,
// with no consent page (it is this server itself).
const ConsoleClientID = "gatehouse-console"

// errConsoleClient refuses to change or delete the console's client: the console
// signs in with it, and start-up would only make it again as it must be.
var errConsoleClient = &ValidationError{Field: "client_id",
	Message: "the admin console's own client cannot be changed or deleted: the console signs in with it"}

// ConsoleClientName is its name, unlikely to be one an administrator chose.
const ConsoleClientName = "Gatehouse admin console (built in)"

// ConsoleRedirectURI is the console's one redirect URI under issuer.
func ConsoleRedirectURI(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/admin/callback"
}

// consoleClient is the console's client as it must be stored for issuer.
func consoleClient(issuer string, now time.Time) domain.Client {
	return domain.Client{
		ID: ConsoleClientID, Name: ConsoleClientName, Public: true,
		RedirectURIs: []string{ConsoleRedirectURI(issuer)},
		GrantTypes:   []string{domain.GrantAuthorizationCode},
		Scopes:       []string{domain.ScopeOpenID},
		SkipConsent:  true, IDTokenAlg: domain.AlgRS256,
		CreatedAt: now, UpdatedAt: now,
	}
}

// EnsureConsoleClient makes sure the console's client is stored as the console needs
// it (start-up). It is a row like any client, because codes and grants reference
// their client. Idempotent, and safe when several instances start at once on one
// database: an insert that loses the race (ErrDuplicate) reads the winner's row. A
// row an administrator changed (redirect URIs, consent, disabled) or a new issuer is
// put back as it must be. Start-up is no admin's change: no audit event.
func (a *Admin) EnsureConsoleClient(ctx context.Context, issuer string) error {
	// Not domain.ValidateClient: every field is a constant but the redirect URI, which
	// is the issuer's own address (checked by the configuration). A plain-http issuer
	// that is not loopback (a test, a private network) fails the registration rule for
	// public clients, yet the console over it is no weaker than the login page the
	// server already serves over it.
	want := consoleClient(issuer, a.clock.Now())
	for attempt := 0; attempt < 3; attempt++ {
		have, err := a.clients.ClientByID(ctx, ConsoleClientID)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			err = a.clients.CreateClient(ctx, want)
			if errors.Is(err, domain.ErrDuplicate) {
				continue // another instance made it meanwhile (or the name is taken)
			}
			if err != nil {
				return fmt.Errorf("create the console client: %w", err)
			}
			return nil
		case err != nil:
			return fmt.Errorf("read the console client: %w", err)
		}
		if consoleClientOK(have, want) {
			return nil
		}
		next := have
		next.Name, next.RedirectURIs, next.GrantTypes, next.Scopes = want.Name, want.RedirectURIs, want.GrantTypes, want.Scopes
		next.SkipConsent, next.Disabled, next.UpdatedAt = true, false, want.UpdatedAt
		next.RequirePAR, next.RequireDPoP, next.Audiences = false, false, nil
		if err := a.clients.UpdateClient(ctx, next); err != nil {
			return fmt.Errorf("repair the console client: %w", err)
		}
		return nil
	}
	return fmt.Errorf("create the console client: the id or the name %q is taken", ConsoleClientName)
}

func consoleClientOK(have, want domain.Client) bool {
	return have.Public && have.SkipConsent && !have.Disabled && !have.RequirePAR && !have.RequireDPoP &&
		slices.Equal(have.RedirectURIs, want.RedirectURIs) && slices.Equal(have.GrantTypes, want.GrantTypes) &&
		slices.Equal(have.Scopes, want.Scopes) && len(have.Audiences) == 0
}
