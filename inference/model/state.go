package model

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/tensor"
)

// f32bytes views float32s as their bytes (little-endian on every platform
// Go's kernels run on), for handing cache rows to the kernels as an F32
// tensor without copying.
func f32bytes(x []float32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}

// ErrContextFull reports a forward pass that would run past the State's
// cache capacity.
var ErrContextFull = errors.New("model: context full")

// Cache holds one sequence's attention keys and values, laid out for the
// two products attention makes per head:
//   - keys by KV head, then position: (KVHeads, Cap, HeadDim), so the
//     scores q·k over all cached positions are one matrix-vector product
//     over T rows of HeadDim;
//   - values transposed, by KV head and dimension: (KVHeads, HeadDim, Cap),
//     so each output dimension Σ_t p[t]·v[t][d] is one dot product over T
//     positions.
//
// Both replace one short operation per cached position, which is what makes
// attention over a thousand cached tokens cheap. Attention reads the cache
// through plain slices (Keys, Values), so other storage (a paged prefix
// cache) only has to hand out the same.
type Cache struct {
	K, V [][]float32 // per layer, laid out as above; owned by Cache
	Len  int         // positions filled
	Cap  int         // positions the buffers hold

	headDim int
}

// Keys returns KV head g's keys in layer l: Cap rows of HeadDim.
func (c *Cache) Keys(l, g int) []float32 {
	n := c.Cap * c.headDim
	return c.K[l][g*n : (g+1)*n]
}

// Values returns KV head g's values in layer l: HeadDim rows of Cap
// positions.
func (c *Cache) Values(l, g int) []float32 {
	n := c.Cap * c.headDim
	return c.V[l][g*n : (g+1)*n]
}

// store writes n tokens' keys and values (n, KVDim) for layer l at
// positions pos..pos+n-1.
func (c *Cache) store(l, pos int, k, v []float32, kvDim int) {
	hd := c.headDim
	kc, vc := c.K[l], c.V[l]
	n := len(k) / kvDim
	for i := range n {
		for g := 0; g < kvDim/hd; g++ {
			copy(kc[(g*c.Cap+pos+i)*hd:(g*c.Cap+pos+i+1)*hd], k[i*kvDim+g*hd:i*kvDim+(g+1)*hd])
		}
	}
	// V row by row (j = g*HeadDim + d), so that a prompt chunk's writes
	// run along each row rather than across all kvDim rows per token.
	v = v[:n*kvDim]
	for j := range kvDim {
		row := vc[j*c.Cap+pos : j*c.Cap+pos+n]
		for i := range row {
			row[i] = v[i*kvDim+j]
		}
	}
}

// newCache allocates a cache for ctx positions of cfg's model.
func newCache(cfg *Config, ctx int) *Cache {
	c := &Cache{K: make([][]float32, cfg.Layers), V: make([][]float32, cfg.Layers), Cap: ctx, headDim: cfg.HeadDim}
	for l := range c.K {
		c.K[l] = make([]float32, ctx*cfg.KVDim())
		c.V[l] = make([]float32, ctx*cfg.KVDim())
	}
	return c
}

// Bytes is the memory the cache's buffers take.
func (c *Cache) Bytes() int64 {
	n := int64(0)
	for l := range c.K {
		n += 4 * int64(len(c.K[l])+len(c.V[l]))
	}
	return n
}

// State is one sequence being decoded: its KV cache and the scratch buffers
// a forward pass needs, allocated once so that decoding does not allocate
// per token. A State belongs to one goroutine at a time.
type State struct {
	Cache *Cache

	batch int // most tokens one forward chunk processes (prefill is chunked)

	// Activations of the current chunk, n tokens row by row.
	x      []float32 // (batch, Dim) residual stream
	xb     []float32 // (batch, Dim) normed input of a sublayer
	q      []float32 // (batch, QDim) queries, then the attention output over them
	k, v   []float32 // (batch, KVDim)
	proj   []float32 // (batch, Dim) a sublayer's output, before the residual add
	scores []float32 // (Heads, Cap) attention weights, one row per head
	cos    []float32 // (batch, RopeDims/2) rotation of each chunk position
	sin    []float32 // (batch, RopeDims/2)

	// Feed-forward, ffnRows rows at a time (ExpertsUsed for a decode step).
	hg, hu []float32     // (ffnRows, FFN or ExpertFFN) gate and up projections
	route  []float32     // (batch, Experts) router logits, then probabilities
	sel    []int32       // (batch, ExpertsUsed) chosen experts per token
	selW   []float32     // (batch, ExpertsUsed) their renormalised weights
	byExp  [][]int32     // per expert: the (token*ExpertsUsed + slot) routed to it
	ein    []float32     // (ffnRows, Dim) rows routed to one expert, gathered
	eout   []float32     // (ffnRows, Dim) that expert's output rows
	xq     kernels.Q8Vec // an input quantized once for several Q8_0 weights; grows on first use

	logits []float32 // (Vocab) of the last token

	// The attention job handed to the pool: a closure made once per State,
	// reading its arguments from these fields, so a decode step does not
	// allocate one.
	attendFn            func(lo, hi int)
	attL, attPos0, attN int

	// The decode step's expert job, likewise (see moeDecode).
	expertFn func(lo, hi int)
	moeLayer *layer
	xqExp    []kernels.Q8Vec // (ExpertsUsed) each expert's quantized down-projection input
	// serial holds one single-thread pool per chosen-expert slot: its
	// kernels run inline on whichever goroutine runs that slot's job, and
	// no two jobs share one (a Pool runs one product at a time).
	serial []*kernels.Pool

	// Per query head: a single-thread pool and a tensor view of its KV
	// head's keys, so the head's score product runs inline on whichever
	// thread runs the head, without allocating.
	headPool []*kernels.Pool
	keyView  []tensor.Tensor
	// Per query head: attendHeadBlocks' scratch, grown on the first
	// prompt chunk (a State that only decodes never needs it).
	blocks []attScratch
}

// attScratch is one query head's scratch for a block of prompt tokens.
type attScratch struct {
	s, q []float32 // (attBlock, Cap) scores; (attBlock, HeadDim) queries
}

// NewState returns a State able to hold ctx positions, processing prompts
// in chunks of at most batch tokens (batch <= 0: 512: larger chunks read
// each weight once for more tokens).
func (m *Model) NewState(ctx, batch int) (*State, error) {
	c := &m.Config
	if ctx < 1 || ctx > maxCtx {
		return nil, fmt.Errorf("model: context of %d positions out of range 1..%d", ctx, maxCtx)
	}
	if batch <= 0 {
		batch = 512
	}
	batch = min(batch, ctx)
	// Rows of feed-forward scratch: a chunk's rows go through the FFN
	// ffnRows at a time, and a decode step keeps each chosen expert's row
	// apart.
	ffnScratch := max(min(batch, ffnRows), c.ExpertsUsed)
	ffn := max(c.FFN, c.ExpertFFN)
	if c.MoE() {
		ffn = c.ExpertFFN
	}
	st := &State{
		Cache:  newCache(c, ctx),
		batch:  batch,
		x:      make([]float32, batch*c.Dim),
		xb:     make([]float32, batch*c.Dim),
		q:      make([]float32, batch*c.QDim()),
		k:      make([]float32, batch*c.KVDim()),
		v:      make([]float32, batch*c.KVDim()),
		proj:   make([]float32, batch*c.Dim),
		scores: make([]float32, c.Heads*ctx),
		cos:    make([]float32, batch*c.RopeDims/2),
		sin:    make([]float32, batch*c.RopeDims/2),
		hg:     make([]float32, ffnScratch*ffn),
		hu:     make([]float32, ffnScratch*ffn),
		logits: make([]float32, c.Vocab),
	}
	st.attendFn = func(lo, hi int) { st.attend(m, lo, hi) }
	st.headPool = make([]*kernels.Pool, c.Heads)
	st.keyView = make([]tensor.Tensor, c.Heads)
	st.blocks = make([]attScratch, c.Heads)
	for h := range st.headPool {
		st.headPool[h] = kernels.NewPool(1) // starts no goroutine: nothing to close
		g := h / (c.Heads / c.KVHeads)
		st.keyView[h] = tensor.Tensor{Name: "cache keys", Type: tensor.F32, Shape: []int{c.HeadDim, ctx}, Data: f32bytes(st.Cache.Keys(0, g))}
	}
	st.expertFn = func(lo, hi int) { st.expert(m, lo, hi) }
	if c.MoE() {
		st.route = make([]float32, batch*c.Experts)
		st.sel = make([]int32, batch*c.ExpertsUsed)
		st.selW = make([]float32, batch*c.ExpertsUsed)
		st.byExp = make([][]int32, c.Experts)
		for e := range st.byExp {
			st.byExp[e] = make([]int32, 0, batch)
		}
		st.ein = make([]float32, ffnScratch*c.Dim)
		st.eout = make([]float32, ffnScratch*c.Dim)
		st.xqExp = make([]kernels.Q8Vec, c.ExpertsUsed)
		st.serial = make([]*kernels.Pool, c.ExpertsUsed)
		for j := range st.serial {
			st.serial[j] = kernels.NewPool(1) // starts no goroutine: nothing to close
		}
	}
	return st, nil
}

// Pos is the number of tokens the State has seen: the next token's position.
func (st *State) Pos() int { return st.Cache.Len }

// Reset empties the cache so the State can start a new sequence.
func (st *State) Reset() { st.Cache.Len = 0 }

// Truncate drops cached positions from n on, so decoding resumes at n.
func (st *State) Truncate(n int) error {
	if n < 0 || n > st.Cache.Len {
		return fmt.Errorf("model: truncate to %d outside 0..%d", n, st.Cache.Len)
	}
	st.Cache.Len = n
	return nil
}

// CopyPrefix replaces st's cache with the first n positions of src's, a
// State of the same model: a sequence that starts with the tokens another
// has already computed copies their keys and values (a few MiB at most)
// instead of recomputing them.
func (st *State) CopyPrefix(src *State, n int) error {
	d, s := st.Cache, src.Cache
	if n < 0 || n > s.Len || n > d.Cap {
		return fmt.Errorf("model: copy prefix of %d positions: source holds %d, destination %d", n, s.Len, d.Cap)
	}
	if len(d.K) != len(s.K) || d.headDim != s.headDim || len(d.K[0])/d.Cap != len(s.K[0])/s.Cap {
		return errors.New("model: copy prefix: the States belong to different models")
	}
	hd := d.headDim
	for l := range d.K {
		for g := range len(d.K[l]) / (d.Cap * hd) {
			copy(d.Keys(l, g)[:n*hd], s.Keys(l, g)[:n*hd])
		}
		for j := range len(d.V[l]) / d.Cap { // j = g*HeadDim + dim, a row of V
			copy(d.V[l][j*d.Cap:j*d.Cap+n], s.V[l][j*s.Cap:j*s.Cap+n])
		}
	}
	d.Len = n
	return nil
}
