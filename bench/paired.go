package bench

import (
	"context"
	"math"
	"time"
)

// sliceWarmup is the warm-up of every slice after the first: the connections are new,
// the server is already warm.
const sliceWarmup = 200 * time.Millisecond

// RunPaired measures a and b in alternating slices of about slice each (a b, b a, a b,
// …) until each has run opts.Duration, and returns both merged. On a shared machine the
// load from elsewhere drifts over seconds; pairing the slices closely makes the ratio
// of a to b far steadier than two runs a minute apart. bOpts.Duration is ignored: b
// runs as long as a. When a's workload runs dry, pairing stops after b's matching slice.
func RunPaired(ctx context.Context, a Workload, aOpts Options, b Workload, bOpts Options, slice time.Duration) (Result, Result, error) {
	if aOpts.Duration <= 0 {
		aOpts.Duration = DefaultOptions().Duration
	}
	n := 1
	if slice > 0 {
		n = max(1, int(math.Round(float64(aOpts.Duration)/float64(slice))))
	}
	per := aOpts.Duration / time.Duration(n)
	ra := Result{Name: a.Name, Latency: &Histogram{}}
	rb := Result{Name: b.Name, Latency: &Histogram{}}
	for i := 0; i < n; i++ {
		oa, ob := aOpts, bOpts
		oa.Duration, ob.Duration = per, per
		if i > 0 {
			oa.Warmup, ob.Warmup = min(oa.Warmup, sliceWarmup), min(ob.Warmup, sliceWarmup)
			oa.OnMeasureStart, ob.OnMeasureStart = nil, nil
		}
		runA := func() error {
			res, err := Run(ctx, a, oa)
			ra.merge(res)
			return err
		}
		runB := func() error {
			res, err := Run(ctx, b, ob)
			rb.merge(res)
			return err
		}
		first, second := runA, runB
		if i%2 == 1 {
			first, second = runB, runA
		}
		if err := first(); err != nil {
			return ra, rb, err
		}
		if err := second(); err != nil {
			return ra, rb, err
		}
		if ra.Exhausted {
			break
		}
	}
	return ra, rb, nil
}

// merge adds o, a later slice of the same workload, to r.
func (r *Result) merge(o Result) {
	if r.Latency == nil {
		r.Latency = &Histogram{}
	}
	if o.Latency != nil {
		r.Latency.Merge(o.Latency)
	}
	r.Requests += o.Requests
	r.OK += o.OK
	for k, v := range o.Errors {
		if r.Errors == nil {
			r.Errors = map[string]int64{}
		}
		r.Errors[k] += v
	}
	r.Elapsed += o.Elapsed
	r.Connections += o.Connections
	if o.PeakRSS > r.PeakRSS {
		r.PeakRSS, r.RSSMethod = o.PeakRSS, o.RSSMethod
	}
	r.Exhausted = o.Exhausted
}
