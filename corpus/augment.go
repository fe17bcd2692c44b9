package corpus

import (
	"math/rand/v2"
	"strings"
)

// Phrasing augmentation (SetAugment). The held-out split's player lines are
// phrasings the model never saw, and the embedded model failed most of them
// where the training set had only a handful of phrasings of a kind (asked
// "Tell me about Mara", it did not see a question about Mara). Training
// lines that vary around their slots — a lead-in before them, a word
// missing from them — teach a small model that the person, place or item a
// line names carries the request, not the exact words around it. The
// slots themselves ({npc}, {place}, {item}...) are never touched, so the
// label stays right.

// Rates in percent, each drawn on its own.
const (
	leadInRate  = 25
	dropoutRate = 25
)

// leadIns are neutral openings: none greets, thanks, threatens or asks,
// so a line keeps its kind with any of them before it. Logically constant.
var leadIns = map[Lang][]string{
	English: {"Hm.", "Right.", "Well.", "Listen.", "Look.", "Oh.", "Okay.", "So.", "Ah.", "Now then.", "Say.", "One thing."},
	Korean:  {"음.", "저기.", "그래서.", "있잖아.", "아.", "자.", "근데.", "흠.", "그럼.", "저기요.", "아무튼.", "참."},
}

// noAugment are the kinds whose exact words matter: an injection attempt
// is its text, and an introduction's name must stay where the reply copies
// it from.
var noAugment = map[string]bool{"injection": true, "intro": true}

// noDropout are the kinds whose few words are the whole point (a promise
// kept or broken, a name recalled): a missing word could turn one into
// another. Logically constant.
var noDropout = map[string]bool{"promise": true, "promise_kept": true, "promise_broken": true, "recall": true, "hello_again": true, "ask_name": true}

// keepWords mark words that dropout never removes: a negation flips what
// a line asks for. Matched as substrings, lower-cased.
var keepWords = []string{"not", "n't", "no", "never", "don", "안", "못", "마", "말"}

// augment returns the player line template tpl of kind, varied (or not)
// by r. It works on the template, before fill, so slot values are whole.
func augment(r *rand.Rand, lang Lang, kind, tpl string) string {
	if noAugment[kind] {
		return tpl
	}
	// Dropout only where a slot names what the line is about: without
	// one, the words are all there is to go by.
	if r.IntN(100) < dropoutRate && !noDropout[kind] && strings.Contains(tpl, "{") {
		tpl = dropWord(r, tpl)
	}
	if r.IntN(100) < leadInRate {
		tpl = pick(r, leadIns[lang]) + " " + tpl
	}
	return tpl
}

// dropWord removes one word of tpl that is not a slot, not a negation and
// not the last word (which carries the punctuation). Lines of fewer than
// four words are left whole: what is left of them says too little.
func dropWord(r *rand.Rand, tpl string) string {
	if strings.Contains(tpl, "\n") {
		return tpl
	}
	words := strings.Split(tpl, " ")
	if len(words) < 4 {
		return tpl
	}
	var cand []int
	for i, w := range words[:len(words)-1] {
		if w == "" || strings.ContainsAny(w, "{}") || keeps(w) {
			continue
		}
		cand = append(cand, i)
	}
	if len(cand) == 0 {
		return tpl
	}
	i := cand[r.IntN(len(cand))]
	return strings.Join(append(words[:i:i], words[i+1:]...), " ")
}

func keeps(w string) bool {
	w = strings.ToLower(w)
	for _, k := range keepWords {
		if strings.Contains(w, k) {
			return true
		}
	}
	return false
}
