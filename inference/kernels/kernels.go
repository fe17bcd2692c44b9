// Package kernels holds the numeric kernels of the decoder: matrix-vector
// and matrix-matrix products over GGML-typed weights (F32, F16, BF16, Q8_0;
// Q4_0 too, without a tiled MatMul), run in parallel on a fixed worker
// Pool, and the per-token vector helpers (Dot, Axpy, Scale, Add, Mul,
// RMSNorm, Softmax, SiLU, SwiGLU, ArgMax).
//
// Weights are tensor.Tensor views of Shape {cols, rows} in GGML order: row r
// holds cols contiguous values. MatVec computes y[r] = Σ_c W[r,c]·x[c];
// MatMul does the same for n input vectors at once (x is n×cols row-major,
// y is n×rows), loading each block of weight rows once for several inputs,
// which is what makes prefill and batched decode cheaper per token.
//
// Q8_0 weights are multiplied as ggml does: the activation vector is
// quantized to Q8_0 blocks (d = max|x|/127 rounded to fp16, q =
// round-half-away(x/d)) and each 32-value block contributes
// fp16(dw)·fp16(dx)·Σ q_w·q_x, the inner sum in integers. QuantizeQ8 and
// MatVecQ8/MatMulQ8 expose that split so one quantized input serves several
// matrices (q, k and v; an expert's gate and up).
//
// On amd64 the products and the vector helpers run in Go assembly, chosen
// at run time with golang.org/x/sys/cpu so that the default build gets it:
// with AVX-512 F, BW and VL (kernels_amd64.s), F32 with FMA on ZMM
// registers, F16 widened by VCVTPH2PS, BF16 by a 16-bit shift, Q8_0 and
// Q4_0 with the AVX-512 VNNI integer dot product VPDPBUSD when the CPU has
// it, MatMul in 4-row × 4-input register tiles, exp for Softmax and SwiGLU
// by polynomial and VSCALEFPS; with only AVX2 and FMA (kernels_avx2_amd64.s),
// 8-wide MatVec, Dot and Axpy, Q8_0/Q4_0 by VPMADDUBSW. Elsewhere everything
// runs in plain Go. Every fast path is tested against a plain reference
// implementation kept in this package (matVecRef, matVecQ8Ref, dotRef,
// softmaxRef, …), and every kernel set the machine can run — the plain-Go
// one included — is tested on it.
//
// A Pool's kernels run one at a time (calls are serialised); use one Pool
// per concurrent forward pass, or share one and accept the queueing.
//
// Shape mismatches between the arguments of a kernel are programming errors
// and panic with a message naming the kernel; kernels never see input from
// outside the process.
package kernels

import (
	"fmt"

	"github.com/anima-rt/anima/inference/tensor"
)

// impl is one complete set of inner kernels. Pools hold one, fixed at
// creation, so tests can run the plain-Go set and the assembly set side by
// side on the same machine.
type impl struct {
	name string

	// rowsXxx compute y[i] = dot(row i of w, x) for len(y) rows of w, each
	// rowBytes long. x has the row's number of values.
	rowsF32  func(y []float32, w []byte, rowBytes int, x []float32)
	rowsF16  func(y []float32, w []byte, rowBytes int, x []float32)
	rowsBF16 func(y []float32, w []byte, rowBytes int, x []float32)
	rowsQ8   func(y []float32, w []byte, rowBytes int, x q8In)
	rowsQ4   func(y []float32, w []byte, rowBytes int, x q8In) // Q4_0 weights

	// tileXxx compute a block of MatMul: for rows [0,rows) of w and inputs
	// [0,n) of x (ldx values apart), y[j*ldy+i] = dot(row i, input j).
	tileF32  func(y []float32, ldy int, w []byte, rowBytes, rows int, x []float32, ldx, n int)
	tileF16  func(y []float32, ldy int, w []byte, rowBytes, rows int, x []float32, ldx, n int)
	tileBF16 func(y []float32, ldy int, w []byte, rowBytes, rows int, x []float32, ldx, n int)
	tileQ8   func(y []float32, ldy int, w []byte, rowBytes, rows int, xq *Q8Vec, n int)

	dot      func(a, b []float32) float32
	axpyRows func(y, a []float32, stride int, x []float32) // see AxpyRows
	axpy     func(a float32, x, y []float32)
	max      func(x []float32) float32 // len(x) ≥ 1
	scale    func(x []float32, a float32)
	expSub   func(x []float32, m float32) float32 // x[i] = e^(x[i]-m); returns Σ
	swiglu   func(dst, gate, up []float32)        // equal lengths

	quantizeQ8 func(dst *Q8Vec, x []float32) // dst sized to x already
}

// goImpl is the plain-Go kernel set, used where no assembly applies.
var goImpl = &impl{
	name:     "go",
	rowsF32:  rowsF32Go,
	rowsF16:  rowsF16Go,
	rowsBF16: rowsBF16Go,
	rowsQ8:   rowsQ8Go,
	rowsQ4:   rowsQ4Go,
	tileF32:  tileF32Go,
	tileF16:  tileF16Go,
	tileBF16: tileBF16Go,
	tileQ8:   tileQ8Go,
	dot:      dotGo,
	axpy:     axpyGo,
	axpyRows: axpyRowsGo,
	max:      maxGo,
	scale:    scaleGo,
	expSub:   expSubGo,
	swiglu:   swigluGo,

	quantizeQ8: quantizeQ8Go,
}

// Impl names the kernel set this Pool uses ("go", "avx512").
func (p *Pool) Impl() string { return p.impl.name }

func checkMat(op string, w *tensor.Tensor) (rows, cols int) {
	if len(w.Shape) != 2 {
		panic(fmt.Sprintf("kernels: %s: weight %q has shape %v, want 2 dimensions", op, w.Name, w.Shape))
	}
	cols, rows = w.Shape[0], w.Shape[1]
	if rb, err := w.Type.RowBytes(cols); err != nil || len(w.Data) < rb*rows {
		panic(fmt.Sprintf("kernels: %s: weight %q (%s %v) has %d bytes of data", op, w.Name, w.Type, w.Shape, len(w.Data)))
	}
	return rows, cols
}

// MatVec sets y[r] = Σ_c W[r,c]·x[c] for each of W's rows; W is {cols, rows}
// of type F32, F16, BF16, Q8_0 or Q4_0, len(x) == cols, len(y) >= rows.
// For Q8_0 and Q4_0, x is quantized first (see MatVecQ8 to reuse one
// quantization).
func (p *Pool) MatVec(y []float32, w *tensor.Tensor, x []float32) {
	p.MatVecs([maxMatVecs][]float32{y}, [maxMatVecs]*tensor.Tensor{w}, x)
}

// maxMatVecs is the most products MatVecs computes in one job: q, k and v.
const maxMatVecs = 3

// MatVecs computes ys[i] = ws[i]·x, as MatVec does, for each non-nil ws[i]
// (all of the same width, len(x)), as one parallel job over the rows of all
// of them: one dispatch and one wait instead of one per matrix, and
// matrices too small to be worth splitting alone (a layer's k and v) share
// the threads too. The input is quantized once for all quantized weights.
func (p *Pool) MatVecs(ys [maxMatVecs][]float32, ws [maxMatVecs]*tensor.Tensor, x []float32) {
	var a matVecArgs
	quantized := false
	for i, w := range ws {
		if w == nil {
			continue
		}
		rows, cols := checkMat("MatVec", w)
		if len(x) != cols || len(ys[i]) < rows {
			panic(fmt.Sprintf("kernels: MatVec: %q is %d×%d but len(x) = %d, len(y) = %d", w.Name, rows, cols, len(x), len(ys[i])))
		}
		m := mvMat{y: ys[i], w: w.Data, rb: w.RowBytes(), rows: rows}
		switch w.Type {
		case tensor.F32:
			m.rowsFn = p.impl.rowsF32
		case tensor.F16:
			m.rowsFn = p.impl.rowsF16
		case tensor.BF16:
			m.rowsFn = p.impl.rowsBF16
		case tensor.Q8_0, tensor.Q4_0:
			m.q4, quantized = w.Type == tensor.Q4_0, true
		default:
			panic(fmt.Sprintf("kernels: MatVec: weight %q has unsupported type %s", w.Name, w.Type))
		}
		a.mats[a.n] = m
		a.n++
	}
	if a.n == 0 {
		return
	}
	a.x = x
	if !quantized {
		p.matVec(a, len(x))
		return
	}
	xq := p.getQ8()
	quantizeQ8(p.impl, xq, x)
	a.xq = xq.input(0, len(x))
	p.matVec(a, len(x))
	p.q8.Put(xq)
}

// MatVecQ8 is MatVec for a Q8_0 (or Q4_0) weight and an input already
// quantized by QuantizeQ8 (xq.Len() == cols).
func (p *Pool) MatVecQ8(y []float32, w *tensor.Tensor, xq *Q8Vec) {
	rows, cols := checkMat("MatVecQ8", w)
	if w.Type != tensor.Q8_0 && w.Type != tensor.Q4_0 {
		panic(fmt.Sprintf("kernels: MatVecQ8: weight %q is %s, want Q8_0 or Q4_0", w.Name, w.Type))
	}
	if xq.Len() != cols || len(y) < rows {
		panic(fmt.Sprintf("kernels: MatVecQ8: %q is %d×%d but input has %d values, len(y) = %d", w.Name, rows, cols, xq.Len(), len(y)))
	}
	a := matVecArgs{n: 1, xq: xq.input(0, cols)}
	a.mats[0] = mvMat{y: y, w: w.Data, rb: w.RowBytes(), rows: rows, q4: w.Type == tensor.Q4_0}
	p.matVec(a, cols)
}

// mvGroup is the number of rows in one work item of a MatVec job: the rows
// kernels take four rows at a time (each load of x serving four), so items
// of four keep every chunk's rows on that path, and which kernel computes a
// row — hence its rounding — does not depend on how the job was split.
const mvGroup = 4

// matVec runs the MatVec job a over matrices cols wide, split across the
// pool when that pays.
func (p *Pool) matVec(a matVecArgs, cols int) {
	p.run.Lock()
	defer p.run.Unlock()
	groups := 0
	for i := range a.n {
		a.mats[i].g0 = groups
		groups += (a.mats[i].rows + mvGroup - 1) / mvGroup
	}
	p.mv = a
	if minChunk, ok := p.split(groups, 2*mvGroup*cols); ok {
		p.forLocked(groups, minChunk, p.mvFn)
	} else {
		p.matVecRange(0, groups)
	}
	p.mv = matVecArgs{} // drop the references to the caller's slices
}

// matVecRange computes row groups [lo,hi) of the MatVec job in p.mv.
func (p *Pool) matVecRange(lo, hi int) {
	a := &p.mv
	for i := range a.n {
		m := &a.mats[i]
		g1 := m.g0 + (m.rows+mvGroup-1)/mvGroup
		if hi <= m.g0 {
			return
		}
		if lo >= g1 {
			continue
		}
		r0 := (max(lo, m.g0) - m.g0) * mvGroup
		r1 := min((min(hi, g1)-m.g0)*mvGroup, m.rows)
		y, w := m.y[r0:r1], m.w[r0*m.rb:r1*m.rb]
		switch {
		case m.rowsFn != nil:
			m.rowsFn(y, w, m.rb, a.x)
		case m.q4:
			p.impl.rowsQ4(y, w, m.rb, a.xq)
		default:
			p.impl.rowsQ8(y, w, m.rb, a.xq)
		}
	}
}

// matMulTile is the number of weight rows one MatMul work item covers: small
// enough to split 256-row matrices across threads, large enough that a tile
// of inputs is reused across many rows.
const matMulTile = 16

// MatMul computes n products at once: for j < n, y[j*rows:(j+1)*rows] =
// W·x[j*cols:(j+1)*cols]. It gives the same results as n calls of MatVec up
// to float rounding, loading each weight row once per group of inputs.
func (p *Pool) MatMul(y []float32, w *tensor.Tensor, x []float32, n int) {
	rows, cols := checkMat("MatMul", w)
	if n < 0 || len(x) != n*cols || len(y) < n*rows {
		panic(fmt.Sprintf("kernels: MatMul: %q is %d×%d but n = %d, len(x) = %d, len(y) = %d", w.Name, rows, cols, n, len(x), len(y)))
	}
	if n == 0 {
		return
	}
	if w.Type == tensor.Q8_0 || w.Type == tensor.Q4_0 {
		xq := p.getQ8()
		quantizeQ8(p.impl, xq, x)
		p.MatMulQ8(y, w, xq, n)
		p.q8.Put(xq)
		return
	}
	var tile func(y []float32, ldy int, w []byte, rowBytes, rows int, x []float32, ldx, n int)
	switch w.Type {
	case tensor.F32:
		tile = p.impl.tileF32
	case tensor.F16:
		tile = p.impl.tileF16
	case tensor.BF16:
		tile = p.impl.tileBF16
	default:
		panic(fmt.Sprintf("kernels: MatMul: weight %q has unsupported type %s", w.Name, w.Type))
	}
	p.matMul(matMulArgs{y: y, w: w.Data, rb: w.RowBytes(), rows: rows, cols: cols, n: n, x: x, tile: tile})
}

// MatMulQ8 is MatMul for a Q8_0 (or Q4_0) weight and n inputs quantized
// together by one QuantizeQ8 call (xq.Len() == n*cols).
func (p *Pool) MatMulQ8(y []float32, w *tensor.Tensor, xq *Q8Vec, n int) {
	rows, cols := checkMat("MatMulQ8", w)
	if w.Type != tensor.Q8_0 && w.Type != tensor.Q4_0 {
		panic(fmt.Sprintf("kernels: MatMulQ8: weight %q is %s, want Q8_0 or Q4_0", w.Name, w.Type))
	}
	if n < 0 || xq.Len() != n*cols || len(y) < n*rows {
		panic(fmt.Sprintf("kernels: MatMulQ8: %q is %d×%d but n = %d, input has %d values, len(y) = %d", w.Name, rows, cols, n, xq.Len(), len(y)))
	}
	if n == 0 {
		return
	}
	tile := p.impl.tileQ8
	if w.Type == tensor.Q4_0 {
		// No register-tiled Q4_0 kernel: one MatVec per input. Q4_0 is
		// accepted for models people already have; Q8_0 is the fast path.
		tile = p.tileQ4
	}
	p.matMul(matMulArgs{y: y, w: w.Data, rb: w.RowBytes(), rows: rows, cols: cols, n: n, xq: xq, tileQ: tile})
}

// matMul runs one MatMul in tiles of matMulTile rows, split across the pool
// when that pays. Like matVec, it passes its operands through p.mm to the
// method value p.mmFn so that a call allocates nothing.
func (p *Pool) matMul(args matMulArgs) {
	p.run.Lock()
	defer p.run.Unlock()
	p.mm = args
	tiles := (args.rows + matMulTile - 1) / matMulTile
	if minChunk, ok := p.split(tiles, 2*args.cols*matMulTile*args.n); ok {
		p.forLocked(tiles, minChunk, p.mmFn)
	} else {
		p.matMulRange(0, tiles)
	}
	p.mm = matMulArgs{} // drop the references to the caller's slices
}

// matMulRange computes tiles [lo,hi) of the MatMul in p.mm.
func (p *Pool) matMulRange(lo, hi int) {
	a := &p.mm
	r0, r1 := lo*matMulTile, min(hi*matMulTile, a.rows)
	if a.tile != nil {
		a.tile(a.y[r0:], a.rows, a.w[r0*a.rb:r1*a.rb], a.rb, r1-r0, a.x, a.cols, a.n)
		return
	}
	a.tileQ(a.y[r0:], a.rows, a.w[r0*a.rb:r1*a.rb], a.rb, r1-r0, a.xq, a.n)
}

func (p *Pool) getQ8() *Q8Vec {
	if v, ok := p.q8.Get().(*Q8Vec); ok {
		return v
	}
	return new(Q8Vec)
}
