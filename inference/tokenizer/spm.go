package tokenizer

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// spaceMark is SentencePiece's stand-in for a space: "▁".
const spaceMark = "\u2581"

// spm is SentencePiece-style BPE as llama.cpp runs it: spaces become "▁",
// the text is split into characters, and adjacent pieces whose join is a
// token are merged, highest score first; a character with no token is
// spelled in byte tokens <0xXX>, or becomes the unknown token.
type spm struct {
	t        *Tokenizer
	scores   []float32
	addSpace bool             // prefix text with a space, as the model was trained
	byteTok  [256]int32       // <0xXX> tokens, -1 where absent
	pieces   []string         // token id → decoded text
	mergeIDs map[string]int32 // texts merging may produce: ordinary tokens only
}

func newSPM(t *Tokenizer, scores []float32, addSpace bool) *spm {
	s := &spm{t: t, scores: scores, addSpace: addSpace, pieces: make([]string, len(t.tokens)), mergeIDs: make(map[string]int32, len(t.tokens))}
	for i := range s.byteTok {
		s.byteTok[i] = -1
	}
	for id, text := range t.tokens {
		typ := t.types[id]
		if b, ok := byteToken(text); ok && (typ == TypeByte || typ == TypeNormal) {
			if s.byteTok[b] < 0 || typ == TypeByte {
				s.byteTok[b] = int32(id)
			}
			s.pieces[id] = string([]byte{b})
			continue
		}
		switch typ {
		case TypeControl:
		case TypeUnknown:
			s.pieces[id] = "\u2585" // as llama.cpp prints it
		default:
			s.pieces[id] = strings.ReplaceAll(text, spaceMark, " ")
		}
		if typ == TypeNormal || typ == TypeUnused {
			s.mergeIDs[text] = int32(id) // a later duplicate wins, as in llama.cpp
		}
	}
	return s
}

// byteToken parses "<0xXX>".
func byteToken(s string) (byte, bool) {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return 0, false
	}
	var b byte
	if _, err := fmt.Sscanf(s[3:5], "%02X", &b); err != nil {
		return 0, false
	}
	return b, true
}

// spmSymbol is a piece of the text while merging: text[start:end].
type spmSymbol struct {
	start, end int
	prev, next int
}

type bigram struct {
	score       float32
	left, right int
	size        int // bytes of the joined text, to spot stale entries
}

func (a bigram) better(b bigram) bool {
	return a.score > b.score || (a.score == b.score && a.left < b.left)
}

func (s *spm) encode(out []int32, text string, spacePrefix bool) []int32 {
	if s.addSpace && spacePrefix {
		text = " " + text
	}
	text = strings.ReplaceAll(text, " ", spaceMark)
	var syms []spmSymbol
	for i := 0; i < len(text); {
		_, n := utf8.DecodeRuneInString(text[i:])
		syms = append(syms, spmSymbol{start: i, end: i + n, prev: len(syms) - 1, next: len(syms) + 1})
		i += n
	}
	var heap []bigram
	try := func(l, r int) {
		if l < 0 || r >= len(syms) {
			return
		}
		joined := text[syms[l].start:syms[r].end]
		if id, ok := s.mergeIDs[joined]; ok {
			heap = pushBigram(heap, bigram{score: s.scores[id], left: l, right: r, size: len(joined)})
		}
	}
	for i := 1; i < len(syms); i++ {
		try(i-1, i)
	}
	for len(heap) > 0 {
		var b bigram
		heap, b = popBigram(heap)
		l, r := &syms[b.left], &syms[b.right]
		if l.end == l.start || r.end == r.start || l.end-l.start+r.end-r.start != b.size || l.next != b.right {
			continue // one side has merged since
		}
		l.end = r.end
		r.start, r.end = 0, 0
		l.next = r.next
		if l.next < len(syms) {
			syms[l.next].prev = b.left
		}
		try(l.prev, b.left)
		try(b.left, l.next)
	}
	for i := 0; i < len(syms); i = syms[i].next {
		piece := text[syms[i].start:syms[i].end]
		if id, ok := s.mergeIDs[piece]; ok {
			out = append(out, id)
			continue
		}
		// Only single characters can lack a token (merges make tokens).
		for k := 0; k < len(piece); k++ {
			switch {
			case s.byteTok[piece[k]] >= 0:
				out = append(out, s.byteTok[piece[k]])
			case s.t.unk >= 0:
				out = append(out, s.t.unk)
				k = len(piece) // one <unk> for the whole character
			}
		}
	}
	return out
}

func pushBigram(h []bigram, b bigram) []bigram {
	h = append(h, b)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h[i].better(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func popBigram(h []bigram) ([]bigram, bigram) {
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h[l].better(h[m]) {
			m = l
		}
		if r < len(h) && h[r].better(h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	return h, top
}
