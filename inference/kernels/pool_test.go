package kernels

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anima-rt/anima/inference/tensor"
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

// checkJobs runs calls back-to-back For-style jobs of random sizes and chunk
// sizes on p and fails unless every call covered each of its indices
// exactly once, and no chunk of a call ran after that call returned (which
// a worker acting on a finished job's stale fields would do). pause, if
// not nil, is called between jobs.
func checkJobs(t *testing.T, p *Pool, seed uint64, calls int, pause func(rng *rand.Rand)) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	const maxN = 97
	var hits [maxN]atomic.Int32
	var current atomic.Int64 // the call in progress
	var stale atomic.Int64   // chunks that ran outside their own call
	for call := range int64(calls) {
		n := rng.IntN(maxN + 1)
		minChunk := 1 + rng.IntN(8)
		current.Store(call)
		fn := func(lo, hi int) {
			if current.Load() != call {
				stale.Add(1)
			}
			for i := lo; i < hi; i++ {
				hits[i].Add(1)
			}
		}
		if call%2 == 0 {
			p.For(n, fn)
		} else {
			p.forChunks(n, minChunk, fn)
		}
		current.Store(-1)
		for i := range n {
			if h := hits[i].Swap(0); h != 1 {
				t.Fatalf("threads=%d call %d (n=%d, minChunk=%d): index %d ran %d times; want 1", p.Threads(), call, n, minChunk, i, h)
			}
		}
		if s := stale.Load(); s != 0 {
			t.Fatalf("threads=%d call %d: %d chunks ran outside their own call", p.Threads(), call, s)
		}
		if pause != nil {
			pause(rng)
		}
	}
	// Give late workers a moment to misbehave before the last check.
	time.Sleep(time.Millisecond)
	for i := range hits {
		if h := hits[i].Load(); h != 0 {
			t.Fatalf("threads=%d: index %d ran %d times after its call returned", p.Threads(), i, h)
		}
	}
}

func TestPoolBackToBackJobsCoverEachIndexOnce(t *testing.T) {
	// Jobs issued with no gap between them are where a worker still busy
	// with (or just waking for) one job meets the next: the Pool reuses
	// one job description, so this is the test of its generation check.
	const calls = 20000
	for _, threads := range []int{2, 3, 4} {
		t.Run(fmt.Sprint(threads), func(t *testing.T) {
			p := NewPool(threads)
			defer p.Close()
			checkJobs(t, p, uint64(threads), calls, nil)
		})
	}
}

func TestPoolJobsAcrossParkingCoverEachIndexOnce(t *testing.T) {
	// Gaps of up to a few hundred microseconds let workers stop spinning
	// and park, or be caught halfway through parking, by the next job.
	for _, threads := range []int{2, 4} {
		t.Run(fmt.Sprint(threads), func(t *testing.T) {
			p := NewPool(threads)
			defer p.Close()
			checkJobs(t, p, 10+uint64(threads), 300, func(rng *rand.Rand) {
				if d := rng.IntN(400); d > 50 {
					time.Sleep(time.Duration(d) * time.Microsecond)
				}
			})
		})
	}
}

func TestPoolSerialisesConcurrentCallers(t *testing.T) {
	// Several goroutines sharing one Pool, as the model's callers may: each
	// job must still see only its own chunks.
	p := NewPool(3)
	defer p.Close()
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		// Exits after its 500 jobs.
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for range 500 {
				n := 1 + rng.IntN(64)
				hits := make([]atomic.Int32, n)
				p.For(n, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						hits[i].Add(1)
					}
				})
				for i := range hits {
					if h := hits[i].Load(); h != 1 {
						t.Errorf("goroutine %d: index %d of %d ran %d times; want 1", g, i, n, h)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestPoolDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	p := NewPool(2)
	defer p.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	var sink atomic.Int64
	job := func(lo, hi int) { sink.Add(int64(hi - lo)) }
	if n := testing.AllocsPerRun(100, func() { p.For(64, job) }); n != 0 {
		t.Errorf("For allocated %v times per call; want 0", n)
	}
	// Attention's weighted sum: 37 positions leave a tail past the vector
	// width, which once allocated a one-value buffer per call.
	a, x37, y8 := randVec(rng, 8*40), randVec(rng, 37), make([]float32, 8)
	if got := testing.AllocsPerRun(20, func() { DotRows(y8, a, 40, x37) }); got != 0 {
		t.Errorf("DotRows allocated %v times per call; want 0", got)
	}
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16, tensor.Q8_0, tensor.Q4_0} {
		// Big enough that each product is split across both threads.
		const cols, rows, n = 256, 256, 4
		w := randWeight(t, rng, typ, cols, rows)
		x, y := randVec(rng, n*cols), make([]float32, n*rows)
		if got := testing.AllocsPerRun(20, func() { p.MatVec(y[:rows], w, x[:cols]) }); got != 0 {
			t.Errorf("MatVec(%s) allocated %v times per call; want 0", typ, got)
		}
		if got := testing.AllocsPerRun(20, func() { p.MatMul(y, w, x, n) }); got != 0 {
			t.Errorf("MatMul(%s) allocated %v times per call; want 0", typ, got)
		}
	}
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16} {
		// 264 columns leave a ragged tail past the tiles' 16, which once
		// allocated a one-value buffer per call (cascade attention's
		// scores have such lengths).
		const cols, rows, n = 264, 256, 8
		w := randWeight(t, rng, typ, cols, rows)
		x, y := randVec(rng, n*cols), make([]float32, n*rows)
		if got := testing.AllocsPerRun(20, func() { p.MatMul(y, w, x, n) }); got != 0 {
			t.Errorf("MatMul(%s, %d columns) allocated %v times per call; want 0", typ, cols, got)
		}
	}
}
