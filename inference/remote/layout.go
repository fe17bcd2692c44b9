package remote

import (
	"strings"

	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/openai"
)

// ChatML markers, in which Anima's prompts are written.
const (
	imStart = "<|im_start|>"
	imEnd   = "<|im_end|>"
)

// messages turns a prompt's segments back into the chat messages they
// spell in ChatML: "<|im_start|>role\ncontent<|im_end|>" for each, with the
// open assistant turn at the end left to the server's chat template
// (add_generation_prompt). Markers count only in Special segments; a plain
// segment's text is always content. Text outside any message (the newline
// after <|im_end|>) is dropped when it is blank and becomes a user message
// otherwise, so a prompt with no ChatML at all is one user message.
//
// The same segments always give the same messages, in the same order and
// bytes, so the server's chat template renders the same prefix on every
// call and its prefix cache hits.
func messages(segs []engine.Segment) []openai.ChatMessage {
	var out []openai.ChatMessage
	var role, content strings.Builder
	open, inRole := false, false
	stray := func(s string) {
		if strings.TrimSpace(s) != "" {
			out = append(out, openai.ChatMessage{Role: "user", Content: openai.Content(s)})
		}
	}
	text := func(s string) {
		for s != "" {
			switch {
			case !open:
				stray(s)
				return
			case inRole:
				r, rest, found := strings.Cut(s, "\n")
				role.WriteString(r)
				if !found {
					return
				}
				inRole, s = false, rest
			default:
				content.WriteString(s)
				return
			}
		}
	}
	for _, seg := range segs {
		s := seg.Text
		for seg.Special && s != "" {
			i := strings.Index(s, "<|im_")
			if i < 0 {
				break
			}
			switch rest := s[i:]; {
			case strings.HasPrefix(rest, imStart):
				text(s[:i])
				if open { // a turn opened inside another: close that one
					out = append(out, openai.ChatMessage{Role: role.String(), Content: openai.Content(content.String())})
				}
				role.Reset()
				content.Reset()
				open, inRole = true, true
				s = rest[len(imStart):]
			case strings.HasPrefix(rest, imEnd):
				text(s[:i])
				if open {
					out = append(out, openai.ChatMessage{Role: role.String(), Content: openai.Content(content.String())})
				}
				open, inRole = false, false
				s = rest[len(imEnd):]
			default:
				text(s[:i+len("<|im_")])
				s = rest[len("<|im_"):]
			}
		}
		text(s)
	}
	if open && !(role.String() == "assistant" && content.Len() == 0) {
		// An assistant turn already begun: sent as a message, which most
		// servers render closed (vLLM's continue_final_message would keep
		// it open).
		out = append(out, openai.ChatMessage{Role: role.String(), Content: openai.Content(content.String())})
	}
	return out
}

// prompt is the segments' text as one completion prompt, byte for byte what
// the native engine would tokenize. Plain segments must not turn into
// control tokens on a server that parses them in prompts (vLLM and
// llama.cpp do), so "<|" in them is written "< |".
func prompt(segs []engine.Segment) string {
	var b strings.Builder
	for _, s := range segs {
		if s.Special {
			b.WriteString(s.Text)
		} else {
			b.WriteString(strings.ReplaceAll(s.Text, "<|", "< |"))
		}
	}
	return b.String()
}
