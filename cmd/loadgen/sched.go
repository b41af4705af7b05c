package main

import (
	"flag"
	"fmt"
	"os"

	"gatehouse/bench"
)

// schedCmd prints how long goroutines waited for a processor in an execution trace
// (bench.ReadSchedWaits), e.g. one taken from the server under load:
//
//	curl -o trace.out "http://$GATEHOUSE_PPROF_ADDR/debug/pprof/trace?seconds=1"
//	loadgen sched -trace trace.out
func schedCmd(args []string) error {
	fs := flag.NewFlagSet("loadgen sched", flag.ContinueOnError)
	file := fs.String("trace", "", "execution trace file (required)")
	frames := fs.Int("frames", 6, "frames of the readying stack that name a group")
	top := fs.Int("top", 10, "groups to print, most waits first")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return usageErr{"-trace is required: loadgen sched -trace FILE [-frames N] [-top N]"}
	}
	if *frames < 1 || *top < 1 {
		return usageErr{"-frames and -top must be at least 1"}
	}
	f, err := os.Open(*file)
	if err != nil {
		return usageErr{err.Error()}
	}
	defer f.Close()
	rep, err := bench.ReadSchedWaits(f, *frames)
	if err != nil {
		return usageErr{fmt.Sprintf("%s: %v", *file, err)}
	}
	fmt.Printf("waits for a processor, from runnable to running: %v\n", rep.All)
	fmt.Printf("by what readied the goroutine (%d of %d groups):\n", min(*top, len(rep.Groups)), len(rep.Groups))
	for _, g := range rep.Groups[:min(*top, len(rep.Groups))] {
		fmt.Printf("  %v\n      %s\n", g.WaitStats, g.ReadiedBy)
	}
	return nil
}
