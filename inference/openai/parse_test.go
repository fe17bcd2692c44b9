package openai

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

var testLimits = limits{context: 1024, maxMessages: 16, defaultMax: 64}

func TestParseRefusesBadRequests(t *testing.T) {
	long := `"` + strings.Repeat("x", maxStopBytes+1) + `"`
	tests := []struct {
		name, body, want string
	}{
		{"not JSON", `{"messages": [`, "not valid JSON"},
		{"wrong type", `{"messages": "hello"}`, "messages: want a JSON array"},
		{"no messages", `{"model": "anima"}`, "at least one message"},
		{"unknown role", `{"messages": [{"role": "wizard", "content": "hi"}]}`, `"wizard" is not one of`},
		{"tool role", `{"messages": [{"role": "tool", "content": "42"}]}`, `"tool" is not one of`},
		{"image part", `{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}`, "only text content parts"},
		{"null content", `{"messages": [{"role": "user", "content": null}]}`, "content is null"},
		{"too many messages", `{"messages": [` + strings.Repeat(`{"role":"user","content":""},`, 16) + `{"role":"user","content":""}]}`, "at most 16"},
		{"absurd max_tokens", `{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000000000}`, "max_tokens: 1000000000; want 1 to 1023"},
		{"zero max_tokens", `{"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 0}`, "max_tokens: 0"},
		{"hot temperature", `{"messages": [{"role": "user", "content": "hi"}], "temperature": 7}`, "temperature: 7; want 0 to 2"},
		{"top_p zero", `{"messages": [{"role": "user", "content": "hi"}], "top_p": 0}`, "top_p: 0"},
		{"n of 2", `{"messages": [{"role": "user", "content": "hi"}], "n": 2}`, "only one choice"},
		{"logprobs", `{"messages": [{"role": "user", "content": "hi"}], "logprobs": true}`, "logprobs: not supported"},
		{"tools", `{"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]}`, "tools: not supported"},
		{"five stops", `{"messages": [{"role": "user", "content": "hi"}], "stop": ["a","b","c","d","e"]}`, "stop: 5 strings"},
		{"long stop", `{"messages": [{"role": "user", "content": "hi"}], "stop": ` + long + `}`, "stop[0]: 257 bytes"},
		{"empty stop", `{"messages": [{"role": "user", "content": "hi"}], "stop": [""]}`, "stop[0]: 0 bytes"},
		{"schema missing", `{"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_schema"}}`, `needs {"json_schema"`},
		{"odd format", `{"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "yaml"}}`, `type "yaml"`},
	}
	for _, tt := range tests {
		_, err := parseChat([]byte(tt.body), testLimits)
		e, ok := errors.AsType[*Error](err)
		if !ok || e.Status != http.StatusBadRequest || !strings.Contains(e.Body.Message, tt.want) {
			t.Errorf("%s: parseChat(%.60q) = %v; want a 400 saying %q", tt.name, tt.body, err, tt.want)
		}
	}
}

func TestParseCompletionPrompt(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{`{"prompt": ""}`, "non-empty prompt"},
		{`{"prompt": ["a", "b"]}`, "batches of prompts are not supported"},
		{`{"prompt": [1, 2, 3]}`, "a string or an array of one string"},
	} {
		if _, err := parseCompletion([]byte(tt.body), testLimits); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseCompletion(%s) = %v; want an error saying %q", tt.body, err, tt.want)
		}
	}
	c, err := parseCompletion([]byte(`{"prompt": ["<|im_start|>system\nlore<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"], "max_tokens": 8, "seed": 3}`), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range c.segments {
		if !s.Special {
			t.Errorf("segment %q is plain text; a completion prompt is raw model text", s.Text)
		}
		got = append(got, s.Text)
	}
	want := []string{"<|im_start|>system\nlore<|im_end|>\n", "<|im_start|>user\nhi<|im_end|>\n", "<|im_start|>assistant\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("segments = %q; want %q", got, want)
	}
	if c.maxTokens != 8 || c.sampling.Seed != 3 || c.sampling.Temperature != 1 {
		t.Errorf("max_tokens %d, seed %d, temperature %v; want 8, 3 and OpenAI's default 1", c.maxTokens, c.sampling.Seed, c.sampling.Temperature)
	}
}

func TestStopperHoldsBackPartialStops(t *testing.T) {
	tests := []struct {
		stops  []string
		deltas []string
		want   string // what was sent, "|" between pushes
		hit    bool
	}{
		{nil, []string{"ab", "cd"}, "ab|cd", false},
		{[]string{"END"}, []string{"hello E", "N", "D and more"}, "hello ||", true},
		{[]string{"END"}, []string{"hello E", "N", "o"}, "hello ||ENo", false},
		{[]string{"\n\n", "}"}, []string{`{"a":1`, `}`}, `{"a":1|`, true},
		{[]string{"xyz", "yq"}, []string{"axy", "q"}, "a|x", true},
		{[]string{"é!"}, []string{"caf", "é", "!"}, "caf||", true},
	}
	for _, tt := range tests {
		s := stopper{stops: tt.stops}
		var sent []string
		hit := false
		for _, d := range tt.deltas {
			var out string
			out, hit = s.push(d)
			sent = append(sent, out)
		}
		got := strings.Join(sent, "|")
		if !hit {
			got += s.flush()
		}
		if got != tt.want || hit != tt.hit {
			t.Errorf("stops %q, deltas %q: sent %q (hit %v); want %q (hit %v)", tt.stops, tt.deltas, got, hit, tt.want, tt.hit)
		}
	}
}
