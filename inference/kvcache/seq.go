package kvcache

import (
	"fmt"
)

// Seq is one sequence's view of the cache: its block table and the tokens
// whose keys and values it has stored. A Seq is made once (NewSeq) and can
// be started, grown and released any number of times; its slices keep their
// capacity, so a scheduler that reuses Seqs does not allocate per request.
//
// A sequence's life:
//
//	n := c.Start(s, prompt)        // acquire the cached prefix: n tokens reused
//	for the rest of the prompt, chunk by chunk, then for each decoded token:
//		c.Grow(s, m)               // blocks for m more positions (ErrOutOfBlocks)
//		s.Store(l, pos, k, v)      // per layer, during the forward pass
//		c.Advance(s, chunk)        // the chunk's K/V are complete: full blocks are published
//	c.Release(s)                   // drop references; the Seq may be started again
type Seq struct {
	c         *Cache
	slot      int       // index in c.seqs while live; -1 otherwise
	blocks    []BlockID // block table: block i holds positions i*bt..(i+1)*bt-1
	tokens    []int32   // token ids of positions 0..Len()-1, whose K/V are stored
	published int       // leading blocks of the table that are in the tree
	unshared  bool      // a name collision stopped publishing: the rest stays private
}

// NewSeq returns an idle sequence of c.
func (c *Cache) NewSeq() *Seq { return &Seq{c: c, slot: -1} }

// Len is the number of positions whose keys and values are stored: the
// position of the next token.
func (s *Seq) Len() int { return len(s.tokens) }

// Cap is the number of positions the block table holds.
func (s *Seq) Cap() int { return len(s.blocks) * s.c.bt }

// Blocks is the block table. It is valid until the next call of a Cache
// method on s (Advance may swap a block for an identical cached one).
func (s *Seq) Blocks() []BlockID { return s.blocks }

// Tokens are the token ids of the stored positions; the caller must not
// modify them.
func (s *Seq) Tokens() []int32 { return s.tokens }

// Shared is the number of leading blocks the sequence shares through the
// tree: their keys and values must not be written.
func (s *Seq) Shared() int { return s.published }

// Span is the sequence's stored positions, for attention.
func (s *Seq) Span() Span {
	return Span{Blocks: s.blocks[:(len(s.tokens)+s.c.bt-1)/s.c.bt], N: len(s.tokens)}
}

// Match returns the longest prefix of tokens whose blocks are in the tree:
// the blocks, appended to dst, and the number of tokens they hold (a
// multiple of BlockTokens). It changes nothing: no references, no LRU order,
// no statistics. A scheduler can use it to estimate a request's cost.
func (c *Cache) Match(tokens []int32, dst []BlockID) ([]BlockID, int) {
	p, n := none, 0
	for n+c.bt <= len(tokens) {
		b, _, ok := c.lookup(p, tokens[n:n+c.bt])
		if !ok {
			break
		}
		dst = append(dst, b)
		p, n = b, n+c.bt
	}
	return dst, n
}

// Start begins sequence s on prompt: it acquires the longest cached prefix
// of the prompt in whole blocks, copies the positions of a cached block that
// match the prompt's next tokens (see startPartial), always leaving the
// prompt's last token to be computed (the forward pass needs one to produce
// the next token's logits), and returns the number of positions reused. s must not be live; the caller runs the
// forward pass over prompt[n:].
func (c *Cache) Start(s *Seq, prompt []int32) int {
	if s.c != c || s.slot >= 0 {
		panic("kvcache: Start of a sequence that is live or belongs to another cache")
	}
	s.blocks, s.tokens, s.published, s.unshared = s.blocks[:0], s.tokens[:0], 0, false
	s.slot = len(c.seqs)
	c.seqs = append(c.seqs, s)
	p := none
	for n := 0; n+c.bt < len(prompt); n += c.bt { // < : the last token stays to compute
		b, _, ok := c.lookup(p, prompt[n:n+c.bt])
		if !ok {
			break
		}
		c.acquire(b)
		s.blocks = append(s.blocks, b)
		p = b
	}
	s.published = len(s.blocks)
	reused := len(s.blocks) * c.bt
	s.tokens = append(s.tokens, prompt[:reused]...)
	reused += c.startPartial(s, p, prompt[reused:])
	c.stats.Lookups++
	c.stats.TokensLooked += int64(len(prompt))
	c.stats.TokensReused += int64(reused)
	if reused > 0 {
		c.stats.Hits++
	}
	return reused
}

// startPartial copies into a private block the longest run of rest (less
// its last token, which must be computed) that begins one of p's cached
// children: a prompt that diverges from a cached one inside a block, or
// ends there, still reuses the positions before — copy-on-write, the cached
// block is never written. It returns the positions copied; none if no
// block can be allocated.
func (c *Cache) startPartial(s *Seq, p BlockID, rest []int32) int {
	want := rest[:min(c.bt, max(len(rest)-1, 0))]
	src, k := none, 0
	for ch := *c.firstChild(p); ch != none; ch = c.sibling[ch] {
		toks := c.tokens[int(ch)*c.bt : (int(ch)+1)*c.bt]
		n := 0
		for n < len(want) && toks[n] == want[n] {
			n++
		}
		if n > k {
			src, k = ch, n
		}
	}
	if k == 0 {
		return 0
	}
	c.acquire(src) // so that alloc cannot evict it
	defer c.drop(src)
	if c.Available() == 0 {
		return 0
	}
	b := c.alloc()
	es, hd := c.elem, c.cfg.HeadDim
	for l := range c.cfg.Layers {
		for g := range c.cfg.KVHeads {
			copy(c.tileBytes(b, l, g, false), c.tileBytes(src, l, g, false)[:k*hd*es])
			vd, vs := c.tileBytes(b, l, g, true), c.tileBytes(src, l, g, true)
			for d := range hd {
				copy(vd[d*c.bt*es:(d*c.bt+k)*es], vs[d*c.bt*es:])
			}
		}
	}
	s.blocks = append(s.blocks, b)
	s.tokens = append(s.tokens, want[:k]...)
	c.stats.TokensCopied += int64(k)
	return k
}

// Grow makes room in s's block table for n more positions after Len(),
// taking free blocks or evicting idle ones. If the pool cannot supply them
// because every other block is referenced, it takes none and returns an
// error wrapping ErrOutOfBlocks.
func (c *Cache) Grow(s *Seq, n int) error {
	s.mustLive(c)
	if n < 0 {
		return fmt.Errorf("kvcache: grow by %d positions", n)
	}
	need := (len(s.tokens)+n+c.bt-1)/c.bt - len(s.blocks)
	if need <= 0 {
		return nil
	}
	if need > c.Available() {
		c.stats.Failures++
		return fmt.Errorf("kvcache: grow by %d positions needs %d blocks, %d can be freed: %w", n, need, c.Available(), ErrOutOfBlocks)
	}
	for range need {
		s.blocks = append(s.blocks, c.alloc())
	}
	return nil
}

// Store writes the keys and values of positions pos..pos+n-1 of layer l,
// given as k and v of (n, KVHeads·HeadDim) row-major, as the forward pass
// computes them. The positions must lie in [Len(), Cap()): shared blocks
// and stored positions are never overwritten. Store touches only s's own
// blocks, so the forward pass may call it for different sequences (or
// layers) concurrently.
func (s *Seq) Store(l, pos int, k, v []float32) error {
	c := s.c
	kvDim := c.cfg.KVHeads * c.cfg.HeadDim
	if len(k) != len(v) || len(k)%kvDim != 0 {
		return fmt.Errorf("kvcache: store: %d keys and %d values, want equal multiples of %d", len(k), len(v), kvDim)
	}
	n := len(k) / kvDim
	if l < 0 || l >= c.cfg.Layers || pos < len(s.tokens) || pos+n > s.Cap() {
		return fmt.Errorf("kvcache: store: layer %d positions %d..%d outside layers 0..%d, positions %d..%d",
			l, pos, pos+n-1, c.cfg.Layers-1, len(s.tokens), s.Cap()-1)
	}
	hd := c.cfg.HeadDim
	for i := range n {
		b, t := s.blocks[(pos+i)/c.bt], (pos+i)%c.bt
		for g := range c.cfg.KVHeads {
			o := i*kvDim + g*hd
			c.put(b, l, g, t, k[o:o+hd], v[o:o+hd])
		}
	}
	return nil
}

// Advance records that the keys and values of toks, at positions
// Len()..Len()+len(toks)-1, are stored in every layer, and publishes the
// blocks this completes. A completed block identical to one already in the
// tree (another sequence computed the same prefix meanwhile) is replaced
// by the cached one and freed, so the tree holds each prefix once.
func (c *Cache) Advance(s *Seq, toks []int32) error {
	s.mustLive(c)
	if len(s.tokens)+len(toks) > s.Cap() {
		return fmt.Errorf("kvcache: advance by %d tokens past the %d positions grown", len(toks), s.Cap())
	}
	s.tokens = append(s.tokens, toks...)
	c.publish(s)
	return nil
}

// publish inserts s's full, stored, unpublished blocks into the tree.
func (c *Cache) publish(s *Seq) {
	for !s.unshared && (s.published+1)*c.bt <= len(s.tokens) {
		i := s.published
		b := s.blocks[i]
		p := none
		if i > 0 {
			p = s.blocks[i-1]
		}
		toks := s.tokens[i*c.bt : (i+1)*c.bt]
		if old, h, ok := c.lookup(p, toks); ok {
			c.acquire(old)
			c.drop(b)
			s.blocks[i] = old
			c.stats.Deduplicated++
		} else if _, taken := c.byHash[h]; taken {
			// A different prefix has this name: keep this block and every
			// later one private rather than mislead a match.
			s.unshared = true
			return
		} else {
			c.cached[b] = true
			c.parent[b] = p
			c.hash[b] = h
			copy(c.tokens[int(b)*c.bt:], toks)
			c.byHash[h] = b
			if p != none {
				c.children[p]++
			}
			head := c.firstChild(p)
			c.sibling[b], *head = *head, b
			c.nheld++
			c.stats.Published++
		}
		s.published++
	}
}

// Release ends sequence s: it publishes the full blocks s completed (see
// Advance) — so a request cancelled mid-prefill keeps its reusable prefix —
// and drops s's references, deepest block first, so that the LRU queue
// evicts a prefix's extensions before the prefix. s may be started again.
func (c *Cache) Release(s *Seq) {
	s.mustLive(c)
	c.publish(s)
	for i := len(s.blocks) - 1; i >= 0; i-- {
		c.drop(s.blocks[i])
	}
	last := len(c.seqs) - 1
	c.seqs[s.slot] = c.seqs[last]
	c.seqs[s.slot].slot = s.slot
	c.seqs[last] = nil
	c.seqs = c.seqs[:last]
	s.slot = -1
	s.blocks, s.tokens, s.published = s.blocks[:0], s.tokens[:0], 0
}

func (s *Seq) mustLive(c *Cache) {
	if s.c != c || s.slot < 0 {
		panic("kvcache: use of a sequence that is not live in this cache")
	}
}

// check validates s against its cache: its table holds its positions, its
// published blocks are the tree's path for its tokens.
func (s *Seq) check() error {
	c := s.c
	if len(s.tokens) > s.Cap() {
		return fmt.Errorf("kvcache: check: sequence holds %d tokens in %d blocks", len(s.tokens), len(s.blocks))
	}
	if s.published*c.bt > len(s.tokens) {
		return fmt.Errorf("kvcache: check: sequence has %d published blocks for %d tokens", s.published, len(s.tokens))
	}
	p := none
	for i, b := range s.blocks {
		if i < s.published {
			if !c.cached[b] || c.parent[b] != p || !equal(c.tokens[int(b)*c.bt:(int(b)+1)*c.bt], s.tokens[i*c.bt:(i+1)*c.bt]) {
				return fmt.Errorf("kvcache: check: sequence's block %d (%d) is not its prefix's tree node", i, b)
			}
		} else if c.cached[b] {
			return fmt.Errorf("kvcache: check: sequence's unpublished block %d (%d) is in the tree", i, b)
		}
		p = b
	}
	return nil
}
