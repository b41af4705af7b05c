package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"gatehouse/adapter/httpapi"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/token"
	"gatehouse/domain"
	"gatehouse/infrastructure/config"
	"gatehouse/usecase"
)

// access is what a command may do to its database.
type access int

const (
	// mayCreate: serve and migrate up may create the database (with SQLite its file,
	// its directory and the secret key beside it) and its schema.
	mayCreate access = iota
	// mustExist: the database must exist; nothing is created (migrate status, down).
	mustExist
	// needsSchema: the database must exist and hold Gatehouse's schema (every admin
	// command); pending migrations are applied unless GATEHOUSE_AUTO_MIGRATE=false.
	needsSchema
)

// openApp loads the configuration and builds the application on a database the
// command may use as a says. Only serve and migrate up create a database: any other
// command run from the wrong directory, say, would otherwise fill a new empty one.
func (g *globals) openApp(ctx context.Context, a access) (*App, func(), error) {
	if g.server != "" {
		// Only openAdmin goes to --server; a command opening the database with it
		// would act on the local one instead of the server the user named.
		cmd := g.command
		if cmd == nil {
			cmd = &cobra.Command{Use: "gatehouse"}
		}
		return nil, nil, g.localOnly(cmd)
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if err := prepareDatabase(&cfg, a); err != nil {
		return nil, nil, err
	}
	app, cleanup, err := buildApp(ctx, cfg, g.streams.err)
	if err != nil {
		return nil, nil, err
	}
	if a == mayCreate && cfg.SecretKeyGenerated {
		fmt.Fprintf(g.streams.err, "gatehouse: generated a new secret key in %s; back it up with the database\n", cfg.SecretKeyFile)
	}
	if a == needsSchema {
		if err := requireSchema(ctx, app); err != nil {
			cleanup()
			return nil, nil, err
		}
		if cfg.AutoMigrate {
			if err := bunrepo.Migrate(ctx, app.DB); err != nil {
				cleanup()
				return nil, nil, fmt.Errorf("migrate database: %w", err)
			}
		}
		if err := checkSecretKey(ctx, app); err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	return app, cleanup, nil
}

// checkSecretKey refuses a secret key that opens none of the database's signing
// keys: a command or instance with it would seal keys, and hash client secrets, that
// the others cannot use (one `keys rotate --now` would stop every instance signing).
func checkSecretKey(ctx context.Context, app *App) error {
	err := app.KeyRing.CheckSecret(ctx)
	if errors.Is(err, token.ErrSecretKeyMismatch) {
		return usagef("GATEHOUSE_SECRET_KEY opens none of the signing keys stored in %s: it is not the key this database was set up with, "+
			"which every instance and command sharing it needs", describeDatabase(app.Config))
	}
	return err
}

// prepareDatabase readies the secret key. With mayCreate it creates the SQLite
// file's directory and, when none is configured, the secret key file; otherwise a
// SQLite file must exist and nothing is written.
func prepareDatabase(cfg *config.Config, a access) error {
	if a == mayCreate {
		if err := cfg.CreateSQLiteDir(); err != nil {
			return err
		}
		return cfg.EnsureSecretKey()
	}
	if err := requireSQLiteFile(*cfg); err != nil {
		return err
	}
	return cfg.ReadSecretKey()
}

// requireSQLiteFile fails with one line when the configured SQLite file does not
// exist: which file was looked for, from which setting, and how to point at the
// right one.
func requireSQLiteFile(cfg config.Config) error {
	path, ok := cfg.SQLiteFile()
	if !ok {
		return nil
	}
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("sqlite database: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	where := cfg.Setting("database_url", cfg.DatabaseURL)
	if !filepath.IsAbs(path) {
		if wd, err := os.Getwd(); err == nil {
			where += ", relative to " + wd
		}
	}
	return usagef("no database at %s (%s); run the command where `gatehouse serve` runs, set GATEHOUSE_DATABASE_URL, or pass --config",
		abs, where)
}

// requireSchema fails with one line when the database holds no Gatehouse schema:
// the URL points at the wrong database, or nothing migrated it yet.
func requireSchema(ctx context.Context, app *App) error {
	ok, err := bunrepo.HasSchema(ctx, app.DB)
	if err != nil {
		return err
	}
	if !ok {
		return usagef("%s has no Gatehouse schema; check GATEHOUSE_DATABASE_URL, or run `gatehouse migrate` (or `gatehouse serve`) first",
			describeDatabase(app.Config))
	}
	return nil
}

// describeDatabase names the database for a message, without a password.
func describeDatabase(cfg config.Config) string {
	if path, ok := cfg.SQLiteFile(); ok {
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		return "the SQLite database " + path
	}
	return "the database " + redactURL(cfg.DatabaseURL)
}

// migrateDownError is a refusal of migrate down in the CLI's words.
func migrateDownError(err error) error {
	var unknown *bunrepo.UnknownMigrationError
	switch {
	case errors.Is(err, bunrepo.ErrNoMigrationApplied):
		return usagef("no migration is applied; nothing to roll back")
	case errors.As(err, &unknown):
		return usagef("the database holds migration %s, which this gatehouse (%s) does not know: "+
			"a newer version applied it; roll back with that version", unknown.Name, version)
	}
	return fmt.Errorf("migrate down: %w", err)
}

func migrateCmd(g *globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "migrate [up|down [--yes]|status]",
		Short: "Apply (up, the default), roll back the latest one (down) or show (status) schema migrations",
		Long: "migrate up applies every pending migration. migrate down rolls back one migration, the latest applied, " +
			"and only with --yes: a rollback can drop tables or columns and the data in them. migrate status lists " +
			"every migration as applied or pending.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 || (len(args) == 1 && args[0] != "up" && args[0] != "down" && args[0] != "status") {
				return usagef("migrate takes one of up, down, status")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			action := "up"
			if len(args) == 1 {
				action = args[0]
			}
			if g.server != "" {
				return errLocalOnly(cmd.CommandPath() + " " + action)
			}
			if yes && action != "down" {
				return usagef("--yes is for migrate down only")
			}
			need := mustExist
			if action == "up" {
				need = mayCreate
			}
			app, cleanup, err := g.openApp(cmd.Context(), need)
			if err != nil {
				return err
			}
			defer cleanup()
			ctx := cmd.Context()
			switch action {
			case "up":
				before, err := bunrepo.MigrationStatus(ctx, app.DB)
				if err != nil {
					return fmt.Errorf("migrate up: %w", err)
				}
				if err := bunrepo.Migrate(ctx, app.DB); err != nil {
					return fmt.Errorf("migrate up: %w", err)
				}
				applied := 0
				for _, m := range before {
					if !m.Applied {
						applied++
					}
				}
				text := "schema was already up to date\n"
				switch {
				case applied == 1:
					text = "applied 1 migration; schema is up to date\n"
				case applied > 1:
					text = fmt.Sprintf("applied %d migrations; schema is up to date\n", applied)
				}
				if newer := unknownMigrations(before); len(newer) > 0 {
					// Not an error: an older binary reads and writes a newer schema
					// (README "Upgrades"), but the operator should know.
					fmt.Fprintf(g.streams.err, "gatehouse: note: the database also holds %s, applied by a newer version of gatehouse\n",
						migrationList(newer))
				}
				return g.print(map[string]any{"status": "up to date", "applied": applied}, text)
			case "down":
				if err := requireSchema(ctx, app); err != nil {
					return err
				}
				latest, err := bunrepo.LatestMigration(ctx, app.DB)
				if err != nil {
					return migrateDownError(err)
				}
				if !yes {
					return usagef("migrate down rolls back the latest migration, %s, which can drop tables or columns "+
						"and the data in them; back up the database, then run `gatehouse migrate down --yes`", latest)
				}
				done, err := bunrepo.RollbackLatest(ctx, app.DB)
				if err != nil {
					return migrateDownError(err)
				}
				return g.print(map[string]string{"status": "rolled back", "migration": done},
					"rolled back migration "+done+"\n")
			}
			states, err := bunrepo.MigrationStatus(ctx, app.DB)
			if err != nil {
				return fmt.Errorf("migration status: %w", err)
			}
			type row struct {
				Name    string `json:"name"`
				Applied bool   `json:"applied"`
				// Unknown: applied by a newer version of gatehouse than this one.
				Unknown bool `json:"unknown,omitempty"`
			}
			rows := make([]row, 0, len(states))
			var b strings.Builder
			for _, s := range states {
				rows = append(rows, row{Name: s.Name, Applied: s.Applied, Unknown: s.Unknown})
				mark := "pending"
				if s.Applied {
					mark = "applied"
				}
				if s.Unknown {
					fmt.Fprintf(&b, "%-8s %s (unknown to this version: a newer gatehouse applied it)\n", mark, s.Name)
					continue
				}
				fmt.Fprintf(&b, "%-8s %s\n", mark, s.Name)
			}
			return g.print(rows, b.String())
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false,
		"migrate down: roll back the latest migration, though it may drop tables or columns and their data")
	return cmd
}

// unknownMigrations names the states applied by a newer version.
func unknownMigrations(states []bunrepo.MigrationState) []string {
	var out []string
	for _, s := range states {
		if s.Unknown {
			out = append(out, s.Name)
		}
	}
	return out
}

// migrationList is "migration X" or "migrations X, Y".
func migrationList(names []string) string {
	if len(names) == 1 {
		return "migration " + names[0]
	}
	return "migrations " + strings.Join(names, ", ")
}

// readPassword reads one line from stdin (--password-stdin), or prompts without echo
// when stdin is a terminal.
func (g *globals) readPassword(fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(g.streams.in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			return "", usagef("no password on stdin")
		}
		return line, nil
	}
	f, ok := g.streams.in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usagef("stdin is not a terminal: pass the password with --password-stdin")
	}
	fmt.Fprint(g.streams.err, "Password: ")
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(g.streams.err)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	fmt.Fprint(g.streams.err, "Repeat password: ")
	b2, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(g.streams.err)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if string(b) != string(b2) {
		return "", usagef("the passwords differ")
	}
	return string(b), nil
}

type userJSON struct {
	ID            string    `json:"id"`
	Username      string    `json:"username"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Name          string    `json:"name"`
	Groups        []string  `json:"groups"`
	Disabled      bool      `json:"disabled"`
	CreatedAt     time.Time `json:"created_at"`
}

// userShowJSON is `users show --json` (SPEC "Accounts and sessions"): every field,
// always ("" when not set; groups [] when none).
type userShowJSON struct {
	ID                  string    `json:"id"`
	Username            string    `json:"username"`
	Email               string    `json:"email"`
	EmailVerified       bool      `json:"email_verified"`
	Name                string    `json:"name"`
	GivenName           string    `json:"given_name"`
	FamilyName          string    `json:"family_name"`
	Picture             string    `json:"picture"`
	Locale              string    `json:"locale"`
	Zoneinfo            string    `json:"zoneinfo"`
	PhoneNumber         string    `json:"phone_number"`
	PhoneNumberVerified bool      `json:"phone_number_verified"`
	Groups              []string  `json:"groups"`
	Disabled            bool      `json:"disabled"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

// groupsOf is u's groups as the JSON output shows them: [] when none.
func groupsOf(u domain.User) []string {
	if u.Groups == nil {
		return []string{}
	}
	return u.Groups
}

// status is how list and show name a user's or client's state.
func status(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "active"
}

// showUser prints a user as `users show` does.
func (g *globals) showUser(u domain.User, head string) error {
	var b strings.Builder
	b.WriteString(head)
	tw := tabwriter.NewWriter(&b, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "id:\t%s\nusername:\t%s\nemail:\t%s\nemail_verified:\t%t\nname:\t%s\ngroups:\t%s\n",
		u.ID, u.Username, u.Email, u.EmailVerified, u.Name, strings.Join(u.Groups, " "))
	for _, f := range []struct{ name, value string }{
		{"given_name", u.GivenName}, {"family_name", u.FamilyName}, {"picture", u.Picture}, {"locale", u.Locale},
		{"zoneinfo", u.Zoneinfo}, {"phone_number", u.PhoneNumber},
	} {
		if f.value != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", f.name, f.value)
		}
	}
	if u.PhoneNumber != "" {
		fmt.Fprintf(tw, "phone_number_verified:\t%t\n", u.PhoneNumberVerified)
	}
	fmt.Fprintf(tw, "status:\t%s\ncreated:\t%s\nupdated:\t%s\n",
		status(u.Disabled), u.CreatedAt.Format(time.RFC3339), u.UpdatedAt.Format(time.RFC3339))
	tw.Flush()
	return g.print(userShowJSON{ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified,
		Name: u.Name, GivenName: u.GivenName, FamilyName: u.FamilyName, Picture: u.Picture, Locale: u.Locale,
		Zoneinfo: u.Zoneinfo, PhoneNumber: u.PhoneNumber, PhoneNumberVerified: u.PhoneNumberVerified,
		Groups: groupsOf(u), Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}, b.String())
}

// findUser resolves the U of a users command, an id or a username, with a one-line
// error when there is no such user.
func findUser(ctx context.Context, be adminBackend, ref string) (domain.User, error) {
	u, err := be.FindUser(ctx, ref)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.User{}, usagef("no user with id or username %q", ref)
	}
	return u, err
}

// profileFlags are the flags of the profile claims, shared by users create and update.
type profileFlags struct {
	name, givenName, familyName, picture, locale, zoneinfo, phone string
	phoneVerified                                                 bool
}

func (pf *profileFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&pf.name, "name", "", "full name (claim name)")
	f.StringVar(&pf.givenName, "given-name", "", "given name (claim given_name)")
	f.StringVar(&pf.familyName, "family-name", "", "family name (claim family_name)")
	f.StringVar(&pf.picture, "picture", "", "URL of a picture, http or https (claim picture)")
	f.StringVar(&pf.locale, "locale", "", "language tag such as en-US (claim locale)")
	f.StringVar(&pf.zoneinfo, "zoneinfo", "", "IANA time zone such as Europe/Paris (claim zoneinfo)")
	f.StringVar(&pf.phone, "phone-number", "", "phone number in E.164 form such as +14155550100 (claim phone_number)")
	f.BoolVar(&pf.phoneVerified, "phone-number-verified", false, "whether the phone number is verified")
}

// profile is the profile the flags give (users create).
func (pf *profileFlags) profile() domain.Profile {
	return domain.Profile{Name: pf.name, GivenName: pf.givenName, FamilyName: pf.familyName, Picture: pf.picture,
		Locale: pf.locale, Zoneinfo: pf.zoneinfo, PhoneNumber: pf.phone}
}

// update is the profile change of the flags given (users update); changed reports
// whether any was.
func (pf *profileFlags) update(cmd *cobra.Command) (upd usecase.ProfileUpdate, changed bool) {
	f := cmd.Flags()
	for _, v := range []struct {
		flag string
		dst  **string
		val  *string
	}{
		{"name", &upd.Name, &pf.name}, {"given-name", &upd.GivenName, &pf.givenName},
		{"family-name", &upd.FamilyName, &pf.familyName}, {"picture", &upd.Picture, &pf.picture},
		{"locale", &upd.Locale, &pf.locale}, {"zoneinfo", &upd.Zoneinfo, &pf.zoneinfo},
		{"phone-number", &upd.PhoneNumber, &pf.phone},
	} {
		if f.Changed(v.flag) {
			*v.dst, changed = v.val, true
		}
	}
	return upd, changed
}

func usersCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Manage users"}
	var username, email string
	var pwStdin, emailVerified bool
	var groups []string
	var createProfile profileFlags
	create := &cobra.Command{
		Use:   "create --username U [--email E] [--email-verified] [--name N] [--group G]... [--password-stdin]",
		Short: "Create a user",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if username == "" {
				return usagef("--username is required")
			}
			pw, err := g.readPassword(pwStdin)
			if err != nil {
				return err
			}
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			u, err := be.CreateUser(cmd.Context(), usecase.NewUser{Username: username, Email: email, Password: pw,
				EmailVerified: emailVerified, Profile: createProfile.profile(), PhoneNumberVerified: createProfile.phoneVerified,
				Groups: groups})
			if err != nil {
				return err
			}
			return g.print(map[string]string{"id": u.ID, "username": u.Username},
				fmt.Sprintf("created user %s with id %s\n", u.Username, u.ID))
		},
	}
	create.Flags().StringVar(&username, "username", "", "login name")
	create.Flags().StringVar(&email, "email", "", "email address")
	create.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of stdin")
	create.Flags().BoolVar(&emailVerified, "email-verified", false, "the email address is known to be the user's")
	create.Flags().StringArrayVar(&groups, "group", nil, "a group of the user (claim groups); repeat for more")
	createProfile.register(create)

	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		RunE: func(cmd *cobra.Command, _ []string) error {
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			users, err := be.ListUsers(cmd.Context())
			if err != nil {
				return err
			}
			out := make([]userJSON, 0, len(users))
			var b strings.Builder
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tSTATUS\tCREATED")
			for _, u := range users {
				out = append(out, userJSON{ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified,
					Name: u.Name, Groups: groupsOf(u), Disabled: u.Disabled, CreatedAt: u.CreatedAt})
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Email, status(u.Disabled), u.CreatedAt.Format(time.RFC3339))
			}
			tw.Flush()
			return g.print(out, b.String())
		},
	}
	show := &cobra.Command{
		Use:   "show U",
		Short: "Show a user (U: a user id or a username)",
		Args:  exactArgs(1, "a user id or username"),
		RunE: func(cmd *cobra.Command, args []string) error {
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			u, err := findUser(cmd.Context(), be, args[0])
			if err != nil {
				return err
			}
			return g.showUser(u, "")
		},
	}
	var upd struct {
		email               string
		verified, disabled  bool
		addGroups, rmGroups []string
		profile             profileFlags
	}
	update := &cobra.Command{
		Use:   "update U [--email E] [--email-verified=BOOL] [--name N] [--add-group G]... [--remove-group G]... [--disabled=BOOL]",
		Short: "Change a user; --disabled=true kills every token, code and session of theirs at once",
		Args:  exactArgs(1, "a user id or username"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			var in usecase.UserUpdate
			if f.Changed("email") {
				in.Email = &upd.email
			}
			if f.Changed("email-verified") {
				in.EmailVerified = &upd.verified
			}
			if f.Changed("disabled") {
				in.Disabled = &upd.disabled
			}
			if f.Changed("phone-number-verified") {
				in.PhoneNumberVerified = &upd.profile.phoneVerified
			}
			in.AddGroups, in.RemoveGroups = upd.addGroups, upd.rmGroups
			profile, profileChanged := upd.profile.update(cmd)
			in.Profile = profile
			if !profileChanged && in.Email == nil && in.EmailVerified == nil && in.Disabled == nil &&
				in.PhoneNumberVerified == nil && len(in.AddGroups) == 0 && len(in.RemoveGroups) == 0 {
				return usagef("users update needs at least one of --email, --email-verified, --name, --add-group, " +
					"--remove-group, --disabled (or another profile flag)")
			}
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			u, err := findUser(cmd.Context(), be, args[0])
			if err != nil {
				return err
			}
			if u, err = be.UpdateUser(cmd.Context(), u.ID, in); err != nil {
				return notFound(err, "user", args[0])
			}
			return g.showUser(u, "updated user "+u.Username+"\n")
		},
	}
	update.Flags().StringVar(&upd.email, "email", "", "the new email address (unverified unless --email-verified=true); empty removes it")
	update.Flags().BoolVar(&upd.verified, "email-verified", false, "whether the email address is verified")
	update.Flags().StringArrayVar(&upd.addGroups, "add-group", nil, "add the user to a group; repeat for more")
	update.Flags().StringArrayVar(&upd.rmGroups, "remove-group", nil, "remove the user from a group; repeat for more")
	upd.profile.register(update)
	update.Flags().BoolVar(&upd.disabled, "disabled", false,
		"true: the user cannot sign in, and every token, code and session of theirs dies at once; false: enabled again (earlier tokens stay dead)")
	del := &cobra.Command{
		Use:   "delete U",
		Short: "Delete a user (U: a user id or a username); every token, code and session of theirs dies at once",
		Args:  exactArgs(1, "a user id or username"),
		RunE: func(cmd *cobra.Command, args []string) error {
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			u, err := findUser(cmd.Context(), be, args[0])
			if err != nil {
				return err
			}
			if err := be.DeleteUser(cmd.Context(), u.ID); err != nil {
				return notFound(err, "user", args[0])
			}
			return g.print(map[string]string{"id": u.ID, "status": "deleted"}, "deleted user "+u.ID+"\n")
		},
	}
	var setStdin bool
	setPw := &cobra.Command{
		Use:   "set-password U --password-stdin",
		Short: "Change a user's password (U: a user id or a username); ends their sessions and revokes their refresh tokens",
		Args:  exactArgs(1, "a user id or username"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := g.readPassword(setStdin)
			if err != nil {
				return err
			}
			if err := g.localOnly(cmd); err != nil {
				return err
			}
			app, cleanup, err := g.openApp(cmd.Context(), needsSchema)
			if err != nil {
				return err
			}
			defer cleanup()
			u, err := findUser(cmd.Context(), localAdmin{app}, args[0])
			if err != nil {
				return err
			}
			if err := app.Admin.SetPassword(cmd.Context(), u.ID, pw); err != nil {
				return notFound(err, "user", args[0])
			}
			return g.print(map[string]string{"id": u.ID, "status": "password changed"}, "changed the password of user "+u.ID+"\n")
		},
	}
	setPw.Flags().BoolVar(&setStdin, "password-stdin", false, "read the password from the first line of stdin")
	resetMFA := &cobra.Command{
		Use:   "reset-mfa U",
		Short: "Remove every second factor of a user (U: a user id or a username): authenticator app, passkeys and recovery codes; the user is told by mail",
		Args:  exactArgs(1, "a user id or username"),
		RunE: func(cmd *cobra.Command, args []string) error {
			admin, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			u, err := findUser(cmd.Context(), admin, args[0])
			if err != nil {
				return err
			}
			had, err := admin.ResetMFA(cmd.Context(), u.ID)
			if err != nil {
				return err
			}
			status, text := "reset", "removed the second factors of user "+u.ID+"\n"
			if !had {
				status, text = "unchanged", "user "+u.ID+" had no second factor\n"
			}
			return g.print(map[string]any{"id": u.ID, "status": status, "removed": had}, text)
		},
	}
	cmd.AddCommand(create, list, show, update, del, setPw, resetMFA)
	cmd.AddCommand(userGrantCommands(g)...)
	return cmd
}

// notFound turns a missing row into a one-line usage error.
func notFound(err error, what, id string) error {
	if errors.Is(err, domain.ErrNotFound) {
		return usagef("no %s with id %q", what, id)
	}
	return err
}

type clientJSON struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Name         string   `json:"name"`
	Public       bool     `json:"public"`
	RedirectURIs []string `json:"redirect_uris"`
	GrantTypes   []string `json:"grant_types"`
	Scope        string   `json:"scope"`
	Audiences    []string `json:"audiences"`
	SkipConsent  bool     `json:"skip_consent"`
	IDTokenAlg   string   `json:"id_token_alg"`
	// PostLogoutRedirectURIs: OpenID Connect RP-Initiated Logout 1.0 §3.1 names it so.
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	CreatedAt              time.Time `json:"created_at"`
	// RequirePAR: RFC 9126 §5 require_pushed_authorization_requests.
	RequirePAR  bool `json:"require_par"`
	RequireDPoP bool `json:"require_dpop"`
	RequireMFA  bool `json:"require_mfa"`
	RequirePKCE bool `json:"require_pkce"`
	// BackchannelLogoutURI: the name of Back-Channel Logout 1.0 §2.2.
	BackchannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
	// TokenEndpointAuthMethod, JWKSURI and JWKS: RFC 7591 §2 names.
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	JWKSURI                 string          `json:"jwks_uri,omitempty"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	Disabled                bool            `json:"disabled"`
}

func toClientJSON(c domain.Client, secret string) clientJSON {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return clientJSON{ClientID: c.ID, ClientSecret: secret, Name: c.Name, Public: c.Public,
		RedirectURIs: nonNil(c.RedirectURIs), GrantTypes: nonNil(c.GrantTypes), Scope: domain.ScopeString(c.Scopes),
		Audiences: nonNil(c.Audiences), SkipConsent: c.SkipConsent, IDTokenAlg: c.IDTokenAlg,
		PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs), CreatedAt: c.CreatedAt,
		RequirePAR: c.RequirePAR, RequireDPoP: c.RequireDPoP, RequireMFA: c.RequireMFA, RequirePKCE: !c.PKCEOptional, BackchannelLogoutURI: c.BackchannelLogoutURI, TokenEndpointAuthMethod: authMethodOf(c), JWKSURI: c.JWKSURI, JWKS: jwksOf(c),
		Disabled: c.Disabled}
}

// authMethodOf is the client's token_endpoint_auth_method as RFC 7591 names it.
func authMethodOf(c domain.Client) string {
	switch {
	case c.TokenEndpointAuthMethod != "":
		return c.TokenEndpointAuthMethod
	case c.Public:
		return usecase.AuthMethodNone
	}
	return usecase.AuthMethodBasic
}

// jwksOf is the client's JWK Set as JSON, nil when it has none (or a stored one
// that is not JSON, which validation never lets in).
func jwksOf(c domain.Client) json.RawMessage {
	if c.JWKS == "" || !json.Valid([]byte(c.JWKS)) {
		return nil
	}
	return json.RawMessage(c.JWKS)
}

// grantTypeAliases are the short names people type for the grant types named by a
// URN; the CLI stores and prints the RFC name. Kept small on purpose.
var grantTypeAliases = map[string]string{
	"device_code":    domain.GrantDeviceCode,    // RFC 8628
	"token-exchange": domain.GrantTokenExchange, // RFC 8693
	"token_exchange": domain.GrantTokenExchange,
}

// grantTypeNames turns --grant-type values into RFC names; an unknown one is bad
// input, answered with the list of valid names.
func grantTypeNames(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, g := range in {
		if rfc, ok := grantTypeAliases[g]; ok {
			g = rfc
		}
		if !slices.Contains(domain.KnownGrantTypes, g) {
			return nil, usagef("--grant-type %q: unknown grant type; use one of %s", g, grantTypeList())
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out, nil
}

// grantTypeList is the valid grant type names, each URN followed by its aliases.
func grantTypeList() string {
	names := make([]string, 0, len(domain.KnownGrantTypes))
	for _, g := range domain.KnownGrantTypes {
		var short []string
		for alias, rfc := range grantTypeAliases {
			if rfc == g {
				short = append(short, alias)
			}
		}
		slices.Sort(short)
		if len(short) > 0 {
			g += " (" + strings.Join(short, " or ") + ")"
		}
		names = append(names, g)
	}
	return strings.Join(names, ", ")
}

// flagOfField is the flag of `clients create` and `clients update` that sets a
// client field as the domain names it (domain.FieldError.Field, RFC 7591's names).
func flagOfField(field string) string {
	if flag, ok := clientFieldFlags[field]; ok {
		return flag
	}
	return field
}

var clientFieldFlags = map[string]string{
	"client_name":                  "--name",
	"redirect_uris":                "--redirect-uri",
	"grant_types":                  "--grant-type",
	"scope":                        "--scope",
	"audience":                     "--audience",
	"post_logout_redirect_uris":    "--post-logout-redirect-uri",
	"id_token_signed_response_alg": "--id-token-alg",
	"token_endpoint_auth_method":   "--auth-method",
	"jwks":                         "--jwks",
	"jwks_uri":                     "--jwks-uri",
	"require_pkce":                 "--require-pkce",
	"backchannel_logout_uri":       "--backchannel-logout-uri",
}

// clientFlags are the attributes of `clients create`, shared by `clients update`.
type clientFlags struct {
	in              usecase.NewClient
	scope, jwksFile string
	requirePKCE     bool
}

func (cf *clientFlags) register(cmd *cobra.Command) {
	f, in := cmd.Flags(), &cf.in
	f.StringVar(&in.Name, "name", "", "client name (unique)")
	f.StringArrayVar(&in.RedirectURIs, "redirect-uri", nil, "a redirect URI (repeatable)")
	f.StringArrayVar(&in.GrantTypes, "grant-type", nil,
		"a grant type (repeatable): authorization_code, refresh_token, client_credentials, password, "+
			"urn:ietf:params:oauth:grant-type:device_code (or device_code), urn:ietf:params:oauth:grant-type:token-exchange (or token_exchange); "+
			"default authorization_code and refresh_token")
	f.StringVar(&cf.scope, "scope", "", `scopes the client may ask, space-separated; default "openid profile email offline_access"`)
	f.StringArrayVar(&in.Audiences, "audience", nil, "an RFC 8707 resource the client may ask (repeatable)")
	f.BoolVar(&in.Public, "public", false, "a public client (no secret; must use PKCE)")
	f.BoolVar(&in.SkipConsent, "skip-consent", false, "do not ask users for consent (first-party clients)")
	f.StringVar(&in.IDTokenAlg, "id-token-alg", "", "ID token signing alg: RS256 (default), ES256 or EdDSA")
	f.StringArrayVar(&in.PostLogoutRedirectURIs, "post-logout-redirect-uri", nil,
		"where RP-initiated logout may return the browser (repeatable; rules of --redirect-uri)")
	f.BoolVar(&in.RequirePAR, "require-par", false,
		"authorization requests must come through POST /oauth/par (RFC 9126); plain ones are refused")
	f.BoolVar(&in.RequireDPoP, "require-dpop", false, "the token endpoint refuses this client's requests without a DPoP proof (RFC 9449)")
	f.BoolVar(&in.RequireMFA, "require-mfa", false, "users signing in for this client must give a second factor (an authenticator app or a passkey), or set one up")
	f.StringVar(&in.BackchannelLogoutURI, "backchannel-logout-uri", "",
		"where the client takes logout tokens when a session it took part in ends (OpenID Connect Back-Channel Logout; http or https)")
	f.BoolVar(&cf.requirePKCE, "require-pkce", true,
		"false: a confidential client's authorization requests may omit PKCE (for relying parties that cannot send it); public clients always need it")
	f.StringVar(&in.AuthMethod, "auth-method", "", "private_key_jwt: the client authenticates with JWTs signed by its keys (RFC 7523), not a secret; default: a secret")
	f.StringVar(&cf.jwksFile, "jwks", "", "with --auth-method private_key_jwt: a file holding the client's JWK Set (public keys only)")
	f.StringVar(&in.JWKSURI, "jwks-uri", "", "with --auth-method private_key_jwt: where Gatehouse fetches the client's JWK Set (https; http only to 127.0.0.1/[::1])")
}

// read turns --jwks FILE and --scope into the client's values.
func (cf *clientFlags) read() error {
	cf.in.PKCEOptional = !cf.requirePKCE
	if cf.jwksFile != "" {
		b, err := os.ReadFile(cf.jwksFile)
		if err != nil {
			return usagef("--jwks: %v", err)
		}
		cf.in.JWKS = strings.TrimSpace(string(b))
	}
	if cf.scope != "" {
		s, err := domain.ParseScope(cf.scope)
		if err != nil {
			return usagef("--scope: %v", err)
		}
		cf.in.Scopes = s
	}
	return nil
}

// update is the usecase.ClientUpdate of the flags given on the command line.
func (cf *clientFlags) update(cmd *cobra.Command) usecase.ClientUpdate {
	f, in := cmd.Flags(), &cf.in
	var u usecase.ClientUpdate
	str := func(name string, v *string) *string {
		if f.Changed(name) {
			return v
		}
		return nil
	}
	list := func(name string, v *[]string) *[]string {
		if f.Changed(name) {
			return v
		}
		return nil
	}
	flag := func(name string, v *bool) *bool {
		if f.Changed(name) {
			return v
		}
		return nil
	}
	u.Name, u.IDTokenAlg, u.AuthMethod, u.JWKSURI = str("name", &in.Name), str("id-token-alg", &in.IDTokenAlg),
		str("auth-method", &in.AuthMethod), str("jwks-uri", &in.JWKSURI)
	u.BackchannelLogoutURI = str("backchannel-logout-uri", &in.BackchannelLogoutURI)
	if f.Changed("jwks") {
		u.JWKS = &in.JWKS
	}
	if f.Changed("scope") {
		if in.Scopes == nil {
			in.Scopes = []string{}
		}
		u.Scopes = &in.Scopes
	}
	u.RedirectURIs, u.GrantTypes, u.Audiences, u.PostLogoutRedirectURIs = list("redirect-uri", &in.RedirectURIs),
		list("grant-type", &in.GrantTypes), list("audience", &in.Audiences), list("post-logout-redirect-uri", &in.PostLogoutRedirectURIs)
	u.Public, u.SkipConsent, u.RequirePAR, u.RequireDPoP = flag("public", &in.Public), flag("skip-consent", &in.SkipConsent),
		flag("require-par", &in.RequirePAR), flag("require-dpop", &in.RequireDPoP)
	u.RequireMFA = flag("require-mfa", &in.RequireMFA)
	if f.Changed("require-pkce") {
		optional := !cf.requirePKCE
		u.PKCEOptional = &optional
	}
	return u
}

// showClient prints a client as `clients show` does; never a secret.
func (g *globals) showClient(c domain.Client, head string) error {
	kind := "confidential"
	if c.Public {
		kind = "public"
	}
	var b strings.Builder
	b.WriteString(head)
	tw := tabwriter.NewWriter(&b, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "client_id:\t%s\nname:\t%s\ntype:\t%s\nstatus:\t%s\n", c.ID, c.Name, kind, status(c.Disabled))
	fmt.Fprintf(tw, "grant_types:\t%s\nredirect_uris:\t%s\nscope:\t%s\naudiences:\t%s\n", strings.Join(c.GrantTypes, " "),
		strings.Join(c.RedirectURIs, " "), domain.ScopeString(c.Scopes), strings.Join(c.Audiences, " "))
	fmt.Fprintf(tw, "post_logout_redirect_uris:\t%s\nskip_consent:\t%t\nid_token_alg:\t%s\nrequire_par:\t%t\nrequire_dpop:\t%t\nrequire_pkce:\t%t\n",
		strings.Join(c.PostLogoutRedirectURIs, " "), c.SkipConsent, c.IDTokenAlg, c.RequirePAR, c.RequireDPoP, !c.PKCEOptional)
	fmt.Fprintf(tw, "require_mfa:\t%t\ntoken_endpoint_auth_method:\t%s\n", c.RequireMFA, authMethodOf(c))
	if c.BackchannelLogoutURI != "" {
		fmt.Fprintf(tw, "backchannel_logout_uri:\t%s\n", c.BackchannelLogoutURI)
	}
	if c.JWKSURI != "" {
		fmt.Fprintf(tw, "jwks_uri:\t%s\n", c.JWKSURI)
	}
	fmt.Fprintf(tw, "created:\t%s\n", c.CreatedAt.Format(time.RFC3339))
	tw.Flush()
	return g.print(toClientJSON(c, ""), b.String())
}

func clientsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "clients", Short: "Manage OAuth clients"}
	var cf clientFlags
	create := &cobra.Command{
		Use:   "create --name N [--redirect-uri URI]... [--grant-type G]... [--scope \"a b\"] [--audience A]... [--public] [--skip-consent] [--id-token-alg ALG] [--post-logout-redirect-uri URI]... [--require-par] [--require-dpop] [--require-mfa] [--require-pkce=false] [--backchannel-logout-uri URI] [--auth-method private_key_jwt (--jwks FILE | --jwks-uri URL)]",
		Short: "Register a client; a confidential client's secret is printed this once",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cf.in.Name == "" {
				return usagef("--name is required")
			}
			if err := cf.read(); err != nil {
				return err
			}
			grants, err := grantTypeNames(cf.in.GrantTypes)
			if err != nil {
				return err
			}
			cf.in.GrantTypes = grants
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			created, err := be.CreateClient(cmd.Context(), cf.in)
			if err != nil {
				return err
			}
			text := fmt.Sprintf("client_id: %s\n", created.Client.ID)
			if created.Secret != "" {
				text += fmt.Sprintf("client_secret: %s\n(the secret is shown this once; it is stored only as a hash)\n", created.Secret)
			}
			return g.print(toClientJSON(created.Client, created.Secret), text)
		},
	}
	cf.register(create)

	list := &cobra.Command{
		Use:   "list",
		Short: "List clients (secrets are never shown)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			clients, err := be.ListClients(cmd.Context())
			if err != nil {
				return err
			}
			out := make([]clientJSON, 0, len(clients))
			var b strings.Builder
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT_ID\tNAME\tTYPE\tSTATUS\tGRANT_TYPES\tREDIRECT_URIS")
			for _, c := range clients {
				out = append(out, toClientJSON(c, ""))
				kind := "confidential"
				if c.Public {
					kind = "public"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, kind, status(c.Disabled), strings.Join(c.GrantTypes, ","),
					strings.Join(c.RedirectURIs, ","))
			}
			tw.Flush()
			return g.print(out, b.String())
		},
	}
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a client (never its secret)",
		Args:  exactArgs(1, "a client id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			c, err := be.Client(cmd.Context(), args[0])
			if err != nil {
				return notFound(err, "client", args[0])
			}
			return g.showClient(c, "")
		},
	}
	var uf clientFlags
	var disabled bool
	update := &cobra.Command{
		Use: "update ID [--name N] [--redirect-uri URI]... [--grant-type G]... [--scope \"a b\"] [--audience A]... [--skip-consent=BOOL] " +
			"[--id-token-alg ALG] [--post-logout-redirect-uri URI]... [--require-par=BOOL] [--require-dpop=BOOL] [--require-mfa=BOOL] [--require-pkce=BOOL] [--backchannel-logout-uri URI] [--jwks FILE | --jwks-uri URL] [--disabled=BOOL]",
		Short: "Change a client, keeping its id and secret: each flag given replaces that attribute; --disabled=true kills every token and code of it at once",
		Args:  exactArgs(1, "a client id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := uf.read(); err != nil {
				return err
			}
			if cmd.Flags().Changed("grant-type") {
				grants, err := grantTypeNames(uf.in.GrantTypes)
				if err != nil {
					return err
				}
				uf.in.GrantTypes = grants
			}
			in := uf.update(cmd)
			if cmd.Flags().Changed("disabled") {
				in.Disabled = &disabled
			}
			if in == (usecase.ClientUpdate{}) {
				return usagef("clients update needs at least one attribute to change (see clients update --help)")
			}
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			c, err := be.UpdateClient(cmd.Context(), args[0], in)
			if err != nil {
				return notFound(err, "client", args[0])
			}
			return g.showClient(c, "updated client "+c.ID+"\n")
		},
	}
	uf.register(update)
	// What a client is (public or confidential, a secret or private_key_jwt) cannot
	// change: create's flags for it are accepted when they repeat it, and not offered.
	_ = update.Flags().MarkHidden("public")
	_ = update.Flags().MarkHidden("auth-method")
	update.Flags().BoolVar(&disabled, "disabled", false,
		"true: the client is refused as if unknown, and every token and code of it dies at once; false: enabled again (earlier tokens stay dead)")
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a client; every token and code of it dies at once",
		Args:  exactArgs(1, "a client id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			if err := be.DeleteClient(cmd.Context(), args[0]); err != nil {
				return notFound(err, "client", args[0])
			}
			return g.print(map[string]string{"client_id": args[0], "status": "deleted"}, "deleted client "+args[0]+"\n")
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate-secret ID",
		Short: "Give a confidential client a new secret (the old one stops working)",
		Args:  exactArgs(1, "a client id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			secret, err := be.RotateSecret(cmd.Context(), args[0])
			if err != nil {
				return notFound(err, "client", args[0])
			}
			return g.print(map[string]string{"client_id": args[0], "client_secret": secret},
				fmt.Sprintf("client_id: %s\nclient_secret: %s\n(the secret is shown this once)\n", args[0], secret))
		},
	}
	cmd.AddCommand(create, list, show, update, del, rotate)
	return cmd
}

type keyJSON struct {
	KID       string     `json:"kid"`
	Alg       string     `json:"alg"`
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// State is next (published, not signing yet), active, retired or revoked.
	State string `json:"state"`
	// ActivatesAt is when the key starts (or started) signing.
	ActivatesAt time.Time `json:"activates_at"`
	// RevokedAt is when `keys revoke` revoked the key.
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func newKeyJSON(k domain.SigningKey, now time.Time) keyJSON {
	return keyJSON{KID: k.ID, Alg: k.Alg, Status: keyStatus(k, now), CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt,
		ExpiresAt: k.ExpiresAt, State: string(k.State(now)), ActivatesAt: k.ActivationTime(), RevokedAt: k.RevokedAt}
}

// keyRevokedJSON is the answer of `keys revoke --json`.
type keyRevokedJSON struct {
	KID     string `json:"kid"`
	Alg     string `json:"alg"`
	Revoked bool   `json:"revoked"`
	// AlreadyRevoked: the key had been revoked before; nothing changed.
	AlreadyRevoked bool       `json:"already_revoked"`
	RevokedAt      *time.Time `json:"revoked_at"`
	// Replacement is the key that signs for the alg from now on, when the revoked
	// key signed (or was about to); null otherwise.
	Replacement *keyJSON `json:"replacement"`
}

func keyStatus(k domain.SigningKey, now time.Time) string {
	switch k.State(now) {
	case domain.KeyNext:
		return "next"
	case domain.KeyActive:
		return "active"
	case domain.KeyRevoked:
		return "revoked"
	}
	if k.Published(now) {
		return "retired (published)"
	}
	return "expired"
}

func keysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage signing keys"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List signing keys with their state (next, active, retired, revoked) and activation time",
		RunE: func(cmd *cobra.Command, _ []string) error {
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			keys, err := be.ListKeys(cmd.Context())
			if err != nil {
				return err
			}
			now := time.Now()
			out := make([]keyJSON, 0, len(keys))
			var b strings.Builder
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KID\tALG\tSTATUS\tCREATED\tACTIVATES")
			for _, k := range keys {
				j := newKeyJSON(k, now)
				out = append(out, j)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Alg, j.Status, k.CreatedAt.Format(time.RFC3339),
					j.ActivatesAt.UTC().Format(time.RFC3339))
			}
			tw.Flush()
			return g.print(out, b.String())
		},
	}
	var alg string
	var immediate bool
	rotate := &cobra.Command{
		Use:   "rotate [--alg ES256|RS256|EdDSA] [--now]",
		Short: "Create a new signing key, published at once and signing after the activation delay; old public keys stay published until their tokens expire",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if alg != "" {
				if err := domain.ValidateAlg(alg); err != nil {
					return usagef("--alg: %v", err)
				}
			}
			be, cleanup, err := g.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			k, err := be.RotateKey(cmd.Context(), alg, immediate)
			if err != nil {
				if errors.Is(err, domain.ErrKeyPending) {
					return usagef("%v; rotate again after that, or with --now to replace it at once", err)
				}
				return err
			}
			if immediate && be.SharedDatabase() {
				// Every instance publishes the new key within a second, but resource
				// servers may hold a JWKS without it for up to its max-age: tokens of the
				// new key can be refused there meanwhile (until they refetch it for an
				// unknown kid).
				fmt.Fprintf(g.streams.err, "gatehouse: warning: --now on a shared database: the new key signs at once, before "+
					"resource servers caching the JWKS (up to %s) know it; its tokens may be refused there meanwhile\n", httpapi.JWKSMaxAge)
			}
			now := time.Now()
			text := fmt.Sprintf("new %s signing key %s is active\n", k.Alg, k.ID)
			if k.State(now) == domain.KeyNext {
				text = fmt.Sprintf("new %s signing key %s is published; it starts signing at %s (in %s)\n", k.Alg, k.ID,
					k.ActivatesAt.UTC().Format(time.RFC3339), k.ActivatesAt.Sub(now).Round(time.Second))
			}
			return g.print(newKeyJSON(k, now), text)
		},
	}
	rotate.Flags().StringVar(&alg, "alg", "", "algorithm of the new key (default GATEHOUSE_SIGNING_ALG)")
	rotate.Flags().BoolVar(&immediate, "now", false,
		"sign with the new key at once, not after GATEHOUSE_KEY_ACTIVATION_DELAY; a pending key is retired too (for a compromised key, use keys revoke)")
	revoke := &cobra.Command{
		Use:   "revoke KID",
		Short: "Revoke a compromised signing key: every instance drops it from its JWKS within a second and refuses its tokens; a key that signed is replaced at once",
		Args:  exactArgs(1, "a key id (kid)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			kid := args[0]
			if err := g.localOnly(cmd); err != nil {
				return err
			}
			app, cleanup, err := g.openApp(cmd.Context(), needsSchema)
			if err != nil {
				return err
			}
			defer cleanup()
			rev, err := app.Keys.Revoke(cmd.Context(), kid)
			if err != nil {
				if errors.Is(err, domain.ErrNotFound) {
					return usagef("no signing key with kid %q (see gatehouse keys list)", kid)
				}
				return err
			}
			now := time.Now()
			out := keyRevokedJSON{KID: rev.Key.ID, Alg: rev.Key.Alg, Revoked: true, AlreadyRevoked: rev.AlreadyRevoked,
				RevokedAt: rev.Key.RevokedAt}
			var text string
			switch {
			case rev.AlreadyRevoked:
				text = fmt.Sprintf("signing key %s was already revoked at %s; nothing changed\n", kid,
					rev.Key.RevokedAt.UTC().Format(time.RFC3339))
			default:
				text = fmt.Sprintf("revoked %s signing key %s: every instance drops it from its JWKS and refuses its tokens within a second\n",
					rev.Key.Alg, kid)
			}
			if rev.Replacement != nil {
				j := newKeyJSON(*rev.Replacement, now)
				out.Replacement = &j
				text += fmt.Sprintf("new %s signing key %s is active\n", rev.Replacement.Alg, rev.Replacement.ID)
			}
			if !rev.AlreadyRevoked {
				// The one place the revocation cannot reach at once: JWKS copies that
				// resource servers verify against locally.
				fmt.Fprintf(g.streams.err, "gatehouse: note: resource servers that verify tokens against a cached JWKS may accept "+
					"the revoked key's tokens until their copy expires (max-age %s); introspection and userinfo refuse them now\n",
					httpapi.JWKSMaxAge)
			}
			return g.print(out, text)
		},
	}
	cmd.AddCommand(list, rotate, revoke)
	return cmd
}
