package bench

import (
	"context"
	"math"
	"slices"
	"time"
)

// sliceWarmup is the warm-up of every slice after the first: the connections are new,
// the server is already warm.
const sliceWarmup = 100 * time.Millisecond

// Paired is what RunPaired measured: both workloads merged over all slices, and the
// ratio of a's rate to b's in each pair of neighbouring slices.
type Paired struct {
	A, B   Result
	Ratios []float64
}

// MedianRatio is the median of the per-pair ratios: a burst of load from elsewhere that
// hits one slice moves it far less than it moves the ratio of the sums.
func (p Paired) MedianRatio() float64 { return median(p.Ratios) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// RunPaired measures a and b in alternating slices of about slice each (a b, b a, a b,
// …) until each has run opts.Duration, and returns both merged. On a shared machine the
// load from elsewhere drifts over seconds; pairing the slices closely makes the ratio
// of a to b far steadier than two runs a minute apart. bOpts.Duration is ignored: b
// runs as long as a. When a's workload runs dry, pairing stops after b's matching slice,
// and that slice pair has no ratio unless it is the first.
func RunPaired(ctx context.Context, a Workload, aOpts Options, b Workload, bOpts Options, slice time.Duration) (Paired, error) {
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
	var ratios []float64
	for i := 0; i < n; i++ {
		oa, ob := aOpts, bOpts
		oa.Duration, ob.Duration = per, per
		if i > 0 {
			oa.Warmup, ob.Warmup = min(oa.Warmup, sliceWarmup), min(ob.Warmup, sliceWarmup)
			oa.OnMeasureStart, ob.OnMeasureStart = nil, nil
		}
		var sa, sb Result
		runA := func() error {
			res, err := Run(ctx, a, oa)
			sa = res
			ra.merge(res)
			return err
		}
		runB := func() error {
			res, err := Run(ctx, b, ob)
			sb = res
			rb.merge(res)
			return err
		}
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
		// A slice in which a ran dry ramps down (workers stop one by one, or at once
		// after the warm-up): its rate says nothing about a's, unless it is all there is.
		if sa.Elapsed > 0 && sa.Requests > 0 && sb.RPS() > 0 && (!sa.Exhausted || len(ratios) == 0) {
			ratios = append(ratios, sa.RPS()/sb.RPS())
		}
		if ra.Exhausted {
			break
		}
	}
	return Paired{A: ra, B: rb, Ratios: ratios}, nil
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
