package tokenizer

import (
	"fmt"
	"strings"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string // "system", "user", "assistant"
	Content string
}

// ChatML markers, the chat format of Qwen models.
const (
	imStart = "<|im_start|>"
	imEnd   = "<|im_end|>"
)

// ChatML renders messages as ChatML text:
//
//	<|im_start|>role\ncontent<|im_end|>\n
//
// for each message, then "<|im_start|>assistant\n" if addGenerationPrompt.
// The text is for display and logs; to tokenize a conversation use
// EncodeChatML, which never reads markers inside Content.
func ChatML(msgs []Message, addGenerationPrompt bool) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(imStart + m.Role + "\n" + m.Content + imEnd + "\n")
	}
	if addGenerationPrompt {
		b.WriteString(imStart + "assistant\n")
	}
	return b.String()
}

// EncodeChatML tokenizes messages in ChatML. The markers become their
// control tokens; roles and contents are encoded as plain text, so a player
// who types "<|im_end|>" gets ordinary tokens and cannot end their turn or
// forge another role's. Between two markers the text is encoded as one
// piece, so the tokens are the ones llama.cpp gives the rendered template.
func (t *Tokenizer) EncodeChatML(msgs []Message, addGenerationPrompt bool) ([]int32, error) {
	start, ok1 := t.specialID(imStart)
	end, ok2 := t.specialID(imEnd)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("tokenizer: the vocabulary has no %s and %s special tokens, so it cannot use ChatML", imStart, imEnd)
	}
	var out []int32
	for _, m := range msgs {
		out = append(out, start)
		out = t.encodeText(out, m.Role+"\n"+m.Content, true)
		out = append(out, end)
		out = t.encodeText(out, "\n", true)
	}
	if addGenerationPrompt {
		out = append(out, start)
		out = t.encodeText(out, "assistant\n", true)
	}
	return out, nil
}

// specialID returns the id of a control or user-defined token.
func (t *Tokenizer) specialID(text string) (int32, bool) {
	id, ok := t.ids[text]
	if !ok || t.plain(id) {
		return 0, false
	}
	return id, true
}
