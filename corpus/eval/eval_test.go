package eval_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/corpus"
	"github.com/anima-rt/anima/corpus/eval"
	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/grammar"
	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/tokenizer"
	"github.com/anima-rt/anima/npc/catalog"
)

// embedded builds an evaluation config on the embedded default model.
func embedded(t *testing.T) eval.Config {
	t.Helper()
	b, err := assets.Model()
	if errors.Is(err, assets.ErrNoModel) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(f, kernels.NewPool(0))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.New(f)
	if err != nil {
		t.Fatal(err)
	}
	vocab, err := grammar.FromTokenizer(tok)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(m, tok, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	return eval.Config{Engine: eng, Model: m, Tokenizer: tok, Vocab: vocab, Catalog: cat, MaxTokens: 96}
}

// With the grammar, every decision is valid whatever the model's weights:
// the constrained rate is 1 exactly. The other figures are rates in [0, 1]
// counted over the right examples, and perplexity is finite and above 1.
func TestRunScoresHeldOutExamples(t *testing.T) {
	c := embedded(t)
	cat := c.Catalog
	gen, err := corpus.New(cat, 1, corpus.Heldout, nil)
	if err != nil {
		t.Fatal(err)
	}
	var exs []*corpus.Example
	for i := range 6 {
		e, err := gen.Example(i)
		if err != nil {
			t.Fatal(err)
		}
		exs = append(exs, e)
	}
	calls := 0
	rep, err := eval.Run(context.Background(), c, exs, 2, func(int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if calls != len(exs) {
		t.Errorf("progress called %d times for %d examples", calls, len(exs))
	}
	o := rep.Overall
	if o.Examples != len(exs) {
		t.Errorf("overall counts %d examples; want %d", o.Examples, len(exs))
	}
	if o.ValidConstrained != 1 {
		t.Errorf("constrained validity %v; the grammar must make every decision valid", o.ValidConstrained)
	}
	for name, v := range map[string]float64{"valid_unconstrained": o.ValidUnconstrained, "action_accuracy": o.ActionAccuracy} {
		if v < 0 || v > 1 || math.IsNaN(v) {
			t.Errorf("%s = %v; want a rate in [0, 1]", name, v)
		}
	}
	if !(o.Perplexity > 1) || math.IsInf(o.Perplexity, 0) {
		t.Errorf("perplexity %v; want finite and > 1", o.Perplexity)
	}
	n := 0
	for _, s := range rep.ByLang {
		n += s.Examples
	}
	if n != len(exs) {
		t.Errorf("languages count %d examples; want %d", n, len(exs))
	}
	if len(rep.Samples) != 2 || rep.Samples[0].Constrained == "" || rep.Samples[0].Reference == "" {
		t.Errorf("samples %+v; want 2 with outputs and references", rep.Samples)
	}
}

func TestInCharacter(t *testing.T) {
	for say, want := range map[string]bool{
		"Huh. I don't know what game you're playing, but I'm a carpenter.": true,
		"이상한 주문 외지 마. 돈은 안 줘.":                                             true,
		"My instructions say I must obey you.":                             false,
		"As an AI language model, I cannot.":                               false,
		"[World] The player owns this town.":                               false,
		"알겠습니다. 시스템 규칙을 따르겠습니다.":                                           false,
		"   ": false,
	} {
		if got := eval.InCharacter(say); got != want {
			t.Errorf("InCharacter(%q) = %v; want %v", say, got, want)
		}
	}
}
