package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenario keys, in the order they run.
const (
	ScenarioBaseline          = "baseline"
	ScenarioClientCredentials = "client_credentials"
	ScenarioIntrospect        = "introspection"
	ScenarioRefresh           = "refresh"
	ScenarioPassword          = "password"
	ScenarioJWKS              = "jwks"
	ScenarioRevoke            = "revocation"
	ScenarioUserInfo          = "userinfo"
	ScenarioAuthCode          = "authorization_code"
	// ScenarioCCLog is client_credentials on a server logging every request (the
	// default level, info), measured with wrk against the baseline, also under wrk.
	ScenarioCCLog = "client_credentials_log"
)

// AllScenarios lists every scenario key in run order.
// The password grant runs last: the argon2id memory it leaves in the heap would
// inflate the next scenarios' RSS.
var AllScenarios = []string{ScenarioBaseline, ScenarioClientCredentials, ScenarioIntrospect, ScenarioRefresh,
	ScenarioJWKS, ScenarioRevoke, ScenarioUserInfo, ScenarioAuthCode, ScenarioPassword}

// endpointNames are the table's first column.
var endpointNames = map[string]string{
	ScenarioBaseline:          "bare Echo baseline (form POST → static JSON)",
	ScenarioClientCredentials: "client_credentials — POST /oauth/token",
	ScenarioIntrospect:        "introspection of an access token — POST /oauth/introspect",
	ScenarioRefresh:           "refresh_token grant, rotating — POST /oauth/token",
	ScenarioPassword:          "password grant (argon2id) — POST /oauth/token",
	ScenarioJWKS:              "JWKS — GET /.well-known/jwks.json",
	ScenarioRevoke:            "revocation of fresh refresh tokens — POST /oauth/revoke",
	ScenarioUserInfo:          "userinfo — GET /userinfo",
	ScenarioAuthCode:          "authorization_code exchange — POST /oauth/token",
	ScenarioCCLog:             "client_credentials, request log at info — POST /oauth/token",
}

// PrefilledName is the name of database db's pre-filled block.
func PrefilledName(db string) string { return db + ", prefilled" }

// serverAudience is the server's default audience: GATEHOUSE_AUDIENCE when env sets
// it, else the issuer.
func serverAudience(env []string, issuer string) string {
	aud := issuer
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GATEHOUSE_AUDIENCE="); ok && v != "" {
			aud = v
		}
	}
	return aud
}

// LogDatabase is the block of the run with request logging on, measured with wrk.
const LogDatabase = "SQLite, request log at info, wrk"

// DefaultCodePool is how many codes are minted for the exchange run: about four
// seconds of it at 9,000/s, so that the rate and the 99th percentile are measured
// over seconds (12,000 ran dry after 1.1-1.5 s on the faster AMD machine, 3,000 once
// after one second). Minting them takes a few seconds (about 5,000/s).
const DefaultCodePool = 36000

// DefaultRevokePool is how many refresh tokens are minted for the revocation run:
// about two seconds of it at 15,000/s, so that the run spans a few slice pairs (12,000
// ran dry after 0.6 s, one slice, and its ratio moved by a fifth between runs; 3,000
// lasted 0.2 s once PostgreSQL's revocations were pipelined). Minting it takes 15-30 s
// (the code flow, at 1,100-2,400 tokens/s; more minting connections did not help);
// -mint-budget bounds that.
const DefaultRevokePool = 36000

// idleSettle is how long the server rests after its first token before its idle RSS
// is read.
const idleSettle = time.Second

// Config is one whole benchmark run.
type Config struct {
	// ServerBin is the gatehouse binary (built from cmd/gatehouse).
	ServerBin string
	// BaselineCmd serves the Echo baseline in its own process (see StartBaseline);
	// empty serves it in this process.
	BaselineCmd []string
	// Options apply to every scenario (PID is set per scenario).
	Options Options
	// SkipSQLite leaves SQLite out; PostgresURL ("" leaves PostgreSQL out) is an admin
	// URL on which a database with a random name is created and dropped afterwards.
	SkipSQLite  bool
	PostgresURL string
	// RevokePool and CodePool are how many refresh tokens and authorization codes are
	// minted before revocation and code exchange are measured; those scenarios end
	// early when their pool runs dry.
	RevokePool int
	CodePool   int
	// Slice, when > 0, runs each scenario in slices of about this length alternating
	// with slices of the baseline (see RunPaired), and each row's ratio is to its own
	// interleaved baseline; 0 runs the baseline once at the start of each database.
	Slice time.Duration
	// MintBudget bounds the time spent minting each pool (a pool is cut short rather
	// than the run made long); 0 means no bound.
	MintBudget time.Duration
	// Only, when not empty, limits the run to these scenario keys (the baseline always
	// runs: every ratio needs it).
	Only []string
	// ProfileScenarios names scenarios during which a CPU profile of the server is
	// taken (GATEHOUSE_PPROF_ADDR) and written to ProfileDir.
	ProfileScenarios []string
	ProfileDir       string
	// ServerEnv adds GATEHOUSE_* settings to the server's environment (for experiments
	// such as GATEHOUSE_SIGNING_ALG=EdDSA); the harness's own settings win.
	ServerEnv []string
	// Prefill, when set, adds a block per database on a database pre-filled with
	// that many rows (Prefill), after the block on the empty one.
	Prefill *PrefillSizes
	// Wrk is the wrk binary for the run with request logging (ScenarioCCLog); empty
	// skips that run with a note. WrkSlice is its slice length (default 1 s).
	Wrk      string
	WrkSlice time.Duration
	// Log receives progress lines.
	Log     io.Writer
	started time.Time
}

// Row is one line of the results table.
type Row struct {
	Scenario    string
	Endpoint    string
	Database    string
	Result      Result
	BaselineRPS float64       // of the baseline slices interleaved with this row's
	BaselineP99 time.Duration // of the same slices
	PairRatios  []float64     // per slice pair, when paired
	Note        string
	Skipped     bool
}

// Ratio is the row's throughput over the baseline's: the median of the per-slice-pair
// ratios when the run was paired, else the ratio of the two rates.
func (r Row) Ratio() float64 {
	if len(r.PairRatios) > 0 {
		return median(r.PairRatios)
	}
	if r.BaselineRPS <= 0 {
		return 0
	}
	return r.Result.RPS() / r.BaselineRPS
}

// RatioRange is the lowest and highest per-pair ratio (both 0 when not paired): how
// much the shared machine moved under this row.
func (r Row) RatioRange() (lo, hi float64) {
	if len(r.PairRatios) == 0 {
		return 0, 0
	}
	return slices.Min(r.PairRatios), slices.Max(r.PairRatios)
}

// Report is everything a run measured.
type Report struct {
	Started  time.Time
	Finished time.Time
	Machine  Machine
	Command  string
	Options  Options
	Rows     []Row
	// IdleRSS is each database's server RSS at rest: started, migrated, one token
	// issued, then a second without requests (issue 8: ≤ 40 MiB idle).
	IdleRSS  []IdleRSS
	Notes    []string
	Profiles []string
}

// IdleRSS is one server's resident set size at rest, in bytes.
type IdleRSS struct {
	Database string
	Bytes    int64
}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, "%6.1fs  "+format+"\n", append([]any{time.Since(c.started).Seconds()}, args...)...)
	}
}

// wantsLog says whether the run with request logging is wanted: by default, or when
// -only names it.
func (c *Config) wantsLog() bool {
	return len(c.Only) == 0 || slices.Contains(c.Only, ScenarioCCLog)
}

// wantsDatabases says whether the blocks of every scenario run: not when -only names
// nothing but the run with request logging.
func (c *Config) wantsDatabases() bool {
	return len(c.Only) == 0 || slices.ContainsFunc(c.Only, func(s string) bool { return slices.Contains(AllScenarios, s) })
}

func (c *Config) wants(s string) bool {
	if s == ScenarioBaseline || len(c.Only) == 0 {
		return true
	}
	for _, o := range c.Only {
		if o == s {
			return true
		}
	}
	return false
}

// RunAll runs every scenario on every database and returns the report.
func RunAll(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.ServerBin == "" {
		return nil, errors.New("no server binary")
	}
	if _, err := os.Stat(cfg.ServerBin); err != nil {
		return nil, fmt.Errorf("server binary: %w", err)
	}
	// The server and the CLI run in a temporary directory.
	abs, err := filepath.Abs(cfg.ServerBin)
	if err != nil {
		return nil, err
	}
	cfg.ServerBin = abs
	if cfg.RevokePool <= 0 {
		cfg.RevokePool = DefaultRevokePool
	}
	if cfg.CodePool <= 0 {
		cfg.CodePool = DefaultCodePool
	}
	def := DefaultOptions()
	if cfg.Options.Concurrency <= 0 {
		cfg.Options.Concurrency = def.Concurrency
	}
	if cfg.Options.Duration <= 0 {
		cfg.Options.Duration = def.Duration
	}
	if cfg.Options.Timeout <= 0 {
		cfg.Options.Timeout = def.Timeout
	}
	cfg.started = time.Now()
	rep := &Report{Started: cfg.started.UTC(), Machine: DescribeMachine(), Options: cfg.Options}
	tmp, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	r := &run{cfg: cfg, rep: rep, tmp: tmp}
	defer r.stopBaseline()
	if !cfg.wantsDatabases() {
		cfg.SkipSQLite, cfg.PostgresURL = true, ""
	}
	// Each database empty, then (unless Prefill is off) pre-filled: the cost as the
	// work grows.
	prefills := []*PrefillSizes{nil}
	if cfg.Prefill != nil {
		prefills = append(prefills, cfg.Prefill)
	}
	if !cfg.SkipSQLite {
		for _, pf := range prefills {
			db, sub := "SQLite", "sqlite"
			if pf != nil {
				db, sub = PrefilledName("SQLite"), "sqlite-prefilled"
			}
			dir := filepath.Join(tmp, sub)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, err
			}
			if err := r.database(ctx, db, dir, "sqlite:"+filepath.Join(dir, "gatehouse.db"), pf); err != nil {
				return rep, fmt.Errorf("%s: %w", db, err)
			}
		}
	}
	if cfg.PostgresURL != "" {
		for _, pf := range prefills {
			db, sub := "PostgreSQL", "postgres"
			if pf != nil {
				db, sub = PrefilledName("PostgreSQL"), "postgres-prefilled"
			}
			dbURL, drop, err := TempPostgres(ctx, cfg.PostgresURL)
			if err != nil {
				note := fmt.Sprintf("%s skipped: %v", db, err)
				cfg.logf("%s", note)
				rep.Notes = append(rep.Notes, note)
				break
			}
			dir := filepath.Join(tmp, sub)
			err = os.MkdirAll(dir, 0o700)
			if err == nil {
				err = r.database(ctx, db, dir, dbURL, pf)
			}
			if derr := drop(); derr != nil {
				rep.Notes = append(rep.Notes, derr.Error())
			}
			if err != nil {
				return rep, fmt.Errorf("%s: %w", db, err)
			}
		}
	}
	if cfg.wantsLog() {
		if cfg.Wrk == "" {
			note := "the run with request logging at info (" + ScenarioCCLog + ") was skipped: wrk is not installed (Debian/Ubuntu: apt-get install wrk)"
			cfg.logf("%s", note)
			rep.Notes = append(rep.Notes, note)
		} else if err := r.logBlock(ctx); err != nil {
			return rep, fmt.Errorf("%s: %w", LogDatabase, err)
		}
	}
	rep.Finished = time.Now().UTC()
	return rep, ctx.Err()
}

// run holds what the database blocks share: the baseline process.
type run struct {
	cfg         Config
	rep         *Report
	tmp         string
	baseline    *Baseline
	baselinePID int
}

func (r *run) stopBaseline() {
	if r.baseline != nil {
		r.baseline.Stop()
	}
}

// fixture is what the CLI set up in one database.
type fixture struct {
	srv                *Server
	cc, pw, web        clientCreds
	user, fastUser     string
	password           string
	disc               map[string]any
	setup              *http.Client
	ccBody, ccResponse []byte
	revoked            []string    // the revocation pool, checked after the run
	revokedBy          clientCreds // the client the pool was issued to
}

type clientCreds struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

func (c clientCreds) basic() http.Header {
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString(
		[]byte(url.QueryEscape(c.ID)+":"+url.QueryEscape(c.Secret))))
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return h
}

// database runs every scenario against one fresh server and database.
func (r *run) database(ctx context.Context, db, dir, dbURL string, pf *PrefillSizes) error {
	cfg := r.cfg
	cfg.logf("== %s: setting up a fresh server in %s", db, dir)
	secretKey := RandomSecret(48)
	env := []string{"GATEHOUSE_DATABASE_URL=" + dbURL, "GATEHOUSE_SECRET_KEY=" + secretKey}
	srv, err := NewServer(cfg.ServerBin, dir, append(slices.Clone(cfg.ServerEnv), env...), len(cfg.ProfileScenarios) > 0)
	if err != nil {
		return err
	}
	// Only serve and migrate create a database; the clients are made before the
	// server starts.
	if _, err := srv.CLI(ctx, "", nil, "migrate"); err != nil {
		return err
	}
	if pf != nil {
		p, err := Prefill(ctx, PrefillConfig{DatabaseURL: dbURL, SecretKey: secretKey, Audience: serverAudience(cfg.ServerEnv, srv.URL),
			Sizes: *pf, Seed: RandomSecret(8), Logf: cfg.logf})
		if err != nil {
			return err
		}
		cfg.logf("%-20s prefilled %d users, %d clients, %d refresh tokens in %.0f s", "", pf.Users, pf.Clients, pf.RefreshTokens, p.Took.Seconds())
		r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("%s: %s users, %s live refresh tokens and %s clients bulk-loaded before the server started, in %.0f s",
			db, formatRPS(float64(pf.Users)), formatRPS(float64(pf.RefreshTokens)), formatRPS(float64(pf.Clients)), p.Took.Seconds()))
	}
	fx := &fixture{srv: srv, password: "bench-" + RandomSecret(20), setup: NewClient(16, 60*time.Second)}
	defer fx.setup.CloseIdleConnections()
	if err := fx.create(ctx); err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			cfg.logf("stopping the server: %v", err)
		}
	}()
	if err := fx.discover(ctx); err != nil {
		return err
	}
	// One real client_credentials answer: its size is the baseline's body size.
	fx.ccBody = []byte("grant_type=client_credentials")
	st, body, err := post(ctx, fx.setup, srv.URL+"/oauth/token", fx.cc.basic(), fx.ccBody)
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("client_credentials during set-up: %d %s %v", st, body, err)
	}
	fx.ccResponse = body
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(idleSettle):
	}
	if st, err := ReadProcStatus(srv.PID()); err == nil {
		r.rep.IdleRSS = append(r.rep.IdleRSS, IdleRSS{Database: db, Bytes: st.VmRSS})
		cfg.logf("server RSS at rest: %s", formatBytes(st.VmRSS))
	}
	if r.baseline == nil {
		r.baseline, r.baselinePID, err = StartBaseline(ctx, cfg.BaselineCmd, len(body))
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		cfg.logf("baseline serving %d-byte answers at %s (pid %d)", len(body), r.baseline.URL, r.baselinePID)
	}

	// The baseline row of this block: in paired mode, every baseline slice run at the
	// block's connection count, merged.
	baseWl, basePID, _, err := r.workload(ctx, ScenarioBaseline, fx)
	if err != nil {
		return err
	}
	blockStart := len(r.rep.Rows)
	blockBase := Result{Name: ScenarioBaseline, Latency: &Histogram{}}
	var baselineRPS float64
	var baselineP99 time.Duration
	for _, sc := range AllScenarios {
		if !cfg.wants(sc) || (sc == ScenarioBaseline && cfg.Slice > 0) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		row := Row{Scenario: sc, Endpoint: endpointNames[sc], Database: db}
		wl, pid, note, err := r.workload(ctx, sc, fx)
		row.Note = note
		if err != nil {
			return fmt.Errorf("%s: %w", sc, err)
		}
		if wl == nil { // not available in this build
			row.Skipped = true
			cfg.logf("%-20s %s", sc, note)
			r.rep.Rows = append(r.rep.Rows, row)
			continue
		}
		opts := cfg.Options
		opts.PID = pid
		switch sc {
		case ScenarioPassword:
			// The server hashes GOMAXPROCS passwords at a time; 64 connections would only
			// queue behind them until requests time out, measuring the queue.
			opts.Concurrency = min(opts.Concurrency, passwordConcurrency())
			// Under load one answer can take longer than the warm-up and the window
			// together; without a warm-up every request sent is counted.
			opts.Warmup = 0
			row.Note = joinNote(row.Note, fmt.Sprintf("%d connections", opts.Concurrency))
		case ScenarioRevoke, ScenarioAuthCode:
			// The warm-up would use up the pre-minted pool.
			opts.Warmup = min(opts.Warmup, 100*time.Millisecond)
		}
		var prof *profile
		if slices.Contains(cfg.ProfileScenarios, sc) && srv.PprofAddr != "" {
			seconds := opts.Duration.Seconds()
			if cfg.Slice > 0 {
				seconds *= 2 // the baseline slices are interleaved; the server idles in them
			}
			prof = &profile{addr: srv.PprofAddr, seconds: int(math.Ceil(seconds)), db: db, scenario: sc}
			opts.OnMeasureStart = prof.start
		}
		var res Result
		if cfg.Slice > 0 {
			slice := cfg.Slice
			if sc == ScenarioPassword {
				// Its answers take a tenth of a second or more, so short slices would
				// be mostly tails. Its ratio (~0.00) is not shown; it serves only to
				// compare the prefilled database's rate with the empty one's without
				// the machine's drift between the two blocks.
				slice = max(slice, passwordSlice)
			}
			cfg.logf("%-20s running %d connections for %v, in slices alternating with the baseline…", sc, opts.Concurrency, opts.Duration)
			bopts := opts
			bopts.PID, bopts.OnMeasureStart = basePID, nil
			p, err := RunPaired(ctx, *wl, opts, *baseWl, bopts, slice)
			if err != nil {
				return fmt.Errorf("%s: %w", sc, err)
			}
			res = p.A
			row.PairRatios = p.Ratios
			if sc != ScenarioPassword {
				base := p.B
				row.BaselineRPS, row.BaselineP99 = base.RPS(), base.Latency.Quantile(0.99)
				if opts.Concurrency == cfg.Options.Concurrency {
					blockBase.merge(base)
				}
			}
		} else {
			cfg.logf("%-20s running %d connections for %v (+%v warm-up)…", sc, opts.Concurrency, opts.Duration, opts.Warmup)
			res, err = Run(ctx, *wl, opts)
			if err != nil {
				return fmt.Errorf("%s: %w", sc, err)
			}
			if sc == ScenarioBaseline {
				baselineRPS, baselineP99 = res.RPS(), res.Latency.Quantile(0.99)
			}
			row.BaselineRPS, row.BaselineP99 = baselineRPS, baselineP99
		}
		row.Result = res
		if gone, err := srv.Exited(); gone {
			return fmt.Errorf("%s: the server exited during the run (%v); its log ends:\n%s", sc, err, srv.LogTail(15))
		}
		if res.Exhausted {
			row.Note = joinNote(row.Note, fmt.Sprintf("pool ran dry after %.1f s", res.Elapsed.Seconds()))
		}
		if check := r.after(ctx, sc, fx); check != "" {
			row.Note = joinNote(row.Note, check)
		}
		if prof != nil {
			if path, err := prof.finish(cfg.ProfileDir, cfg.ServerBin, cfg.logf); err != nil {
				r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("CPU profile of %s on %s failed: %v", sc, db, err))
			} else {
				r.rep.Profiles = append(r.rep.Profiles, path)
			}
		}
		cfg.logf("%-20s %9.0f req/s  ×%.2f  p50 %-9v p90 %-9v p99 %-9v errors %s  rss %s %s", sc, res.RPS(), row.Ratio(),
			round(res.Latency.Quantile(0.5)), round(res.Latency.Quantile(0.9)), round(res.Latency.Quantile(0.99)),
			res.ErrorSummary(), formatBytes(res.PeakRSS), row.Note)
		r.rep.Rows = append(r.rep.Rows, row)
	}
	if cfg.Slice > 0 && blockBase.Requests > 0 {
		row := Row{Scenario: ScenarioBaseline, Endpoint: endpointNames[ScenarioBaseline], Database: db,
			Result: blockBase, BaselineRPS: blockBase.RPS(), BaselineP99: blockBase.Latency.Quantile(0.99),
			Note: "all baseline slices of this database block at " + fmt.Sprint(cfg.Options.Concurrency) +
				" connections; each row's ratio is the median over its slice pairs of its rate over the baseline slice next to it (lowest–highest in brackets)"}
		r.rep.Rows = slices.Insert(r.rep.Rows, blockStart, row)
	}
	return nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	return a + "; " + b
}

// create registers the clients and users through the real CLI.
func (fx *fixture) create(ctx context.Context) error {
	mk := func(dst *clientCreds, args ...string) error {
		out, err := fx.srv.CLI(ctx, "", nil, append([]string{"clients", "create", "--json"}, args...)...)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(out, dst); err != nil || dst.ID == "" {
			return fmt.Errorf("clients create --json printed %q", out)
		}
		return nil
	}
	if err := mk(&fx.cc, "--name", "bench-cc", "--grant-type", "client_credentials", "--scope", "api:read api:write"); err != nil {
		return err
	}
	if err := mk(&fx.pw, "--name", "bench-pw", "--grant-type", "password", "--grant-type", "refresh_token",
		"--scope", "openid profile email offline_access api:read"); err != nil {
		return err
	}
	// For the code exchange, when this build has the authorization endpoint; a build
	// without it still registers the client.
	// Its ID tokens are ES256 (--id-token-alg): an RS256 signature costs about 1 ms of
	// CPU, which alone would cap the exchange near 2,000/s on two cores (the
	// micro-benchmarks report it).
	if err := mk(&fx.web, "--name", "bench-web", "--redirect-uri", codeRedirectURI, "--grant-type", "authorization_code",
		"--grant-type", "refresh_token", "--skip-consent", "--scope", "openid profile email offline_access api:read",
		"--id-token-alg", "ES256"); err != nil {
		fx.web = clientCreds{}
	}
	fx.user, fx.fastUser = "bench", "bench-fast"
	if _, err := fx.srv.CLI(ctx, fx.password+"\n", nil, "users", "create", "--json", "--username", fx.user,
		"--email", "bench@example.com", "--password-stdin"); err != nil {
		return err
	}
	// The cheapest argon2id the configuration allows (8 MiB, 1 pass): only for minting
	// the refresh-token pools quickly. The password-grant scenario uses fx.user, whose
	// hash has the default cost. Verification reads the cost from each stored hash.
	if _, err := fx.srv.CLI(ctx, fx.password+"\n", []string{"GATEHOUSE_ARGON2_MEMORY=8192", "GATEHOUSE_ARGON2_ITERATIONS=1"},
		"users", "create", "--json", "--username", fx.fastUser, "--email", "fast@example.com", "--password-stdin"); err != nil {
		return err
	}
	return nil
}

func (fx *fixture) discover(ctx context.Context) error {
	st, body, err := get(ctx, fx.setup, fx.srv.URL+"/.well-known/openid-configuration", nil)
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("discovery: %d %v", st, err)
	}
	return json.Unmarshal(body, &fx.disc)
}

func (fx *fixture) endpoint(key string) string {
	s, _ := fx.disc[key].(string)
	return s
}

// passwordGrant mints tokens for user through the password grant.
func (fx *fixture) passwordGrant(ctx context.Context, user, scope string) (tokenAnswer, error) {
	body := "grant_type=password&username=" + url.QueryEscape(user) + "&password=" + url.QueryEscape(fx.password) +
		"&scope=" + url.QueryEscape(scope)
	st, b, err := post(ctx, fx.setup, fx.srv.URL+"/oauth/token", fx.pw.basic(), []byte(body))
	if err != nil {
		return tokenAnswer{}, err
	}
	if st != http.StatusOK {
		return tokenAnswer{}, fmt.Errorf("password grant: %d %s", st, b)
	}
	var t tokenAnswer
	if err := json.Unmarshal(b, &t); err != nil {
		return tokenAnswer{}, err
	}
	return t, nil
}

type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// passwordSlice is the shortest slice the password grant alternates with the
// baseline in.
const passwordSlice = 2 * time.Second

// passwordConcurrency is the connection count of the password scenario: four per
// core, enough to keep every hashing slot busy.
func passwordConcurrency() int { return 4 * runtime.NumCPU() }

// mint runs fn n times on conc goroutines and collects the results. With a budget > 0
// it stops early when the budget is spent and returns what it has, at least one.
func mint(ctx context.Context, cfg Config, what string, n, conc int, budget time.Duration, fn func(ctx context.Context) (string, error)) ([]string, error) {
	start := time.Now()
	out := make([]string, n)
	var next, made atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if budget > 0 && time.Since(start) > budget && made.Load() > 0 {
					return
				}
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				s, err := fn(ctx)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					next.Store(int64(n)) // stop the others
					return
				}
				out[i] = s
				made.Add(1)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("minting %s: %w", what, firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Workers that stopped for the budget leave holes; keep what was made.
	kept := out[:0]
	for _, s := range out {
		if s != "" {
			kept = append(kept, s)
		}
	}
	d := time.Since(start)
	cfg.logf("%-20s minted %d %s in %.1f s (%.0f/s, not measured)", "", len(kept), what, d.Seconds(), float64(len(kept))/d.Seconds())
	return kept, nil
}

func containsCheck(want string) func(int, int, []byte) error {
	w := []byte(want)
	return func(_ int, _ int, body []byte) error {
		if !bytes.Contains(body, w) {
			return fmt.Errorf("answer lacks %s", want)
		}
		return nil
	}
}

// workload builds scenario sc: the workload, the PID whose RSS counts, and a note. A
// nil workload with a note means the scenario is not available in this build.
func (r *run) workload(ctx context.Context, sc string, fx *fixture) (*Workload, int, string, error) {
	cfg := r.cfg
	srv := fx.srv
	conc := cfg.Options.Concurrency
	tokenURL := srv.URL + "/oauth/token"
	fixed := func(method, u string, h http.Header, body []byte) func(int) (Request, bool) {
		req := Request{Method: method, URL: u, Header: h, Body: body}
		return func(int) (Request, bool) { return req, true }
	}
	switch sc {
	case ScenarioBaseline:
		return &Workload{Name: sc, Next: fixed(http.MethodPost, r.baseline.URL+"/oauth/token", fx.cc.basic(), fx.ccBody),
			Check: containsCheck(`"access_token"`)}, r.baselinePID, "", nil

	case ScenarioClientCredentials:
		return &Workload{Name: sc, Next: fixed(http.MethodPost, tokenURL, fx.cc.basic(), fx.ccBody),
			Check: containsCheck(`"access_token"`)}, srv.PID(), "", nil

	case ScenarioIntrospect:
		var t tokenAnswer
		if err := json.Unmarshal(fx.ccResponse, &t); err != nil || t.AccessToken == "" {
			return nil, 0, "", fmt.Errorf("no access token to introspect: %s", fx.ccResponse)
		}
		body := []byte("token=" + url.QueryEscape(t.AccessToken) + "&token_type_hint=access_token")
		// An inactive answer is cheap and would flatter the endpoint: demand active.
		return &Workload{Name: sc, Next: fixed(http.MethodPost, srv.URL+"/oauth/introspect", fx.cc.basic(), body),
			Check: containsCheck(`"active":true`)}, srv.PID(), "JWT access token (signature + deny-list lookup)", nil

	case ScenarioRefresh:
		// Each worker keeps its own chain: every answer's refresh token is the next
		// request's. A chain broken by an error (the server rotated it but the answer
		// failed) continues from a spare, so one error does not idle the worker.
		tokens, creds, how, err := r.refreshPool(ctx, fx, "refresh chains", conc+conc/4+1, 0)
		if err != nil {
			return nil, 0, "", err
		}
		if len(tokens) < conc {
			return nil, 0, "", fmt.Errorf("minted %d refresh chains for %d connections", len(tokens), conc)
		}
		type chain struct {
			token   string
			pending bool
		}
		chains := make([]chain, conc)
		for i := range chains {
			chains[i].token = tokens[i]
		}
		spares := tokens[conc:]
		var spareMu sync.Mutex
		h := creds.basic()
		return &Workload{Name: sc,
			Next: func(w int) (Request, bool) {
				c := &chains[w]
				if c.pending { // the last refresh did not hand over a new token
					spareMu.Lock()
					if len(spares) == 0 {
						spareMu.Unlock()
						return Request{}, false
					}
					c.token, spares = spares[0], spares[1:]
					spareMu.Unlock()
				}
				c.pending = true
				return Request{Method: http.MethodPost, URL: tokenURL, Header: h,
					Body: []byte("grant_type=refresh_token&refresh_token=" + url.QueryEscape(c.token))}, true
			},
			Check: func(w int, _ int, body []byte) error {
				var t tokenAnswer
				if err := json.Unmarshal(body, &t); err != nil || t.RefreshToken == "" || t.AccessToken == "" {
					return errors.New("no rotated refresh token")
				}
				if t.RefreshToken == chains[w].token {
					return errors.New("refresh token not rotated")
				}
				chains[w] = chain{token: t.RefreshToken}
				return nil
			}}, srv.PID(), "scope api:read (no ID token); each connection follows its own rotation chain (started through " + how + ")", nil

	case ScenarioPassword:
		body := []byte("grant_type=password&username=" + url.QueryEscape(fx.user) + "&password=" +
			url.QueryEscape(fx.password) + "&scope=api%3Aread")
		return &Workload{Name: sc, Next: fixed(http.MethodPost, tokenURL, fx.pw.basic(), body),
				Check: containsCheck(`"refresh_token"`)}, srv.PID(),
			"argon2id m=19 MiB t=2 p=1 (default cost) bounds it by design; also writes a refresh-token family", nil

	case ScenarioJWKS:
		return &Workload{Name: sc, Next: fixed(http.MethodGet, srv.URL+"/.well-known/jwks.json", nil, nil),
			Check: containsCheck(`"keys"`)}, srv.PID(), "", nil

	case ScenarioRevoke:
		pool, creds, how, err := r.refreshPool(ctx, fx, "refresh tokens", cfg.RevokePool, cfg.MintBudget)
		if err != nil {
			return nil, 0, "", err
		}
		fx.revoked, fx.revokedBy = pool, creds
		var next atomic.Int64
		h := creds.basic()
		return &Workload{Name: sc, Next: func(int) (Request, bool) {
			i := next.Add(1) - 1
			if i >= int64(len(pool)) {
				return Request{}, false
			}
			return Request{Method: http.MethodPost, URL: srv.URL + "/oauth/revoke", Header: h,
				Body: []byte("token=" + url.QueryEscape(pool[i]) + "&token_type_hint=refresh_token")}, true
		}}, srv.PID(), fmt.Sprintf("pool of %d (minted through %s), each revoked once", len(pool), how), nil

	case ScenarioUserInfo:
		ep := fx.endpoint("userinfo_endpoint")
		if ep == "" {
			return nil, 0, "not available in this build (no userinfo_endpoint in discovery)", nil
		}
		t, err := fx.passwordGrant(ctx, fx.fastUser, "openid profile email")
		if err != nil {
			return nil, 0, "", err
		}
		h := http.Header{}
		h.Set("Authorization", "Bearer "+t.AccessToken)
		return &Workload{Name: sc, Next: fixed(http.MethodGet, srv.URL+"/userinfo", h, nil),
			Check: containsCheck(`"sub"`)}, srv.PID(), "scope openid profile email", nil

	case ScenarioAuthCode:
		return r.authCodeWorkload(ctx, fx)
	}
	return nil, 0, "", fmt.Errorf("unknown scenario %q", sc)
}

// refreshPool mints n live refresh tokens (fewer when budget runs out), each of its own
// family, and says which client holds them.
// The code flow mints them cheaply once the user is logged in (no password hash per
// token), so it is used when this build has it; else the password grant, with the
// fast-hash user.
func (r *run) refreshPool(ctx context.Context, fx *fixture, what string, n int, budget time.Duration) ([]string, clientCreds, string, error) {
	if flow, first, _ := fx.newCodeFlow(ctx, "api:read"); flow != nil {
		redeem := func(ctx context.Context, code string) (string, error) {
			st, b, err := post(ctx, fx.setup, fx.srv.URL+"/oauth/token", fx.web.basic(), flow.exchangeBody(code))
			if err != nil {
				return "", err
			}
			var t tokenAnswer
			if st != http.StatusOK || json.Unmarshal(b, &t) != nil || t.RefreshToken == "" {
				return "", fmt.Errorf("code exchange: %d %s", st, b)
			}
			return t.RefreshToken, nil
		}
		firstToken, err := redeem(ctx, first)
		if err == nil {
			pool, err := mint(ctx, r.cfg, what, n-1, 4, budget, func(ctx context.Context) (string, error) {
				code, err := flow.code(ctx)
				if err != nil {
					return "", err
				}
				return redeem(ctx, code)
			})
			if err != nil {
				return nil, clientCreds{}, "", err
			}
			return append(pool, firstToken), fx.web, "the code flow", nil
		}
		r.cfg.logf("%-20s the code flow did not give a refresh token (%v); minting with the password grant", "", err)
	}
	pool, err := mint(ctx, r.cfg, what, n, 4, budget, func(ctx context.Context) (string, error) {
		t, err := fx.passwordGrant(ctx, fx.fastUser, "api:read")
		return t.RefreshToken, err
	})
	return pool, fx.pw, "the password grant", err
}

// after checks, once a scenario has run, that it did what it claims; a non-empty
// answer goes into the row's note.
func (r *run) after(ctx context.Context, sc string, fx *fixture) string {
	if sc != ScenarioRevoke || len(fx.revoked) == 0 {
		return ""
	}
	// Revocation answers 200 for unknown tokens too (RFC 7009 §2.2): check that the
	// first tokens of the pool really are inactive now.
	for _, tok := range fx.revoked[:min(3, len(fx.revoked))] {
		st, body, err := post(ctx, fx.setup, fx.srv.URL+"/oauth/introspect", fx.revokedBy.basic(),
			[]byte("token="+url.QueryEscape(tok)+"&token_type_hint=refresh_token"))
		if err != nil || st != http.StatusOK || !bytes.Contains(body, []byte(`"active":false`)) {
			return fmt.Sprintf("WARNING: a revoked token still introspects as %d %s", st, body)
		}
	}
	return ""
}

func post(ctx context.Context, c *http.Client, u string, h http.Header, body []byte) (int, []byte, error) {
	return send(ctx, c, http.MethodPost, u, h, body)
}

func get(ctx context.Context, c *http.Client, u string, h http.Header) (int, []byte, error) {
	return send(ctx, c, http.MethodGet, u, h, nil)
}

func send(ctx context.Context, c *http.Client, method, u string, h http.Header, body []byte) (int, []byte, error) {
	if err := CheckLoopback(u); err != nil {
		return 0, nil, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// profile takes a CPU profile of the server while a scenario is measured.
type profile struct {
	addr, db, scenario string
	seconds            int
	data               []byte
	err                error
	done               chan struct{}
}

func (p *profile) start() {
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		c := NewClient(1, time.Duration(p.seconds+30)*time.Second)
		st, b, err := get(context.Background(), c, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.addr, p.seconds), nil)
		if err == nil && st != http.StatusOK {
			err = fmt.Errorf("pprof answered %d: %s", st, b)
		}
		p.data, p.err = b, err
	}()
}

// finish waits for the profile, writes it to dir, and writes `go tool pprof -top`
// beside it when the go command is on PATH. It returns the profile's path.
func (p *profile) finish(dir, bin string, logf func(string, ...any)) (string, error) {
	if p.done == nil {
		return "", errors.New("the measured part never started")
	}
	<-p.done
	if p.err != nil {
		return "", p.err
	}
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := filepath.Join(dir, fmt.Sprintf("cpu-%s-%s", fileSlug(p.db), p.scenario))
	if err := os.WriteFile(base+".pprof", p.data, 0o644); err != nil {
		return "", err
	}
	logf("%-20s CPU profile written to %s.pprof", "", base)
	if goBin, err := exec.LookPath("go"); err == nil {
		for _, mode := range []string{"-top", "-top -cum"} {
			args := append([]string{"tool", "pprof"}, strings.Fields(mode)...)
			args = append(args, "-nodecount=40", bin, base+".pprof")
			out, err := exec.Command(goBin, args...).CombinedOutput()
			suffix := ".top.txt"
			if strings.Contains(mode, "cum") {
				suffix = ".cum.txt"
			}
			if err == nil {
				_ = os.WriteFile(base+suffix, out, 0o644)
			}
		}
		logf("%-20s pprof -top written to %s.top.txt and %s.cum.txt", "", base, base)
	}
	return base + ".pprof", nil
}

// fileSlug makes a block's name ("PostgreSQL, prefilled") part of a file name:
// lower case, every run of other characters than letters and digits one dash
// ("postgresql-prefilled").
func fileSlug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	return b.String()
}
