package kernels

import (
	"sync/atomic"
	"testing"
)

func TestPoolForCoversEachIndexOnce(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 8} {
		p := NewPool(threads)
		if got := p.Threads(); got != threads {
			t.Errorf("NewPool(%d).Threads() = %d", threads, got)
		}
		for _, n := range []int{0, 1, 2, 3, 7, 64, 1000} {
			for rep := range 50 { // reuse the pool: workers must wake each time
				hits := make([]atomic.Int32, n)
				p.For(n, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						hits[i].Add(1)
					}
				})
				for i := range hits {
					if h := hits[i].Load(); h != 1 {
						t.Fatalf("threads=%d n=%d rep=%d: index %d ran %d times; want 1", threads, n, rep, i, h)
					}
				}
			}
		}
		p.Close()
		p.Close() // idempotent
	}
}

func TestPoolUsesItsWorkers(t *testing.T) {
	p := NewPool(4)
	defer p.Close()
	// Each chunk blocks until all four have started, which can only happen
	// if four goroutines run the job at once.
	var started atomic.Int32
	p.For(4, func(lo, hi int) {
		started.Add(1)
		for started.Load() < 4 {
		}
	})
	if got := started.Load(); got != 4 {
		t.Fatalf("started = %d; want 4", got)
	}
}

func TestNewPoolDefaultsToNumCPU(t *testing.T) {
	p := NewPool(0)
	defer p.Close()
	if p.Threads() < 1 {
		t.Errorf("NewPool(0).Threads() = %d; want >= 1", p.Threads())
	}
	if p.Impl() == "" {
		t.Error("Impl() is empty")
	}
}
