package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/anima-rt/anima/inference/tensor"
)

// randWeight returns a rows×cols weight of type t with values in [-1,1),
// built with the tensor package's encoder, as a GGUF writer would store it.
func randWeight(t *testing.T, rng *rand.Rand, typ tensor.Type, cols, rows int) *tensor.Tensor {
	t.Helper()
	if typ == tensor.Q4_0 {
		return randQ4Weight(rng, cols, rows)
	}
	var data []byte
	row := make([]float32, cols)
	for range rows {
		for c := range row {
			row[c] = rng.Float32()*2 - 1
		}
		var err error
		if data, err = tensor.EncodeRow(data, row, typ); err != nil {
			t.Fatal(err)
		}
	}
	w := &tensor.Tensor{Name: fmt.Sprintf("w%dx%d", rows, cols), Type: typ, Shape: []int{cols, rows}, Data: data}
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	return w
}

// randQ4Weight returns a Q4_0 weight of random nibbles and scales (the
// tensor package has no Q4_0 encoder; any bytes are a valid Q4_0 block).
func randQ4Weight(rng *rand.Rand, cols, rows int) *tensor.Tensor {
	data := make([]byte, rows*cols/q8Block*q4BlockBytes)
	for b := 0; b < len(data); b += q4BlockBytes {
		binary.LittleEndian.PutUint16(data[b:], tensor.F32ToF16(rng.Float32()/8))
		for j := 2; j < q4BlockBytes; j++ {
			data[b+j] = byte(rng.IntN(256))
		}
	}
	return &tensor.Tensor{Name: fmt.Sprintf("w%dx%d", rows, cols), Type: tensor.Q4_0, Shape: []int{cols, rows}, Data: data}
}

func randVec(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = rng.Float32()*2 - 1
	}
	return x
}

// absRowDot returns Σ_c |W[r,c]|·|x[c]| for every row, the scale float32
// rounding errors of a dot product are proportional to.
func absRowDot(w *tensor.Tensor, x []float32) []float64 {
	abs := make([]float32, len(x))
	for i, v := range x {
		abs[i] = float32(math.Abs(float64(v)))
	}
	rows, cols := w.Shape[1], w.Shape[0]
	out := make([]float64, rows)
	row := make([]float32, cols)
	for r := range rows {
		if err := dequantizeRow(row, w.Row(r), w.Type); err != nil {
			panic(err)
		}
		for c, v := range row {
			out[r] += math.Abs(float64(v)) * float64(abs[c])
		}
	}
	return out
}

// q8InputErrBound bounds, per row, how far a Q8_0 product may be from the
// float64 product of the dequantized weight with the unquantized x: each x
// moves by at most half its block's step d/2 when quantized (plus the fp16
// rounding of d, at most 2^-11 relative, times 127 steps).
func q8InputErrBound(w *tensor.Tensor, x []float32) []float64 {
	rows, cols := w.Shape[1], w.Shape[0]
	step := make([]float64, cols)
	for b := 0; b < cols; b += q8Block {
		amax := 0.0
		for _, v := range x[b : b+q8Block] {
			amax = max(amax, math.Abs(float64(v)))
		}
		d := amax / 127
		for i := range q8Block {
			step[b+i] = d/2 + d*127*(1.0/2048) + 1e-7
		}
	}
	out := make([]float64, rows)
	row := make([]float32, cols)
	for r := range rows {
		if err := dequantizeRow(row, w.Row(r), w.Type); err != nil {
			panic(err)
		}
		for c, v := range row {
			out[r] += math.Abs(float64(v)) * step[c]
		}
	}
	return out
}

var (
	floatCols = []int{1, 3, 15, 16, 17, 31, 33, 64, 100, 127, 256, 257, 1000}
	q8Cols    = []int{32, 64, 96, 256, 288, 1024}
	testRows  = []int{1, 3, 4, 5, 16, 17, 64, 130}
	testTypes = []tensor.Type{tensor.F32, tensor.F16, tensor.BF16, tensor.Q8_0, tensor.Q4_0}
)

func colsFor(typ tensor.Type) []int {
	if typ == tensor.Q8_0 || typ == tensor.Q4_0 {
		return q8Cols
	}
	return floatCols
}

// checkClose fails if got is further from want than tol·scale + 1e-6.
func checkClose(t *testing.T, what string, got []float32, want, scale []float64, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*scale[i]+1e-6 || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: y[%d] = %v; want %v (diff %.3g, allowed %.3g)", what, i, got[i], want[i], d, tol*scale[i]+1e-6)
		}
	}
}

func forEachPool(t *testing.T, fn func(t *testing.T, p *Pool)) {
	for _, im := range impls() {
		for _, threads := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/threads=%d", im.name, threads), func(t *testing.T) {
				p := newPool(threads, im)
				defer p.Close()
				fn(t, p)
			})
		}
	}
}

func TestMatVecMatchesReference(t *testing.T) {
	forEachPool(t, func(t *testing.T, p *Pool) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, typ := range testTypes {
			for _, cols := range colsFor(typ) {
				for _, rows := range testRows {
					w := randWeight(t, rng, typ, cols, rows)
					x := randVec(rng, cols)
					y := make([]float32, rows)
					p.MatVec(y, w, x)
					what := fmt.Sprintf("MatVec(%s %d×%d)", typ, rows, cols)
					scale := absRowDot(w, x)
					if typ == tensor.Q8_0 || typ == tensor.Q4_0 {
						// Against ggml's definition, to float32 rounding…
						checkClose(t, what+" vs Q8_0 reference", y, matVecQ8Ref(w, x), scale, 1e-5)
						// …and against the exact product, within x's quantization.
						checkClose(t, what+" vs float64", y, matVecRef(w, x), q8InputErrBound(w, x), 1)
						continue
					}
					checkClose(t, what, y, matVecRef(w, x), scale, 1e-5)
				}
			}
		}
	})
}

func TestMatMulMatchesMatVec(t *testing.T) {
	forEachPool(t, func(t *testing.T, p *Pool) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, typ := range testTypes {
			cols := []int{1, 17, 33, 100, 257}
			if typ == tensor.Q8_0 || typ == tensor.Q4_0 {
				cols = []int{32, 64, 96, 288}
			}
			for _, cols := range cols {
				for _, rows := range []int{1, 3, 17, 64} {
					for _, n := range []int{1, 2, 3, 4, 5, 7, 9} {
						w := randWeight(t, rng, typ, cols, rows)
						x := randVec(rng, n*cols)
						y := make([]float32, n*rows)
						p.MatMul(y, w, x, n)
						for j := range n {
							xj := x[j*cols : (j+1)*cols]
							what := fmt.Sprintf("MatMul(%s %d×%d, n=%d) input %d", typ, rows, cols, n, j)
							want := matVecRef(w, xj)
							if typ == tensor.Q8_0 || typ == tensor.Q4_0 {
								want = matVecQ8Ref(w, xj)
							}
							checkClose(t, what, y[j*rows:(j+1)*rows], want, absRowDot(w, xj), 1e-5)
						}
					}
				}
			}
		}
	})
}

// TestMatVecsMatchesMatVec: several products of one input as one job give
// each product bit for bit as MatVec on one thread does (however the job's
// row groups fall between threads), with a nil weight skipped, types mixed
// and row counts that are not multiples of 4.
func TestMatVecsMatchesMatVec(t *testing.T) {
	forEachPool(t, func(t *testing.T, p *Pool) {
		rng := rand.New(rand.NewPCG(9, 10))
		one := newPool(1, p.impl)
		defer one.Close()
		for _, cols := range []int{96, 1024} {
			for _, types := range [][maxMatVecs]tensor.Type{
				{tensor.F32, tensor.F32, tensor.F32},
				{tensor.Q8_0, tensor.Q8_0, tensor.Q8_0},
				{tensor.Q8_0, tensor.F16, tensor.Q4_0},
				{tensor.BF16, tensor.F32, tensor.Q8_0},
			} {
				for _, rows := range [][maxMatVecs]int{{130, 5, 17}, {64, 0, 3}, {1, 1, 1}} {
					var ws [maxMatVecs]*tensor.Tensor
					var ys, want [maxMatVecs][]float32
					for i, r := range rows {
						if r == 0 {
							continue // a nil weight
						}
						ws[i] = randWeight(t, rng, types[i], cols, r)
						ys[i], want[i] = make([]float32, r), make([]float32, r)
					}
					x := randVec(rng, cols)
					p.MatVecs(ys, ws, x)
					for i, w := range ws {
						if w == nil {
							continue
						}
						one.MatVec(want[i], w, x)
						for r := range want[i] {
							if ys[i][r] != want[i][r] {
								t.Fatalf("MatVecs(%v, rows %v, cols %d): product %d row %d = %v; MatVec gives %v", types, rows, cols, i, r, ys[i][r], want[i][r])
							}
						}
					}
				}
			}
		}
	})
}

func TestMatVecQ8ReusesOneQuantization(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	p := NewPool(2)
	defer p.Close()
	x := randVec(rng, 256)
	var xq Q8Vec
	QuantizeQ8(&xq, x)
	for _, rows := range []int{32, 64} { // e.g. a k and a v projection
		w := randWeight(t, rng, tensor.Q8_0, 256, rows)
		got, want := make([]float32, rows), make([]float32, rows)
		p.MatVecQ8(got, w, &xq)
		p.MatVec(want, w, x)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("MatVecQ8(%d rows)[%d] = %v; MatVec gives %v", rows, i, got[i], want[i])
			}
		}
	}
}

func TestQuantizeQ8MatchesTensorReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	cases := map[string][]float32{
		"zeros":  make([]float32, 64),
		"random": randVec(rng, 320),
		// amax 127 makes d = 1, so these land exactly on halves: ggml's
		// roundf takes them away from zero.
		"halves": func() []float32 {
			x := make([]float32, 32)
			x[0] = 127
			for i := 1; i < 32; i++ {
				x[i] = float32(i-16) + 0.5
			}
			return x
		}(),
		"large": func() []float32 {
			x := randVec(rng, 64)
			x[5] = 6e4
			x[40] = -1e-30
			return x
		}(),
	}
	// Values just below and at halves of the step, where rounding by
	// adding 0.5 goes wrong.
	below := make([]float32, 64)
	below[0], below[32] = 127, -127
	for i := 1; i < 32; i++ {
		below[i] = math.Nextafter32(float32(i%4)+0.5, 0)
		below[32+i] = -below[i]
	}
	below[1], below[33] = 0.49999997, -0.49999997
	cases["below halves"] = below
	for _, im := range impls() {
		for name, x := range cases {
			var xq Q8Vec
			quantizeQ8(im, &xq, x)
			want := tensor.QuantizeQ8_0(nil, x)
			for i := range x {
				q, d := xq.Quant(i)
				blk := want[i/32*34:]
				if wq, wd := int8(blk[2+i%32]), f16(blk); q != wq || d != wd {
					t.Fatalf("%s: %s: QuantizeQ8 value %d (%v) = %d·%v; tensor.QuantizeQ8_0 gives %d·%v", im.name, name, i, x[i], q, d, wq, wd)
				}
				if dv := xq.dv[i/32*8+i%8]; dv != d {
					t.Fatalf("%s: %s: block %d repeated scale = %v; want %v", im.name, name, i/32, dv, d)
				}
			}
		}
	}
}
