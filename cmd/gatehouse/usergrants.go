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

	"gatehouse/domain"
	"gatehouse/usecase"
)

// What a user has given out and may lose: sessions, consents and upstream
// identities (users sessions / end-session, consents / revoke-consent,
// identities / unlink), as the admin API's users/{id}/… and the console show them.

// sessionJSON is a session as `users sessions --json` and the admin API show it.
type sessionJSON struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	AuthTime   time.Time  `json:"auth_time"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastSeenAt *time.Time `json:"last_seen_at,omitempty"`
	UserAgent  string     `json:"user_agent,omitempty"`
	Address    string     `json:"address,omitempty"`
	AMR        []string   `json:"amr"`
}

func toSessionJSON(s domain.Session) sessionJSON {
	out := sessionJSON{ID: s.ID, UserID: s.UserID, AuthTime: s.AuthTime.UTC(), CreatedAt: s.CreatedAt.UTC(),
		ExpiresAt: s.ExpiresAt.UTC(), UserAgent: s.UserAgent, Address: s.Address, AMR: s.AMR}
	if out.AMR == nil {
		out.AMR = []string{}
	}
	if !s.LastSeenAt.IsZero() {
		t := s.LastSeenAt.UTC()
		out.LastSeenAt = &t
	}
	return out
}

func (s sessionJSON) domain() domain.Session {
	out := domain.Session{ID: s.ID, UserID: s.UserID, AuthTime: s.AuthTime, CreatedAt: s.CreatedAt,
		ExpiresAt: s.ExpiresAt, UserAgent: s.UserAgent, Address: s.Address, AMR: s.AMR}
	if s.LastSeenAt != nil {
		out.LastSeenAt = *s.LastSeenAt
	}
	return out
}

// consentJSON is a consent as `users consents --json` and the admin API show it.
type consentJSON struct {
	ClientID    string    `json:"client_id"`
	RedirectURI string    `json:"redirect_uri,omitempty"`
	Scope       string    `json:"scope"`
	GrantedAt   time.Time `json:"granted_at"`
}

func toConsentJSON(c domain.Consent) consentJSON {
	return consentJSON{ClientID: c.ClientID, RedirectURI: c.RedirectURI, Scope: domain.ScopeString(c.Scope),
		GrantedAt: c.GrantedAt.UTC()}
}

func (c consentJSON) domain() domain.Consent {
	return domain.Consent{ClientID: c.ClientID, RedirectURI: c.RedirectURI, Scope: strings.Fields(c.Scope),
		GrantedAt: c.GrantedAt}
}

// identityJSON is an upstream identity as `users identities --json` and the admin
// API show it.
type identityJSON struct {
	UpstreamID   string    `json:"upstream_id"`
	UpstreamName string    `json:"upstream_name"`
	Subject      string    `json:"subject"`
	Email        string    `json:"email,omitempty"`
	Username     string    `json:"username,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	LastUsedAt   time.Time `json:"last_used_at"`
}

func toIdentityJSON(l usecase.LinkedView) identityJSON {
	return identityJSON{UpstreamID: l.UpstreamID, UpstreamName: l.UpstreamName, Subject: l.Subject, Email: l.Email,
		Username: l.Username, CreatedAt: l.CreatedAt.UTC(), LastUsedAt: l.LastUsedAt.UTC()}
}

func (i identityJSON) domain() usecase.LinkedView {
	return usecase.LinkedView{LinkedIdentity: domain.LinkedIdentity{UpstreamID: i.UpstreamID, Subject: i.Subject,
		Email: i.Email, Username: i.Username, CreatedAt: i.CreatedAt, LastUsedAt: i.LastUsedAt}, UpstreamName: i.UpstreamName}
}

// The local side.

func (l localAdmin) UserSessions(ctx context.Context, userID string) ([]domain.Session, error) {
	return l.app.AdminResources.UserSessions(ctx, userID)
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

func (l localAdmin) UserConsents(ctx context.Context, userID string) ([]domain.Consent, error) {
	return l.app.AdminResources.UserConsents(ctx, userID)
}

func (l localAdmin) RevokeConsent(ctx context.Context, userID, clientID string) error {
	return l.app.AdminResources.RevokeConsent(ctx, userID, clientID)
}

func (l localAdmin) UserIdentities(ctx context.Context, userID string) ([]usecase.LinkedView, error) {
	return l.app.Upstreams.UserLinks(ctx, userID)
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

func (r *remoteAdmin) UserSessions(ctx context.Context, userID string) ([]domain.Session, error) {
	items, err := remoteList[sessionJSON](ctx, r, r.userPath(userID, "/sessions"))
	if err != nil {
		return nil, err
	}
	out := make([]domain.Session, len(items))
	for i, s := range items {
		out[i] = s.domain()
	}
	return out, nil
}

func (r *remoteAdmin) EndSession(ctx context.Context, userID, sessionID string) error {
	var s sessionJSON
	if _, err := r.call(ctx, http.MethodGet, "/sessions/"+url.PathEscape(sessionID), nil, "", "", &s); err != nil {
		return err
	}
	if s.UserID != userID {
		return fmt.Errorf("session %q of user %q: %w", sessionID, userID, domain.ErrNotFound)
	}
	_, err := r.call(ctx, http.MethodDelete, "/sessions/"+url.PathEscape(sessionID), nil, "", "", nil)
	return err
}

func (r *remoteAdmin) UserConsents(ctx context.Context, userID string) ([]domain.Consent, error) {
	items, err := remoteList[consentJSON](ctx, r, r.userPath(userID, "/consents"))
	if err != nil {
		return nil, err
	}
	out := make([]domain.Consent, len(items))
	for i, c := range items {
		out[i] = c.domain()
	}
	return out, nil
}

func (r *remoteAdmin) RevokeConsent(ctx context.Context, userID, clientID string) error {
	_, err := r.call(ctx, http.MethodDelete, r.userPath(userID, "/consents/"+url.PathEscape(clientID)), nil, "", "", nil)
	return err
}

func (r *remoteAdmin) UserIdentities(ctx context.Context, userID string) ([]usecase.LinkedView, error) {
	items, err := remoteList[identityJSON](ctx, r, r.userPath(userID, "/identities"))
	if err != nil {
		return nil, err
	}
	out := make([]usecase.LinkedView, len(items))
	for i, l := range items {
		out[i] = l.domain()
	}
	return out, nil
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
	// gone turns a missing row into a one-line usage error.
	gone := func(err error, format string, args ...any) error {
		if errors.Is(err, domain.ErrNotFound) {
			return usagef(format, args...)
		}
		return err
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
				out := make([]sessionJSON, 0, len(all))
				var b strings.Builder
				tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSIGNED IN\tLAST SEEN\tEXPIRES\tADDRESS\tAMR\tUSER AGENT")
				for _, s := range all {
					j := toSessionJSON(s)
					out = append(out, j)
					seen := "-"
					if j.LastSeenAt != nil {
						seen = j.LastSeenAt.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.AuthTime.Format(time.RFC3339), seen,
						j.ExpiresAt.Format(time.RFC3339), dash(j.Address), dash(strings.Join(j.AMR, " ")), dash(j.UserAgent))
				}
				tw.Flush()
				return g.print(out, b.String())
			})
		},
	}
	endSession := &cobra.Command{
		Use:   "end-session U SESSION_ID",
		Short: "End one of a user's sessions as a sign-out does: its refresh tokens are revoked and its applications told by back-channel logout",
		Args:  exactArgs(2, "a user id or username and a session id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUser(cmd, args[0], func(be adminBackend, u domain.User) error {
				if err := be.EndSession(cmd.Context(), u.ID, args[1]); err != nil {
					return gone(err, "user %s has no session with id %q", u.ID, args[1])
				}
				return g.print(map[string]string{"id": u.ID, "session_id": args[1], "status": "ended"},
					"ended session "+args[1]+" of user "+u.ID+"\n")
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
				out := make([]consentJSON, 0, len(all))
				var b strings.Builder
				tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CLIENT\tREDIRECT URI\tSCOPE\tGRANTED")
				for _, c := range all {
					j := toConsentJSON(c)
					out = append(out, j)
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", j.ClientID, dash(j.RedirectURI), dash(j.Scope), j.GrantedAt.Format(time.RFC3339))
				}
				tw.Flush()
				return g.print(out, b.String())
			})
		},
	}
	revokeConsent := &cobra.Command{
		Use:   "revoke-consent U CLIENT_ID",
		Short: "Take back a user's consent to an application and revoke every token of the user for it; the next sign-in asks again",
		Args:  exactArgs(2, "a user id or username and a client id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUser(cmd, args[0], func(be adminBackend, u domain.User) error {
				if err := be.RevokeConsent(cmd.Context(), u.ID, args[1]); err != nil {
					return gone(err, "user %s has no consent for client %q", u.ID, args[1])
				}
				return g.print(map[string]string{"id": u.ID, "client_id": args[1], "status": "revoked"},
					"revoked the consent of user "+u.ID+" for client "+args[1]+"\n")
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
				slices.SortFunc(all, usecase.IdentityOrder) // the admin API's order
				out := make([]identityJSON, 0, len(all))
				var b strings.Builder
				tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "UPSTREAM\tNAME\tSUBJECT\tEMAIL\tLINKED\tLAST USED")
				for _, l := range all {
					j := toIdentityJSON(l)
					out = append(out, j)
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.UpstreamID, j.UpstreamName, j.Subject, dash(j.Email),
						j.CreatedAt.Format(time.RFC3339), j.LastUsedAt.Format(time.RFC3339))
				}
				tw.Flush()
				return g.print(out, b.String())
			})
		},
	}
	unlink := &cobra.Command{
		Use:   "unlink U UPSTREAM_ID",
		Short: "Unlink a user's account at an upstream provider: it no longer signs in to this user; the user is told by mail",
		Args:  exactArgs(2, "a user id or username and an upstream id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUser(cmd, args[0], func(be adminBackend, u domain.User) error {
				if err := be.UnlinkIdentity(cmd.Context(), u.ID, args[1]); err != nil {
					return gone(err, "user %s has no identity at upstream %q", u.ID, args[1])
				}
				return g.print(map[string]string{"id": u.ID, "upstream_id": args[1], "status": "unlinked"},
					"unlinked upstream "+args[1]+" from user "+u.ID+"\n")
			})
		},
	}
	return []*cobra.Command{sessions, endSession, consents, revokeConsent, identities, unlink}
}
