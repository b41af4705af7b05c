package bench

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

// SchedReport is what ReadSchedWaits found in a Go execution trace (the server's
// /debug/pprof/trace on GATEHOUSE_PPROF_ADDR, or runtime/trace): for every time a
// goroutine became runnable, how long it then waited for a processor before it ran. `go tool
// trace -pprof=sched` gives the total of these waits by stack; this gives their
// distribution, which is what a tail latency is made of (BENCHMARKS.md "Scheduling
// fairness").
//
// The waits are grouped by what made the goroutine runnable: the first frames of the
// stack of the goroutine that readied it, "created by" and its creator's frames for a
// new goroutine, or "no stack" for one the runtime readied without one, above all by
// polling the network: on a processor when the scheduler found no other work, or off
// any processor (sysmon every 10 ms, or a thread blocked in the poll).
type SchedReport struct {
	All    WaitStats
	Groups []WaitGroup // most waits first
}

// WaitGroup is the waits of goroutines readied the same way.
type WaitGroup struct {
	ReadiedBy string
	WaitStats
}

// WaitStats summarises waits: how many, and nearest-rank percentiles.
type WaitStats struct {
	N                        int
	P50, P90, P99, P999, Max time.Duration
}

// String is one line: n=… p50=… p90=… p99=… p99.9=… max=….
func (s WaitStats) String() string {
	return fmt.Sprintf("n=%d p50=%v p90=%v p99=%v p99.9=%v max=%v", s.N, s.P50, s.P90, s.P99, s.P999, s.Max)
}

// ReadSchedWaits reads the trace from r; frames is how many frames of the readying
// stack name a group.
func ReadSchedWaits(r io.Reader, frames int) (SchedReport, error) {
	tr, err := trace.NewReader(r)
	if err != nil {
		return SchedReport{}, fmt.Errorf("not a Go execution trace: %w", err)
	}
	type pending struct {
		since trace.Time
		by    string
	}
	runnable := map[trace.GoID]pending{}
	var all []time.Duration
	groups := map[string][]time.Duration{}
	for {
		ev, err := tr.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return SchedReport{}, fmt.Errorf("read trace: %w", err)
		}
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		id := st.Resource.Goroutine()
		from, to := st.Goroutine()
		switch {
		case to == trace.GoRunnable && from != trace.GoRunnable:
			by := readiedBy(ev.Stack(), frames, ev.Proc() != trace.NoProc)
			if from == trace.GoNotExist {
				by = "created by " + by
			}
			runnable[id] = pending{since: ev.Time(), by: by}
		case from == trace.GoRunnable && to == trace.GoRunning:
			p, ok := runnable[id]
			if !ok {
				continue // runnable since before the trace began
			}
			delete(runnable, id)
			d := time.Duration(ev.Time() - p.since)
			all = append(all, d)
			groups[p.by] = append(groups[p.by], d)
		}
	}
	if len(all) == 0 {
		return SchedReport{}, errors.New("the trace holds no goroutine that became runnable and then ran")
	}
	rep := SchedReport{All: waitStats(all)}
	for by, ws := range groups {
		rep.Groups = append(rep.Groups, WaitGroup{ReadiedBy: by, WaitStats: waitStats(ws)})
	}
	slices.SortFunc(rep.Groups, func(a, b WaitGroup) int {
		if a.N != b.N {
			return b.N - a.N
		}
		return strings.Compare(a.ReadiedBy, b.ReadiedBy)
	})
	return rep, nil
}

// readiedBy names a readying stack by its first frames, innermost first; onProc says
// whether a processor readied it, which tells the two network polls apart when there
// is no stack.
func readiedBy(s trace.Stack, frames int, onProc bool) string {
	var names []string
	for f := range s.Frames() {
		if len(names) == frames {
			break
		}
		names = append(names, f.Func)
	}
	if len(names) == 0 {
		if onProc {
			return "no stack, readied on a processor (the scheduler's network poll, or the runtime)"
		}
		return "no stack, readied off any processor (sysmon's or a blocking network poll)"
	}
	return strings.Join(names, " < ")
}

func waitStats(ws []time.Duration) WaitStats {
	slices.Sort(ws)
	rank := func(q float64) time.Duration {
		i := int(q*float64(len(ws))+0.999999) - 1 // nearest rank
		return ws[min(max(i, 0), len(ws)-1)]
	}
	return WaitStats{N: len(ws), P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), P999: rank(0.999), Max: ws[len(ws)-1]}
}
