package model

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/anima-rt/anima/inference/tensor"
)

// batchPlan is three sequences stepped together, each row one Step: how
// many of its tokens each sequence feeds (0: it sits the step out). It
// mixes a prefill chunk beside decode tokens, chunks of several sizes, and
// steps where one sequence is absent.
var batchPlan = [][3]int{
	{5, 13, 1},
	{8, 1, 3},
	{0, 1, 1},
	{1, 1, 4},
	{1, 0, 1},
	{1, 1, 1},
}

// TestStepMatchesForward steps three sequences through batchPlan on every
// architecture's fixture and checks the logits of each chunk's last token
// against Forward over the same sequence alone.
func TestStepMatchesForward(t *testing.T) {
	for _, name := range sortedKeys(fixtures) {
		for _, tc := range []struct {
			typ tensor.Type
			tol float64 // max |Δ logit| relative to the largest |logit| (if above 1)
		}{
			{tensor.F32, 1e-4},
			// Q8_0 quantizes activations: a value rounding the other way
			// in one layer moves the logits by more than float rounding.
			{tensor.Q8_0, 2e-2},
		} {
			t.Run(name+"/"+tc.typ.String(), func(t *testing.T) {
				m := openModel(t, writeFixture(t, fixtures[name], tc.typ, 7), 2)
				V := m.Config.Vocab
				var seqs [3][]int32 // each sequence's tokens: the prompt, rotated
				for s := range seqs {
					for i := range len(prompt) {
						seqs[s] = append(seqs[s], prompt[(i+4*s)%len(prompt)])
					}
					for i := range 8 { // enough for the plan's decode steps
						seqs[s] = append(seqs[s], int32((i*11+s)%V))
					}
				}
				var want [3][]float32 // every position's logits, from Forward alone
				for s := range seqs {
					st, _ := m.NewState(64, 4)
					want[s] = make([]float32, len(seqs[s])*V)
					if err := m.ForwardAll(st, seqs[s], want[s]); err != nil {
						t.Fatal(err)
					}
				}

				b, err := m.NewBatch(32, 3)
				if err != nil {
					t.Fatal(err)
				}
				var states [3]*State
				for s := range states {
					states[s], _ = m.NewState(64, 1)
				}
				var fed [3]int
				maxErr, scale := 0.0, 1.0
				for step, plan := range batchPlan {
					var chunks []Chunk
					var who []int
					for s, k := range plan {
						if k > 0 {
							chunks = append(chunks, Chunk{State: states[s], Tokens: seqs[s][fed[s] : fed[s]+k]})
							who = append(who, s)
						}
					}
					if err := m.Step(b, chunks); err != nil {
						t.Fatalf("step %d: %v", step, err)
					}
					for i, s := range who {
						fed[s] += plan[s]
						if got := states[s].Pos(); got != fed[s] {
							t.Fatalf("step %d: sequence %d at position %d; want %d", step, s, got, fed[s])
						}
						w := want[s][(fed[s]-1)*V : fed[s]*V]
						for j, g := range b.Logits(i) {
							scale = max(scale, math.Abs(float64(w[j])))
							if d := math.Abs(float64(g - w[j])); d > maxErr || math.IsNaN(d) {
								maxErr = d
							}
						}
					}
				}
				t.Logf("max |Δ logit| = %.2e (largest |logit| %.1f)", maxErr, scale)
				if !(maxErr <= tc.tol*scale) {
					t.Errorf("batched logits differ from Forward's by %.2e; want <= %g × %.1f", maxErr, tc.tol, scale)
				}
			})
		}
	}
}

func TestStepErrors(t *testing.T) {
	m := openModel(t, writeFixture(t, fixtures["qwen3moe"], tensor.F32, 8), 1)
	b, err := m.NewBatch(4, 2)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := m.NewState(8, 1)
	full, _ := m.NewState(2, 1)
	if _, err := m.Forward(full, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		chunks []Chunk
		want   string
	}{
		{"none", nil, "0 chunks"},
		{"too many chunks", []Chunk{{a, []int32{1}}, {full, []int32{1}}, {a, []int32{1}}}, "3 chunks"},
		{"empty chunk", []Chunk{{a, nil}}, "no tokens"},
		{"too many tokens", []Chunk{{a, []int32{1, 2, 3, 4, 5}}}, "holds 4"},
		{"shared State", []Chunk{{a, []int32{1}}, {a, []int32{2}}}, "shares its State"},
		{"out of vocabulary", []Chunk{{a, []int32{1000}}}, "outside the vocabulary"},
		{"context full", []Chunk{{full, []int32{1}}}, "context full"},
	} {
		err := m.Step(b, tc.chunks)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Step(%s) = %v; want an error mentioning %q", tc.name, err, tc.want)
		}
	}
	if a.Pos() != 0 {
		t.Errorf("after failed steps, Pos() = %d; want 0 (nothing cached)", a.Pos())
	}
	if err := m.Step(b, []Chunk{{full, []int32{1}}}); !errors.Is(err, ErrContextFull) {
		t.Errorf("Step past the context: err = %v; want ErrContextFull", err)
	}
	if _, err := m.NewBatch(2, 3); err == nil {
		t.Error("NewBatch(2 tokens, 3 sequences) succeeded; want an error")
	}
}

// TestCopyPrefix: a State that copies another's first n positions and then
// continues gives the logits of one that computed them itself.
func TestCopyPrefix(t *testing.T) {
	m := openModel(t, writeFixture(t, fixtures["qwen3"], tensor.F32, 9), 1)
	src, _ := m.NewState(32, 8)
	if _, err := m.Forward(src, prompt); err != nil {
		t.Fatal(err)
	}
	dst, _ := m.NewState(24, 8) // another capacity: the layouts' strides differ
	if err := dst.CopyPrefix(src, 9); err != nil {
		t.Fatal(err)
	}
	got, err := m.Forward(dst, prompt[9:])
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := m.NewState(32, 8) // the same prompt computed in one go
	w, _ := m.Forward(ref, prompt)
	for i := range got {
		if d := math.Abs(float64(got[i] - w[i])); d > 1e-4 {
			t.Fatalf("after CopyPrefix, logit %d = %g; want %g", i, got[i], w[i])
		}
	}
	if err := dst.CopyPrefix(src, 40); err == nil {
		t.Error("CopyPrefix of more positions than the source holds succeeded")
	}
}

func TestStepDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, typ := range []tensor.Type{tensor.F32, tensor.Q8_0} {
		m := openModel(t, writeFixture(t, fixtures["qwen3moe"], typ, 10), 2)
		b, _ := m.NewBatch(16, 2)
		s1, _ := m.NewState(64, 1)
		s2, _ := m.NewState(64, 1)
		if err := m.Step(b, []Chunk{{s1, prompt}, {s2, prompt[:3]}}); err != nil {
			t.Fatal(err)
		}
		chunks := []Chunk{{s1, []int32{3}}, {s2, []int32{4}}}
		if n := testing.AllocsPerRun(10, func() { m.Step(b, chunks) }); n != 0 {
			t.Errorf("%s: a batched decode step allocated %v times; want 0", typ, n)
		}
	}
}
