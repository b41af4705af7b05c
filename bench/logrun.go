package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// logBlock measures client_credentials as users run the server: request logging at
// its default level (info), a line per request, measured with wrk in slices
// alternating with the baseline, also under wrk. The server logs to a file, as under
// the other blocks; after it stopped, its log must hold a line per answered request.
func (r *run) logBlock(ctx context.Context) error {
	cfg := r.cfg
	db := LogDatabase
	dir := filepath.Join(r.tmp, "sqlite-log")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	cfg.logf("== %s: setting up a fresh server in %s", db, dir)
	env := []string{"GATEHOUSE_DATABASE_URL=sqlite:" + filepath.Join(dir, "gatehouse.db"),
		"GATEHOUSE_SECRET_KEY=" + RandomSecret(48)}
	profiling := slices.Contains(cfg.ProfileScenarios, ScenarioCCLog)
	srv, err := NewServer(cfg.ServerBin, dir, append(slices.Clone(cfg.ServerEnv), env...), profiling)
	if err != nil {
		return err
	}
	srv.Setenv("GATEHOUSE_LOG_LEVEL=info")
	fx := &fixture{srv: srv, setup: NewClient(4, 60*time.Second)}
	defer fx.setup.CloseIdleConnections()
	if _, err := srv.CLI(ctx, "", nil, "migrate"); err != nil {
		return err
	}
	out, err := srv.CLI(ctx, "", nil, "clients", "create", "--json", "--name", "bench-cc", "--grant-type", "client_credentials",
		"--scope", "api:read api:write")
	if err != nil {
		return err
	}
	if err := jsonClient(out, &fx.cc); err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = srv.Stop()
		}
	}()
	body := "grant_type=client_credentials"
	st, answer, err := post(ctx, fx.setup, srv.URL+"/oauth/token", fx.cc.basic(), []byte(body))
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("client_credentials during set-up: %d %s %v", st, answer, err)
	}
	if r.baseline == nil {
		r.baseline, r.baselinePID, err = StartBaseline(ctx, cfg.BaselineCmd, len(answer))
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
	}
	headers := map[string]string{}
	for k, v := range fx.cc.basic() {
		headers[k] = v[0]
	}
	cc := WrkTarget{Name: ScenarioCCLog, Method: http.MethodPost, URL: srv.URL + "/oauth/token", Headers: headers, Body: body}
	base := cc
	base.Name, base.URL = ScenarioBaseline, r.baseline.URL+"/oauth/token"

	slice := cfg.WrkSlice
	if slice <= 0 {
		slice = time.Second
	}
	// One unmeasured second of each first: connections, caches, the heap.
	for _, t := range []WrkTarget{cc, base} {
		if _, err := RunWrk(ctx, cfg.Wrk, r.tmp, t, cfg.Options.Concurrency, time.Second, cfg.Options.Timeout); err != nil {
			return err
		}
	}
	var prof *profile
	if profiling && srv.PprofAddr != "" {
		prof = &profile{addr: srv.PprofAddr, seconds: int(math.Ceil(2 * cfg.Options.Duration.Seconds())), db: "sqlite-log", scenario: ScenarioCCLog}
		prof.start()
	}
	cfg.logf("%-20s running wrk, %d connections for %v, in %v slices alternating with the baseline…", ScenarioCCLog,
		cfg.Options.Concurrency, cfg.Options.Duration, slice)
	rss := startRSS(srv.PID())
	p, err := RunWrkPaired(ctx, cfg.Wrk, r.tmp, cc, base, cfg.Options.Concurrency, cfg.Options.Duration, slice, cfg.Options.Timeout)
	peak, how := rss.stop()
	if err != nil {
		return err
	}
	p.A.PeakRSS, p.A.RSSMethod = peak, how
	if prof != nil {
		if path, err := prof.finish(cfg.ProfileDir, cfg.ServerBin, cfg.logf); err != nil {
			r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("CPU profile of %s failed: %v", ScenarioCCLog, err))
		} else {
			r.rep.Profiles = append(r.rep.Profiles, path)
		}
	}
	stopped = true
	if err := srv.Stop(); err != nil {
		return err
	}
	var note string
	logged, err := countLogLines(filepath.Join(dir, "server.log"), `msg=request method=POST route=/oauth/token status=200 `)
	switch {
	case err != nil:
		note = fmt.Sprintf("WARNING: could not read the server log: %v", err)
	case logged < p.A.OK:
		note = fmt.Sprintf("WARNING: %d request lines logged for at least %d answers", logged, p.A.OK)
	default:
		note = fmt.Sprintf("wrk, %d connections on 2 threads; the server wrote a log line per request to a file (%d lines)", cfg.Options.Concurrency, logged)
	}
	baseRow := Row{Scenario: ScenarioBaseline, Endpoint: endpointNames[ScenarioBaseline], Database: db, Result: p.B,
		BaselineRPS: p.B.RPS(), BaselineP99: p.B.Latency.Quantile(0.99), Note: "the same baseline, loaded by wrk"}
	row := Row{Scenario: ScenarioCCLog, Endpoint: endpointNames[ScenarioCCLog], Database: db, Result: p.A,
		BaselineRPS: p.B.RPS(), BaselineP99: p.B.Latency.Quantile(0.99), PairRatios: p.Ratios, Note: note}
	r.rep.Rows = append(r.rep.Rows, baseRow, row)
	cfg.logf("%-20s %9.0f req/s  ×%.2f  p50 %-9v p99 %-9v errors %s (baseline %0.f req/s)", ScenarioCCLog, p.A.RPS(), row.Ratio(),
		round(p.A.Latency.Quantile(0.5)), round(p.A.Latency.Quantile(0.99)), p.A.ErrorSummary(), p.B.RPS())
	return nil
}

// jsonClient reads the output of `gatehouse clients create --json`.
func jsonClient(out []byte, dst *clientCreds) error {
	if err := json.Unmarshal(out, dst); err != nil || dst.ID == "" {
		return fmt.Errorf("clients create --json printed %q", out)
	}
	return nil
}

// countLogLines counts the lines of the file at path that contain want.
func countLogLines(path, want string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return int64(strings.Count(string(b), want)), nil
}
