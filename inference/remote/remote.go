// Package remote is the Engine API over an OpenAI-compatible HTTP server
// (vLLM, SGLang, llama.cpp's server, or another Anima's inference/openai):
// the backend for NPC populations, and models, larger than one machine.
//
// Client.Generate has engine.Engine.Generate's shape, so one adapter serves
// both. A request's segments become chat messages (or one completion
// prompt), laid out the same way on every call so that the server's prefix
// cache hits; its Grammar's schema is sent as response_format json_schema;
// the answer streams as server-sent events, parsed into the native engine's
// Events, Result and Stats (reused tokens from the server's usage). The
// Client validates constrained output with the same grammar, byte by byte,
// and streams the schema's chosen field as the native engine does.
//
// Failures are bounded: a timeout for the response's headers and another
// between events; retries with jittered exponential backoff, only while
// nothing has been streamed to the caller; a circuit breaker that fails
// fast after repeated failures and probes the server again after a
// cool-down; and an optional local engine to fall back on.
package remote

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/grammar"
	"github.com/anima-rt/anima/inference/openai"
)

var (
	// ErrCircuitOpen is returned without contacting the server while the
	// circuit is open. It wraps engine.ErrOverloaded too: callers that
	// degrade on overload (NPCs fall back to their trees) do so here.
	ErrCircuitOpen = fmt.Errorf("remote: circuit open after repeated failures: %w", engine.ErrOverloaded)
	// ErrUnavailable wraps failures of the server itself: unreachable,
	// timed out, a 5xx, a stream that broke off.
	ErrUnavailable = errors.New("remote: server unavailable")
	// ErrInvalidOutput is output that does not follow the request's schema
	// (from a server that does not constrain it).
	ErrInvalidOutput = errors.New("remote: output does not follow the schema")
	// ErrTooLong is a prompt longer than the server's context.
	ErrTooLong = errors.New("remote: prompt too long for the server's context")
)

// Generator is a local engine to fall back on: *engine.Engine.
type Generator interface {
	Generate(ctx context.Context, req engine.Request, fn func(engine.Event)) (engine.Result, error)
}

// Mode is the endpoint requests go to.
type Mode int

const (
	// Chat sends /v1/chat/completions with the ChatML segments as messages:
	// right for any server whose model has a chat template.
	Chat Mode = iota
	// Completion sends /v1/completions with the segments' text as the
	// prompt, byte for byte: right when the server's model was trained on
	// Anima's ChatML prompts, as its own embedded model was.
	Completion
)

// SchemaMode is how a request's schema reaches the server.
type SchemaMode int

const (
	// ResponseFormat sends response_format {"type":"json_schema"} (OpenAI,
	// vLLM, SGLang, llama.cpp). A server that refuses it with a 400 naming
	// response_format switches the Client to Validate.
	ResponseFormat SchemaMode = iota
	// GuidedJSON sends vLLM's older guided_json field.
	GuidedJSON
	// Validate sends no schema: the output is checked against it, held
	// back until it is, and the request retried when it is not.
	Validate
)

// Config configures a Client; zero values pick the defaults.
type Config struct {
	URL    string // base URL of the API, "http://host:8000/v1"; required
	Model  string // the model name the server serves; required
	APIKey string // sent as Authorization: Bearer; empty: none
	Mode   Mode
	Schema SchemaMode

	HTTPClient    *http.Client  // default: a client of its own
	HeaderTimeout time.Duration // from sending to the response's headers; default 10s
	IdleTimeout   time.Duration // between two stream events; default 30s

	Retries    int           // further attempts after a failure; default 2, -1 for none
	Backoff    time.Duration // pause before the first retry, doubled each time, with jitter; default 100ms
	MaxBackoff time.Duration // longest pause (also caps Retry-After); default 2s
	// SchemaRetries are attempts again after output that does not follow
	// the schema (Validate mode); default 2.
	SchemaRetries int

	BreakerFailures int           // consecutive failures that open the circuit; default 5
	BreakerCooldown time.Duration // how long it stays open before a probe; default 5s

	// Fallback, when set, runs requests the server cannot (circuit open,
	// unreachable, overloaded, invalid output) before anything was
	// streamed. FallbackVocab is its vocabulary, over which Grammar
	// compiles schemas for it; required with Fallback.
	Fallback      Generator
	FallbackVocab *grammar.Vocab

	// SendPriority sends Request.Priority as vLLM's "priority" field (its
	// sign flipped: vLLM runs lower values first), for a server started
	// with --scheduling-policy priority; others may refuse the field.
	SendPriority bool

	// ChatTemplateKwargs go to the server's chat template (vLLM, SGLang):
	// {"enable_thinking": false} keeps Qwen3 from thinking aloud.
	ChatTemplateKwargs map[string]any
	Logger             *slog.Logger
	Now                func() time.Time // the breaker's clock; default time.Now
}

// Client is the Engine API over one OpenAI-compatible server. It is safe
// for concurrent use.
type Client struct {
	cfg      Config
	endpoint string
	http     *http.Client
	log      *slog.Logger
	bytes    *grammar.Vocab // one token per byte: validates output as it streams
	br       *breaker
	validate atomic.Bool // the server refused schemas: validate instead

	mu           sync.Mutex // guards schemas, byKey, schemaBytes
	schemas      *list.List // of *schemaEntry, most recently used first
	byKey        map[*grammar.Grammar]*list.Element
	schemaBytes  int64 // what the schemas weigh, as last weighed
	schemaBudget int64 // maxSchemaBytes; lowered by tests
	requests     atomic.Int64
	retries      atomic.Int64
	failures     atomic.Int64
	fallback     atomic.Int64
}

// schemaEntry is one schema compiled for the Client: over bytes for
// validation, and over the fallback's vocabulary.
type schemaEntry struct {
	schema []byte
	bytes  *grammar.Grammar
	local  *grammar.Grammar // nil without a fallback
	cost   int64            // its weight when last weighed
}

// weigh returns the bytes s holds: a Grammar's lazily computed masks grow
// as generations reach new states (up to grammar.MaxMaskCacheBytes each).
func (s *schemaEntry) weigh() int64 {
	n := int64(len(s.schema)) + s.bytes.Cost()
	if s.local != nil {
		n += s.local.Cost()
	}
	return n
}

// key is the Grammar handed to callers, which they put in Request.Grammar.
func (s *schemaEntry) key() *grammar.Grammar {
	if s.local != nil {
		return s.local
	}
	return s.bytes
}

// maxSchemas and maxSchemaBytes bound the compiled schemas kept, by count
// and by the bytes their masks have grown to (a count alone bounds
// nothing: each Grammar may grow to 64 MiB). A Grammar handed out and
// since evicted makes Generate fail; callers compile right before
// generating, as the NPC adapter does, and the one compiled or used last
// is never evicted.
const (
	maxSchemas     = 256
	maxSchemaBytes = 64 << 20
)

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" || cfg.Model == "" {
		return nil, errors.New("remote: new: URL and Model are required")
	}
	if cfg.Fallback != nil && cfg.FallbackVocab == nil {
		return nil, errors.New("remote: new: Fallback needs FallbackVocab")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.HeaderTimeout, 10*time.Second)
	def(&cfg.IdleTimeout, 30*time.Second)
	def(&cfg.Backoff, 100*time.Millisecond)
	def(&cfg.MaxBackoff, 2*time.Second)
	def(&cfg.BreakerCooldown, 5*time.Second)
	if cfg.Retries == 0 {
		cfg.Retries = 2
	}
	cfg.Retries = max(cfg.Retries, 0)
	if cfg.SchemaRetries <= 0 {
		cfg.SchemaRetries = 2
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = 5
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cfg.HTTPClient
	if hc == nil {
		// Keep enough idle connections for a node's concurrent thinks;
		// the default of 2 per host would reconnect constantly.
		hc = &http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
		}}
	}
	toks := make([][]byte, 257) // the bytes, then an end-of-generation token
	for b := range 256 {
		toks[b] = []byte{byte(b)}
	}
	bv, err := grammar.NewVocab(toks, []int32{256}, 256, nil)
	if err != nil {
		return nil, fmt.Errorf("remote: new: %w", err)
	}
	path := "/chat/completions"
	if cfg.Mode == Completion {
		path = "/completions"
	}
	c := &Client{
		cfg: cfg, endpoint: strings.TrimRight(cfg.URL, "/") + path, http: hc, log: cfg.Logger, bytes: bv,
		br:      newBreaker(cfg.BreakerFailures, cfg.BreakerCooldown, cfg.Now),
		schemas: list.New(), byKey: map[*grammar.Grammar]*list.Element{}, schemaBudget: maxSchemaBytes,
	}
	c.validate.Store(cfg.Schema == Validate)
	return c, nil
}

// Grammar compiles a JSON schema for Request.Grammar, or returns the one
// compiled for the same bytes before. Schemas the grammar cannot compile
// fail here, with its *grammar.SchemaError, as they would natively.
func (c *Client) Grammar(schema []byte) (*grammar.Grammar, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.schemas.Front(); e != nil; e = e.Next() {
		if s := e.Value.(*schemaEntry); string(s.schema) == string(schema) {
			c.schemas.MoveToFront(e)
			w := s.weigh() // its masks may have grown since
			c.schemaBytes += w - s.cost
			s.cost = w
			c.evictLocked()
			return s.key(), nil
		}
	}
	s := &schemaEntry{schema: bytes.Clone(schema)}
	var err error
	if s.bytes, err = grammar.Compile(schema, c.bytes); err != nil {
		return nil, err
	}
	if c.cfg.Fallback != nil {
		if s.local, err = grammar.Compile(schema, c.cfg.FallbackVocab); err != nil {
			return nil, err
		}
	}
	c.byKey[s.key()] = c.schemas.PushFront(s)
	s.cost = s.weigh()
	c.schemaBytes += s.cost
	c.evictLocked()
	return s.key(), nil
}

// evictLocked drops the least recently used schemas while over either
// bound, never the most recent one; c.mu is held.
func (c *Client) evictLocked() {
	for c.schemas.Len() > 1 && (c.schemas.Len() > maxSchemas || c.schemaBytes > c.schemaBudget) {
		old := c.schemas.Remove(c.schemas.Back()).(*schemaEntry)
		delete(c.byKey, old.key())
		c.schemaBytes -= old.cost
	}
}

func (c *Client) entry(g *grammar.Grammar) *schemaEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[g]; ok {
		return e.Value.(*schemaEntry)
	}
	return nil
}

// Stats are a Client's counters since New.
type Stats struct {
	Requests  int64 // Generate calls
	Retries   int64 // attempts after the first
	Failures  int64 // attempts the server failed
	Fallbacks int64 // requests run on the fallback
	Opens     int   // times the circuit opened
	Circuit   State
}

// Stats returns the Client's counters.
func (c *Client) Stats() Stats {
	st, opens := c.br.snapshot()
	return Stats{Requests: c.requests.Load(), Retries: c.retries.Load(), Failures: c.failures.Load(),
		Fallbacks: c.fallback.Load(), Opens: opens, Circuit: st}
}

// StatusError is an answer other than 200 from the server. It unwraps to
// engine.ErrOverloaded for 429 and 503, to ErrTooLong for a context
// exceeded, and to ErrUnavailable for other 5xx.
type StatusError struct {
	Status int
	Body   openai.ErrorBody
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("remote: server answered %d (%s): %s", e.Status, e.Body.Type, e.Body.Message)
}

func (e *StatusError) Unwrap() error {
	switch {
	case e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable:
		return engine.ErrOverloaded
	case e.Body.Code == "context_length_exceeded":
		return ErrTooLong
	case e.Status >= 500:
		return ErrUnavailable
	}
	return nil
}

// Generate runs req on the server, calling fn (if not nil) on the calling
// goroutine with each Event as it arrives, as engine.Engine.Generate does;
// Events carry text and field deltas but no token ids, which the API does
// not report. A Grammar must come from this Client's Grammar method. As
// natively, a cancelled ctx or a passed Deadline ends the request with
// FinishCancelled or FinishDeadline and a nil error.
func (c *Client) Generate(ctx context.Context, req engine.Request, fn func(engine.Event)) (engine.Result, error) {
	c.requests.Add(1)
	if len(req.Segments) == 0 {
		return engine.Result{}, errors.New("remote: generate: no prompt segments")
	}
	if req.MaxTokens < 0 {
		return engine.Result{}, fmt.Errorf("remote: generate: MaxTokens %d is negative", req.MaxTokens)
	}
	var se *schemaEntry
	if req.Grammar != nil {
		if se = c.entry(req.Grammar); se == nil {
			return engine.Result{}, errors.New("remote: generate: the request's Grammar was not compiled by this Client's Grammar method (or has been evicted)")
		}
	} else if req.StreamField != "" {
		return engine.Result{}, fmt.Errorf("remote: generate: StreamField %q needs a Grammar", req.StreamField)
	}
	if !req.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, req.Deadline)
		defer cancel()
	}
	start := time.Now()
	ended := func(res engine.Result) (engine.Result, error) {
		res.Stats.Finish = engine.FinishCancelled
		if !req.Deadline.IsZero() && !time.Now().Before(req.Deadline) {
			res.Stats.Finish = engine.FinishDeadline
		}
		return res, nil
	}

	var err error
	var res engine.Result
	tries, schemaTries := 0, 0
	for {
		if !c.br.allow() {
			err = ErrCircuitOpen
			break
		}
		var emitted bool
		res, emitted, err = c.attempt(ctx, &req, se, fn, start)
		switch {
		case err == nil:
			c.br.success()
			return res, nil
		case ctx.Err() != nil:
			c.br.neutral()
			return ended(res)
		case errors.Is(err, ErrUnavailable):
			c.failures.Add(1)
			c.br.failure()
		case errors.Is(err, engine.ErrOverloaded), errors.Is(err, ErrInvalidOutput):
			c.br.success() // the server answered
		default:
			c.br.neutral()
		}
		if emitted {
			return res, err // the caller has seen output: a retry would repeat it
		}
		retry := errors.Is(err, ErrUnavailable) || errors.Is(err, engine.ErrOverloaded)
		if errors.Is(err, ErrInvalidOutput) {
			schemaTries++
			retry = schemaTries <= c.cfg.SchemaRetries
		} else if retry {
			tries++
			retry = tries <= c.cfg.Retries
		}
		if !retry {
			break
		}
		c.retries.Add(1)
		if !c.sleep(ctx, c.backoff(tries, err)) {
			return ended(engine.Result{})
		}
	}
	if c.cfg.Fallback != nil && fallible(err) {
		c.fallback.Add(1)
		c.log.Debug("remote: falling back to the local engine", "err", err)
		return c.cfg.Fallback.Generate(ctx, req, fn)
	}
	res.Stats.Finish = engine.FinishError
	return res, err
}

// fallible reports whether err is the server's failure, which the local
// engine may not share, rather than the request's.
func fallible(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, engine.ErrOverloaded) || errors.Is(err, ErrInvalidOutput)
}

// backoff is the pause before retry n (1-based): Backoff doubled each time,
// jittered to between half and all of it so that many nodes retrying at
// once spread out, at most MaxBackoff; a server's Retry-After, if longer
// and no more than MaxBackoff, wins.
func (c *Client) backoff(n int, err error) time.Duration {
	d := c.cfg.Backoff << min(max(n-1, 0), 16)
	d = min(d, c.cfg.MaxBackoff)
	d = d/2 + rand.N(d/2+1)
	if ra, ok := errors.AsType[*retryAfter](err); ok {
		d = max(d, min(ra.d, c.cfg.MaxBackoff))
	}
	return d
}

// retryAfter carries a server's Retry-After beside its StatusError.
type retryAfter struct {
	*StatusError
	d time.Duration
}

func (r *retryAfter) Unwrap() error { return r.StatusError }

func (c *Client) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// body is the JSON request for req.
func (c *Client) body(req *engine.Request, se *schemaEntry) ([]byte, error) {
	p := openai.Params{Stream: true, StreamOptions: &openai.StreamOptions{IncludeUsage: true}}
	if req.MaxTokens > 0 {
		p.MaxTokens = &req.MaxTokens
	}
	s := req.Sampling
	temp := float64(s.Temperature)
	p.Temperature = &temp
	if s.TopP > 0 && s.TopP < 1 {
		v := float64(s.TopP)
		p.TopP = &v
	}
	if s.TopK > 0 {
		p.TopK = &s.TopK
	}
	if s.MinP > 0 {
		v := float64(s.MinP)
		p.MinP = &v
	}
	seed := int64(s.Seed &^ (1 << 63)) // servers take a signed seed
	p.Seed = &seed
	type extra struct {
		GuidedJSON        json.RawMessage `json:"guided_json,omitempty"`
		RepetitionPenalty float64         `json:"repetition_penalty,omitempty"`
		Priority          *int            `json:"priority,omitempty"`
	}
	var x extra
	if c.cfg.SendPriority && req.Priority != 0 {
		p := -req.Priority
		x.Priority = &p
	}
	if s.RepeatPenalty > 0 && s.RepeatPenalty != 1 {
		x.RepetitionPenalty = float64(s.RepeatPenalty)
	}
	if se != nil && !c.validate.Load() {
		if c.cfg.Schema == GuidedJSON {
			x.GuidedJSON = se.schema
		} else {
			p.ResponseFormat = &openai.ResponseFormat{Type: "json_schema",
				JSONSchema: &openai.JSONSchema{Name: "output", Schema: se.schema, Strict: true}}
		}
	}
	if c.cfg.Mode == Completion {
		return json.Marshal(struct {
			openai.CompletionRequest
			extra
		}{openai.CompletionRequest{Model: c.cfg.Model, Prompt: openai.Prompt(prompt(req.Segments)), Params: p}, x})
	}
	return json.Marshal(struct {
		openai.ChatRequest
		extra
	}{openai.ChatRequest{Model: c.cfg.Model, Messages: messages(req.Segments), Params: p, ChatTemplateKwargs: c.cfg.ChatTemplateKwargs}, x})
}

// attempt sends req once and reads its stream, reporting whether any Event
// reached fn.
func (c *Client) attempt(ctx context.Context, req *engine.Request, se *schemaEntry, fn func(engine.Event), start time.Time) (engine.Result, bool, error) {
	body, err := c.body(req, se)
	if err != nil {
		return engine.Result{}, false, fmt.Errorf("remote: generate: %w", err)
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The watchdog cancels the attempt when the server goes quiet: first
	// for HeaderTimeout, then IdleTimeout between events.
	var quiet atomic.Bool
	watchdog := time.AfterFunc(c.cfg.HeaderTimeout, func() { quiet.Store(true); cancel() })
	defer watchdog.Stop()
	timeout := func(err error, what string, d time.Duration) error {
		if quiet.Load() && ctx.Err() == nil {
			return fmt.Errorf("%w: no %s within %v", ErrUnavailable, what, d)
		}
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}

	hreq, err := http.NewRequestWithContext(actx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return engine.Result{}, false, fmt.Errorf("remote: generate: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	if c.cfg.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return engine.Result{}, false, timeout(err, "response", c.cfg.HeaderTimeout)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return engine.Result{}, false, c.statusError(resp, se)
	}
	watchdog.Reset(c.cfg.IdleTimeout)

	st := newStream(req, se, fn, start, c.validate.Load())
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 16<<10), 1<<20)
	var data []byte
	for sc.Scan() {
		watchdog.Reset(c.cfg.IdleTimeout)
		line := sc.Bytes()
		if len(line) == 0 { // an event ends
			if len(data) > 0 {
				if done, err := st.event(data); err != nil || done {
					return st.result(), st.emitted, err
				}
				data = data[:0]
			}
			continue
		}
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, bytes.TrimPrefix(v, []byte(" "))...)
		} // comments (":") and other fields are ignored, as SSE says
	}
	if len(data) > 0 {
		if done, err := st.event(data); err != nil || done {
			return st.result(), st.emitted, err
		}
	}
	if err := sc.Err(); err != nil {
		return st.result(), st.emitted, timeout(err, "stream event", c.cfg.IdleTimeout)
	}
	if st.finish != "" { // some servers close without [DONE]
		return st.result(), st.emitted, st.end()
	}
	return st.result(), st.emitted, fmt.Errorf("%w: the stream ended after %d tokens without a finish", ErrUnavailable, st.tokens)
}

// statusError reads a refusal. A 400 that names response_format means the
// server cannot constrain output: the Client validates from then on, and
// the request is retried at once as invalid output.
func (c *Client) statusError(resp *http.Response, se *schemaEntry) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var er openai.ErrorResponse
	if json.Unmarshal(b, &er) != nil || er.Error.Message == "" {
		er.Error.Message = strings.TrimSpace(string(b))
		if er.Error.Message == "" {
			er.Error.Message = resp.Status
		}
	}
	e := &StatusError{Status: resp.StatusCode, Body: er.Error}
	if se != nil && resp.StatusCode == http.StatusBadRequest && c.cfg.Schema == ResponseFormat && !c.validate.Load() &&
		(strings.Contains(e.Body.Message, "response_format") || e.Body.Param == "response_format") && e.Body.Code != "invalid_json_schema" {
		c.validate.Store(true)
		c.log.Warn("remote: the server refuses response_format json_schema; validating output instead", "url", c.cfg.URL, "err", e)
		return fmt.Errorf("%w: %w", ErrInvalidOutput, e)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		return &retryAfter{StatusError: e, d: time.Duration(s) * time.Second}
	}
	return e
}
