package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/tensor"
)

func writeInspectFixture(t *testing.T) string {
	t.Helper()
	w := gguf.NewWriter()
	w.Set("general.architecture", "qwen3moe")
	w.Set("qwen3moe.expert_count", uint32(8))
	w.Set("qwen3moe.rope.freq_base", float32(1e6))
	w.Set("odd.nan", float32(math.NaN()))
	w.Set("tokenizer.ggml.tokens", []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"})
	w.Set("nested", []any{[]int32{1, 2}})
	w.AddFloat32("blk.0.ffn_gate_exps.weight", tensor.Q8_0, []int{32, 2, 8}, make([]float32, 32*2*8))
	w.AddFloat32("output_norm.weight", tensor.F32, []int{4}, []float32{1, 2, 3, 4})
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInspectText(t *testing.T) {
	path := writeInspectFixture(t)
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	if err := inspectText(&out, path, f, 3); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"GGUF version 3, alignment 32",
		"metadata: 6 keys",
		`general.architecture   string          "qwen3moe"`,
		"qwen3moe.expert_count  uint32          8",
		"qwen3moe.rope.freq_base  float32",
		`tokenizer.ggml.tokens  array[string]   ["a", "b", "c", ...] (10 items)`,
		"nested                 array[array[int32]]  [[1, 2]] (1 items)",
		"tensors: 2, 560 bytes",
		"blk.0.ffn_gate_exps.weight  Q8_0  [32, 2, 8]",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("inspect output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestInspectJSON(t *testing.T) {
	path := writeInspectFixture(t)
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	if err := inspectJSON(&out, path, f, 2); err != nil {
		t.Fatal(err)
	}
	var r inspectReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("inspect -json output is not JSON: %v\n%s", err, out.String())
	}
	if r.Version != 3 || len(r.Metadata) != 6 || len(r.Tensors) != 2 {
		t.Fatalf("report = version %d, %d keys, %d tensors; want 3, 6, 2", r.Version, len(r.Metadata), len(r.Tensors))
	}
	tok := r.Metadata[4]
	if tok.Key != "tokenizer.ggml.tokens" || tok.Length == nil || *tok.Length != 10 || len(tok.Value.([]any)) != 2 {
		t.Errorf("tokens entry = %+v; want 2 of 10 items", tok)
	}
	if r.Metadata[3].Value != "NaN" {
		t.Errorf("NaN value = %v; want the string NaN", r.Metadata[3].Value)
	}
	g := r.Tensors[0]
	if g.Name != "blk.0.ffn_gate_exps.weight" || g.Type != "Q8_0" || g.Size != 2*8*34 || g.Offset != 0 {
		t.Errorf("tensor = %+v", g)
	}
}

func TestInspectErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.gguf")
	os.WriteFile(bad, []byte("GGUF\x07\x00\x00\x00 not really"), 0o644)
	tests := []struct {
		args    []string
		wantErr string
	}{
		{nil, "want exactly one GGUF file"},
		{[]string{bad}, "unsupported GGUF version 7"},
		{[]string{filepath.Join(t.TempDir(), "none.gguf")}, "no such file"},
		{[]string{"a.gguf", "b.gguf"}, "want exactly one"},
	}
	for _, tt := range tests {
		err := runInspect(context.Background(), tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("runInspect(%q) = %v; want an error containing %q", tt.args, err, tt.wantErr)
		}
	}
}

func TestInspectReferenceModel(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "reference", "qwen3moe-tiny-q8_0.gguf")
	f, err := gguf.Open(path)
	if err != nil {
		t.Skipf("reference model not readable (%v)", err)
	}
	defer f.Close()
	var out bytes.Buffer
	if err := inspectText(&out, path, f, 8); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"qwen3moe.expert_used_count", "(4096 items)", "blk.3.ffn_down_exps.weight", "Q8_0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("inspect of the reference model lacks %q", want)
		}
	}
}
