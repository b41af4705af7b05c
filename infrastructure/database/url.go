package database

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrInvalidURL marks a database URL that cannot be understood; the command line
// turns it into exit status 2 (bad input) rather than 1 (run-time failure).
var ErrInvalidURL = errors.New("invalid database URL")

// Kind names a database family.
type Kind string

// The database families Open understands.
const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
	MySQL    Kind = "mysql"
)

// Timeouts used when the URL does not set its own.
const (
	defaultConnectTimeout = 10 * time.Second
	sqliteBusyTimeout     = 5 * time.Second
)

// target is a parsed database URL: which driver, what it gets, and the pool settings
// that database/sql applies (the driver never sees them).
type target struct {
	kind Kind
	// where describes the database for error messages; it never holds a password.
	where string

	sqlitePath string // the file, or ":memory:"
	sqliteDSN  string
	pg         *pgx.ConnConfig
	my         *mysql.Config

	pool poolOptions
}

// poolOptions are the database/sql pool settings; nil means "keep the default".
type poolOptions struct {
	maxOpen, maxIdle         *int
	maxLifetime, maxIdleTime *time.Duration
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidURL, fmt.Sprintf(format, args...))
}

// parseURL understands sqlite:PATH, postgres://… and mysql://user:pass@host:port/db.
// Error messages never repeat the URL, which may hold a password.
func parseURL(raw string) (*target, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, invalid("the database URL is empty; want sqlite:PATH, postgres://… or mysql://…")
	}
	scheme, _, ok := strings.Cut(raw, ":")
	if !ok {
		return nil, invalid("the database URL has no scheme; want sqlite:PATH, postgres://… or mysql://…")
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		return parseSQLite(raw[len(scheme)+1:])
	case "postgres", "postgresql":
		return parsePostgres(raw)
	case "mysql", "mariadb":
		return parseMySQL(raw)
	default:
		return nil, invalid("unsupported scheme %q; want sqlite:PATH, postgres://… or mysql://…", scheme)
	}
}

// takePoolOptions removes the pool settings from q, so that the driver, which would
// refuse or misread them, never sees them.
func takePoolOptions(q url.Values) (poolOptions, error) {
	var p poolOptions
	intOpt := func(name string) (*int, error) {
		if !q.Has(name) {
			return nil, nil
		}
		v := q.Get(name)
		q.Del(name)
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, invalid("%s=%q is not a non-negative integer", name, v)
		}
		return &n, nil
	}
	durOpt := func(name string) (*time.Duration, error) {
		if !q.Has(name) {
			return nil, nil
		}
		v := q.Get(name)
		q.Del(name)
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, invalid("%s=%q is not a non-negative duration such as 30m", name, v)
		}
		return &d, nil
	}
	var err error
	if p.maxOpen, err = intOpt("max_open_conns"); err != nil {
		return p, err
	}
	if p.maxIdle, err = intOpt("max_idle_conns"); err != nil {
		return p, err
	}
	if p.maxLifetime, err = durOpt("conn_max_lifetime"); err != nil {
		return p, err
	}
	if p.maxIdleTime, err = durOpt("conn_max_idle_time"); err != nil {
		return p, err
	}
	return p, nil
}

// parseSQLite turns "PATH[?params]" into a modernc.org/sqlite DSN. Parameters other
// than the pool ones go to the driver after ours, so a URL can still add a _pragma.
func parseSQLite(rest string) (*target, error) {
	path, query, _ := strings.Cut(rest, "?")
	// sqlite:///abs/path and sqlite:file:path name the same files as sqlite:PATH.
	path = strings.TrimPrefix(strings.TrimPrefix(path, "file:"), "//")
	if path == "" {
		return nil, invalid("sqlite URL has no path; want sqlite:PATH, e.g. sqlite:./data/gatehouse.db")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, invalid("sqlite URL has a malformed query string")
	}
	pool, err := takePoolOptions(q)
	if err != nil {
		return nil, err
	}
	// WAL lets readers run beside the single writer; busy_timeout makes a writer wait
	// for the lock instead of failing with SQLITE_BUSY; _txlock=immediate takes the
	// write lock at BEGIN, so two transactions that read then write cannot deadlock
	// (a deferred transaction upgrading its lock gets SQLITE_BUSY without waiting).
	// foreign_keys is per connection in SQLite, hence in the DSN. temp_store keeps
	// temporary files in memory, among them the sub-journal that saves a page before a
	// savepoint's first change to it: group commit (bunrepo) runs every write in a
	// savepoint, and on disk the sub-journal cost a pwrite per page, a visible share
	// of a code exchange's CPU (BENCHMARKS.md). It holds a group's pages, about 1 MiB
	// at most.
	// wal_autocheckpoint: see checkpoint.go.
	params := []string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()),
		"_pragma=foreign_keys(1)",
		"_pragma=synchronous(NORMAL)",
		"_pragma=temp_store(MEMORY)",
		fmt.Sprintf("_pragma=wal_autocheckpoint(%d)", sqliteAutoCheckpoint),
		"_txlock=immediate",
	}
	if path != ":memory:" {
		params = append(params, "_pragma=journal_mode(WAL)")
	}
	if extra := q.Encode(); extra != "" {
		params = append(params, extra)
	}
	return &target{
		kind:       SQLite,
		where:      "sqlite database " + path,
		sqlitePath: path,
		sqliteDSN:  path + "?" + strings.Join(params, "&"),
		pool:       pool,
	}, nil
}

// parsePostgres strips the pool settings and lets pgx parse the rest, so every
// libpq-style parameter (sslmode, connect_timeout, ...) keeps working.
func parsePostgres(raw string) (*target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalid("postgres URL: %v", urlErrorWithoutURL(err))
	}
	q := u.Query()
	pool, err := takePoolOptions(q)
	if err != nil {
		return nil, err
	}
	_, execModeSet := q["default_query_exec_mode"]
	u.RawQuery = q.Encode()
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		var pce *pgconn.ParseConfigError
		if errors.As(err, &pce) {
			// The ParseConfigError message repeats the connection string; keep its
			// reason only.
			if inner := pce.Unwrap(); inner != nil {
				return nil, invalid("postgres URL: %v", inner)
			}
		}
		return nil, invalid("postgres URL cannot be parsed; check its host, port and parameters")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	if !execModeSet {
		// Bun formats every query itself and sends it without arguments, so each text
		// is new: caching prepared statements (pgx's default) would only add round trips.
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	return &target{
		kind:  Postgres,
		where: fmt.Sprintf("postgres at %s/%s", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), cfg.Database),
		pg:    cfg,
		pool:  pool,
	}, nil
}

// parseMySQL translates mysql://user:pass@host:port/db?params into a go-sql-driver
// configuration. Times are read and written in UTC, and UPDATE reports matched rows
// (as PostgreSQL and SQLite do) rather than changed rows, so "0 rows" means "no such
// row" on every backend.
func parseMySQL(raw string) (*target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalid("mysql URL: %v", urlErrorWithoutURL(err))
	}
	if u.Host == "" {
		return nil, invalid("mysql URL has no host; want mysql://user:pass@host:port/db")
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(strings.Trim(u.Hostname(), "[]"), "3306")
	} else if _, err := strconv.ParseUint(u.Port(), 10, 16); err != nil {
		return nil, invalid("mysql URL: port %q is not a number", u.Port())
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	if strings.Contains(dbName, "/") {
		return nil, invalid("mysql URL: database name %q must not contain '/'", dbName)
	}
	q := u.Query()
	pool, err := takePoolOptions(q)
	if err != nil {
		return nil, err
	}
	// ParseDSN validates the driver parameters (tls, timeout, ...) the URL may carry.
	dsn := "tcp(" + host + ")/" + dbName
	if enc := q.Encode(); enc != "" {
		dsn += "?" + enc
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, invalid("mysql URL: %v", err)
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.ClientFoundRows = true
	cfg.MultiStatements = false
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultConnectTimeout
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	if _, ok := cfg.Params["time_zone"]; !ok {
		// Session time zone UTC, so that CURRENT_TIMESTAMP and NOW() agree with the
		// UTC values the application writes.
		cfg.Params["time_zone"] = "'+00:00'"
	}
	return &target{
		kind:  MySQL,
		where: "mysql at " + host + "/" + dbName,
		my:    cfg,
		pool:  pool,
	}, nil
}

// InMemory reports whether url names an in-memory SQLite database, which lives in one
// connection of one process: nothing else can change it.
func InMemory(url string) bool {
	t, err := parseURL(url)
	return err == nil && t.kind == SQLite && t.sqlitePath == ":memory:"
}

// urlErrorWithoutURL drops the URL (and any password in it) that *url.Error repeats.
func urlErrorWithoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
