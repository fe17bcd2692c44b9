package grammar

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/anima-rt/anima/inference/tokenizer"
)

// MaxTokenBytes bounds the tokens a grammar may allow: longer ones (a few
// vocabularies hold long runs of spaces or dashes) are never allowed inside
// JSON.
const MaxTokenBytes = 128

// Vocab is a model's vocabulary as the grammar sees it: each token's output
// bytes, the tokens that end a generation, and the tokenizer's Encode for
// forced text. Build it once per model and share it between grammars: it is
// safe for concurrent use.
type Vocab struct {
	tokens [][]byte // id → bytes as they appear in the output; nil for control tokens
	eog    []int32  // ids that end a generation, allowed once the JSON is complete
	stop   int32    // the end-of-generation id forced after a complete value
	encode func(string) []int32
	trie   []trieNode // every token with bytes, as a byte trie in preorder
	dup    []int32    // id → next id with the same bytes, or -1
	maxLen int        // longest token in bytes

	// mu guards strTables, computed on first use.
	mu        sync.Mutex
	strTables map[uint32]*strTable // string sub-state → token split
}

// trieNode is one byte of the vocabulary trie. Nodes are stored in
// depth-first preorder, so a subtree is a contiguous run and skipping it
// when the automaton rejects its byte is a jump to skip.
type trieNode struct {
	b     byte
	depth uint16 // 1 for a token's first byte
	tok   int32  // the token ending here, or -1
	skip  int32  // index of the first node after this subtree
}

// NewVocab builds a Vocab. tokens[id] is the text token id adds to the
// output (nil or empty for control tokens, which the grammar never allows
// inside JSON); eog lists the end-of-generation ids, of which stop (one of
// them) is the one Forced appends after a complete value; encode tokenizes
// forced text as the model was trained on it (nil: greedy longest match).
func NewVocab(tokens [][]byte, eog []int32, stop int32, encode func(string) []int32) (*Vocab, error) {
	if len(tokens) == 0 || len(tokens) > 1<<24 {
		return nil, fmt.Errorf("grammar: vocab: %d tokens; want 1 to %d", len(tokens), 1<<24)
	}
	for _, id := range eog {
		if id < 0 || int(id) >= len(tokens) {
			return nil, fmt.Errorf("grammar: vocab: end-of-generation id %d outside the vocabulary of %d", id, len(tokens))
		}
	}
	if !slices.Contains(eog, stop) {
		return nil, errors.New("grammar: vocab: the stop id is not among the end-of-generation ids")
	}
	v := &Vocab{tokens: tokens, eog: slices.Clone(eog), stop: stop, encode: encode}
	ids := make([]int32, 0, len(tokens))
	for id, t := range tokens {
		if len(t) > 0 && len(t) <= MaxTokenBytes && !slices.Contains(eog, int32(id)) {
			ids = append(ids, int32(id))
			v.maxLen = max(v.maxLen, len(t))
		}
	}
	slices.SortFunc(ids, func(a, b int32) int {
		if c := bytes.Compare(tokens[a], tokens[b]); c != 0 {
			return c
		}
		return int(a - b)
	})
	v.dup = make([]int32, len(tokens))
	for i := range v.dup {
		v.dup[i] = -1
	}
	// Build the preorder trie from the sorted tokens: path holds the node
	// index of each byte of the previous token.
	var path []int32
	var prev []byte
	for _, id := range ids {
		t := tokens[id]
		lcp := 0
		for lcp < len(prev) && lcp < len(t) && prev[lcp] == t[lcp] {
			lcp++
		}
		if lcp == len(t) { // same bytes as prev: chain the duplicate
			last := v.trie[path[len(t)-1]].tok
			for v.dup[last] >= 0 {
				last = v.dup[last]
			}
			v.dup[last] = id
			continue
		}
		for len(path) > lcp {
			v.trie[path[len(path)-1]].skip = int32(len(v.trie))
			path = path[:len(path)-1]
		}
		for i := lcp; i < len(t); i++ {
			path = append(path, int32(len(v.trie)))
			v.trie = append(v.trie, trieNode{b: t[i], depth: uint16(i + 1), tok: -1})
		}
		v.trie[len(v.trie)-1].tok = id
		prev = t
	}
	for _, p := range path {
		v.trie[p].skip = int32(len(v.trie))
	}
	return v, nil
}

// FromTokenizer builds the Vocab of a tokenizer: each token's decoded bytes
// (SentencePiece's leading-space rule applied as in the middle of a text),
// its end-of-generation tokens, <|im_end|> as the stop token when it has
// one, and its Encode.
func FromTokenizer(t *tokenizer.Tokenizer) (*Vocab, error) {
	n := t.VocabSize()
	// Decode drops SentencePiece's space prefix from a text's first piece;
	// decoding after an anchor token reads every piece as mid-text.
	anchor := int32(-1)
	for id := range int32(n) {
		if !t.IsControl(id) && t.Decode([]int32{id}) != "" {
			anchor = id
			break
		}
	}
	if anchor < 0 {
		return nil, errors.New("grammar: vocab: no token decodes to text")
	}
	prefix := t.Decode([]int32{anchor})
	tokens := make([][]byte, n)
	var eog []int32
	for id := range int32(n) {
		if t.IsEOG(id) {
			eog = append(eog, id)
			continue
		}
		if t.IsControl(id) {
			continue
		}
		s := t.Decode([]int32{anchor, id})
		if len(s) > len(prefix) {
			tokens[id] = []byte(s[len(prefix):])
		}
	}
	stop := t.EOS()
	if id, ok := t.TokenID("<|im_end|>"); ok && t.IsEOG(id) {
		stop = id
	}
	if stop < 0 || !t.IsEOG(stop) {
		if len(eog) == 0 {
			return nil, errors.New("grammar: vocab: the tokenizer has no end-of-generation token")
		}
		stop = eog[0]
	}
	return NewVocab(tokens, eog, stop, t.Encode)
}

// Size is the number of tokens.
func (v *Vocab) Size() int { return len(v.tokens) }

// Token returns the bytes token id adds to the output (nil for control
// tokens). The slice belongs to the Vocab.
func (v *Vocab) Token(id int32) []byte {
	if id < 0 || int(id) >= len(v.tokens) {
		return nil
	}
	return v.tokens[id]
}

func (v *Vocab) isEOG(id int32) bool { return slices.Contains(v.eog, id) }

// tokenize splits forced text into tokens: the model's own Encode when its
// tokens spell text exactly, else greedy longest match over the trie.
func (v *Vocab) tokenize(text []byte) []int32 {
	if v.encode != nil {
		ids := v.encode(string(text))
		var got []byte
		ok := true
		for _, id := range ids {
			if id < 0 || int(id) >= len(v.tokens) || len(v.tokens[id]) == 0 || len(v.tokens[id]) > MaxTokenBytes || v.isEOG(id) {
				ok = false
				break
			}
			got = append(got, v.tokens[id]...)
		}
		if ok && bytes.Equal(got, text) {
			return ids
		}
	}
	var ids []int32
	for len(text) > 0 {
		best, bestLen := int32(-1), 0
		for i := 0; i < len(v.trie); {
			n := v.trie[i]
			d := int(n.depth)
			if d > len(text) || n.b != text[d-1] {
				i = int(n.skip)
				continue
			}
			if n.tok >= 0 {
				best, bestLen = n.tok, d
			}
			i++
		}
		if best < 0 {
			return nil // some byte has no token: nothing can be forced
		}
		ids = append(ids, best)
		text = text[bestLen:]
	}
	return ids
}
