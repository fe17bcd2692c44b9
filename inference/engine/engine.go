// Package engine serves generation requests on one native model: the Engine
// API of DESIGN.md (Inference). A request is a list of prompt segments, each
// tokenized on its own so that token boundaries never shift and a prefix
// seen before stays reusable; an optional compiled grammar that the output
// must follow; sampling settings; a priority; a deadline; and cancellation
// through a context. The result streams text deltas (and the deltas of one
// chosen string field, the NPC's "say") and ends with Stats.
//
// The Engine batches continuously (scheduler.go): one scheduler goroutine
// owns the model's sequence slots, each a KV cache of its own, and runs
// steps of one forward pass (model.Step) that decode one token for every
// running sequence and prefill chunks of waiting prompts within a token
// budget, higher priorities first. A new request starts in the slot whose
// cached tokens share the longest prefix with its prompt, or copies that
// prefix from any other slot, running or idle, rather than recomputing it;
// requests admitted together compute the prefix they share once; and a
// prefix store (store.go: kvcache blocks in a prefix tree, LRU under a byte
// budget) keeps what finished sequences computed after their slots are
// taken, so an NPC's next turn finds its persona and conversation. Priority
// orders the queue and each step's budget, and a request that outranks a
// running sequence may take one of a few slots held back for it
// (Options.UrgentSeqs) when the others are busy; running sequences are
// never preempted. Segments are tokenized once and kept by their weight
// in bytes (segments.go), so the lore is not re-encoded per request.
//
// The store and the scheduler are specified by the script tests under
// testdata/ (store.txt, scheduler_*.txt).
package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	Context   int // positions each sequence's KV state holds; 0: the model's context length
	Batch     int // prompt tokens one sequence prefills per step, between cancellation checks; 0: 256
	QueueSize int // requests that may wait; 0: 64
	// TokenCacheBytes bounds the tokenized segments kept (segments.go),
	// weighed by their bytes; 0: 4 MiB; negative: none kept.
	TokenCacheBytes int64
	// MaxSeqs is the number of sequences decoded together, each in a slot
	// of its own with a KV cache of Context positions (allocated when first
	// needed, then kept for prefix reuse); 0: 8. Memory grows with it:
	// MaxSeqs × Context × layers × 2 × KV width × 4 bytes.
	MaxSeqs int
	// UrgentSeqs are slots beyond MaxSeqs that only a request outranking a
	// running sequence may take (a player's line while ambient thoughts
	// fill every slot), so that it starts at once rather than when the
	// first of those ends; 0: MaxSeqs/4, at least 1; negative: none.
	UrgentSeqs int
	// StoreBytes is the memory of the prefix store, which keeps the keys
	// and values of finished sequences in blocks shared through a prefix
	// tree and evicts the least recently used (store.go), allocated when
	// the Engine is made; 0: 64 MiB; negative: no store, only the slots.
	StoreBytes int64
	// OutrankedBatch is the prompt tokens a sequence prefills per step
	// while a sequence of higher priority decodes in that step; 0: Batch/4
	// (at least 1); negative: Batch, no cap. A step's time grows with its
	// prefill tokens, and a player's reply decodes a dozen tokens of the
	// decision's scaffolding before its first word: at full chunks of
	// ambient prompts beside it, those steps took ~20 ms each instead of a
	// few and the first word's tail waited on them. Capped, prompts of
	// lower priority still advance while the higher one decodes.
	OutrankedBatch int
	// StepTokens is the token budget of one step, all sequences together:
	// running sequences' decode tokens first, then prefill chunks; 0:
	// Batch + MaxSeqs + UrgentSeqs, room for one full chunk beside every
	// decode.
	StepTokens int
	// SharedRun is the shortest run of cached positions that the sequences
	// of a step holding the very same keys and values (NPCs over one lore)
	// attend together, reading it once for all of them (cascade.go,
	// model.StepShared); 0: 64; negative: never, each attends alone.
	SharedRun int
}

// Engine generates text with one model, for many requests at once.
type Engine struct {
	m   *model.Model
	tok *tokenizer.Tokenizer
	opt Options

	q     *queue
	done  chan struct{} // closed when the scheduler goroutine has exited
	hk    hooks
	store *prefixStore // nil without one; the scheduler goroutine's alone

	statsMu sync.Mutex // guards stats, written by the scheduler, read by CacheStats
	stats   CacheStats

	// The fields below belong to the scheduler goroutine alone.
	batch  *model.Batch
	slots  []*slot       // up to MaxSeqs + UrgentSeqs, created on demand
	segs   *segCache     // segment tokenizations; nil without one
	clock  uint64        // steps run; orders slots by last use
	chunks []model.Chunk // scratch: the step being built
	inStep []*slot       // scratch: the slot of each chunk
	active []*slot       // scratch: slots with a sequence
	casc   cascade       // shared attention's origins and scratch (cascade.go)
}

// hooks let tests watch and pause the scheduler goroutine, which calls
// them; they are fixed before it starts.
type hooks struct {
	onStart    func(*job)           // a request is taken from the queue, before it is placed in a slot
	onEnd      func(*job, Result)   // a request taken from the queue has ended
	onPrefill  func(pos int)        // a prefill chunk is done: pos positions cached
	beforeStep func()               // at the top of each scheduler iteration, before it admits requests
	onIdle     func()               // nothing runs: the scheduler is about to wait for a request
	onStep     func(seqs, toks int) // a model step ran
}

// New returns an Engine serving m with tokenizer tok (which must be m's
// vocabulary) and starts its scheduler goroutine, which runs until Close.
func New(m *model.Model, tok *tokenizer.Tokenizer, opt Options) (*Engine, error) {
	return newEngine(m, tok, opt, hooks{})
}

func newEngine(m *model.Model, tok *tokenizer.Tokenizer, opt Options, hk hooks) (*Engine, error) {
	if tok.VocabSize() != m.Config.Vocab {
		return nil, fmt.Errorf("engine: new: tokenizer has %d tokens, model %d", tok.VocabSize(), m.Config.Vocab)
	}
	if opt.Context <= 0 {
		opt.Context = m.Config.Context
	}
	if opt.Batch <= 0 {
		opt.Batch = 256
	}
	switch {
	case opt.OutrankedBatch == 0:
		opt.OutrankedBatch = max(1, opt.Batch/4)
	case opt.OutrankedBatch < 0 || opt.OutrankedBatch > opt.Batch:
		opt.OutrankedBatch = opt.Batch
	}
	if opt.QueueSize <= 0 {
		opt.QueueSize = 64
	}
	if opt.TokenCacheBytes == 0 {
		opt.TokenCacheBytes = 4 << 20
	}
	if opt.MaxSeqs <= 0 {
		opt.MaxSeqs = 8
	}
	switch {
	case opt.UrgentSeqs == 0:
		opt.UrgentSeqs = max(1, opt.MaxSeqs/4)
	case opt.UrgentSeqs < 0:
		opt.UrgentSeqs = 0
	}
	seqs := opt.MaxSeqs + opt.UrgentSeqs
	if opt.StepTokens <= 0 {
		opt.StepTokens = opt.Batch + seqs
	}
	if opt.SharedRun == 0 {
		opt.SharedRun = 64
	}
	if opt.Context < 2 || seqs > 1<<12 {
		return nil, fmt.Errorf("engine: new: context of %d positions, %d sequences: want a context of 2 or more, at most 4096 sequences", opt.Context, seqs)
	}
	b, err := m.NewBatch(opt.StepTokens, min(seqs, opt.StepTokens))
	if err != nil {
		return nil, fmt.Errorf("engine: new: %w", err)
	}
	// One slot now, so that a context the model cannot hold fails here.
	first, err := newSlot(m, opt)
	if err != nil {
		return nil, fmt.Errorf("engine: new: %w", err)
	}
	e := &Engine{
		m: m, tok: tok, opt: opt, hk: hk,
		q:     newQueue(opt.QueueSize),
		done:  make(chan struct{}),
		batch: b,
		slots: []*slot{first},
	}
	if opt.TokenCacheBytes > 0 {
		if e.segs, err = newSegCache(opt.TokenCacheBytes); err != nil {
			return nil, fmt.Errorf("engine: new: %w", err)
		}
		e.stats.SegmentBudget = opt.TokenCacheBytes
	}
	if opt.StoreBytes == 0 {
		opt.StoreBytes = 64 << 20
	}
	if opt.StoreBytes > 0 {
		if e.store, err = newPrefixStore(m, opt.StoreBytes); err != nil {
			return nil, fmt.Errorf("engine: new: prefix store: %w", err)
		}
		e.stats.StoreBudget = opt.StoreBytes
	}
	e.stats.Slots, e.stats.Bytes = 1, first.st.Cache.Bytes()
	// The scheduler goroutine exits when Close has been called and the
	// sequences it was running have finished.
	go e.run()
	return e, nil
}

// Close stops accepting requests, fails those still waiting with ErrClosed,
// lets the running ones finish, and waits for the scheduler goroutine to
// exit. Calling it twice is harmless.
func (e *Engine) Close() error {
	e.q.close()
	<-e.done
	if e.segs != nil {
		e.segs.close() // after the scheduler, its only user, has exited
	}
	return nil
}

// Queued is the number of requests waiting (not counting running ones).
func (e *Engine) Queued() int { return e.q.len() }

// CacheStats describe the engine's prefix reuse since New and the memory
// its sequence slots hold.
type CacheStats struct {
	Requests     int64 // requests started on the model
	Hits         int64 // of them, those that reused cached tokens
	PromptTokens int64 // their prompt tokens
	ReusedTokens int64 // of those, tokens whose keys and values were reused, not computed
	Slots        int   // sequence slots allocated
	Bytes        int64 // the slots' KV memory

	StoreBytes     int64 // the prefix store's blocks in use
	StoreBudget    int64 // the most it may use
	StoreEvictions int64 // blocks evicted to make room

	SegmentBytes  int64 // tokenized segments kept, weighed in bytes
	SegmentBudget int64 // the most they may weigh

	SharedSteps     int64 // steps in which sequences attended shared runs together
	SharedPositions int64 // cached positions those steps read once for several sequences instead of once each
}

// HitRate is the share of prompt tokens reused from the cache.
func (s CacheStats) HitRate() float64 {
	if s.PromptTokens == 0 {
		return 0
	}
	return float64(s.ReusedTokens) / float64(s.PromptTokens)
}

// Slots is how many sequences the engine decodes at once, urgent slots
// included: a caller with more requests in flight than this only queues
// them in the engine, in order, where it could choose better itself.
func (e *Engine) Slots() int { return e.opt.MaxSeqs + e.opt.UrgentSeqs }

// CacheStats returns the engine's prefix-reuse figures so far.
func (e *Engine) CacheStats() CacheStats {
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	return e.stats
}

// job is one request in flight between Generate and the scheduler. The
// scheduler never blocks on it: events wait in a mailbox that Generate
// drains, so one slow caller cannot stall the other sequences of a step.
// The mailbox is bounded by the request: one event per step at most, and a
// request ends within Context steps.
type job struct {
	ctx    context.Context
	req    *Request
	submit time.Time
	seq    uint64 // arrival order, for FIFO among equal priorities
	index  int    // position in the queue's heap; -1 once taken

	signal chan struct{} // capacity 1: the mailbox changed

	mu       sync.Mutex // guards the mailbox below
	evs      []Event
	finished bool
	res      Result
	err      error
}

func newJob(ctx context.Context, req *Request) *job {
	return &job{ctx: ctx, req: req, submit: time.Now(), signal: make(chan struct{}, 1)}
}

func (j *job) notify() {
	select {
	case j.signal <- struct{}{}:
	default:
	}
}

// emit queues ev for Generate, unless the request is cancelled (its
// Generate may have stopped reading).
func (j *job) emit(ev Event) {
	if j.ctx.Err() != nil {
		return
	}
	j.mu.Lock()
	j.evs = append(j.evs, ev)
	j.mu.Unlock()
	j.notify()
}

// finish ends the job with res and err; events emitted before it are
// delivered first.
func (j *job) finish(res Result, err error) {
	j.mu.Lock()
	j.res, j.err, j.finished = res, err, true
	j.mu.Unlock()
	j.notify()
}

// take moves the waiting events into buf and reports whether the job has
// finished.
func (j *job) take(buf []Event) ([]Event, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	buf = append(buf[:0], j.evs...)
	clear(j.evs)
	j.evs = j.evs[:0]
	return buf, j.finished
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
	j := newJob(ctx, &req)
	if err := e.q.push(j); err != nil {
		return Result{}, err
	}
	var expired <-chan time.Time
	if !req.Deadline.IsZero() {
		timer := time.NewTimer(time.Until(req.Deadline))
		defer timer.Stop()
		expired = timer.C
	}
	var evs []Event
	for {
		select {
		case <-expired:
			// As for cancellation: a waiting request leaves the queue now.
			if e.q.remove(j) {
				return Result{Stats: Stats{Finish: FinishDeadline}}, nil
			}
			expired = nil
		case <-j.signal:
			var done bool
			evs, done = j.take(evs)
			if fn != nil {
				for _, ev := range evs {
					fn(ev)
				}
			}
			if done {
				return j.res, j.err
			}
		case <-ctx.Done():
			// Still waiting: leave the queue now. Taken already: the
			// scheduler sees ctx before its next step and ends the request.
			if e.q.remove(j) {
				return Result{Stats: Stats{Finish: FinishCancelled}}, nil
			}
			ctx = context.Background() // stop selecting on a done channel
		}
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

// tokens tokenizes req's segments (each on its own, through the token
// cache) into one prompt, after BOS when the vocabulary wants one.
func (e *Engine) tokens(req *Request) []int32 {
	var p []int32
	if e.tok.AddBOS() {
		p = append(p, e.tok.BOS())
	}
	for _, s := range req.Segments {
		var ids []int32
		ok := false
		if e.segs != nil {
			ids, ok = e.segs.get(s.Text, s.Special)
		}
		if !ok {
			if s.Special {
				ids = e.tok.EncodeSpecial(s.Text)
			} else {
				ids = e.tok.Encode(s.Text)
			}
			if e.segs != nil {
				e.segs.put(s.Text, s.Special, ids)
			}
		}
		p = append(p, ids...)
	}
	return p
}
