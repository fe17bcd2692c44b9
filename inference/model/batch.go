package model

import (
	"fmt"

	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/tensor"
)

// This file is the batched step of continuous batching: one forward pass
// over the tokens of several sequences at once — one decode token for each
// running sequence, prefill chunks of others — so that every weight matrix
// is read once per step for all of them (matrix-matrix products), and the
// mixture of experts groups the step's tokens by expert, so that each
// chosen expert's weights are read once per step too. Attention stays per
// sequence, against that sequence's own cache, except for runs of cached
// positions that several decode sequences share, which StepShared attends
// once for all of them (cascade.go).

// Chunk is one sequence's part of a batched step: Tokens are appended to
// State's cache at its current position.
type Chunk struct {
	State  *State
	Tokens []int32
}

// Batch is the scratch memory of batched steps: the activations of up to
// Tokens() tokens from up to Seqs() sequences, allocated once so that a
// step does not allocate. A Batch belongs to one goroutine at a time, as do
// the States of the chunks it is stepping.
type Batch struct {
	maxTokens, maxSeqs int

	chunks []Chunk // the step in progress; nil between steps
	off    []int   // (maxSeqs+1) first row of each chunk; off[len(chunks)] = n

	// Activations, n tokens row by row (chunk after chunk).
	x, xb     []float32 // (maxTokens, Dim) residual stream; normed sublayer input
	q, att    []float32 // (maxTokens, QDim)
	k, v      []float32 // (maxTokens, KVDim)
	proj      []float32 // (maxTokens, Dim)
	cos, sin  []float32 // (maxTokens, RopeDims/2) each token's own position
	xq        kernels.Q8Vec
	hg, hu    []float32 // dense: (maxTokens, FFN); experts: (maxTokens·ExpertsUsed, ExpertFFN)
	last      []float32 // (maxSeqs, Dim) each chunk's last row, normed
	logits    []float32 // (maxSeqs, Vocab)
	attendFn  func(lo, hi int)
	attL      int
	attInline bool

	// Mixture of experts.
	route    []float32       // (maxTokens, Experts)
	sel      []int32         // (maxTokens, ExpertsUsed)
	selW     []float32       // (maxTokens, ExpertsUsed)
	byExp    [][]int32       // per expert: the (token·ExpertsUsed + slot) routed to it, in token order
	expOff   []int           // (Experts) first row of each expert's rows in ein, eout, hg, hu
	active   []int32         // experts with rows this layer, ascending
	ein      []float32       // (maxTokens·ExpertsUsed, Dim) rows gathered by expert
	eout     []float32       // (maxTokens·ExpertsUsed, Dim) the experts' outputs
	xqIn     []kernels.Q8Vec // (Experts) each expert's quantized gate/up input
	xqDown   []kernels.Q8Vec // (Experts) each expert's quantized down input
	serial   []*kernels.Pool // (Experts) single-thread pools: an expert runs whole on one thread
	moeLayer *layer
	expertFn func(lo, hi int)

	casc cascade // shared-prefix attention (cascade.go)
}

// NewBatch returns scratch for batched steps of up to tokens tokens from up
// to seqs sequences.
func (m *Model) NewBatch(tokens, seqs int) (*Batch, error) {
	c := &m.Config
	if tokens < 1 || tokens > 1<<16 || seqs < 1 || seqs > tokens {
		return nil, fmt.Errorf("model: batch of %d tokens from %d sequences: want 1 <= sequences <= tokens <= 65536", tokens, seqs)
	}
	b := &Batch{
		maxTokens: tokens, maxSeqs: seqs,
		off:    make([]int, seqs+1),
		x:      make([]float32, tokens*c.Dim),
		xb:     make([]float32, tokens*c.Dim),
		q:      make([]float32, tokens*c.QDim()),
		att:    make([]float32, tokens*c.QDim()),
		k:      make([]float32, tokens*c.KVDim()),
		v:      make([]float32, tokens*c.KVDim()),
		proj:   make([]float32, tokens*c.Dim),
		cos:    make([]float32, tokens*c.RopeDims/2),
		sin:    make([]float32, tokens*c.RopeDims/2),
		last:   make([]float32, seqs*c.Dim),
		logits: make([]float32, seqs*c.Vocab),
	}
	b.attendFn = func(lo, hi int) { b.attend(m, lo, hi) }
	if !c.MoE() {
		b.hg, b.hu = make([]float32, tokens*c.FFN), make([]float32, tokens*c.FFN)
		return b, nil
	}
	rows := tokens*c.ExpertsUsed + 3*c.Experts // each expert's rows padded to a multiple of 4
	b.hg, b.hu = make([]float32, rows*c.ExpertFFN), make([]float32, rows*c.ExpertFFN)
	b.ein, b.eout = make([]float32, rows*c.Dim), make([]float32, rows*c.Dim)
	b.route = make([]float32, tokens*c.Experts)
	b.sel = make([]int32, tokens*c.ExpertsUsed)
	b.selW = make([]float32, tokens*c.ExpertsUsed)
	b.byExp = make([][]int32, c.Experts)
	for e := range b.byExp {
		b.byExp[e] = make([]int32, 0, tokens)
	}
	b.expOff = make([]int, c.Experts)
	b.active = make([]int32, 0, c.Experts)
	b.xqIn = make([]kernels.Q8Vec, c.Experts)
	b.xqDown = make([]kernels.Q8Vec, c.Experts)
	b.serial = make([]*kernels.Pool, c.Experts)
	for e := range b.serial {
		b.serial[e] = kernels.NewPool(1) // starts no goroutine: nothing to close
	}
	b.expertFn = func(lo, hi int) { b.experts(m, lo, hi) }
	return b, nil
}

// Tokens is the most tokens one step may carry, all chunks together.
func (b *Batch) Tokens() int { return b.maxTokens }

// Seqs is the most chunks (sequences) one step may carry.
func (b *Batch) Seqs() int { return b.maxSeqs }

// Logits returns the logits (Vocab) of the last token of chunk i of the
// latest Step. The slice belongs to b and is overwritten by the next Step.
func (b *Batch) Logits(i int) []float32 {
	V := len(b.logits) / b.maxSeqs
	return b.logits[i*V : (i+1)*V]
}

// Step runs one forward pass over every chunk's tokens together, appending
// each chunk's tokens to its own State's cache, and leaves the logits of
// each chunk's last token in b (Logits). Every chunk needs at least one
// token and its own State (a State may not appear twice). Each token's
// result equals what Forward computes for it alone up to float rounding:
// the matrix products group rows differently.
//
// On error nothing has been computed and no cache has changed.
func (m *Model) Step(b *Batch, chunks []Chunk) error {
	return m.step(b, chunks, nil)
}

func (m *Model) step(b *Batch, chunks []Chunk, shared []Shared) error {
	c := &m.Config
	if len(chunks) == 0 || len(chunks) > b.maxSeqs {
		return fmt.Errorf("model: step of %d chunks; want 1..%d", len(chunks), b.maxSeqs)
	}
	n := 0
	for i, ch := range chunks {
		st := ch.State
		if st == nil || len(ch.Tokens) == 0 {
			return fmt.Errorf("model: step: chunk %d has no State or no tokens", i)
		}
		if st.Cache.Len+len(ch.Tokens) > st.Cache.Cap {
			return fmt.Errorf("%w: chunk %d: %d cached + %d new positions > %d", ErrContextFull, i, st.Cache.Len, len(ch.Tokens), st.Cache.Cap)
		}
		for j, t := range ch.Tokens {
			if t < 0 || int(t) >= c.Vocab {
				return fmt.Errorf("model: step: chunk %d: token %d at index %d outside the vocabulary of %d", i, t, j, c.Vocab)
			}
		}
		for _, other := range chunks[:i] { // sequences are few: quadratic is fine
			if other.State == st {
				return fmt.Errorf("model: step: chunk %d shares its State with another chunk", i)
			}
		}
		b.off[i] = n
		n += len(ch.Tokens)
	}
	if n > b.maxTokens {
		return fmt.Errorf("model: step of %d tokens; the batch holds %d", n, b.maxTokens)
	}
	if err := b.planShared(m, chunks, shared); err != nil {
		return err
	}
	b.off[len(chunks)] = n
	b.chunks = chunks
	defer func() { b.chunks, b.casc.groups = nil, nil }() // drop the caller's States and runs

	D := c.Dim
	x := b.x[:n*D]
	for i, ch := range chunks {
		pos0 := ch.State.Cache.Len
		for j, t := range ch.Tokens {
			r := b.off[i] + j
			_ = tensor.DequantizeRow(x[r*D:(r+1)*D], m.embed.Row(int(t)), m.embed.Type) // checked above
			m.ropeAngle(b.cos, b.sin, r, pos0+j)
		}
	}
	// Attention is worth spreading over threads above attendInline.
	work := 0
	for _, ch := range chunks {
		k := len(ch.Tokens)
		work += c.Heads * (ch.State.Cache.Len + k) * k * c.HeadDim
	}
	b.attInline = work < attendInline

	for l := range m.layers {
		ly := &m.layers[l]
		xb := b.xb[:n*D]
		rmsNormRows(xb, x, ly.attnNorm, c.Eps, D)
		q, k, v := b.q[:n*c.QDim()], b.k[:n*c.KVDim()], b.v[:n*c.KVDim()]
		m.projectAll(&b.xq, xb, n, [3]*tensor.Tensor{ly.wq, ly.wk, ly.wv}, [3][]float32{q, k, v})
		if c.QKNorm {
			rmsNormRows(q, q, ly.qNorm, c.Eps, c.HeadDim)
			rmsNormRows(k, k, ly.kNorm, c.Eps, c.HeadDim)
		}
		m.rope(b.cos, b.sin, q, n, c.Heads)
		m.rope(b.cos, b.sin, k, n, c.KVHeads)
		kvd := c.KVDim()
		for i, ch := range chunks {
			lo, hi := b.off[i], b.off[i+1]
			ch.State.Cache.store(l, ch.State.Cache.Len, k[lo*kvd:hi*kvd], v[lo*kvd:hi*kvd], kvd)
		}
		b.attL = l
		b.attendShared(m, l)
		if b.attInline {
			b.attendFn(0, len(chunks)*c.Heads)
		} else {
			m.pool.For(len(chunks)*c.Heads, b.attendFn)
		}
		m.pool.MatMul(b.proj[:n*D], ly.wo, b.att[:n*c.QDim()], n)
		add(x, b.proj[:n*D])

		rmsNormRows(xb, x, ly.ffnNorm, c.Eps, D)
		if c.MoE() {
			m.moeBatch(b, ly, n)
		} else {
			hg, hu := b.hg[:n*c.FFN], b.hu[:n*c.FFN]
			m.projectAll(&b.xq, xb, n, [3]*tensor.Tensor{ly.gate, ly.up}, [3][]float32{hg, hu})
			kernels.SwiGLU(hg, hg, hu)
			m.pool.MatMul(b.proj[:n*D], ly.down, hg, n)
		}
		add(x, b.proj[:n*D])
	}
	for _, ch := range chunks {
		ch.State.Cache.Len += len(ch.Tokens)
	}

	// The output projection, the largest matrix, read once for the last
	// token of every chunk.
	S := len(chunks)
	for i := range chunks {
		r := b.off[i+1] - 1
		copy(b.last[i*D:(i+1)*D], x[r*D:(r+1)*D])
	}
	rmsNormRows(b.last[:S*D], b.last[:S*D], m.outputNorm, c.Eps, D)
	m.pool.MatMul(b.logits[:S*c.Vocab], m.output, b.last[:S*D], S)
	return nil
}

// projectAll is project with matrix-matrix products for every n (a step
// of one token too), the input quantized once for all Q8_0 weights.
func (m *Model) projectAll(xq *kernels.Q8Vec, x []float32, n int, ws [3]*tensor.Tensor, ys [3][]float32) {
	allQ8 := true
	for _, w := range ws {
		allQ8 = allQ8 && (w == nil || w.Type == tensor.Q8_0)
	}
	if allQ8 {
		kernels.QuantizeQ8(xq, x)
	}
	for i, w := range ws {
		switch {
		case w == nil:
		case allQ8:
			m.pool.MatMulQ8(ys[i], w, xq, n)
		default:
			m.pool.MatMul(ys[i], w, x, n)
		}
	}
}

// attend is attention for items [lo, hi) of the step's (chunk, query head)
// pairs, item i being head i%Heads of chunk i/Heads, in layer b.attL. Each
// chunk attends over its own State's cache with its own scratch.
func (b *Batch) attend(m *Model, lo, hi int) {
	H, qd := m.Config.Heads, m.Config.QDim()
	group := H / m.Config.KVHeads
	for i := lo; i < hi; i++ {
		s, h := i/H, i%H
		ch := b.chunks[s]
		r0, r1 := b.off[s], b.off[s+1]
		if c := &b.casc; c.groups != nil && c.refOff[s+1] > c.refOff[s] {
			b.attendMember(m, s, h)
			continue
		}
		pos0 := ch.State.Cache.Len // Len moves only after the last layer
		if groupedDecode(&m.Config, r1-r0) {
			if h%group == 0 { // the group's first head does the group
				ch.State.attendGroup(m, b.attL, pos0, h/group, b.q[r0*qd:r1*qd], b.att[r0*qd:r1*qd])
			}
			continue
		}
		ch.State.attendHead(m, b.attL, pos0, r1-r0, h, b.q[r0*qd:r1*qd], b.att[r0*qd:r1*qd])
	}
}

// moeBatch is the mixture of experts over the step's n tokens: routed as
// in moe, then grouped by expert so that each chosen expert runs once, over
// all the rows routed to it, on one thread (experts in parallel: one
// dispatch per layer, and each expert's weights stream through one core's
// cache once). A token's expert outputs are added in expert order.
func (m *Model) moeBatch(b *Batch, ly *layer, n int) {
	c := &m.Config
	D, E, K := c.Dim, c.Experts, c.ExpertsUsed
	xb := b.xb[:n*D]
	route := b.route[:n*E]
	m.pool.MatMul(route, ly.router, xb, n)
	routeTokens(route, n, E, K, b.sel, b.selW, b.byExp)
	b.active = b.active[:0]
	off := 0
	for e, routed := range b.byExp {
		b.expOff[e] = off
		off += padRows(len(routed))
		if len(routed) > 0 {
			b.active = append(b.active, int32(e))
		}
	}
	b.moeLayer = ly
	m.pool.For(len(b.active), b.expertFn)

	proj := b.proj[:n*D]
	clear(proj)
	for _, e := range b.active {
		out := b.eout[b.expOff[e]*D:]
		for j, r := range b.byExp[e] {
			tok := int(r) / K
			kernels.Axpy(b.selW[r], out[j*D:(j+1)*D], proj[tok*D:(tok+1)*D])
		}
	}
}

// padRows rounds an expert's row count above one up to a multiple of 4:
// the matrix kernels multiply 4 weight rows by 4 inputs at a time and take
// leftover inputs one by one, rereading the weights for each, so up to 3
// rows of zeros cost less than the leftovers. A single row (one decoding
// sequence) stays one matrix-vector product.
func padRows(n int) int {
	if n <= 1 {
		return n
	}
	return (n + 3) &^ 3
}

// experts runs active experts [lo, hi) of the layer in b.moeLayer, each
// whole on the calling thread: gather its rows, gate and up, SwiGLU, down.
func (b *Batch) experts(m *Model, lo, hi int) {
	c := &m.Config
	D, F, K := c.Dim, c.ExpertFFN, c.ExpertsUsed
	ly := b.moeLayer
	for _, e := range b.active[lo:hi] {
		routed := b.byExp[e]
		cnt, r0 := padRows(len(routed)), b.expOff[e]
		in := b.ein[r0*D : (r0+cnt)*D]
		for j, r := range routed {
			tok := int(r) / K
			copy(in[j*D:(j+1)*D], b.xb[tok*D:(tok+1)*D])
		}
		clear(in[len(routed)*D:])
		hg, hu, out := b.hg[r0*F:(r0+cnt)*F], b.hu[r0*F:(r0+cnt)*F], b.eout[r0*D:(r0+cnt)*D]
		gate, up, down := ly.gateExp[e], ly.upExp[e], ly.downExp[e]
		p := b.serial[e]
		if gate.Type == tensor.Q8_0 && up.Type == tensor.Q8_0 {
			kernels.QuantizeQ8(&b.xqIn[e], in)
			p.MatMulQ8(hg, gate, &b.xqIn[e], cnt)
			p.MatMulQ8(hu, up, &b.xqIn[e], cnt)
		} else {
			p.MatMul(hg, gate, in, cnt)
			p.MatMul(hu, up, in, cnt)
		}
		kernels.SwiGLU(hg, hg, hu)
		if down.Type == tensor.Q8_0 {
			kernels.QuantizeQ8(&b.xqDown[e], hg)
			p.MatMulQ8(out, down, &b.xqDown[e], cnt)
		} else {
			p.MatMul(out, down, hg, cnt)
		}
	}
}
