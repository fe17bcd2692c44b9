package kernels

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/anima-rt/anima/inference/tensor"
)

// benchShapes are rows×cols of matrices the models multiply: attention
// projections, expert up/gate and down, and output layers.
var benchShapes = [][2]int{{256, 256}, {512, 1024}, {1024, 512}, {4096, 256}, {16384, 1024}}

func benchWeight(b *testing.B, typ tensor.Type, rows, cols int) *tensor.Tensor {
	b.Helper()
	rng := rand.New(rand.NewPCG(uint64(rows), uint64(cols)))
	if typ == tensor.Q4_0 {
		return randQ4Weight(rng, cols, rows)
	}
	rb, _ := typ.RowBytes(cols)
	data := make([]byte, 0, rb*rows)
	row := randVec(rng, cols)
	for range rows {
		row[rng.IntN(cols)] = rng.Float32()*2 - 1
		data, _ = tensor.EncodeRow(data, row, typ)
	}
	return &tensor.Tensor{Name: "bench", Type: typ, Shape: []int{cols, rows}, Data: data}
}

// BenchmarkMatVec reports GFLOP/s (2·rows·cols per product) and the weight
// bytes streamed per second, the limit for large matrices.
func BenchmarkMatVec(b *testing.B) {
	for _, typ := range testTypes {
		for _, sh := range benchShapes {
			rows, cols := sh[0], sh[1]
			var w *tensor.Tensor
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%dx%d/threads=%d", typ, rows, cols, threads), func(b *testing.B) {
					if w == nil {
						w = benchWeight(b, typ, rows, cols)
					}
					p := NewPool(threads)
					defer p.Close()
					x := randVec(rand.New(rand.NewPCG(1, 1)), cols)
					y := make([]float32, rows)
					b.ResetTimer()
					for b.Loop() {
						p.MatVec(y, w, x)
					}
					s := b.Elapsed().Seconds()
					b.ReportMetric(2*float64(rows*cols)*float64(b.N)/s/1e9, "GFLOP/s")
					b.ReportMetric(float64(len(w.Data))*float64(b.N)/s/1e9, "GB/s")
				})
			}
		}
	}
}

// BenchmarkMatMul multiplies 64 inputs at once, as a prefill chunk does, and
// reports GFLOP/s.
func BenchmarkMatMul(b *testing.B) {
	const n = 64
	for _, typ := range testTypes {
		for _, sh := range benchShapes[:4] {
			rows, cols := sh[0], sh[1]
			var w *tensor.Tensor
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%dx%d/n=%d/threads=%d", typ, rows, cols, n, threads), func(b *testing.B) {
					if w == nil {
						w = benchWeight(b, typ, rows, cols)
					}
					p := NewPool(threads)
					defer p.Close()
					x := randVec(rand.New(rand.NewPCG(1, 1)), n*cols)
					y := make([]float32, n*rows)
					b.ResetTimer()
					for b.Loop() {
						p.MatMul(y, w, x, n)
					}
					b.ReportMetric(2*float64(n*rows*cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// BenchmarkKernelSets compares the plain-Go and assembly kernels on one
// thread at the tiny model's expert shape.
func BenchmarkKernelSets(b *testing.B) {
	for _, typ := range testTypes {
		w := benchWeight(b, typ, 512, 256)
		for _, im := range impls() {
			b.Run(fmt.Sprintf("%s/%s", typ, im.name), func(b *testing.B) {
				p := newPool(1, im)
				defer p.Close()
				x := randVec(rand.New(rand.NewPCG(1, 1)), 256)
				y := make([]float32, 512)
				for b.Loop() {
					p.MatVec(y, w, x)
				}
				b.ReportMetric(2*512*256*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkPoolFor measures the cost of one parallel loop with nothing in
// it: waking the workers and waiting for them, paid by every MatVec large
// enough to split.
func BenchmarkPoolFor(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			p := NewPool(threads)
			defer p.Close()
			var sink [2]int
			for b.Loop() {
				p.For(2, func(lo, hi int) { sink[lo] += hi })
			}
		})
	}
}

func BenchmarkDot(b *testing.B) {
	for _, n := range []int{256, 1024} {
		x, y := randVec(rand.New(rand.NewPCG(1, 2)), n), randVec(rand.New(rand.NewPCG(3, 4)), n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var s float32
			for b.Loop() {
				s += Dot(x, y)
			}
			b.ReportMetric(2*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkSoftmax(b *testing.B) {
	x := randVec(rand.New(rand.NewPCG(1, 2)), 1024)
	buf := make([]float32, len(x))
	for b.Loop() {
		copy(buf, x)
		Softmax(buf)
	}
	b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mvalues/s")
}

func BenchmarkQuantizeQ8(b *testing.B) {
	x := randVec(rand.New(rand.NewPCG(1, 2)), 1024)
	var xq Q8Vec
	for b.Loop() {
		QuantizeQ8(&xq, x)
	}
	b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mvalues/s")
}

// BenchmarkAttention compares attention's two products over a (HeadDim,
// positions) cache — scores += Σ_d q[d]·K[d,:] and out[d] = V[d,:]·p — done
// with one Axpy or Dot per head dimension against AxpyRows and DotRows, at
// 128 and 1,024 cached positions. It reports cache GB/s read (HeadDim·T
// floats per product).
func BenchmarkAttention(b *testing.B) {
	const hd, capacity = 64, 1536
	rng := rand.New(rand.NewPCG(5, 6))
	kc, q := randVec(rng, hd*capacity), randVec(rng, hd)
	out := make([]float32, hd)
	for _, T := range []int{128, 1024} {
		s := make([]float32, T)
		report := func(b *testing.B) {
			b.ReportMetric(float64(hd*T*4)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		}
		b.Run(fmt.Sprintf("T=%d/scores/Axpy-per-dim", T), func(b *testing.B) {
			for b.Loop() {
				for d, qv := range q {
					Axpy(qv, kc[d*capacity:d*capacity+T], s)
				}
			}
			report(b)
		})
		b.Run(fmt.Sprintf("T=%d/scores/AxpyRows", T), func(b *testing.B) {
			for b.Loop() {
				AxpyRows(s, kc, capacity, q)
			}
			report(b)
		})
		b.Run(fmt.Sprintf("T=%d/out/Dot-per-dim", T), func(b *testing.B) {
			for b.Loop() {
				for d := range out {
					out[d] = Dot(kc[d*capacity:d*capacity+T], s)
				}
			}
			report(b)
		})
		b.Run(fmt.Sprintf("T=%d/out/DotRows", T), func(b *testing.B) {
			for b.Loop() {
				DotRows(out, kc, capacity, s)
			}
			report(b)
		})
	}
}

// BenchmarkMatVecCold multiplies by 64 distinct weights in turn (over
// 32 MiB in all at these shapes, beyond the caches), as a decode step
// reads a mixture's experts: what it measures is how fast a kernel
// streams weights from memory, which bounds decoding. Threads share one
// product, as attention projections do; serial runs one product per
// thread, as the decode step's experts do.
func BenchmarkMatVecCold(b *testing.B) {
	const count = 64
	for _, typ := range []tensor.Type{tensor.F32, tensor.Q8_0} {
		for _, sh := range [][2]int{{1024, 512}, {512, 1024}} {
			rows, cols := sh[0], sh[1]
			ws := make([]*tensor.Tensor, count)
			for i := range ws {
				ws[i] = benchWeight(b, typ, rows, cols)
				ws[i].Data = append([]byte(nil), ws[i].Data...) // distinct memory
			}
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%dx%d/threads=%d", typ, rows, cols, threads), func(b *testing.B) {
					p := NewPool(threads)
					defer p.Close()
					x := randVec(rand.New(rand.NewPCG(1, 1)), cols)
					y := make([]float32, rows)
					i := 0
					c0 := cpuTime()
					for b.Loop() {
						p.MatVec(y, ws[i%count], x)
						i++
					}
					b.ReportMetric(float64(len(ws[0].Data))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
					b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
				})
			}
		}
	}
}

// cpuTime is the process's user+system CPU time: on a shared machine a
// one-thread benchmark's wall clock also counts time spent waiting for a
// core, its CPU time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
