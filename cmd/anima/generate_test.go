package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/tensor"
)

// tinyModel writes a small random qwen3moe model (no tokenizer) for the
// command tests.
func tinyModel(t *testing.T) string {
	t.Helper()
	spec := model.Spec{Arch: "qwen3moe", Vocab: 64, Dim: 64, Layers: 1, Heads: 2, KVHeads: 1, HeadDim: 32, Experts: 4, ExpertsUsed: 2, FFN: 64, RopeBase: 1e6, Eps: 1e-6, Context: 256}
	w, err := model.RandomWriter(spec, tensor.Q8_0, 1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGenerateIDs(t *testing.T) {
	path := tinyModel(t)
	lp := filepath.Join(t.TempDir(), "cand.json")
	run := func(extra ...string) string {
		var out, errOut bytes.Buffer
		args := append([]string{"-m", path, "-ids", "1,2,3,4", "-n", "6", "-threads", "1"}, extra...)
		if err := generate(context.Background(), args, &out, &errOut); err != nil {
			t.Fatalf("generate %v: %v (%s)", args, err, errOut.String())
		}
		if !strings.Contains(errOut.String(), "generated 6 tokens") {
			t.Errorf("generate %v: stderr = %q; want the timing line", args, errOut.String())
		}
		return out.String()
	}
	greedy := run("-temp", "0", "-logprobs", lp)
	if n := len(strings.Fields(greedy)); n != 6 {
		t.Errorf("generate -temp 0 printed %q; want 6 token ids", greedy)
	}
	if again := run("-temp", "0"); again != greedy {
		t.Errorf("greedy runs differ: %q then %q", greedy, again)
	}
	if a, b := run("-seed", "7"), run("-seed", "7"); a != b {
		t.Errorf("seed 7 gave %q then %q; want the same", a, b)
	}

	var c candidate
	b, _ := os.ReadFile(lp)
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("-logprobs file: %v", err)
	}
	if len(c.Positions) != 4 || len(c.Positions[0].Top10) != 32 || len(c.Greedy) != 6 {
		t.Errorf("-logprobs file has %d positions, %d top entries, %d greedy ids; want 4, 32, 6", len(c.Positions), len(c.Positions[0].Top10), len(c.Greedy))
	}
}

func TestGenerateErrors(t *testing.T) {
	path := tinyModel(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-m", path}, "exactly one of -p or -ids"},
		{[]string{"-m", path, "-p", "hi"}, "pass token ids with -ids"},
		{[]string{"-m", path, "-ids", "1,x"}, `"x" is not a token id`},
		{[]string{"-m", path, "-ids", "1,999"}, "outside the vocabulary"},
		{[]string{"-m", path, "-ids", "1", "-top-p", "2"}, "top-p"},
		{[]string{"-m", path, "-ids", "1", "-logprobs", "x.json"}, "use it with -temp 0"},
		{[]string{"-m", filepath.Join(t.TempDir(), "none.gguf"), "-ids", "1"}, "no such file"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		err := generate(context.Background(), tt.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("generate %v = %v; want error containing %q", tt.args, err, tt.want)
		}
	}
}

func TestBenchJSON(t *testing.T) {
	path := tinyModel(t)
	var out bytes.Buffer
	args := []string{"-m", path, "-threads", "1", "-prefill", "16", "-decode", "4", "-ctx", "32", "-reps", "1", "-json"}
	if err := bench(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	var r benchResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("bench -json printed %q: %v", out.String(), err)
	}
	if r.PrefillTokS <= 0 || r.DecodeTokS <= 0 || r.DecodeCtxTokS <= 0 || r.PeakRSSBytes <= 0 || r.Threads != 1 {
		t.Errorf("bench -json = %+v; want positive rates and peak RSS, 1 thread", r)
	}
}

func TestBenchMake(t *testing.T) {
	var out bytes.Buffer
	if err := bench(context.Background(), []string{"-make", "huge", "-o", "x"}, &out); err == nil || !strings.Contains(err.Error(), "tiny, small or medium") {
		t.Errorf("bench -make huge = %v; want an error naming the shapes", err)
	}
	if err := bench(context.Background(), []string{"-make", "tiny", "-type", "q4", "-o", "x"}, &out); err == nil || !strings.Contains(err.Error(), "q8_0") {
		t.Errorf("bench -type q4 = %v; want an error naming the types", err)
	}
}

// -special reads ChatML control tokens in -p as those tokens, as the
// runtime renders prompts: a rendered prompt pasted into -p then means
// what it meant to the model.
func TestGenerateSpecial(t *testing.T) {
	testDecoder(t) // skips without the embedded model
	path := filepath.Join("..", "..", "assets", "model", "anima-npc-q8_0.gguf")
	prompt := "<|im_start|>user\nWhere is the well?\n<|im_end|>\n<|im_start|>assistant\n"
	positions := func(extra ...string) int {
		lp := filepath.Join(t.TempDir(), "lp.json")
		var out, errOut bytes.Buffer
		args := append([]string{"-m", path, "-p", prompt, "-n", "2", "-temp", "0", "-threads", "1", "-logprobs", lp}, extra...)
		if err := generate(context.Background(), args, &out, &errOut); err != nil {
			t.Fatalf("generate %v: %v (%s)", args, err, errOut.String())
		}
		var c candidate
		b, _ := os.ReadFile(lp)
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("-logprobs file: %v", err)
		}
		return len(c.Positions)
	}
	plain, special := positions(), positions("-special")
	// Each of the four control tokens is one token, not the several of its
	// spelling.
	if special >= plain-8 {
		t.Errorf("-special: %d prompt tokens, %d without; want the control tokens read as one token each", special, plain)
	}
}
