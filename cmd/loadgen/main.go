// Command loadgen is Gatehouse's load-test harness (package bench). It only ever sends
// traffic to loopback addresses, with a fixed number of keep-alive connections for a
// fixed time, and stops by itself.
//
//	loadgen run [flags]        start the real server on fresh databases, run every
//	                           scenario, print the table, update BENCHMARKS.md and
//	                           docs/bench.svg (what `make bench` does)
//	loadgen hit -url URL ...   load one loopback URL and print the numbers
//	loadgen soak [flags]       a long mixed load of every grant and endpoint on fresh
//	                           databases; exit 1 on any 5xx, unexpected 4xx or
//	                           transport error (what `make soak` does)
//	loadgen sched -trace FILE  how long goroutines waited for a processor in an
//	                           execution trace, by what readied them
//	loadgen baseline ...       serve the bare Echo baseline (started by `run`)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gatehouse/bench"
)

// runtimeEnv are the Go runtime's variables -env may set for the server.
var runtimeEnv = []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = runCmd(ctx, args)
	case "hit":
		err = hitCmd(ctx, args)
	case "baseline":
		err = baselineCmd(ctx, args)
	case "soak":
		err = soakCmd(ctx, args)
	case "sched":
		err = schedCmd(args)
	default:
		err = usageErr{fmt.Sprintf("unknown command %q (run, hit, soak, sched, baseline)", cmd)}
	}
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "loadgen: "+err.Error())
	if errors.As(err, new(usageErr)) || errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	os.Exit(1)
}

type usageErr struct{ msg string }

func (e usageErr) Error() string { return e.msg }

func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		return usageErr{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageErr{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func loadFlags(fs *flag.FlagSet) *bench.Options {
	o := bench.DefaultOptions()
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "connections (one worker each, keep-alive)")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "measured time per scenario")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "unmeasured warm-up per scenario")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "bound on each request")
	return &o
}

func checkOptions(o *bench.Options) error {
	switch {
	case o.Concurrency < 1 || o.Concurrency > 4096:
		return usageErr{"-concurrency must be 1 to 4096"}
	case o.Duration <= 0 || o.Duration > 10*time.Minute:
		return usageErr{"-duration must be in (0, 10m]"}
	case o.Warmup < 0 || o.Warmup > time.Minute:
		return usageErr{"-warmup must be in [0, 1m]"}
	}
	return nil
}

func runCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("loadgen run", flag.ContinueOnError)
	opts := loadFlags(fs)
	server := fs.String("server", "bin/gatehouse", "gatehouse binary to start")
	pg := fs.String("postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		`PostgreSQL admin URL (loopback) on which a temporary database is created and dropped; "off" skips PostgreSQL; `+
			`Gatehouse's pool parameters on it (max_open_conns, max_idle_conns, ...) go to the server only`)
	noSQLite := fs.Bool("no-sqlite", false, "skip SQLite")
	only := fs.String("only", "", "comma-separated scenarios to run (the baseline always runs): "+strings.Join(slices.Concat(bench.AllScenarios[1:], []string{bench.ScenarioCCLog}), ","))
	revokePool := fs.Int("revoke-pool", bench.DefaultRevokePool, "refresh tokens minted before the revocation run (it ends when they are used up)")
	codePool := fs.Int("code-pool", bench.DefaultCodePool, "authorization codes minted before the exchange run")
	slice := fs.Duration("slice", 500*time.Millisecond, "alternate each scenario with the baseline in slices of this length (0: one baseline run per database)")
	mintBudget := fs.Duration("mint-budget", 30*time.Second, "bound on the time spent minting each pool (0: none)")
	out := fs.String("out", "BENCHMARKS.md", `file whose generated section is replaced ("" writes none)`)
	svg := fs.String("svg", "docs/bench.svg", `bar chart to write ("" writes none)`)
	micro := fs.String("micro", "", "go test -bench output to include in BENCHMARKS.md")
	pprofScenarios := fs.String("pprof", "", "comma-separated scenarios during which to take a CPU profile of the server (GATEHOUSE_PPROF_ADDR)")
	prefill := fs.String("prefill", fmt.Sprintf("%d,%d,%d", bench.DefaultPrefill.Users, bench.DefaultPrefill.RefreshTokens, bench.DefaultPrefill.Clients),
		`users,refresh tokens,clients bulk-loaded for the second block of each database (the cost as work grows); "off" leaves that block out`)
	wrk := fs.String("wrk", "wrk", `wrk binary for the run with request logging at info (`+bench.ScenarioCCLog+`); "off" skips it`)
	wrkSlice := fs.Duration("wrk-slice", time.Second, "that run alternates with the baseline in slices of this length (whole seconds)")
	pprofDir := fs.String("pprof-dir", "bin/pprof", "where CPU profiles and their pprof -top go")
	var serverEnv headerFlags
	fs.Var(&serverEnv, "env", "GATEHOUSE_NAME=value (or GOGC, GOMEMLIMIT, GOMAXPROCS) for the server, e.g. GATEHOUSE_SIGNING_ALG=EdDSA (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOptions(opts); err != nil {
		return err
	}
	for _, kv := range serverEnv {
		if k, _, ok := strings.Cut(kv, "="); !ok || !strings.HasPrefix(k, "GATEHOUSE_") && !slices.Contains(runtimeEnv, k) {
			return usageErr{fmt.Sprintf("-env %q: want GATEHOUSE_NAME=value or one of %s", kv, strings.Join(runtimeEnv, ", "))}
		}
	}
	cfg := bench.Config{
		ServerEnv:  serverEnv,
		ServerBin:  *server,
		Options:    *opts,
		SkipSQLite: *noSQLite,
		RevokePool: *revokePool,
		CodePool:   *codePool,
		MintBudget: *mintBudget,
		Slice:      *slice,
		ProfileDir: *pprofDir,
		WrkSlice:   *wrkSlice,
		Log:        os.Stderr,
	}
	if *prefill != "off" {
		sizes, err := parsePrefill(*prefill)
		if err != nil {
			return usageErr{"-prefill: " + err.Error()}
		}
		cfg.Prefill = &sizes
	}
	if *wrk != "off" {
		path, err := bench.FindWrk(*wrk)
		if err != nil {
			// Not fatal: the other runs need no wrk; RunAll notes the skip.
			fmt.Fprintf(os.Stderr, "loadgen: %v: the run with request logging (%s) is skipped\n", err, bench.ScenarioCCLog)
		}
		cfg.Wrk = path
	}
	if *pg != "off" {
		cfg.PostgresURL = *pg
	}
	if *only != "" {
		for _, s := range strings.Split(*only, ",") {
			s = strings.TrimSpace(s)
			if !known(s) {
				return usageErr{fmt.Sprintf("-only: unknown scenario %q", s)}
			}
			cfg.Only = append(cfg.Only, s)
		}
	}
	if *pprofScenarios != "" {
		for _, s := range strings.Split(*pprofScenarios, ",") {
			s = strings.TrimSpace(s)
			if !known(s) {
				return usageErr{fmt.Sprintf("-pprof: unknown scenario %q", s)}
			}
			cfg.ProfileScenarios = append(cfg.ProfileScenarios, s)
		}
	}
	// The baseline runs as a second copy of this binary, a process of its own.
	if self, err := os.Executable(); err == nil {
		cfg.BaselineCmd = []string{self, "baseline"}
	}
	var microText string
	if *micro != "" {
		f, err := os.Open(*micro)
		if err != nil {
			return err
		}
		microText = bench.MicroBenchmarks(f)
		f.Close()
	}
	rep, err := bench.RunAll(ctx, cfg)
	if rep == nil {
		return err
	}
	rep.Command = commandLine()
	fmt.Println()
	fmt.Print(rep.Table())
	for _, t := range rep.Targets() {
		verdict := "MISSED"
		if t.Met {
			verdict = "met"
		}
		fmt.Printf("target: %-50s %12s  %s\n", t.Goal, t.Measured, verdict)
	}
	if err != nil {
		return err // partial results were printed, but no file is overwritten with them
	}
	if len(rep.Rows) == 0 {
		return errors.New("nothing was measured (" + strings.Join(rep.Notes, "; ") + ")")
	}
	if *svg != "" {
		if err := os.MkdirAll(filepath.Dir(*svg), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(*svg, rep.SVG(), 0o644); err != nil {
			return err
		}
	}
	if *out != "" {
		rel := *svg
		if r, err := filepath.Rel(filepath.Dir(*out), *svg); err == nil {
			rel = filepath.ToSlash(r)
		}
		if *svg == "" {
			rel = ""
		}
		if err := bench.UpdateFile(*out, rep.Markdown(rel, microText)); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s and %s\n", *out, *svg)
	}
	for _, p := range rep.Profiles {
		fmt.Fprintf(os.Stderr, "CPU profile: %s (go tool pprof -top %s %s)\n", p, *server, p)
	}
	return nil
}

// parsePrefill reads "USERS,TOKENS,CLIENTS".
func parsePrefill(v string) (bench.PrefillSizes, error) {
	parts := strings.Split(v, ",")
	if len(parts) != 3 {
		return bench.PrefillSizes{}, fmt.Errorf("want USERS,REFRESH_TOKENS,CLIENTS, got %q", v)
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || x < 0 || x > 100_000_000 {
			return bench.PrefillSizes{}, fmt.Errorf("%q is not a count", p)
		}
		n[i] = x
	}
	if n[1] > 0 && (n[0] == 0 || n[2] == 0) {
		return bench.PrefillSizes{}, fmt.Errorf("refresh tokens need at least one user and one client")
	}
	return bench.PrefillSizes{Users: n[0], RefreshTokens: n[1], Clients: n[2]}, nil
}

func known(s string) bool {
	for _, k := range slices.Concat(bench.AllScenarios, []string{bench.ScenarioCCLog}) {
		if k == s {
			return true
		}
	}
	return false
}

// commandLine is how this run was started, for BENCHMARKS.md.
func commandLine() string {
	parts := []string{os.Args[0]}
	for _, a := range os.Args[1:] {
		if strings.ContainsAny(a, " \t\"'&?*$;|<>") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

func hitCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("loadgen hit", flag.ContinueOnError)
	opts := loadFlags(fs)
	target := fs.String("url", "", "loopback URL to load (required)")
	method := fs.String("method", http.MethodGet, "HTTP method")
	body := fs.String("body", "", "request body (a form body gets Content-Type application/x-www-form-urlencoded unless -H sets one)")
	pid := fs.Int("pid", 0, "process whose peak RSS to report")
	var headers headerFlags
	fs.Var(&headers, "H", `request header "Name: value" (repeatable)`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOptions(opts); err != nil {
		return err
	}
	if *target == "" {
		return usageErr{"-url is required"}
	}
	if err := bench.CheckLoopback(*target); err != nil {
		return usageErr{err.Error()}
	}
	h := http.Header{}
	for _, kv := range headers {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			return usageErr{fmt.Sprintf("-H %q: want \"Name: value\"", kv)}
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	var b []byte
	if *body != "" {
		b = []byte(*body)
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	req := bench.Request{Method: *method, URL: *target, Header: h, Body: b}
	opts.PID = *pid
	res, err := bench.Run(ctx, bench.Workload{Name: "hit", Next: func(int) (bench.Request, bool) { return req, true }}, *opts)
	if err != nil {
		return err
	}
	l := res.Latency
	fmt.Printf("%s %s: %d connections, %v\n", *method, *target, opts.Concurrency, res.Elapsed.Round(time.Millisecond))
	fmt.Printf("requests/s %.0f  ok %d  errors %s\n", res.RPS(), res.OK, res.ErrorSummary())
	fmt.Printf("latency p50 %v  p90 %v  p99 %v  max %v\n", l.Quantile(0.5), l.Quantile(0.9), l.Quantile(0.99), l.Max())
	if res.PeakRSS > 0 {
		fmt.Printf("peak RSS of pid %d: %.1f MiB (%s)\n", *pid, float64(res.PeakRSS)/(1<<20), res.RSSMethod)
	}
	return nil
}

func baselineCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("loadgen baseline", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to serve on")
	size := fs.Int("size", 600, "size of the static JSON answer in bytes")
	if err := parse(fs, args); err != nil {
		return err
	}
	return bench.ServeBaseline(ctx, *addr, *size, os.Stdout)
}
