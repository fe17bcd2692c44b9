package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// outcome is what a test compares between runs of one request.
type outcome struct {
	tokens []int32
	text   string
	field  string
	finish Finish
}

func run(t *testing.T, e *Engine, ctx context.Context, req Request, onEvent func(n int)) (outcome, Result) {
	t.Helper()
	var o outcome
	var field strings.Builder
	n := 0
	res, err := e.Generate(ctx, req, func(ev Event) {
		o.tokens = append(o.tokens, ev.Tokens...)
		field.WriteString(ev.Field)
		if n++; onEvent != nil {
			onEvent(n)
		}
	})
	if err != nil {
		t.Errorf("Generate: %v", err)
	}
	o.text, o.field, o.finish = res.Text, field.String(), res.Stats.Finish
	return o, res
}

// mixedRequests are greedy requests of several shapes: free text and NPC
// decisions with a streamed say, different prompts and budgets.
func mixedRequests(t *testing.T, fx *fixture) []Request {
	g := fx.grammar(t)
	var reqs []Request
	for i, stim := range []string{"Is the bridge safe?", "Where can I buy a knife?", "Wolves!", "Have you seen my brother?", "Bread, please.", "Who built the bridge?"} {
		r := Request{Segments: segments(stim), MaxTokens: 10 + 3*i, Priority: i % 3}
		if i%2 == 1 {
			r.Grammar, r.StreamField = g, "say"
			r.MaxTokens += 12
		}
		reqs = append(reqs, r)
	}
	return reqs
}

// TestBatchedMatchesOneAtATime runs the same greedy requests one at a time
// on an engine of one slot, then all at once on an engine that batches
// them (prefill chunks beside decode steps): each request's tokens, text
// and streamed field must be the same — with shared attention off, at its
// default, and taking every run of shared positions however short.
func TestBatchedMatchesOneAtATime(t *testing.T) {
	fx := loadFixture(t)
	reqs := mixedRequests(t, fx)
	serial := fx.engine(t, Options{MaxSeqs: 1})
	want := make([]outcome, len(reqs))
	for i, r := range reqs {
		want[i], _ = run(t, serial, context.Background(), r, nil)
	}

	for _, sharedRun := range []int{-1, 0, 1} {
		t.Run(fmt.Sprintf("SharedRun=%d", sharedRun), func(t *testing.T) {
			var p pauser
			var widest atomic.Int32
			e := fx.engineHooks(t, Options{MaxSeqs: 8, Batch: 32, SharedRun: sharedRun}, hooks{beforeStep: p.hook, onStep: func(seqs, toks int) {
				if int32(seqs) > widest.Load() {
					widest.Store(int32(seqs))
				}
			}})
			got := make([]outcome, len(reqs))
			p.mu.Lock() // queue them all, so that they start together
			var wg sync.WaitGroup
			for i, r := range reqs {
				wg.Add(1)
				// Exits when its request has finished.
				go func() {
					defer wg.Done()
					got[i], _ = run(t, e, context.Background(), r, nil)
				}()
				waitQueued(t, e, i+1)
			}
			p.mu.Unlock()
			wg.Wait()
			for i := range reqs {
				if !slices.Equal(got[i].tokens, want[i].tokens) || got[i].text != want[i].text || got[i].field != want[i].field || got[i].finish != want[i].finish {
					t.Errorf("request %d batched: %+v\none at a time: %+v", i, got[i], want[i])
				}
			}
			// Short requests end while long ones still prefill: not all six need
			// share a step, but most must have.
			if w := widest.Load(); w < 4 {
				t.Errorf("the widest step carried %d sequences; want at least 4 of %d", w, len(reqs))
			}
			// The six share the lore and persona, copied from the first
			// to compute them.
			cs := e.CacheStats()
			if on := sharedRun >= 0; on != (cs.SharedSteps > 0) || on != (cs.SharedPositions > 0) {
				t.Errorf("%d steps attended shared runs (%d positions spared); want some if and only if SharedRun >= 0", cs.SharedSteps, cs.SharedPositions)
			}
		})
	}
}

// TestCancelOneOfABatch cancels one of two sequences decoding together:
// it ends at once, and the other's output is what it would have been
// alone.
func TestCancelOneOfABatch(t *testing.T) {
	fx := loadFixture(t)
	reqs := mixedRequests(t, fx)
	alone, _ := run(t, fx.engine(t, Options{}), context.Background(), reqs[1], nil)

	var p pauser
	// Steps holding both sequences are counted from the cancel on (see
	// TestCancelMidDecode for why steps, not tokens).
	var stopping atomic.Bool
	var after atomic.Int32
	e := fx.engineHooks(t, Options{}, hooks{beforeStep: p.hook, onStep: func(seqs, toks int) {
		if stopping.Load() && seqs >= 2 {
			after.Add(1)
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	long := Request{Segments: segments("Tell me everything."), MaxTokens: 500}
	p.mu.Lock()
	var wg sync.WaitGroup
	var cancelled Result
	wg.Add(2)
	// Each exits when its request has finished.
	go func() {
		defer wg.Done()
		_, cancelled = run(t, e, ctx, long, func(n int) {
			if n == 3 {
				stopping.Store(true)
				cancel()
			}
		})
	}()
	waitQueued(t, e, 1)
	var other outcome
	go func() { defer wg.Done(); other, _ = run(t, e, context.Background(), reqs[1], nil) }()
	waitQueued(t, e, 2)
	p.mu.Unlock()
	wg.Wait()
	if cancelled.Stats.Finish != FinishCancelled {
		t.Errorf("cancelled at its 3rd event: Stats = %+v; want %q", cancelled.Stats, FinishCancelled)
	}
	if n := after.Load(); n > 2 {
		t.Errorf("%d steps still held the cancelled sequence after the cancel; want at most 2", n)
	}
	if !slices.Equal(other.tokens, alone.tokens) || other.text != alone.text {
		t.Errorf("beside a cancelled sequence: %+v; alone: %+v", other, alone)
	}
}

// TestPrefixCopiedFromRunningSequence: a request whose prompt shares the
// lore and persona with a sequence still decoding in another slot starts
// from a copy of that prefix, and generates what a fresh engine does.
func TestPrefixCopiedFromRunningSequence(t *testing.T) {
	fx := loadFixture(t)
	e := fx.engine(t, Options{MaxSeqs: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	firstEvent := make(chan struct{})
	done := make(chan struct{})
	// Exits when cancelled below.
	go func() {
		defer close(done)
		run(t, e, ctx, Request{Segments: segments("Tell me everything."), MaxTokens: 500}, func(n int) {
			if n == 1 {
				close(firstEvent)
			}
		})
	}()
	<-firstEvent
	second := Request{Segments: segments("Where can I buy a knife?"), MaxTokens: 8}
	got, res := run(t, e, context.Background(), second, nil)
	cancel()
	<-done

	shared := e.tokens(&Request{Segments: segments("")[:4]})
	if res.Stats.ReusedTokens < len(shared)-1 {
		t.Errorf("ReusedTokens = %d beside a running sequence with the same %d-token prefix; want at least %d", res.Stats.ReusedTokens, len(shared), len(shared)-1)
	}
	fresh, _ := run(t, fx.engine(t, Options{}), context.Background(), second, nil)
	if !slices.Equal(got.tokens, fresh.tokens) {
		t.Errorf("from a copied prefix: %v; a fresh engine gives %v", got.tokens, fresh.tokens)
	}
}

// TestMoreRequestsThanSlots: requests beyond MaxSeqs wait for a slot and
// all finish; the slots' caches serve the later ones' shared prefix.
func TestMoreRequestsThanSlots(t *testing.T) {
	fx := loadFixture(t)
	e := fx.engine(t, Options{MaxSeqs: 3, Batch: 64})
	var wg sync.WaitGroup
	results := make([]Result, 9)
	for i := range results {
		wg.Add(1)
		// Exits when its request has finished.
		go func() {
			defer wg.Done()
			_, results[i] = run(t, e, context.Background(), Request{Segments: segments(fmt.Sprintf("Question %d?", i)), MaxTokens: 4}, nil)
		}()
	}
	wg.Wait()
	reused := 0
	for i, r := range results {
		if r.Stats.GeneratedTokens == 0 {
			t.Errorf("request %d generated nothing: %+v", i, r.Stats)
		}
		if r.Stats.ReusedTokens > 0 {
			reused++
		}
	}
	if reused < len(results)-3 {
		t.Errorf("%d of %d requests reused a cached prefix; want all but the first wave of 3 at least", reused, len(results))
	}
}

// TestSharedPrefixPrefilledOnce admits six requests with the same long
// prefix at once: one of them computes the prefix and the others copy it,
// so the steps compute little more than one prompt plus the six endings —
// and the outputs are what each gives alone.
func TestSharedPrefixPrefilledOnce(t *testing.T) {
	fx := loadFixture(t)
	reqs := mixedRequests(t, fx)
	alone := fx.engine(t, Options{MaxSeqs: 1})
	want := make([]outcome, len(reqs))
	for i, r := range reqs {
		want[i], _ = run(t, alone, context.Background(), r, nil)
	}

	var p pauser
	e := fx.engineHooks(t, Options{MaxSeqs: 8, Batch: 48}, hooks{beforeStep: p.hook})
	p.mu.Lock()
	got := make([]outcome, len(reqs))
	results := make([]Result, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Add(1)
		// Exits when its request has finished.
		go func() { defer wg.Done(); got[i], results[i] = run(t, e, context.Background(), r, nil) }()
		waitQueued(t, e, i+1)
	}
	p.mu.Unlock()
	wg.Wait()

	shared := len(e.tokens(&Request{Segments: segments("")[:4]}))
	prompts, generated, reused := 0, 0, 0
	for i, r := range results {
		prompts += r.Stats.PromptTokens
		generated += r.Stats.GeneratedTokens
		reused += r.Stats.ReusedTokens
		if !slices.Equal(got[i].tokens, want[i].tokens) || got[i].text != want[i].text {
			t.Errorf("request %d beside others sharing its prefix: %+v; alone: %+v", i, got[i], want[i])
		}
	}
	if reused < (len(reqs)-1)*(shared-1) {
		t.Errorf("the six requests reused %d prompt tokens; want at least %d (all but one share %d)", reused, (len(reqs)-1)*(shared-1), shared)
	}
	cs := e.CacheStats()
	if cs.Requests != int64(len(reqs)) || cs.PromptTokens != int64(prompts) || cs.ReusedTokens != int64(reused) || cs.Hits < int64(len(reqs)-1) || cs.Slots != len(reqs) || cs.Bytes <= 0 {
		t.Errorf("CacheStats = %+v; want %d requests, %d prompt tokens, %d reused, %d hits or more, %d slots", cs, len(reqs), prompts, reused, len(reqs)-1, len(reqs))
	}
	own := prompts - len(reqs)*shared // the tokens after the shared prefix, all requests together
	if computed := prompts - reused; computed > shared+own {
		t.Errorf("computed %d prompt tokens of %d; want at most the shared %d once and the %d of the requests' own", computed, prompts, shared, own)
	}
}

// TestUrgentRequestTakesReservedSlot: with the only ordinary slot busy, a
// request of the same priority waits, but one that outranks the running
// sequence starts at once in the urgent slot and finishes while the first
// still runs.
func TestUrgentRequestTakesReservedSlot(t *testing.T) {
	fx := loadFixture(t)
	var mu sync.Mutex
	var started []int
	e := fx.engineHooks(t, Options{MaxSeqs: 1, UrgentSeqs: 1}, hooks{onStart: func(j *job) {
		mu.Lock()
		started = append(started, j.req.Priority)
		mu.Unlock()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	// Both exit once cancelled (the second may never start before that).
	go func() {
		defer wg.Done()
		once := false
		run(t, e, ctx, Request{Segments: segments("Tell me everything."), MaxTokens: 500}, func(int) {
			if !once {
				once = true
				close(first)
			}
		})
	}()
	<-first
	go func() {
		defer wg.Done()
		run(t, e, ctx, Request{Segments: segments("And the rest?"), MaxTokens: 4}, nil)
	}()
	waitQueued(t, e, 1)

	res, err := e.Generate(context.Background(), Request{Segments: segments("Help!"), MaxTokens: 4, Priority: 2}, nil)
	if err != nil || res.Stats.GeneratedTokens == 0 {
		t.Fatalf("urgent request: %+v, %v; want it to run", res.Stats, err)
	}
	if n := e.Queued(); n != 1 {
		t.Errorf("Queued() = %d after the urgent request; want the equal-priority one still waiting", n)
	}
	mu.Lock()
	if want := []int{0, 2}; !slices.Equal(started, want) {
		t.Errorf("started priorities %v while the first runs; want %v", started, want)
	}
	mu.Unlock()
	cancel()
	wg.Wait()
}

// TestPrefixStoreOutlivesSlots: an NPC's prompt comes back after another
// prompt took the only slot; the prefix store still holds its keys and
// values, and the output is unchanged. Without a store, nothing is reused.
func TestPrefixStoreOutlivesSlots(t *testing.T) {
	fx := loadFixture(t)
	npc := Request{Segments: segments("Is the bridge safe?"), MaxTokens: 6}
	other := Request{Segments: []Segment{{Text: "A different prompt, about the harvest and the weather in the hills, long enough to fill a few blocks of the cache."}}, MaxTokens: 4}
	for _, store := range []int64{0, -1} {
		e := fx.engine(t, Options{MaxSeqs: 1, UrgentSeqs: -1, StoreBytes: store})
		first, _ := run(t, e, context.Background(), npc, nil)
		run(t, e, context.Background(), other, nil)
		again, res := run(t, e, context.Background(), npc, nil)
		if !slices.Equal(again.tokens, first.tokens) {
			t.Errorf("store %d: the same request again gave %v; first %v", store, again.tokens, first.tokens)
		}
		switch n, p := res.Stats.ReusedTokens, res.Stats.PromptTokens; {
		case store == 0 && n < p-16:
			t.Errorf("with the store: ReusedTokens = %d of %d; want all but the last block at least", n, p)
		case store < 0 && n != 0:
			t.Errorf("without a store: ReusedTokens = %d; want 0 (the slot holds another prompt)", n)
		}
	}
}

// TestPrefixStoreStaysWithinBudget runs distinct prompts through a store
// far smaller than they need: it evicts, stays within its budget, and the
// engine answers every request.
func TestPrefixStoreStaysWithinBudget(t *testing.T) {
	fx := loadFixture(t)
	const budget = 256 << 10 // a few blocks of the reference model
	e := fx.engine(t, Options{MaxSeqs: 2, StoreBytes: budget})
	for i := range 6 {
		req := Request{Segments: []Segment{{Text: fmt.Sprintf("Prompt number %d. ", i) + lore}}, MaxTokens: 3}
		if _, res := run(t, e, context.Background(), req, nil); res.Stats.GeneratedTokens == 0 {
			t.Fatalf("request %d generated nothing: %+v", i, res.Stats)
		}
		if cs := e.CacheStats(); cs.StoreBytes > budget || cs.StoreBudget != budget {
			t.Fatalf("after request %d: store holds %d bytes of a %d budget (reported %d)", i, cs.StoreBytes, budget, cs.StoreBudget)
		}
	}
	if cs := e.CacheStats(); cs.StoreEvictions == 0 {
		t.Errorf("CacheStats = %+v; want evictions from a store too small for the prompts", cs)
	}
}
