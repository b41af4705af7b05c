package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records latencies in log-linear buckets, as HdrHistogram does: values
// below 2^subBits nanoseconds are exact, larger ones fall into one of 2^subBits
// buckets per power of two, so any recorded value is known within 1/128 (0.8 %) of
// itself while the whole range of int64 nanoseconds fits in a fixed ~30 KiB array.
// A Histogram is not safe for concurrent use: each worker keeps its own and Merge
// adds them up at the end, so recording never contends.
type Histogram struct {
	counts [numBuckets]uint64
	total  uint64
	sum    float64 // nanoseconds, for the mean
	min    int64
	max    int64
}

const (
	subBits    = 6
	subCount   = 1 << subBits
	numBuckets = (64 - subBits + 1) * subCount
)

// bucketOf returns the index of the bucket that holds v (v >= 0).
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // v>>shift is in [subCount, 2*subCount)
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// bucketRange returns the lowest value of bucket i and the bucket's width.
func bucketRange(i int) (low, width uint64) {
	if i < subCount {
		return uint64(i), 1
	}
	shift := i/subCount - 1
	return uint64(i%subCount+subCount) << shift, 1 << shift
}

// Record adds one latency; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) { h.RecordN(d, 1) }

// RecordN adds n latencies of d; negative durations count as zero.
func (h *Histogram) RecordN(d time.Duration, n uint64) {
	if n == 0 {
		return
	}
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(uint64(v))] += n
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total += n
	h.sum += float64(v) * float64(n)
}

// Merge adds o's recordings to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
	h.sum += o.sum
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total }

// Min and Max are exact.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Max is the largest recorded value.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean is exact up to float rounding.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.total))
}

// Quantile returns the value below or at which a fraction q (0..1) of the recorded
// values lie (nearest rank): the middle of the bucket holding that rank, clamped to
// the exact minimum and maximum.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	if rank > h.total {
		rank = h.total
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bucketRange(i)
			v := int64(low + width/2)
			v = max(v, h.min)
			v = min(v, h.max)
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}
