package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/grammar"
	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/sample"
	"github.com/anima-rt/anima/inference/tokenizer"
)

// referencePath is the random-weight qwen3moe model shared by the decoder
// work, with GPT-2's first 4,096 tokens as its vocabulary: a real model file
// with a real tokenizer, small enough for tests.
var referencePath = filepath.Join("..", "..", "..", "shared", "reference", "qwen3moe-tiny-f32.gguf")

// npcSchema is shaped like an NPC decision: enums, a nested object, and the
// free "say" string that streams.
const npcSchema = `{"type":"object","properties":{
	"emotion":{"enum":["calm","wary","angry","afraid"]},
	"action":{"type":"object","properties":{
		"name":{"enum":["idle","follow","flee","give"]},
		"target":{"type":"string","maxLength":12}},
		"required":["name","target"],"additionalProperties":false},
	"say":{"type":"string","maxLength":48}},
	"required":["emotion","action","say"],"additionalProperties":false}`

type fixture struct {
	m    *model.Model
	tok  *tokenizer.Tokenizer
	pool *kernels.Pool
}

func loadFixture(t testing.TB) *fixture {
	t.Helper()
	if _, err := os.Stat(referencePath); err != nil {
		t.Skipf("reference model not present (%v): it lives in ../shared/reference beside the repository", err)
	}
	f, err := gguf.Open(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	pool := kernels.NewPool(0)
	t.Cleanup(pool.Close)
	m, err := model.Load(f, pool)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.New(f)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{m: m, tok: tok, pool: pool}
}

func (fx *fixture) engine(t testing.TB, opt Options) *Engine {
	t.Helper()
	return fx.engineHooks(t, opt, hooks{})
}

// engineHooks is engine with test hooks in the scheduler goroutine.
func (fx *fixture) engineHooks(t testing.TB, opt Options, hk hooks) *Engine {
	t.Helper()
	if opt.Context == 0 {
		opt.Context = 1024
	}
	e, err := newEngine(fx.m, fx.tok, opt, hk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func (fx *fixture) grammar(t testing.TB) *grammar.Grammar {
	t.Helper()
	v, err := grammar.FromTokenizer(fx.tok)
	if err != nil {
		t.Fatal(err)
	}
	g, err := grammar.Compile([]byte(npcSchema), v)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

const lore = `The village of Harrow sits where the old road crosses the river. ` +
	`Its bridge was built by the dwarves of the eastern hills, and nobody has repaired it since the war. ` +
	`Wolves come down from the forest after dark, and the guards light fires along the wall. ` +
	`The baker gives bread to travellers who bring news, and the smith sells knives to anyone. `

func segments(stimulus string) []Segment {
	return []Segment{
		{Text: "<|im_start|>system\n", Special: true},
		{Text: lore + lore},
		{Text: "You are Mira, the baker's daughter, wary of strangers.\n"},
		{Text: "<|im_end|>\n<|im_start|>user\n", Special: true},
		{Text: stimulus},
		{Text: "<|im_end|>\n<|im_start|>assistant\n", Special: true},
	}
}

// greedyDirect is the model's own greedy loop, without the engine.
func greedyDirect(t *testing.T, fx *fixture, prompt []int32, n int) []int32 {
	t.Helper()
	st, err := fx.m.NewState(1024, 0)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := fx.m.Forward(st, prompt)
	if err != nil {
		t.Fatal(err)
	}
	var out []int32
	for len(out) < n {
		best := int32(0)
		for i, l := range logits {
			if l > logits[best] {
				best = int32(i)
			}
		}
		out = append(out, best)
		if fx.tok.IsEOG(best) {
			break
		}
		if logits, err = fx.m.Forward(st, []int32{best}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func generate(t *testing.T, e *Engine, req Request) (Result, []Event) {
	t.Helper()
	var evs []Event
	res, err := e.Generate(context.Background(), req, func(ev Event) { evs = append(evs, ev) })
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return res, evs
}

func TestGreedyMatchesModelLoop(t *testing.T) {
	fx := loadFixture(t)
	e := fx.engine(t, Options{})
	req := Request{Segments: segments("Is the bridge safe?"), MaxTokens: 24}
	res, evs := generate(t, e, req)

	var prompt []int32
	for _, s := range req.Segments {
		if s.Special {
			prompt = append(prompt, fx.tok.EncodeSpecial(s.Text)...)
		} else {
			prompt = append(prompt, fx.tok.Encode(s.Text)...)
		}
	}
	want := greedyDirect(t, fx, prompt, req.MaxTokens)
	var got []int32
	var text strings.Builder
	for _, ev := range evs {
		got = append(got, ev.Tokens...)
		text.WriteString(ev.Text)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("engine tokens = %v; the model's greedy loop gives %v", got, want)
	}
	if res.Text != fx.tok.Decode(want) || text.String() != res.Text {
		t.Errorf("Text = %q, deltas %q; want both %q", res.Text, text.String(), fx.tok.Decode(want))
	}
	s := res.Stats
	if s.PromptTokens != len(prompt) || s.ReusedTokens != 0 || s.GeneratedTokens != len(want) {
		t.Errorf("Stats = %+v; want %d prompt tokens, 0 reused, %d generated", s, len(prompt), len(want))
	}
	wantFinish := FinishLength
	if fx.tok.IsEOG(want[len(want)-1]) {
		wantFinish = FinishStop
	}
	if s.Finish != wantFinish || s.TTFT <= 0 {
		t.Errorf("Finish = %q, TTFT %v; want %q and a positive TTFT", s.Finish, s.TTFT, wantFinish)
	}
}

func TestPrefixReuse(t *testing.T) {
	fx := loadFixture(t)
	e := fx.engine(t, Options{Batch: 64})
	first := Request{Segments: segments("Is the bridge safe?"), MaxTokens: 8}
	second := Request{Segments: segments("Where can I buy a knife?"), MaxTokens: 8}
	generate(t, e, first)
	got, _ := generate(t, e, second)

	shared := e.tokens(&Request{Segments: segments("")[:4]})
	if got.Stats.ReusedTokens < len(shared)-1 {
		t.Errorf("ReusedTokens = %d; want at least %d (the shared segments less one)", got.Stats.ReusedTokens, len(shared)-1)
	}
	fresh, _ := generate(t, fx.engine(t, Options{Batch: 64}), second)
	if got.Text != fresh.Text {
		t.Errorf("after a shared prefix, Text = %q; a fresh engine gives %q", got.Text, fresh.Text)
	}

	// The very same prompt again reuses all of it but its last token.
	again, _ := generate(t, e, second)
	if again.Stats.ReusedTokens != again.Stats.PromptTokens-1 || again.Text != fresh.Text {
		t.Errorf("repeat: ReusedTokens = %d of %d, Text %q; want %d and %q",
			again.Stats.ReusedTokens, again.Stats.PromptTokens, again.Text, again.Stats.PromptTokens-1, fresh.Text)
	}
}

// A sampled token takes the grammar's forced run after it along (the
// emotion and then `","action":{"name":"`) into the next model step, and
// the run that opens the JSON rides with the prompt, so a decision costs
// a step per choice, not per choice and per run: the prompt's step, then
// one for each sampled token with its run, the last (which ends the
// reply) aside.
// The events still come one per sampled token and one per forced run, so
// that output repeated in a later prompt cut at its events tokenizes as
// it was generated.
func TestForcedRunsRideWithTheSampledToken(t *testing.T) {
	fx := loadFixture(t)
	g := fx.grammar(t)
	steps := 0
	e := fx.engineHooks(t, Options{Batch: 4096}, hooks{onStep: func(int, int) { steps++ }})
	stopped := 0
	for seed := range 6 {
		req := Request{Segments: segments(fmt.Sprintf("Traveller %d asks about the wolves.", seed)), Grammar: g,
			Sampling: Sampling{Params: sample.Params{Temperature: 1, TopK: 40}, Seed: uint64(seed)}, MaxTokens: 64}
		steps = 0
		res, evs := generate(t, e, req)
		mt := g.NewMatcher()
		sampled, runs := 0, 0
		for k, ev := range evs {
			if len(ev.Tokens) == 0 {
				continue // the ending's flush
			}
			if f := mt.Forced(); len(f) > 0 {
				if !slices.Equal(ev.Tokens, f[:len(ev.Tokens)]) {
					t.Fatalf("seed %d: event %d %v is not the forced run %v", seed, k, ev.Tokens, f)
				}
				runs++
			} else {
				if len(ev.Tokens) != 1 {
					t.Fatalf("seed %d: event %d %v: a sampled token and more in one event", seed, k, ev.Tokens)
				}
				sampled++
			}
			for _, id := range ev.Tokens {
				if err := mt.Accept(id); err != nil {
					t.Fatalf("seed %d: event %d: %v", seed, k, err)
				}
			}
		}
		if runs < 3 || sampled == 0 {
			t.Errorf("seed %d: %d forced runs, %d sampled tokens in %q; want a decision's scaffolding", seed, runs, sampled, res.Text)
		}
		if res.Stats.Finish != FinishStop {
			continue
		}
		stopped++
		if want := 1 + sampled - 1; steps != want {
			t.Errorf("seed %d: %d model steps for %d sampled tokens and %d forced runs; want %d", seed, steps, sampled, runs, want)
		}
	}
	if stopped == 0 {
		t.Error("no reply ended within 64 tokens; the step count went unchecked")
	}
}

// TestGrammarAlwaysParses samples decisions at temperature 1 from random
// weights, with budgets that cut many of them short: every output must be
// JSON of the schema's shape, and the streamed say must be its say.
func TestGrammarAlwaysParses(t *testing.T) {
	fx := loadFixture(t)
	g := fx.grammar(t)
	e := fx.engine(t, Options{})
	n := 64
	if testing.Short() {
		n = 6
	}
	finishes := map[Finish]int{}
	for seed := range n {
		req := Request{
			Segments:    segments(fmt.Sprintf("Stranger number %d asks for bread.", seed)),
			Grammar:     g,
			StreamField: "say",
			Sampling:    Sampling{Params: sample.Params{Temperature: 1, TopK: 40}, Seed: uint64(seed)},
			MaxTokens:   4 + seed%24*3,
		}
		res, evs := generate(t, e, req)
		finishes[res.Stats.Finish]++
		var out struct {
			Emotion string `json:"emotion"`
			Action  struct {
				Name   string `json:"name"`
				Target string `json:"target"`
			} `json:"action"`
			Say string `json:"say"`
		}
		if err := json.Unmarshal([]byte(res.Text), &out); err != nil {
			t.Fatalf("seed %d (MaxTokens %d, %s): output %q does not parse: %v", seed, req.MaxTokens, res.Stats.Finish, res.Text, err)
		}
		if !slices.Contains([]string{"calm", "wary", "angry", "afraid"}, out.Emotion) {
			t.Errorf("seed %d: emotion %q is not in the enum", seed, out.Emotion)
		}
		var said, text strings.Builder
		for _, ev := range evs {
			said.WriteString(ev.Field)
			text.WriteString(ev.Text)
		}
		if said.String() != out.Say {
			t.Errorf("seed %d: say deltas = %q; want the say value %q", seed, said.String(), out.Say)
		}
		if text.String() != res.Text {
			t.Errorf("seed %d: text deltas = %q; want %q", seed, text.String(), res.Text)
		}
		if res.Stats.Finish != FinishStop && res.Stats.Finish != FinishLength {
			t.Errorf("seed %d: Finish = %q; want stop or length", seed, res.Stats.Finish)
		}
		if res.Stats.GeneratedTokens > req.MaxTokens {
			t.Errorf("seed %d: GeneratedTokens = %d; want at most MaxTokens %d", seed, res.Stats.GeneratedTokens, req.MaxTokens)
		}
	}
	if finishes[FinishLength] == 0 {
		t.Errorf("finishes = %v; want some cut short by MaxTokens", finishes)
	}
	t.Logf("finishes: %v", finishes)
}

func TestCancelMidDecode(t *testing.T) {
	fx := loadFixture(t)
	// Steps are counted from the cancel on: events reach the callback
	// through a mailbox, so on a loaded machine the scheduler may be a few
	// steps ahead of what the callback has seen, and a bound on tokens
	// would measure the machine, not the engine.
	var cancelled atomic.Bool
	var after atomic.Int32
	e := fx.engineHooks(t, Options{}, hooks{onStep: func(seqs, toks int) {
		if cancelled.Load() {
			after.Add(1)
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := 0
	req := Request{Segments: segments("Tell me everything."), MaxTokens: 500,
		Sampling: Sampling{Params: sample.Params{Temperature: 1}, Seed: 1}}
	res, err := e.Generate(ctx, req, func(Event) {
		if events++; events == 3 {
			cancelled.Store(true)
			cancel()
		}
	})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if res.Stats.Finish != FinishCancelled {
		t.Errorf("Finish = %q; want %q", res.Stats.Finish, FinishCancelled)
	}
	// The scheduler checks ctx before every step: a step may already be
	// running when cancel is called, and no more than one more follows.
	if n := after.Load(); n > 2 {
		t.Errorf("%d model steps ran after the cancel; want at most 2", n)
	}
	// The engine serves the next request normally.
	if res, _ := generate(t, e, Request{Segments: segments("Hello."), MaxTokens: 2}); res.Stats.GeneratedTokens == 0 {
		t.Errorf("after a cancel, the next request generated nothing: %+v", res.Stats)
	}
}

func TestDeadline(t *testing.T) {
	fx := loadFixture(t)
	e := fx.engine(t, Options{})
	res, _ := generate(t, e, Request{Segments: segments("Hello."), MaxTokens: 8, Deadline: time.Now().Add(-time.Second)})
	if res.Stats.Finish != FinishDeadline || res.Stats.GeneratedTokens != 0 {
		t.Errorf("past deadline: Stats = %+v; want Finish %q and no tokens", res.Stats, FinishDeadline)
	}
	// A deadline that passes while decoding ends the request there.
	res, _ = generate(t, e, Request{Segments: segments("Hello."), MaxTokens: 900, Deadline: time.Now().Add(300 * time.Millisecond),
		Sampling: Sampling{Params: sample.Params{Temperature: 1}, Seed: 3}})
	if res.Stats.Finish != FinishDeadline && res.Stats.Finish != FinishStop {
		t.Errorf("deadline mid-decode: Finish = %q; want %q (or stop, had the model ended first)", res.Stats.Finish, FinishDeadline)
	}
}

// pauser holds the scheduler goroutine at the top of its next iteration
// (hooks.beforeStep) while mu is locked, so that requests queue up.
type pauser struct{ mu sync.Mutex }

func (p *pauser) hook() { p.mu.Lock(); p.mu.Unlock() }

func waitQueued(t *testing.T, e *Engine, n int) {
	t.Helper()
	for e.Queued() < n {
		time.Sleep(time.Millisecond)
	}
}

func TestPriorityOrder(t *testing.T) {
	fx := loadFixture(t)
	var p pauser
	var mu sync.Mutex
	var order []int
	e := fx.engineHooks(t, Options{MaxSeqs: 1}, hooks{beforeStep: p.hook, onStart: func(j *job) {
		mu.Lock()
		order = append(order, j.req.Priority)
		mu.Unlock()
	}})
	p.mu.Lock()
	var wg sync.WaitGroup
	for i, pr := range []int{1, 5, 1, 9, 5} {
		wg.Add(1)
		// Exits when its request has finished.
		go func() {
			defer wg.Done()
			if _, err := e.Generate(context.Background(), Request{Segments: segments("Hi."), MaxTokens: 1, Priority: pr}, nil); err != nil {
				t.Errorf("Generate: %v", err)
			}
		}()
		waitQueued(t, e, i+1)
	}
	p.mu.Unlock()
	wg.Wait()
	want := []int{9, 5, 5, 1, 1}
	if !slices.Equal(order, want) {
		t.Errorf("start order by priority = %v; want %v", order, want)
	}
}

func TestOverloadedAndCancelWhileQueued(t *testing.T) {
	fx := loadFixture(t)
	var p pauser
	e := fx.engineHooks(t, Options{QueueSize: 2}, hooks{beforeStep: p.hook})
	p.mu.Lock()
	defer p.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan Result, 2)
	for i := range 2 {
		// Exits when its request has finished or been cancelled.
		go func() {
			res, err := e.Generate(ctx, Request{Segments: segments("Hi."), MaxTokens: 1}, nil)
			if err != nil {
				t.Errorf("queued request: %v", err)
			}
			results <- res
		}()
		waitQueued(t, e, i+1)
	}
	if _, err := e.Generate(context.Background(), Request{Segments: segments("Hi."), MaxTokens: 1}, nil); !errors.Is(err, ErrOverloaded) {
		t.Errorf("Generate on a full queue: err = %v; want ErrOverloaded", err)
	}
	// Waiting requests leave the queue as soon as they are cancelled,
	// though the scheduler is held.
	cancel()
	for range 2 {
		if res := <-results; res.Stats.Finish != FinishCancelled {
			t.Errorf("cancelled while queued: Finish = %q; want %q", res.Stats.Finish, FinishCancelled)
		}
	}
	if n := e.Queued(); n != 0 {
		t.Errorf("Queued() = %d after cancelling the waiting requests; want 0", n)
	}
}

func TestClose(t *testing.T) {
	fx := loadFixture(t)
	var p pauser
	e := fx.engineHooks(t, Options{MaxSeqs: 1}, hooks{beforeStep: p.hook})
	// A running request holds the scheduler from its first event on.
	started := make(chan struct{})
	running := make(chan Result, 1)
	// Exits when the running request has finished.
	go func() {
		once := false
		res, err := e.Generate(context.Background(), Request{Segments: segments("Wait."), MaxTokens: 20}, func(Event) {
			if !once {
				once = true
				p.mu.Lock()
				close(started)
			}
		})
		if err != nil {
			t.Errorf("running request at Close: %v", err)
		}
		running <- res
	}()
	<-started
	errs := make(chan error, 1)
	// Exits when Close fails its request.
	go func() {
		_, err := e.Generate(context.Background(), Request{Segments: segments("Hi."), MaxTokens: 1}, nil)
		errs <- err
	}()
	waitQueued(t, e, 1)
	closed := make(chan struct{})
	// Exits when the running request has finished.
	go func() { e.Close(); close(closed) }()
	if err := <-errs; !errors.Is(err, ErrClosed) {
		t.Errorf("waiting request at Close: err = %v; want ErrClosed", err)
	}
	p.mu.Unlock()
	if res := <-running; res.Stats.Finish != FinishLength && res.Stats.Finish != FinishStop {
		t.Errorf("request running at Close: Finish = %q; want it to run to its end", res.Stats.Finish)
	}
	<-closed
	if _, err := e.Generate(context.Background(), Request{Segments: segments("Hi.")}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Generate after Close: err = %v; want ErrClosed", err)
	}
}

func TestBadRequests(t *testing.T) {
	fx := loadFixture(t)
	e := fx.engine(t, Options{Context: 64})
	g := fx.grammar(t)
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"no segments", Request{}, "no prompt segments"},
		{"negative MaxTokens", Request{Segments: segments("x"), MaxTokens: -1}, "negative"},
		{"field without grammar", Request{Segments: []Segment{{Text: "x"}}, StreamField: "say"}, "needs a Grammar"},
		{"bad sampling", Request{Segments: []Segment{{Text: "x"}}, Sampling: Sampling{Params: sample.Params{Temperature: -1}}}, "sample"},
		{"unknown field", Request{Segments: []Segment{{Text: "x"}}, Grammar: g, StreamField: "nope"}, "nope"},
		{"too long", Request{Segments: segments("x")}, "leaves no room"},
		{"empty prompt", Request{Segments: []Segment{{Text: ""}}}, "no tokens"},
	} {
		_, err := e.Generate(context.Background(), tc.req, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "engine: ") {
			t.Errorf("Generate(%s) error = %v; want an engine error mentioning %q", tc.name, err, tc.want)
		}
	}
}

// TestCancelMidPrefill cancels after the second of many prefill chunks:
// the request ends there, and the chunks already computed stay cached for
// the next request with the same prompt.
func TestCancelMidPrefill(t *testing.T) {
	fx := loadFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var chunks []int
	e := fx.engineHooks(t, Options{Batch: 16}, hooks{onPrefill: func(pos int) {
		if chunks = append(chunks, pos); len(chunks) == 2 {
			cancel()
		}
	}})
	req := Request{Segments: segments("Is the bridge safe?"), MaxTokens: 4}
	res, err := e.Generate(ctx, req, nil)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if res.Stats.Finish != FinishCancelled || res.Stats.GeneratedTokens != 0 || len(chunks) != 2 {
		t.Fatalf("cancelled mid-prefill: Stats = %+v after %d chunks; want %q, no tokens, 2 chunks", res.Stats, len(chunks), FinishCancelled)
	}
	res, _ = generate(t, e, req)
	if res.Stats.ReusedTokens != 32 {
		t.Errorf("after a cancelled prefill of 2 chunks of 16, ReusedTokens = %d; want 32", res.Stats.ReusedTokens)
	}
}

// TestDeadlineWhileQueued: a request whose deadline passes while it waits
// ends then, without waiting for its turn.
func TestDeadlineWhileQueued(t *testing.T) {
	fx := loadFixture(t)
	var p pauser
	e := fx.engineHooks(t, Options{}, hooks{beforeStep: p.hook})
	p.mu.Lock()
	defer p.mu.Unlock()
	res, err := e.Generate(context.Background(), Request{Segments: segments("Hi."), MaxTokens: 1, Deadline: time.Now().Add(20 * time.Millisecond)}, nil)
	if err != nil || res.Stats.Finish != FinishDeadline {
		t.Errorf("deadline passed while queued: Finish = %q, err %v; want %q, nil", res.Stats.Finish, err, FinishDeadline)
	}
	if n := e.Queued(); n != 0 {
		t.Errorf("Queued() = %d after the deadline; want 0", n)
	}
}
