package bench

import (
	"bytes"
	"runtime/trace"
	"strings"
	"sync"
	"testing"
	"time"
)

// spawnFromHere starts n goroutines from this function and waits until they have run.
func spawnFromHere(n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() { wg.Done() }()
	}
	wg.Wait()
}

// TestReadSchedWaits_RealTrace: in a trace recorded with runtime/trace, each goroutine
// spawnFromHere started waited once for a processor, and those waits form the group
// named by their creator.
func TestReadSchedWaits_RealTrace(t *testing.T) {
	if trace.IsEnabled() {
		t.Skip("a trace is already being recorded (go test -trace)")
	}
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	const n = 300
	spawnFromHere(n)
	trace.Stop()

	rep, err := ReadSchedWaits(&buf, 3)
	if err != nil {
		t.Fatal(err)
	}
	var group *WaitGroup
	for i, g := range rep.Groups {
		if strings.HasPrefix(g.ReadiedBy, "created by gatehouse/bench.spawnFromHere") {
			if group != nil {
				t.Fatalf("two groups for spawnFromHere: %q and %q", group.ReadiedBy, g.ReadiedBy)
			}
			group = &rep.Groups[i]
		}
	}
	if group == nil {
		var names []string
		for _, g := range rep.Groups {
			names = append(names, g.ReadiedBy)
		}
		t.Fatalf("no group for spawnFromHere among %q", names)
	}
	if group.N != n {
		t.Errorf("spawnFromHere's goroutines waited %d times, want %d", group.N, n)
	}
	for _, s := range []WaitStats{rep.All, group.WaitStats} {
		if !(0 <= s.P50 && s.P50 <= s.P90 && s.P90 <= s.P99 && s.P99 <= s.P999 && s.P999 <= s.Max) {
			t.Errorf("percentiles out of order: %v", s)
		}
	}
	if rep.All.N < n {
		t.Errorf("all waits %d, fewer than the group's %d", rep.All.N, n)
	}
	for i := 1; i < len(rep.Groups); i++ {
		if rep.Groups[i].N > rep.Groups[i-1].N {
			t.Fatalf("groups not sorted by count: %d then %d", rep.Groups[i-1].N, rep.Groups[i].N)
		}
	}
}

func TestReadSchedWaits_NotATrace(t *testing.T) {
	_, err := ReadSchedWaits(strings.NewReader("go 1.26 trace? no: a CPU profile"), 3)
	if err == nil || !strings.Contains(err.Error(), "not a Go execution trace") {
		t.Fatalf("err = %v", err)
	}
}

func TestWaitStats_NearestRank(t *testing.T) {
	var ws []time.Duration
	for i := 1; i <= 1000; i++ {
		ws = append(ws, time.Duration(i))
	}
	s := waitStats(ws)
	if s.N != 1000 || s.P50 != 500 || s.P90 != 900 || s.P99 != 990 || s.P999 != 999 || s.Max != 1000 {
		t.Fatalf("%+v", s)
	}
}
