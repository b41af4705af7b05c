package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// wrkCorrect is wrk 4's stats_correct (wrk/src/stats.c), over a histogram in
// microseconds: what wrk's done() hook sees.
func wrkCorrect(measured map[int64]int64, expected int64) map[int64]int64 {
	out := maps.Clone(measured)
	var hi int64
	for us := range measured {
		hi = max(hi, us)
	}
	for n := expected * 2; n <= hi; n++ {
		count := measured[n]
		for m := n - expected; count > 0 && m > expected; m -= expected {
			out[m] += count
		}
	}
	return out
}

func TestParseWrk_UndoesTheCoordinatedOmissionCorrection(t *testing.T) {
	// 4 connections, 1,000 requests in 2 s: e = 2,000,000 / 250 = 8,000 µs. Most answers
	// take 100 µs; the slow ones (up to 41 ms) are where wrk adds its samples.
	measured := map[int64]int64{100: 903, 7999: 5, 8000: 5, 8001: 5, 16000: 20, 16001: 15, 20000: 30, 41000: 10, 41003: 5}
	var n int64
	for _, c := range measured {
		n += c
	}
	n += 2 // two timeouts, recorded nowhere
	corrected := wrkCorrect(measured, 8000)
	if got, want := corrected[33000]+corrected[25000]+corrected[17000]+corrected[9000], int64(40); got != want {
		t.Fatalf("the port of wrk's correction added %d samples below 41 ms, want %d", got, want)
	}
	var b strings.Builder
	b.WriteString("Running 2s test @ http://127.0.0.1:1/\n  2 threads and 4 connections\n")
	fmt.Fprintf(&b, "gatehouse-wrk requests=%d duration_us=2000000 status=10 connect=0 read=1 write=0 timeout=2\n", n)
	for us, c := range corrected {
		fmt.Fprintf(&b, "gatehouse-wrk-b %d %d\n", us, c)
	}
	res, err := parseWrk(b.String(), 4)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != n || res.OK != n-13 || res.Elapsed != 2*time.Second {
		t.Fatalf("requests %d ok %d elapsed %v", res.Requests, res.OK, res.Elapsed)
	}
	if res.ErrorSummary() != "non-2xx×10 transport×3" {
		t.Fatalf("errors %s", res.ErrorSummary())
	}
	want := &Histogram{}
	for us, c := range measured {
		want.RecordN(time.Duration(us)*time.Microsecond, uint64(c))
	}
	if *res.Latency != *want {
		t.Fatalf("histogram: count %d mean %v p99 %v, want count %d mean %v p99 %v", res.Latency.Count(),
			res.Latency.Mean(), res.Latency.Quantile(0.99), want.Count(), want.Mean(), want.Quantile(0.99))
	}

	// As wrk printed it, the histogram is refused when a bucket cannot be undone.
	bad := strings.Replace(b.String(), "gatehouse-wrk-b 41000 10", "gatehouse-wrk-b 41000 10\ngatehouse-wrk-b 49000 50", 1)
	if _, err := parseWrk(bad, 4); err == nil || !strings.Contains(err.Error(), "41000 µs") {
		t.Fatalf("a histogram wrk did not make was accepted: %v", err)
	}
	// …and when it does not hold one sample per answer.
	short := strings.Replace(b.String(), "requests="+strconv.FormatInt(n, 10), "requests="+strconv.FormatInt(n+1, 10), 1)
	if _, err := parseWrk(short, 4); err == nil {
		t.Fatal("a histogram missing an answer was accepted")
	}
	if _, err := parseWrk("wrk crashed\n", 4); err == nil {
		t.Fatal("output without a summary was accepted")
	}
}

// A real wrk against a server whose answers take 200 µs, and every tenth 15 ms: wrk's
// own histogram then breaks Little's law (its mean latency times its rate is more
// than its connections), the one parseWrk returns keeps it. Skipped without wrk.
func TestRunWrk_LatenciesAsMeasured(t *testing.T) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed")
	}
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1)%10 == 0 {
			time.Sleep(15 * time.Millisecond)
		} else {
			time.Sleep(200 * time.Microsecond)
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	const conns = 8
	target := WrkTarget{Name: "sleepy", Method: http.MethodGet, URL: srv.URL + "/"}
	res, err := RunWrk(context.Background(), bin, t.TempDir(), target, conns, 2*time.Second, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == 0 || res.ErrorCount() != 0 || int64(res.Latency.Count()) != res.Requests {
		t.Fatalf("ok %d errors %s samples %d requests %d", res.OK, res.ErrorSummary(), res.Latency.Count(), res.Requests)
	}
	// Little's law: connections busy on average = rate × mean latency ≤ conns (each
	// connection also spends some time in wrk between two requests).
	busy := res.RPS() * res.Latency.Mean().Seconds()
	if busy > conns*1.02 || busy < conns*0.5 {
		t.Fatalf("rate %.0f/s × mean latency %v = %.2f connections busy, with %d connections", res.RPS(), res.Latency.Mean(), busy, conns)
	}
	// A tenth of the answers took at least 15 ms: that is the p90 and over, and the
	// p50 is below them. (Not a bound on the p50 itself: on a busy machine, as under
	// make test's other packages, scheduling alone can put it above those 15 ms.)
	if p50, p95 := res.Latency.Quantile(0.5), res.Latency.Quantile(0.95); p95 < 14*time.Millisecond || p50 >= p95 {
		t.Fatalf("p50 %v p95 %v", p50, p95)
	}
}

// RunWrk against the in-process baseline: a real wrk run, parsed. Skipped when wrk is
// not installed (make bench says so too).
func TestRunWrk_Baseline(t *testing.T) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed")
	}
	ctx := context.Background()
	b, _, err := StartBaseline(ctx, nil, 600)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	ok := WrkTarget{Name: "ok", Method: http.MethodPost, URL: b.URL + "/oauth/token", Body: "grant_type=x",
		Headers: map[string]string{"Authorization": "Basic eDp5", "Content-Type": "application/x-www-form-urlencoded"}}
	res, err := RunWrk(ctx, bin, t.TempDir(), ok, 4, time.Second, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == 0 || res.ErrorCount() != 0 || int64(res.Latency.Count()) != res.Requests {
		t.Fatalf("ok %d errors %s samples %d requests %d", res.OK, res.ErrorSummary(), res.Latency.Count(), res.Requests)
	}
	bad := ok
	bad.Headers = map[string]string{"Content-Type": "application/x-www-form-urlencoded"} // no Authorization: 400
	res, err = RunWrk(ctx, bin, t.TempDir(), bad, 4, time.Second, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 0 || res.Errors["non-2xx"] == 0 {
		t.Fatalf("400 answers counted as ok: ok %d errors %s", res.OK, res.ErrorSummary())
	}
	if _, err := RunWrk(ctx, bin, t.TempDir(), WrkTarget{Method: "GET", URL: "http://example.com/"}, 1, time.Second, time.Second); err == nil {
		t.Fatal("a non-loopback target was accepted")
	}
}
