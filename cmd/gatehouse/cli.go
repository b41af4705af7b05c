package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"gatehouse/adapter/httpapi"
	"gatehouse/adapter/mail"
	"gatehouse/domain"
	"gatehouse/infrastructure/config"
	"gatehouse/infrastructure/database"
	"gatehouse/infrastructure/server"
	"gatehouse/usecase"
)

// Exit statuses: 2 for bad input (flags, arguments, configuration, validation), 1 for
// failures at run time (SPEC "Command line").
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks bad input: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// globals are the flags every command takes.
type globals struct {
	configPath string
	json       bool
	// server: the admin commands go through this server's admin API (--server).
	server  string
	env     config.Env
	streams streams
	// command is the command running (set before its RunE): openApp refuses to open
	// the database for it with --server, naming it as localOnly does.
	command *cobra.Command
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer, env config.Env) int {
	g := &globals{env: env, streams: streams{in: stdin, out: stdout, err: stderr}}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	line := errorLine(err)
	if errors.Is(err, database.ErrInvalidURL) && !strings.Contains(line, "GATEHOUSE_DATABASE_URL") {
		// An option the URL's driver or pool refuses (max_open_conns=-3, sslmode=bogus):
		// bad input, named by the variable as every other refused setting is.
		line = "GATEHOUSE_DATABASE_URL: " + line
	}
	fmt.Fprintln(stderr, "gatehouse: "+oneLine(line))
	if isUsage(err) {
		return exitUsage
	}
	return exitFailure
}

// isUsage tells bad input from run-time failure.
func isUsage(err error) bool {
	var ue *usageError
	var ce *config.Error
	var ve *usecase.ValidationError
	var fe *domain.FieldError
	var le *server.ListenError
	var te *httpapi.TemplateError // GATEHOUSE_TEMPLATES_DIR holds a template that does not parse
	switch {
	case errors.As(err, &ue), errors.As(err, &ce), errors.As(err, &ve), errors.As(err, &fe), errors.As(err, &le), errors.As(err, &te):
		return true
	case errors.Is(err, domain.ErrNotFound), errors.Is(err, domain.ErrKeyPending):
		return true
	case database.IsUnknownDatabase(err): // GATEHOUSE_DATABASE_URL names no database of the server
		return true
	case errors.Is(err, database.ErrInvalidURL):
		return true
	}
	return false
}

// errorLine is the text of err for the command line: a client field the domain
// names as RFC 7591 does (domain.FieldError) is named by the flag that sets it.
func errorLine(err error) string {
	var fe *domain.FieldError
	if !errors.As(err, &fe) {
		return err.Error()
	}
	return strings.Replace(err.Error(), fe.Error(), fe.Text(flagOfField), 1)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.ReplaceAll(s, "\n", " ")
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "Gatehouse: an OAuth 2.0 and OpenID Connect authorization server",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "configuration file (YAML); GATEHOUSE_* variables override it")
	root.PersistentFlags().BoolVar(&g.json, "json", false, "machine-readable JSON output")
	root.PersistentFlags().StringVar(&g.server, "server", "",
		"run admin commands on this server through its admin API (with GATEHOUSE_ADMIN_CLIENT_ID and GATEHOUSE_ADMIN_CLIENT_SECRET); "+
			"the commands it does not offer (serve, migrate, scopes, resources, keys revoke, users set-password) refuse it")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return flagError(err) })
	root.AddCommand(serveCmd(g), migrateCmd(g), asCLI(usersCmd(g)), asCLI(clientsCmd(g)), asCLI(keysCmd(g)), auditCmd(g),
		versionCmd(g), asCLI(upstreamsCmd(g)), asCLI(resourcesCmd(g)), asCLI(scopesCmd(g)))
	root.CompletionOptions.DisableDefaultCmd = true
	// Unknown subcommands and stray arguments are bad input too (exit 2), also for
	// command groups such as `users`, which would otherwise print help and succeed.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Args == nil {
			c.Args = noArgs
		}
		if c.HasSubCommands() && c.RunE == nil {
			c.RunE = func(cmd *cobra.Command, args []string) error {
				return usagef("%s needs a subcommand (see %s --help)", cmd.CommandPath(), cmd.CommandPath())
			}
		}
		if runE := c.RunE; runE != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error {
				g.command = cmd
				return runE(cmd, args)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return root
}

// flagError is a flag the command line could not take, as bad input (exit 2). A
// boolean flag given another value is named as the configuration names a bad boolean
// (`--disabled: "maybe" is not a boolean (use true or false)`), not by strconv.
func flagError(err error) error {
	var ive *pflag.InvalidValueError
	if errors.As(err, &ive) && ive.GetFlag() != nil && ive.GetFlag().Value.Type() == "bool" {
		return usagef("--%s: %q is not a boolean (use true or false)", ive.GetFlag().Name, ive.GetValue())
	}
	return usagef("%v", err)
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if cmd.HasSubCommands() {
			return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
		}
		return usagef("%s takes no arguments", cmd.CommandPath())
	}
	return nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < n:
			return usagef("%s needs %s", cmd.CommandPath(), what)
		case len(args) > n:
			return usagef("%s takes only %s (%d arguments given)", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}

// loadConfig reads and checks the configuration for a command. It touches no file:
// the SQLite secret key file and the database come after (prepareDatabase).
func (g *globals) loadConfig() (config.Config, error) {
	cfg, err := config.Load(g.configPath, g.env)
	if err != nil {
		return config.Config{}, err
	}
	if err := cfg.ResolveKeyActivationDelay(httpapi.JWKSMaxAge); err != nil {
		return config.Config{}, err
	}
	if !cfg.IsSQLite() {
		// PostgreSQL and MariaDB need the key configured (no file is read or written):
		// a configuration error like the others, reported before serve listens.
		if err := cfg.ReadSecretKey(); err != nil {
			return config.Config{}, err
		}
	}
	// The dynamic registration policy follows the use case's rules; a bad one stops
	// start-up even while registration is off, so turning it on cannot fail later.
	if err := usecase.ValidateRegistrationScopes(cfg.DynamicRegistrationScopes); err != nil {
		return config.Config{}, cfg.Invalid("dynamic_registration_scopes", err.Error())
	}
	if err := usecase.ValidateRegistrationGrantTypes(cfg.DynamicRegistrationGrantTypes); err != nil {
		return config.Config{}, cfg.Invalid("dynamic_registration_grant_types", err.Error())
	}
	// The problem only: the URL may hold the SMTP password.
	if _, err := mail.ParseSMTPURL(cfg.SMTPURL); cfg.SMTPURL != "" && err != nil {
		return config.Config{}, cfg.Invalid("smtp_url", err.Error())
	}
	return cfg, nil
}

// print writes v as JSON with --json, else text as given.
func (g *globals) print(v any, text string) error {
	if g.json {
		enc := json.NewEncoder(g.streams.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := io.WriteString(g.streams.out, text)
	return err
}

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.print(map[string]string{"version": version}, "gatehouse "+version+"\n")
		},
	}
}

// localOnly refuses --server for a command the admin API does not offer. Such a
// command calls it first, before it reads stdin or checks its flags; openApp calls it
// too, so that no command acts on the local database when --server names another.
func (g *globals) localOnly(cmd *cobra.Command) error {
	if g.server != "" {
		return errLocalOnly(cmd.CommandPath())
	}
	return nil
}

// errLocalOnly is localOnly's refusal of command (e.g. "gatehouse migrate down").
func errLocalOnly(command string) error {
	return usagef("%s works on the database only, not with --server", command)
}
