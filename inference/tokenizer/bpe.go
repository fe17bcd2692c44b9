package tokenizer

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// preTokenizers is logically constant: tokenizer.ggml.pre names and the
// split each one uses, grouped as llama.cpp groups them. A file without the
// key ("" or "default") gets GPT-2's split, which llama.cpp's default
// approximates with extra punctuation and digit rules; converters have
// written the key since 2024.
var preTokenizers = map[string]preRule{
	"":                 gpt2Split,
	"default":          gpt2Split,
	"gpt2":             gpt2Split,
	"gpt-2":            gpt2Split,
	"olmo":             gpt2Split,
	"phi-2":            gpt2Split,
	"qwen2":            qwen2Split,
	"deepseek-r1-qwen": qwen2Split,
	"stablelm2":        qwen2Split,
	"hunyuan":          qwen2Split,
	"llama3":           llama3Split,
	"dbrx":             llama3Split,
	"llama-v3":         llama3Split,
	"llama-bpe":        llama3Split,
	"smaug-bpe":        llama3Split,
}

// bpe is byte-level BPE as GPT-2 defined it: text bytes are mapped to
// printable characters, split into words by a pre-tokenizer, and each word's
// characters merged pairwise, lowest merge rank first.
type bpe struct {
	t   *Tokenizer
	pre preRule

	runeByte map[rune]byte // GPT-2 byte alphabet, inverted
	byteSym  [256]int32    // symbol of each byte's one-character string
	byteTok  [256]int32    // token of each byte alone (unk if the vocabulary lacks it)
	symText  []string      // symbol id → text in the byte alphabet; ids below the vocabulary size are tokens
	merges   map[uint64]merge
	pieces   []string // token id → the bytes it decodes to ("" for control tokens)

	scratch sync.Pool // of *wordScratch, so encoding a word allocates nothing
}

type merge struct {
	rank   int32 // position in tokenizer.ggml.merges: lower merges first
	result int32 // symbol of the joined pair
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// byteAlphabet returns GPT-2's bytes_to_unicode table: printable Latin-1
// bytes stand for themselves, the others for the characters from U+0100 on,
// so every byte has a visible, non-space character.
func byteAlphabet() [256]rune {
	var m [256]rune
	next := rune(256)
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			m[b] = rune(b)
		} else {
			m[b] = next
			next++
		}
	}
	return m
}

func newBPE(t *Tokenizer, preName string, merges []string) (*bpe, error) {
	pre, ok := preTokenizers[preName]
	if !ok {
		return nil, fmt.Errorf("key %q: pre-tokenizer %q is not supported", KeyPre, preName)
	}
	b := &bpe{
		t:        t,
		pre:      pre,
		runeByte: make(map[rune]byte, 256),
		symText:  t.tokens,
		merges:   make(map[uint64]merge, len(merges)),
	}
	b.scratch.New = func() any { return new(wordScratch) }
	extra := map[string]int32{} // symbols that are not tokens: parts of merges
	sym := func(s string) int32 {
		if id, ok := t.ids[s]; ok {
			return id
		}
		if id, ok := extra[s]; ok {
			return id
		}
		id := int32(len(b.symText))
		if len(b.symText) == len(t.tokens) {
			b.symText = append([]string(nil), t.tokens...) // stop aliasing the file's slice
		}
		b.symText = append(b.symText, s)
		extra[s] = id
		return id
	}
	alphabet := byteAlphabet()
	for c, r := range alphabet {
		b.runeByte[r] = byte(c)
		s := string(r)
		b.byteSym[c] = sym(s)
		b.byteTok[c] = t.unk
		if id, ok := t.ids[s]; ok && t.plain(id) {
			b.byteTok[c] = id
		} else if t.unk < 0 {
			return nil, fmt.Errorf("key %q: byte %#02x (%q) has no token and there is no unknown token", KeyTokens, c, s)
		}
	}
	for i, m := range merges {
		// llama.cpp splits at the first space after the first character,
		// so a merge may join a token that begins with a space.
		sp := strings.IndexByte(m[min(1, len(m)):], ' ') + min(1, len(m))
		if sp < 1 || sp == len(m)-1 {
			return nil, fmt.Errorf("key %q: merge %d (%q) is not two symbols separated by a space", KeyMerges, i, m)
		}
		l, r := sym(m[:sp]), sym(m[sp+1:])
		k := pairKey(l, r)
		if _, dup := b.merges[k]; dup {
			continue // the earlier, higher-priority rule stands
		}
		b.merges[k] = merge{rank: int32(i), result: sym(m[:sp] + m[sp+1:])}
	}
	b.pieces = make([]string, len(t.tokens))
	for id, s := range t.tokens {
		switch t.types[id] {
		case TypeControl:
		case TypeUserDefined:
			b.pieces[id] = s
		default:
			b.pieces[id] = b.unmap(s)
		}
	}
	return b, nil
}

// plain reports whether id may come out of encoding plain text: control
// and user-defined tokens come only from EncodeSpecial.
func (t *Tokenizer) plain(id int32) bool {
	typ := t.types[id]
	return typ != TypeControl && typ != TypeUserDefined
}

// unmap turns text in the byte alphabet back into bytes; characters outside
// the alphabet are kept as UTF-8.
func (b *bpe) unmap(s string) string {
	var out []byte
	for _, r := range s {
		if c, ok := b.runeByte[r]; ok {
			out = append(out, c)
		} else {
			out = utf8.AppendRune(out, r)
		}
	}
	return string(out)
}

func (b *bpe) encode(out []int32, text string) []int32 {
	for i := 0; i < len(text); {
		j := b.pre.next(text, i)
		out = b.word(out, text[i:j])
		i = j
	}
	return out
}

// cacheable bounds the words kept in the cache: long runs are rare and
// would crowd out the common ones.
const cacheable = 48

// word appends the tokens of one pre-tokenized word.
func (b *bpe) word(out []int32, w string) []int32 {
	if len(w) == 1 {
		return append(out, b.byteTok[w[0]])
	}
	t := b.t
	if len(w) <= cacheable {
		t.mu.Lock()
		ids, ok := t.cache[w]
		t.mu.Unlock()
		if ok {
			return append(out, ids...)
		}
	}
	start := len(out)
	out = b.merge(out, w)
	if len(w) <= cacheable {
		ids := append([]int32(nil), out[start:]...)
		t.mu.Lock()
		if len(t.cache) >= maxCacheWords {
			clear(t.cache)
		}
		t.cache[strings.Clone(w)] = ids
		t.mu.Unlock()
	}
	return out
}

// wordScratch is the working memory of one word's merges.
type wordScratch struct {
	syms []symbol
	heap pairHeap
}

// symbol is one piece of a word while merging: it covers the word's bytes
// from its own index up to next.
type symbol struct {
	id         int32 // -1 once merged into the symbol on its left
	prev, next int32 // neighbouring live symbols; -1 / len(word) at the ends
}

// merge applies the merge rules to w, always the lowest-ranked applicable
// pair first (leftmost among equals), as llama.cpp does, in O(n log n).
func (b *bpe) merge(out []int32, w string) []int32 {
	if b.pre.ignoreMerges {
		if id, ok := b.t.ids[b.mapWord(w)]; ok && b.t.plain(id) {
			return append(out, id)
		}
	}
	s := b.scratch.Get().(*wordScratch)
	defer b.scratch.Put(s)
	n := len(w)
	s.syms = s.syms[:0]
	for i := range n {
		s.syms = append(s.syms, symbol{id: b.byteSym[w[i]], prev: int32(i - 1), next: int32(i + 1)})
	}
	syms := s.syms
	s.heap = s.heap[:0]
	push := func(l int32) {
		if l < 0 || syms[l].next >= int32(n) {
			return
		}
		r := syms[l].next
		if m, ok := b.merges[pairKey(syms[l].id, syms[r].id)]; ok {
			s.heap.push(candidate{rank: m.rank, left: l, right: r, leftID: syms[l].id, rightID: syms[r].id})
		}
	}
	for i := range n - 1 {
		push(int32(i))
	}
	for len(s.heap) > 0 {
		c := s.heap.pop()
		l := &syms[c.left]
		if l.id != c.leftID || l.next != c.right || syms[c.right].id != c.rightID {
			continue // a neighbour merged since this pair was queued
		}
		l.id = b.merges[pairKey(c.leftID, c.rightID)].result
		syms[c.right].id = -1
		l.next = syms[c.right].next
		if l.next < int32(n) {
			syms[l.next].prev = c.left
		}
		push(l.prev)
		push(c.left)
	}
	vocab := int32(len(b.t.tokens))
	for i := int32(0); i < int32(n); i = syms[i].next {
		id := syms[i].id
		if id < vocab && b.t.plain(id) {
			out = append(out, id)
			continue
		}
		// A merge result that is not an ordinary token: spell it in bytes.
		for k := i; k < syms[i].next; k++ {
			out = append(out, b.byteTok[w[k]])
		}
	}
	return out
}

func (b *bpe) mapWord(w string) string {
	var sb strings.Builder
	for i := 0; i < len(w); i++ {
		sb.WriteString(b.symText[b.byteSym[w[i]]])
	}
	return sb.String()
}

// candidate is a mergeable pair of adjacent symbols, valid while both still
// have the ids it recorded.
type candidate struct {
	rank            int32
	left, right     int32
	leftID, rightID int32
}

// pairHeap is a binary min-heap by (rank, left), written out rather than
// through container/heap to avoid boxing every candidate.
type pairHeap []candidate

func (c candidate) less(d candidate) bool {
	return c.rank < d.rank || (c.rank == d.rank && c.left < d.left)
}

func (h *pairHeap) push(c candidate) { heapPush((*[]candidate)(h), c) }

func (h *pairHeap) pop() candidate { return heapPop((*[]candidate)(h)) }
