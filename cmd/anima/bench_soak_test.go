package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/tensor"
)

// TestBenchSoak runs a short anima bench -soak -json on a small random
// model with a prefix store far too small for its NPCs: requests are
// answered, some prompt tokens are reused, the store evicts and never
// holds more than its budget, and the report carries its samples.
func TestBenchSoak(t *testing.T) {
	spec := model.Spec{Arch: "qwen3moe", Vocab: 320, Dim: 64, Layers: 1, Heads: 2, KVHeads: 1, HeadDim: 32,
		Experts: 4, ExpertsUsed: 2, FFN: 64, RopeBase: 1e6, Eps: 1e-6, Context: 128}
	w, err := model.RandomWriter(spec, tensor.F32, 1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	// 12 blocks of 16 tokens (4 KiB each on this model) for 6 NPCs whose
	// prompts are ~100 tokens each.
	args := []string{"-m", path, "-json", "-soak", "1500ms", "-soak-every", "500ms", "-soak-store", "0.046875",
		"-soak-npcs", "6", "-soak-clients", "4", "-soak-seqs", "2"}
	if err := bench(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	var got soakResult
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("bench -soak -json printed %q: %v", out.String(), err)
	}
	if got.Requests == 0 || got.RequestsPerS <= 0 || got.PromptTokens == 0 || got.GeneratedTokens == 0 {
		t.Errorf("soak = %s; want requests answered, prompts and tokens counted", out.String())
	}
	if got.HitRate <= 0 || got.HitRate > 1 || got.ReusedTokens > got.PromptTokens {
		t.Errorf("hit rate %.3f (%d of %d tokens); want some reuse", got.HitRate, got.ReusedTokens, got.PromptTokens)
	}
	if got.StoreBudget != 12*4096 || got.StoreBytesMax <= 0 || got.StoreBytesMax > got.StoreBudget || got.StoreEvictions == 0 {
		t.Errorf("store at most %d bytes of %d, %d evictions; want it full, within budget, evicting", got.StoreBytesMax, got.StoreBudget, got.StoreEvictions)
	}
	if len(got.Samples) < 3 {
		t.Errorf("%d samples; want one every 500 ms and one at the end", len(got.Samples))
	}
}
