package grammar_test

import (
	"fmt"

	"github.com/anima-rt/anima/inference/grammar"
)

// A decode loop as the scheduler runs it, with a stand-in model that
// always prefers the token with the highest id it is allowed, and a budget
// of eight steps (a forced run is one step) that runs out in the middle of
// the say field.
func Example() {
	// A byte-level vocabulary: ids 0-255 are the bytes, then a few words,
	// then <|im_end|> (no text), which ends a generation.
	var toks [][]byte
	for b := range 256 {
		toks = append(toks, []byte{byte(b)})
	}
	for _, w := range []string{`{"`, `":"`, "mood", "calm", "wary", "say", "Hello", " there"} {
		toks = append(toks, []byte(w))
	}
	toks = append(toks, nil)
	imEnd := int32(len(toks) - 1)
	vocab, err := grammar.NewVocab(toks, []int32{imEnd}, imEnd, nil)
	if err != nil {
		panic(err)
	}
	g, err := grammar.Compile([]byte(`{"type":"object","properties":{
		"mood":{"enum":["calm","wary"]},
		"say":{"type":"string","maxLength":80}},"required":["mood","say"]}`), vocab)
	if err != nil {
		panic(err)
	}
	m := g.NewMatcher()
	if err := m.StreamField("say"); err != nil {
		panic(err)
	}
	var out, said []byte
	logits := make([]float32, vocab.Size())
	for budget := 8; budget > 0 && !m.Done(); budget-- {
		step := m.Forced() // scaffolding: appended without a model step
		if len(step) == 0 {
			for i := range logits {
				logits[i] = float32(i) // the stand-in model's preference
			}
			mask, _ := m.Allowed()
			grammar.ApplyMask(logits, mask)
			best := int32(0)
			for i, l := range logits {
				if l > logits[best] {
					best = int32(i)
				}
			}
			step = []int32{best}
		}
		for _, id := range step {
			if err := m.Accept(id); err != nil {
				panic(err)
			}
			out = append(out, vocab.Token(id)...)
		}
		said = m.AppendDelta(said)
	}
	if !m.Done() {
		out = append(out, m.Close()...) // out of budget: close validly
		said = m.AppendDelta(said)
	}
	fmt.Println(string(out))
	fmt.Printf("say streamed: %q\n", said)
	// Output:
	// {"mood":"wary","say":" there there there there there"}
	// say streamed: " there there there there there"
}
