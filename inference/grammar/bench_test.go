package grammar

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/tokenizer"
)

// typicalDecision is the output measured: an NPC decision of typical length.
const typicalDecision = `{"emotion":"wary","action":{"name":"follow","target":"player_1"},"say":"Stay close. The bridge isn't safe after dark, and the wolves know it."}`

// syntheticVocab grows the reference vocabulary (or the small one) to n
// tokens with deterministic random pieces shaped like a real BPE
// vocabulary's: words with and without a leading space, punctuation runs
// with quotes and braces, digits, and Hangul.
func syntheticVocab(b testing.TB, n int) *Vocab {
	b.Helper()
	var base *Vocab
	if n <= 4096 {
		return referenceVocabOrSmall(b)
	}
	base = referenceVocabOrSmall(b)
	toks := make([][]byte, 0, n)
	for id := range base.Size() {
		if !base.isEOG(int32(id)) {
			toks = append(toks, base.Token(int32(id)))
		}
	}
	rng := rand.New(rand.NewPCG(42, uint64(n)))
	seen := map[string]bool{}
	for _, t := range toks {
		seen[string(t)] = true
	}
	const letters = "etaoinshrdlcumwfgypbvkjxqz"
	const punct = `.,!?'":;{}[]()-_/\`
	for len(toks) < n-2 {
		var sb strings.Builder
		switch k := rng.IntN(10); {
		case k < 6:
			if rng.IntN(2) == 0 {
				sb.WriteByte(' ')
			}
			if rng.IntN(5) == 0 {
				sb.WriteByte(letters[rng.IntN(26)] - 32)
			}
			for range 2 + rng.IntN(8) {
				sb.WriteByte(letters[min(rng.IntN(26), rng.IntN(26))])
			}
		case k < 8:
			for range 1 + rng.IntN(4) {
				sb.WriteByte(punct[rng.IntN(len(punct))])
			}
		case k < 9:
			for range 1 + rng.IntN(3) {
				sb.WriteByte('0' + byte(rng.IntN(10)))
			}
		default:
			for range 1 + rng.IntN(2) {
				sb.WriteRune(rune(0xAC00 + rng.IntN(11172)))
			}
		}
		if s := sb.String(); !seen[s] {
			seen[s] = true
			toks = append(toks, []byte(s))
		}
	}
	toks = append(toks, nil, nil)
	v, err := NewVocab(toks, []int32{int32(len(toks) - 2), int32(len(toks) - 1)}, int32(len(toks)-1), nil)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// referenceVocabOrSmall is the reference vocabulary when present, else the
// small one, without the sub-benchmark a Skip would need.
func referenceVocabOrSmall(b testing.TB) *Vocab {
	if _, err := os.Stat(referencePath); err != nil {
		return smallVocab(b)
	}
	f, err := gguf.Open(referencePath)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	tok, err := tokenizer.New(f)
	if err != nil {
		b.Fatal(err)
	}
	v, err := FromTokenizer(tok)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

var benchVocabSizes = []int{4096, 32768, 151936}

func benchVocabs(b *testing.B) map[int]*Vocab {
	vs := map[int]*Vocab{}
	for _, n := range benchVocabSizes {
		vs[n] = syntheticVocab(b, n)
	}
	return vs
}

// replay drives m through text as a model would: forced runs taken whole,
// else the longest allowed token that spells the text. It returns the
// tokens and how many were forced.
func replay(b testing.TB, m *Matcher, text string) (ids []int32, forced int) {
	v := m.g.vocab
	m.Reset()
	pos := 0
	for !m.Done() {
		if f := m.Forced(); len(f) > 0 {
			for _, id := range f {
				if err := m.Accept(id); err != nil {
					b.Fatal(err)
				}
				pos += len(v.Token(id))
				ids = append(ids, id)
				forced++
			}
			continue
		}
		mask := m.Mask()
		best, bestLen := int32(-1), 0
		for _, id := range mask.AppendIDs(nil) {
			t := v.Token(id)
			if len(t) > bestLen && strings.HasPrefix(text[pos:], string(t)) {
				best, bestLen = id, len(t)
			}
			if pos == len(text) && v.isEOG(id) && best < 0 {
				best = id
			}
		}
		if best < 0 {
			b.Fatalf("no allowed token spells %q", text[pos:])
		}
		if err := m.Accept(best); err != nil {
			b.Fatal(err)
		}
		pos += bestLen
		ids = append(ids, best)
	}
	if pos != len(text) {
		b.Fatalf("replay spelled %d of %d bytes", pos, len(text))
	}
	return ids, forced
}

// BenchmarkDecisionStep is the grammar's cost per decoded token of a
// typical NPC decision, warm: Allowed and then a gather of the allowed
// logits (sparse states) or ApplyMask (free text) for each sampled token,
// Accept for every token, Forced once per step. It reports the share of
// tokens forced (appended without a model step).
func BenchmarkDecisionStep(b *testing.B) {
	for n, v := range benchVocabs(b) {
		b.Run(fmt.Sprintf("vocab=%d", n), func(b *testing.B) {
			g, err := Compile([]byte(npcSchema), v)
			if err != nil {
				b.Fatal(err)
			}
			m := g.NewMatcher()
			if err := m.StreamField("say"); err != nil {
				b.Fatal(err)
			}
			ids, forced := replay(b, m, typicalDecision)
			logits := make([]float32, v.Size())
			var delta []byte
			gathered := make([]float32, 0, MaxSparse)
			b.ResetTimer()
			for b.Loop() {
				m.Reset()
				for i := 0; i < len(ids); {
					if f := m.Forced(); len(f) > 0 {
						for _, id := range f {
							_ = m.Accept(id)
						}
						i += len(f)
						continue
					}
					// As the scheduler samples: gather the few allowed
					// logits, or mask the whole row.
					if mask, sparse := m.Allowed(); sparse != nil {
						gathered = gathered[:0]
						for _, id := range sparse {
							gathered = append(gathered, logits[id])
						}
					} else {
						ApplyMask(logits, mask)
					}
					_ = m.Accept(ids[i])
					delta = m.AppendDelta(delta[:0])
					i++
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ids)), "ns/token")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ids)-forced), "ns/sampled")
			b.ReportMetric(100*float64(forced)/float64(len(ids)), "forced%")
			b.ReportMetric(float64(len(ids)), "tokens")
		})
	}
}

// BenchmarkMask is Mask alone in a state already cached, inside the free
// say text (the common decode step) and at the emotion enum.
func BenchmarkMask(b *testing.B) {
	for n, v := range benchVocabs(b) {
		g, err := Compile([]byte(npcSchema), v)
		if err != nil {
			b.Fatal(err)
		}
		for _, at := range []string{`{"emotion":"`, `{"emotion":"wary","action":{"name":"idle"},"say":"Stay close`} {
			m := g.NewMatcher()
			for _, id := range v.tokenize([]byte(at)) {
				if err := m.Accept(id); err != nil {
					b.Fatal(err)
				}
			}
			name := "enum"
			if strings.Contains(at, "say") {
				name = "string"
			}
			b.Run(fmt.Sprintf("vocab=%d/%s/cached", n, name), func(b *testing.B) {
				m.Mask()
				for b.Loop() {
					m.Mask()
				}
			})
			b.Run(fmt.Sprintf("vocab=%d/%s/cold", n, name), func(b *testing.B) {
				mask := NewBitset(v.Size())
				for b.Loop() {
					g.mu.Lock()
					g.computeMask(mask, m.cur)
					g.mu.Unlock()
				}
				b.ReportMetric(float64(mask.Count()), "allowed")
			})
			b.Run(fmt.Sprintf("vocab=%d/%s/apply", n, name), func(b *testing.B) {
				logits := make([]float32, v.Size())
				mask := m.Mask()
				for b.Loop() {
					ApplyMask(logits, mask)
				}
			})
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	v := syntheticVocab(b, 4096)
	for b.Loop() {
		if _, err := Compile([]byte(npcSchema), v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFirstDecision is a whole typical decision on a freshly compiled
// grammar: compile, then every mask and forced run computed cold, the cost
// a new NPC schema pays once (the token choices are replayed, not
// searched).
func BenchmarkFirstDecision(b *testing.B) {
	for n, v := range benchVocabs(b) {
		b.Run(fmt.Sprintf("vocab=%d", n), func(b *testing.B) {
			warm, err := Compile([]byte(npcSchema), v)
			if err != nil {
				b.Fatal(err)
			}
			ids, _ := replay(b, warm.NewMatcher(), typicalDecision)
			for b.Loop() {
				g, err := Compile([]byte(npcSchema), v)
				if err != nil {
					b.Fatal(err)
				}
				m := g.NewMatcher()
				for i := 0; i < len(ids); {
					if f := m.Forced(); len(f) > 0 {
						for _, id := range f {
							_ = m.Accept(id)
						}
						i += len(f)
						continue
					}
					m.Allowed()
					_ = m.Accept(ids[i])
					i++
				}
			}
		})
	}
}

// BenchmarkStringTable is the one-time cost per vocabulary of splitting
// its tokens for free strings (one string sub-state).
func BenchmarkStringTable(b *testing.B) {
	for n, v := range benchVocabs(b) {
		b.Run(fmt.Sprintf("vocab=%d", n), func(b *testing.B) {
			for b.Loop() {
				v.mu.Lock()
				v.strTables = nil
				v.mu.Unlock()
				v.strTable(sChar)
			}
		})
	}
}
