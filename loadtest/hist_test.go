package loadtest

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	// 1..100 ms: below 128 µs the buckets are exact, above it the reported
	// value may exceed the true one by less than 1/64.
	var h Hist
	for i := 1; i <= 100; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0, time.Millisecond},
		{0.01, time.Millisecond},
		{0.5, 50 * time.Millisecond},
		{0.95, 95 * time.Millisecond},
		{0.99, 99 * time.Millisecond},
		{1, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		got := h.Quantile(tc.q)
		if got < tc.want || float64(got-tc.want) > float64(tc.want)/64 {
			t.Errorf("Quantile(%v) = %v; want %v within 1/64 above", tc.q, got, tc.want)
		}
	}
	if got := h.Max(); got != 100*time.Millisecond {
		t.Errorf("Max() = %v; want 100ms", got)
	}
	if got := h.Count(); got != 100 {
		t.Errorf("Count() = %d; want 100", got)
	}
	if got, want := h.Mean(), 50500*time.Microsecond; got != want {
		t.Errorf("Mean() = %v; want %v", got, want)
	}
}

func TestHistExactSmallValues(t *testing.T) {
	var h Hist
	for _, us := range []int64{3, 7, 7, 9, 127} {
		h.RecordMicros(us)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.2, 3 * time.Microsecond},
		{0.4, 7 * time.Microsecond},
		{0.6, 7 * time.Microsecond},
		{0.8, 9 * time.Microsecond},
		{1, 127 * time.Microsecond},
	}
	for _, tc := range tests {
		if got := h.Quantile(tc.q); got != tc.want {
			t.Errorf("Quantile(%v) = %v; want %v", tc.q, got, tc.want)
		}
	}
}

func TestHistEmptyAndClamped(t *testing.T) {
	var h Hist
	if got := h.Quantile(0.99); got != 0 {
		t.Errorf("empty Quantile(0.99) = %v; want 0", got)
	}
	h.Record(-time.Second) // clock steps back: counts as zero
	h.RecordMicros(1 << 62)
	if got := h.Quantile(0); got != 0 {
		t.Errorf("Quantile(0) = %v; want 0", got)
	}
	if got, want := h.Max(), time.Duration(histMaxUS)*time.Microsecond; got != want {
		t.Errorf("Max() after a huge value = %v; want the clamp %v", got, want)
	}
}

// TestHistRelativeError checks the histogram against exact percentiles of
// random log-normal-ish latencies, the shape real latencies have.
func TestHistRelativeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Hist
	vals := make([]int64, 20000)
	for i := range vals {
		v := int64(rng.ExpFloat64()*rng.ExpFloat64()*50000) + 1 // µs, long tail
		vals[i] = v
		h.RecordMicros(v)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.95, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals))+0.999999)-1]
		got := h.Quantile(q).Microseconds()
		if got < exact || float64(got-exact) > float64(exact)/64+1 {
			t.Errorf("Quantile(%v) = %dµs; want %dµs within 1/64 above", q, got, exact)
		}
	}
}

func TestHistMerge(t *testing.T) {
	var a, b, all Hist
	for i := range 1000 {
		d := time.Duration(i*i) * time.Microsecond
		all.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	for _, q := range []float64{0, 0.5, 0.99, 1} {
		if got, want := a.Quantile(q), all.Quantile(q); got != want {
			t.Errorf("merged Quantile(%v) = %v; want %v", q, got, want)
		}
	}
	if a.Count() != all.Count() || a.Mean() != all.Mean() {
		t.Errorf("merged count, mean = %d, %v; want %d, %v", a.Count(), a.Mean(), all.Count(), all.Mean())
	}
}

func TestBucketsCoverRange(t *testing.T) {
	// Every bucket's top maps back to that bucket, and buckets are ordered,
	// so no value falls between buckets.
	prev := uint64(0)
	for i := range histBuckets {
		top := bucketTop(i)
		if got := bucketOf(top); got != i {
			t.Fatalf("bucketOf(bucketTop(%d) = %d) = %d", i, top, got)
		}
		if i > 0 && top <= prev {
			t.Fatalf("bucketTop(%d) = %d; not above bucketTop(%d) = %d", i, top, i-1, prev)
		}
		prev = top
	}
	if prev != histMaxUS {
		t.Errorf("last bucket top = %d; want histMaxUS %d", prev, histMaxUS)
	}
}
