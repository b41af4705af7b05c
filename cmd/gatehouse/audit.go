package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// auditEventJSON is one event of `audit list --json`.
type auditEventJSON struct {
	ID      string         `json:"id"`
	Time    time.Time      `json:"time"`
	Type    string         `json:"type"`
	Actor   string         `json:"actor"`
	Target  string         `json:"target"`
	IP      string         `json:"ip"`
	Reason  string         `json:"reason"`
	Details map[string]any `json:"details"`
}

// asCLI marks what the commands of cmd change as done by the command line, for the
// audit log (actor "cli"); the events' log lines are debug lines, so that stderr
// keeps only the command's own messages.
func asCLI(cmd *cobra.Command) *cobra.Command {
	cmd.PersistentPreRun = func(c *cobra.Command, _ []string) {
		c.SetContext(usecase.WithQuietAuditLines(usecase.WithAuditActor(c.Context(), domain.AuditActorCLI)))
	}
	return cmd
}

func auditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit log"}
	var user, typ, since string
	var limit int
	list := &cobra.Command{
		Use:   "list [--user U] [--type T] [--since DURATION] [--limit N]",
		Short: "List audit events, newest first: sign-ins, account changes, admin changes, key rotations",
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := usecase.AuditFilter{Type: typ, Limit: limit}
			if typ != "" && !slices.Contains(domain.AuditTypes, typ) {
				return usagef("--type: unknown event type %q (one of %s)", typ, strings.Join(domain.AuditTypes, ", "))
			}
			if since != "" {
				d, err := time.ParseDuration(since)
				if err != nil || d <= 0 {
					return usagef("--since: %q is not a positive duration (use e.g. 24h, 30m)", since)
				}
				f.Since = time.Now().Add(-d)
			}
			if limit < 1 || limit > 10000 {
				return usagef("--limit: %d is out of range [1, 10000]", limit)
			}
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			if user != "" {
				u, err := be.FindUser(cmd.Context(), user)
				switch {
				case err == nil:
					f.User = u.ID
				case errors.Is(err, domain.ErrNotFound):
					f.User = user // a deleted user's id
				default:
					return err
				}
			}
			events, err := be.AuditEvents(cmd.Context(), f)
			if err != nil {
				return err
			}
			out := make([]auditEventJSON, 0, len(events))
			var b strings.Builder
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tTYPE\tACTOR\tTARGET\tIP\tREASON\tFIELDS")
			for _, e := range events {
				details := e.Details
				if details == nil {
					details = map[string]any{}
				}
				out = append(out, auditEventJSON{ID: e.ID, Time: e.Time, Type: e.Type, Actor: e.Actor, Target: e.Target,
					IP: e.IP, Reason: e.Reason, Details: details})
				fields := ""
				if fs, ok := details["fields"].([]any); ok {
					names := make([]string, 0, len(fs))
					for _, f := range fs {
						names = append(names, fmt.Sprint(f))
					}
					fields = strings.Join(names, ",")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Type, dash(e.Actor),
					dash(e.Target), dash(e.IP), dash(e.Reason), dash(fields))
			}
			tw.Flush()
			return g.print(out, b.String())
		},
	}
	list.Flags().StringVar(&user, "user", "", "only events whose actor or target is this user (id or username)")
	list.Flags().StringVar(&typ, "type", "", "only events of this type (e.g. user.login.failed)")
	list.Flags().StringVar(&since, "since", "", "only events of the last DURATION (e.g. 24h)")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many events")
	cmd.AddCommand(list)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
