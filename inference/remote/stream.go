package remote

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/grammar"
	"github.com/anima-rt/anima/inference/openai"
)

// chunk is one streamed event of a chat or completion, from any of the
// servers: choices with a delta (chat) or text (completion), usage in the
// last, llama.cpp's timings, and an error object in place of a chunk (as
// OpenAI and llama.cpp write it, or vLLM's {"object":"error"}).
type chunk struct {
	Choices []struct {
		Delta *struct {
			Content *string `json:"content"`
		} `json:"delta"`
		Text         *string `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage   *openai.Usage `json:"usage"`
	Timings *struct {
		CacheN int `json:"cache_n"` // prompt tokens llama.cpp took from its cache
	} `json:"timings"`
	Error   *openai.ErrorBody `json:"error"`
	Object  string            `json:"object"`
	Message string            `json:"message"`
}

// stream turns one response's events into the native engine's Events and
// Result. With a schema it runs the output through the grammar byte by
// byte: whitespace between JSON tokens (which servers' grammars allow) is
// dropped, so the text the caller gets is the compact JSON the native
// engine writes, and the chosen string field is streamed as Field deltas.
type stream struct {
	req   *engine.Request
	fn    func(engine.Event)
	start time.Time

	mt       *grammar.Matcher // nil: free text
	inString bool             // the compactor is inside a JSON string
	escaped  bool             // ... right after a backslash
	past     bool             // the JSON value is complete; trailing text is ignored

	buffer  bool // hold Events until the output is known to follow the schema
	held    []engine.Event
	emitted bool // an Event reached fn

	text   strings.Builder
	tokens int // content deltas, standing in for tokens when usage is missing
	first  time.Time
	finish string
	usage  *openai.Usage
	cacheN int
}

func newStream(req *engine.Request, se *schemaEntry, fn func(engine.Event), start time.Time, validating bool) *stream {
	s := &stream{req: req, fn: fn, start: start}
	if se != nil {
		s.mt = se.bytes.NewMatcher()
		if req.StreamField != "" {
			// The field was checked against the schema when the native
			// engine would have; an unknown one streams nothing.
			_ = s.mt.StreamField(req.StreamField)
		}
		s.buffer = validating
	}
	return s
}

// event handles one event's data, reporting whether the stream is over.
func (s *stream) event(data []byte) (bool, error) {
	if string(data) == "[DONE]" {
		return true, s.end()
	}
	var ch chunk
	if err := json.Unmarshal(data, &ch); err != nil {
		return true, fmt.Errorf("%w: a stream event is not JSON: %v", ErrUnavailable, err)
	}
	if ch.Error != nil || ch.Object == "error" {
		msg := ch.Message
		if ch.Error != nil {
			msg = ch.Error.Message
		}
		return true, fmt.Errorf("%w: the server failed mid-stream: %s", ErrUnavailable, msg)
	}
	if ch.Usage != nil {
		s.usage = ch.Usage
	}
	if ch.Timings != nil {
		s.cacheN = ch.Timings.CacheN
	}
	for _, c := range ch.Choices[:min(len(ch.Choices), 1)] {
		var text string
		switch {
		case c.Delta != nil && c.Delta.Content != nil:
			text = *c.Delta.Content
		case c.Text != nil:
			text = *c.Text
		}
		if err := s.add(text); err != nil {
			return true, err
		}
		if c.FinishReason != nil && *c.FinishReason != "" {
			s.finish = *c.FinishReason
		}
	}
	return false, nil
}

// add takes a text delta.
func (s *stream) add(text string) error {
	if text == "" {
		return nil
	}
	s.tokens++
	if s.first.IsZero() {
		s.first = time.Now()
	}
	if s.mt == nil {
		s.text.WriteString(text)
		s.emit(engine.Event{Text: text})
		return nil
	}
	var ok []byte
	for i := 0; i < len(text) && !s.past; i++ {
		b := text[i]
		if !s.inString && (b == ' ' || b == '\t' || b == '\n' || b == '\r') {
			continue
		}
		if err := s.mt.Accept(int32(b)); err != nil {
			if s.mt.Complete() {
				s.past = true // a finished value followed by chatter
				break
			}
			s.flushHeld(ok)
			return fmt.Errorf("%w: after %q: %v", ErrInvalidOutput, s.text.String(), err)
		}
		switch {
		case s.escaped:
			s.escaped = false
		case s.inString && b == '\\':
			s.escaped = true
		case b == '"':
			s.inString = !s.inString
		}
		ok = append(ok, b)
	}
	s.flushHeld(ok)
	return nil
}

// flushHeld emits the accepted bytes ok with the field's new text.
func (s *stream) flushHeld(ok []byte) {
	field := s.mt.AppendDelta(nil)
	if len(ok) == 0 && len(field) == 0 {
		return
	}
	s.text.Write(ok)
	s.emit(engine.Event{Text: string(ok), Field: string(field)})
}

func (s *stream) emit(ev engine.Event) {
	if s.buffer {
		s.held = append(s.held, ev)
		return
	}
	if s.fn != nil {
		s.fn(ev)
		s.emitted = true
	}
}

// end finishes the output: a JSON value cut short by max_tokens is closed
// validly, as the native engine closes it; one that ended otherwise before
// it was complete does not follow the schema. Held Events go out now.
func (s *stream) end() error {
	if s.mt != nil && !s.mt.Complete() {
		if s.finish != "length" {
			return fmt.Errorf("%w: the output ended (%q) before its JSON was complete: %q", ErrInvalidOutput, s.finish, s.text.String())
		}
		s.flushHeld(s.mt.Close())
	}
	if s.buffer {
		s.buffer = false
		for _, ev := range s.held {
			s.emit(ev)
		}
		s.held = nil
	}
	return nil
}

// result is what the stream has given so far.
func (s *stream) result() engine.Result {
	st := engine.Stats{GeneratedTokens: s.tokens, Finish: engine.FinishError}
	switch s.finish {
	case "stop":
		st.Finish = engine.FinishStop
	case "length":
		st.Finish = engine.FinishLength
	}
	if u := s.usage; u != nil {
		st.PromptTokens, st.GeneratedTokens = u.PromptTokens, u.CompletionTokens
		if u.PromptTokensDetails != nil {
			st.ReusedTokens = u.PromptTokensDetails.CachedTokens
		}
	}
	st.ReusedTokens = max(st.ReusedTokens, s.cacheN)
	if !s.first.IsZero() {
		st.TTFT = s.first.Sub(s.start)
		if d := time.Since(s.first); st.GeneratedTokens > 1 && d > 0 {
			st.DecodeTokS = float64(st.GeneratedTokens-1) / d.Seconds()
		}
	}
	return engine.Result{Text: s.text.String(), Stats: st}
}
