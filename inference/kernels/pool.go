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
// costs a few atomic operations and, for parked workers, a channel send —
// not a goroutine per call or per row, and no allocation.
//
// The calling goroutine takes part in every job and waits only for the
// items being worked on, not for workers that have not woken yet: those
// find the job's chunks all taken and go back to waiting. A Pool of n
// threads starts n-1 goroutines. A Pool runs one job at a time: concurrent
// calls to For (and to the kernels, which use it) are serialised.
//
// # One job struct, reused safely
//
// There is a single job description (fn, n, chunk, done) embedded in the
// Pool, rewritten for every loop. What makes the reuse safe is state, one
// 64-bit word holding a generation number (high 32 bits) and the next
// unclaimed index (low 32 bits). Every claim of a chunk is a
// compare-and-swap of the whole word, so it succeeds only if the generation
// is still the one the claimer read. A job's life, all under run:
//
//  1. state := (g+1, 0): an odd generation, "being set up". No claim of
//     generation g can succeed from here on, and none of g+1 can start
//     (workers only join even generations).
//  2. Write fn, n, chunk and reset done.
//  3. state := (g+2, 0): open. Wake parked workers; claim alongside them.
//  4. Wait until done == n.
//
// Why a late worker cannot touch the wrong job (the ABA problem of reusing
// one struct): a claimer loads state = (g, lo), then loads n and chunk,
// then CASes state from (g, lo) to (g, hi). If the CAS succeeds, state was
// still (g, lo) at that moment, so step 1 of the next job — which must
// precede any rewrite of n, chunk or fn — had not happened yet: Go's
// atomics are sequentially consistent, the claimer's loads of n and chunk
// come before its CAS, and the CAS comes before the next job's step 1, so
// those loads saw generation g's values. If they saw a later job's values,
// step 1 had already moved state off (g, lo) and the CAS fails. After a
// successful claim, generation g cannot end (done cannot reach n) until the
// claimer's chunk is finished, so its plain read of fn and its call of it
// see g's fn and g's operands; and every done.Add of generation g happens
// before g ends, so resetting done in step 2 loses nothing. A claim never
// moves next past n (it stores hi <= n), so the index never overflows into
// the generation.
//
// The one residual hazard is wrap-around of the 32-bit generation: a
// claimer would have to stall between its load and its CAS while exactly a
// multiple of 2^31 jobs ran (hours of decoding at microseconds per job),
// and then find the same index. We accept that.
type Pool struct {
	threads int
	impl    *impl // kernel implementations; fixed at creation

	run sync.Mutex // run serialises jobs: held for the whole of For

	_      [64]byte      // keep state off the line run's state is on
	state  atomic.Uint64 // generation<<32 | next unclaimed index; see above
	_      [56]byte      // state and done are written by every thread
	done   atomic.Int64  // items of the current job finished
	_      [56]byte
	n      atomic.Int64 // the current job's item count; rewritten only in step 2
	chunk  atomic.Int64 // the current job's chunk size; likewise
	fn     func(lo, hi int)
	closed atomic.Bool

	workers []*worker
	wg      sync.WaitGroup // counts running worker goroutines, for Close

	q8 sync.Pool // *Q8Vec scratch for MatVec/MatMul on Q8_0 weights

	// mv holds the arguments of the MatVec in progress so that its loop
	// body is a method value bound once (mvFn), not a closure allocated per
	// call: decode runs thousands of small MatVecs a second. Guarded by run.
	mv   matVecArgs
	mvFn func(lo, hi int)
	// mm and mmFn are the same for MatMul and MatMulQ8. Guarded by run.
	mm   matMulArgs
	mmFn func(lo, hi int)
	// tileQ4 is MatMulQ8's tile function for Q4_0 weights, built once
	// because it is a closure.
	tileQ4 func(y []float32, ldy int, w []byte, rowBytes, rows int, xq *Q8Vec, n int)
}

// maxJobItems is the largest loop For splits: next must fit the low 32 bits
// of state. Longer loops (none in this project) run on the caller alone.
const maxJobItems = 1<<32 - 1

// matVecArgs are the operands of one MatVec job: up to three matrices of
// the same width multiplied by one input, x for float weights and xq (its
// Q8_0 quantization) for quantized ones.
type matVecArgs struct {
	mats [maxMatVecs]mvMat
	n    int // mats in use
	x    []float32
	xq   q8In
}

// mvMat is one matrix of a MatVec job. The job's items are groups of
// mvGroup rows, numbered across its matrices in order.
type mvMat struct {
	y      []float32
	w      []byte
	rb     int // bytes per row
	rows   int
	g0     int                                                    // the job's index of the matrix's first group
	rowsFn func(y []float32, w []byte, rowBytes int, x []float32) // float weights; nil for quantized
	q4     bool                                                   // Q4_0 rather than Q8_0 (when rowsFn is nil)
}

// matMulArgs are one MatMul's operands: tile and x are set for float
// weights, tileQ and xq for quantized ones.
type matMulArgs struct {
	y     []float32
	w     []byte
	rb    int
	rows  int
	cols  int
	n     int
	x     []float32
	tile  func(y []float32, ldy int, w []byte, rowBytes, rows int, x []float32, ldx, n int)
	xq    *Q8Vec
	tileQ func(y []float32, ldy int, w []byte, rowBytes, rows int, xq *Q8Vec, n int)
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
	p.mmFn = p.matMulRange
	p.tileQ4 = tileQ8ByRows(im.rowsQ4, q4BlockBytes)
	p.workers = make([]*worker, threads-1)
	for i := range p.workers {
		w := &worker{wake: make(chan struct{}, 1)}
		p.workers[i] = w
		p.wg.Add(1)
		// The worker exits when Close sets closed and wakes it.
		go p.work(w, 0) // generation 0 is the initial, empty one
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
	p.publish(0, 1, func(lo, hi int) {}) // an empty job: it wakes spinning workers too
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
	// Where chunks of minChunk allow fewer, their count is rounded down to
	// a multiple of the threads: three chunks on two threads would leave
	// one thread a whole chunk to run while the other waits.
	chunks := min(4*p.threads, n/minChunk)
	if chunks > p.threads {
		chunks -= chunks % p.threads
	}
	chunk := (n + max(chunks, 1) - 1) / max(chunks, 1)
	if chunk >= n || n > maxJobItems {
		fn(0, n)
		return
	}
	gen := p.publish(n, chunk, fn)
	for _, w := range p.workers {
		p.unpark(w)
	}
	p.claim(gen)
	// Wait for chunks other threads are still running. (< rather than !=:
	// were a bug ever to run a chunk twice, For returns and tests see the
	// double run, instead of hanging.)
	for i := 0; p.done.Load() < int64(n); i++ {
		if i >= spinRounds {
			runtime.Gosched()
		}
	}
	p.fn = nil // drop the caller's closure; workers read fn only mid-claim
}

// publish makes (fn, n, chunk) the current job, following steps 1–3 of the
// Pool comment, and returns its (even) generation. The caller holds p.run.
func (p *Pool) publish(n, chunk int, fn func(lo, hi int)) uint32 {
	gen := uint32(p.state.Load() >> 32)
	p.state.Store(uint64(gen+1) << 32) // odd: claims of gen now fail
	p.n.Store(int64(n))
	p.chunk.Store(int64(chunk))
	p.fn = fn
	p.done.Store(0)
	gen += 2
	p.state.Store(uint64(gen) << 32) // open, next = 0
	return gen
}

// claim runs chunks of generation gen's job until none are left or the
// pool has moved on to another job.
func (p *Pool) claim(gen uint32) {
	for {
		s := p.state.Load()
		if uint32(s>>32) != gen {
			return
		}
		lo := int64(uint32(s))
		n, chunk := p.n.Load(), p.chunk.Load() // may be a later job's; then the CAS fails
		if lo >= n {
			return
		}
		hi := min(lo+chunk, n)
		if !p.state.CompareAndSwap(s, uint64(gen)<<32|uint64(hi)) {
			continue
		}
		// Safe to read fn plainly: gen cannot end before this chunk is done.
		p.fn(int(lo), int(hi))
		p.done.Add(hi - lo)
	}
}

// unpark wakes w if it is parked; a spinning worker will see state itself.
func (p *Pool) unpark(w *worker) {
	if w.parked.CompareAndSwap(true, false) {
		w.wake <- struct{}{}
	}
}

// open reports the generation of the current job if it is open (even) and
// not seen.
func (p *Pool) open(seen uint32) (uint32, bool) {
	gen := uint32(p.state.Load() >> 32)
	return gen, gen != seen && gen%2 == 0
}

// work is a worker goroutine's loop: wait for an open job of a generation
// other than seen, help with it, repeat. It returns when the pool is closed.
func (p *Pool) work(w *worker, seen uint32) {
	defer p.wg.Done()
	for {
		// Spin, then park, until a new generation opens.
		gen, ok := p.open(seen)
		for i := 0; !ok; i++ {
			if i >= spinRounds {
				w.parked.Store(true)
				if gen, ok = p.open(seen); ok {
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
			gen, ok = p.open(seen)
		}
		if p.closed.Load() {
			return
		}
		seen = gen
		p.claim(gen)
	}
}
