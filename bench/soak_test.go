package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestSoakJudge: the verdict fails on each kind of failure, and only then.
func TestSoakJudge(t *testing.T) {
	clean := func() SoakResult {
		r := SoakResult{Database: "SQLite", ReadyAfter: true}
		for _, name := range SoakOps {
			r.Ops = append(r.Ops, SoakOp{Name: name, Requests: 10, OK: 10, Latency: &Histogram{}})
		}
		return r
	}
	r := clean()
	r.judge()
	if !r.Passed() || !strings.Contains(r.Text(), "verdict: PASS") {
		t.Fatalf("a clean soak failed: %v\n%s", r.Problems, r.Text())
	}
	for name, spoil := range map[string]func(r *SoakResult){
		"a 5xx":             func(r *SoakResult) { r.Ops[2].Status5xx, r.Ops[2].Requests = 1, 11 },
		"a 4xx":             func(r *SoakResult) { r.Ops[0].Status4xx, r.Ops[0].Requests = 1, 11 },
		"a transport error": func(r *SoakResult) { r.Ops[5].Transport, r.Ops[5].Requests = 1, 11 },
		"an unusable body":  func(r *SoakResult) { r.Ops[7].Other, r.Ops[7].Requests = 1, 11 },
		"an operation never OK": func(r *SoakResult) {
			r.Ops[9].OK, r.Ops[9].Status5xx = 0, 0
			r.Ops[9].Requests = 0
		},
		"the server exited":   func(r *SoakResult) { r.Exited = true },
		"not ready afterward": func(r *SoakResult) { r.ReadyAfter = false },
	} {
		r := clean()
		spoil(&r)
		r.judge()
		if r.Passed() || !strings.Contains(r.Text(), "verdict: FAIL") {
			t.Errorf("%s: the soak passed", name)
		}
	}
}

// TestSoakCounts: each answer lands in its own column, and error bodies are sampled.
func TestSoakCounts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/500":
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error":"server_error"}`)
		case "/400":
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
		case "/302":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/empty":
			fmt.Fprint(w, `{}`)
		default:
			fmt.Fprint(w, `{"access_token":"a","refresh_token":"r"}`)
		}
	}))
	defer srv.Close()
	r := &soakRun{ops: map[string]*soakOp{"op": {}}}
	c := NewClient(1, 5*time.Second)
	ctx := context.Background()
	for _, path := range []string{"/500", "/400", "/302", "/empty", "/ok"} {
		r.judgeToken("op", r.send(ctx, c, "op", http.MethodPost, srv.URL+path, nil, nil), true)
	}
	r.send(ctx, c, "op", http.MethodGet, "http://127.0.0.1:1/", nil, nil) // nothing listens on port 1
	o := r.ops["op"]
	if o.requests != 6 || o.ok != 1 || o.s5xx != 1 || o.s4xx != 1 || o.other != 2 || o.tr != 1 {
		t.Errorf("requests %d ok %d 5xx %d 4xx %d other %d transport %d, want 6 1 1 1 2 1",
			o.requests, o.ok, o.s5xx, o.s4xx, o.other, o.tr)
	}
	if len(r.samples) != 5 || !strings.Contains(r.samples[0], "500") || strings.Contains(strings.Join(r.samples, " "), `"r"`) {
		t.Errorf("samples %q: want the five failures, and no token", r.samples)
	}
}

// TestSoak_SQLite runs a short soak of the real server on SQLite, so that the soak's
// code (the mix, the flows it walks, the verdict) cannot rot unnoticed between runs of
// `make soak`. Skipped with -short.
func TestSoak_SQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real server; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "gatehouse")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	build := exec.Command(goBin, "build", "-o", bin, "./cmd/gatehouse")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gatehouse: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log strings.Builder
	results, err := RunSoak(ctx, SoakConfig{ServerBin: bin, Duration: 3 * time.Second, Concurrency: 16,
		Databases: []string{"sqlite"}, Log: &log})
	if err != nil {
		t.Fatalf("soak: %v\n%s", err, log.String())
	}
	if len(results) != 1 {
		t.Fatalf("%d results, want 1", len(results))
	}
	r := results[0]
	t.Logf("\n%s", r.Text())
	if !r.Passed() {
		t.Errorf("the soak failed: %v", r.Problems)
	}
	if len(r.Ops) != len(SoakOps) {
		t.Errorf("%d operations reported, want %d", len(r.Ops), len(SoakOps))
	}
	if r.RSSStart <= 0 || r.RSSEnd <= 0 || r.RSSPeak < r.RSSStart/2 {
		t.Errorf("RSS start %d, end %d, peak %d: not measured", r.RSSStart, r.RSSEnd, r.RSSPeak)
	}
}
