package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gatehouse/domain"
)

// scopeJSON is one scope of `scopes list --json` and `scopes create --json`.
type scopeJSON struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Localized   map[string]string `json:"descriptions"`
	CreatedAt   time.Time         `json:"created_at"`
}

func toScopeJSON(s domain.ScopeInfo) scopeJSON {
	loc := s.Localized
	if loc == nil {
		loc = map[string]string{}
	}
	return scopeJSON{Name: s.Name, Description: s.Description, Localized: loc, CreatedAt: s.CreatedAt}
}

// scopesCmd: the descriptions the consent page shows for custom scopes, in each
// language of the pages.
func scopesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "scopes", Short: "Describe custom scopes for the consent page, in each language"}
	var in domain.ScopeInfo
	localized := map[string]*string{}
	create := &cobra.Command{
		Use:   "create --name S --description TEXT [--description-LOCALE TEXT]...",
		Short: "Describe a scope: the consent page shows the description (in the page's language) instead of its name",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.localOnly(cmd); err != nil {
				return err
			}
			if in.Name == "" || in.Description == "" {
				return usagef("scopes create needs --name and --description")
			}
			in.Localized = map[string]string{}
			for lang, v := range localized {
				if cmd.Flags().Changed("description-" + lang) {
					in.Localized[lang] = *v
				}
			}
			app, cleanup, err := g.openApp(cmd.Context(), needsSchema)
			if err != nil {
				return err
			}
			defer cleanup()
			s, err := app.Scopes.Create(cmd.Context(), in)
			if err != nil {
				return err
			}
			return g.print(toScopeJSON(s), fmt.Sprintf("described scope %s\n", s.Name))
		},
	}
	create.Flags().StringVar(&in.Name, "name", "", "the scope, as clients ask for it (e.g. api:read)")
	create.Flags().StringVar(&in.Description, "description", "", "what the scope allows, in English, as the consent page shows it")
	for _, lang := range domain.ScopeDescriptionLocales {
		v := new(string)
		localized[lang] = v
		create.Flags().StringVar(v, "description-"+lang, "", "the description in "+languageName(lang))
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the described scopes",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.localOnly(cmd); err != nil {
				return err
			}
			app, cleanup, err := g.openApp(cmd.Context(), needsSchema)
			if err != nil {
				return err
			}
			defer cleanup()
			ss, err := app.Scopes.List(cmd.Context())
			if err != nil {
				return err
			}
			out := make([]scopeJSON, 0, len(ss))
			var b strings.Builder
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDESCRIPTION\tLANGUAGES\tCREATED")
			for _, s := range ss {
				out = append(out, toScopeJSON(s))
				langs := make([]string, 0, len(s.Localized))
				for l := range s.Localized {
					langs = append(langs, l)
				}
				sort.Strings(langs)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Description, dash(strings.Join(append([]string{"en"}, langs...), " ")),
					s.CreatedAt.Format(time.RFC3339))
			}
			tw.Flush()
			return g.print(out, b.String())
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a scope's description (the consent page names the scope again)",
		Args:  exactArgs(1, "a scope name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.localOnly(cmd); err != nil {
				return err
			}
			app, cleanup, err := g.openApp(cmd.Context(), needsSchema)
			if err != nil {
				return err
			}
			defer cleanup()
			if err := app.Scopes.Delete(cmd.Context(), args[0]); err != nil {
				return notFound(err, "scope", args[0])
			}
			return g.print(map[string]string{"name": args[0], "status": "deleted"}, "deleted scope "+args[0]+"\n")
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

// languageName names a language of the pages in English, for flag help.
func languageName(tag string) string {
	switch tag {
	case "de":
		return "German"
	case "fr":
		return "French"
	case "es":
		return "Spanish"
	case "ja":
		return "Japanese"
	}
	return tag
}
