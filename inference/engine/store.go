package engine

import (
	"math"

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
//
// Blocks keep the origins of their positions (cascade.go), so that slots
// loading the same block know they hold the same bits: a block's data are
// written only by save, which copies them from a slot with its origins. A
// slot that saves a prefix the tree already holds keeps its own origins —
// it computed those positions itself, maybe to other bits — and an
// evicted block gets new origins with its new data.
type prefixStore struct {
	c      *kvcache.Cache
	seq    *kvcache.Seq      // reused for each store and load; never live between calls
	k, v   []float32         // scratch: (tokens, KVDim) rows gathered from a slot
	match  []kvcache.BlockID // scratch for Match
	origin []kvcache.BlockID // (Blocks, BlockTokens) the origin of each block's positions
	table  []kvcache.BlockID // scratch: save's block table before Advance
}

func newPrefixStore(m *model.Model, budget int64) (*prefixStore, error) {
	cfg := &m.Config
	c, err := kvcache.New(kvcache.Config{Layers: cfg.Layers, KVHeads: cfg.KVHeads, HeadDim: cfg.HeadDim, Budget: budget})
	if err != nil {
		return nil, err
	}
	return &prefixStore{c: c, seq: c.NewSeq(), origin: make([]kvcache.BlockID, c.Blocks()*c.BlockTokens())}, nil
}

// save stores the full blocks of the tokens st holds (toks), whose
// positions have origins origin (nil: unknown), computing nothing: blocks
// already in the tree are shared, the rest copied from st.
// When the pool cannot give every block (a prompt outweighs the whole
// store, or blocks are in use), it stores the leading blocks that fit,
// the part later prompts are likeliest to share.
func (p *prefixStore) save(st *model.State, origin []kvcache.BlockID, toks []int32) {
	bt := p.c.BlockTokens()
	toks = toks[:len(toks)/bt*bt]
	if len(toks) == 0 {
		return
	}
	c, s := p.c, p.seq
	n := c.Start(s, toks)
	defer c.Release(s) // publishes the completed blocks
	// Start acquired the tree's blocks up to full, then copied [full, n)
	// from a cached block into a private one.
	full := s.Shared() * bt
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
	// The new blocks' origins: st's for what was copied from st; for the
	// positions Start copied from a cached block, st's too if st holds the
	// same bits there, else unknown. Advance replaces a completed block
	// that the tree already holds (another sequence saved the same prefix
	// meanwhile) by the tree's: that one keeps its data and its origins.
	p.table = append(p.table[:0], s.Blocks()...)
	same := origin != nil && n > full && p.sameBits(st, p.table[full/bt], full, n)
	if c.Advance(s, toks[n:]) != nil {
		return
	}
	for pos := full; pos < len(toks); pos++ {
		b := p.table[pos/bt]
		if s.Blocks()[pos/bt] != b {
			continue
		}
		o := noOrigin
		if origin != nil && (pos >= n || same) {
			o = origin[pos]
		}
		p.origin[int(b)*bt+pos%bt] = o
	}
}

// sameBits reports whether st's keys and values at positions [lo, hi),
// all in block b of the sequence's table, are bit for bit b's.
func (p *prefixStore) sameBits(st *model.State, b kvcache.BlockID, lo, hi int) bool {
	if lo == hi {
		return true
	}
	c := p.c
	cfg := c.Config()
	bt, hd, capa := c.BlockTokens(), cfg.HeadDim, st.Cache.Cap
	base := lo / bt * bt
	for l := range cfg.Layers {
		for g := range cfg.KVHeads {
			kt, vt := c.K(b, l, g), c.V(b, l, g)
			keys, vals := st.Cache.Keys(l, g), st.Cache.Values(l, g)
			for pos := lo; pos < hi; pos++ {
				t := pos - base
				for d := range hd {
					if math.Float32bits(kt[t*hd+d]) != math.Float32bits(keys[pos*hd+d]) ||
						math.Float32bits(vt[d*bt+t]) != math.Float32bits(vals[d*capa+pos]) {
						return false
					}
				}
			}
		}
	}
	return true
}

// load copies into st, which holds prompt[:have], the keys and values of
// the longest prefix of prompt (less its last token) the store holds, if
// that is longer, and returns the length st now holds. It sets the copied
// positions' origins in origin (nil: not wanted).
func (p *prefixStore) load(st *model.State, origin []kvcache.BlockID, prompt []int32, have int) int {
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
	if origin != nil {
		// Positions after the tree's blocks were copied by Start from a
		// cached block it does not name: unknown.
		full := s.Shared() * bt
		for pos := have; pos < n; pos++ {
			o := noOrigin
			if pos < full {
				o = p.origin[int(blocks[pos/bt])*bt+pos%bt]
			}
			origin[pos] = o
		}
	}
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
