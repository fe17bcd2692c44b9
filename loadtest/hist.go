package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// Hist is a log-bucketed latency histogram in the manner of HdrHistogram:
// values below 128 µs have a bucket each; above that every power of two is
// cut into 64 buckets, so a reported percentile is within 1/64 (about 1.6%)
// of the true value whatever its magnitude, in a fixed 30 KiB. It is not safe
// for concurrent use; Recorder guards its histograms.
type Hist struct {
	counts   [histBuckets]uint64
	n        uint64
	sum      uint64 // µs, for the mean
	min, max uint64 // µs; valid when n > 0
}

const (
	histSubBits = 7                // 128 linear buckets, then 64 per power of two
	histSub     = 1 << histSubBits // 128
	histHalf    = histSub / 2      // 64
	histMaxBits = 42               // values clamp below 2^42 µs (about 51 days)
	histBuckets = histSub + (histMaxBits-histSubBits)*histHalf
	histMaxUS   = uint64(1)<<histMaxBits - 1
)

// bucketOf returns v's bucket; v must be at most histMaxUS.
func bucketOf(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits // ≥ 1
	mant := v >> shift                   // in [64, 128)
	return histSub + (shift-1)*histHalf + int(mant-histHalf)
}

// bucketTop returns the largest value that falls in bucket i.
func bucketTop(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := (i-histSub)/histHalf + 1
	mant := uint64((i-histSub)%histHalf + histHalf)
	return (mant+1)<<shift - 1
}

// Record adds one latency; negative durations count as zero.
func (h *Hist) Record(d time.Duration) { h.RecordMicros(max(0, d.Microseconds())) }

// RecordMicros adds one value in microseconds, clamped to the histogram's
// range.
func (h *Hist) RecordMicros(us int64) {
	v := uint64(max(0, us))
	v = min(v, histMaxUS)
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

// Count is the number of values recorded.
func (h *Hist) Count() uint64 { return h.n }

// Max is the largest value recorded, exactly; 0 when empty.
func (h *Hist) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }

// Mean is the mean of the recorded values; 0 when empty.
func (h *Hist) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/h.n) * time.Microsecond
}

// Quantile returns the value at quantile q in [0, 1]: the smallest bucket
// holding at least ceil(q·count) values, reported as that bucket's highest
// value but never above the recorded maximum (so Quantile(1) is Max). It is 0
// when the histogram is empty.
func (h *Hist) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := max(min(bucketTop(i), h.max), h.min)
			return time.Duration(v) * time.Microsecond
		}
	}
	return h.Max()
}

// Merge adds o's values to h.
func (h *Hist) Merge(o *Hist) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Reset empties h.
func (h *Hist) Reset() { *h = Hist{} }
