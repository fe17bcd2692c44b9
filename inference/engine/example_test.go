package engine_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/grammar"
	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/sample"
	"github.com/anima-rt/anima/inference/tokenizer"
)

// An NPC decision: the shared lore and persona are their own segments, so
// the next decision of this NPC (or of any NPC on the same lore) reuses
// their KV; the say field streams while the rest of the JSON is decoded.
// (Compiled, not run: it needs a model file.)
func Example() {
	f, err := gguf.Open("model.gguf")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	pool := kernels.NewPool(0)
	defer pool.Close()
	m, err := model.Load(f, pool)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := tokenizer.New(f)
	if err != nil {
		log.Fatal(err)
	}
	vocab, err := grammar.FromTokenizer(tok)
	if err != nil {
		log.Fatal(err)
	}
	g, err := grammar.Compile([]byte(`{"type":"object","properties":{
		"emotion":{"enum":["calm","wary"]},"say":{"type":"string","maxLength":80}},
		"required":["emotion","say"]}`), vocab)
	if err != nil {
		log.Fatal(err)
	}
	e, err := engine.New(m, tok, engine.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	res, err := e.Generate(context.Background(), engine.Request{
		Segments: []engine.Segment{
			{Text: "<|im_start|>system\n", Special: true},
			{Text: "The bridge of Harrow is unsafe after dark.\n"}, // lore
			{Text: "You are Mira, wary of strangers."},             // persona
			{Text: "<|im_end|>\n<|im_start|>user\n", Special: true},
			{Text: "Can I cross tonight?"}, // what the player said: never parsed for control tokens
			{Text: "<|im_end|>\n<|im_start|>assistant\n", Special: true},
		},
		Grammar:     g,
		StreamField: "say",
		Sampling:    engine.Sampling{Params: sample.Params{Temperature: 0.7, TopP: 0.9}, Seed: 1},
		MaxTokens:   64,
		Priority:    2, // player dialogue outranks ambient thinking
		Deadline:    time.Now().Add(2 * time.Second),
	}, func(ev engine.Event) {
		fmt.Print(ev.Field) // the line as it is spoken
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println()
	fmt.Println(res.Text, res.Stats.Finish, res.Stats.ReusedTokens, res.Stats.TTFT)
}
