package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrk (https://github.com/wg/wrk, Debian package wrk) is a load generator in C with
// Lua scripting. It spends less CPU per request than a Go client, so on a shared
// two-core machine it leaves more of it to the server it measures; the run with
// request logging uses it, as users measuring Gatehouse would.

// WrkTarget is one request wrk repeats on every connection.
type WrkTarget struct {
	Name    string
	Method  string
	URL     string
	Headers map[string]string
	Body    string
}

// script is the Lua that sets the request and reports, through its done() hook, the
// summary and every non-empty bucket of wrk's latency histogram (microseconds), in a
// form parseWrk reads.
func (t WrkTarget) script() string {
	var b strings.Builder
	q := strconv.Quote
	fmt.Fprintf(&b, "wrk.method = %s\n", q(t.Method))
	if t.Body != "" {
		fmt.Fprintf(&b, "wrk.body = %s\n", q(t.Body))
	}
	for k, v := range t.Headers {
		fmt.Fprintf(&b, "wrk.headers[%s] = %s\n", q(k), q(v))
	}
	b.WriteString(`done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("gatehouse-wrk requests=%d duration_us=%d status=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout))
  for i = 1, #latency do
    local us, n = latency(i)
    io.write(string.format("gatehouse-wrk-b %d %d\n", us, n))
  end
end
`)
	return b.String()
}

// RunWrk runs wrk (the binary bin) against t with conns connections on two threads for
// d, and returns what it measured. Non-2xx/3xx answers and socket errors are errors.
func RunWrk(ctx context.Context, bin, dir string, t WrkTarget, conns int, d, timeout time.Duration) (Result, error) {
	if err := CheckLoopback(t.URL); err != nil {
		return Result{}, err
	}
	f, err := os.CreateTemp(dir, "wrk-*.lua")
	if err != nil {
		return Result{}, err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(t.script()); err != nil {
		f.Close()
		return Result{}, err
	}
	if err := f.Close(); err != nil {
		return Result{}, err
	}
	secs := func(d time.Duration) string { return strconv.Itoa(max(1, int(math.Round(d.Seconds())))) + "s" }
	cmd := exec.CommandContext(ctx, bin, "-t", strconv.Itoa(min(2, conns)), "-c", strconv.Itoa(conns), "-d", secs(d),
		"--timeout", secs(timeout), "-s", f.Name(), t.URL)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("wrk: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	res, err := parseWrk(out.String(), conns)
	if err != nil {
		return Result{}, fmt.Errorf("wrk: %w; it printed:\n%s", err, firstLines(out.String(), 20))
	}
	res.Name, res.Connections = t.Name, int64(conns)
	return res, nil
}

// parseWrk reads the lines the script's done() hook printed for a run over conns
// connections.
//
// The latency histogram wrk hands to done() is not what it measured: before printing,
// wrk 4 "corrects" it for coordinated omission (stats_correct in wrk.c). With e the
// mean time between two requests of one connection (run time over requests per
// connection, in whole microseconds), every response that took n ≥ 2e adds synthetic
// samples at n-e, n-2e, … down to just above e. Under a closed loop of 64 connections on
// a busy two-core machine that added as many samples again as there were responses,
// all in the tail, and made the mean latency twice what Little's law allows (64
// connections over the rate). The Go load generator records each response's time as
// measured, so parseWrk undoes the correction, exactly: a bucket n > e holds its own
// responses and the synthetic samples of every response slower by a multiple of e,
// which are all in bucket n+e's corrected count. The result must hold one sample per
// answered request, or parseWrk refuses it.
func parseWrk(out string, conns int) (Result, error) {
	res := Result{Latency: &Histogram{}, Errors: map[string]int64{}}
	var summary bool
	var timeouts int64
	corrected := map[int64]int64{} // microseconds → samples, as wrk's done() saw them
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "gatehouse-wrk-b "); ok {
			usText, nText, _ := strings.Cut(strings.TrimSpace(v), " ")
			us, err1 := strconv.ParseInt(usText, 10, 64)
			n, err2 := strconv.ParseInt(nText, 10, 64)
			if err1 != nil || err2 != nil || us < 0 || n < 0 {
				return Result{}, fmt.Errorf("latency bucket %q", v)
			}
			corrected[us] += n
			continue
		}
		rest, ok := strings.CutPrefix(line, "gatehouse-wrk ")
		if !ok {
			continue
		}
		summary = true
		var failed int64
		for _, kv := range strings.Fields(rest) {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return Result{}, fmt.Errorf("summary %q: %w", kv, err)
			}
			switch k {
			case "requests":
				res.Requests = n
			case "duration_us":
				res.Elapsed = time.Duration(n) * time.Microsecond
			case "status":
				if n > 0 {
					res.Errors["non-2xx"] = n
					failed += n
				}
			default: // socket errors: connect, read, write, timeout
				if k == "timeout" {
					timeouts = n
				}
				if n > 0 {
					res.Errors[ErrKindTransport] += n
					if k != "connect" {
						failed += n
					}
				}
			}
		}
		res.OK = max(0, res.Requests-failed)
	}
	if !summary {
		return Result{}, fmt.Errorf("no summary line")
	}
	measured, err := uncorrectWrk(corrected, res.Requests, res.Elapsed.Microseconds(), conns)
	if err != nil {
		return Result{}, err
	}
	var total int64
	for us, n := range measured {
		res.Latency.RecordN(time.Duration(us)*time.Microsecond, uint64(n))
		total += n
	}
	if want := res.Requests - timeouts; total != want {
		return Result{}, fmt.Errorf("the latency histogram holds %d responses, not the %d answered in time", total, want)
	}
	if len(res.Errors) == 0 {
		res.Errors = nil
	}
	return res, nil
}

// uncorrectWrk returns the histogram wrk recorded before its coordinated-omission
// correction (see parseWrk), from the corrected one, the run's requests, its duration
// in microseconds and its connections. A bucket that would come out negative means
// the histogram was not corrected as wrk 4 does: an error.
func uncorrectWrk(corrected map[int64]int64, requests, durationUS int64, conns int) (map[int64]int64, error) {
	perConn := requests / int64(max(1, conns))
	if perConn <= 0 || durationUS/perConn <= 0 {
		return corrected, nil // wrk corrects nothing then
	}
	e := durationUS / perConn
	measured := make(map[int64]int64, len(corrected))
	for us, n := range corrected {
		if us > e {
			n -= corrected[us+e]
		}
		switch {
		case n < 0:
			return nil, fmt.Errorf("latency bucket %d µs holds fewer samples than wrk's correction put there from %d µs", us, us+e)
		case n > 0:
			measured[us] = n
		}
	}
	return measured, nil
}

// RunWrkPaired runs a and b in alternating slices (a b, b a, a b, …) until each has
// run d, and returns both merged and the ratio of a's rate to b's in each pair, as
// RunPaired does for the Go load generator.
func RunWrkPaired(ctx context.Context, bin, dir string, a, b WrkTarget, conns int, d, slice, timeout time.Duration) (Paired, error) {
	n := max(1, int(math.Round(float64(d)/float64(slice))))
	per := d / time.Duration(n)
	ra := Result{Name: a.Name, Latency: &Histogram{}}
	rb := Result{Name: b.Name, Latency: &Histogram{}}
	var ratios []float64
	for i := range n {
		var sa, sb Result
		runA := func() (err error) { sa, err = RunWrk(ctx, bin, dir, a, conns, per, timeout); ra.merge(sa); return err }
		runB := func() (err error) { sb, err = RunWrk(ctx, bin, dir, b, conns, per, timeout); rb.merge(sb); return err }
		first, second := runA, runB
		if i%2 == 1 {
			first, second = runB, runA
		}
		if err := first(); err != nil {
			return Paired{A: ra, B: rb, Ratios: ratios}, err
		}
		if err := second(); err != nil {
			return Paired{A: ra, B: rb, Ratios: ratios}, err
		}
		if sb.RPS() > 0 {
			ratios = append(ratios, sa.RPS()/sb.RPS())
		}
	}
	return Paired{A: ra, B: rb, Ratios: ratios}, nil
}

// FindWrk returns the path of the wrk binary named (a name on PATH or a path), or
// an error saying how to install it.
func FindWrk(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found (Debian/Ubuntu: apt-get install wrk): %w", name, err)
	}
	return filepath.Clean(p), nil
}

// firstLines returns the first n lines of s (wrk's output can hold thousands of
// latency buckets).
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n")
}
