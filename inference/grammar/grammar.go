// Package grammar constrains a model's output to JSON that validates against
// a JSON Schema subset: it compiles the schema into a byte-level automaton
// and, per automaton state, the set of vocabulary tokens that keep the
// output valid, in the manner of XGrammar and llguidance (the vocabulary is
// walked as a byte trie against the automaton, and each state's mask is
// computed once and cached).
//
// The output is compact JSON with keys in the schema's order and no
// whitespace outside strings, as the model is trained to write it, so most
// scaffolding is forced: Forced returns those tokens to append without
// sampling. Supported (anything else is a *SchemaError naming its path):
//
//   - "type": object, array, string, integer, number, boolean, null, or an
//     array of them; "enum" and "const" of any JSON values (emitted in
//     compact form); "anyOf" and "oneOf" (taken as anyOf: the variants
//     should not overlap, e.g. objects told apart by a const); local
//     "$ref" ("#/$defs/x") that is not recursive; annotations (title,
//     description, default, examples, ...).
//   - object: "properties" (emitted in the order given), "required", and
//     "additionalProperties" true or false (no other key is ever emitted).
//     An optional property may be written or skipped, in its place.
//   - string: "maxLength", "minLength" (in code points; an escape such as
//     \n or a surrogate pair counts as one). Any valid JSON string
//     spelling is allowed.
//   - integer: at most 18 digits; number: at most 12 integer and 6
//     fraction digits, no exponent; both with "minimum", "maximum",
//     "exclusiveMinimum", "exclusiveMaximum". No "-0" integer.
//   - array: "items" (one schema), "minItems", "maxItems" (≤ 256).
//
// A Matcher follows one generation. Per decode step the scheduler calls
// Forced (a non-empty run is accepted token by token and fed to the model
// as one chunk, with no sampling), else Allowed, and either samples among
// the listed ids (a sparse state: an enum, a number) or ApplyMask's the
// logit row (free text), then Accept. AppendDelta yields the streamed
// field's text; when max_tokens runs out, Close appends a valid ending.
// These calls allocate nothing once the states a generation visits are
// cached; masks are cached per state in the Grammar, shared by all its
// Matchers.
package grammar

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sync"
	"unsafe"
)

// Grammar is a compiled schema over one vocabulary. It is safe for
// concurrent use by many Matchers.
type Grammar struct {
	vocab    *Vocab
	nodes    []node
	strs     []strLeaf
	nums     []numLeaf
	start    int32
	fields   map[string][]int32 // JSON path of a free string → its kStr nodes
	empty    Bitset
	emptyIDs []int32

	maxMasks int // how many masks the cache may hold

	// static is the bytes the compiled automaton holds (Compile).
	static int64

	// mu guards masks, forced, cached and the walk scratch.
	mu     sync.Mutex
	masks  map[string]*maskEntry // normalized state key → allowed tokens
	forced map[string][]int32    // exact state key → forced token run
	cached int64                 // the bytes masks and forced hold
	walk   walker
}

// MaxMaskCacheBytes bounds the token masks one Grammar caches.
const MaxMaskCacheBytes = 64 << 20

// Compile compiles a JSON Schema (see the package documentation for the
// subset) over vocab.
func Compile(schema []byte, vocab *Vocab) (*Grammar, error) {
	root, err := parseSchema(schema)
	if err != nil {
		return nil, err
	}
	c := &compiler{root: root, refs: map[string]bool{}}
	c.nodes = make([]node, 0, min(len(schema)/2, MaxNodes)) // a node per two schema bytes, about
	end, _ := c.add(node{kind: kEnd})
	start, err := c.compile(root, "", "", end, 0)
	if err != nil {
		if se := (*SchemaError)(nil); !errors.As(err, &se) {
			err = fmt.Errorf("grammar: compile: %w", err)
		}
		return nil, err
	}
	g := &Grammar{
		vocab:    vocab,
		nodes:    c.nodes,
		strs:     c.strs,
		nums:     c.nums,
		start:    start,
		fields:   map[string][]int32{},
		empty:    NewBitset(vocab.Size()),
		emptyIDs: []int32{},
		masks:    map[string]*maskEntry{},
		forced:   map[string][]int32{},
	}
	for id, n := range g.nodes {
		if n.kind == kStr {
			p := g.strs[n.leaf].path
			g.fields[p] = append(g.fields[p], int32(id))
		}
	}
	g.maxMasks = max(16, MaxMaskCacheBytes/(len(g.empty)*8+64))
	g.walk.ofs = make([]int, vocab.maxLen+2)
	g.static = g.automatonBytes()
	return g, nil
}

// Sizes of what a Grammar holds, for Cost; mapEntryBytes is a map
// entry's share of its buckets (key and value headers, hash, overhead).
const (
	nodeBytes     = int64(unsafe.Sizeof(node{}))
	edgeBytes     = int64(unsafe.Sizeof(edge{}))
	mapEntryBytes = 64
)

// automatonBytes is what the compiled automaton holds: nodes with their
// edges, string and number leaves, the field index, the empty mask.
func (g *Grammar) automatonBytes() int64 {
	n := int64(cap(g.nodes))*nodeBytes + int64(cap(g.strs))*int64(unsafe.Sizeof(strLeaf{})) +
		int64(cap(g.nums))*int64(unsafe.Sizeof(numLeaf{})) + int64(len(g.empty))*8 + int64(cap(g.emptyIDs))*4 +
		int64(cap(g.walk.ofs))*8
	for i := range g.nodes {
		n += int64(cap(g.nodes[i].edges))*edgeBytes + int64(cap(g.nodes[i].eps))*4
	}
	for _, l := range g.strs {
		n += int64(len(l.path))
	}
	for p, ids := range g.fields {
		n += mapEntryBytes + int64(len(p)) + int64(cap(ids))*4
	}
	return n
}

// Vocab is the vocabulary g was compiled over.
func (g *Grammar) Vocab() *Vocab { return g.vocab }

// Nodes is the number of automaton nodes, a measure of the schema's size.
func (g *Grammar) Nodes() int { return len(g.nodes) }

// Cost is the bytes g holds now, for caches that weigh entries: the
// automaton, and the masks and forced runs computed so far with their keys
// (a sparse mask's list of ids too, up to MaxSparse of them).
func (g *Grammar) Cost() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.static + g.cached
}

// closure appends thread (n, 0, 0), or, for a node with epsilon edges, the
// threads they reach; a node that is only a choice is never kept, so equal
// positions have equal thread sets. (A number's own end is an epsilon move
// taken in step, once its digits are acceptable; a number is never empty.)
// The graph has no epsilon cycles: every loop reads a byte.
func (g *Grammar) closure(out []thread, n int32) []thread {
	nd := &g.nodes[n]
	if nd.kind == kLit {
		if len(nd.edges) > 0 {
			out = append(out, thread{node: n})
		}
		for _, e := range nd.eps {
			out = g.closure(out, e)
		}
		return out
	}
	return append(out, thread{node: n})
}

// step appends to out the threads that in reaches by byte b, deduplicated.
func (g *Grammar) step(out, in []thread, b byte) []thread {
	base := len(out)
	for _, t := range in {
		nd := &g.nodes[t.node]
		switch nd.kind {
		case kLit:
			for _, e := range nd.edges {
				if e.b == b {
					out = g.closure(out, e.next)
				}
			}
		case kStr:
			sub, count, exit, ok := g.strs[nd.leaf].step(t.sub, t.reg, b)
			switch {
			case !ok:
			case exit:
				out = g.closure(out, nd.next)
			default:
				out = append(out, thread{t.node, sub, count})
			}
		case kNum:
			l := &g.nums[nd.leaf]
			sub, mag, ok := l.step(t.sub, t.reg, b)
			if ok {
				out = append(out, thread{t.node, sub, mag})
				if l.accepting(sub, mag) {
					out = g.closure(out, nd.next)
				}
			}
		}
	}
	if len(out)-base > 1 {
		out = append(out[:base], canonical(out[base:])...)
	}
	return out
}

// canonical sorts and deduplicates a thread set in place, so equal states
// have equal keys.
func canonical(ts []thread) []thread {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && less(ts[j], ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
	return slices.Compact(ts)
}

func less(a, b thread) bool {
	if a.node != b.node {
		return a.node < b.node
	}
	if a.sub != b.sub {
		return a.sub < b.sub
	}
	return a.reg < b.reg
}

func (g *Grammar) accepting(ts []thread) bool {
	for _, t := range ts {
		if g.nodes[t.node].kind == kEnd {
			return true
		}
	}
	return false
}

// appendKey appends the exact key of a state.
func appendKey(dst []byte, ts []thread) []byte {
	for _, t := range ts {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(t.node))
		dst = binary.LittleEndian.AppendUint32(dst, t.sub)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(t.reg))
	}
	return dst
}

// maskClass rewrites ts, in place, to a state with the same token mask:
// inside a free string, the character count matters only through how many
// characters may still be written and how many must be, and no token holds
// more than maxLen characters, so counts far from both limits share one
// class. Without this every position in a long string would be a new
// state to walk the vocabulary for.
func (g *Grammar) maskClass(ts []thread) {
	limit := int64(g.vocab.maxLen) + 1
	for i := range ts {
		t := &ts[i]
		nd := &g.nodes[t.node]
		if nd.kind != kStr {
			continue
		}
		l := &g.strs[nd.leaf]
		need := l.minLen - t.reg
		room := limit
		if l.maxLen >= 0 {
			room = l.maxLen - t.reg
		}
		switch {
		case need >= limit:
			t.reg = 0 // far below minLength, and so also below maxLength
		case need <= 0 && room >= limit:
			t.reg = l.minLen
		}
	}
}

// walker is the scratch of a vocabulary walk: buf holds the thread set of
// each trie depth d at buf[ofs[d]:ofs[d+1]].
type walker struct {
	buf []thread
	ofs []int
}

// computeMask sets in dst every token allowed from state ts: the
// vocabulary trie is walked depth first against the automaton, and a
// subtree is skipped as soon as its prefix is rejected, so the cost is the
// number of trie nodes whose prefix is valid, not the vocabulary size
// times token length. The caller holds g.mu.
func (g *Grammar) computeMask(dst Bitset, ts []thread) {
	if g.freeStringMask(dst, ts) {
		return
	}
	g.computeMaskWalk(dst, ts)
}

// computeMaskWalk is computeMask by the trie walk alone.
func (g *Grammar) computeMaskWalk(dst Bitset, ts []thread) {
	dst.Clear()
	v := g.vocab
	w := &g.walk
	w.buf = append(w.buf[:0], ts...)
	w.ofs[0], w.ofs[1] = 0, len(ts)
	for i := 0; i < len(v.trie); {
		n := &v.trie[i]
		d := int(n.depth)
		parent := w.buf[w.ofs[d-1]:w.ofs[d]]
		w.buf = g.step(w.buf[:w.ofs[d]], parent, n.b)
		if len(w.buf) == w.ofs[d] {
			i = int(n.skip)
			continue
		}
		w.ofs[d+1] = len(w.buf)
		for id := n.tok; id >= 0; id = v.dup[id] {
			dst.Set(id)
		}
		i++
	}
	if g.accepting(ts) {
		for _, id := range v.eog {
			dst.Set(id)
		}
	}
}

// maskEntry is one state's allowed tokens, as a bitset and, when there are
// few, as a list: at an enum or a key a sampler need only look at those.
type maskEntry struct {
	bits Bitset
	ids  []int32 // the allowed ids when at most MaxSparse; else nil
}

// MaxSparse is the most allowed tokens for which Allowed lists them.
const MaxSparse = 512

func (e *maskEntry) fill(g *Grammar, ts []thread) {
	g.computeMask(e.bits, ts)
	e.ids = e.ids[:0]
	n := 0
	for _, w := range e.bits {
		n += bits.OnesCount64(w)
	}
	if n <= MaxSparse {
		e.ids = e.bits.AppendIDs(e.ids)
	} else {
		e.ids = nil
	}
}

// mask returns the cached mask of ts (exact state), computing it on a
// miss into the cache, or into m's scratch when the cache is full. The
// caller holds g.mu.
func (g *Grammar) mask(ts []thread, m *Matcher) *maskEntry {
	m.cls = append(m.cls[:0], ts...)
	g.maskClass(m.cls)
	m.key = appendKey(m.key[:0], m.cls)
	if e, ok := g.masks[string(m.key)]; ok {
		return e
	}
	var e *maskEntry
	kept := len(g.masks) < g.maxMasks
	if kept {
		e = &maskEntry{bits: NewBitset(g.vocab.Size())}
		g.masks[string(m.key)] = e
	} else {
		if m.scratch.bits == nil {
			m.scratch.bits = NewBitset(g.vocab.Size())
		}
		e = &m.scratch
	}
	e.fill(g, m.cls)
	if kept {
		g.cached += mapEntryBytes + int64(len(m.key)) + int64(unsafe.Sizeof(maskEntry{})) +
			int64(len(e.bits))*8 + int64(cap(e.ids))*4
	}
	return e
}

// String describes g for logs.
func (g *Grammar) String() string {
	return fmt.Sprintf("grammar(%d nodes, %d strings, %d numbers)", len(g.nodes), len(g.strs), len(g.nums))
}
