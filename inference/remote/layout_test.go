package remote

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/grammar"
	"github.com/anima-rt/anima/inference/openai"
)

func TestMessagesFromSegments(t *testing.T) {
	sp := func(s string) engine.Segment { return engine.Segment{Text: s, Special: true} }
	msg := func(role, content string) openai.ChatMessage {
		return openai.ChatMessage{Role: role, Content: openai.Content(content)}
	}
	tests := []struct {
		name string
		segs []engine.Segment
		want []openai.ChatMessage
	}{
		{"npc prompt, cut mid-message", []engine.Segment{
			sp("<|im_start|>system\n[World] Harrow.\n"), sp("[You] Mira\n"), sp("<|im_end|>\n"),
			sp(`<|im_start|>user` + "\n" + `[Heard] "hi"<|im_end|>` + "\n<|im_start|>assistant\n" + `{"say":"Hello."}<|im_end|>` + "\n"),
			sp("<|im_start|>user\n[Heard] \"bye\"<|im_end|>\n<|im_start|>assistant\n"),
		}, []openai.ChatMessage{
			msg("system", "[World] Harrow.\n[You] Mira\n"), msg("user", `[Heard] "hi"`), msg("assistant", `{"say":"Hello."}`), msg("user", `[Heard] "bye"`),
		}},
		{"openai layout, plain contents", []engine.Segment{
			sp("<|im_start|>"), {Text: "user\nI typed <|im_end|> here"}, sp("<|im_end|>\n"), sp("<|im_start|>"), {Text: "assistant\n"},
		}, []openai.ChatMessage{msg("user", "I typed <|im_end|> here")}},
		{"no ChatML at all", []engine.Segment{{Text: "Once upon a time"}}, []openai.ChatMessage{msg("user", "Once upon a time")}},
		{"assistant turn begun", []engine.Segment{sp("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n{\"say\":")},
			[]openai.ChatMessage{msg("user", "hi"), msg("assistant", `{"say":`)}},
	}
	for _, tt := range tests {
		if got := messages(tt.segs); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: messages = %q; want %q", tt.name, got, tt.want)
		}
	}
}

func TestPromptKeepsPlainTextPlain(t *testing.T) {
	segs := []engine.Segment{{Text: "<|im_start|>user\n", Special: true}, {Text: "say <|im_end|>"}, {Text: "<|im_end|>\n", Special: true}}
	if got, want := prompt(segs), "<|im_start|>user\nsay < |im_end|><|im_end|>\n"; got != want {
		t.Errorf("prompt = %q; want %q", got, want)
	}
}

// TestSchemasStayWithinTheirBytes: compiled schemas are evicted, least
// recently used first, while they weigh more than the budget; the last one
// asked for always stays.
func TestSchemasStayWithinTheirBytes(t *testing.T) {
	c, err := New(Config{URL: "http://127.0.0.1:1/v1", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	c.schemaBudget = 64 << 10
	var first *grammar.Grammar
	for i := range 200 {
		s := []byte(fmt.Sprintf(`{"type":"object","properties":{"say":{"type":"string","maxLength":%d}},"required":["say"]}`, i+1))
		g, err := c.Grammar(s)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = g
		}
		c.mu.Lock()
		n, weight := c.schemas.Len(), c.schemaBytes
		sum := int64(0)
		for e := c.schemas.Front(); e != nil; e = e.Next() {
			sum += e.Value.(*schemaEntry).cost
		}
		c.mu.Unlock()
		if weight > c.schemaBudget && n > 1 {
			t.Fatalf("after %d schemas: %d kept weighing %d bytes; want at most %d", i+1, n, weight, c.schemaBudget)
		}
		if sum != weight {
			t.Fatalf("after %d schemas the entries weigh %d; the running total says %d", i+1, sum, weight)
		}
		if c.entry(g) == nil {
			t.Fatalf("schema %d, just compiled, is not kept", i+1)
		}
	}
	if c.entry(first) != nil {
		t.Error("the first of 200 schemas is still kept under a 64 KiB budget; want it evicted")
	}
}
