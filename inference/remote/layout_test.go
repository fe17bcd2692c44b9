package remote

import (
	"reflect"
	"testing"

	"github.com/anima-rt/anima/inference/engine"
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
