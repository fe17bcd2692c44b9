package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func addSeeds(f *testing.F) {
	for _, s := range roundTripTexts {
		f.Add(s)
	}
	f.Add("\xff\xfe invalid \xc3")
}

// FuzzBPERoundTrip: byte-level BPE must never panic and must reproduce any
// input exactly, valid UTF-8 or not, through Decode and the streaming
// Decoder, with every pre-tokenizer.
func FuzzBPERoundTrip(f *testing.F) {
	addSeeds(f)
	toks := []*Tokenizer{
		newTinyBPE("h e", "l l", "he ll", "hell o", "Ġ t", "Ġt he", "a a", "aa aa").build(f, "gpt2"),
		newTinyBPE("Ġ t", "Ġt he", "a a", "aa aa").build(f, "qwen2"),
		newTinyBPE("Ġ t", "Ġt he", "a a").build(f, "llama3"),
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range toks {
			ids := tok.Encode(s)
			if got := tok.Decode(ids); got != s {
				t.Fatalf("%s: Decode(Encode(%q)) = %q", tok.bpe.pre.name(), s, got)
			}
			if utf8.ValidString(s) {
				if got := streamed(tok, ids); got != s {
					t.Fatalf("streamed decode of Encode(%q) = %q", s, got)
				}
			}
			special := tok.EncodeSpecial(s)
			if got := tok.Decode(special); !strings.Contains(s, "<|") && got != s {
				t.Fatalf("Decode(EncodeSpecial(%q)) = %q", s, got)
			}
		}
	})
}

// FuzzSPMRoundTrip: SentencePiece must never panic and must reproduce valid
// UTF-8 text; text holding "▁" itself cannot survive, as in SentencePiece,
// since "▁" is how spaces are stored.
func FuzzSPMRoundTrip(f *testing.F) {
	addSeeds(f)
	toks := []*Tokenizer{tinySPM(f, true), tinySPM(f, false)}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range toks {
			ids := tok.Encode(s)
			tok.EncodeSpecial(s)
			if !utf8.ValidString(s) || strings.Contains(s, spaceMark) {
				continue
			}
			if got := tok.Decode(ids); got != s {
				t.Fatalf("Decode(Encode(%q)) = %q (ids %v)", s, got, ids)
			}
			if got := streamed(tok, ids); got != s {
				t.Fatalf("streamed decode of Encode(%q) = %q", s, got)
			}
		}
	})
}
