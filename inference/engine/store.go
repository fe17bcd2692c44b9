package engine

import (
	"github.com/anima-rt/anima/inference/kvcache"
	"github.com/anima-rt/anima/inference/model"
)

// The prefix store keeps the keys and values of finished sequences beyond
// the few slots: a kvcache.Cache (fixed-size blocks in a prefix tree,
// least recently used evicted first under a byte budget). A sequence that
// ends — finished, cancelled or past its deadline — stores its full blocks
// there, sharing those the tree already holds (the lore every NPC
// repeats), so that an NPC's next turn finds its persona and conversation
// even after other NPCs have taken every slot. Slots stay the compute
// caches: a request copies its prefix from the store into its slot when
// that beats what the slots hold.
type prefixStore struct {
	c     *kvcache.Cache
	seq   *kvcache.Seq      // reused for each store and load; never live between calls
	k, v  []float32         // scratch: (tokens, KVDim) rows gathered from a slot
	match []kvcache.BlockID // scratch for Match
}

func newPrefixStore(m *model.Model, budget int64) (*prefixStore, error) {
	cfg := &m.Config
	c, err := kvcache.New(kvcache.Config{Layers: cfg.Layers, KVHeads: cfg.KVHeads, HeadDim: cfg.HeadDim, Budget: budget})
	if err != nil {
		return nil, err
	}
	return &prefixStore{c: c, seq: c.NewSeq()}, nil
}

// save stores the full blocks of the tokens st holds (toks), computing
// nothing: blocks already in the tree are shared, the rest copied from st.
// When the pool cannot give every block (a prompt outweighs the whole
// store, or blocks are in use), it stores the leading blocks that fit,
// the part later prompts are likeliest to share.
func (p *prefixStore) save(st *model.State, toks []int32) {
	bt := p.c.BlockTokens()
	toks = toks[:len(toks)/bt*bt]
	if len(toks) == 0 {
		return
	}
	c, s := p.c, p.seq
	n := c.Start(s, toks)
	defer c.Release(s) // publishes the completed blocks
	if fit := (len(s.Blocks()) + c.Available()) * bt; fit < len(toks) {
		toks = toks[:fit] // fit >= n: Start's blocks hold the n tokens it found
	}
	rest := len(toks) - n
	if rest == 0 || c.Grow(s, rest) != nil {
		return
	}
	cfg := c.Config()
	hd, kvd := cfg.HeadDim, cfg.KVHeads*cfg.HeadDim
	p.k, p.v = grow(p.k, rest*kvd), grow(p.v, rest*kvd)
	capa := st.Cache.Cap
	for l := range cfg.Layers {
		for g := range cfg.KVHeads {
			keys, vals := st.Cache.Keys(l, g), st.Cache.Values(l, g)
			for i := range rest {
				pos := n + i
				copy(p.k[i*kvd+g*hd:i*kvd+(g+1)*hd], keys[pos*hd:(pos+1)*hd])
				for d := range hd {
					p.v[i*kvd+g*hd+d] = vals[d*capa+pos]
				}
			}
		}
		if s.Store(l, n, p.k, p.v) != nil {
			return
		}
	}
	c.Advance(s, toks[n:])
}

// load copies into st, which holds prompt[:have], the keys and values of
// the longest prefix of prompt (less its last token) the store holds, if
// that is longer, and returns the length st now holds.
func (p *prefixStore) load(st *model.State, prompt []int32, have int) int {
	c, s := p.c, p.seq
	var n int
	if p.match, n = c.Match(prompt, p.match[:0]); n+c.BlockTokens()-1 <= have {
		return have // not even a partly matching block could help
	}
	n = c.Start(s, prompt) // refreshes the blocks' place in the LRU order
	defer c.Release(s)
	if n <= have || n > st.Cache.Cap {
		return have
	}
	cfg := c.Config()
	bt, hd, capa := c.BlockTokens(), cfg.HeadDim, st.Cache.Cap
	blocks := s.Blocks()
	for pos := have; pos < n; {
		b, t0 := blocks[pos/bt], pos%bt
		t1 := min(bt, n-pos/bt*bt)
		base := pos / bt * bt
		for l := range cfg.Layers {
			for g := range cfg.KVHeads {
				kt, vt := c.K(b, l, g), c.V(b, l, g)
				copy(st.Cache.Keys(l, g)[(base+t0)*hd:(base+t1)*hd], kt[t0*hd:t1*hd])
				vals := st.Cache.Values(l, g)
				for d := range hd {
					copy(vals[d*capa+base+t0:d*capa+base+t1], vt[d*bt+t0:d*bt+t1])
				}
			}
		}
		pos = base + t1
	}
	st.Cache.Len = n
	return n
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
