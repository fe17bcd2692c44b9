package tokenizer

import (
	"strings"
	"testing"
)

// npcText is the kind of text the server encodes: persona, lore, dialogue.
const npcText = "You are Brom, the blacksmith of Eastfold. You are gruff but fair, " +
	"and you remember every debt. The player says: \"Can you fix my sword? " +
	"I'll pay 30 gold.\" 안녕하세요, 대장장이님! 검을 고쳐 주실 수 있나요? 🔥\n\n"

func benchEncode(b *testing.B, text string) {
	tok := referenceTokenizer(b)
	n := len(tok.Encode(text))
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		tok.Encode(text)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkEncode: a thousand-token prompt, as NPC prompts run, with the
// per-word cache warm.
func BenchmarkEncode(b *testing.B) { benchEncode(b, strings.Repeat(npcText, 10)) }

// BenchmarkEncodeLongWord: 64 KiB without a split point, which an O(n²)
// merge loop would make quadratic.
func BenchmarkEncodeLongWord(b *testing.B) { benchEncode(b, strings.Repeat("ab", 32<<10)) }

func BenchmarkDecodeStream(b *testing.B) {
	tok := referenceTokenizer(b)
	ids := tok.Encode(strings.Repeat(npcText, 10))
	b.ResetTimer()
	for b.Loop() {
		d := tok.NewDecoder()
		for _, id := range ids {
			d.Add(id)
		}
	}
	b.ReportMetric(float64(len(ids))*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}
