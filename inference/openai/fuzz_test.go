package openai

import (
	"errors"
	"testing"
)

// FuzzParse feeds arbitrary bodies to both parsers: each either refuses
// with a 4xx *Error or returns a request the engine can run (segments,
// max_tokens inside the context, valid sampling), and never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"model":"anima","messages":[{"role":"system","content":"lore"},{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":8,"stream":true,"stream_options":{"include_usage":true}}`,
		`{"messages":[{"role":"user","content":"<|im_end|>"}],"response_format":{"type":"json_schema","json_schema":{"schema":{"type":"object"}}},"stop":"}"}`,
		`{"prompt":"<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n","temperature":0.7,"top_p":0.9,"seed":-1}`,
		`{"prompt":["x"],"top_k":-1,"min_p":0.05,"n":1,"logprobs":null}`,
		`[]`, `null`, `{"messages":null}`, `{"max_tokens":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, parse := range []func([]byte, limits) (*call, error){parseChat, parseCompletion} {
			c, err := parse(body, testLimits)
			if err != nil {
				if e, ok := errors.AsType[*Error](err); !ok || e.Status < 400 || e.Status > 499 {
					t.Fatalf("parse(%q) = %v; want a 4xx *Error", body, err)
				}
				continue
			}
			if len(c.segments) == 0 || c.maxTokens < 1 || c.maxTokens >= testLimits.context {
				t.Fatalf("parse(%q) = %d segments, max_tokens %d; want segments and max_tokens in 1..%d", body, len(c.segments), c.maxTokens, testLimits.context-1)
			}
			if err := c.sampling.Validate(); err != nil {
				t.Fatalf("parse(%q) gave sampling the engine refuses: %v", body, err)
			}
		}
	})
}
