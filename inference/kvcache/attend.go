package kvcache

import (
	"fmt"
	"math"

	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/tensor"
)

// This file is attention over block storage, written so that the queries
// of many sequences that share prefix blocks read those blocks once, as
// matrix products (Hydragen; FlashInfer's cascade attention): the shared
// part and each sequence's own part are attended separately, each giving
// an output and the log-sum-exp of its scores, and MergeLSE combines them
// into exactly the attention over the whole sequence.

// Span is a run of stored positions: the first N positions held by Blocks,
// the last block possibly partly filled.
type Span struct {
	Blocks []BlockID
	N      int
}

// Attender holds the scratch memory of attention for one goroutine; it
// grows to the largest call and then does not allocate. Give each worker of
// a parallel forward pass its own.
type Attender struct {
	pool *kernels.Pool // one thread: the caller parallelises across heads and sequences

	s    []float32 // (nQ, N) scores, then probabilities
	kg   []byte    // (N, HeadDim) the span's keys, gathered
	vg   []byte    // (HeadDim, N) the span's values, gathered
	part []float32 // (nQ, HeadDim) a cascade part's output
	plse []float32 // (nQ) its log-sum-exp
	acc  []float32 // (rows) a cascade's running log-sum-exp per query row
	q    []float32 // (nQ, HeadDim) a cascade group's gathered queries

	kt, vw tensor.Tensor // views of kg and vg for MatMul, kept here so that passing them does not allocate
	shape  [2][2]int
}

// NewAttender returns an Attender with its own single-threaded kernel pool
// (which starts no goroutine).
func NewAttender() *Attender {
	a := &Attender{pool: kernels.NewPool(1)}
	a.kt.Shape, a.vw.Shape = a.shape[0][:], a.shape[1][:]
	return a
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Attend computes, for KV head g of layer l and nQ queries q (nQ, HeadDim)
// row-major — one sequence's query heads that share head g, or many
// sequences' — softmax(scale·q·Kᵀ)·V over the positions of sp, writing out
// (nQ, HeadDim) and, if lse is not nil, the natural log of each row's sum
// of exp(scores) (nQ): what MergeLSE needs to combine it with attention
// over other positions. An empty span gives zero rows with lse = -Inf.
func (a *Attender) Attend(out, lse []float32, c *Cache, l, g int, q []float32, nQ int, sp Span, scale float32) {
	a.attend(out, lse, c, l, g, q, nQ, sp, scale, 0, 0)
}

// AttendCausal is Attend for a chunk of a prompt: the queries are
// perPos rows for each of the chunk's positions pos0, pos0+1, … (perPos
// query heads sharing head g), and row r attends only to positions up to
// pos0 + r/perPos of sp.
func (a *Attender) AttendCausal(out, lse []float32, c *Cache, l, g int, q []float32, nQ int, sp Span, scale float32, pos0, perPos int) {
	if perPos < 1 {
		panic("kvcache: AttendCausal with perPos < 1")
	}
	a.attend(out, lse, c, l, g, q, nQ, sp, scale, pos0, perPos)
}

func (a *Attender) attend(out, lse []float32, c *Cache, l, g int, q []float32, nQ int, sp Span, scale float32, pos0, perPos int) {
	hd, bt, T := c.cfg.HeadDim, c.bt, sp.N
	if len(q) < nQ*hd || len(out) < nQ*hd || lse != nil && len(lse) < nQ || T > len(sp.Blocks)*bt || T < 0 {
		panic(fmt.Sprintf("kvcache: Attend: %d queries of %d (len(q) %d, len(out) %d) over %d positions in %d blocks",
			nQ, hd, len(q), len(out), T, len(sp.Blocks)))
	}
	out = out[:nQ*hd]
	if T == 0 || nQ == 0 {
		clear(out)
		for r := range nQ {
			if lse != nil {
				lse[r] = float32(math.Inf(-1))
			}
		}
		return
	}
	a.s = grow(a.s, nQ*T)

	// Gather the span's tiles into one K of (T, HeadDim) and one V of
	// (HeadDim, T), so that each product below is one MatMul whose inner
	// loops run over whole rows: per-block products cost a kernel call per
	// block and, for P·V, reduce over only BlockTokens values per output.
	// The copy is T·HeadDim values, what one query reads anyway, and a
	// shared span's copy serves all its queries.
	es, rowB := c.elem, hd*c.elem
	a.kg = grow(a.kg, T*rowB)
	a.vg = grow(a.vg, T*rowB)
	blocks := sp.Blocks[:(T+bt-1)/bt]
	for j, b := range blocks {
		nb := min(bt, T-j*bt)
		copy(a.kg[j*bt*rowB:], c.tileBytes(b, l, g, false)[:nb*rowB])
		vt := c.tileBytes(b, l, g, true)
		for d := range hd {
			copy(a.vg[(d*T+j*bt)*es:(d*T+j*bt+nb)*es], vt[d*bt*es:(d*bt+nb)*es])
		}
	}
	typ := c.cfg.Type

	// Scores: S = q·Kᵀ, (nQ, T).
	a.kt.Type, a.kt.Shape[0], a.kt.Shape[1], a.kt.Data = typ, hd, T, a.kg
	a.pool.MatMul(a.s, &a.kt, q[:nQ*hd], nQ)

	// Softmax per row, over the positions the row may see, of the scores
	// scaled after the dot product, as ggml's soft_max_ext and
	// inference/model do (so results agree to the last bit more often).
	// kernels.Softmax normalises in place; the row's maximum becomes exactly
	// 1/Σ, which gives the log-sum-exp without a second pass.
	for r := range nQ {
		row := a.s[r*T : (r+1)*T]
		lim := T
		if perPos > 0 {
			lim = min(T, pos0+r/perPos+1)
		}
		if lim <= 0 {
			clear(row)
			if lse != nil {
				lse[r] = float32(math.Inf(-1))
			}
			continue
		}
		am, m := 0, row[0]*scale
		for i, x := range row[:lim] {
			x *= scale
			row[i] = x
			if x > m {
				am, m = i, x
			}
		}
		kernels.Softmax(row[:lim])
		clear(row[lim:])
		if lse != nil {
			lse[r] = m - float32(math.Log(float64(row[am])))
		}
	}

	// Output: out = P·V, (nQ, HeadDim), V's rows the head dimensions.
	a.vw.Type, a.vw.Shape[0], a.vw.Shape[1], a.vw.Data = typ, T, hd, a.vg
	a.pool.MatMul(out, &a.vw, a.s, nQ)
}

// MergeLSE combines two attention results over disjoint sets of positions
// into the attention over their union: out = (e^lse·out + e^lse2·out2) /
// (e^lse + e^lse2) row by row, lse = log(e^lse + e^lse2), computed relative
// to the larger lse so nothing overflows. out and lse are (n, dim) and (n)
// and are updated in place.
func MergeLSE(out, lse, out2, lse2 []float32, n, dim int) {
	for r := range n {
		l1, l2 := lse[r], lse2[r]
		if math.IsInf(float64(l2), -1) {
			continue
		}
		o1, o2 := out[r*dim:(r+1)*dim], out2[r*dim:(r+1)*dim]
		if math.IsInf(float64(l1), -1) {
			copy(o1, o2)
			lse[r] = l2
			continue
		}
		m := max(l1, l2)
		w1 := float32(math.Exp(float64(l1 - m)))
		w2 := float32(math.Exp(float64(l2 - m)))
		inv := 1 / (w1 + w2)
		a1, a2 := w1*inv, w2*inv
		for d := range o1 {
			o1[d] = a1*o1[d] + a2*o2[d]
		}
		lse[r] = m + float32(math.Log(float64(w1+w2)))
	}
}
