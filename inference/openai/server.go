// Package openai serves Anima's native engine as an OpenAI-compatible HTTP
// API (https://platform.openai.com/docs/api-reference/chat, as vLLM, SGLang
// and llama.cpp's server implement it): POST /v1/chat/completions and
// /v1/completions, whole or streamed as server-sent events, with
// response_format json_schema compiled by inference/grammar, and GET
// /v1/models. Any OpenAI client can then use Anima's model, and Anima's
// remote engine (inference/remote) can be tested against a real server. The
// package also holds the API's wire types, which the remote engine shares.
package openai

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/grammar"
)

// Generator runs generation requests: *engine.Engine.
type Generator interface {
	Generate(ctx context.Context, req engine.Request, fn func(engine.Event)) (engine.Result, error)
}

// Config configures a Handler; zero values pick the defaults.
type Config struct {
	Engine  Generator      // required
	Vocab   *grammar.Vocab // the engine's vocabulary, for response_format schemas; required
	Context int            // the engine's context in tokens; required
	Model   string         // the model name served and accepted; default "anima"
	// APIKeys, when any, are required as "Authorization: Bearer KEY".
	APIKeys []string
	// Priority of these requests in the engine's queue, beside NPC minds
	// (mind.PriorityAmbient 0, mind.PriorityPlayer 2). Default 0.
	Priority         int
	MaxBodyBytes     int64 // request bodies larger are refused with 413 before being read; default 1 MiB
	MaxMessages      int   // messages in one chat request; default 1024
	DefaultMaxTokens int   // max_tokens when a request gives none; default 512
	Logger           *slog.Logger
	Now              func() time.Time // for "created"; default time.Now
	// Grammars caches compiled response_format schemas over Vocab; share
	// the engine's other users' (node.Decoder.Grammars) so each schema is
	// compiled once. Nil: the Handler keeps its own, of 64 MiB, which
	// Close releases.
	Grammars *grammar.Cache
}

// Handler is the OpenAI-compatible API over one engine. It is an
// http.Handler for the paths under /v1/.
type Handler struct {
	cfg  Config
	lim  limits
	keys [][sha256.Size]byte
	log  *slog.Logger

	grammars *grammar.Cache
	own      bool // grammars is the Handler's to close
}

// New returns a Handler for cfg.
func New(cfg Config) (*Handler, error) {
	if cfg.Engine == nil || cfg.Vocab == nil || cfg.Context < 2 {
		return nil, errors.New("openai: new: Engine, Vocab and a Context of 2 or more tokens are required")
	}
	if cfg.Model == "" {
		cfg.Model = "anima"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxMessages <= 0 {
		cfg.MaxMessages = 1024
	}
	if cfg.DefaultMaxTokens <= 0 {
		cfg.DefaultMaxTokens = 512
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, grammars: cfg.Grammars, lim: limits{
		context:     cfg.Context,
		maxMessages: cfg.MaxMessages,
		defaultMax:  min(cfg.DefaultMaxTokens, cfg.Context-1),
	}}
	for _, k := range cfg.APIKeys {
		h.keys = append(h.keys, sha256.Sum256([]byte(k)))
	}
	if h.grammars == nil {
		var err error
		if h.grammars, err = grammar.NewCache(cfg.Vocab, 64<<20); err != nil {
			return nil, fmt.Errorf("openai: new: %w", err)
		}
		h.own = true
	}
	return h, nil
}

// Close releases the Handler's own grammar cache, if it made one.
func (h *Handler) Close() {
	if h.own {
		h.grammars.Close()
	}
}

// ServeHTTP routes /v1/chat/completions, /v1/completions and /v1/models;
// every other path is a JSON 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="anima"`)
		writeError(w, &Error{Status: http.StatusUnauthorized, Body: ErrorBody{Type: "authentication_error", Code: "invalid_api_key",
			Message: "a valid API key is required: Authorization: Bearer KEY"}})
		return
	}
	switch r.URL.Path {
	case "/v1/chat/completions":
		if h.method(w, r, http.MethodPost) {
			h.generate(w, r, parseChat)
		}
	case "/v1/completions":
		if h.method(w, r, http.MethodPost) {
			h.generate(w, r, parseCompletion)
		}
	case "/v1/models":
		if h.method(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, ModelList{Object: "list", Data: []ModelInfo{{
				ID: h.cfg.Model, Object: "model", Created: h.cfg.Now().Unix(), OwnedBy: "anima", MaxModelLen: h.cfg.Context}}})
		}
	default:
		writeError(w, &Error{Status: http.StatusNotFound, Body: ErrorBody{Type: "invalid_request_error", Code: "not_found",
			Message: fmt.Sprintf("no endpoint %s %s: Anima serves /v1/chat/completions, /v1/completions and /v1/models", r.Method, r.URL.Path)}})
	}
}

// authorized checks the bearer key in constant time per configured key.
func (h *Handler) authorized(r *http.Request) bool {
	if len(h.keys) == 0 {
		return true
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	d := sha256.Sum256([]byte(strings.TrimSpace(key)))
	found := 0
	for _, k := range h.keys {
		found |= subtle.ConstantTimeCompare(d[:], k[:])
	}
	return found == 1
}

func (h *Handler) method(w http.ResponseWriter, r *http.Request, want string) bool {
	if r.Method == want {
		return true
	}
	w.Header().Set("Allow", want)
	writeError(w, &Error{Status: http.StatusMethodNotAllowed, Body: ErrorBody{Type: "invalid_request_error",
		Message: fmt.Sprintf("%s takes %s, not %s", r.URL.Path, want, r.Method)}})
	return false
}

// readBody reads the request body, refusing one over MaxBodyBytes by its
// Content-Length before reading, or as soon as the read passes the limit.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *Error) {
	tooLarge := &Error{Status: http.StatusRequestEntityTooLarge, Body: ErrorBody{Type: "invalid_request_error", Code: "request_too_large",
		Message: fmt.Sprintf("the request body is larger than %d bytes", h.cfg.MaxBodyBytes)}}
	if r.ContentLength > h.cfg.MaxBodyBytes {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge
		}
		return nil, badRequest("", "reading the body: %v", err)
	}
	return body, nil
}

// grammar compiles schema over the engine's vocabulary, or returns the
// Grammar compiled for the same bytes before.
func (h *Handler) grammar(schema []byte) (*grammar.Grammar, error) {
	return h.grammars.Get(schema)
}

// generate serves one chat or completion request.
func (h *Handler) generate(w http.ResponseWriter, r *http.Request, parse func([]byte, limits) (*call, error)) {
	body, aerr := h.readBody(w, r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	c, err := parse(body, h.lim)
	if err != nil {
		writeError(w, err)
		return
	}
	if c.model != "" && c.model != h.cfg.Model {
		writeError(w, &Error{Status: http.StatusNotFound, Body: ErrorBody{Type: "invalid_request_error", Param: "model", Code: "model_not_found",
			Message: fmt.Sprintf("model %q is not served here; this server serves %q", c.model, h.cfg.Model)}})
		return
	}
	req := engine.Request{Segments: c.segments, Sampling: c.sampling, MaxTokens: c.maxTokens, Priority: h.cfg.Priority}
	if c.schema != nil {
		if req.Grammar, err = h.grammar(c.schema); err != nil {
			writeError(w, &Error{Status: http.StatusBadRequest, Body: ErrorBody{Type: "invalid_request_error",
				Param: "response_format", Code: "invalid_json_schema", Message: err.Error()}})
			return
		}
	}

	out := newResponder(w, c, h.cfg.Model, h.cfg.Now())
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := stopper{stops: c.stop}
	res, err := h.cfg.Engine.Generate(ctx, req, func(ev engine.Event) {
		if stop.hit || ev.Text == "" {
			return
		}
		text, hit := stop.push(ev.Text)
		out.text(text)
		if hit {
			cancel() // the engine ends the request before its next step
		}
	})
	if r.Context().Err() != nil {
		return // the client is gone
	}
	if err != nil {
		e := h.engineError(err, res.Stats)
		if e.Status >= 500 {
			h.log.Warn("openai: generation failed", "status", e.Status, "err", err)
		}
		out.fail(e)
		return
	}
	finish := "stop"
	switch {
	case stop.hit:
	case res.Stats.Finish == engine.FinishLength:
		finish = "length"
	case res.Stats.Finish == engine.FinishStop:
	default: // cancelled or deadline without a stop string: cut short
		finish = "length"
	}
	if !stop.hit {
		out.text(stop.flush())
	}
	st := res.Stats
	out.finish(finish, &Usage{
		PromptTokens: st.PromptTokens, CompletionTokens: st.GeneratedTokens, TotalTokens: st.PromptTokens + st.GeneratedTokens,
		PromptTokensDetails: &PromptTokensDetails{CachedTokens: st.ReusedTokens},
	})
}

// engineError turns a failed Generate into an answer.
func (h *Handler) engineError(err error, st engine.Stats) *Error {
	switch {
	case errors.Is(err, engine.ErrOverloaded):
		return &Error{Status: http.StatusServiceUnavailable, Body: ErrorBody{Type: "overloaded_error", Code: "overloaded",
			Message: "the engine's queue is full; retry after a moment"}}
	case errors.Is(err, engine.ErrClosed):
		return &Error{Status: http.StatusServiceUnavailable, Body: ErrorBody{Type: "server_error", Code: "shutting_down",
			Message: "the engine is shutting down"}}
	case st.PromptTokens >= h.cfg.Context:
		return &Error{Status: http.StatusBadRequest, Body: ErrorBody{Type: "invalid_request_error", Code: "context_length_exceeded",
			Message: fmt.Sprintf("the prompt has %d tokens; the context holds %d, output included", st.PromptTokens, h.cfg.Context)}}
	}
	return &Error{Status: http.StatusInternalServerError, Body: ErrorBody{Type: "server_error", Message: err.Error()}}
}

// writeError writes e, or a 400 for an error that is not an *Error.
func writeError(w http.ResponseWriter, err error) {
	e, ok := errors.AsType[*Error](err)
	if !ok {
		e = badRequest("", "%v", err)
	}
	if e.Status == http.StatusServiceUnavailable || e.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Status, ErrorResponse{Error: e.Body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // the types above always marshal
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// responder writes one request's answer: whole at the end, or as
// server-sent events as text arrives. A stream's headers are written with
// its first text, so an error before any (a full queue, a prompt too long)
// is still an ordinary JSON error with its status.
type responder struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	c       *call
	id      string
	model   string
	created int64
	started bool            // stream headers and the role chunk are written
	whole   strings.Builder // the text, when not streaming
}

func newResponder(w http.ResponseWriter, c *call, model string, now time.Time) *responder {
	prefix := "cmpl-"
	if c.chat {
		prefix = "chatcmpl-"
	}
	return &responder{w: w, rc: http.NewResponseController(w), c: c, id: prefix + rand.Text(), model: model, created: now.Unix()}
}

func (o *responder) text(s string) {
	if s == "" {
		return
	}
	if !o.c.stream {
		o.whole.WriteString(s)
		return
	}
	o.begin()
	o.event(o.chunk(s, nil, nil))
}

// begin writes a stream's headers and, for chat, the chunk that names the
// role.
func (o *responder) begin() {
	if o.started {
		return
	}
	o.started = true
	h := o.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies must not hold events back
	o.w.WriteHeader(http.StatusOK)
	if o.c.chat {
		o.event(ChatResponse{ID: o.id, Object: "chat.completion.chunk", Created: o.created, Model: o.model,
			Choices: []ChatChoice{{Delta: &ChatDelta{Role: "assistant"}}}})
	}
}

// chunk is a stream event with text s, or the final one with finish.
func (o *responder) chunk(s string, finish *string, usage *Usage) any {
	if o.c.chat {
		ch := ChatResponse{ID: o.id, Object: "chat.completion.chunk", Created: o.created, Model: o.model, Usage: usage}
		if usage == nil {
			ch.Choices = []ChatChoice{{Delta: &ChatDelta{Content: s}, FinishReason: finish}}
		} else {
			ch.Choices = []ChatChoice{} // OpenAI's usage chunk has no choices
		}
		return ch
	}
	ch := CompletionResponse{ID: o.id, Object: "text_completion", Created: o.created, Model: o.model, Usage: usage}
	if usage == nil {
		ch.Choices = []CompletionChoice{{Text: s, FinishReason: finish}}
	} else {
		ch.Choices = []CompletionChoice{}
	}
	return ch
}

// event writes one server-sent event and flushes it to the client.
func (o *responder) event(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	o.w.Write([]byte("data: "))
	o.w.Write(b)
	o.w.Write([]byte("\n\n"))
	o.rc.Flush()
}

func (o *responder) done() {
	o.w.Write([]byte("data: [DONE]\n\n"))
	o.rc.Flush()
}

// finish ends the answer.
func (o *responder) finish(reason string, usage *Usage) {
	if !o.c.stream {
		if o.c.chat {
			writeJSON(o.w, http.StatusOK, ChatResponse{ID: o.id, Object: "chat.completion", Created: o.created, Model: o.model, Usage: usage,
				Choices: []ChatChoice{{Message: &ChatMessage{Role: "assistant", Content: Content(o.whole.String())}, FinishReason: &reason}}})
		} else {
			writeJSON(o.w, http.StatusOK, CompletionResponse{ID: o.id, Object: "text_completion", Created: o.created, Model: o.model, Usage: usage,
				Choices: []CompletionChoice{{Text: o.whole.String(), FinishReason: &reason}}})
		}
		return
	}
	o.begin()
	o.event(o.chunk("", &reason, nil))
	if o.c.includeUsage {
		o.event(o.chunk("", nil, usage))
	}
	o.done()
}

// fail ends the answer with e: an error status if nothing was sent yet,
// else an error event (as vLLM sends) and the end of the stream.
func (o *responder) fail(e *Error) {
	if !o.started {
		writeError(o.w, e)
		return
	}
	o.event(ErrorResponse{Error: e.Body})
	o.done()
}
