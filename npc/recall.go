package npc

import (
	"slices"
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
// The matching is lexical and deliberately plain, and it errs towards
// writing nothing: a [Recall] line on a turn that asks for nothing
// (an insult, an injection attempt) taught the first model trained on
// this layout to point at the place it named (train/README.md, session
// 11). A document is a place or a sentence of the lore text. A place is
// named by its kind (the part of its note before the first comma) and by
// the words of its name that are names, not words the lore or the notes
// also write in lower case ("Stag" of The Merry Stag, not "Town" of the
// Town Well: "this town" is not that well). A sentence is named by its
// names: capitalised words the lore never writes in lower case, or any
// word in a script without capitals. A heard word refers to a document's
// word when it equals it or extends it (refersTo: a plural, a Korean
// particle on either side: "장터에서" names "장터"). A word related to
// more than recallMaxDF sentences (or places and sentences) names none
// of them, so "the", "works", "마을" (village) refer to nothing; no stop
// lists, which would need one per language. Words that name the world
// itself ("Nobody in Oakvale likes you", "까치골에서") are not searched
// for places. What the persona knows is not searched either: it is
// written in the second person ("You work at …"), and "you" is in every
// other line a player says. A fact's places (their names inside its
// text) are recalled with it, so "where is Percival?" brings back
// "Percival the gravedigger works at the Dawn Temple." and the Dawn
// Temple's entry with its id.
type recall struct {
	docs  []recallDoc
	world []string      // the words of the world's name
	df    map[dfKey]int // memo of recall.docFreq
}

type dfKey struct {
	key   string
	place bool
}

type recallDoc struct {
	place int      // index into Lore.Places, or -1 for a fact
	fact  string   // the sentence, for a fact
	keys  []string // the words that name it
	kinds []string // a place's kind, which names it after a determiner
	full  string   // a place's whole name, lower case, without "the"
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
	r := &recall{world: recallWords(in.Lore.Name), df: map[dfKey]int{}}
	text := sanitize(in.Lore.Text, MaxLoreRunes, false)
	notes := make([]string, len(in.Lore.Places))
	for i, p := range in.Lore.Places {
		notes[i] = p.Note
	}
	lower := lowercaseWords(text + "\n" + strings.Join(notes, "\n"))
	for i, p := range in.Lore.Places {
		kind, _, _ := strings.Cut(p.Note, ",")
		full := strings.ToLower(clean(p.Name))
		full = strings.TrimPrefix(full, "the ")
		r.add(recallDoc{place: i, keys: nameWords(p.Name, lower), kinds: recallWords(kind), full: full})
	}
	for _, s := range sentences(text) {
		r.add(recallDoc{place: -1, fact: s, keys: nameWords(s, lower)})
	}
	return r
}

// docFreq is how many documents hold a word related to key (refersTo
// either way): for a place's key, how many places, which may be as many
// as a turn recalls ("gate" names three gates); for a sentence's, how
// many sentences and places, at most recallMaxDF (a place the lore talks
// about stays found by its own entry, whose count leaves the sentences
// out). Computed for the few keys a turn's words match, and kept.
func (r *recall) docFreq(key string, place bool) int {
	if n, ok := r.df[dfKey{key, place}]; ok {
		return n
	}
	n := 0
	for _, d := range r.docs {
		if place && d.place < 0 {
			continue
		}
		if slices.ContainsFunc(d.keys, related(key)) || slices.ContainsFunc(d.kinds, related(key)) {
			n++
		}
	}
	r.df[dfKey{key, place}] = n
	return n
}

// named reports whether key, a word of d, names d: it is in few enough
// documents (docFreq), and a word of a place's name is in no sentence of
// the lore that is not about that place ("마을", village, of "마을 우물",
// the village well, is also in "광산 마을이다", a mining village).
func (d recallDoc) named(r *recall, key string) bool {
	if d.place < 0 {
		return r.docFreq(key, false) <= recallMaxDF
	}
	if r.docFreq(key, true) > recallMaxPlaces {
		return false
	}
	if slices.Contains(d.kinds, key) {
		return true
	}
	for _, f := range r.docs {
		if f.place < 0 && slices.ContainsFunc(f.keys, related(key)) && !MentionsName(f.fact, d.full) {
			return false
		}
	}
	return true
}

func (r *recall) add(d recallDoc) {
	d.keys, d.kinds = dedupe(d.keys), dedupe(d.kinds)
	if len(d.keys)+len(d.kinds) > 0 {
		r.docs = append(r.docs, d)
	}
}

// find returns the facts and the indices of the places that heard refers
// to, the best matches first (more referring words, then document order),
// at most recallMaxFacts and recallMaxPlaces of them.
func (r *recall) find(heard []Utterance, places []Place) (facts []string, placeIdx []int) {
	// heardWords are what was heard; determined, the words after a
	// determiner ("the well", "any inns"), which alone may name a place by
	// an English kind: "Well met!", "be well" and "Mine now." name no well
	// and no mine. Hangul marks no such thing and needs none: 우물 is
	// only ever the noun.
	var heardWords, determined []string
	var said strings.Builder
	for _, u := range heard {
		// What the prompt quotes, not the raw line: a megabyte of speech
		// is cut to MaxQuoteRunes before it is searched too.
		q := sanitize(u.Text, MaxQuoteRunes, true)
		said.WriteString(strings.ToLower(q))
		said.WriteByte('\n')
		prev := ""
		for _, w := range words(strings.ToLower(q)) {
			if len(recallWords(w)) > 0 && !slices.ContainsFunc(r.world, func(k string) bool { return refersTo(w, k) }) {
				heardWords = append(heardWords, w)
				if determiners[prev] || !isLatin(w) {
					determined = append(determined, w)
				}
			}
			prev = w
		}
	}
	if len(heardWords) == 0 {
		return nil, nil
	}
	type hit struct{ doc, score int }
	var hits []hit
	for i, d := range r.docs {
		score := 0
		if d.full != "" && MentionsName(said.String(), d.full) {
			// The whole name, however common its words ("the River
			// Gate": "river" and "gate" are also a note's words).
			score += 2
		}
		for _, k := range d.keys {
			if slices.ContainsFunc(heardWords, func(w string) bool { return refersTo(w, k) }) && d.named(r, k) {
				score++
			}
		}
		for _, k := range d.kinds {
			if slices.ContainsFunc(determined, func(w string) bool { return refersTo(w, k) }) && d.named(r, k) {
				score++
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

// nameWords are the words of a lore sentence or a place's name that can
// name something: in a script with capitals, the capitalised ones that
// the lore never writes in lower case ("Percival", "Keep", not a
// sentence's first "The" nor the "Town" of "the Town Well"), since the
// other words ("have", "been", "for", "town") are the glue of any line a
// player says; in one without (Hangul), all of them.
func nameWords(s string, lower map[string]bool) []string {
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
// other when they share a stem of two runes or more and each goes on past
// it only in a particle (koreanParticles: "까치골에서", in Kkachigol, does
// not name "까치 주막", nor "이름났다" "이름"); a one-rune noun ("숲",
// woods) only bare or with a particle.
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
		return w == k || (len(rk) == 1 && rw[0] == rk[0] && koreanParticles[string(rw[1:])])
	}
	stem := 0
	for stem < short && rw[stem] == rk[stem] {
		stem++
	}
	return stem >= 2 && koreanParticles[string(rw[stem:])] && koreanParticles[string(rk[stem:])]
}

// determiners are the English words after which a noun names a thing
// ("the well", "a market", "any inns"). A list, unlike the rest of the
// matching, because English alone writes its kinds of places with words
// that are also greetings and verbs ("well", "mine", "keep").
var determiners = map[string]bool{"the": true, "a": true, "an": true, "any": true, "some": true,
	"this": true, "that": true, "these": true, "those": true, "your": true, "our": true, "nearest": true, "another": true}

func isLatin(w string) bool {
	first, _ := utf8.DecodeRuneInString(w)
	return unicode.In(first, unicode.Latin, unicode.Greek, unicode.Cyrillic)
}

// related reports whether a word and key refer to each other either way.
func related(key string) func(string) bool {
	return func(k string) bool { return refersTo(k, key) || refersTo(key, k) }
}

// koreanParticles are the endings a Korean noun takes in a line (case
// and topic particles, the copula): "장터에서", "장쇠는", "주막이요".
// Only these may follow a shared stem, so "이름났다" (is famous) does not
// name "이름" (name).
var koreanParticles = map[string]bool{"": true, "은": true, "는": true, "이": true, "가": true, "을": true, "를": true,
	"에": true, "의": true, "도": true, "로": true, "와": true, "과": true, "야": true, "아": true, "요": true, "나": true,
	"에서": true, "에게": true, "한테": true, "으로": true, "까지": true, "부터": true, "처럼": true, "이랑": true, "랑": true,
	"이나": true, "께": true, "이요": true, "예요": true, "이야": true, "이다": true, "이지": true, "은요": true, "는요": true}

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
