package model

import (
	"fmt"
	"math"

	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/tensor"
)

// Forward runs tokens through the model, appending them to st's cache at
// its current position, and returns the logits (Vocab) of the last token.
// The returned slice belongs to st and is overwritten by the next call.
//
// A prompt is processed in chunks of st's batch size with matrix-matrix
// products and causal attention (prefill); one token at a time is a decode
// step, with matrix-vector products. Neither allocates once st is warm.
func (m *Model) Forward(st *State, tokens []int32) ([]float32, error) {
	if err := m.forward(st, tokens, nil); err != nil {
		return nil, err
	}
	return st.logits, nil
}

// ForwardAll is Forward that also writes every token's logits to all
// (len(tokens)×Vocab, row by row): what evaluation against a reference needs.
func (m *Model) ForwardAll(st *State, tokens []int32, all []float32) error {
	if len(all) != len(tokens)*m.Config.Vocab {
		return fmt.Errorf("model: ForwardAll: %d logits for %d tokens × %d vocabulary", len(all), len(tokens), m.Config.Vocab)
	}
	return m.forward(st, tokens, all)
}

func (m *Model) forward(st *State, tokens []int32, all []float32) error {
	c := &m.Config
	if len(tokens) == 0 {
		return fmt.Errorf("model: forward: no tokens")
	}
	if st.Cache.Len+len(tokens) > st.Cache.Cap {
		return fmt.Errorf("%w: %d cached + %d new positions > %d", ErrContextFull, st.Cache.Len, len(tokens), st.Cache.Cap)
	}
	for i, t := range tokens {
		if t < 0 || int(t) >= c.Vocab {
			return fmt.Errorf("model: token %d at index %d outside the vocabulary of %d", t, i, c.Vocab)
		}
	}
	for start := 0; start < len(tokens); start += st.batch {
		chunk := tokens[start:min(start+st.batch, len(tokens))]
		m.chunk(st, chunk)
		if all != nil {
			m.logits(st, len(chunk), all[start*c.Vocab:(start+len(chunk))*c.Vocab], true)
		}
	}
	if all == nil {
		lastChunk := len(tokens) - (len(tokens)-1)/st.batch*st.batch // its rows are in st.x
		m.logits(st, lastChunk, st.logits, false)
	} else {
		copy(st.logits, all[(len(tokens)-1)*c.Vocab:])
	}
	return nil
}

// chunk runs n <= st.batch tokens through every layer, leaving their final
// hidden states in st.x and their keys and values in the cache.
func (m *Model) chunk(st *State, tokens []int32) {
	c := &m.Config
	n, D := len(tokens), c.Dim
	pos0 := st.Cache.Len
	x := st.x[:n*D]

	// Embed: one row of token_embd per token.
	for i, t := range tokens {
		// The row is in range (checked in forward) and of a supported type.
		_ = tensor.DequantizeRow(x[i*D:(i+1)*D], m.embed.Row(int(t)), m.embed.Type)
	}
	for i := range n {
		m.ropeAngle(st.cos, st.sin, i, pos0+i)
	}

	for l := range m.layers {
		ly := &m.layers[l]

		// Attention: norm, q/k/v projections, (q/k norms,) RoPE, cache,
		// causal attention over the cache, output projection, residual.
		xb := st.xb[:n*D]
		rmsNormRows(xb, x, ly.attnNorm, c.Eps, D)
		q, k, v := st.q[:n*c.QDim()], st.k[:n*c.KVDim()], st.v[:n*c.KVDim()]
		m.project(&st.xq, xb, n, [3]*tensor.Tensor{ly.wq, ly.wk, ly.wv}, [3][]float32{q, k, v})
		if c.QKNorm {
			rmsNormRows(q, q, ly.qNorm, c.Eps, c.HeadDim)
			rmsNormRows(k, k, ly.kNorm, c.Eps, c.HeadDim)
		}
		m.rope(st.cos, st.sin, q, n, c.Heads)
		m.rope(st.cos, st.sin, k, n, c.KVHeads)
		st.Cache.store(l, pos0, k, v, c.KVDim())
		m.attention(st, l, pos0, n)
		m.matmul(&st.xq, st.proj[:n*D], ly.wo, q, n) // attention wrote its output over q
		add(x, st.proj[:n*D])

		// Feed-forward: norm, mixture of experts or dense SwiGLU, residual.
		rmsNormRows(xb, x, ly.ffnNorm, c.Eps, D)
		if c.MoE() {
			m.moe(st, ly, n)
		} else {
			m.dense(st, ly, n)
		}
		add(x, st.proj[:n*D])
	}
	st.Cache.Len += n
}

// logits applies the final norm and the output projection to the last
// token of the chunk in st.x (all rows when every is set) into out.
func (m *Model) logits(st *State, n int, out []float32, every bool) {
	c := &m.Config
	D := c.Dim
	if every {
		rmsNormRows(st.xb[:n*D], st.x[:n*D], m.outputNorm, c.Eps, D)
		m.matmul(&st.xq, out, m.output, st.xb[:n*D], n)
		return
	}
	last := st.x[(n-1)*D : n*D]
	rmsNormRows(st.xb[:D], last, m.outputNorm, c.Eps, D)
	m.pool.MatVec(out, m.output, st.xb[:D])
}

// matmul sets y = W·x for n inputs: project for one weight.
func (m *Model) matmul(xq *kernels.Q8Vec, y []float32, w *tensor.Tensor, x []float32, n int) {
	m.project(xq, x, n, [3]*tensor.Tensor{w}, [3][]float32{y})
}

// project computes several products of n inputs x by weights ws (q, k
// and v of a layer; an FFN's gate and up), skipping nil weights: for one
// token as one parallel matrix-vector job (kernels.MatVecs), otherwise as
// matrix-matrix products. For Q8_0 weights the input is quantized once, into
// xq: the State's one buffer for that, rather than a buffer of the pool's
// sized for each product's input.
func (m *Model) project(xq *kernels.Q8Vec, x []float32, n int, ws [3]*tensor.Tensor, ys [3][]float32) {
	if n == 1 {
		m.pool.MatVecs(ys, ws, x)
		return
	}
	allQ8 := true
	for _, w := range ws {
		allQ8 = allQ8 && (w == nil || w.Type == tensor.Q8_0)
	}
	if !allQ8 {
		for i, w := range ws {
			if w != nil {
				m.pool.MatMul(ys[i], w, x, n)
			}
		}
		return
	}
	kernels.QuantizeQ8(xq, x)
	for i, w := range ws {
		if w != nil {
			m.pool.MatMulQ8(ys[i], w, xq, n)
		}
	}
}

// ropeAngle fills row i of cos and sin (rows of RopeDims/2) with the
// rotation of position pos: angle pos·base^(-2j/RopeDims) for pair j.
func (m *Model) ropeAngle(cos, sin []float32, i, pos int) {
	half := m.Config.RopeDims / 2
	p := float64(pos)
	for j, f := range m.ropeInv {
		s, c := math.Sincos(p * f)
		cos[i*half+j], sin[i*half+j] = float32(c), float32(s)
	}
}

// rope rotates the first RopeDims values of each of the heads of n tokens
// in x (n, heads, HeadDim), token i by row i of cos and sin. NeoX style
// (qwen) pairs value i with i+d/2; the original style (llama) pairs 2i
// with 2i+1.
func (m *Model) rope(cosAll, sinAll, x []float32, n, heads int) {
	c := &m.Config
	hd, half := c.HeadDim, c.RopeDims/2
	for i := range n {
		cos, sin := cosAll[i*half:(i+1)*half], sinAll[i*half:(i+1)*half]
		for h := range heads {
			v := x[(i*heads+h)*hd : (i*heads+h+1)*hd]
			if c.RopeNeoX {
				for j := range half {
					a, b := v[j], v[j+half]
					v[j] = a*cos[j] - b*sin[j]
					v[j+half] = a*sin[j] + b*cos[j]
				}
			} else {
				for j := range half {
					a, b := v[2*j], v[2*j+1]
					v[2*j] = a*cos[j] - b*sin[j]
					v[2*j+1] = a*sin[j] + b*cos[j]
				}
			}
		}
	}
}

// attendInline is the attention work (multiply-adds, all heads) below which
// a chunk's attention runs on the calling thread: about a microsecond,
// less than a dispatch saves. It was 32k, but then a decode step's attention
// over a short cache ran inline for 10-25 µs, longer than a pool worker
// spins before parking, so workers parked about twice a step and each
// wake-up (a channel send, a futex wake) delayed the next product: the bench
// models decoded faster after 1,024 cached tokens, whose attention ran in
// parallel, than from an empty cache. Split, the gaps over 9 µs between a
// step's parallel jobs fell from 2.2 to 0.3 a step (tiny F32) and from 4.8
// to 1.6 (small Q8_0).
const attendInline = 4 << 10

// attention computes the attention output over st.q for the chunk's n tokens at
// positions pos0..pos0+n-1 from layer l's cache, causally: token i attends to
// positions 0..pos0+i. Heads run in parallel; each head is computed by one
// thread from start to end, so the result does not depend on the split.
func (m *Model) attention(st *State, l, pos0, n int) {
	st.attL, st.attPos0, st.attN = l, pos0, n
	c := &m.Config
	if work := c.Heads * (pos0 + n) * n * c.HeadDim; work < attendInline {
		st.attendFn(0, c.Heads)
		return
	}
	m.pool.For(c.Heads, st.attendFn)
}

// attend is attention for heads [lo, hi) of the chunk described by
// st.attL, attPos0 and attN, each head's output written over its query in
// st.q; it is bound once per State (st.attendFn) so that dispatching it to
// the pool does not allocate.
func (st *State) attend(m *Model, lo, hi int) {
	c := &m.Config
	group := c.Heads / c.KVHeads
	for h := lo; h < hi; h++ {
		if groupedDecode(c, st.attN) {
			// A group's first head does the whole group, wherever the
			// pool split the heads.
			if h%group == 0 {
				st.attendGroup(m, st.attL, st.attPos0, h/group, st.q, st.q)
			}
			continue
		}
		st.attendHead(m, st.attL, st.attPos0, st.attN, h, st.q, st.q)
	}
}

// minGroupedHeads is the fewest query heads per KV head for which a
// decode step attends per KV head (attendGroup): with one there is
// nothing to share. Pairs go through the 4×2 tiles, fours and more
// through the 4×4 ones.
const minGroupedHeads = 2

// groupedDecode reports whether n tokens' attention goes per KV head: a
// decode step (n = 1) of a model whose KV heads serve several query heads
// each (the embedded model's 2, Mixtral's 4, Qwen3-30B-A3B's 8).
func groupedDecode(c *Config, n int) bool {
	return n == 1 && c.Heads/c.KVHeads >= minGroupedHeads
}

// attendGroup is attention for one token at position pos0 for all the
// query heads of KV head g, whose queries lie side by side in q (QDim):
// the group's scores over the cached keys as one matrix product, then
// its outputs over the values as another, so that each key and value is
// read once for the group instead of once per query head. The outputs go
// to att, which may be q (the queries are read in full first).
func (st *State) attendGroup(m *Model, l, pos0, g int, q, att []float32) {
	c := &m.Config
	hd, cp := c.HeadDim, st.Cache.Cap
	G := c.Heads / c.KVHeads
	h0 := g * G
	scale := float32(1 / math.Sqrt(float64(hd)))
	keys, vals := st.Cache.Keys(l, g), st.Cache.Values(l, g)
	T := pos0 + 1
	groupRows(att[h0*hd:(h0+G)*hd], nil, st.headScratch(m, h0).s, q[h0*hd:(h0+G)*hd], keys, vals, hd, cp, 0, T, scale)
}

// groupRows is attention for the len(q)/hd query rows that share one KV
// head (its keys, hd values a position; its values, hd rows cp apart)
// over positions lo..T-1: the scores as one matrix product into s (at
// least rows·(T-lo) values), a softmax per row, the outputs (rows, hd) as
// another product. With lse non-nil it also writes each row's
// log-sum-exp of the scaled scores, for merging with other positions.
// out may be q: the queries are read in full by the first product.
func groupRows(out, lse, s, q, keys, vals []float32, hd, cp, lo, T int, scale float32) {
	rows, L := len(q)/hd, T-lo
	s = s[:rows*L]
	kernels.DotRowsN(s, L, L, keys[lo*hd:], hd, q, hd, rows)
	for j := range rows {
		x := s[j*L : (j+1)*L]
		if lse != nil {
			lse[j] = softmaxLSE(x, scale)
			continue
		}
		kernels.Scale(x, scale) // after the sum, as ggml's soft_max_ext scales
		kernels.Softmax(x)
	}
	kernels.DotRowsN(out, hd, hd, vals[lo:], cp, s, L, rows)
}

// headScratch returns query head h's block scratch, grown on first use
// to hold attBlock tokens' (or a KV group's) rows of scores as wide as
// the cache.
func (st *State) headScratch(m *Model, h int) *attScratch {
	c := &m.Config
	rows := max(attBlock, c.Heads/c.KVHeads)
	bs := &st.blocks[h]
	if len(bs.s) < rows*st.Cache.Cap {
		bs.s = make([]float32, rows*st.Cache.Cap)
		bs.q = make([]float32, attBlock*c.HeadDim)
	}
	return bs
}

// attendHead computes query head h's attention for n tokens at positions
// pos0..pos0+n-1 over layer l of st's cache, causally, reading the
// queries from q and writing the outputs to att (both (n, QDim)). att may
// be q: a token's query for head h is read in full before that head's
// output for the token is written, and nothing else reads it. It uses st's
// scratch for head h only, so the heads of one State, and any heads of
// different States, may run concurrently.
func (st *State) attendHead(m *Model, l, pos0, n, h int, q, att []float32) {
	if n >= attBlock {
		st.attendHeadBlocks(m, l, pos0, n, h, q, att)
		return
	}
	c := &m.Config
	hd, qd, cp := c.HeadDim, c.QDim(), st.Cache.Cap
	group := c.Heads / c.KVHeads
	scale := float32(1 / math.Sqrt(float64(hd)))
	g := h / group // the KV head this query head shares
	keys, vals := st.Cache.Keys(l, g), st.Cache.Values(l, g)
	kv := &st.keyView[h]
	scores := st.scores[h*cp : (h+1)*cp]
	for i := range n {
		T := pos0 + i + 1 // causal: positions 0..pos0+i
		s := scores[:T]
		// By far the most time at long contexts is spent here: the
		// scores are one product over the T cached keys, the output
		// HeadDim dot products over T values, done as one DotRows over
		// the (HeadDim, Cap) value rows, which runs them through the
		// multi-row kernel (about twice as fast as HeadDim Dot calls).
		// Both run on this goroutine whatever the thread count, so the
		// result does not depend on it.
		kv.Shape[1], kv.Data = T, f32bytes(keys[:T*hd])
		st.headPool[h].MatVec(s, kv, q[i*qd+h*hd:i*qd+(h+1)*hd])
		kernels.Scale(s, scale) // after the sum, as ggml's soft_max_ext scales
		kernels.Softmax(s)
		kernels.DotRows(att[i*qd+h*hd:i*qd+(h+1)*hd], vals, cp, s)
	}
}

// attBlock is how many of a chunk's tokens attendHeadBlocks takes
// together: each cached key and value is then read once per attBlock
// tokens and multiplied by four of them at a time (the MatMul tiles), not
// read once per token by the one-input kernel. Eight keeps the block's
// scores (attBlock rows of up to Cap positions per head, per State) small
// and wastes at most 7 masked positions per token on causality.
const attBlock = 8

// attendHeadBlocks is attendHead for a chunk of n >= attBlock tokens: the
// tokens go attBlock at a time, each block as two matrix products over
// the positions its last token sees — scores S = Q·Kᵀ, then, after a
// causal softmax of each row (a token's weights beyond its own position
// are zero), the output S·V — rather than two matrix-vector products per
// token. The arithmetic is the same up to float rounding.
func (st *State) attendHeadBlocks(m *Model, l, pos0, n, h int, q, att []float32) {
	c := &m.Config
	hd, qd, cp := c.HeadDim, c.QDim(), st.Cache.Cap
	scale := float32(1 / math.Sqrt(float64(hd)))
	g := h / (c.Heads / c.KVHeads)
	keys, vals := st.Cache.Keys(l, g), st.Cache.Values(l, g)
	bs := st.headScratch(m, h) // attBlock rows of scores, the block's queries
	for i0 := 0; i0 < n; i0 += attBlock {
		nb := min(attBlock, n-i0)
		T := pos0 + i0 + nb // positions the block's last token sees
		// The weighted sum runs over W >= T positions: T rounded up to
		// the kernels' 16 where the chunk's own positions allow (they are
		// stored, so finite, and weigh zero here), so that its rows have
		// no ragged tail for the Go fallback; only a chunk's last block
		// may keep one.
		W := min((T+15)&^15, pos0+n)
		// The queries are copied out first: att may be q, and the block's
		// outputs overwrite this head's slots of its tokens.
		for j := range nb {
			copy(bs.q[j*hd:(j+1)*hd], q[(i0+j)*qd+h*hd:(i0+j)*qd+(h+1)*hd])
		}
		s := bs.s[:nb*W]
		kernels.DotRowsN(s, W, T, keys, hd, bs.q[:nb*hd], hd, nb)
		for j := range nb {
			Tj := pos0 + i0 + j + 1 // causal: positions 0..pos0+i0+j
			row := s[j*W : (j+1)*W]
			kernels.Scale(row[:Tj], scale) // after the sum, as ggml's soft_max_ext scales
			kernels.Softmax(row[:Tj])
			clear(row[Tj:])
		}
		kernels.DotRowsN(att[i0*qd+h*hd:], qd, hd, vals, cp, s, W, nb)
	}
}

// ffnRows is the most token rows one feed-forward product takes in a
// prefill chunk: the chunk's rows (an expert's, in a mixture) go through the
// FFN in groups this size, so that the FFN's scratch (hidden activations
// FFN wide, and their Q8_0 copy) is sized for ffnRows rows rather than the
// whole chunk — a third of a State's memory at a 512-token chunk otherwise.
// The matrix kernels already take inputs 64 at a time against each block of
// weight rows (kernels' inputBlock), so groups of 64 cost at most a reread
// of the weights, from cache for a model's expert sizes. A multiple of 4,
// so that every row is multiplied by the same kernel as without groups
// (tiles of 4 inputs, leftovers one by one) and results are bit for bit
// the same.
const ffnRows = 64

// dense is a SwiGLU feed-forward block: proj = W_down·(silu(W_gate·xb) ⊙ W_up·xb),
// ffnRows rows at a time.
func (m *Model) dense(st *State, ly *layer, n int) {
	c := &m.Config
	D, F := c.Dim, c.FFN
	for r0 := 0; r0 < n; r0 += ffnRows {
		rows := min(ffnRows, n-r0)
		xb := st.xb[r0*D : (r0+rows)*D]
		hg, hu := st.hg[:rows*F], st.hu[:rows*F]
		m.project(&st.xq, xb, rows, [3]*tensor.Tensor{ly.gate, ly.up}, [3][]float32{hg, hu})
		kernels.SwiGLU(hg, hg, hu)
		m.matmul(&st.xq, st.proj[r0*D:(r0+rows)*D], ly.down, hg, rows)
	}
}

// moe is the mixture-of-experts block: a softmax router over all experts
// picks each token's top ExpertsUsed, whose weights are renormalised to sum
// to one (qwen3moe's norm_topk_prob; for Mixtral the same thing as a
// softmax over the chosen logits). Only chosen experts run: tokens are
// grouped by expert so that each expert's weights are read once per chunk.
// A token's expert outputs are added in expert order, whatever the batch.
// An expert's rows go through it ffnRows at a time.
func (m *Model) moe(st *State, ly *layer, n int) {
	c := &m.Config
	D, E, K := c.Dim, c.Experts, c.ExpertsUsed
	xb := st.xb[:n*D]
	route := st.route[:n*E]
	m.matmul(&st.xq, route, ly.router, xb, n)
	routeTokens(route, n, E, K, st.sel, st.selW, st.byExp)

	proj := st.proj[:n*D]
	if n == 1 {
		m.moeDecode(st, ly)
		return
	}
	clear(proj)
	for e, all := range st.byExp {
		for r0 := 0; r0 < len(all); r0 += ffnRows {
			m.expertRows(st, ly, e, all[r0:min(r0+ffnRows, len(all))])
		}
	}
}

// expertRows runs expert e of layer ly over the routed entries (token·K +
// slot, at most ffnRows) of a prefill chunk, adding each token's weighted
// output to st.proj.
func (m *Model) expertRows(st *State, ly *layer, e int, routed []int32) {
	c := &m.Config
	D, K, F := c.Dim, c.ExpertsUsed, c.ExpertFFN
	xb, proj := st.xb, st.proj
	cnt := len(routed)
	in := st.ein[:cnt*D]
	for j, r := range routed {
		tok := int(r) / K
		copy(in[j*D:(j+1)*D], xb[tok*D:(tok+1)*D])
	}
	hg, hu := st.hg[:cnt*F], st.hu[:cnt*F]
	m.project(&st.xq, in, cnt, [3]*tensor.Tensor{ly.gateExp[e], ly.upExp[e]}, [3][]float32{hg, hu})
	kernels.SwiGLU(hg, hg, hu)
	out := st.eout[:cnt*D]
	m.matmul(&st.xq, out, ly.downExp[e], hg, cnt)
	for j, r := range routed {
		tok := int(r) / K
		kernels.Axpy(st.selW[r], out[j*D:(j+1)*D], proj[tok*D:(tok+1)*D])
	}
}

// moeDecode is the mixture of experts for one token: each chosen expert
// runs whole on one thread (on its slot's single-thread pool, from inside
// one parallel loop over the experts), rather than splitting each of its three small
// products across threads: one dispatch per layer instead of six. The
// experts' outputs are added in expert order, so the result does not
// depend on the thread count.
func (m *Model) moeDecode(st *State, ly *layer) {
	c := &m.Config
	st.moeLayer = ly
	if ly.gateExp[0].Type == tensor.Q8_0 && ly.upExp[0].Type == tensor.Q8_0 {
		kernels.QuantizeQ8(&st.xq, st.xb[:c.Dim]) // one quantized input for every expert
	}
	m.pool.For(c.ExpertsUsed, st.expertFn)
	proj := st.proj[:c.Dim]
	clear(proj)
	// Add in ascending expert order, as the batched path does.
	sel := st.sel[:c.ExpertsUsed]
	for prev := int32(-1); ; {
		j := -1
		for k, e := range sel {
			if e > prev && (j < 0 || e < sel[j]) {
				j = k
			}
		}
		if j < 0 {
			break
		}
		kernels.Axpy(st.selW[j], st.eout[j*c.Dim:(j+1)*c.Dim], proj)
		prev = sel[j]
	}
}

// expert runs chosen experts [lo, hi) of the token in st.xb for
// moeDecode, writing expert j's output to st.eout[j*Dim:].
func (st *State) expert(m *Model, lo, hi int) {
	c := &m.Config
	ly := st.moeLayer
	D, F := c.Dim, c.ExpertFFN
	xb := st.xb[:D]
	for j := lo; j < hi; j++ {
		e := st.sel[j]
		hg, hu, out := st.hg[j*F:(j+1)*F], st.hu[j*F:(j+1)*F], st.eout[j*D:(j+1)*D]
		gate, up, down := ly.gateExp[e], ly.upExp[e], ly.downExp[e]
		serial := st.serial[j]
		if gate.Type == tensor.Q8_0 && up.Type == tensor.Q8_0 {
			serial.MatVecQ8(hg, gate, &st.xq)
			serial.MatVecQ8(hu, up, &st.xq)
		} else {
			serial.MatVec(hg, gate, xb)
			serial.MatVec(hu, up, xb)
		}
		kernels.SwiGLU(hg, hg, hu)
		if down.Type == tensor.Q8_0 {
			kernels.QuantizeQ8(&st.xqExp[j], hg)
			serial.MatVecQ8(out, down, &st.xqExp[j])
		} else {
			serial.MatVec(out, down, hg)
		}
	}
}

// topK writes the indices and values of p's k largest values (ties: lower
// index first) into sel and w, largest first. k is small (2 to 8), so
// insertion beats sorting.
func topK(p []float32, sel []int32, w []float32) {
	k := len(sel)
	for j := range k {
		sel[j], w[j] = -1, float32(math.Inf(-1))
	}
	for e, v := range p {
		if v <= w[k-1] && sel[k-1] >= 0 {
			continue
		}
		j := k - 1
		for j > 0 && (v > w[j-1] || sel[j-1] < 0) {
			sel[j], w[j] = sel[j-1], w[j-1]
			j--
		}
		sel[j], w[j] = int32(e), v
	}
}

// routeTokens turns n tokens' router logits (route, n×E) into each token's
// top-K experts and renormalised weights (sel, selW, n×K) and, per expert,
// the (token·K + slot) entries routed to it in token order (byExp): the
// softmax router of qwen3moe and Mixtral, shared by the one-sequence and
// batched forward passes.
func routeTokens(route []float32, n, E, K int, sel []int32, selW []float32, byExp [][]int32) {
	for e := range byExp {
		byExp[e] = byExp[e][:0]
	}
	for i := range n {
		p := route[i*E : (i+1)*E]
		softmax(p)
		s, w := sel[i*K:(i+1)*K], selW[i*K:(i+1)*K]
		topK(p, s, w)
		sum := float32(0)
		for _, v := range w {
			sum += v
		}
		sum = max(sum, 6.103515625e-5) // as llama.cpp clamps: never divide by ~0
		for j, e := range s {
			w[j] /= sum
			byExp[e] = append(byExp[e], int32(i*K+j))
		}
	}
}
