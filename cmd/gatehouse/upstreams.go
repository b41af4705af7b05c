package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// upstreamJSON is an upstream as `upstreams list --json` and create show it: never
// its secret.
type upstreamJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	Issuer      string    `json:"issuer,omitempty"`
	ClientID    string    `json:"client_id"`
	Scope       string    `json:"scope"`
	APIURL      string    `json:"api_url,omitempty"`
	WebURL      string    `json:"web_url,omitempty"`
	CallbackURL string    `json:"callback_url"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func toUpstreamJSON(u domain.Upstream, callback string) upstreamJSON {
	return upstreamJSON{ID: u.ID, Name: u.Name, Type: u.Type, Issuer: u.Issuer, ClientID: u.ClientID,
		Scope: strings.Join(u.Scopes, " "), APIURL: u.APIURL, WebURL: u.WebURL, CallbackURL: callback,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

// upstreamFlags are the flags of upstreams create and update.
type upstreamFlags struct {
	id, name, kind, issuer, clientID, scope, apiURL, webURL string
	secretStdin                                             bool
}

func (f *upstreamFlags) register(cmd *cobra.Command, create bool) {
	fl := cmd.Flags()
	if create {
		fl.StringVar(&f.id, "id", "", "the upstream's id: lower-case letters, digits, - and _ (in its callback URL)")
		fl.StringVar(&f.kind, "type", "", "oidc (any OpenID Connect provider, by discovery) or github")
	}
	fl.StringVar(&f.name, "name", "", `the name shown on the login page ("Continue with NAME")`)
	fl.StringVar(&f.issuer, "issuer", "", "oidc: the provider's issuer URL (discovery at ISSUER/.well-known/openid-configuration)")
	fl.StringVar(&f.clientID, "client-id", "", "the client id registered at the upstream")
	fl.BoolVar(&f.secretStdin, "client-secret-stdin", false, "read the client secret from the first line of stdin")
	fl.StringVar(&f.scope, "scope", "", `the scopes asked of the upstream (default "openid email profile"; github "read:user user:email")`)
	fl.StringVar(&f.apiURL, "api-url", "", "github: the REST API base (default https://api.github.com; Enterprise: https://HOST/api/v3)")
	fl.StringVar(&f.webURL, "web-url", "", "github: the OAuth base (default https://github.com)")
}

// readSecret reads the client secret from the first line of stdin.
func (g *globals) readSecret() (string, error) {
	line, err := bufio.NewReader(g.streams.in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read client secret from stdin: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", usagef("no client secret on stdin")
	}
	return line, nil
}

// upstreamError turns a use case's refusal into a one-line usage error naming the flag
// (the admin API names it in JSON: client_id is --client-id).
func upstreamError(err error, id string) error {
	var ve *usecase.ValidationError
	if errors.As(err, &ve) {
		return usagef("--%s: %s", strings.ReplaceAll(ve.Field, "_", "-"), ve.Message)
	}
	return notFound(err, "upstream", id)
}

func upstreamsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "upstreams", Short: "Manage upstream identity providers (\"Continue with NAME\" on the login page)"}
	var cf upstreamFlags
	create := &cobra.Command{
		Use: `create --id ID --name "Shown name" --type oidc --issuer URL --client-id C --client-secret-stdin [--scope "openid email profile"]` +
			"\n  gatehouse upstreams create --id ID --name N --type github --client-id C --client-secret-stdin [--api-url URL] [--web-url URL] [--scope S]",
		Short: "Register an upstream identity provider; prints the callback URL to register there",
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case cf.id == "":
				return usagef("--id is required")
			case cf.name == "":
				return usagef("--name is required")
			case cf.kind == "":
				return usagef("--type is required (oidc or github)")
			case cf.clientID == "":
				return usagef("--client-id is required")
			case !cf.secretStdin:
				return usagef("--client-secret-stdin is required: pass the client secret on stdin")
			}
			in := usecase.UpstreamInput{ID: cf.id, Name: cf.name, Type: cf.kind, Issuer: cf.issuer, ClientID: cf.clientID,
				Scopes: strings.Fields(cf.scope), APIURL: cf.apiURL, WebURL: cf.webURL}
			// Checked before the secret is read, so a typo does not eat it.
			probe := in
			probe.ClientSecret = "x"
			if err := checkUpstreamInput(probe); err != nil {
				return err
			}
			secret, err := g.readSecret()
			if err != nil {
				return err
			}
			in.ClientSecret = secret
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			u, err := be.CreateUpstream(cmd.Context(), in)
			if err != nil {
				return upstreamError(err, cf.id)
			}
			cb := be.UpstreamCallbackURL(u.ID)
			text := fmt.Sprintf("created upstream %s (%s)\ncallback URL (register it at the upstream as the redirect URI): %s\n", u.ID, u.Type, cb)
			return g.print(toUpstreamJSON(u, cb), text)
		},
	}
	cf.register(create, true)

	list := &cobra.Command{
		Use:   "list",
		Short: "List upstream identity providers (secrets are never shown)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			ups, err := be.ListUpstreams(cmd.Context())
			if err != nil {
				return err
			}
			out := make([]upstreamJSON, 0, len(ups))
			var b strings.Builder
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tTYPE\tISSUER\tCLIENT_ID\tCALLBACK_URL")
			for _, u := range ups {
				cb := be.UpstreamCallbackURL(u.ID)
				out = append(out, toUpstreamJSON(u, cb))
				where := u.Issuer
				if u.Type == domain.UpstreamGitHub {
					where = u.WebURL
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Name, u.Type, where, u.ClientID, cb)
			}
			tw.Flush()
			return g.print(out, b.String())
		},
	}

	var uf upstreamFlags
	update := &cobra.Command{
		Use:   `update ID [--name N] [--issuer URL] [--client-id C] [--client-secret-stdin] [--scope "a b"] [--api-url URL] [--web-url URL]`,
		Short: "Change an upstream: each flag given replaces that attribute",
		Args:  exactArgs(1, "an upstream id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in usecase.UpstreamUpdate
			str := func(flag string, v string) *string {
				if cmd.Flags().Changed(flag) {
					return &v
				}
				return nil
			}
			in.Name, in.Issuer, in.ClientID = str("name", uf.name), str("issuer", uf.issuer), str("client-id", uf.clientID)
			in.APIURL, in.WebURL = str("api-url", uf.apiURL), str("web-url", uf.webURL)
			if cmd.Flags().Changed("scope") {
				in.Scopes, in.ScopesSet = strings.Fields(uf.scope), true
			}
			if !uf.secretStdin && !in.ScopesSet && in.Name == nil && in.Issuer == nil && in.ClientID == nil && in.APIURL == nil && in.WebURL == nil {
				return usagef("upstreams update needs at least one attribute to change (see upstreams update --help)")
			}
			if uf.secretStdin {
				secret, err := g.readSecret()
				if err != nil {
					return err
				}
				in.ClientSecret = &secret
			}
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			u, err := be.UpdateUpstream(cmd.Context(), args[0], in)
			if err != nil {
				return upstreamError(err, args[0])
			}
			cb := be.UpstreamCallbackURL(u.ID)
			return g.print(toUpstreamJSON(u, cb), "updated upstream "+u.ID+"\n")
		},
	}
	uf.register(update, false)

	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an upstream; the identities linked through it are unlinked",
		Args:  exactArgs(1, "an upstream id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			if err := be.DeleteUpstream(cmd.Context(), args[0]); err != nil {
				return notFound(err, "upstream", args[0])
			}
			return g.print(map[string]string{"id": args[0], "status": "deleted"}, "deleted upstream "+args[0]+"\n")
		},
	}
	cmd.AddCommand(create, list, update, del)
	return cmd
}

// checkUpstreamInput checks the settings the way CreateUpstream will (with GitHub's
// defaults), without a database.
func checkUpstreamInput(in usecase.UpstreamInput) error {
	u := domain.Upstream{ID: in.ID, Name: in.Name, Type: in.Type, Issuer: strings.TrimSuffix(in.Issuer, "/"), ClientID: in.ClientID,
		Scopes: in.Scopes, APIURL: in.APIURL, WebURL: in.WebURL}
	if u.Type == domain.UpstreamGitHub {
		if u.APIURL == "" {
			u.APIURL = domain.GitHubAPIURL
		}
		if u.WebURL == "" {
			u.WebURL = domain.GitHubWebURL
		}
	}
	if field, err := domain.ValidateUpstream(u); err != nil {
		return usagef("--%s: %s", field, err.Error())
	}
	return nil
}
