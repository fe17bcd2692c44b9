package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/tensor"
)

// TestBenchServingFigures runs anima bench -json on a small random model
// without a tokenizer (the benchmark models have none): the object carries
// the serving figures under the names scripts read.
func TestBenchServingFigures(t *testing.T) {
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
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	args := []string{"-m", path, "-json", "-reps", "1", "-prefill", "8", "-decode", "24", "-ctx", "0", "-concurrency", "1,3", "-cpuprofile", prof}
	if err := bench(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Cold    float64            `json:"ttft_cold_ms"`
		Warm    float64            `json:"ttft_warm_ms"`
		Batch   map[string]float64 `json:"batch_decode_tok_s"`
		Grammar float64            `json:"grammar_decode_ratio"`
		StandIn bool               `json:"stand_in_vocab"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("bench -json printed %q: %v", out.String(), err)
	}
	if got.Cold <= 0 || got.Warm <= 0 || got.Batch["1"] <= 0 || got.Batch["3"] <= 0 || got.Grammar <= 0 || !got.StandIn || len(got.Batch) != 2 {
		t.Errorf("serving figures = %+v; want all positive, concurrency 1 and 3, a stand-in vocabulary", got)
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Errorf("-cpuprofile %s: %v, want a profile written", prof, err)
	}
}
