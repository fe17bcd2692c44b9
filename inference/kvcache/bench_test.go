package kvcache

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/tensor"
)

// benchConfig is a small decoder's cache shape: 8 query heads on 2 KV heads.
func benchConfig(hd int, budget int64) Config {
	return Config{Layers: 8, KVHeads: 2, HeadDim: hd, BlockTokens: 16, Type: tensor.F32, Budget: budget}
}

// BenchmarkMatch looks up a 1,000-token prompt whose first 950 tokens are
// cached (944 of them in whole 16-token blocks).
func BenchmarkMatch(b *testing.B) {
	c, err := New(benchConfig(64, 64<<20))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	prompt := make([]int32, 1000)
	for i := range prompt {
		prompt[i] = int32(rng.IntN(150000))
	}
	s := c.NewSeq()
	fill(b, c, s, prompt[:950], rng, 512)
	c.Release(s)
	dst := make([]BlockID, 0, 64)
	var n int
	measure(b, "match", func() { dst, n = c.Match(prompt, dst[:0]) })
	if n != 944 {
		b.Fatalf("Match = %d tokens; want 944", n)
	}
}

// BenchmarkRequestCycle is the cache's bookkeeping for one request: Start
// on a 1,000-token prompt with 950 cached, Grow and Advance over the other
// 56 positions (a new suffix each time, so 3 new blocks are published),
// Release. The budget holds two prompts, so in steady state every request
// evicts an earlier one's suffix blocks; the first 6 positions of the
// 59th block (tokens 944..949) are copied from an earlier request's block. The forward pass's stores are not
// included: they are the model's cost.
func BenchmarkRequestCycle(b *testing.B) {
	cfg := benchConfig(64, 0)
	cfg.Budget = 2 * 64 * int64(cfg.Layers*cfg.KVHeads*2*16*cfg.HeadDim*4) // 128 blocks: two prompts
	c, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(6, 6))
	prompt := make([]int32, 1000)
	for i := range prompt {
		prompt[i] = int32(rng.IntN(150000))
	}
	s := c.NewSeq()
	fill(b, c, s, prompt[:950], rng, 512)
	c.Release(s)
	cycle := func(i int) {
		for j := 950; j < 1000; j++ {
			prompt[j] = int32(i*50 + j)
		}
		n := c.Start(s, prompt)
		if err := c.Grow(s, len(prompt)-n); err != nil {
			b.Fatal(err)
		}
		if err := c.Advance(s, prompt[n:]); err != nil {
			b.Fatal(err)
		}
		c.Release(s)
	}
	for i := range 200 { // reach the steady state: the pool full, evicting
		cycle(i)
	}
	i := 200
	measure(b, "request", func() {
		cycle(i)
		i++
	})
	st := c.Stats()
	if st.Evictions == 0 || st.TokensReused == 0 {
		b.Fatalf("no eviction or no reuse: %+v", st)
	}
	b.ReportMetric(float64(st.TokensReused)/float64(st.Lookups), "reused-tok/req")
}

// threadCPU is the CPU time the calling OS thread has used. The benchmarks
// below report it per operation besides wall time, because the machine they
// run on is shared: wall time there includes other processes' turns.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // Linux RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs step in b.Loop on one locked thread and reports wall and
// thread-CPU microseconds per step, named per unit.
func measure(b *testing.B, unit string, step func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	cpu0 := threadCPU()
	for b.Loop() {
		step()
	}
	cpu := threadCPU() - cpu0
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "us/"+unit)
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-us/"+unit)
}

// decodeStep is one layer of a decode step for 32 NPCs on one lore: each
// sequence has the 900-token shared prefix and 50 tokens of its own, and
// one query token of 8 heads (4 per KV head).
type decodeStep struct {
	c      *Cache
	spans  []Span
	q      [][]float32 // per KV head: (32·4, HeadDim)
	out    []float32
	scale  float32
	hd     int
	perSeq int
}

func newDecodeStep(b *testing.B, hd int) *decodeStep {
	const nSeq, prefix, own, heads, kvHeads = 32, 900, 50, 8, 2
	c, err := New(Config{Layers: 1, KVHeads: kvHeads, HeadDim: hd, BlockTokens: 16, Budget: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, uint64(hd)))
	st := &decodeStep{c: c, scale: float32(1 / math.Sqrt(float64(hd))), hd: hd, perSeq: heads / kvHeads}
	lore := make([]int32, prefix)
	for i := range lore {
		lore[i] = int32(i)
	}
	for i := range nSeq {
		p := append([]int32(nil), lore...)
		for j := range own {
			p = append(p, int32(10000+i*own+j))
		}
		s := c.NewSeq()
		fill(b, c, s, p, rng, 512)
		st.spans = append(st.spans, s.Span())
	}
	for range kvHeads {
		st.q = append(st.q, randVec(rng, nSeq*st.perSeq*hd))
	}
	st.out = make([]float32, nSeq*st.perSeq*hd)
	return st
}

// BenchmarkDecodeAttention compares, for one layer of a 32-sequence decode
// step, attention per sequence over its own block table with cascade
// attention (the shared prefix once for all 128 queries of a KV head, each
// suffix on its own, merged by log-sum-exp), and with the contiguous
// per-sequence cache the model uses today (transposed K and V, HeadDim
// long axpys and dots over every position, a copy of the prefix per
// sequence). All single-threaded; Plan.Build is inside the cascade's time.
func BenchmarkDecodeAttention(b *testing.B) {
	for _, hd := range []int{32, 64} {
		st := newDecodeStep(b, hd)
		b.Run(fmt.Sprintf("hd%d/per-seq", hd), func(b *testing.B) {
			a := NewAttender()
			measure(b, "layer-step", func() {
				for g := range st.q {
					for i, sp := range st.spans {
						r := i * st.perSeq * st.hd
						a.Attend(st.out[r:], nil, st.c, 0, g, st.q[g][r:], st.perSeq, sp, st.scale)
					}
				}
			})
		})
		b.Run(fmt.Sprintf("hd%d/cascade", hd), func(b *testing.B) {
			a := NewAttender()
			var plan Plan
			measure(b, "layer-step", func() {
				plan.Build(st.spans, st.c.bt)
				for g := range st.q {
					a.Cascade(st.out, st.c, 0, g, st.q[g], st.perSeq, st.spans, &plan, st.scale)
				}
			})
		})
		b.Run(fmt.Sprintf("hd%d/contiguous-per-seq", hd), func(b *testing.B) {
			// Each sequence's keys and values copied to its own transposed
			// buffer (HeadDim, T) per KV head, as inference/model's Cache.
			T := st.spans[0].N
			type seqKV struct{ k, v [][]float32 }
			kv := make([]seqKV, len(st.spans))
			for i, sp := range st.spans {
				for g := range st.q {
					k, v := make([]float32, hd*T), make([]float32, hd*T)
					for t := range T {
						for d := range hd {
							k[d*T+t] = st.c.at(sp.Blocks[t/16], 0, g, t%16, d, false)
							v[d*T+t] = st.c.at(sp.Blocks[t/16], 0, g, t%16, d, true)
						}
					}
					kv[i].k, kv[i].v = append(kv[i].k, k), append(kv[i].v, v)
				}
			}
			scores := make([]float32, T)
			measure(b, "layer-step", func() {
				for g := range st.q {
					for i := range st.spans {
						for h := range st.perSeq {
							r := (i*st.perSeq + h) * hd
							q := st.q[g][r : r+hd]
							clear(scores)
							for d, qv := range q {
								kernels.Axpy(qv*st.scale, kv[i].k[g][d*T:(d+1)*T], scores)
							}
							kernels.Softmax(scores)
							for d := range hd {
								st.out[r+d] = kernels.Dot(kv[i].v[g][d*T:(d+1)*T], scores)
							}
						}
					}
				}
			})
		})
	}
}
