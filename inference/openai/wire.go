package openai

import (
	"bytes"
	"encoding/json"
	"errors"
)

// The wire types of the OpenAI API's chat and completions endpoints, as far
// as Anima serves and uses them. Fields that the server must tell apart
// from their zero value (temperature 0, absent max_tokens) are pointers.
// Extensions that vLLM, SGLang and llama.cpp accept (top_k, min_p,
// chat_template_kwargs) are included; fields outside this set are ignored,
// as OpenAI-compatible servers do.

// Params are the settings common to chat and completion requests.
type Params struct {
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"` // chat's newer name for max_tokens
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	TopK                *int            `json:"top_k,omitempty"` // extension
	MinP                *float64        `json:"min_p,omitempty"` // extension
	Seed                *int64          `json:"seed,omitempty"`
	Stop                Stop            `json:"stop,omitempty"`
	N                   *int            `json:"n,omitempty"`
	ResponseFormat      *ResponseFormat `json:"response_format,omitempty"`

	// Refused when set: features whose output Anima cannot produce.
	Logprobs json.RawMessage `json:"logprobs,omitempty"`
	Tools    json.RawMessage `json:"tools,omitempty"`
}

// StreamOptions asks for a final chunk carrying usage.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// ResponseFormat constrains the output: "text" (none), "json_object" or
// "json_schema".
type ResponseFormat struct {
	Type       string      `json:"type"`
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
}

// JSONSchema is response_format's schema and its name.
type JSONSchema struct {
	Name   string          `json:"name,omitempty"`
	Schema json.RawMessage `json:"schema"`
	Strict bool            `json:"strict,omitempty"`
}

// ChatRequest is the body of POST /v1/chat/completions.
type ChatRequest struct {
	Model    string        `json:"model"`
	Messages []ChatMessage `json:"messages"`
	Params
	// ChatTemplateKwargs are passed to the server's chat template (vLLM,
	// SGLang: {"enable_thinking": false} for Qwen3). Anima ignores them.
	ChatTemplateKwargs map[string]any `json:"chat_template_kwargs,omitempty"`
}

// ChatMessage is one message of a conversation.
type ChatMessage struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
}

// Content is a message's text. On the wire it is a string or an array of
// parts, of which Anima accepts only {"type":"text","text":...}; it is
// always written as a string.
type Content string

// errNonText is a content part that is not text.
var errNonText = errors.New("only text content parts are supported")

func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var parts []struct {
			Type string  `json:"type"`
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		var all []byte
		for _, p := range parts {
			if p.Type != "text" || p.Text == nil {
				return errNonText
			}
			all = append(all, *p.Text...)
		}
		*c = Content(all)
		return nil
	}
	if string(b) == "null" {
		return errors.New("content is null")
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*c = Content(s)
	return nil
}

// Stop is one stop string or a list of them.
type Stop []string

func (s *Stop) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*s = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = Stop{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// CompletionRequest is the body of POST /v1/completions.
type CompletionRequest struct {
	Model  string `json:"model"`
	Prompt Prompt `json:"prompt"`
	Params
}

// Prompt is a completion prompt: a string, or an array holding one string
// (arrays of several prompts, or of token ids, are refused).
type Prompt string

func (p *Prompt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var many []string
		if err := json.Unmarshal(b, &many); err != nil {
			return errors.New("prompt must be a string or an array of one string")
		}
		if len(many) != 1 {
			return errors.New("prompt must be one prompt: batches of prompts are not supported")
		}
		*p = Prompt(many[0])
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("prompt must be a string or an array of one string")
	}
	*p = Prompt(s)
	return nil
}

// Usage counts a request's tokens. CachedTokens, as vLLM and llama.cpp
// report it, is the part of the prompt found in the prefix cache.
type Usage struct {
	PromptTokens        int                  `json:"prompt_tokens"`
	CompletionTokens    int                  `json:"completion_tokens"`
	TotalTokens         int                  `json:"total_tokens"`
	PromptTokensDetails *PromptTokensDetails `json:"prompt_tokens_details,omitempty"`
}

// PromptTokensDetails break the prompt tokens down.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// ChatResponse is a chat completion, or with Object "chat.completion.chunk"
// one streamed chunk of it.
type ChatResponse struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []ChatChoice `json:"choices"`
	Usage   *Usage       `json:"usage,omitempty"`
}

// ChatChoice is a chat completion's one choice: Message when whole, Delta
// in a chunk. FinishReason is null until the last chunk.
type ChatChoice struct {
	Index        int          `json:"index"`
	Message      *ChatMessage `json:"message,omitempty"`
	Delta        *ChatDelta   `json:"delta,omitempty"`
	FinishReason *string      `json:"finish_reason"`
}

// ChatDelta is a chunk's share of the message.
type ChatDelta struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content,omitempty"`
}

// CompletionResponse is a text completion, or one streamed chunk of it.
type CompletionResponse struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []CompletionChoice `json:"choices"`
	Usage   *Usage             `json:"usage,omitempty"`
}

// CompletionChoice is a text completion's one choice.
type CompletionChoice struct {
	Index        int     `json:"index"`
	Text         string  `json:"text"`
	FinishReason *string `json:"finish_reason"`
}

// ErrorResponse is the body of every error answer, and of an error event in
// a stream.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says what went wrong. Type is OpenAI's class
// ("invalid_request_error", "authentication_error", "server_error",
// "overloaded_error"); Code a finer machine-readable reason
// ("context_length_exceeded", "invalid_json_schema", "request_too_large").
type ErrorBody struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   string `json:"param,omitempty"`
	Code    string `json:"code,omitempty"`
}

// ModelList is the body of GET /v1/models.
type ModelList struct {
	Object string      `json:"object"`
	Data   []ModelInfo `json:"data"`
}

// ModelInfo describes one served model.
type ModelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
	// MaxModelLen is the context in tokens, as vLLM reports it.
	MaxModelLen int `json:"max_model_len,omitempty"`
}
