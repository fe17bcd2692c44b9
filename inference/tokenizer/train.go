package tokenizer

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/anima-rt/anima/inference/gguf"
)

// ChatMLTemplate is the Jinja chat template stored with a trained
// vocabulary: ChatML, as Qwen models write it, so that llama.cpp and other
// GGUF runtimes render conversations the way the model was trained.
const ChatMLTemplate = "{% for message in messages %}" +
	"{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
	"{% endfor %}" +
	"{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

// ChatMLSpecials are the control tokens a trained vocabulary ends with, in
// Qwen's order: <|endoftext|> (BOS and padding), <|im_start|>, <|im_end|>
// (EOS: a turn's end is where generation stops).
var chatMLSpecials = [...]string{"<|endoftext|>", imStart, imEnd}

// BPETrainer learns a byte-level BPE vocabulary from text, split into words
// by the Qwen2 pre-tokenizer exactly as Encode splits it, so that every
// merge it learns is one Encode can apply. Add text, then call Train. The
// result depends only on the multiset of words added, never on map order.
type BPETrainer struct {
	words map[string]int64 // pre-tokenized word → occurrences
}

// NewBPETrainer returns an empty trainer.
func NewBPETrainer() *BPETrainer {
	return &BPETrainer{words: map[string]int64{}}
}

// Add counts the words of plain text: special-token strings in it are
// ordinary text, as Encode treats them.
func (t *BPETrainer) Add(text string) {
	for i := 0; i < len(text); {
		j := qwen2Split.next(text, i)
		t.words[text[i:j]]++
		i = j
	}
}

// AddTemplate counts the words of program-written text in which the ChatML
// markers stand for their control tokens, as EncodeSpecial reads it: the
// text between markers is learnt, the markers themselves are not.
func (t *BPETrainer) AddTemplate(text string) {
	for text != "" {
		at, n := len(text), 0
		for _, s := range chatMLSpecials {
			if i := strings.Index(text, s); i >= 0 && i < at {
				at, n = i, len(s)
			}
		}
		t.Add(text[:at])
		text = text[min(at+n, len(text)):]
	}
}

// Words is the number of distinct words counted so far.
func (t *BPETrainer) Words() int { return len(t.words) }

// TrainedVocab is a learnt vocabulary: the 256 byte tokens, one token per
// merge, then the ChatML control tokens.
type TrainedVocab struct {
	Tokens []string // in GPT-2's byte alphabet, as tokenizer.ggml.tokens stores them
	Types  []int32  // Type* of each token
	Merges []string // "left right", highest priority first
	BOS    int32    // <|endoftext|>
	EOS    int32    // <|im_end|>
	Pad    int32    // <|endoftext|>
}

// KVs returns the vocabulary as GGUF tokenizer metadata for a "gpt2"
// (byte-level BPE) tokenizer with the Qwen2 pre-tokenizer and ChatML.
func (v *TrainedVocab) KVs() []gguf.KV {
	return []gguf.KV{
		{Key: KeyModel, Value: "gpt2"},
		{Key: KeyPre, Value: "qwen2"},
		{Key: KeyTokens, Value: v.Tokens},
		{Key: KeyTokenType, Value: v.Types},
		{Key: KeyMerges, Value: v.Merges},
		{Key: KeyBOS, Value: uint32(v.BOS)},
		{Key: KeyEOS, Value: uint32(v.EOS)},
		{Key: KeyPadding, Value: uint32(v.Pad)},
		{Key: KeyAddBOS, Value: false},
		{Key: KeyChatTemplate, Value: ChatMLTemplate},
	}
}

// Train learns merges until the vocabulary, control tokens included, has
// vocabSize tokens, or until no pair of symbols occurs at least minCount
// times (so a small corpus gives a smaller vocabulary rather than merges
// learnt from one word). Ties between equally frequent pairs go to the pair
// whose symbols were made first, which makes the result deterministic.
func (t *BPETrainer) Train(vocabSize, minCount int) (*TrainedVocab, error) {
	base := 256 + len(chatMLSpecials)
	if vocabSize < base || vocabSize > 1<<16 {
		return nil, fmt.Errorf("tokenizer: train: vocabulary size %d outside %d..%d", vocabSize, base, 1<<16)
	}
	if len(t.words) == 0 {
		return nil, errors.New("tokenizer: train: no text was added")
	}
	minCount = max(minCount, 1)

	// Symbols 0..255 are the bytes, in the order of their GPT-2 alphabet
	// characters; symbol 256+k is the result of merge k.
	alphabet := byteAlphabet()
	order := make([]int, 256)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(alphabet[a], alphabet[b]) })
	var byteSym [256]int32
	text := make([]string, 256, vocabSize)
	for s, b := range order {
		byteSym[b] = int32(s)
		text[s] = string(alphabet[b])
	}

	// The words, in sorted order so that nothing depends on map iteration.
	keys := make([]string, 0, len(t.words))
	for w := range t.words {
		keys = append(keys, w)
	}
	slices.Sort(keys)
	words := make([]trainWord, len(keys))
	for i, w := range keys {
		syms := make([]int32, len(w))
		for k := 0; k < len(w); k++ {
			syms[k] = byteSym[w[k]]
		}
		words[i] = trainWord{syms: syms, count: t.words[w]}
	}

	pairs := map[uint64]int64{}
	where := map[uint64][]int32{} // pair → words it occurs in (may hold stale entries)
	for i, w := range words {
		for k := 0; k+1 < len(w.syms); k++ {
			p := pairKey(w.syms[k], w.syms[k+1])
			if lst := where[p]; len(lst) == 0 || lst[len(lst)-1] != int32(i) {
				where[p] = append(where[p], int32(i))
			}
			pairs[p] += w.count
		}
	}
	h := &countHeap{}
	for p, c := range pairs {
		h.push(pairCount{count: c, pair: p})
	}

	var merges []string
	changed := map[uint64]bool{}
	symOf := make(map[string]int32, vocabSize)
	for s, x := range text {
		symOf[x] = int32(s)
	}
	for len(text) < vocabSize-len(chatMLSpecials) && len(*h) > 0 {
		top := h.pop()
		if pairs[top.pair] != top.count {
			continue // stale: the pair's count changed since it was queued
		}
		if top.count < int64(minCount) {
			break
		}
		l, r := int32(top.pair>>32), int32(uint32(top.pair))
		joined := text[l] + text[r]
		merges = append(merges, text[l]+" "+text[r])
		// Two merges may spell the same string ("ab c", "a bc"); the
		// second reuses the first's token rather than adding a duplicate.
		sym, ok := symOf[joined]
		if !ok {
			sym = int32(len(text))
			text = append(text, joined)
			symOf[joined] = sym
		}

		clear(changed)
		for _, wi := range where[top.pair] {
			w := &words[wi]
			if !w.has(l, r) {
				continue
			}
			w.addPairs(pairs, -w.count, changed)
			w.merge(l, r, sym)
			w.addPairs(pairs, w.count, changed)
			for k := 0; k+1 < len(w.syms); k++ {
				if w.syms[k] == sym || w.syms[k+1] == sym {
					p := pairKey(w.syms[k], w.syms[k+1])
					if lst := where[p]; len(lst) == 0 || lst[len(lst)-1] != wi {
						where[p] = append(where[p], wi)
					}
				}
			}
		}
		delete(where, top.pair)
		delete(pairs, top.pair)
		// Re-queue changed pairs in a fixed order: the heap's order is total,
		// but pushing in sorted order keeps the work itself deterministic.
		ps := make([]uint64, 0, len(changed))
		for p := range changed {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		for _, p := range ps {
			if c := pairs[p]; c > 0 {
				h.push(pairCount{count: c, pair: p})
			} else {
				delete(pairs, p)
			}
		}
	}

	v := &TrainedVocab{Tokens: text, Merges: merges}
	v.Types = make([]int32, len(text), len(text)+len(chatMLSpecials))
	for i := range v.Types {
		v.Types[i] = TypeNormal
	}
	ids := map[string]int32{}
	for _, s := range chatMLSpecials {
		ids[s] = int32(len(v.Tokens))
		v.Tokens = append(v.Tokens, s)
		v.Types = append(v.Types, TypeControl)
	}
	v.BOS, v.EOS, v.Pad = ids["<|endoftext|>"], ids[imEnd], ids["<|endoftext|>"]
	return v, nil
}

// trainWord is one distinct word as symbols, with its number of
// occurrences.
type trainWord struct {
	syms  []int32
	count int64
}

func (w *trainWord) has(l, r int32) bool {
	for k := 0; k+1 < len(w.syms); k++ {
		if w.syms[k] == l && w.syms[k+1] == r {
			return true
		}
	}
	return false
}

// addPairs adds delta to the count of every adjacent pair of w, marking
// each in changed.
func (w *trainWord) addPairs(pairs map[uint64]int64, delta int64, changed map[uint64]bool) {
	for k := 0; k+1 < len(w.syms); k++ {
		p := pairKey(w.syms[k], w.syms[k+1])
		pairs[p] += delta
		changed[p] = true
	}
}

// merge replaces each non-overlapping occurrence of (l, r), left to right,
// with sym — as the encoder applies one merge rule.
func (w *trainWord) merge(l, r, sym int32) {
	out := w.syms[:0]
	for k := 0; k < len(w.syms); k++ {
		if k+1 < len(w.syms) && w.syms[k] == l && w.syms[k+1] == r {
			out = append(out, sym)
			k++
			continue
		}
		out = append(out, w.syms[k])
	}
	w.syms = out
}

// pairCount is a queued pair with the count it had when queued.
type pairCount struct {
	count int64
	pair  uint64
}

// before orders the queue: higher counts first, then the pair of
// earlier-made symbols (lower ids), so ties break the same way every run.
func (a pairCount) less(b pairCount) bool {
	if a.count != b.count {
		return a.count > b.count
	}
	return a.pair < b.pair
}

// countHeap is a binary min-heap of pairCount by less.
type countHeap []pairCount

func (h *countHeap) push(c pairCount) { heapPush((*[]pairCount)(h), c) }

func (h *countHeap) pop() pairCount { return heapPop((*[]pairCount)(h)) }
