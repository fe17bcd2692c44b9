package npc

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Recall is the retrieval step of the IDLastRecall layout: from what the
// NPC just heard, it picks the few places and lore facts the words refer
// to, and the renderer repeats them at the end of the user turn, right
// before the answer.
//
// Why: a small model finds a thing in the turn it is answering and copies
// its id, but does not look up a place listed in the system turn hundreds
// of tokens back — every layout trained here answered "where is the inn?"
// with one default place id (train/README.md, sessions 7–11). Studios do
// the same for large lore with large models: retrieve what the player's
// words name and put it next to the question.
//
// The matching is lexical and deliberately plain. A document is a place
// (the words of its name and its kind, the part of its note before the
// first comma) or a sentence of the lore text (its names: capitalised
// words, or any word in a script without capitals). A heard word refers to
// a document's word when it equals it or extends it (refersTo: a plural, a
// Korean particle: "장터에서" names "장터"). Only words found in at most
// recallMaxDF documents count, so "the", "works" or a word every sentence
// of the lore uses refer to nothing; no stop lists, which would need one
// per language. What the persona knows is not searched: it is written in
// the second person ("You work at …"), and "you" is in every other line a
// player says. A fact's places (their names
// inside its text) are recalled with it, so "where is Percival?" brings
// back "Percival the gravedigger works at the Dawn Temple." and the Dawn
// Temple's entry with its id.
type recall struct {
	docs []recallDoc
	df   [2]map[string]int // documents holding a word: [0] places, [1] facts
}

type recallDoc struct {
	place int    // index into Lore.Places, or -1 for a fact
	fact  string // the sentence, for a fact
	keys  []string
}

const (
	recallMaxDF     = 2
	recallMaxPlaces = 3
	recallMaxFacts  = 2
)

// newRecall indexes the lore of in. It is cheap (a few thousand words at
// most) and pure, so RenderPrompt builds it per call rather than caching
// it beside a world that may change.
func newRecall(in PromptInput) *recall {
	r := &recall{df: [2]map[string]int{{}, {}}}
	for i, p := range in.Lore.Places {
		kind, _, _ := strings.Cut(p.Note, ",")
		r.add(recallDoc{place: i, keys: recallWords(p.Name + " " + kind)})
	}
	text := sanitize(in.Lore.Text, MaxLoreRunes, false)
	lower := lowercaseWords(text)
	for _, s := range sentences(text) {
		r.add(recallDoc{place: -1, fact: s, keys: factWords(s, lower)})
	}
	return r
}

// kind indexes recall.df: places and facts count their words apart, so
// that a place the lore talks about is still found by its name.
func (d recallDoc) kind() int {
	if d.place >= 0 {
		return 0
	}
	return 1
}

// maxDF is how many documents of its kind a word may be in and still
// name one: a kind of place ("gate") may name as many places as a turn
// recalls, a word of the lore only two sentences.
func (d recallDoc) maxDF() int {
	if d.place >= 0 {
		return recallMaxPlaces
	}
	return recallMaxDF
}

func (r *recall) add(d recallDoc) {
	d.keys = dedupe(d.keys)
	if len(d.keys) == 0 {
		return
	}
	for _, k := range d.keys {
		r.df[d.kind()][k]++
	}
	r.docs = append(r.docs, d)
}

// find returns the facts and the indices of the places that heard refers
// to, the best matches first (more referring words, then document order),
// at most recallMaxFacts and recallMaxPlaces of them.
func (r *recall) find(heard []Utterance, places []Place) (facts []string, placeIdx []int) {
	var words []string
	for _, u := range heard {
		// What the prompt quotes, not the raw line: a megabyte of speech
		// is cut to MaxQuoteRunes before it is searched too.
		words = append(words, recallWords(sanitize(u.Text, MaxQuoteRunes, true))...)
	}
	if len(words) == 0 {
		return nil, nil
	}
	type hit struct{ doc, score int }
	var hits []hit
	for i, d := range r.docs {
		score := 0
		for _, k := range d.keys {
			if r.df[d.kind()][k] > d.maxDF() {
				continue
			}
			for _, w := range words {
				if refersTo(w, k) {
					score++
					break
				}
			}
		}
		if score > 0 {
			hits = append(hits, hit{i, score})
		}
	}
	sort.SliceStable(hits, func(a, b int) bool { return hits[a].score > hits[b].score })
	seen := map[int]bool{}
	addPlace := func(i int) {
		if !seen[i] && len(placeIdx) < recallMaxPlaces {
			seen[i] = true
			placeIdx = append(placeIdx, i)
		}
	}
	for _, h := range hits {
		if d := r.docs[h.doc]; d.place >= 0 {
			addPlace(d.place)
		}
	}
	for _, h := range hits {
		d := r.docs[h.doc]
		if d.place >= 0 || len(facts) == recallMaxFacts {
			continue
		}
		facts = append(facts, d.fact)
		lower := strings.ToLower(d.fact)
		for i, p := range places {
			if n := strings.ToLower(clean(p.Name)); n != "" && strings.Contains(lower, n) {
				addPlace(i)
			}
		}
	}
	return facts, placeIdx
}

// recallWords lowercases s and cuts it into words of letters and digits,
// keeping those long enough to mean something: three runes, or two in a
// script without spaces between a noun and its particle (Hangul, Han,
// kana), where two runes are a whole word.
func recallWords(s string) []string {
	var out []string
	for _, w := range words(strings.ToLower(s)) {
		n := utf8.RuneCountInString(w)
		first, _ := utf8.DecodeRuneInString(w)
		if n >= 3 || unicode.In(first, unicode.Hangul, unicode.Han, unicode.Hiragana, unicode.Katakana) {
			out = append(out, w)
		}
	}
	return out
}

// factWords are the words of a lore sentence that can name something: in
// a script with capitals, the capitalised ones that the lore never writes
// in lower case ("Percival", "Keep", not a sentence's first "The"), since
// a sentence's other words ("have", "been", "for") are the glue of any
// line a player says; in one without (Hangul), all of them.
func factWords(s string, lower map[string]bool) []string {
	var out []string
	for _, w := range words(s) {
		first, _ := utf8.DecodeRuneInString(w)
		if !unicode.In(first, unicode.Latin, unicode.Greek, unicode.Cyrillic) ||
			(unicode.IsUpper(first) && !lower[strings.ToLower(w)]) {
			out = append(out, recallWords(w)...)
		}
	}
	return out
}

// lowercaseWords is the set of words text writes in lower case at least
// once.
func lowercaseWords(text string) map[string]bool {
	set := map[string]bool{}
	for _, w := range words(text) {
		if first, _ := utf8.DecodeRuneInString(w); unicode.IsLower(first) {
			set[w] = true
		}
	}
	return set
}

// words cuts s into runs of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// refersTo reports whether the heard word w names the key k: the same
// word, or k with an ending — any ending for keys of four runes or more,
// only a plural "s" for shorter ones, or "your" would name "you" and
// "then" "the". Korean attaches particles to both sides ("장쇠에" asks
// about the "장쇠는" of a lore sentence): Hangul words refer to each
// other when they share a stem of two runes or more that is all of the
// shorter one but its last rune; a one-rune noun ("숲", woods) only bare
// or with a one-rune particle.
func refersTo(w, k string) bool {
	if first, _ := utf8.DecodeRuneInString(k); unicode.Is(unicode.Hangul, first) {
		return hangulRefers(w, k)
	}
	if !strings.HasPrefix(w, k) {
		return false
	}
	if len(w) == len(k) || w[len(k):] == "s" {
		return true
	}
	return utf8.RuneCountInString(k) >= 4
}

func hangulRefers(w, k string) bool {
	rw, rk := []rune(w), []rune(k)
	short := min(len(rw), len(rk))
	if short == 1 {
		return w == k || (len(rk) == 1 && len(rw) == 2 && rw[0] == rk[0] && strings.ContainsRune("이가은는을를에도로", rw[1]))
	}
	stem := 0
	for stem < short && rw[stem] == rk[stem] {
		stem++
	}
	return stem >= 2 && stem >= short-1
}

func dedupe(xs []string) []string {
	seen := make(map[string]bool, len(xs))
	out := xs[:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// sentences cuts prose at sentence ends (". ", "! ", "? " and line
// breaks), keeping each sentence's closing mark.
func sentences(text string) []string {
	var out []string
	start := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		end := -1
		switch {
		case c == '\n':
			end = i
		case (c == '.' || c == '!' || c == '?') && (i+1 == len(text) || text[i+1] == ' ' || text[i+1] == '\n'):
			end = i + 1
		}
		if end < 0 {
			continue
		}
		if s := strings.TrimSpace(text[start:end]); s != "" {
			out = append(out, s)
		}
		start = end
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

// writeRecall writes the [Recall] line of a user turn: the facts, then the
// places' entries as [Places] writes them. Nothing when heard names nothing.
func writeRecall(b *strings.Builder, r *recall, s Stimulus, places []Place, f PromptFormat) {
	facts, idx := r.find(s.Heard, places)
	if len(facts) == 0 && len(idx) == 0 {
		return
	}
	b.WriteString("[Recall] ")
	for i, fact := range facts {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(fact)
	}
	for i, p := range idx {
		if i > 0 {
			b.WriteString("; ")
		} else if len(facts) > 0 {
			b.WriteByte(' ')
		}
		pl := places[p]
		b.WriteString(f.entry(pl.ID, pl.Name, clean(pl.Note)))
	}
	b.WriteByte('\n')
}
