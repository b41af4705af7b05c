package bench

import (
	"context"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	var b strings.Builder
	b.WriteString("Running 1s test @ http://127.0.0.1:1/\n  2 threads and 4 connections\n")
	b.WriteString("gatehouse-wrk requests=1000 duration_us=2000000 status=10 connect=0 read=2 write=0 timeout=1\n")
	for i := range wrkQuantiles {
		us := 100 // 90 % at 100 µs, the rest at 5 ms
		if i >= wrkQuantiles*9/10 {
			us = 5000
		}
		b.WriteString("gatehouse-wrk-q " + strconv.Itoa(us) + "\n")
	}
	res, err := parseWrk(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 1000 || res.OK != 987 || res.Elapsed != 2*time.Second || res.RPS() != 493.5 {
		t.Fatalf("requests %d ok %d elapsed %v", res.Requests, res.OK, res.Elapsed)
	}
	if res.ErrorSummary() != "non-2xx×10 transport×3" {
		t.Fatalf("errors %s", res.ErrorSummary())
	}
	if p50, p99 := res.Latency.Quantile(0.5), res.Latency.Quantile(0.99); p50 > 101*time.Microsecond || p99 < 4900*time.Microsecond {
		t.Fatalf("p50 %v p99 %v", p50, p99)
	}
	if _, err := parseWrk("wrk crashed\n"); err == nil {
		t.Fatal("output without a summary was accepted")
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
	if res.OK == 0 || res.ErrorCount() != 0 || res.Latency.Count() != wrkQuantiles {
		t.Fatalf("ok %d errors %s quantiles %d", res.OK, res.ErrorSummary(), res.Latency.Count())
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
