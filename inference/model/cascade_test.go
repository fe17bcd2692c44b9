package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/anima-rt/anima/inference/tensor"
)

// sharedWorld is the decode step of TestStepSharedMatchesStep: 38
// sequences with caches built the way the engine builds them.
//   - 0..35 share a 48-token lore, copied from 0, which computed it: one
//     run of 36 members, more query rows than one work item takes.
//   - 1..3 share a 20-token persona after it, copied from 1: a nested run.
//   - 36 computed the same lore itself, in other chunks: in no run.
//   - 37 computed it itself too and is a run of one over its first 30.
//
// Every sequence then adds 1 to 5 tokens of its own.
type sharedWorld struct {
	states []*State
	runs   []Shared
}

func buildSharedWorld(t *testing.T, m *Model, rng *rand.Rand) *sharedWorld {
	t.Helper()
	V := m.Config.Vocab
	toks := func(n int) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(rng.IntN(V))
		}
		return s
	}
	lore, persona := toks(48), toks(20)
	w := &sharedWorld{states: make([]*State, 38)}
	for i := range w.states {
		w.states[i], _ = m.NewState(128, 16)
	}
	st := w.states
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := m.Forward(st[0], lore)
	must(err)
	for i := 1; i < 36; i++ {
		must(st[i].CopyPrefix(st[0], len(lore)))
	}
	_, err = m.Forward(st[1], persona)
	must(err)
	must(st[2].CopyPrefix(st[1], len(lore)+len(persona)))
	must(st[3].CopyPrefix(st[1], len(lore)+len(persona)))
	for _, i := range []int{36, 37} {
		for p := 0; p < len(lore); p += 7 { // other chunks than state 0's
			_, err = m.Forward(st[i], lore[p:min(p+7, len(lore))])
			must(err)
		}
	}
	for i := range st {
		_, err = m.Forward(st[i], toks(1+i%5))
		must(err)
	}
	all := make([]int, 36)
	for i := range all {
		all[i] = i
	}
	w.runs = []Shared{
		{Chunks: all, Lo: 0, Hi: len(lore)},
		{Chunks: []int{2, 1, 3}, Lo: len(lore), Hi: len(lore) + len(persona)},
		{Chunks: []int{37}, Lo: 0, Hi: 30},
	}
	return w
}

// clone copies w's states, so that two steppers start from the same caches.
func (w *sharedWorld) clone(t *testing.T, m *Model) []*State {
	out := make([]*State, len(w.states))
	for i, s := range w.states {
		out[i], _ = m.NewState(s.Cache.Cap, 16)
		if err := out[i].CopyPrefix(s, s.Pos()); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestStepSharedMatchesStep steps the sequences of sharedWorld several
// times — one token each, or a chunk of several for every fifth (a prompt's
// rest, a grammar's forced run) — with their shared runs attended once
// (StepShared) and, from copies of the same caches, each on its own
// (Step): the logits agree to float rounding and greedy choices are the
// same; sequences in no run get the very same bits.
func TestStepSharedMatchesStep(t *testing.T) {
	for _, name := range []string{"qwen3moe", "llama", "llama-mixtral"} {
		t.Run(name, func(t *testing.T) {
			m := openModel(t, writeFixture(t, fixtures[name], tensor.F32, 21), 2)
			w := buildSharedWorld(t, m, rand.New(rand.NewPCG(4, 2)))
			ref, got := w.clone(t, m), w.clone(t, m)
			N, V := len(w.states), m.Config.Vocab
			bRef, _ := m.NewBatch(4*N, N)
			bGot, _ := m.NewBatch(4*N, N)
			next := make([]int32, N)
			for i := range next {
				next[i] = int32(i % V)
			}
			worst := 0.0
			for step := range 4 {
				cRef, cGot := make([]Chunk, N), make([]Chunk, N)
				for i := range N {
					toks := []int32{next[i]}
					if i%5 == 0 || i == 2 { // 2: a member of the nested run
						for j := range 1 + (i+step)%3 {
							toks = append(toks, int32((i*7+j)%V))
						}
					}
					cRef[i] = Chunk{State: ref[i], Tokens: toks}
					cGot[i] = Chunk{State: got[i], Tokens: toks}
				}
				if err := m.Step(bRef, cRef); err != nil {
					t.Fatal(err)
				}
				if err := m.StepShared(bGot, cGot, w.runs); err != nil {
					t.Fatal(err)
				}
				for i := range N {
					lr, lg := bRef.Logits(i), bGot.Logits(i)
					scale := 1.0
					for _, x := range lr {
						scale = max(scale, math.Abs(float64(x)))
					}
					for j := range lr {
						d := math.Abs(float64(lr[j] - lg[j]))
						worst = max(worst, d)
						if d > 1e-4*scale {
							t.Fatalf("step %d, sequence %d: logit %d = %g shared, %g alone", step, i, j, lg[j], lr[j])
						}
						if i == 36 && d != 0 {
							t.Fatalf("step %d: sequence 36, in no run, has logit %d = %g; want %g exactly", step, j, lg[j], lr[j])
						}
					}
					if a, b := argmax(lr), argmax(lg); a != b {
						t.Fatalf("step %d, sequence %d: greedy choice %d shared, %d alone", step, i, b, a)
					}
					next[i] = argmax(lr)
				}
			}
			t.Logf("max |Δ logit| shared vs alone over 4 steps of %d sequences: %.3g", N, worst)
		})
	}
}

// TestStepSharedErrors: runs that do not tile a decode chunk's positions
// from 0 are refused before anything is computed.
func TestStepSharedErrors(t *testing.T) {
	m := openModel(t, writeFixture(t, fixtures["qwen3moe"], tensor.F32, 22), 1)
	s1, _ := m.NewState(64, 8)
	s2, _ := m.NewState(64, 8)
	if _, err := m.Forward(s1, prompt); err != nil {
		t.Fatal(err)
	}
	if err := s2.CopyPrefix(s1, len(prompt)); err != nil {
		t.Fatal(err)
	}
	b, _ := m.NewBatch(16, 2)
	decode := []Chunk{{s1, []int32{3}}, {s2, []int32{4}}}
	for _, tc := range []struct {
		name   string
		chunks []Chunk
		runs   []Shared
	}{
		{"no chunks", decode, []Shared{{Lo: 0, Hi: 4}}},
		{"chunk out of range", decode, []Shared{{Chunks: []int{0, 2}, Lo: 0, Hi: 4}}},
		{"not from 0", decode, []Shared{{Chunks: []int{0, 1}, Lo: 2, Hi: 4}}},
		{"gap", decode, []Shared{{Chunks: []int{0, 1}, Lo: 0, Hi: 4}, {Chunks: []int{0, 1}, Lo: 5, Hi: 8}}},
		{"named twice", decode, []Shared{{Chunks: []int{0, 0}, Lo: 0, Hi: 4}}},
		{"empty run", decode, []Shared{{Chunks: []int{0, 1}, Lo: 0, Hi: 0}}},
		{"past the cache", decode, []Shared{{Chunks: []int{0, 1}, Lo: 0, Hi: len(prompt) + 1}}},
	} {
		if err := m.StepShared(b, tc.chunks, tc.runs); err == nil {
			t.Errorf("%s: StepShared succeeded; want an error", tc.name)
		}
		if s1.Pos() != len(prompt) || s2.Pos() != len(prompt) {
			t.Fatalf("%s: a refused step moved the caches to %d and %d", tc.name, s1.Pos(), s2.Pos())
		}
	}
}

func TestStepSharedDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := openModel(t, writeFixture(t, fixtures["qwen3moe"], tensor.F32, 23), 2)
	w := buildSharedWorld(t, m, rand.New(rand.NewPCG(5, 2)))
	N := len(w.states)
	b, _ := m.NewBatch(N, N)
	chunks := make([]Chunk, N)
	for i, s := range w.states {
		chunks[i] = Chunk{State: s, Tokens: []int32{int32(i)}}
	}
	step := func() { // the caches have room for a few dozen more
		if err := m.StepShared(b, chunks, w.runs); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if n := testing.AllocsPerRun(5, step); n != 0 {
		t.Errorf("a decode step with shared runs allocated %v times; want 0", n)
	}
}

// BenchmarkStepShared is one decode step of 32 sequences over a 600-token
// lore they share (copied from one that computed it), each with 100
// tokens of its own, with the lore attended once for all of them
// (shared=on) and by each on its own (shared=off), on the bench shapes —
// and over a 1,500-token lore on the tiny one, where attention weighs
// more beside the weights.
// Each iteration decodes at the same position (the caches are truncated
// back), so every step does the same work. On a shared machine cpu_µs/tok
// (all threads' CPU time per token) is steadier than tok/s.
func BenchmarkStepShared(b *testing.B) {
	const n, own = 32, 100
	for _, tc := range []struct {
		shape string
		lore  int
	}{{"tiny", 600}, {"tiny", 1500}, {"small", 600}} {
		shape, lore := tc.shape, tc.lore
		m := benchModel(b, shape, tensor.F32, 0)
		rng := rand.New(rand.NewPCG(1, 2))
		V := m.Config.Vocab
		toks := func(k int) []int32 {
			s := make([]int32, k)
			for i := range s {
				s[i] = int32(rng.IntN(V))
			}
			return s
		}
		states := make([]*State, n)
		for i := range states {
			states[i], _ = m.NewState(lore+own+8, 128)
		}
		if _, err := m.Forward(states[0], toks(lore)); err != nil {
			b.Fatal(err)
		}
		for _, st := range states {
			if err := st.CopyPrefix(states[0], lore); err != nil {
				b.Fatal(err)
			}
			if _, err := m.Forward(st, toks(own)); err != nil {
				b.Fatal(err)
			}
		}
		all := make([]int, n)
		chunks := make([]Chunk, n)
		for i := range all {
			all[i] = i
			chunks[i] = Chunk{State: states[i], Tokens: []int32{int32(i)}}
		}
		bt, _ := m.NewBatch(n, n)
		for _, shared := range []bool{false, true} {
			var runs []Shared
			if shared {
				runs = []Shared{{Chunks: all, Lo: 0, Hi: lore}}
			}
			b.Run(fmt.Sprintf("%s/lore=%d/shared=%v", shape, lore, shared), func(b *testing.B) {
				cpu := cpuTime()
				for b.Loop() {
					if err := m.StepShared(bt, chunks, runs); err != nil {
						b.Fatal(err)
					}
					for _, st := range states {
						st.Truncate(st.Pos() - 1)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tok/s")
				b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(n*b.N), "cpu_µs/tok")
			})
		}
	}
}
