package memory

import (
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Query is what retrieval scores memories against: usually the current
// stimulus's words (speech heard, names and kinds seen) and the ids of the
// entities involved.
type Query struct {
	Now      time.Time
	Text     string
	Entities []string
}

// Scored is an entry with its retrieval score and the score's parts, each
// in [0, 1].
type Scored struct {
	Entry
	Score, Recency, Importance, Relevance float64
}

// Retrieve returns the k best entries for q, best first. The score is
// Generative Agents': a weighted sum of recency (exponential decay with
// the configured half-life), importance ((imp-1)/9) and relevance (BM25
// of q's terms against the entry's text, plus one per shared entity,
// normalized by the best in the stream). Ties break on Seq, newest first,
// so the result is deterministic.
func (s *Stream) Retrieve(q Query, k int) []Scored {
	return s.retrieve(q, k, nil)
}

func (s *Stream) retrieve(q Query, k int, bonus map[uint64]bool) []Scored {
	if k <= 0 || len(s.entries) == 0 {
		return nil
	}
	rel := s.relevance(q)
	maxRel := 0.0
	for _, r := range rel {
		maxRel = max(maxRel, r)
	}
	// Score into a small index slice and sort that: sorting whole entries
	// costs more in copies and write barriers than scoring them.
	type cand struct {
		i     int
		score float64
	}
	parts := make([][3]float64, len(s.entries)) // recency, importance, relevance
	cands := make([]cand, len(s.entries))
	for i, e := range s.entries {
		age := q.Now.Sub(e.Time)
		rec := 1.0
		if age > 0 {
			rec = math.Exp2(-float64(age) / float64(s.cfg.HalfLife))
		}
		p := [3]float64{rec, float64(e.Importance-1) / 9, 0}
		if maxRel > 0 {
			p[2] = rel[i] / maxRel
		}
		sc := s.cfg.WRecency*p[0] + s.cfg.WImportance*p[1] + s.cfg.WRelevance*p[2]
		if bonus[e.Seq] {
			sc += s.cfg.Sticky
		}
		parts[i], cands[i] = p, cand{i, sc}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return cmpU64(s.entries[b.i].Seq, s.entries[a.i].Seq)
	})
	out := make([]Scored, min(k, len(cands)))
	for n := range out {
		c := cands[n]
		e := s.entries[c.i]
		e.tokens = nil
		e.Entities = slices.Clone(e.Entities)
		p := parts[c.i]
		out[n] = Scored{Entry: e, Score: c.score, Recency: p[0], Importance: p[1], Relevance: p[2]}
	}
	return out
}

// Digest returns the k memory lines for the prompt's [Memory] block: the
// best k by Retrieve's score, in the order they happened (oldest first),
// so that the block reads as a story and its text stays the same while the
// same memories are chosen. Entries of the previous digest get a small
// bonus (Config.Sticky), so the block, which sits before the conversation
// in the prompt, changes only when something clearly more relevant comes
// along; an unchanged block keeps the cached prompt prefix valid.
func (s *Stream) Digest(q Query, k int) []string {
	best := s.retrieve(q, k, s.digest)
	slices.SortFunc(best, func(a, b Scored) int { return cmpU64(a.Seq, b.Seq) })
	s.digest = make(map[uint64]bool, len(best))
	lines := make([]string, len(best))
	for i, e := range best {
		s.digest[e.Seq] = true
		lines[i] = e.Text
	}
	return lines
}

// BM25 parameters, the usual ones.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// relevance returns each entry's raw relevance to q: BM25 over the
// stream's entries plus one per entity id shared with q.
func (s *Stream) relevance(q Query) []float64 {
	rel := make([]float64, len(s.entries))
	qt := terms(q.Text)
	slices.Sort(qt)
	qt = slices.Compact(qt)
	if len(qt) > 0 {
		// One pass over the stream's terms, counting each query term per
		// entry: a map lookup per term, not a scan per query term.
		qi := make(map[string]int, len(qt))
		for i, t := range qt {
			qi[t] = i
		}
		tf := make([]float64, len(s.entries)*len(qt)) // (entry, query term)
		df := make([]float64, len(qt))
		total := 0
		for i := range s.entries {
			toks := s.entries[i].tokens
			total += len(toks)
			row := tf[i*len(qt) : (i+1)*len(qt)]
			for _, x := range toks {
				if j, ok := qi[x]; ok {
					if row[j] == 0 {
						df[j]++
					}
					row[j]++
				}
			}
		}
		n := float64(len(s.entries))
		avg := max(float64(total)/n, 1)
		idf := make([]float64, len(qt))
		for j := range qt {
			idf[j] = math.Log(1 + (n-df[j]+0.5)/(df[j]+0.5))
		}
		for i := range s.entries {
			norm := bm25K1 * (1 - bm25B + bm25B*float64(len(s.entries[i].tokens))/avg)
			for j, f := range tf[i*len(qt) : (i+1)*len(qt)] {
				if f > 0 {
					rel[i] += idf[j] * f * (bm25K1 + 1) / (f + norm)
				}
			}
		}
	}
	for i := range s.entries {
		for _, id := range q.Entities {
			if id != "" && slices.Contains(s.entries[i].Entities, id) {
				rel[i]++
			}
		}
	}
	return rel
}

// stopWords is logically constant: English words too common to tell
// memories apart.
var stopWords = map[string]bool{
	"the": true, "a": true, "an": true, "and": true, "or": true, "to": true, "of": true, "in": true, "on": true,
	"at": true, "is": true, "are": true, "was": true, "were": true, "it": true, "you": true, "your": true, "i": true,
	"me": true, "my": true, "we": true, "he": true, "she": true, "they": true, "this": true, "that": true,
	"for": true, "with": true, "from": true, "be": true, "do": true, "did": true, "have": true, "has": true,
	"said": true, "told": true, "can": true, "what": true, "so": true, "but": true, "not": true,
}

// terms splits text into lexical terms: lower-cased words of letters and
// digits, without English stop words; a Hangul word also yields its first
// two syllables, a crude stem that lets "대장간에" match "대장간".
func terms(text string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if stopWords[w] {
			continue
		}
		if r := []rune(w); len(r) > 2 && unicode.Is(unicode.Hangul, r[0]) {
			out = append(out, string(r[:2]))
		}
		out = append(out, w)
		if len(out) >= 256 {
			break
		}
	}
	return out
}
