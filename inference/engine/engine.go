// Package engine serves generation requests on one native model: the Engine
// API of DESIGN.md (Inference). A request is a list of prompt segments, each
// tokenized on its own so that token boundaries never shift and a prefix
// seen before stays reusable; an optional compiled grammar that the output
// must follow; sampling settings; a priority; a deadline; and cancellation
// through a context. The result streams text deltas (and the deltas of one
// chosen string field, the NPC's "say") and ends with Stats.
//
// This first Engine is serial: one owner goroutine takes requests from a
// bounded priority queue and decodes them one at a time on a single model
// State, reusing the longest prefix its KV cache shares with the next prompt.
// A batching scheduler is meant to replace the owner loop behind the same API.
package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/anima-rt/anima/inference/grammar"
	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/sample"
	"github.com/anima-rt/anima/inference/tokenizer"
)

var (
	// ErrOverloaded is returned by Generate when the queue of waiting
	// requests is full: the caller should drop or retry the request.
	ErrOverloaded = errors.New("engine: overloaded: request queue full")
	// ErrClosed is returned by Generate once Close has been called.
	ErrClosed = errors.New("engine: closed")
)

// Segment is one piece of a prompt (lore, persona, memory, history,
// stimulus), tokenized on its own.
type Segment struct {
	Text string
	// Special marks program-written scaffolding whose control-token strings
	// (<|im_start|>, <|im_end|>) become control tokens. Text with Special
	// false is plain text: such strings in it (what a player typed) are
	// ordinary characters and can never open a turn.
	Special bool
}

// Sampling are the sampling settings of a request; the zero value is greedy.
type Sampling struct {
	sample.Params
	Seed uint64 // seeds the draw, so equal requests give equal outputs
}

// Request is one generation.
type Request struct {
	Segments []Segment
	// Grammar, when set, constrains the output to its JSON schema: forced
	// scaffolding is appended without sampling, other tokens are sampled
	// among those the grammar allows, and an output cut short by MaxTokens is
	// closed validly.
	Grammar *grammar.Grammar
	// StreamField names the grammar's string field whose text is streamed
	// as Event.Field deltas ("say"); empty: none. Needs Grammar.
	StreamField string
	Sampling    Sampling
	MaxTokens   int // generated tokens at most; 0: until the context is full
	Priority    int // higher runs first; FIFO among equals
	// Deadline, when not zero, ends the request with FinishDeadline once
	// passed, whether it is still waiting or already decoding.
	Deadline time.Time
}

// Finish says why a generation ended.
type Finish string

const (
	FinishStop      Finish = "stop"      // an end-of-generation token (with a grammar: the JSON was complete)
	FinishLength    Finish = "length"    // MaxTokens or the context ran out; a grammar's JSON was closed validly
	FinishCancelled Finish = "cancelled" // the request's context was cancelled
	FinishDeadline  Finish = "deadline"  // the request's Deadline passed
	FinishError     Finish = "error"     // the model or grammar failed; Generate's error says how
)

// Event is one step of output, delivered in order to Generate's callback.
type Event struct {
	Tokens []int32 // the tokens this step added (several for a forced run; none for Close's ending)
	Text   string  // text delta: never splits a UTF-8 character
	Field  string  // delta of Request.StreamField's text, unescaped
}

// Stats describe a finished generation.
type Stats struct {
	PromptTokens    int           // tokens of the prompt
	ReusedTokens    int           // of them, found in the KV cache and not recomputed
	GeneratedTokens int           // tokens chosen, forced ones included
	TTFT            time.Duration // from Generate's call to the first chosen token
	DecodeTokS      float64       // generated tokens per second after the first
	Finish          Finish
}

// Result is a finished generation: the whole output text (the concatenation
// of every Event.Text) and its Stats. With FinishCancelled or
// FinishDeadline the text is what was generated so far, which for a grammar
// is unfinished JSON.
type Result struct {
	Text  string
	Stats Stats
}

// Options configure an Engine; zero values pick the defaults.
type Options struct {
	Context    int // positions the KV state holds; 0: the model's context length
	Batch      int // prompt tokens per prefill chunk, between cancellation checks; 0: 256
	QueueSize  int // requests that may wait; 0: 64
	TokenCache int // tokenized segments kept (LRU); 0: 256
}

// Engine generates text with one model, one request at a time.
type Engine struct {
	m   *model.Model
	tok *tokenizer.Tokenizer
	opt Options

	q    *queue
	done chan struct{} // closed when the owner goroutine has exited

	// onStart, when set (by tests), is called by the owner goroutine as it
	// begins a request.
	onStart func(*Request)
	// onPrefill, when set (by tests), is called by the owner goroutine after
	// each prefill chunk with the number of positions now cached.
	onPrefill func(pos int)

	// The fields below belong to the owner goroutine alone.
	st     *model.State
	kv     []int32 // the tokens in st's cache, in order: len(kv) == st.Pos()
	segs   *lru    // segment tokenizations
	recent []int32 // scratch: prompt and output, for the repetition penalty
}

// New returns an Engine serving m with tokenizer tok (which must be m's
// vocabulary) and starts its owner goroutine, which runs until Close.
func New(m *model.Model, tok *tokenizer.Tokenizer, opt Options) (*Engine, error) {
	if tok.VocabSize() != m.Config.Vocab {
		return nil, fmt.Errorf("engine: new: tokenizer has %d tokens, model %d", tok.VocabSize(), m.Config.Vocab)
	}
	if opt.Context <= 0 {
		opt.Context = m.Config.Context
	}
	if opt.Batch <= 0 {
		opt.Batch = 256
	}
	if opt.QueueSize <= 0 {
		opt.QueueSize = 64
	}
	if opt.TokenCache <= 0 {
		opt.TokenCache = 256
	}
	st, err := m.NewState(opt.Context, opt.Batch)
	if err != nil {
		return nil, fmt.Errorf("engine: new: %w", err)
	}
	e := &Engine{
		m: m, tok: tok, opt: opt,
		q:    newQueue(opt.QueueSize),
		done: make(chan struct{}),
		st:   st,
		segs: newLRU(opt.TokenCache),
	}
	// The owner goroutine exits when Close is called, after finishing the
	// request it is running.
	go e.run()
	return e, nil
}

// Close stops accepting requests, fails those still waiting with ErrClosed,
// lets the running one finish, and waits for the owner goroutine to exit.
// Calling it twice is harmless.
func (e *Engine) Close() error {
	e.q.close()
	<-e.done
	return nil
}

// Queued is the number of requests waiting (not counting the running one).
func (e *Engine) Queued() int { return e.q.len() }

// job is one request in flight between Generate and the owner goroutine.
type job struct {
	ctx    context.Context
	req    *Request
	submit time.Time
	seq    uint64     // arrival order, for FIFO among equal priorities
	index  int        // position in the queue's heap; -1 once taken
	events chan Event // owner → Generate; closed by the owner when done
	res    Result     // written by the owner before closing events
	err    error
}

// Generate runs req and returns its result, calling fn (if not nil) on the
// calling goroutine with each Event as it is produced. It waits in the
// queue behind requests of higher or equal priority; a full queue returns
// ErrOverloaded at once. Cancelling ctx ends the request promptly, waiting
// or running, with FinishCancelled and a nil error, as does a passed
// Deadline with FinishDeadline: both are outcomes, not failures. The error
// is non-nil for a request that is malformed or could not run (ErrClosed,
// ErrOverloaded, a prompt longer than the context) and for FinishError.
func (e *Engine) Generate(ctx context.Context, req Request, fn func(Event)) (Result, error) {
	if len(req.Segments) == 0 {
		return Result{}, errors.New("engine: generate: no prompt segments")
	}
	if req.MaxTokens < 0 {
		return Result{}, fmt.Errorf("engine: generate: MaxTokens %d is negative", req.MaxTokens)
	}
	if req.StreamField != "" && req.Grammar == nil {
		return Result{}, fmt.Errorf("engine: generate: StreamField %q needs a Grammar", req.StreamField)
	}
	if req.Grammar != nil && req.Grammar.Vocab().Size() != e.m.Config.Vocab {
		return Result{}, fmt.Errorf("engine: generate: grammar vocabulary has %d tokens, model %d", req.Grammar.Vocab().Size(), e.m.Config.Vocab)
	}
	if err := req.Sampling.Validate(); err != nil {
		return Result{}, fmt.Errorf("engine: generate: %w", err)
	}
	j := &job{ctx: ctx, req: &req, submit: time.Now(), events: make(chan Event, 16)}
	if err := e.q.push(j); err != nil {
		return Result{}, err
	}
	var expired <-chan time.Time
	if !req.Deadline.IsZero() {
		timer := time.NewTimer(time.Until(req.Deadline))
		defer timer.Stop()
		expired = timer.C
	}
	for {
		select {
		case <-expired:
			// As for cancellation: a waiting request leaves the queue now.
			if e.q.remove(j) {
				return Result{Stats: Stats{Finish: FinishDeadline}}, nil
			}
			expired = nil
		case ev, ok := <-j.events:
			if !ok {
				return j.res, j.err
			}
			if fn != nil {
				fn(ev)
			}
		case <-ctx.Done():
			// Still waiting: leave the queue now rather than behind the
			// running request. Taken already: the owner sees ctx itself.
			if e.q.remove(j) {
				return Result{Stats: Stats{Finish: FinishCancelled}}, nil
			}
			ctx = context.Background() // stop selecting on a done channel; drain events
		}
	}
}

// run is the owner goroutine: it takes requests in priority order until the
// queue is closed.
func (e *Engine) run() {
	defer close(e.done)
	for {
		j, ok := e.q.pop()
		if !ok {
			return
		}
		if e.onStart != nil {
			e.onStart(j.req)
		}
		j.res, j.err = e.generate(j)
		close(j.events)
	}
}

// emit hands ev to the request's Generate, unless the request is cancelled.
func emit(j *job, ev Event) {
	select {
	case j.events <- ev:
	case <-j.ctx.Done():
	}
}

// stopped reports whether j should end now, and how.
func stopped(j *job) (Finish, bool) {
	if j.ctx.Err() != nil {
		return FinishCancelled, true
	}
	if !j.req.Deadline.IsZero() && !time.Now().Before(j.req.Deadline) {
		return FinishDeadline, true
	}
	return "", false
}

// tokens tokenizes req's segments (each on its own, through the LRU) into
// one prompt, after BOS when the vocabulary wants one.
func (e *Engine) tokens(req *Request) []int32 {
	var p []int32
	if e.tok.AddBOS() {
		p = append(p, e.tok.BOS())
	}
	for _, s := range req.Segments {
		key := segKey{s.Text, s.Special}
		ids, ok := e.segs.get(key)
		if !ok {
			if s.Special {
				ids = e.tok.EncodeSpecial(s.Text)
			} else {
				ids = e.tok.Encode(s.Text)
			}
			e.segs.put(key, ids)
		}
		p = append(p, ids...)
	}
	return p
}

// generate runs one request on the owner goroutine.
func (e *Engine) generate(j *job) (Result, error) {
	req := j.req
	var res Result
	prompt := e.tokens(req)
	res.Stats.PromptTokens = len(prompt)
	if len(prompt) == 0 {
		res.Stats.Finish = FinishError
		return res, errors.New("engine: generate: prompt has no tokens")
	}
	if len(prompt) >= e.opt.Context {
		res.Stats.Finish = FinishError
		return res, fmt.Errorf("engine: generate: prompt of %d tokens leaves no room in a context of %d", len(prompt), e.opt.Context)
	}
	if f, ok := stopped(j); ok {
		res.Stats.Finish = f
		return res, nil
	}

	// Prefix reuse: keep the longest common prefix of the cache and the
	// prompt, but recompute at least the prompt's last token, whose logits
	// the first step needs.
	reuse := 0
	for reuse < len(e.kv) && reuse < len(prompt) && e.kv[reuse] == prompt[reuse] {
		reuse++
	}
	reuse = min(reuse, len(prompt)-1)
	if err := e.st.Truncate(reuse); err != nil {
		e.resetState()
		reuse = 0
	}
	e.kv = e.kv[:reuse]
	res.Stats.ReusedTokens = reuse

	var logits []float32
	for rest := prompt[reuse:]; len(rest) > 0; {
		if f, ok := stopped(j); ok {
			res.Stats.Finish = f
			return res, nil
		}
		n := min(len(rest), e.opt.Batch)
		var err error
		if logits, err = e.m.Forward(e.st, rest[:n]); err != nil {
			e.resetState()
			res.Stats.Finish = FinishError
			return res, fmt.Errorf("engine: generate: prefill: %w", err)
		}
		e.kv = append(e.kv, rest[:n]...)
		rest = rest[n:]
		if e.onPrefill != nil {
			e.onPrefill(len(e.kv))
		}
	}

	var rng *rand.Rand
	if !req.Sampling.Greedy() {
		rng = rand.New(rand.NewPCG(req.Sampling.Seed, 0x616e696d61)) // "anima"
	}
	smp, err := sample.New(req.Sampling.Params, rng)
	if err != nil {
		res.Stats.Finish = FinishError
		return res, fmt.Errorf("engine: generate: %w", err)
	}
	var mt *grammar.Matcher
	if req.Grammar != nil {
		mt = req.Grammar.NewMatcher()
		if req.StreamField != "" {
			if err := mt.StreamField(req.StreamField); err != nil {
				res.Stats.Finish = FinishError
				return res, fmt.Errorf("engine: generate: %w", err)
			}
		}
	}
	dec := e.tok.NewDecoder()
	var text []byte
	var field []byte
	e.recent = append(e.recent[:0], prompt...)
	var first time.Time
	finish := Finish("")

	for finish == "" {
		if f, ok := stopped(j); ok {
			finish = f
			break
		}
		left := e.opt.Context - e.st.Pos()
		if req.MaxTokens > 0 {
			left = min(left, req.MaxTokens-res.Stats.GeneratedTokens)
		}
		if left <= 0 {
			finish = FinishLength
			break
		}
		if mt != nil && mt.Done() {
			finish = FinishStop
			break
		}
		var step []int32
		if mt != nil {
			step = mt.Forced()
			if len(step) > left {
				step = step[:left]
			}
		}
		if len(step) == 0 {
			if mt != nil {
				mask, _ := mt.Allowed()
				grammar.ApplyMask(logits, mask) // logits belong to st and are overwritten by the next Forward
			}
			id, err := smp.Sample(logits, e.recent)
			if err != nil {
				finish = FinishError
				res.Stats.Finish = finish
				return res, fmt.Errorf("engine: generate: sample: %w", err)
			}
			step = []int32{id}
		}
		if first.IsZero() {
			first = time.Now()
			res.Stats.TTFT = first.Sub(j.submit)
		}
		feed := step
		start := len(text)
		for i, id := range step {
			if mt != nil {
				if err := mt.Accept(id); err != nil {
					res.Stats.Finish = FinishError
					return res, fmt.Errorf("engine: generate: grammar: %w", err)
				}
			}
			res.Stats.GeneratedTokens++
			e.recent = append(e.recent, id)
			text = append(text, dec.Add(id)...)
			if e.tok.IsEOG(id) && (mt == nil || mt.Done()) {
				feed, step = step[:i], step[:i+1]
				finish = FinishStop
				break
			}
		}
		ev := Event{Tokens: slices.Clone(step), Text: string(text[start:])} // a forced run belongs to the Grammar
		if mt != nil {
			field = mt.AppendDelta(field[:0])
			ev.Field = string(field)
		}
		emit(j, ev)
		if finish != "" {
			break
		}
		if logits, err = e.m.Forward(e.st, feed); err != nil {
			e.resetState()
			res.Stats.Finish = FinishError
			return res, fmt.Errorf("engine: generate: decode: %w", err)
		}
		e.kv = append(e.kv, feed...)
	}

	// The ending: flush held-back bytes, and close a grammar's JSON when the
	// budget ran out, so the output still parses.
	start := len(text)
	text = append(text, dec.Flush()...)
	var ev Event
	if finish == FinishLength && mt != nil && !mt.Done() {
		text = append(text, mt.Close()...)
		field = mt.AppendDelta(field[:0])
		ev.Field = string(field)
	}
	if len(text) > start || ev.Field != "" {
		ev.Text = string(text[start:])
		emit(j, ev)
	}
	if n := res.Stats.GeneratedTokens; n > 1 {
		if d := time.Since(first); d > 0 {
			res.Stats.DecodeTokS = float64(n-1) / d.Seconds()
		}
	}
	res.Stats.Finish = finish
	res.Text = string(text)
	return res, nil
}

// resetState empties the KV state after a failure left it unknown.
func (e *Engine) resetState() {
	e.st.Reset()
	e.kv = e.kv[:0]
}
