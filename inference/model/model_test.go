package model

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/tensor"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fixtures are small random models of every architecture (and variants
// that take other code paths: tied output, partial RoPE, a KV head per
// query head). Dimensions are multiples of 32 so Q8_0 can encode them.
var fixtures = map[string]Spec{
	"qwen3moe":        {Arch: "qwen3moe", Vocab: 96, Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 32, Experts: 4, ExpertsUsed: 2, FFN: 96, RopeBase: 1e6, Eps: 1e-6, Context: 64},
	"qwen3moe-tied":   {Arch: "qwen3moe", Vocab: 64, Dim: 64, Layers: 1, Heads: 2, KVHeads: 1, HeadDim: 64, Experts: 3, ExpertsUsed: 1, FFN: 64, RopeBase: 1e4, Eps: 1e-5, Context: 64, Tied: true},
	"qwen3":           {Arch: "qwen3", Vocab: 96, Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 32, FFN: 128, RopeBase: 1e6, Eps: 1e-6, Context: 64},
	"llama":           {Arch: "llama", Vocab: 96, Dim: 64, Layers: 2, Heads: 4, KVHeads: 4, HeadDim: 16, FFN: 128, RopeBase: 1e4, Eps: 1e-5, Context: 64},
	"llama-mixtral":   {Arch: "llama", Vocab: 96, Dim: 64, Layers: 2, Heads: 4, KVHeads: 1, HeadDim: 16, Experts: 4, ExpertsUsed: 2, FFN: 64, RopeBase: 1e4, Eps: 1e-5, Context: 64},
	"llama3-freqs":    {Arch: "llama", Vocab: 64, Dim: 64, Layers: 1, Heads: 2, KVHeads: 1, HeadDim: 32, FFN: 64, RopeBase: 5e5, Eps: 1e-5, Context: 64, RopeFreqs: true},
	"llama-part-rope": {Arch: "llama", Vocab: 64, Dim: 64, Layers: 1, Heads: 2, KVHeads: 2, HeadDim: 32, RopeDims: 16, FFN: 64, RopeBase: 1e4, Eps: 1e-5, Context: 64},
}

// writeFixture writes spec's random model to a temporary file.
func writeFixture(t testing.TB, s Spec, typ tensor.Type, seed uint64) string {
	t.Helper()
	w, err := RandomWriter(s, typ, seed)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

var prompt = []int32{1, 17, 42, 5, 63, 0, 9, 33, 33, 2, 50, 7, 21}

// TestForwardMatchesReference checks every architecture's logits at every
// position — prefill in chunks, then decode steps — against the float64
// reference in reference64_test.go.
func TestForwardMatchesReference(t *testing.T) {
	for _, name := range sortedKeys(fixtures) {
		for _, tc := range []struct {
			typ tensor.Type
			tol float64 // max |Δ logit|, relative to the largest |logit| (if above 1)
		}{
			// F32 differs from float64 only by rounding. The others
			// round weights the reference reads back exactly, so what is
			// left is activation rounding: bf16/f16 inputs are float32
			// in the kernels, Q8_0 quantizes activations to 8 bits.
			{tensor.F32, 1e-4},
			{tensor.F16, 1e-3},
			{tensor.BF16, 1e-3},
			{tensor.Q8_0, 2e-2},
		} {
			t.Run(name+"/"+tc.typ.String(), func(t *testing.T) {
				path := writeFixture(t, fixtures[name], tc.typ, 1)
				m := openModel(t, path, 2)
				ref := loadRef64(t, path)
				st, err := m.NewState(32, 5) // chunks of 5: 5+5+3 prompt tokens
				if err != nil {
					t.Fatal(err)
				}
				V := m.Config.Vocab
				toks := prompt     // every id is below the smallest fixture vocabulary
				n := len(toks) - 3 // the last three run as decode steps
				got := make([]float32, len(toks)*V)
				if err := m.ForwardAll(st, toks[:n], got[:n*V]); err != nil {
					t.Fatal(err)
				}
				for i := n; i < len(toks); i++ {
					lg, err := m.Forward(st, toks[i:i+1])
					if err != nil {
						t.Fatal(err)
					}
					copy(got[i*V:], lg)
				}
				want := ref.forward(toks)
				maxErr, at, scale := 0.0, 0, 1.0
				for i := range got {
					scale = max(scale, math.Abs(want[i/V][i%V]))
					if d := math.Abs(float64(got[i]) - want[i/V][i%V]); d > maxErr || math.IsNaN(d) {
						maxErr, at = d, i
					}
				}
				t.Logf("max |Δ logit| = %.2e at position %d, token %d (largest |logit| %.1f)", maxErr, at/V, at%V, scale)
				if !(maxErr <= tc.tol*scale) {
					t.Errorf("max |Δ logit| = %.2e at position %d, token %d; want <= %g × %.1f", maxErr, at/V, at%V, tc.tol, scale)
				}
			})
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// greedy decodes n tokens after prompt, taking the argmax each step.
func greedy(t testing.TB, m *Model, prompt []int32, n int) ([]int32, [][]float32) {
	st, err := m.NewState(len(prompt)+n, 4)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := m.Forward(st, prompt)
	if err != nil {
		t.Fatal(err)
	}
	var out []int32
	var all [][]float32
	for range n {
		all = append(all, slices.Clone(logits))
		next := argmax(logits)
		out = append(out, next)
		if logits, err = m.Forward(st, []int32{next}); err != nil {
			t.Fatal(err)
		}
	}
	return out, all
}

// TestGreedyIdenticalAcrossThreads runs the same greedy decode on 1, 2 and
// 3 threads, twice each: tokens and logits must agree bit for bit, since
// no reduction may depend on how the work was split.
func TestGreedyIdenticalAcrossThreads(t *testing.T) {
	for _, typ := range []tensor.Type{tensor.F32, tensor.Q8_0} {
		path := writeFixture(t, fixtures["qwen3moe"], typ, 2)
		var wantToks []int32
		var wantLogits [][]float32
		for _, threads := range []int{1, 2, 3, 1, 2, 3} {
			m := openModel(t, path, threads)
			toks, logits := greedy(t, m, prompt, 20)
			if wantToks == nil {
				wantToks, wantLogits = toks, logits
				continue
			}
			if !slices.Equal(toks, wantToks) {
				t.Errorf("%s, %d threads: greedy = %v; want %v (1 thread)", typ, threads, toks, wantToks)
			}
			for i := range logits {
				if !slices.Equal(logits[i], wantLogits[i]) {
					t.Errorf("%s, %d threads: logits of step %d differ from 1 thread's", typ, threads, i)
					break
				}
			}
		}
	}
}

// TestGreedyGolden pins the exact greedy continuation of a fixture model
// (run with -update to rewrite testdata/greedy.golden after a deliberate
// change of numerics).
func TestGreedyGolden(t *testing.T) {
	var b strings.Builder
	for _, name := range []string{"qwen3moe", "llama-mixtral", "qwen3", "llama"} {
		for _, typ := range []tensor.Type{tensor.F32, tensor.Q8_0} {
			m := openModel(t, writeFixture(t, fixtures[name], typ, 3), 2)
			toks, _ := greedy(t, m, prompt[:8], 24)
			fmt.Fprintf(&b, "%s %s: %v\n", name, typ, toks)
		}
	}
	golden := filepath.Join("testdata", "greedy.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("greedy continuations:\n%s\nwant (%s):\n%s", got, golden, want)
	}
}

// TestLongChunkMatchesReference prefills 300 tokens in one chunk, so that
// the feed-forward runs its rows in several groups of ffnRows (an expert's
// rows too, with top-2 of 4 experts), the last one ragged, and checks every
// position's logits against the float64 reference. The mixture runs in F32
// only: over 300 positions, 8-bit activations flip a near-tied router
// choice somewhere (position 97 at this seed, before ffnRows existed too),
// and one different expert is a large logit error the tolerance cannot
// tell from a bug.
func TestLongChunkMatchesReference(t *testing.T) {
	const n = 300
	toks := make([]int32, n)
	for i := range toks {
		toks[i] = int32((i*37 + 11) % 64)
	}
	for _, tc := range []struct {
		name string
		typ  tensor.Type
		tol  float64 // as in TestForwardMatchesReference
	}{
		{"qwen3moe", tensor.F32, 1e-4},
		{"qwen3", tensor.F32, 1e-4},
		{"qwen3", tensor.Q8_0, 2e-2},
	} {
		t.Run(tc.name+"/"+tc.typ.String(), func(t *testing.T) {
			spec := fixtures[tc.name]
			spec.Context = n
			path := writeFixture(t, spec, tc.typ, 5)
			m := openModel(t, path, 2)
			st, err := m.NewState(n, n)
			if err != nil {
				t.Fatal(err)
			}
			V := m.Config.Vocab
			got := make([]float32, n*V)
			if err := m.ForwardAll(st, toks, got); err != nil {
				t.Fatal(err)
			}
			want := loadRef64(t, path).forward(toks)
			maxErr, at, scale := 0.0, 0, 1.0
			for i := range got {
				scale = max(scale, math.Abs(want[i/V][i%V]))
				if d := math.Abs(float64(got[i]) - want[i/V][i%V]); d > maxErr || math.IsNaN(d) {
					maxErr, at = d, i
				}
			}
			if !(maxErr <= tc.tol*scale) {
				t.Errorf("max |Δ logit| = %.2e at position %d, token %d; want <= %g × %.1f", maxErr, at/V, at%V, tc.tol, scale)
			}
		})
	}
}

// TestChunkingDoesNotChangeResults: prefill in one chunk, in chunks of 3,
// and token by token give the same logits up to float rounding.
func TestChunkingDoesNotChangeResults(t *testing.T) {
	m := openModel(t, writeFixture(t, fixtures["qwen3moe"], tensor.F32, 4), 2)
	var want []float32
	for _, batch := range []int{32, 3, 1} {
		st, _ := m.NewState(32, batch)
		lg, err := m.Forward(st, prompt)
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = slices.Clone(lg)
			continue
		}
		for i := range lg {
			if d := math.Abs(float64(lg[i] - want[i])); d > 1e-4 {
				t.Fatalf("batch %d: logit %d = %g; want %g (one chunk)", batch, i, lg[i], want[i])
			}
		}
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	// A decode step runs hundreds of kernel calls; garbage from any of them
	// would turn into GC pauses in an NPC's reply stream.
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, typ := range []tensor.Type{tensor.F32, tensor.Q8_0} {
		m := openModel(t, writeFixture(t, fixtures["qwen3moe"], typ, 5), 2)
		st, _ := m.NewState(64, 8)
		if _, err := m.Forward(st, prompt); err != nil {
			t.Fatal(err)
		}
		tok := []int32{3}
		if n := testing.AllocsPerRun(20, func() { m.Forward(st, tok) }); n != 0 {
			t.Errorf("%s: a decode step allocated %v times; want 0", typ, n)
		}
	}
}

func TestForwardErrors(t *testing.T) {
	m := openModel(t, writeFixture(t, fixtures["llama"], tensor.F32, 6), 1)
	st, _ := m.NewState(8, 4)
	tests := []struct {
		name   string
		tokens []int32
		want   string
	}{
		{"empty", nil, "no tokens"},
		{"negative token", []int32{1, -1}, "token -1 at index 1 outside the vocabulary of 96"},
		{"token past vocabulary", []int32{96}, "token 96 at index 0 outside the vocabulary of 96"},
		{"context overflow", make([]int32, 9), "context full: 0 cached + 9 new positions > 8"},
	}
	for _, tt := range tests {
		_, err := m.Forward(st, tt.tokens)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Forward(%s) = %v; want error containing %q", tt.name, err, tt.want)
		}
	}
	if st.Pos() != 0 {
		t.Errorf("after failed calls Pos() = %d; want 0", st.Pos())
	}
}

// TestLoadErrors breaks a valid model one key or tensor at a time and
// checks that Load names what is wrong.
func TestLoadErrors(t *testing.T) {
	s := fixtures["qwen3moe"]
	pool := kernels.NewPool(1)
	defer pool.Close()
	tests := []struct {
		name string
		edit func(w *gguf.Writer)
		want string
	}{
		{"unknown architecture", func(w *gguf.Writer) { w.Set("general.architecture", "gpt-j") }, `unknown architecture "gpt-j"`},
		{"no heads", func(w *gguf.Writer) { w.Set("qwen3moe.attention.head_count", uint32(0)) }, `"qwen3moe.attention.head_count" = 0`},
		{"heads not a multiple of kv heads", func(w *gguf.Writer) { w.Set("qwen3moe.attention.head_count_kv", uint32(3)) }, "not a multiple of head_count_kv 3"},
		{"top-k above experts", func(w *gguf.Writer) { w.Set("qwen3moe.expert_used_count", uint32(9)) }, "expert_used_count 9 must be 1..expert_count 4"},
		{"wrong key type", func(w *gguf.Writer) { w.Set("qwen3moe.block_count", "two") }, `"qwen3moe.block_count"`},
		{"wrong embedding width", func(w *gguf.Writer) { w.Set("qwen3moe.embedding_length", uint32(32)) }, `"token_embd.weight" has shape [64 96]; want [32 96]`},
		{"more layers than tensors", func(w *gguf.Writer) { w.Set("qwen3moe.block_count", uint32(3)) }, `"blk.2.attn_norm.weight"`},
		{"rope scaling", func(w *gguf.Writer) { w.Set("qwen3moe.rope.scaling.type", "yarn") }, `"qwen3moe.rope.scaling.type" = "yarn": RoPE scaling is not supported`},
		{"missing epsilon", func(w *gguf.Writer) { w.Set("qwen3moe.attention.layer_norm_rms_epsilon", float32(0)) }, "layer_norm_rms_epsilon 0 missing or out of range"},
	}
	for _, tt := range tests {
		w, err := RandomWriter(s, tensor.F32, 1)
		if err != nil {
			t.Fatal(err)
		}
		tt.edit(w)
		var buf bytes.Buffer
		if _, err := w.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		_, err = Load(f, pool)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%s) = %v; want error containing %q", tt.name, err, tt.want)
		}
	}
}

// FuzzLoad feeds mutated model files to Load and, when one loads, runs a
// short forward pass: neither may panic.
func FuzzLoad(f *testing.F) {
	// Seeds as small as the architectures allow: the fuzzer mutates
	// small inputs far faster.
	for _, s := range []Spec{
		{Arch: "qwen3moe", Vocab: 8, Dim: 32, Layers: 1, Heads: 1, KVHeads: 1, HeadDim: 32, Experts: 2, ExpertsUsed: 1, FFN: 32, RopeBase: 1e4, Eps: 1e-6, Context: 8},
		{Arch: "llama", Vocab: 8, Dim: 32, Layers: 1, Heads: 2, KVHeads: 1, HeadDim: 16, FFN: 32, RopeBase: 1e4, Eps: 1e-6, Context: 8, Tied: true},
	} {
		w, _ := RandomWriter(s, tensor.Q8_0, 1)
		var buf bytes.Buffer
		w.WriteTo(&buf)
		f.Add(buf.Bytes())
	}
	pool := kernels.NewPool(1)
	defer pool.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		gf, err := gguf.Parse(data)
		if err != nil {
			return
		}
		m, err := Load(gf, pool)
		if err != nil {
			return
		}
		st, err := m.NewState(4, 2)
		if err != nil {
			return
		}
		m.Forward(st, []int32{0, int32(m.Config.Vocab - 1), 1})
	})
}

// TestTruncateReplaysPrefix checks what prefix reuse relies on: after
// Truncate to a shared prefix, forwarding a new suffix gives the logits a
// fresh run of prefix+suffix gives.
func TestTruncateReplaysPrefix(t *testing.T) {
	m := openModel(t, writeFixture(t, fixtures["qwen3moe"], tensor.F32, 7), 2)
	prefix, first, second := prompt[:6], []int32{9, 9, 4}, []int32{30, 2, 11, 5}

	st, _ := m.NewState(32, 4)
	if _, err := m.Forward(st, append(slices.Clone(prefix), first...)); err != nil {
		t.Fatal(err)
	}
	if err := st.Truncate(len(prefix)); err != nil {
		t.Fatal(err)
	}
	got, err := m.Forward(st, second)
	if err != nil {
		t.Fatal(err)
	}
	got = slices.Clone(got)

	fresh, _ := m.NewState(32, 4)
	want, err := m.Forward(fresh, append(slices.Clone(prefix), second...))
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
			t.Fatalf("after Truncate(%d), logit %d = %g; a fresh run gives %g", len(prefix), i, got[i], want[i])
		}
	}
	if st.Pos() != len(prefix)+len(second) {
		t.Errorf("Pos() = %d; want %d", st.Pos(), len(prefix)+len(second))
	}
	if err := st.Truncate(st.Pos() + 1); err == nil {
		t.Errorf("Truncate past Pos() = nil error; want an error")
	}
}
