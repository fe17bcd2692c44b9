package openai

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/sample"
)

// Error is an answer other than success: the HTTP status and the body
// that says why. Parsing returns it for every request it refuses, always
// with a 4xx status.
type Error struct {
	Status int
	Body   ErrorBody
}

func (e *Error) Error() string {
	return fmt.Sprintf("openai: %d %s: %s", e.Status, e.Body.Type, e.Body.Message)
}

func badRequest(param, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Body: ErrorBody{
		Type: "invalid_request_error", Param: param, Message: fmt.Sprintf(format, args...)}}
}

// limits bound what a request may ask for.
type limits struct {
	context      int // the engine's context in tokens: max_tokens stays below it
	maxMessages  int
	defaultMax   int // max_tokens when absent
	maxStops     int // stop strings
	maxStopBytes int // bytes of one stop string
}

// Bounds on stop strings, as OpenAI sets them (four) and a little more
// generous in length.
const (
	maxStops     = 4
	maxStopBytes = 256
	maxModelName = 256
)

// call is a parsed, validated request, ready for the engine.
type call struct {
	chat         bool
	model        string
	segments     []engine.Segment
	schema       []byte // response_format's JSON schema; nil: free text
	sampling     engine.Sampling
	maxTokens    int
	stop         []string
	stream       bool
	includeUsage bool
}

// ChatML markers, which Qwen models and Anima's embedded model are trained
// on.
const (
	imStart = "<|im_start|>"
	imEnd   = "<|im_end|>"
)

// roles maps the roles a message may have to the role the model sees.
// OpenAI's "developer" is its newer name for "system".
var roles = map[string]string{"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}

// parseChat parses and checks the body of a chat completion request, and
// lays its messages out in ChatML. Each message becomes its own segments,
//
//	<|im_start|> (control) · role "\n" content (plain text) · <|im_end|> "\n" (control)
//
// which the engine tokenizes exactly as tokenizer.EncodeChatML does, one
// message at a time: a conversation that grows by a message keeps every
// earlier token, so its prefix stays in the KV cache. Contents are plain
// text, so a user who writes "<|im_end|>" cannot close their turn.
func parseChat(body []byte, lim limits) (*call, error) {
	var req ChatRequest
	if err := unmarshal(body, &req); err != nil {
		return nil, err
	}
	if len(req.Messages) == 0 {
		return nil, badRequest("messages", "messages: want at least one message")
	}
	if len(req.Messages) > lim.maxMessages {
		return nil, badRequest("messages", "messages: %d messages; at most %d are accepted", len(req.Messages), lim.maxMessages)
	}
	c := &call{chat: true, model: req.Model}
	c.segments = make([]engine.Segment, 0, 3*len(req.Messages)+2)
	for i, m := range req.Messages {
		role, ok := roles[m.Role]
		if !ok {
			return nil, badRequest(fmt.Sprintf("messages[%d].role", i), "messages[%d].role: %q is not one of system, developer, user, assistant", i, m.Role)
		}
		c.segments = append(c.segments,
			engine.Segment{Text: imStart, Special: true},
			engine.Segment{Text: role + "\n" + string(m.Content)},
			engine.Segment{Text: imEnd + "\n", Special: true})
	}
	c.segments = append(c.segments, engine.Segment{Text: imStart, Special: true}, engine.Segment{Text: "assistant\n"})
	max := req.MaxTokens
	if req.MaxCompletionTokens != nil {
		max = req.MaxCompletionTokens
	}
	if err := c.params(&req.Params, max, lim); err != nil {
		return nil, err
	}
	return c, nil
}

// parseCompletion parses and checks the body of a text completion request.
// The prompt is raw model text, as vLLM and llama.cpp read it: control-token
// strings in it ("<|im_start|>") are control tokens. It is cut before each
// <|im_start|> into segments (which tokenize exactly as the whole would), so
// the engine's tokenization cache keeps each turn of a long prompt.
func parseCompletion(body []byte, lim limits) (*call, error) {
	var req CompletionRequest
	if err := unmarshal(body, &req); err != nil {
		return nil, err
	}
	if req.Prompt == "" {
		return nil, badRequest("prompt", "prompt: want a non-empty prompt")
	}
	c := &call{model: req.Model}
	p := string(req.Prompt)
	for len(c.segments) < lim.maxMessages {
		i := strings.Index(p[min(1, len(p)):], imStart)
		if i < 0 {
			break
		}
		i++
		c.segments = append(c.segments, engine.Segment{Text: p[:i], Special: true})
		p = p[i:]
	}
	c.segments = append(c.segments, engine.Segment{Text: p, Special: true})
	if err := c.params(&req.Params, req.MaxTokens, lim); err != nil {
		return nil, err
	}
	return c, nil
}

// unmarshal decodes body into v, turning every failure into a 400 that
// says where.
func unmarshal(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return badRequest("", "the body is not valid JSON: %v (at byte %d)", se, se.Offset)
		case errors.As(err, &te):
			return badRequest(te.Field, "%s: want a JSON %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return badRequest("", "the body is not a valid request: %v", err)
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "int", "int64", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "slice":
		return "array"
	}
	return "object"
}

// params checks the settings both endpoints share and fills c with them.
func (c *call) params(p *Params, maxTokens *int, lim limits) error {
	if len(c.model) > maxModelName {
		return badRequest("model", "model: a name of %d bytes; at most %d", len(c.model), maxModelName)
	}
	if p.N != nil && *p.N != 1 {
		return badRequest("n", "n: only one choice per request is supported, not %d", *p.N)
	}
	if set(p.Logprobs) {
		return badRequest("logprobs", "logprobs: not supported")
	}
	if set(p.Tools) {
		return badRequest("tools", "tools: not supported; use response_format json_schema for structured output")
	}
	c.stream = p.Stream
	c.includeUsage = p.Stream && p.StreamOptions != nil && p.StreamOptions.IncludeUsage

	c.maxTokens = lim.defaultMax
	if maxTokens != nil {
		n := *maxTokens
		if n < 1 || n >= lim.context {
			return badRequest("max_tokens", "max_tokens: %d; want 1 to %d (the context holds %d tokens, prompt included)", n, lim.context-1, lim.context)
		}
		c.maxTokens = n
	}

	// OpenAI's defaults: temperature 1, top_p 1.
	s := sample.Params{Temperature: 1}
	if v := p.Temperature; v != nil {
		if !(*v >= 0 && *v <= 2) {
			return badRequest("temperature", "temperature: %v; want 0 to 2", *v)
		}
		s.Temperature = float32(*v)
	}
	if v := p.TopP; v != nil {
		if !(*v > 0 && *v <= 1) {
			return badRequest("top_p", "top_p: %v; want more than 0, at most 1", *v)
		}
		s.TopP = float32(*v)
	}
	if v := p.TopK; v != nil {
		if *v < 0 && *v != -1 { // -1 is vLLM's "off"
			return badRequest("top_k", "top_k: %d; want 0 (or -1) for off, or a positive count", *v)
		}
		s.TopK = max(*v, 0)
	}
	if v := p.MinP; v != nil {
		if !(*v >= 0 && *v <= 1) {
			return badRequest("min_p", "min_p: %v; want 0 to 1", *v)
		}
		s.MinP = float32(*v)
	}
	c.sampling = engine.Sampling{Params: s, Seed: rand.Uint64()}
	if p.Seed != nil {
		c.sampling.Seed = uint64(*p.Seed)
	}

	if len(p.Stop) > maxStops {
		return badRequest("stop", "stop: %d strings; at most %d", len(p.Stop), maxStops)
	}
	for i, s := range p.Stop {
		if s == "" || len(s) > maxStopBytes {
			return badRequest("stop", "stop[%d]: %d bytes; want 1 to %d", i, len(s), maxStopBytes)
		}
	}
	c.stop = p.Stop

	if rf := p.ResponseFormat; rf != nil {
		switch rf.Type {
		case "text", "":
		case "json_object":
			c.schema = []byte(`{"type":"object"}`)
		case "json_schema":
			if rf.JSONSchema == nil || !set(rf.JSONSchema.Schema) {
				return badRequest("response_format", `response_format: type "json_schema" needs {"json_schema": {"schema": {...}}}`)
			}
			c.schema = rf.JSONSchema.Schema
		default:
			return badRequest("response_format", "response_format: type %q; want text, json_object or json_schema", rf.Type)
		}
	}
	return nil
}

// set reports whether a raw JSON field holds something other than null,
// false or an empty array.
func set(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null" && s != "false" && s != "[]"
}
