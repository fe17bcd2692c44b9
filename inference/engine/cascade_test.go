package engine

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/anima-rt/anima/inference/model"
)

// TestSharedLoreAttendedTogether starts eight greedy NPC requests together
// on one lore (the shared run is far above SharedRun's default): the lore
// is computed once and copied, so its keys and values are the same bits in
// every slot and the decode steps attend it once for all eight. Each
// request's output is the one it gets with shared attention off.
func TestSharedLoreAttendedTogether(t *testing.T) {
	fx := loadFixture(t)
	const n = 8
	reqs := make([]Request, n)
	for i := range reqs {
		reqs[i] = Request{Segments: segments(fmt.Sprintf("Have you seen traveller number %d?", i)), MaxTokens: 12}
	}
	outcomes := func(opt Options) ([]outcome, CacheStats) {
		var p pauser
		e := fx.engineHooks(t, opt, hooks{beforeStep: p.hook})
		got := make([]outcome, n)
		p.mu.Lock() // queue them all, so that they start together
		var wg sync.WaitGroup
		for i, r := range reqs {
			wg.Add(1)
			// Exits when its request has finished.
			go func() { defer wg.Done(); got[i], _ = run(t, e, context.Background(), r, nil) }()
			waitQueued(t, e, i+1)
		}
		p.mu.Unlock()
		wg.Wait()
		return got, e.CacheStats()
	}
	want, off := outcomes(Options{MaxSeqs: n, SharedRun: -1})
	got, on := outcomes(Options{MaxSeqs: n})
	for i := range reqs {
		if !slices.Equal(got[i].tokens, want[i].tokens) || got[i].text != want[i].text {
			t.Errorf("request %d with shared attention: %+v; without: %+v", i, got[i], want[i])
		}
	}
	lore := len(fx.tok.Encode(segments("")[1].Text))
	if lore < 64 {
		t.Fatalf("the lore is %d tokens; the test wants more than SharedRun's default 64", lore)
	}
	if off.SharedSteps != 0 || off.SharedPositions != 0 {
		t.Errorf("with SharedRun -1, %d steps attended shared runs", off.SharedSteps)
	}
	// Every decode step of the eight (12 tokens, the first sampled after
	// prefill) shares at least the lore among those still running.
	if on.SharedSteps < 8 || on.SharedPositions < on.SharedSteps*int64(lore) {
		t.Errorf("%d steps attended shared runs, sparing %d positions; want at least 8 steps sparing %d positions each (the %d-token lore, once for another sequence)",
			on.SharedSteps, on.SharedPositions, lore, lore)
	}
	t.Logf("%d steps shared runs, sparing %d positions in all (%.0f a step)", on.SharedSteps, on.SharedPositions, float64(on.SharedPositions)/float64(on.SharedSteps))
}

// cascadeBench is an Engine that is not running, for driving its
// scheduler's pieces by hand: slots prefilled by explicit model steps, the
// prefix store, and the shared runs chosen for a decode step.
type cascadeBench struct {
	t *testing.T
	e *Engine
	b *model.Batch
}

func newCascadeBench(t *testing.T, fx *fixture) *cascadeBench {
	e := &Engine{m: fx.m, opt: Options{Context: 128, SharedRun: 4}}
	var err error
	if e.store, err = newPrefixStore(fx.m, 4<<20); err != nil {
		t.Fatal(err)
	}
	b, err := fx.m.NewBatch(64, 4)
	if err != nil {
		t.Fatal(err)
	}
	return &cascadeBench{t: t, e: e, b: b}
}

func (cb *cascadeBench) slot() *slot {
	s, err := newSlot(cb.e.m, cb.e.opt)
	if err != nil {
		cb.t.Fatal(err)
	}
	cb.e.slots = append(cb.e.slots, s)
	return s
}

// compute steps s alone over toks, in chunks of the given sizes, as the
// scheduler does.
func (cb *cascadeBench) compute(s *slot, toks []int32, sizes ...int) {
	for _, k := range sizes {
		if err := cb.e.m.Step(cb.b, []model.Chunk{{State: s.st, Tokens: toks[:k]}}); err != nil {
			cb.t.Fatal(err)
		}
		cb.e.computed(s, len(s.kv), k)
		s.kv, toks = append(s.kv, toks[:k]...), toks[k:]
	}
}

// runs returns the shared runs of a decode step of slots: for each, the
// chunks (indices into slots, ascending) and the positions.
func (cb *cascadeBench) runs(slots ...*slot) string {
	e := cb.e
	e.chunks, e.inStep = e.chunks[:0], e.inStep[:0]
	for _, s := range slots {
		e.chunks = append(e.chunks, model.Chunk{State: s.st, Tokens: []int32{1}})
		e.inStep = append(e.inStep, s)
	}
	runs := e.sharedRuns()
	for i := range runs { // members in any order
		runs[i].Chunks = slices.Sorted(slices.Values(runs[i].Chunks))
	}
	return fmt.Sprint(runs)
}

// sameCache reports whether a and b hold the same bits at positions [0, n).
func sameCache(m *model.Model, a, b *model.State, n int) bool {
	c := &m.Config
	hd := c.HeadDim
	for l := range c.Layers {
		for g := range c.KVHeads {
			ka, kb := a.Cache.Keys(l, g), b.Cache.Keys(l, g)
			va, vb := a.Cache.Values(l, g), b.Cache.Values(l, g)
			for p := range n {
				for d := range hd {
					if math.Float32bits(ka[p*hd+d]) != math.Float32bits(kb[p*hd+d]) ||
						math.Float32bits(va[d*a.Cache.Cap+p]) != math.Float32bits(vb[d*b.Cache.Cap+p]) {
						return false
					}
				}
			}
		}
	}
	return true
}

// TestSharedOnlyWhereBitsAreEqual: slots share a run only where their keys
// and values are copies of one computation — never because the same tokens
// were computed twice (in other steps, other chunks, other rounding) —
// whether they are copied from slot to slot or go through the prefix store,
// which may already hold a prefix another slot computed.
func TestSharedOnlyWhereBitsAreEqual(t *testing.T) {
	fx := loadFixture(t)
	cb := newCascadeBench(t, fx)
	toks := make([]int32, 48)
	for i := range toks {
		toks[i] = int32(100 + 7*i)
	}
	a, b := cb.slot(), cb.slot()
	cb.compute(a, toks[:40], 40)
	cb.compute(b, toks[:40], 25, 15) // the same tokens, computed apart
	if got := cb.runs(a, b); got != "[]" {
		t.Errorf("slots that computed the same prompt apart share %s; want nothing", got)
	}

	// A copy shares what it copied, and only that.
	c := cb.slot()
	if err := c.st.CopyPrefix(a.st, 30); err != nil {
		t.Fatal(err)
	}
	copy(c.origin, a.origin[:30]) // as start and catchUp do
	c.kv = append(c.kv, toks[:30]...)
	cb.compute(c, toks[30:40], 10)
	if got, want := cb.runs(a, b, c), "[{[0 2] 0 30}]"; got != want {
		t.Errorf("a slot that copied 30 positions from another: runs %s; want %s", got, want)
	}

	// Through the store: a saves its two full blocks first; b's save finds
	// them there and keeps its own origins; a slot loading them shares
	// with a, not with b.
	cb.e.store.save(a.st, a.origin, a.kv)
	cb.e.store.save(b.st, b.origin, b.kv)
	d := cb.slot()
	n := cb.e.store.load(d.st, d.origin, toks[:41], 0)
	if n != 32 {
		t.Fatalf("loaded %d positions; want the 32 of two blocks", n)
	}
	d.kv = append(d.kv, toks[:n]...)
	if !sameCache(fx.m, a.st, d.st, n) {
		t.Fatal("the loaded positions differ from those of the slot that saved them")
	}
	if got, want := cb.runs(b, d), "[]"; got != want {
		t.Errorf("a slot loaded from blocks that another computed, beside a slot that computed the same tokens: runs %s; want %s", got, want)
	}
	if got, want := cb.runs(b, a, d), "[{[1 2] 0 32}]"; got != want {
		t.Errorf("the loaded slot beside the one that computed its blocks: runs %s; want %s", got, want)
	}

	// Start copies the positions of a cached block that a prompt matches
	// in part; a slot holding the same bits there keeps its origins in the
	// block it saves, and a slot loading that block shares with it.
	f := cb.slot()
	if err := f.st.CopyPrefix(a.st, 20); err != nil {
		t.Fatal(err)
	}
	copy(f.origin, a.origin[:20])
	f.kv = append(f.kv, toks[:20]...)
	other := make([]int32, 28)
	for i := range other {
		other[i] = int32(3000 + i)
	}
	cb.compute(f, other, 28)
	cb.e.store.save(f.st, f.origin, f.kv)
	g := cb.slot()
	if n := cb.e.store.load(g.st, g.origin, append(slices.Clone(f.kv), 1), 0); n != 48 {
		t.Fatalf("loaded %d positions of the 48 saved", n)
	}
	g.kv = append(g.kv, f.kv...)
	if got, want := cb.runs(f, g), "[{[0 1] 0 48}]"; got != want {
		t.Errorf("a slot loaded from blocks saved by a slot that copied part of one: runs %s; want %s", got, want)
	}

	// When origins run out, all are forgotten: nothing is shared until
	// positions are computed or copied again.
	cb.e.casc.last = math.MaxInt32
	cb.e.newOrigin()
	if got := cb.runs(a, c, d, f, g); got != "[]" {
		t.Errorf("after origins ran out, runs %s; want nothing", got)
	}
	if n := cb.e.store.load(d.st, d.origin, toks[:41], 0); n != 32 || d.origin[0] != noOrigin {
		t.Errorf("after origins ran out, a load gave %d positions of origin %d; want 32 of origin unknown", n, d.origin[0])
	}
}

// TestSharedRunsNest: slots that share a lore, some of them a persona
// after it, attend the lore together and the persona in their smaller
// group; a shared run shorter than SharedRun is not attended apart but
// joins the run nested in it, or is left to each slot's own part.
func TestSharedRunsNest(t *testing.T) {
	fx := loadFixture(t)
	cb := newCascadeBench(t, fx)
	toks := make([]int32, 40)
	for i := range toks {
		toks[i] = int32(200 + 3*i)
	}
	copied := func(src *slot, n int, rest []int32) *slot {
		s := cb.slot()
		if err := s.st.CopyPrefix(src.st, n); err != nil {
			t.Fatal(err)
		}
		copy(s.origin, src.origin[:n])
		s.kv = append(s.kv, src.kv[:n]...)
		if len(rest) > 0 {
			cb.compute(s, rest, len(rest))
		}
		return s
	}
	a := cb.slot()
	cb.compute(a, toks[:20], 20) // the lore
	b := copied(a, 20, toks[20:30])
	c := copied(b, 30, toks[30:33]) // b's persona too
	d := copied(a, 20, toks[30:35])
	if got, want := cb.runs(a, b, c, d), "[{[0 1 2 3] 0 20} {[1 2] 20 30}]"; got != want {
		t.Errorf("lore and persona: runs %s; want %s", got, want)
	}
	cb.e.opt.SharedRun = 15 // the persona's 10 positions alone are too few
	if got, want := cb.runs(a, b, c, d), "[{[0 1 2 3] 0 20}]"; got != want {
		t.Errorf("with SharedRun 15: runs %s; want %s", got, want)
	}
	cb.e.opt.SharedRun = 25 // the lore alone is too short; lore and persona are not
	if got, want := cb.runs(a, b, c, d), "[{[1 2] 0 30}]"; got != want {
		t.Errorf("with SharedRun 25: runs %s; want %s", got, want)
	}
	cb.e.opt.SharedRun = -1
	if got := cb.runs(a, b, c, d); got != "[]" {
		t.Errorf("with SharedRun -1: runs %s; want none", got)
	}
}
