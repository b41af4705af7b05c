package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gatehouse/domain"
)

// resourceJSON is one resource of `resources list --json` and `resources create --json`.
type resourceJSON struct {
	URI       string    `json:"uri"`
	Name      string    `json:"name"`
	Scopes    []string  `json:"scopes"`
	Open      bool      `json:"open"`
	CreatedAt time.Time `json:"created_at"`
}

func toResourceJSON(r domain.Resource) resourceJSON {
	scopes := r.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return resourceJSON{URI: r.URI, Name: r.Name, Scopes: scopes, Open: r.Open, CreatedAt: r.CreatedAt}
}

// resourcesCmd: the protected resources (APIs, MCP servers) clients may ask tokens
// for with `resource` (RFC 8707).
func resourcesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "resources", Short: "Manage protected resources (APIs, MCP servers) that tokens may be asked for"}
	var in domain.Resource
	create := &cobra.Command{
		Use: "create --uri URI --name N [--scope S]... [--open]",
		Short: "Register a protected resource; --open lets any client ask for it (with the user's consent), " +
			"as dynamically registered MCP clients do",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.localOnly(cmd); err != nil {
				return err
			}
			if in.URI == "" || in.Name == "" {
				return usagef("resources create needs --uri and --name")
			}
			app, cleanup, err := g.openApp(cmd.Context(), needsSchema)
			if err != nil {
				return err
			}
			defer cleanup()
			r, err := app.Resources.Create(cmd.Context(), in)
			if err != nil {
				return err
			}
			open := ""
			if r.Open {
				open = " (open: any client may ask for it, with the user's consent)"
			}
			return g.print(toResourceJSON(r), fmt.Sprintf("created resource %s%s\n", r.URI, open))
		},
	}
	create.Flags().StringVar(&in.URI, "uri", "", "the resource identifier, a `URI`: the value of the resource parameter and of tokens' aud (e.g. https://mcp.example.com/mcp)")
	create.Flags().StringVar(&in.Name, "name", "", "the name the consent page shows")
	create.Flags().StringArrayVar(&in.Scopes, "scope", nil, "a scope the resource understands (repeatable); a request naming an --open resource may ask for it")
	create.Flags().BoolVar(&in.Open, "open", false, "any client may ask for it, with the user's consent")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the protected resources",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.localOnly(cmd); err != nil {
				return err
			}
			app, cleanup, err := g.openApp(cmd.Context(), needsSchema)
			if err != nil {
				return err
			}
			defer cleanup()
			rs, err := app.Resources.List(cmd.Context())
			if err != nil {
				return err
			}
			out := make([]resourceJSON, 0, len(rs))
			var b strings.Builder
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "URI\tNAME\tSCOPES\tOPEN\tCREATED")
			for _, r := range rs {
				out = append(out, toResourceJSON(r))
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", r.URI, r.Name, dash(strings.Join(r.Scopes, " ")), r.Open,
					r.CreatedAt.Format(time.RFC3339))
			}
			tw.Flush()
			return g.print(out, b.String())
		},
	}
	del := &cobra.Command{
		Use:   "delete URI",
		Short: "Delete a protected resource (tokens already issued for it stay valid until they expire)",
		Args:  exactArgs(1, "a resource URI"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.localOnly(cmd); err != nil {
				return err
			}
			app, cleanup, err := g.openApp(cmd.Context(), needsSchema)
			if err != nil {
				return err
			}
			defer cleanup()
			if err := app.Resources.Delete(cmd.Context(), args[0]); err != nil {
				return notFound(err, "resource", args[0])
			}
			return g.print(map[string]string{"uri": args[0], "status": "deleted"}, "deleted resource "+args[0]+"\n")
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}
