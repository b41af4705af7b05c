package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gatehouse/adapter/adminapi"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// What a user has given out and may lose: sessions, consents and upstream
// identities (users sessions / end-session, consents / revoke-consent,
// identities / unlink), as the admin API's users/{id}/… and the console show them.

// The lists print the admin API's resources (adminapi.SessionResource, …), so that
// --json is the same with and without --server, and the same as the API.

// The local side.

func (l localAdmin) UserSessions(ctx context.Context, userID string) ([]adminapi.SessionResource, error) {
	all, err := l.app.AdminResources.UserSessions(ctx, userID)
	return convert(all, adminapi.ToSession), err
}

func (l localAdmin) EndSession(ctx context.Context, userID, sessionID string) error {
	s, err := l.app.AdminResources.Session(ctx, sessionID)
	if err != nil {
		return err
	}
	if s.UserID != userID {
		return fmt.Errorf("session %q of user %q: %w", sessionID, userID, domain.ErrNotFound)
	}
	return l.app.AdminResources.EndSession(ctx, sessionID)
}

func (l localAdmin) UserConsents(ctx context.Context, userID string) ([]adminapi.ConsentResource, error) {
	all, err := l.app.AdminResources.UserConsents(ctx, userID)
	return convert(all, adminapi.ToConsent), err
}

func (l localAdmin) RevokeConsent(ctx context.Context, userID, clientID string) error {
	return l.app.AdminResources.RevokeConsent(ctx, userID, clientID)
}

func (l localAdmin) UserIdentities(ctx context.Context, userID string) ([]adminapi.IdentityResource, error) {
	all, err := l.app.Upstreams.UserLinks(ctx, userID)
	slices.SortFunc(all, usecase.IdentityOrder) // the admin API's order
	return convert(all, adminapi.ToIdentity), err
}

// orEmpty is in, or an empty list for nil (--json prints [], not null).
func orEmpty[T any](in []T) []T {
	if in == nil {
		return []T{}
	}
	return in
}

// convert maps each of in with f.
func convert[T, R any](in []T, f func(T) R) []R {
	out := make([]R, len(in))
	for i, x := range in {
		out[i] = f(x)
	}
	return out
}

func (l localAdmin) UnlinkIdentity(ctx context.Context, userID, upstreamID string) error {
	err := l.app.Upstreams.AdminUnlink(ctx, userID, upstreamID)
	l.app.Accounts.Wait() // the mail to the user is queued before the process ends
	return err
}

// The remote side: the admin API.

func (r *remoteAdmin) userPath(userID, rest string) string {
	return "/users/" + url.PathEscape(userID) + rest
}

func (r *remoteAdmin) UserSessions(ctx context.Context, userID string) ([]adminapi.SessionResource, error) {
	return remoteList[adminapi.SessionResource](ctx, r, r.userPath(userID, "/sessions"))
}

func (r *remoteAdmin) EndSession(ctx context.Context, userID, sessionID string) error {
	var s adminapi.SessionResource
	if _, err := r.call(ctx, http.MethodGet, "/sessions/"+url.PathEscape(sessionID), nil, "", "", &s); err != nil {
		return err
	}
	if s.UserID != userID {
		return fmt.Errorf("session %q of user %q: %w", sessionID, userID, domain.ErrNotFound)
	}
	_, err := r.call(ctx, http.MethodDelete, "/sessions/"+url.PathEscape(sessionID), nil, "", "", nil)
	return err
}

func (r *remoteAdmin) UserConsents(ctx context.Context, userID string) ([]adminapi.ConsentResource, error) {
	return remoteList[adminapi.ConsentResource](ctx, r, r.userPath(userID, "/consents"))
}

func (r *remoteAdmin) RevokeConsent(ctx context.Context, userID, clientID string) error {
	_, err := r.call(ctx, http.MethodDelete, r.userPath(userID, "/consents/"+url.PathEscape(clientID)), nil, "", "", nil)
	return err
}

func (r *remoteAdmin) UserIdentities(ctx context.Context, userID string) ([]adminapi.IdentityResource, error) {
	return remoteList[adminapi.IdentityResource](ctx, r, r.userPath(userID, "/identities"))
}

func (r *remoteAdmin) UnlinkIdentity(ctx context.Context, userID, upstreamID string) error {
	_, err := r.call(ctx, http.MethodDelete, r.userPath(userID, "/identities/"+url.PathEscape(upstreamID)), nil, "", "", nil)
	return err
}

// The commands.

// userGrantCommands are the users subcommands for a user's sessions, consents and
// upstream identities.
func userGrantCommands(g *globals) []*cobra.Command {
	// withUser runs fn with the backend and the user U names.
	withUser := func(cmd *cobra.Command, ref string, fn func(be adminBackend, u domain.User) error) error {
		be, cleanup, err := g.openAdmin(cmd.Context())
		if err != nil {
			return err
		}
		defer cleanup()
		u, err := findUser(cmd.Context(), be, ref)
		if err != nil {
			return err
		}
		return fn(be, u)
	}
	sessions := &cobra.Command{
		Use:   "sessions U",
		Short: "List a user's live sign-in sessions, most recently seen first (U: a user id or a username)",
		Args:  exactArgs(1, "a user id or username"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUser(cmd, args[0], func(be adminBackend, u domain.User) error {
				all, err := be.UserSessions(cmd.Context(), u.ID)
				if err != nil {
					return err
				}
				var b strings.Builder
				tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSIGNED IN\tLAST SEEN\tEXPIRES\tADDRESS\tAMR\tUSER AGENT")
				for _, j := range all {
					seen := "-"
					if j.LastSeenAt != nil {
						seen = j.LastSeenAt.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.AuthTime.Format(time.RFC3339), seen,
						j.ExpiresAt.Format(time.RFC3339), dash(j.Address), dash(strings.Join(j.AMR, " ")), dash(j.UserAgent))
				}
				tw.Flush()
				return g.print(orEmpty(all), b.String())
			})
		},
	}
	consents := &cobra.Command{
		Use:   "consents U",
		Short: "List the applications a user has consented to, and the scopes (U: a user id or a username)",
		Args:  exactArgs(1, "a user id or username"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUser(cmd, args[0], func(be adminBackend, u domain.User) error {
				all, err := be.UserConsents(cmd.Context(), u.ID)
				if err != nil {
					return err
				}
				var b strings.Builder
				tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CLIENT\tREDIRECT URI\tSCOPE\tGRANTED")
				for _, j := range all {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", j.ClientID, dash(j.RedirectURI), dash(j.Scope), j.GrantedAt.Format(time.RFC3339))
				}
				tw.Flush()
				return g.print(orEmpty(all), b.String())
			})
		},
	}
	identities := &cobra.Command{
		Use:   "identities U",
		Short: "List the upstream accounts (sign-in providers) linked to a user (U: a user id or a username)",
		Args:  exactArgs(1, "a user id or username"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUser(cmd, args[0], func(be adminBackend, u domain.User) error {
				all, err := be.UserIdentities(cmd.Context(), u.ID)
				if err != nil {
					return err
				}
				var b strings.Builder
				tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "UPSTREAM\tNAME\tSUBJECT\tEMAIL\tLINKED\tLAST USED")
				for _, j := range all {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.UpstreamID, j.UpstreamName, j.Subject, dash(j.Email),
						j.CreatedAt.Format(time.RFC3339), j.LastUsedAt.Format(time.RFC3339))
				}
				tw.Flush()
				return g.print(orEmpty(all), b.String())
			})
		},
	}
	// action is a command U ID that takes one thing (ID, named key in --json) away
	// from user U; missing says the user has none such (exit 2).
	action := func(use, short, what, key, status, missing string, do func(be adminBackend, ctx context.Context, userID, id string) error,
		done func(userID, id string) string) *cobra.Command {
		return &cobra.Command{
			Use:   use,
			Short: short,
			Args:  exactArgs(2, "a user id or username and "+what),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withUser(cmd, args[0], func(be adminBackend, u domain.User) error {
					if err := do(be, cmd.Context(), u.ID, args[1]); err != nil {
						if errors.Is(err, domain.ErrNotFound) {
							return usagef("user %s has no %s %q", u.ID, missing, args[1])
						}
						return err
					}
					return g.print(map[string]string{"id": u.ID, key: args[1], "status": status}, done(u.ID, args[1])+"\n")
				})
			},
		}
	}
	endSession := action("end-session U SESSION_ID",
		"End one of a user's sessions as a sign-out does: its refresh tokens are revoked and its applications told by back-channel logout",
		"a session id", "session_id", "ended", "session with id", adminBackend.EndSession,
		func(user, id string) string { return "ended session " + id + " of user " + user })
	revokeConsent := action("revoke-consent U CLIENT_ID",
		"Take back a user's consent to an application and revoke every token of the user for it; the next sign-in asks again",
		"a client id", "client_id", "revoked", "consent for client", adminBackend.RevokeConsent,
		func(user, id string) string { return "revoked the consent of user " + user + " for client " + id })
	unlink := action("unlink U UPSTREAM_ID",
		"Unlink a user's account at an upstream provider: it no longer signs in to this user; the user is told by mail",
		"an upstream id", "upstream_id", "unlinked", "identity at upstream", adminBackend.UnlinkIdentity,
		func(user, id string) string { return "unlinked upstream " + id + " from user " + user })
	return []*cobra.Command{sessions, endSession, consents, revokeConsent, identities, unlink}
}
