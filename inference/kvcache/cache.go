// Package kvcache is the decoder's prefix KV cache: attention keys and values
// stored in fixed-size token blocks, shared across all sequences of one model
// through a prefix tree, reference-counted, and evicted least-recently-used
// under a byte budget. It follows the designs of vLLM's automatic prefix
// caching (a block is named by a hash chained over its tokens and its
// parent's hash; freed blocks wait in an LRU queue) and SGLang's
// RadixAttention (a tree of token prefixes whose leaves are evicted first).
//
// # Blocks
//
// A block holds the keys and values of BlockTokens consecutive positions for
// every layer and KV head. Its storage is one contiguous run of the pool, laid
// out as
//
//	[layer][kvHead] { K: (BlockTokens, HeadDim) position-major,
//	                  V: (HeadDim, BlockTokens) dimension-major }
//
// so that one KV head's keys and values in a block are two adjacent tiles,
// and gathering a span of blocks for attention is one copy per block for K
// and one per head dimension for V. Attention then computes the scores of a
// group of queries as the matrix product Q·Kᵀ with K's rows the positions,
// and the output as P·V with V's rows the head dimensions — both in the
// {cols, rows} row-major form kernels.Pool.MatMul multiplies. Values are
// float32 or, at half the memory, float16 (Config.Type).
//
// The pool is allocated once, sized by Config.Budget; blocks move between a
// free list, sequences' block tables and the cache's LRU queue without Go
// allocation.
//
// # The prefix tree
//
// A full block whose keys and values are stored in every layer can be
// published: it becomes a node of the tree, named by hash(parent's name, its
// BlockTokens token ids), and later sequences whose prompts start with the
// same tokens acquire it instead of recomputing it. Only full blocks are
// shared; a sequence's partly filled last block is its own.
//
// A block is in exactly one of four states:
//
//	free      no references, not in the tree: on the free list
//	private   referenced by one sequence, not in the tree (being filled)
//	held      in the tree, referenced by one or more sequences
//	idle      in the tree, unreferenced: in the LRU queue, evictable
//
// A held block is never evicted. Idle blocks are evicted oldest first, and
// the queue's order makes that leaf-first: a sequence holds every ancestor of
// every block it holds, so a block can only become unreferenced with or after
// its descendants, and Release queues a sequence's blocks deepest first. The
// head of the queue therefore never has a child in the tree, and a prefix is
// never evicted while an extension of it stays. When no block is free or
// idle, allocation fails with ErrOutOfBlocks, which a scheduler turns into
// backpressure.
//
// # Cancellation
//
// Release publishes every full block whose keys and values the sequence
// stored (Advance), then drops its references. A sequence cancelled in the
// middle of a chunked prefill therefore leaves the prefix it completed in the
// cache, and a retry (or the next NPC with the same lore) resumes from there;
// only the chunk whose Advance never came is lost.
//
// # Attention
//
// Attender.Attend computes attention for one KV head over a Span of blocks
// for a group of queries — the query heads that share the KV head (GQA), of
// one sequence or of many — and returns each row's log-sum-exp, so that
// attention over disjoint parts of a sequence can be combined by MergeLSE.
// AttendCausal is the prefill form, with a causal limit per row. Plan groups
// a decode step's sequences by the prefix blocks they share, and
// Attender.Cascade attends each shared run once for all its members' queries
// (as matrix products) and each sequence's own blocks separately, then
// merges: Hydragen's and FlashInfer's cascade attention.
//
// A forward pass adopts the cache per layer as: compute q, k, v for the
// chunk; Seq.Store(l, pos, k, v); then, for each KV head g, gather the rows
// of the query heads g·group..(g+1)·group-1 of every token of the chunk
// into (n·group, HeadDim) and call AttendCausal with perPos = group (or, in
// a batched decode step, Cascade with perSeq = group); then scatter the
// outputs back into (n, QDim). After the last layer, Cache.Advance.
//
// # Concurrency
//
// A Cache is not safe for concurrent use. It is designed to be owned by one
// scheduler goroutine per model, which matches, grows, advances and releases
// sequences between forward passes; worker goroutines of a forward pass may
// read and write the blocks of the step's sequences concurrently (each
// writes only its own positions), but must not call the Cache's methods.
package kvcache

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/anima-rt/anima/inference/tensor"
)

// ErrOutOfBlocks reports that every block of the pool is referenced by a
// running sequence: nothing is free and nothing can be evicted.
var ErrOutOfBlocks = errors.New("kvcache: out of blocks")

// BlockID names a block of the pool: 0..Blocks()-1.
type BlockID int32

// none is the BlockID of no block: a root block's parent, a list's end.
const none BlockID = -1

// Config is the shape of one model's cache.
type Config struct {
	Layers      int         // transformer layers
	KVHeads     int         // key/value heads per layer
	HeadDim     int         // values per head
	BlockTokens int         // positions per block; 0 means 16
	Budget      int64       // bytes of key/value storage, rounded down to whole blocks
	Type        tensor.Type // tensor.F32 (default) or tensor.F16
}

// Cache is a pool of KV blocks and the prefix tree over them. See the
// package documentation for the states a block moves through.
type Cache struct {
	cfg        Config
	bt         int   // positions per block
	elem       int   // bytes per stored value: 4 or 2
	tile       int   // values of one (layer, head) K or V tile: bt*HeadDim
	blockBytes int64 // bytes of one block: Layers*KVHeads*2*tile*elem

	data []byte // (nblocks, blockBytes), owned by Cache; never reallocated

	// Per-block state, indexed by BlockID.
	ref      []int32   // sequences holding the block
	cached   []bool    // in the tree
	parent   []BlockID // the tree parent of a cached block; none for a root
	children []int32   // cached blocks whose parent this is
	child    []BlockID // first of those, for partial matches; roots start at Cache.roots
	sibling  []BlockID // the next cached block with the same parent
	hash     []uint64  // name of a cached block in byHash
	tokens   []int32   // (nblocks, bt): the token ids of a cached block
	prev     []BlockID // LRU links of an idle block (indices nblocks = the list's sentinel)
	next     []BlockID // LRU links of an idle block; free-list link of a free block

	byHash map[uint64]BlockID // cached blocks by name
	roots  BlockID            // first cached block without a parent

	free  BlockID // head of the free list
	nfree int
	nidle int // blocks in the LRU queue
	nheld int // cached blocks with references

	seqs []*Seq // live sequences, each knowing its index here (Seq.slot)

	stats Stats
}

// Stats counts what the cache did since it was made, and what it holds now.
type Stats struct {
	Lookups      int64 // Start calls
	Hits         int64 // Start calls that reused at least one block; the rest are misses
	TokensLooked int64 // prompt tokens passed to Start
	TokensReused int64 // of those, tokens whose keys and values came from the cache
	TokensCopied int64 // of those, tokens copied from a partly matching block
	Published    int64 // blocks inserted into the tree
	Deduplicated int64 // full blocks found already in the tree when published
	Evictions    int64 // idle blocks evicted to make room
	Failures     int64 // Grow calls that failed with ErrOutOfBlocks

	Blocks     int   // blocks in the pool
	Free       int   // blocks on the free list
	Private    int   // blocks being filled by one sequence
	Held       int   // blocks in the tree and referenced
	Idle       int   // blocks in the tree, unreferenced, evictable
	Bytes      int64 // bytes of blocks not free: (Private+Held+Idle)*BlockBytes
	BlockBytes int64
	Budget     int64
}

// New makes a cache for cfg, allocating its whole pool now: the budget is
// memory taken up front, as a GPU server reserves its KV pool, so that
// serving never allocates and never finds the memory gone.
func New(cfg Config) (*Cache, error) {
	if cfg.BlockTokens == 0 {
		cfg.BlockTokens = 16
	}
	if cfg.Type != tensor.F32 && cfg.Type != tensor.F16 {
		return nil, fmt.Errorf("kvcache: new: storage type %s, want F32 or F16", cfg.Type)
	}
	if cfg.Layers < 1 || cfg.KVHeads < 1 || cfg.HeadDim < 1 || cfg.BlockTokens < 1 ||
		cfg.Layers > 1<<12 || cfg.KVHeads > 1<<12 || cfg.HeadDim > 1<<12 || cfg.BlockTokens > 1<<12 {
		return nil, fmt.Errorf("kvcache: new: shape %d layers × %d KV heads × %d head dims × %d block tokens out of range 1..4096",
			cfg.Layers, cfg.KVHeads, cfg.HeadDim, cfg.BlockTokens)
	}
	c := &Cache{cfg: cfg, bt: cfg.BlockTokens, elem: 4}
	if cfg.Type == tensor.F16 {
		c.elem = 2
	}
	c.tile = c.bt * cfg.HeadDim
	c.blockBytes = int64(cfg.Layers) * int64(cfg.KVHeads) * 2 * int64(c.tile) * int64(c.elem)
	n := cfg.Budget / c.blockBytes
	if n < 1 {
		return nil, fmt.Errorf("kvcache: new: budget of %d bytes holds no block of %d bytes", cfg.Budget, c.blockBytes)
	}
	if n > 1<<30 {
		return nil, fmt.Errorf("kvcache: new: budget of %d bytes is %d blocks, more than %d", cfg.Budget, n, 1<<30)
	}
	nb := int(n)
	// Allocated as float32s so that F32 views of it are aligned.
	words := make([]float32, n*c.blockBytes/4)
	c.data = unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n*c.blockBytes)
	c.ref = make([]int32, nb)
	c.cached = make([]bool, nb)
	c.parent = make([]BlockID, nb)
	c.children = make([]int32, nb)
	c.child = make([]BlockID, nb)
	c.sibling = make([]BlockID, nb)
	c.roots = none
	c.hash = make([]uint64, nb)
	c.tokens = make([]int32, nb*c.bt)
	c.prev = make([]BlockID, nb+1)
	c.next = make([]BlockID, nb+1)
	c.byHash = make(map[uint64]BlockID, nb)
	s := c.sentinel()
	c.prev[s], c.next[s] = s, s
	// The free list in ascending order, so a fresh cache hands out 0, 1, 2…
	c.free = none
	for i := nb - 1; i >= 0; i-- {
		c.parent[i], c.child[i], c.sibling[i] = none, none, none
		c.next[i] = c.free
		c.free = BlockID(i)
	}
	c.nfree = nb
	return c, nil
}

// Config returns the cache's configuration, BlockTokens filled in.
func (c *Cache) Config() Config { return c.cfg }

// BlockTokens is the number of positions per block.
func (c *Cache) BlockTokens() int { return c.bt }

// Blocks is the number of blocks in the pool.
func (c *Cache) Blocks() int { return len(c.ref) }

// BlockBytes is the storage one block takes.
func (c *Cache) BlockBytes() int64 { return c.blockBytes }

// Stats returns the counters and the current occupancy.
func (c *Cache) Stats() Stats {
	s := c.stats
	s.Blocks = len(c.ref)
	s.Free = c.nfree
	s.Idle = c.nidle
	s.Held = c.nheld
	s.Private = s.Blocks - s.Free - s.Idle - s.Held
	s.Bytes = int64(s.Blocks-s.Free) * c.blockBytes
	s.BlockBytes = c.blockBytes
	s.Budget = c.cfg.Budget
	return s
}

// HitRate is the fraction of looked-up prompt tokens served from the cache.
func (s Stats) HitRate() float64 {
	if s.TokensLooked == 0 {
		return 0
	}
	return float64(s.TokensReused) / float64(s.TokensLooked)
}

func (c *Cache) sentinel() BlockID { return BlockID(len(c.ref)) }

// tileBytes returns the storage of block b's K (or V) tile for layer l and
// KV head g: K is (BlockTokens, HeadDim), V is (HeadDim, BlockTokens).
func (c *Cache) tileBytes(b BlockID, l, g int, v bool) []byte {
	off := int64(b)*c.blockBytes + int64((l*c.cfg.KVHeads+g)*2*c.tile*c.elem)
	if v {
		off += int64(c.tile * c.elem)
	}
	return c.data[off : off+int64(c.tile*c.elem)]
}

// K returns block b's keys for layer l and KV head g as float32, row t
// (BlockTokens rows of HeadDim) holding position t of the block. It panics
// if the cache stores float16.
func (c *Cache) K(b BlockID, l, g int) []float32 { return c.f32(c.tileBytes(b, l, g, false)) }

// V returns block b's values for layer l and KV head g as float32, row d
// (HeadDim rows of BlockTokens) holding dimension d of every position. It
// panics if the cache stores float16.
func (c *Cache) V(b BlockID, l, g int) []float32 { return c.f32(c.tileBytes(b, l, g, true)) }

func (c *Cache) f32(b []byte) []float32 {
	if c.elem != 4 {
		panic("kvcache: float32 view of a float16 cache")
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

func (c *Cache) f16(b []byte) []uint16 {
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
}

// at returns the key (or value) of position t, dimension d of block b's
// (l, g) tile, whatever the storage type. It is the slow path that
// reference code and tests read through.
func (c *Cache) at(b BlockID, l, g, t, d int, v bool) float32 {
	i := t*c.cfg.HeadDim + d
	if v {
		i = d*c.bt + t
	}
	tb := c.tileBytes(b, l, g, v)
	if c.elem == 2 {
		return tensor.F16ToF32(c.f16(tb)[i])
	}
	return c.f32(tb)[i]
}

// put stores key k and value v (HeadDim each) of KV head g, layer l, at
// position t of block b.
func (c *Cache) put(b BlockID, l, g, t int, k, v []float32) {
	hd := c.cfg.HeadDim
	kb, vb := c.tileBytes(b, l, g, false), c.tileBytes(b, l, g, true)
	if c.elem == 2 {
		kt, vt := c.f16(kb)[t*hd:(t+1)*hd], c.f16(vb)
		for d, x := range k[:hd] {
			kt[d] = tensor.F32ToF16(x)
		}
		for d, x := range v[:hd] {
			vt[d*c.bt+t] = tensor.F32ToF16(x)
		}
		return
	}
	copy(c.f32(kb)[t*hd:(t+1)*hd], k[:hd])
	vt := c.f32(vb)
	for d, x := range v[:hd] {
		vt[d*c.bt+t] = x
	}
}

// chain names a block by its parent's name and its tokens (vLLM's chained
// block hash): equal names mean, up to a collision that publish and match
// rule out by comparing parent and tokens, equal prefixes.
func chain(parent uint64, toks []int32) uint64 {
	h := parent ^ 0x9e3779b97f4a7c15
	for _, t := range toks {
		h ^= uint64(uint32(t))
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 31
	}
	h ^= h >> 29
	h *= 0x94d049bb133111eb
	h ^= h >> 32
	return h
}

// rootHash is the name a root block's parent contributes.
const rootHash = 0

func (c *Cache) parentHash(p BlockID) uint64 {
	if p == none {
		return rootHash
	}
	return c.hash[p]
}

// lookup returns the cached child of parent p holding toks, if any.
func (c *Cache) lookup(p BlockID, toks []int32) (BlockID, uint64, bool) {
	h := chain(c.parentHash(p), toks)
	b, ok := c.byHash[h]
	if !ok || c.parent[b] != p || !equal(c.tokens[int(b)*c.bt:(int(b)+1)*c.bt], toks) {
		return none, h, false
	}
	return b, h, true
}

func equal(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// acquire adds a reference to cached block b, taking it off the LRU queue if
// it was idle.
func (c *Cache) acquire(b BlockID) {
	if c.ref[b] == 0 {
		c.unlink(b)
		c.nidle--
		c.nheld++
	}
	c.ref[b]++
}

// drop removes a reference to b; an unreferenced cached block joins the LRU
// queue's tail (most recently used), a private one returns to the free list.
func (c *Cache) drop(b BlockID) {
	c.ref[b]--
	if c.ref[b] > 0 {
		return
	}
	if c.cached[b] {
		c.nheld--
		c.nidle++
		s := c.sentinel()
		last := c.prev[s]
		c.prev[b], c.next[b] = last, s
		c.next[last], c.prev[s] = b, b
		return
	}
	c.next[b] = c.free
	c.free = b
	c.nfree++
}

func (c *Cache) unlink(b BlockID) {
	p, n := c.prev[b], c.next[b]
	c.next[p], c.prev[n] = n, p
	c.prev[b], c.next[b] = none, none
}

// alloc takes a block for a sequence's private use: a free one, or else the
// least recently used idle one, evicted from the tree. The caller has
// checked that one exists.
func (c *Cache) alloc() BlockID {
	var b BlockID
	if c.free != none {
		b = c.free
		c.free = c.next[b]
		c.nfree--
	} else {
		b = c.next[c.sentinel()]
		c.unlink(b)
		c.nidle--
		delete(c.byHash, c.hash[b])
		p := c.parent[b]
		if p != none {
			c.children[p]--
		}
		for at := c.firstChild(p); ; at = &c.sibling[*at] {
			if *at == b {
				*at = c.sibling[b]
				break
			}
		}
		c.sibling[b] = none
		c.cached[b] = false
		c.parent[b] = none
		c.stats.Evictions++
	}
	c.next[b] = none
	c.ref[b] = 1
	return b
}

// firstChild is the head of p's list of cached children (of the roots if p
// is none).
func (c *Cache) firstChild(p BlockID) *BlockID {
	if p == none {
		return &c.roots
	}
	return &c.child[p]
}

// Available is the number of blocks Grow can take now: the free ones and
// the idle cached ones it would evict. A scheduler admits a prompt needing
// more only after running sequences release theirs.
func (c *Cache) Available() int { return c.nfree + c.nidle }

// Check validates the whole structure: every block in exactly one state,
// reference counts equal to the live sequences' holdings, the tree's names
// and links, the LRU queue's leaf-first order, and the occupancy within the
// budget. It is for tests and debugging; it costs time linear in the pool.
func (c *Cache) Check() error {
	nb := len(c.ref)
	held := make([]int32, nb)
	for i, s := range c.seqs {
		if s.slot != i || s.c != c {
			return fmt.Errorf("kvcache: check: live sequence %d has slot %d", i, s.slot)
		}
		if err := s.check(); err != nil {
			return err
		}
		for _, b := range s.blocks {
			held[b]++
		}
	}
	onFree := make([]bool, nb)
	nfree := 0
	for b := c.free; b != none; b = c.next[b] {
		if b < 0 || int(b) >= nb || onFree[b] {
			return fmt.Errorf("kvcache: check: free list broken at block %d", b)
		}
		onFree[b] = true
		nfree++
	}
	if nfree != c.nfree {
		return fmt.Errorf("kvcache: check: free list has %d blocks; counted %d", nfree, c.nfree)
	}
	pos := make([]int, nb) // 1-based place in the LRU queue; 0 if not queued
	nidle, s := 0, c.sentinel()
	for b, prev := c.next[s], s; b != s; prev, b = b, c.next[b] {
		if b < 0 || int(b) >= nb || pos[b] != 0 || c.prev[b] != prev {
			return fmt.Errorf("kvcache: check: LRU queue broken at block %d", b)
		}
		nidle++
		pos[b] = nidle
	}
	if nidle != c.nidle {
		return fmt.Errorf("kvcache: check: LRU queue has %d blocks; counted %d", nidle, c.nidle)
	}
	children := make([]int32, nb)
	nheld, ncached := 0, 0
	for b := range nb {
		id := BlockID(b)
		if c.ref[b] != held[b] {
			return fmt.Errorf("kvcache: check: block %d has %d references; sequences hold %d", b, c.ref[b], held[b])
		}
		switch {
		case onFree[b]:
			if c.ref[b] != 0 || c.cached[b] || pos[b] != 0 {
				return fmt.Errorf("kvcache: check: free block %d is referenced, cached or queued", b)
			}
		case !c.cached[b]:
			if c.ref[b] != 1 || pos[b] != 0 {
				return fmt.Errorf("kvcache: check: private block %d has %d references (queued %v); want 1", b, c.ref[b], pos[b] != 0)
			}
		case c.ref[b] > 0:
			nheld++
			if pos[b] != 0 {
				return fmt.Errorf("kvcache: check: held block %d is in the LRU queue", b)
			}
		default:
			if pos[b] == 0 {
				return fmt.Errorf("kvcache: check: idle block %d is not in the LRU queue", b)
			}
		}
		if !c.cached[b] {
			continue
		}
		ncached++
		p := c.parent[b]
		if p != none {
			if !c.cached[p] {
				return fmt.Errorf("kvcache: check: block %d's parent %d is not cached", b, p)
			}
			children[p]++
			if c.ref[b] > 0 && c.ref[p] == 0 {
				return fmt.Errorf("kvcache: check: held block %d has an unreferenced parent %d", b, p)
			}
			if pos[b] != 0 && pos[p] != 0 && pos[p] < pos[b] {
				return fmt.Errorf("kvcache: check: idle block %d would be evicted after its child %d", p, b)
			}
		}
		if h := chain(c.parentHash(p), c.tokens[b*c.bt:(b+1)*c.bt]); h != c.hash[b] || c.byHash[h] != id {
			return fmt.Errorf("kvcache: check: block %d is not in the tree under its name", b)
		}
	}
	listed := 0
	for p := BlockID(-1); int(p) < nb; p++ {
		if p != none && !c.cached[p] {
			if c.child[p] != none {
				return fmt.Errorf("kvcache: check: uncached block %d has a child list", p)
			}
			continue
		}
		n := int32(0)
		for b := *c.firstChild(p); b != none; b = c.sibling[b] {
			if b < 0 || int(b) >= nb || !c.cached[b] || c.parent[b] != p || n > int32(nb) {
				return fmt.Errorf("kvcache: check: child list of %d holds block %d", p, b)
			}
			n++
		}
		if p != none && n != children[p] {
			return fmt.Errorf("kvcache: check: child list of %d has %d blocks; %d cached children", p, n, children[p])
		}
		listed += int(n)
	}
	if listed != ncached {
		return fmt.Errorf("kvcache: check: child lists hold %d blocks; %d cached", listed, ncached)
	}
	for b := range nb {
		if children[b] != c.children[b] {
			return fmt.Errorf("kvcache: check: block %d has %d cached children; counted %d", b, children[b], c.children[b])
		}
	}
	if nheld != c.nheld || ncached != len(c.byHash) {
		return fmt.Errorf("kvcache: check: %d held, %d cached blocks; counted %d held, %d named", nheld, ncached, c.nheld, len(c.byHash))
	}
	if st := c.Stats(); st.Bytes > st.Budget {
		return fmt.Errorf("kvcache: check: %d bytes in use over the budget of %d", st.Bytes, st.Budget)
	}
	return nil
}
