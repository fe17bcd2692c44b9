package model

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/kernels"
)

// referenceDir holds llama.cpp's outputs for the tiny qwen3moe models (see
// its README.md); CI has it, a fresh checkout may not.
var referenceDir = filepath.Join("..", "..", "..", "shared", "reference")

// llamaRef is the part of a reference JSON the test reads.
type llamaRef struct {
	Model     string  `json:"model"`
	PromptIDs []int32 `json:"prompt_ids"`
	Positions []struct {
		Pos   int          `json:"pos"`
		Top10 [][2]float64 `json:"top10"`
	} `json:"positions"`
	Greedy      []int32 `json:"greedy"`
	GreedySteps []struct {
		Top10 [][2]float64 `json:"top10"`
	} `json:"greedy_steps"`
}

func loadReference(t *testing.T, name string) (*llamaRef, string) {
	t.Helper()
	path := filepath.Join(referenceDir, name+".json")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("llama.cpp reference %s absent (it lives in ../shared/reference; CI has it)", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	var ref llamaRef
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &ref, filepath.Join(referenceDir, name+".gguf")
}

// openModel loads a GGUF model on a pool of the given threads; both are
// closed when the test ends.
func openModel(t testing.TB, path string, threads int) *Model {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	pool := kernels.NewPool(threads)
	t.Cleanup(pool.Close)
	m, err := Load(f, pool)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// logSoftmax returns the float64 log-probabilities of logits, as the
// reference computed them.
func logSoftmax(logits []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, float64(v))
	}
	sum := 0.0
	for _, v := range logits {
		sum += math.Exp(float64(v) - m)
	}
	lse := m + math.Log(sum)
	out := make([]float64, len(logits))
	for i, v := range logits {
		out[i] = float64(v) - lse
	}
	return out
}

func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

// TestMatchesLlamaCpp runs the prompt of llama.cpp's reference through the
// tiny qwen3moe models and compares the next-token log-probabilities at
// every position, the top-1 choices and the greedy continuation.
func TestMatchesLlamaCpp(t *testing.T) {
	for _, tc := range []struct {
		name string
		tol  float64
	}{
		{"qwen3moe-tiny-f32", 1e-2},
		{"qwen3moe-tiny-q8_0", 5e-2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, path := loadReference(t, tc.name)
			m := openModel(t, path, 2)
			st, err := m.NewState(256, 0)
			if err != nil {
				t.Fatal(err)
			}
			V := m.Config.Vocab
			all := make([]float32, len(ref.PromptIDs)*V)
			if err := m.ForwardAll(st, ref.PromptIDs, all); err != nil {
				t.Fatal(err)
			}
			const tieEps = 2e-3
			maxDiff, at := 0.0, [2]int{}
			tops := make([]int, len(ref.Positions))
			for k, p := range ref.Positions {
				lp := logSoftmax(all[p.Pos*V : (p.Pos+1)*V])
				for _, e := range p.Top10 {
					id := int(e[0])
					if d := math.Abs(lp[id] - e[1]); d > maxDiff {
						maxDiff, at = d, [2]int{p.Pos, id}
					}
				}
				tops[k] = int(argmax(all[p.Pos*V : (p.Pos+1)*V]))
			}
			t.Logf("max |Δ logprob| over llama.cpp's top-10 at %d positions: %.3e at (pos, id) = %v", len(ref.Positions), maxDiff, at)
			if maxDiff > tc.tol {
				t.Errorf("max |Δ logprob| = %.3e at (pos, id) = %v; want <= %g", maxDiff, at, tc.tol)
			}
			// Top-1 agrees when our argmax is the reference's, or is within
			// tieEps of it in the reference (the random models are flat).
			// For Q8_0, a choice may also part where the reference gap is
			// below twice the deviation measured above: a 1-ulp difference
			// in an activation can round a Q8 quant the other way. (With an
			// earlier quantizer this happened once in this prompt, at
			// position 21, in layer 2's attn_output input, 53.4999962;
			// forcing that one quant the other way brought every position
			// to within 2.4e-7 of llama.cpp.)
			eps := tieEps
			if tc.tol > 1e-2 {
				eps = max(tieEps, 2*maxDiff)
			}
			for k, p := range ref.Positions {
				top, refTop := tops[k], p.Top10[0]
				if top == int(refTop[0]) {
					continue
				}
				agree := false
				for _, e := range p.Top10 {
					if int(e[0]) == top && e[1] >= refTop[1]-eps {
						agree = true
						t.Logf("position %d: top-1 %d, llama.cpp's %d, %.2e above it (within %.1e)", p.Pos, top, int(refTop[0]), refTop[1]-e[1], eps)
					}
				}
				if !agree {
					t.Errorf("position %d: top-1 token %d; llama.cpp's is %d (logprob %.5f), ours not within %.1e of it", p.Pos, top, int(refTop[0]), refTop[1], eps)
				}
			}

			// Greedy continuation: must follow llama.cpp's until a step
			// where llama.cpp's own top two were within tieEps.
			logits := all[(len(ref.PromptIDs)-1)*V:]
			var got []int32
			for range ref.Greedy {
				next := argmax(logits)
				got = append(got, next)
				if logits, err = m.Forward(st, []int32{next}); err != nil {
					t.Fatal(err)
				}
			}
			for i := range ref.Greedy {
				if got[i] == ref.Greedy[i] {
					continue
				}
				gap := math.Inf(1)
				if i < len(ref.GreedySteps) {
					s := ref.GreedySteps[i].Top10
					gap = s[0][1] - s[1][1]
				}
				if gap >= tieEps {
					t.Errorf("greedy continuation = %v; llama.cpp's = %v: parts at step %d, where llama.cpp's top-2 gap is %.2e (not a near-tie)", got, ref.Greedy, i, gap)
				} else {
					t.Logf("greedy continuation parts from llama.cpp's at step %d, a near-tie (gap %.2e)", i, gap)
				}
				break
			}
		})
	}
}
