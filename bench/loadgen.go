package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Request is one HTTP request a worker sends. Body is sent as is; reuse one slice
// across requests freely, it is never written to.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// Workload says what the workers send.
type Workload struct {
	Name string
	// Next returns the request worker w (0..Concurrency-1) sends next. ok=false means
	// the worker has nothing more to send (a pre-minted pool ran dry); it stops, and
	// the run ends when every worker has stopped or the duration is over.
	Next func(w int) (req Request, ok bool)
	// Check, when set, is called with the body of every 2xx answer; an error counts the
	// request as an error of kind "bad body" (so an endpoint that answers 200 with the
	// wrong thing cannot pass for fast).
	Check func(w int, status int, body []byte) error
}

// Options bound a run.
type Options struct {
	// Concurrency is the number of workers, each with its own keep-alive connection.
	Concurrency int
	// Duration of the measured part; the run stops by itself after it.
	Duration time.Duration
	// Warmup is sent before measuring and not counted (connections, caches, JIT-free
	// but pool-warm Go runtimes).
	Warmup time.Duration
	// Timeout bounds each request.
	Timeout time.Duration
	// PID, when not 0, is the process whose peak RSS is reported.
	PID int
	// OnMeasureStart, when set, is called once when the measured part begins (the
	// runner starts a CPU profile there).
	OnMeasureStart func()
}

// DefaultOptions are the harness defaults: 64 connections for 10 s after a 1 s warm-up.
func DefaultOptions() Options {
	return Options{Concurrency: 64, Duration: 10 * time.Second, Warmup: time.Second, Timeout: 10 * time.Second}
}

// Error kinds besides HTTP status codes.
const (
	ErrKindTransport = "transport"
	ErrKindBadBody   = "bad body"
)

// Result is what one run measured.
type Result struct {
	Name string
	// Requests is every request completed in the measured window: OK plus errors.
	Requests int64
	// OK counts 2xx answers that passed Check.
	OK int64
	// Errors counts the rest by kind: an HTTP status ("429", "500"), "transport" or
	// "bad body".
	Errors map[string]int64
	// Elapsed is the measured window: from its start until the last worker stopped.
	Elapsed time.Duration
	// Latency of every request that got an HTTP answer (errors included).
	Latency *Histogram
	// Connections is how many TCP connections the workers dialled; with keep-alive it
	// equals Concurrency unless the server closed some.
	Connections int64
	// PeakRSS of Options.PID in bytes (0 when not measured); RSSMethod says how.
	PeakRSS   int64
	RSSMethod string
	// Exhausted is true when workers stopped because Next ran dry before the duration.
	Exhausted bool
}

// RPS is successful requests per second.
func (r Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// ErrorCount is the number of failed requests.
func (r Result) ErrorCount() int64 { return r.Requests - r.OK }

// ErrorSummary lists error counts by kind, e.g. "429×12 transport×1", or "0".
func (r Result) ErrorSummary() string {
	if len(r.Errors) == 0 {
		return "0"
	}
	kinds := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b bytes.Buffer
	for i, k := range kinds {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s×%d", k, r.Errors[k])
	}
	return b.String()
}

// ErrNotLoopback is returned for any target that is not on this machine's loopback.
var ErrNotLoopback = errors.New("only loopback targets (127.0.0.0/8, ::1, localhost) may be load-tested")

// CheckLoopback refuses every URL whose host is not a loopback address or
// "localhost". It is checked again on every dial, against the address actually
// connected to, so a name that resolves elsewhere cannot slip through.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse target %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("target %q: scheme must be http or https", raw)
	}
	if !loopbackHost(u.Hostname()) {
		return fmt.Errorf("target %q: %w", raw, ErrNotLoopback)
	}
	return nil
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackDialer connects only to loopback IPs: the check runs on the resolved
// address just before connect(2).
func loopbackDialer(dials *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{
		Timeout:   5 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("dial %s: %w", address, ErrNotLoopback)
			}
			return nil
		},
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			dials.Add(1)
		}
		return c, err
	}
}

// NewClient returns an HTTP client that only reaches loopback addresses, keeps
// maxConns connections alive and never follows redirects. The runner uses it for
// set-up requests too.
func NewClient(maxConns int, timeout time.Duration) *http.Client {
	var dials atomic.Int64
	return newClient(maxConns, timeout, &dials)
}

func newClient(maxConns int, timeout time.Duration, dials *atomic.Int64) *http.Client {
	tr := &http.Transport{
		DialContext:         loopbackDialer(dials),
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		MaxConnsPerHost:     maxConns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Run drives the workload with opts.Concurrency workers, each on its own keep-alive
// connection, for opts.Warmup+opts.Duration, and returns what the measured part saw.
// It refuses non-loopback targets. It stops by itself: at the end of the duration
// (requests in flight finish, bounded by Timeout), when ctx ends, or when every worker
// has run out of work.
func Run(ctx context.Context, w Workload, opts Options) (Result, error) {
	def := DefaultOptions()
	if opts.Concurrency <= 0 {
		opts.Concurrency = def.Concurrency
	}
	if opts.Duration <= 0 {
		opts.Duration = def.Duration
	}
	if opts.Timeout <= 0 {
		opts.Timeout = def.Timeout
	}
	if opts.Warmup < 0 {
		opts.Warmup = 0
	}
	if w.Next == nil {
		return Result{}, errors.New("workload has no Next")
	}

	type workerStats struct {
		hist   Histogram
		ok     int64
		errs   map[string]int64
		dryRun bool // stopped because Next ran dry
	}
	stats := make([]*workerStats, opts.Concurrency)
	var dials atomic.Int64
	conns := make([]*rawConn, opts.Concurrency)
	dial := loopbackDialer(&dials)
	for i := range conns {
		conns[i] = newRawConn(dial, opts.Timeout)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()

	var rss *rssSampler
	start := time.Now()
	measureFrom := start.Add(opts.Warmup)
	end := measureFrom.Add(opts.Duration)
	var measureOnce sync.Once
	beginMeasure := func() {
		measureOnce.Do(func() {
			if opts.PID > 0 {
				rss = startRSS(opts.PID)
			}
			if opts.OnMeasureStart != nil {
				opts.OnMeasureStart()
			}
		})
	}
	var lastDone atomic.Int64 // unix nanos when the last worker finished
	var wg sync.WaitGroup
	var validated sync.Map
	var targetErr atomic.Pointer[error]
	// Start the RSS sampler and profile hook on time even if no request completes then.
	timer := time.AfterFunc(opts.Warmup, beginMeasure)
	defer timer.Stop()

	for i := 0; i < opts.Concurrency; i++ {
		st := &workerStats{errs: map[string]int64{}}
		stats[i] = st
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() {
				now := time.Now().UnixNano()
				for {
					old := lastDone.Load()
					if now <= old || lastDone.CompareAndSwap(old, now) {
						return
					}
				}
			}()
			conn := conns[i]
			buf := bytes.NewBuffer(make([]byte, 0, 4096))
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				req, ok := w.Next(i)
				if !ok {
					st.dryRun = true
					return
				}
				if _, seen := validated.Load(req.URL); !seen {
					err := CheckLoopback(req.URL)
					if err == nil {
						_, err = conn.target(req.URL) // plain http only
					}
					if err != nil {
						targetErr.CompareAndSwap(nil, &err)
						return
					}
					validated.Store(req.URL, true)
				}
				status, body, err := conn.Do(ctx, req, buf)
				t1 := time.Now()
				// Warm-up answers are checked too (Check may carry state, such as a
				// refresh-token chain) but not counted.
				measured := !t0.Before(measureFrom)
				if err != nil {
					if ctx.Err() != nil {
						return // cancelled: not the server's fault
					}
					if measured {
						st.errs[ErrKindTransport]++
					}
					continue
				}
				kind := ""
				switch {
				case status < 200 || status > 299:
					kind = strconv.Itoa(status)
				case w.Check != nil && w.Check(i, status, body) != nil:
					kind = ErrKindBadBody
				}
				if !measured {
					continue
				}
				st.hist.Record(t1.Sub(t0))
				if kind == "" {
					st.ok++
				} else {
					st.errs[kind]++
				}
			}
		}(i)
	}
	wg.Wait()
	beginMeasure() // a run shorter than its warm-up still reports RSS
	if p := targetErr.Load(); p != nil {
		return Result{}, *p
	}

	res := Result{Name: w.Name, Errors: map[string]int64{}, Latency: &Histogram{}, Connections: dials.Load()}
	exhausted := true
	for _, st := range stats {
		res.Latency.Merge(&st.hist)
		res.OK += st.ok
		res.Requests += st.ok
		for k, v := range st.errs {
			res.Errors[k] += v
			res.Requests += v
		}
		exhausted = exhausted && st.dryRun
	}
	res.Exhausted = exhausted
	if len(res.Errors) == 0 {
		res.Errors = nil
	}
	finished := time.Unix(0, lastDone.Load())
	res.Elapsed = finished.Sub(measureFrom)
	if res.Elapsed < 0 {
		res.Elapsed = 0
	}
	if rss != nil {
		res.PeakRSS, res.RSSMethod = rss.stop()
	}
	return res, ctx.Err()
}
