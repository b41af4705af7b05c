package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The soak (`loadgen soak`, `make soak`): the real server on a fresh database, loaded
// for a long while by many connections with a mix of every grant and endpoint, each
// request checked. Where the benchmark measures speed, the soak looks for what only
// time and mixing bring out: a 5xx under contention, an answer a client could not
// use, memory that keeps growing. No 4xx is expected: every request of the mix is a
// valid one.

// Soak operations, in the order they are reported. Each is one kind of request.
const (
	SoakClientCredentials = "client_credentials"
	SoakPassword          = "password"
	SoakRefresh           = "refresh"
	SoakAuthorize         = "authorize (logged in, → code)"
	SoakCodeExchange      = "authorization_code"
	SoakIntrospect        = "introspection"
	SoakRevoke            = "revocation"
	SoakUserInfo          = "userinfo"
	SoakJWKS              = "jwks"
	SoakDeviceAuthorize   = "device_authorization"
	SoakDevicePage        = "device page (GET, POST allow)"
	SoakDeviceToken       = "device_code"
)

// SoakOps lists every operation of the mix.
var SoakOps = []string{SoakClientCredentials, SoakPassword, SoakRefresh, SoakAuthorize, SoakCodeExchange,
	SoakIntrospect, SoakRevoke, SoakUserInfo, SoakJWKS, SoakDeviceAuthorize, SoakDevicePage, SoakDeviceToken}

// soakStep is one turn of a worker's cycle; some turns issue several requests (the
// device flow), some none (a pool is empty, or the password budget is spent).
type soakStep int

const (
	stepClientCredentials soakStep = iota
	stepRefresh
	stepIntrospect
	stepJWKS
	stepUserInfo
	stepAuthorize
	stepCodeExchange
	stepRevoke
	stepDevice
	stepPassword
)

// soakCycle is what each worker does in turn, starting at its own offset so the
// workers do not move in step. Token issuance weighs most, as in real traffic.
var soakCycle = []soakStep{stepClientCredentials, stepRefresh, stepIntrospect, stepJWKS, stepUserInfo,
	stepAuthorize, stepCodeExchange, stepRevoke, stepClientCredentials, stepRefresh, stepDevice, stepPassword}

// SoakConfig is one soak run.
type SoakConfig struct {
	// ServerBin is the gatehouse binary.
	ServerBin string
	// Duration of the load on each database, and Concurrency, its connections (one
	// worker each).
	Duration    time.Duration
	Concurrency int
	// Databases to soak, in order: "sqlite", "postgres".
	Databases []string
	// PostgresURL is an admin URL on which a database with a random name is created
	// and dropped afterwards; needed when Databases has "postgres".
	PostgresURL string
	// Timeout bounds each request.
	Timeout time.Duration
	// PasswordRate bounds password grants per second (each costs an argon2id hash at
	// the default cost; unbounded, they would be the whole load).
	PasswordRate float64
	// ServerEnv adds GATEHOUSE_* settings to the server's environment.
	ServerEnv []string
	// Log receives progress lines.
	Log io.Writer
}

// DefaultSoakConfig is `make soak`: 60 s at 64 connections on SQLite and PostgreSQL.
func DefaultSoakConfig() SoakConfig {
	return SoakConfig{Duration: time.Minute, Concurrency: 64, Databases: []string{"sqlite", "postgres"},
		Timeout: 30 * time.Second, PasswordRate: 5}
}

// SoakOp is what one operation saw. Every request is OK or one kind of failure.
type SoakOp struct {
	Name     string
	Requests int64
	OK       int64
	// Status5xx and Status4xx count answers with those statuses (no 4xx is expected);
	// Transport, requests without an answer; Other, answers with another unexpected
	// status or a body a client could not use.
	Status5xx, Status4xx, Transport, Other int64
	Latency                                *Histogram
}

// Failed is the number of requests that were not OK.
func (o SoakOp) Failed() int64 { return o.Status5xx + o.Status4xx + o.Transport + o.Other }

// SoakResult is one database's soak.
type SoakResult struct {
	Database    string
	Concurrency int
	Elapsed     time.Duration
	Ops         []SoakOp // in SoakOps order
	// Server memory: resident set before the load, after it, and its peak during it
	// (RSSMethod says how the peak was taken); RSSTrend samples it along the way.
	RSSStart, RSSEnd, RSSPeak int64
	RSSMethod                 string
	RSSTrend                  []int64
	// Samples are the first unexpected answers, for the report (never a token: only
	// error answers' bodies are kept).
	Samples []string
	// ReadyAfter is whether /readyz answered 200 after the load; Exited, whether the
	// server died during it.
	ReadyAfter bool
	Exited     bool
	// Problems are the failed checks; none means the soak passed.
	Problems []string
}

// Passed reports whether every check held.
func (r SoakResult) Passed() bool { return len(r.Problems) == 0 }

// Total adds up every operation.
func (r SoakResult) Total() SoakOp {
	t := SoakOp{Name: "all", Latency: &Histogram{}}
	for _, o := range r.Ops {
		t.Requests += o.Requests
		t.OK += o.OK
		t.Status5xx += o.Status5xx
		t.Status4xx += o.Status4xx
		t.Transport += o.Transport
		t.Other += o.Other
		if o.Latency != nil {
			t.Latency.Merge(o.Latency)
		}
	}
	return t
}

// judge fills Problems: no 5xx, no 4xx, no transport error, no unusable answer, every
// operation succeeded at least once, the server alive and ready at the end.
func (r *SoakResult) judge() {
	r.Problems = nil
	t := r.Total()
	if t.Status5xx > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d answers 5xx (want 0)", t.Status5xx))
	}
	if t.Status4xx > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d unexpected answers 4xx (want 0: every request of the mix is valid)", t.Status4xx))
	}
	if t.Transport > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d requests without an answer (want 0)", t.Transport))
	}
	if t.Other > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d answers with an unexpected status or an unusable body (want 0)", t.Other))
	}
	for _, o := range r.Ops {
		if o.OK == 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("%s never succeeded", o.Name))
		}
	}
	if r.Exited {
		r.Problems = append(r.Problems, "the server exited during the soak")
	} else if !r.ReadyAfter {
		r.Problems = append(r.Problems, "/readyz did not answer 200 after the soak")
	}
}

// Text renders the result for a terminal.
func (r SoakResult) Text() string {
	var b strings.Builder
	t := r.Total()
	rate := 0.0
	if r.Elapsed > 0 {
		rate = float64(t.Requests) / r.Elapsed.Seconds()
	}
	fmt.Fprintf(&b, "Soak on %s: %.1f s at %d connections, %s requests (%s/s)\n", r.Database,
		r.Elapsed.Seconds(), r.Concurrency, formatRPS(float64(t.Requests)), formatRPS(rate))
	fmt.Fprintf(&b, "  %-30s %9s %9s %5s %5s %9s %5s %9s %9s\n", "operation", "requests", "ok", "5xx", "4xx", "transport", "other", "p50", "p99")
	for _, o := range append(slices.Clone(r.Ops), t) {
		p50, p99 := "–", "–"
		if o.Latency != nil && o.Latency.Count() > 0 {
			p50, p99 = formatMs(o.Latency.Quantile(0.5)), formatMs(o.Latency.Quantile(0.99))
		}
		fmt.Fprintf(&b, "  %-30s %9d %9d %5d %5d %9d %5d %9s %9s\n", o.Name, o.Requests, o.OK,
			o.Status5xx, o.Status4xx, o.Transport, o.Other, p50, p99)
	}
	trend := make([]string, len(r.RSSTrend))
	for i, v := range r.RSSTrend {
		trend[i] = fmt.Sprintf("%.0f", float64(v)/(1<<20))
	}
	fmt.Fprintf(&b, "  server RSS: start %s, end %s, peak %s (%s); along the way: %s MiB\n",
		formatBytes(r.RSSStart), formatBytes(r.RSSEnd), formatBytes(r.RSSPeak), r.RSSMethod, strings.Join(trend, " "))
	for _, s := range r.Samples {
		fmt.Fprintf(&b, "  unexpected: %s\n", s)
	}
	if r.Passed() {
		fmt.Fprintf(&b, "  verdict: PASS (0 5xx, 0 unexpected 4xx, 0 transport errors, every operation succeeded, ready afterwards)\n")
	} else {
		fmt.Fprintf(&b, "  verdict: FAIL: %s\n", strings.Join(r.Problems, "; "))
	}
	return b.String()
}

// RunSoak soaks each database of cfg in turn and returns their results; an error
// means a soak could not be run at all (set-up failed), not that one failed its
// checks: see SoakResult.Passed.
func RunSoak(ctx context.Context, cfg SoakConfig) ([]SoakResult, error) {
	def := DefaultSoakConfig()
	if cfg.Duration <= 0 {
		cfg.Duration = def.Duration
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = def.Concurrency
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = def.Timeout
	}
	if cfg.PasswordRate <= 0 {
		cfg.PasswordRate = def.PasswordRate
	}
	if len(cfg.Databases) == 0 {
		cfg.Databases = def.Databases
	}
	abs, err := filepath.Abs(cfg.ServerBin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("server binary: %w", err)
	}
	cfg.ServerBin = abs
	tmp, err := os.MkdirTemp("", "gatehouse-soak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	log := Config{Log: cfg.Log, started: time.Now()} // for logf and mint

	var results []SoakResult
	for _, db := range cfg.Databases {
		dir := filepath.Join(tmp, db)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return results, err
		}
		env := []string{"GATEHOUSE_SECRET_KEY=" + RandomSecret(48)}
		var name string
		var drop func() error
		switch db {
		case "sqlite":
			name = "SQLite"
			env = append(env, "GATEHOUSE_DATABASE_URL=sqlite:"+filepath.Join(dir, "gatehouse.db"))
		case "postgres":
			name = "PostgreSQL"
			if cfg.PostgresURL == "" {
				return results, errors.New("PostgreSQL: no admin URL")
			}
			dbURL, d, err := TempPostgres(ctx, cfg.PostgresURL)
			if err != nil {
				return results, fmt.Errorf("PostgreSQL (skip it with -databases sqlite): %w", err)
			}
			drop = d
			env = append(env, "GATEHOUSE_DATABASE_URL="+dbURL)
		default:
			return results, fmt.Errorf("unknown database %q (sqlite, postgres)", db)
		}
		res, err := soakOne(ctx, cfg, &log, name, dir, env)
		if drop != nil {
			if derr := drop(); derr != nil {
				log.logf("%v", derr)
			}
		}
		if err != nil {
			return results, fmt.Errorf("%s: %w", name, err)
		}
		results = append(results, res)
		if err := ctx.Err(); err != nil {
			return results, err
		}
	}
	return results, nil
}

// soakOp accumulates one operation across workers.
type soakOp struct {
	mu                                  sync.Mutex
	hist                                Histogram
	requests, ok, s5xx, s4xx, tr, other int64
}

// soakRun is one database's soak in progress.
type soakRun struct {
	cfg      SoakConfig
	fx       *fixture
	flow     *codeFlow
	device   clientCreds
	jar      http.CookieJar
	dials    atomic.Int64
	ops      map[string]*soakOp
	codes    chan string    // pre-minted authorization codes, refilled by stepAuthorize
	revokes  chan revocable // refresh tokens for stepRevoke
	pwBudget chan struct{}  // one token per allowed password grant
	end      time.Time

	sampleMu sync.Mutex
	samples  []string
}

type revocable struct {
	token string
	by    clientCreds
}

// soakOne sets up a fresh server on one database, soaks it and judges the result.
func soakOne(ctx context.Context, cfg SoakConfig, log *Config, name, dir string, env []string) (SoakResult, error) {
	res := SoakResult{Database: name, Concurrency: cfg.Concurrency}
	log.logf("== soak on %s: setting up a fresh server in %s", name, dir)
	srv, err := NewServer(cfg.ServerBin, dir, append(slices.Clone(cfg.ServerEnv), env...), false)
	if err != nil {
		return res, err
	}
	// The clients and the user are made before the server starts, on a new database:
	// only serve and migrate create one, so migrate it first.
	if _, err := srv.CLI(ctx, "", nil, "migrate"); err != nil {
		return res, err
	}
	fx := &fixture{srv: srv, password: "soak-" + RandomSecret(20), setup: NewClient(16, 60*time.Second)}
	defer fx.setup.CloseIdleConnections()
	if err := fx.create(ctx); err != nil {
		return res, err
	}
	r := &soakRun{cfg: cfg, fx: fx, ops: map[string]*soakOp{}}
	for _, op := range SoakOps {
		r.ops[op] = &soakOp{}
	}
	out, err := srv.CLI(ctx, "", nil, "clients", "create", "--json", "--name", "soak-device", "--public",
		"--grant-type", "urn:ietf:params:oauth:grant-type:device_code", "--grant-type", "refresh_token", "--scope", "openid api:read")
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(out, &r.device); err != nil || r.device.ID == "" {
		return res, fmt.Errorf("clients create --json printed %q", out)
	}
	if err := srv.Start(ctx); err != nil {
		return res, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = srv.Stop()
		}
	}()
	if err := fx.discover(ctx); err != nil {
		return res, err
	}
	flow, first, note := fx.newCodeFlow(ctx, "openid api:read")
	if flow == nil {
		return res, fmt.Errorf("the code flow: %s", note)
	}
	// Every worker shares the session the flow logged in with (its cookie jar).
	r.flow, r.jar = flow, flow.client.Jar

	// Each worker follows a refresh chain of its own, started through the code flow.
	conc := cfg.Concurrency
	chains, err := mint(ctx, *log, "refresh chains", conc, 4, 0, func(ctx context.Context) (string, error) {
		code, err := flow.code(ctx)
		if err != nil {
			return "", err
		}
		a, rt, err := r.exchangeSetup(ctx, code)
		return rt + " " + a, err
	})
	if err != nil {
		return res, err
	}
	// Codes for the exchange, minted through the real flow; the workers' authorize
	// turns keep the pool filled.
	r.codes = make(chan string, 4*conc)
	r.codes <- first
	pool, err := mint(ctx, *log, "authorization codes", 2*conc, 4, 10*time.Second, flow.code)
	if err != nil {
		return res, err
	}
	for _, c := range pool {
		r.codes <- c
	}
	r.revokes = make(chan revocable, 1024)
	r.pwBudget = make(chan struct{}, 1)

	pid := srv.PID()
	if st, err := ReadProcStatus(pid); err == nil {
		res.RSSStart = st.VmRSS
	}
	log.logf("soak on %s: %d connections for %v…", name, conc, cfg.Duration)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go r.passwordBudget(lctx)
	rss := startRSS(pid)
	trendDone := make(chan struct{})
	go func() {
		defer close(trendDone)
		every := max(cfg.Duration/6, time.Second)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				if st, err := ReadProcStatus(pid); err == nil {
					res.RSSTrend = append(res.RSSTrend, st.VmRSS)
				}
			}
		}
	}()
	start := time.Now()
	r.end = start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for w := range conc {
		chain, access, _ := strings.Cut(chains[w%len(chains)], " ")
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.worker(lctx, w, chain, access)
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	cancel()
	<-trendDone
	res.RSSPeak, res.RSSMethod = rss.stop()
	if st, err := ReadProcStatus(pid); err == nil {
		res.RSSEnd = st.VmRSS
	}
	if gone, _ := srv.Exited(); gone {
		res.Exited = true
		log.logf("the server exited during the soak; its log ends:\n%s", srv.LogTail(15))
	} else {
		st, _, err := get(ctx, fx.setup, srv.URL+"/readyz", nil)
		res.ReadyAfter = err == nil && st == http.StatusOK
	}
	for _, name := range SoakOps {
		o := r.ops[name]
		h := o.hist
		res.Ops = append(res.Ops, SoakOp{Name: name, Requests: o.requests, OK: o.ok, Status5xx: o.s5xx,
			Status4xx: o.s4xx, Transport: o.tr, Other: o.other, Latency: &h})
	}
	res.Samples = r.samples
	stopped = true
	if err := srv.Stop(); err != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("stopping the server: %v", err))
	}
	stopProblem := res.Problems
	res.judge()
	res.Problems = append(res.Problems, stopProblem...)
	return res, ctx.Err()
}

// passwordBudget allows cfg.PasswordRate password grants per second.
func (r *soakRun) passwordBudget(ctx context.Context) {
	t := time.NewTicker(time.Duration(float64(time.Second) / r.cfg.PasswordRate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			select {
			case r.pwBudget <- struct{}{}:
			default:
			}
		}
	}
}

// exchangeSetup redeems a code outside the measurement; it returns the access and
// refresh tokens.
func (r *soakRun) exchangeSetup(ctx context.Context, code string) (string, string, error) {
	st, b, err := post(ctx, r.fx.setup, r.fx.srv.URL+"/oauth/token", r.fx.web.basic(), r.flow.exchangeBody(code))
	if err != nil {
		return "", "", err
	}
	var t tokenAnswer
	if st != http.StatusOK || json.Unmarshal(b, &t) != nil || t.RefreshToken == "" || t.AccessToken == "" {
		return "", "", fmt.Errorf("code exchange: %d %.200s", st, b)
	}
	return t.AccessToken, t.RefreshToken, nil
}

// soakAnswer is one request's outcome.
type soakAnswer struct {
	status int
	header http.Header
	body   []byte
	err    error
}

// worker runs the cycle until the duration is over. chain and access are its refresh
// chain and an access token with openid (for userinfo and introspection).
func (r *soakRun) worker(ctx context.Context, w int, chain, access string) {
	api := newClient(1, r.cfg.Timeout, &r.dials)
	browser := newClient(1, r.cfg.Timeout, &r.dials)
	browser.Jar = r.jar
	defer api.CloseIdleConnections()
	defer browser.CloseIdleConnections()
	srvURL := r.fx.srv.URL
	tokenURL := srvURL + "/oauth/token"
	for i := w; ctx.Err() == nil && time.Now().Before(r.end); i++ {
		switch soakCycle[i%len(soakCycle)] {
		case stepClientCredentials:
			a := r.send(ctx, api, SoakClientCredentials, http.MethodPost, tokenURL, r.fx.cc.basic(), []byte("grant_type=client_credentials"))
			r.judgeToken(SoakClientCredentials, a, false)

		case stepRefresh:
			if chain == "" { // broken by a failure: start a new one through the flow
				chain, access = r.newChain(ctx, api, browser)
				continue
			}
			a := r.send(ctx, api, SoakRefresh, http.MethodPost, tokenURL, r.fx.web.basic(),
				[]byte("grant_type=refresh_token&refresh_token="+url.QueryEscape(chain)))
			if t, ok := r.judgeToken(SoakRefresh, a, true); ok {
				chain, access = t.RefreshToken, t.AccessToken
			} else {
				chain = ""
			}

		case stepIntrospect:
			if access == "" {
				continue
			}
			a := r.send(ctx, api, SoakIntrospect, http.MethodPost, srvURL+"/oauth/introspect", r.fx.web.basic(),
				[]byte("token="+url.QueryEscape(access)))
			r.judgeBody(SoakIntrospect, a, `"active":true`)

		case stepJWKS:
			r.judgeBody(SoakJWKS, r.send(ctx, api, SoakJWKS, http.MethodGet, srvURL+"/.well-known/jwks.json", nil, nil), `"keys"`)

		case stepUserInfo:
			if access == "" {
				continue
			}
			h := http.Header{"Authorization": {"Bearer " + access}}
			r.judgeBody(SoakUserInfo, r.send(ctx, api, SoakUserInfo, http.MethodGet, srvURL+"/userinfo", h, nil), `"sub"`)

		case stepAuthorize:
			if len(r.codes) >= cap(r.codes)-1 {
				continue // the pool is full
			}
			if code, ok := r.authorize(ctx, browser); ok {
				select {
				case r.codes <- code:
				default:
				}
			}

		case stepCodeExchange:
			var code string
			select {
			case code = <-r.codes:
			default:
				continue // the pool is empty until the next authorize turns
			}
			a := r.send(ctx, api, SoakCodeExchange, http.MethodPost, tokenURL, r.fx.web.basic(), r.flow.exchangeBody(code))
			if t, ok := r.judgeToken(SoakCodeExchange, a, true); ok {
				r.toRevoke(t.RefreshToken, r.fx.web)
			}

		case stepRevoke:
			var rv revocable
			select {
			case rv = <-r.revokes:
			default:
				continue
			}
			a := r.send(ctx, api, SoakRevoke, http.MethodPost, srvURL+"/oauth/revoke", rv.by.basic(),
				[]byte("token="+url.QueryEscape(rv.token)+"&token_type_hint=refresh_token"))
			if r.judgeStatus(SoakRevoke, a, http.StatusOK) {
				r.ok(SoakRevoke)
			}

		case stepDevice:
			r.deviceFlow(ctx, api, browser)

		case stepPassword:
			select {
			case <-r.pwBudget:
			default:
				continue
			}
			body := "grant_type=password&username=" + url.QueryEscape(r.fx.user) + "&password=" +
				url.QueryEscape(r.fx.password) + "&scope=api%3Aread"
			a := r.send(ctx, api, SoakPassword, http.MethodPost, tokenURL, r.fx.pw.basic(), []byte(body))
			if t, ok := r.judgeToken(SoakPassword, a, true); ok {
				r.toRevoke(t.RefreshToken, r.fx.pw)
			}
		}
	}
}

func (r *soakRun) toRevoke(token string, by clientCreds) {
	select {
	case r.revokes <- revocable{token: token, by: by}:
	default: // enough waiting already; this one just stays live
	}
}

// newChain starts a refresh chain through the authorize endpoint and an exchange.
func (r *soakRun) newChain(ctx context.Context, api, browser *http.Client) (chain, access string) {
	code, ok := r.authorize(ctx, browser)
	if !ok {
		return "", ""
	}
	a := r.send(ctx, api, SoakCodeExchange, http.MethodPost, r.fx.srv.URL+"/oauth/token", r.fx.web.basic(), r.flow.exchangeBody(code))
	if t, ok := r.judgeToken(SoakCodeExchange, a, true); ok {
		return t.RefreshToken, t.AccessToken
	}
	return "", ""
}

// authorize asks the authorization endpoint for a code with the logged-in session
// (the web client skips consent): one GET answered by a redirect carrying the code.
func (r *soakRun) authorize(ctx context.Context, browser *http.Client) (string, bool) {
	f := r.flow
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {f.clientID},
		"redirect_uri":          {codeRedirectURI},
		"scope":                 {f.scope},
		"state":                 {RandomSecret(16)},
		"code_challenge":        {f.challenge},
		"code_challenge_method": {"S256"},
	}
	a := r.send(ctx, browser, SoakAuthorize, http.MethodGet, f.authorize+"?"+q.Encode(), nil, nil)
	if !r.judgeStatus(SoakAuthorize, a, http.StatusFound, http.StatusSeeOther) {
		return "", false
	}
	loc, err := url.Parse(a.header.Get("Location"))
	code := ""
	if err == nil && strings.HasPrefix(loc.String(), codeRedirectURI) {
		code = loc.Query().Get("code")
	}
	if code == "" {
		r.unusable(SoakAuthorize, "redirect without a code")
		return "", false
	}
	r.ok(SoakAuthorize)
	return code, true
}

// deviceFlow runs RFC 8628 once with the logged-in session: the device asks for a
// code, the user opens the verification page and allows, the device gets its tokens.
func (r *soakRun) deviceFlow(ctx context.Context, api, browser *http.Client) {
	srvURL := r.fx.srv.URL
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	a := r.send(ctx, api, SoakDeviceAuthorize, http.MethodPost, srvURL+"/oauth/device_authorization", h,
		[]byte("client_id="+url.QueryEscape(r.device.ID)+"&scope=openid+api%3Aread"))
	var d struct {
		DeviceCode string `json:"device_code"`
		Complete   string `json:"verification_uri_complete"`
	}
	if !r.judgeStatus(SoakDeviceAuthorize, a, http.StatusOK) {
		return
	}
	if json.Unmarshal(a.body, &d) != nil || d.DeviceCode == "" || CheckLoopback(d.Complete) != nil {
		r.unusable(SoakDeviceAuthorize, "no device_code or verification_uri_complete on loopback")
		return
	}
	r.ok(SoakDeviceAuthorize)
	page := r.send(ctx, browser, SoakDevicePage, http.MethodGet, d.Complete, nil, nil)
	if !r.judgeStatus(SoakDevicePage, page, http.StatusOK) {
		return
	}
	var action string
	var values url.Values
	for _, f := range parseForms(page.body) {
		if f.allow {
			action, values = f.action, f.values
		}
	}
	base, _ := url.Parse(d.Complete)
	to, err := base.Parse(action)
	if action == "" || err != nil {
		r.unusable(SoakDevicePage, "the verification page has no allow form (is the session logged in?)")
		return
	}
	r.ok(SoakDevicePage)
	values.Set("decision", "allow")
	done := r.send(ctx, browser, SoakDevicePage, http.MethodPost, to.String(), h, []byte(values.Encode()))
	if !r.judgeStatus(SoakDevicePage, done, http.StatusOK) {
		return
	}
	r.ok(SoakDevicePage)
	tok := r.send(ctx, api, SoakDeviceToken, http.MethodPost, srvURL+"/oauth/token", h,
		[]byte("grant_type="+url.QueryEscape("urn:ietf:params:oauth:grant-type:device_code")+
			"&device_code="+url.QueryEscape(d.DeviceCode)+"&client_id="+url.QueryEscape(r.device.ID)))
	r.judgeToken(SoakDeviceToken, tok, true)
}

// send makes one request and counts it under op (its latency, or a transport error).
func (r *soakRun) send(ctx context.Context, c *http.Client, op, method, u string, h http.Header, body []byte) soakAnswer {
	if err := CheckLoopback(u); err != nil {
		return soakAnswer{err: err}
	}
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return soakAnswer{err: err}
	}
	for k, v := range h {
		req.Header[k] = v
	}
	t0 := time.Now()
	resp, err := c.Do(req)
	var a soakAnswer
	if err == nil {
		a.status, a.header = resp.StatusCode, resp.Header
		a.body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	d := time.Since(t0)
	o := r.ops[op]
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return soakAnswer{err: err} // the run was cancelled: not the server's doing
		}
		o.requests++
		o.tr++
		r.sample(op, "transport error: "+err.Error())
		return soakAnswer{err: err}
	}
	o.requests++
	o.hist.Record(d)
	return a
}

// judgeStatus counts a as a failure of its kind unless its status is one of want, and
// reports whether it was; the caller checks the rest and counts the success (ok).
func (r *soakRun) judgeStatus(op string, a soakAnswer, want ...int) bool {
	if a.err != nil {
		return false // counted by send
	}
	if slices.Contains(want, a.status) {
		return true
	}
	o := r.ops[op]
	o.mu.Lock()
	switch {
	case a.status >= 500:
		o.s5xx++
	case a.status >= 400:
		o.s4xx++
	default:
		o.other++
	}
	o.mu.Unlock()
	// Error bodies carry no token; success bodies are never sampled.
	r.sample(op, fmt.Sprintf("%d %.200s", a.status, a.body))
	return false
}

// ok counts one success of op.
func (r *soakRun) ok(op string) {
	o := r.ops[op]
	o.mu.Lock()
	o.ok++
	o.mu.Unlock()
}

// unusable counts an answer with the right status but a body a client cannot use.
func (r *soakRun) unusable(op, why string) {
	o := r.ops[op]
	o.mu.Lock()
	o.other++
	o.mu.Unlock()
	r.sample(op, why)
}

// judgeBody wants 200 with a body containing want.
func (r *soakRun) judgeBody(op string, a soakAnswer, want string) {
	if !r.judgeStatus(op, a, http.StatusOK) {
		return
	}
	if !strings.Contains(string(a.body), want) {
		r.unusable(op, "200 without "+want)
		return
	}
	r.ok(op)
}

// judgeToken wants a 200 token answer (with a refresh token when wantRefresh).
func (r *soakRun) judgeToken(op string, a soakAnswer, wantRefresh bool) (tokenAnswer, bool) {
	var t tokenAnswer
	if !r.judgeStatus(op, a, http.StatusOK) {
		return t, false
	}
	if json.Unmarshal(a.body, &t) != nil || t.AccessToken == "" || (wantRefresh && t.RefreshToken == "") {
		r.unusable(op, "200 without the expected tokens")
		return t, false
	}
	r.ok(op)
	return t, true
}

func (r *soakRun) sample(op, what string) {
	r.sampleMu.Lock()
	defer r.sampleMu.Unlock()
	if len(r.samples) < 10 {
		r.samples = append(r.samples, op+": "+what)
	}
}
