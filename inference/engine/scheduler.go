package engine

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/anima-rt/anima/inference/grammar"
	"github.com/anima-rt/anima/inference/kvcache"
	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/sample"
	"github.com/anima-rt/anima/inference/tokenizer"
)

// This file is the scheduler goroutine: continuous batching over the
// Engine's slots. Each iteration admits waiting requests into free slots
// (most urgent first), ends the sequences whose context was cancelled or
// whose deadline passed, runs one model step over every running sequence,
// and samples the next token of each sequence whose pending tokens were
// all fed.

// slot is one sequence's KV cache. It outlives its sequences: an idle slot
// keeps the tokens it holds, for the next prompt that starts with them.
type slot struct {
	st     *model.State
	origin []kvcache.BlockID // per position of st's cache: where its keys and values came from (cascade.go)
	kv     []int32           // the tokens in st's cache, in order: len(kv) == st.Pos()
	used   uint64            // Engine.clock when last running, to pick which idle cache to overwrite
	seq    *sequence         // the running sequence; nil when idle
}

func newSlot(m *model.Model, opt Options) (*slot, error) {
	// Chunks of 1: the State's own scratch serves only attention (a slot
	// is stepped through the Engine's Batch), which is sized by context.
	st, err := m.NewState(opt.Context, 1)
	if err != nil {
		return nil, err
	}
	return &slot{st: st, origin: make([]kvcache.BlockID, opt.Context)}, nil
}

// sequence is one request running in a slot.
type sequence struct {
	j       *job
	prompt  []int32
	pending []int32 // tokens to feed before the next sample: the prompt's rest, then each step's choice
	prefill bool    // pending is (the rest of) the prompt

	res    Result
	smp    *sample.Sampler
	mt     *grammar.Matcher // nil without a grammar
	dec    *tokenizer.Decoder
	text   []byte
	field  []byte  // scratch for the streamed field's delta
	recent []int32 // prompt and output, for the repetition penalty
	first  time.Time
}

// run is the scheduler goroutine: it admits and steps sequences until the
// queue is closed and the running sequences have finished.
func (e *Engine) run() {
	defer close(e.done)
	for {
		if e.hk.beforeStep != nil {
			e.hk.beforeStep()
		}
		closed := e.admit()
		if !e.running() {
			if closed {
				return
			}
			if e.hk.onIdle != nil {
				e.hk.onIdle()
			}
			e.q.wait()
			continue
		}
		e.step()
	}
}

func (e *Engine) running() bool {
	for _, s := range e.slots {
		if s.seq != nil {
			return true
		}
	}
	return false
}

// admit starts waiting requests while fewer than MaxSeqs run — or fewer
// than MaxSeqs + UrgentSeqs, for a request that outranks a running one —
// and reports whether the queue is closed.
func (e *Engine) admit() (closed bool) {
	for {
		running, lowest := 0, 0
		for _, s := range e.slots {
			if s.seq != nil {
				if p := s.seq.j.req.Priority; running == 0 || p < lowest {
					lowest = p
				}
				running++
			}
		}
		switch {
		case running < e.opt.MaxSeqs:
		case running < e.opt.MaxSeqs+e.opt.UrgentSeqs:
			if p, ok := e.q.peek(); !ok || p <= lowest {
				return false
			}
		default:
			return false
		}
		j, closed := e.q.tryPop()
		if j == nil {
			return closed
		}
		if e.hk.onStart != nil {
			e.hk.onStart(j)
		}
		e.start(j)
	}
}

// lcp is the length of the longest common prefix of a and b.
func lcp(a, b []int32) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// start places j in a slot with its prompt's longest cached prefix, or
// ends it at once if it cannot run.
func (e *Engine) start(j *job) {
	req := j.req
	prompt := e.tokens(req)
	fail := func(err error) {
		e.finish(j, Result{Stats: Stats{PromptTokens: len(prompt), Finish: FinishError}}, err)
	}
	if len(prompt) == 0 {
		fail(errors.New("engine: generate: prompt has no tokens"))
		return
	}
	if len(prompt) >= e.opt.Context {
		fail(fmt.Errorf("engine: generate: prompt of %d tokens leaves no room in a context of %d", len(prompt), e.opt.Context))
		return
	}
	if f, ok := stopped(j); ok {
		e.finish(j, Result{Stats: Stats{PromptTokens: len(prompt), Finish: f}}, nil)
		return
	}
	seq := &sequence{j: j, prompt: prompt, prefill: true, dec: e.tok.NewDecoder()}
	seq.res.Stats.PromptTokens = len(prompt)
	var rng *rand.Rand
	if !req.Sampling.Greedy() {
		rng = rand.New(rand.NewPCG(req.Sampling.Seed, 0x616e696d61)) // "anima"
	}
	var err error
	if seq.smp, err = sample.New(req.Sampling.Params, rng); err != nil {
		fail(fmt.Errorf("engine: generate: %w", err))
		return
	}
	if req.Grammar != nil {
		seq.mt = req.Grammar.NewMatcher()
		if req.StreamField != "" {
			if err := seq.mt.StreamField(req.StreamField); err != nil {
				fail(fmt.Errorf("engine: generate: %w", err))
				return
			}
		}
	}
	seq.recent = append(seq.recent, prompt...)

	// The slot: the idle one sharing the longest prefix with the prompt;
	// failing any, an empty one, or a new one while fewer than MaxSeqs +
	// UrgentSeqs exist (admit has checked that this request may run),
	// rather than overwrite another prompt's cache; failing that,
	// the least recently used idle one.
	var dst *slot
	best := -1
	for _, s := range e.slots {
		if s.seq != nil {
			continue
		}
		n := lcp(s.kv, prompt)
		if n > best || n == best && s.used < dst.used {
			dst, best = s, n
		}
	}
	if best <= 0 && (dst == nil || len(dst.kv) > 0) && len(e.slots) < e.opt.MaxSeqs+e.opt.UrgentSeqs {
		s, err := newSlot(e.m, e.opt)
		if err != nil {
			fail(fmt.Errorf("engine: generate: %w", err))
			return
		}
		e.slots = append(e.slots, s)
		dst, best = s, 0
	}
	// Always recompute the prompt's last token, whose logits the first
	// sample needs.
	reuse := min(best, len(prompt)-1)
	if err := dst.st.Truncate(reuse); err != nil {
		dst.st.Reset()
		reuse = 0
	}
	dst.kv = dst.kv[:reuse]
	// Another slot, running or idle, may hold more of the prompt: copying
	// its keys and values costs far less than computing them.
	var src *slot
	for _, s := range e.slots {
		if s != dst {
			if n := min(lcp(s.kv, prompt), len(prompt)-1); n > reuse {
				src, reuse = s, n
			}
		}
	}
	if src != nil {
		if err := dst.st.CopyPrefix(src.st, reuse); err != nil {
			fail(fmt.Errorf("engine: generate: %w", err))
			return
		}
		copy(dst.origin[:reuse], src.origin)
		dst.kv = append(dst.kv[:0], prompt[:reuse]...)
	}
	if e.store != nil {
		if n := e.store.load(dst.st, dst.origin, prompt, reuse); n > reuse {
			dst.kv = append(dst.kv[:0], prompt[:n]...)
			reuse = n
		}
	}
	seq.res.Stats.ReusedTokens = reuse
	seq.pending = prompt[reuse:]
	if err := e.open(seq); err != nil {
		fail(err)
		return
	}
	dst.seq = seq
	dst.used = e.clock
	e.statsMu.Lock()
	st := &e.stats
	st.Requests++
	st.PromptTokens += int64(len(prompt))
	st.ReusedTokens += int64(reuse)
	if reuse > 0 {
		st.Hits++
	}
	st.Slots, st.Bytes = len(e.slots), int64(len(e.slots))*dst.st.Cache.Bytes()
	if e.segs != nil {
		st.SegmentBytes = e.segs.used()
	}
	e.statsMu.Unlock()
	e.noteStore()
}

// open appends the run a grammar forces before its first choice (the
// `{"emotion":"` of a decision) to the prompt's pending tokens, so that
// the prompt's last step computes it too instead of a step of its own
// after it, and emits it as the first event. Its tokens count as
// generated, as forced runs do; the time to first token stays the first
// token after the prompt.
func (e *Engine) open(seq *sequence) error {
	mt := seq.mt
	if mt == nil {
		return nil
	}
	left := e.opt.Context - len(seq.prompt)
	if n := seq.j.req.MaxTokens; n > 0 {
		left = min(left, n)
	}
	f := mt.Forced()
	f = f[:min(len(f), max(left, 0))]
	if len(f) == 0 || slices.ContainsFunc(f, e.tok.IsEOG) {
		return nil // nothing forced, or a grammar done before it starts: next ends it
	}
	for _, id := range f {
		if err := mt.Accept(id); err != nil {
			return fmt.Errorf("engine: generate: grammar: %w", err)
		}
	}
	seq.res.Stats.GeneratedTokens += len(f)
	seq.recent = append(seq.recent, f...)
	start := len(seq.text)
	for _, id := range f {
		seq.text = append(seq.text, seq.dec.Add(id)...)
	}
	// From here the run is part of the prompt the slot computes (catchUp
	// copies and compares by it); new slices, as the prompt's may be the
	// segment cache's.
	seq.prompt = append(slices.Clip(seq.prompt), f...)
	seq.pending = append(slices.Clip(seq.pending), f...)
	seq.j.emit(e.event(seq, f, start))
	return nil
}

// noteStore copies the prefix store's figures into the engine's stats,
// after a load or save changed them.
func (e *Engine) noteStore() {
	if e.store == nil {
		return
	}
	ss := e.store.c.Stats()
	e.statsMu.Lock()
	e.stats.StoreBytes, e.stats.StoreEvictions = ss.Bytes, ss.Evictions
	e.statsMu.Unlock()
}

// step runs one model step over the running sequences: it ends those that
// were cancelled or are past their deadline, feeds the others' pending
// tokens within the step budget (decoding sequences first, then prefill
// chunks, each by priority; a chunk outranked by a sequence decoding in
// the step is cut to Options.OutrankedBatch), and samples for every
// sequence whose pending tokens are all fed.
func (e *Engine) step() {
	e.clock++
	e.active = e.active[:0]
	for _, s := range e.slots {
		if s.seq == nil {
			continue
		}
		if f, ok := stopped(s.seq.j); ok {
			e.end(s, f, nil)
			continue
		}
		e.active = append(e.active, s)
	}
	slices.SortStableFunc(e.active, func(a, b *slot) int {
		if a.seq.prefill != b.seq.prefill {
			if a.seq.prefill {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(b.seq.j.req.Priority, a.seq.j.req.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.seq.j.seq, b.seq.j.seq)
	})
	budget := e.batch.Tokens()
	e.chunks, e.inStep = e.chunks[:0], e.inStep[:0]
	top, decoding := 0, false // the highest priority decoding in this step
	for i, s := range e.active {
		if budget == 0 || len(e.chunks) == e.batch.Seqs() {
			break
		}
		if s.seq.prefill && !e.catchUp(s, e.active[:i]) {
			continue
		}
		k := min(len(s.seq.pending), budget)
		switch p := s.seq.j.req.Priority; {
		case !s.seq.prefill:
			if !decoding || p > top {
				top, decoding = p, true
			}
		case decoding && p < top:
			k = min(k, e.opt.OutrankedBatch)
		default:
			k = min(k, e.opt.Batch)
		}
		e.chunks = append(e.chunks, model.Chunk{State: s.st, Tokens: s.seq.pending[:k]})
		e.inStep = append(e.inStep, s)
		budget -= k
	}
	if len(e.chunks) == 0 {
		return
	}
	if err := e.m.StepShared(e.batch, e.chunks, e.sharedRuns()); err != nil {
		for _, s := range e.inStep {
			s.st.Reset()
			s.kv = s.kv[:0]
			e.end(s, FinishError, fmt.Errorf("engine: generate: step: %w", err))
		}
		return
	}
	if e.hk.onStep != nil {
		e.hk.onStep(len(e.chunks), e.batch.Tokens()-budget)
	}
	if cs := &e.casc; len(cs.runs) > 0 {
		e.statsMu.Lock()
		e.stats.SharedSteps++
		e.stats.SharedPositions += cs.saved
		e.statsMu.Unlock()
	}
	for i, s := range e.inStep {
		fed := e.chunks[i].Tokens
		e.computed(s, len(s.kv), len(fed))
		s.kv = append(s.kv, fed...)
		s.seq.pending = s.seq.pending[len(fed):]
		if s.seq.prefill && e.hk.onPrefill != nil {
			e.hk.onPrefill(s.st.Pos())
		}
		if len(s.seq.pending) == 0 {
			s.seq.prefill = false
			e.next(s, e.batch.Logits(i))
		}
	}
	for i := range e.chunks {
		e.chunks[i] = model.Chunk{} // drop the States and token slices
	}
}

// catchUp lets sequences that start alike prefill their common prefix
// once (NPCs of one world share its lore; a cold start admits many at
// once): prefilling slot s first copies whatever any other slot has cached
// of its prompt beyond its own position, then reports whether it should
// compute its next chunk — not if a sequence ahead of it in this step (in
// order) is computing the same next tokens, from which s will copy them
// on a later step.
func (e *Engine) catchUp(s *slot, ahead []*slot) bool {
	prompt := s.seq.prompt
	pos := s.st.Pos()
	var src *slot
	best := pos
	for _, o := range e.slots {
		if o != s {
			if n := min(lcp(o.kv, prompt), len(prompt)-1); n > best {
				src, best = o, n
			}
		}
	}
	if src != nil && s.st.CopyPrefix(src.st, best) == nil {
		copy(s.origin[:best], src.origin)
		s.kv = append(s.kv[:0], prompt[:best]...)
		s.seq.pending = prompt[best:]
		s.seq.res.Stats.ReusedTokens += best - pos
		e.statsMu.Lock()
		e.stats.ReusedTokens += int64(best - pos)
		if s.seq.res.Stats.ReusedTokens == best-pos {
			e.stats.Hits++ // its first reuse
		}
		e.statsMu.Unlock()
		pos = best
	}
	for _, o := range ahead {
		if o.seq.prefill && o.st.Pos() == pos && lcp(o.seq.prompt, prompt) > pos {
			return false
		}
	}
	return true
}

// next chooses slot s's next tokens from logits — a forced run of the
// grammar, or one sampled token — emits them, and makes them pending, or
// ends the sequence.
func (e *Engine) next(s *slot, logits []float32) {
	seq := s.seq
	req := seq.j.req
	st := &seq.res.Stats
	left := e.opt.Context - s.st.Pos()
	if req.MaxTokens > 0 {
		left = min(left, req.MaxTokens-st.GeneratedTokens)
	}
	if left <= 0 {
		e.end(s, FinishLength, nil)
		return
	}
	mt := seq.mt
	if mt != nil && mt.Done() {
		e.end(s, FinishStop, nil)
		return
	}
	var step []int32
	if mt != nil {
		step = mt.Forced()
		if len(step) > left {
			step = step[:left]
		}
	}
	sampled := len(step) == 0
	if sampled {
		if mt != nil {
			mask, _ := mt.Allowed()
			grammar.ApplyMask(logits, mask) // logits belong to the Batch and are overwritten by the next step
		}
		id, err := seq.smp.Sample(logits, seq.recent)
		if err != nil {
			e.end(s, FinishError, fmt.Errorf("engine: generate: sample: %w", err))
			return
		}
		step = []int32{id}
	}
	if seq.first.IsZero() {
		seq.first = time.Now()
		st.TTFT = seq.first.Sub(seq.j.submit)
	}
	feed := step
	start, from := len(seq.text), 0 // the event's text and tokens begin here
	finish := Finish("")
	for i := 0; i < len(step); i++ {
		id := step[i]
		if mt != nil {
			if err := mt.Accept(id); err != nil {
				e.end(s, FinishError, fmt.Errorf("engine: generate: grammar: %w", err))
				return
			}
		}
		st.GeneratedTokens++
		seq.recent = append(seq.recent, id)
		seq.text = append(seq.text, seq.dec.Add(id)...)
		if e.tok.IsEOG(id) && (mt == nil || mt.Done()) {
			feed, step = step[:i], step[:i+1]
			finish = FinishStop
			break
		}
		// A sampled token that the grammar follows with a forced run (the
		// emotion, then `","action":{"name":"`) takes the run along: the
		// next step feeds both, and its logits are those after the run,
		// where the next choice is. Fed a step later on their own, the
		// runs of a decision's scaffolding cost a model step each, a third
		// of the steps before an NPC's first word. The two stay two
		// events, as they were: a caller that repeats the output in a
		// later prompt cut at its events (NPC minds' history) tokenizes it
		// as it was generated, and a run's text joined to the token before
		// it could tokenize otherwise.
		if sampled && i == 0 && mt != nil && !mt.Done() && len(step) < left {
			if f := mt.Forced(); len(f) > 0 {
				seq.j.emit(e.event(seq, step[:1], start))
				step = append(step, f[:min(len(f), left-len(step))]...)
				feed = step
				start, from = len(seq.text), 1
			}
		}
	}
	ev := e.event(seq, step[from:], start)
	seq.j.emit(ev)
	if finish != "" {
		e.end(s, finish, nil)
		return
	}
	seq.pending = feed
}

// event is the Event of toks, whose text begins at seq.text[start:], and
// of the streamed field's text since the last event.
func (e *Engine) event(seq *sequence, toks []int32, start int) Event {
	ev := Event{Tokens: slices.Clone(toks), Text: string(seq.text[start:])} // a forced run belongs to the Grammar
	if mt := seq.mt; mt != nil {
		seq.field = mt.AppendDelta(seq.field[:0])
		ev.Field = string(seq.field)
	}
	return ev
}

// end finishes slot s's sequence with finish (and err, for FinishError)
// and frees the slot, which keeps the tokens it cached for later prompts.
func (e *Engine) end(s *slot, finish Finish, err error) {
	seq := s.seq
	s.seq, s.used = nil, e.clock
	if e.store != nil {
		e.store.save(s.st, s.origin, s.kv)
		e.noteStore()
	}
	// The ending: flush held-back bytes, and close a grammar's JSON when the
	// budget ran out, so the output still parses.
	start := len(seq.text)
	seq.text = append(seq.text, seq.dec.Flush()...)
	var ev Event
	if finish == FinishLength && seq.mt != nil && !seq.mt.Done() {
		seq.text = append(seq.text, seq.mt.Close()...)
		seq.field = seq.mt.AppendDelta(seq.field[:0])
		ev.Field = string(seq.field)
	}
	if len(seq.text) > start || ev.Field != "" {
		ev.Text = string(seq.text[start:])
		seq.j.emit(ev)
	}
	st := &seq.res.Stats
	if n := st.GeneratedTokens; n > 1 {
		if d := time.Since(seq.first); d > 0 {
			st.DecodeTokS = float64(n-1) / d.Seconds()
		}
	}
	st.Finish = finish
	seq.res.Text = string(seq.text)
	e.finish(seq.j, seq.res, err)
}

// finish ends j, which the scheduler took from the queue.
func (e *Engine) finish(j *job, res Result, err error) {
	if e.hk.onEnd != nil {
		e.hk.onEnd(j, res)
	}
	j.finish(res, err)
}
