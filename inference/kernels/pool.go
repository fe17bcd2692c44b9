package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// spinRounds is how many times an idle worker polls for the next job before
// parking on its channel, and how many times For's caller polls for
// stragglers before yielding. A decode step issues matrix-vector products
// a few microseconds apart, so a worker that spins a little catches the next
// one without the ~5–20 µs of a park/unpark; one that spins forever would
// steal the core from other goroutines on a shared machine.
const spinRounds = 20000

// Pool is a fixed set of worker goroutines that split loops between them.
// Workers are started once by NewPool and woken per job, so a parallel loop
// costs an atomic store and, for parked workers, a channel send — not a
// goroutine per call or per row.
//
// The calling goroutine takes part in every job and waits only for the
// items being worked on, not for workers that have not woken yet: those
// find the job's chunks all taken and go back to waiting. A Pool of n
// threads starts n-1 goroutines. A Pool runs one job at a time: concurrent
// calls to For (and to the kernels, which use it) are serialised.
type Pool struct {
	threads int
	impl    *impl // kernel implementations; fixed at creation

	run sync.Mutex // run serialises jobs: held for the whole of For

	_      [64]byte            // keep cur off the line run's state is on
	cur    atomic.Pointer[job] // the latest job; workers poll it
	_      [56]byte            // and off the lines workers write
	closed atomic.Bool

	workers []*worker
	wg      sync.WaitGroup // counts running worker goroutines, for Close

	q8 sync.Pool // *Q8Vec scratch for MatVec/MatMul on Q8_0 weights

	// mv holds the arguments of the MatVec in progress so that its loop
	// body is a method value bound once (mvFn), not a closure allocated per
	// call: decode runs thousands of small MatVecs a second. Guarded by run.
	mv   matVecArgs
	mvFn func(lo, hi int)
}

// matVecArgs are one MatVec's operands: rows is set for float weights, xq
// for Q8_0 and Q4_0.
type matVecArgs struct {
	y    []float32
	w    []byte
	rb   int
	x    []float32
	rows func(y []float32, w []byte, rowBytes int, x []float32)
	xq   q8In
	q4   bool // the weight is Q4_0 rather than Q8_0
}

// job is one call of For. It is immutable except for its counters, so a
// worker that wakes late and still holds a finished job reads consistent
// fields and finds no chunks left.
type job struct {
	fn    func(lo, hi int)
	n     int
	chunk int
	_     [40]byte     // next and done are written by every thread
	next  atomic.Int64 // next index of [0,n) to hand out, in steps of chunk
	_     [56]byte
	done  atomic.Int64 // items of [0,n) finished
}

// worker is one pool goroutine's wake-up state.
type worker struct {
	parked atomic.Bool   // true while the worker is (about to be) blocked on wake
	wake   chan struct{} // capacity 1: a token means "look at cur again"
	_      [48]byte      // workers' flags on separate cache lines
}

// NewPool starts a pool of threads workers (runtime.NumCPU() if threads <= 0),
// counting the caller of For as one of them. It uses the fastest kernels this
// CPU supports.
func NewPool(threads int) *Pool {
	return newPool(threads, bestImpl())
}

func newPool(threads int, im *impl) *Pool {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	p := &Pool{threads: threads, impl: im}
	p.mvFn = p.matVecRange
	p.cur.Store(new(job)) // an empty job: nothing to claim
	p.workers = make([]*worker, threads-1)
	for i := range p.workers {
		w := &worker{wake: make(chan struct{}, 1)}
		p.workers[i] = w
		p.wg.Add(1)
		// The worker exits when Close sets closed and wakes it.
		go p.work(w, p.cur.Load())
	}
	return p
}

// Threads is the number of goroutines, the caller included, that share a job.
func (p *Pool) Threads() int { return p.threads }

// Close stops the workers and waits for them to exit. The Pool must not be
// used afterwards.
func (p *Pool) Close() {
	p.run.Lock()
	defer p.run.Unlock()
	if p.closed.Swap(true) {
		return
	}
	p.cur.Store(new(job))
	for _, w := range p.workers {
		p.unpark(w)
	}
	p.wg.Wait()
}

// For calls fn over disjoint ranges [lo,hi) covering [0,n), spread over the
// pool's threads, and returns when all calls have returned. fn must be safe
// to run concurrently on disjoint ranges, and must not use the same Pool
// (its jobs run one at a time, so that would deadlock); the package-level
// vector helpers are fine.
func (p *Pool) For(n int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if p.threads == 1 || n == 1 {
		fn(0, n)
		return
	}
	p.forChunks(n, 1, fn)
}

// forCost is For for loops whose items each cost about cost flops (or
// bytes): jobs too small to repay waking the workers run inline, and chunks
// hold at least ~64k flops (a couple of microseconds), because each chunk
// costs two contended atomic operations, a few hundred nanoseconds between
// cores.
func (p *Pool) forCost(n, cost int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	minChunk, ok := p.split(n, cost)
	if !ok {
		fn(0, n)
		return
	}
	p.forChunks(n, minChunk, fn)
}

// split says whether n items of cost flops each are worth splitting across
// threads, and into chunks of how many items at least.
func (p *Pool) split(n, cost int) (minChunk int, ok bool) {
	const inline = 48 << 10 // below ~48k flops, dispatch costs more than it saves
	if p.threads == 1 || n <= 1 || n*cost < inline {
		return 0, false
	}
	return max(1, (64<<10)/max(cost, 1)), true
}

// forChunks runs fn over [0,n) in chunks of at least minChunk items.
func (p *Pool) forChunks(n, minChunk int, fn func(lo, hi int)) {
	p.run.Lock()
	defer p.run.Unlock()
	p.forLocked(n, minChunk, fn)
}

// forLocked is forChunks for a caller that holds p.run.
func (p *Pool) forLocked(n, minChunk int, fn func(lo, hi int)) {
	if p.closed.Load() {
		panic("kernels: For on a closed Pool")
	}
	// Four chunks per thread lets a thread that was descheduled (the machine
	// is shared) be covered by the others without much claiming overhead.
	chunk := max(minChunk, (n+4*p.threads-1)/(4*p.threads))
	if chunk >= n {
		fn(0, n)
		return
	}
	j := &job{fn: fn, n: n, chunk: chunk}
	p.cur.Store(j)
	for _, w := range p.workers {
		p.unpark(w)
	}
	j.claim()
	// Wait for chunks other threads are still running.
	for i := 0; j.done.Load() != int64(n); i++ {
		if i >= spinRounds {
			runtime.Gosched()
		}
	}
}

// claim runs chunks of j until none are left.
func (j *job) claim() {
	for {
		lo := int(j.next.Add(int64(j.chunk))) - j.chunk
		if lo >= j.n {
			return
		}
		hi := min(lo+j.chunk, j.n)
		j.fn(lo, hi)
		j.done.Add(int64(hi - lo))
	}
}

// unpark wakes w if it is parked; a spinning worker will see cur itself.
func (p *Pool) unpark(w *worker) {
	if w.parked.CompareAndSwap(true, false) {
		w.wake <- struct{}{}
	}
}

// work is a worker goroutine's loop: wait for a job other than seen, help
// with it, repeat. It returns when the pool is closed.
func (p *Pool) work(w *worker, seen *job) {
	defer p.wg.Done()
	for {
		// Spin, then park, until cur moves past seen.
		for i := 0; p.cur.Load() == seen; i++ {
			if i < spinRounds {
				continue
			}
			w.parked.Store(true)
			if p.cur.Load() != seen {
				// A job arrived between the check and parking: if its
				// submitter already cleared parked it also sent a token,
				// which must be drained so the next park really blocks.
				if !w.parked.CompareAndSwap(true, false) {
					<-w.wake
				}
				break
			}
			<-w.wake
			i = 0
		}
		if p.closed.Load() {
			return
		}
		seen = p.cur.Load()
		seen.claim()
	}
}
