package gguf

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/anima-rt/anima/inference/tensor"
)

// referenceDir is where the shared llama.cpp reference models live, relative
// to this package's directory (the repository sits beside shared/).
var referenceDir = filepath.Join("..", "..", "..", "shared", "reference")

func openReference(t *testing.T, name string) *File {
	t.Helper()
	path := filepath.Join(referenceDir, name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("reference model %s not present (%v): it lives in ../shared/reference beside the repository", name, err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestReadsLlamaCppFiles opens the reference models llama.cpp wrote and
// quantized, and checks the hyper-parameters and tensors the qwen3moe
// forward pass needs.
func TestReadsLlamaCppFiles(t *testing.T) {
	for _, tc := range []struct {
		file    string
		matType tensor.Type
	}{
		{"qwen3moe-tiny-f32.gguf", tensor.F32},
		{"qwen3moe-tiny-q8_0.gguf", tensor.Q8_0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := openReference(t, tc.file)
			if arch, err := f.Architecture(); arch != "qwen3moe" || err != nil {
				t.Fatalf("Architecture() = %q, %v; want qwen3moe", arch, err)
			}
			for key, want := range map[string]int{
				"qwen3moe.block_count":                4,
				"qwen3moe.embedding_length":           256,
				"qwen3moe.attention.head_count":       8,
				"qwen3moe.attention.head_count_kv":    2,
				"qwen3moe.expert_count":               8,
				"qwen3moe.expert_used_count":          2,
				"qwen3moe.expert_feed_forward_length": 512,
				"qwen3moe.attention.key_length":       32,
				"qwen3moe.attention.value_length":     32,
			} {
				if got, err := f.Int(key); got != want || err != nil {
					t.Errorf("Int(%q) = %d, %v; want %d", key, got, err, want)
				}
			}
			if eps, err := f.Float32("qwen3moe.attention.layer_norm_rms_epsilon"); eps != 1e-6 || err != nil {
				t.Errorf("rms epsilon = %g, %v; want 1e-6", eps, err)
			}
			if base, err := f.Float32("qwen3moe.rope.freq_base"); base != 1e6 || err != nil {
				t.Errorf("rope base = %g, %v; want 1e6", base, err)
			}
			if model, err := f.String("tokenizer.ggml.model"); model != "gpt2" || err != nil {
				t.Errorf("tokenizer model = %q, %v; want gpt2", model, err)
			}
			toks, err := f.Strings("tokenizer.ggml.tokens")
			if err != nil || len(toks) != 4096 {
				t.Errorf("tokens: %d, %v; want 4096", len(toks), err)
			}

			want := map[string][]int{
				"token_embd.weight":  {256, 4096},
				"output_norm.weight": {256},
				"output.weight":      {256, 4096},
			}
			for i := range 4 {
				b := fmt.Sprintf("blk.%d.", i)
				want[b+"attn_norm.weight"] = []int{256}
				want[b+"attn_q.weight"] = []int{256, 256}
				want[b+"attn_k.weight"] = []int{256, 64}
				want[b+"attn_v.weight"] = []int{256, 64}
				want[b+"attn_output.weight"] = []int{256, 256}
				want[b+"attn_q_norm.weight"] = []int{32}
				want[b+"attn_k_norm.weight"] = []int{32}
				want[b+"ffn_norm.weight"] = []int{256}
				want[b+"ffn_gate_inp.weight"] = []int{256, 8}
				want[b+"ffn_gate_exps.weight"] = []int{256, 512, 8}
				want[b+"ffn_up_exps.weight"] = []int{256, 512, 8}
				want[b+"ffn_down_exps.weight"] = []int{512, 256, 8}
			}
			if len(f.Tensors()) != len(want) {
				t.Errorf("%d tensors; want %d", len(f.Tensors()), len(want))
			}
			for name, shape := range want {
				tt, err := f.Tensor(name)
				if err != nil {
					t.Error(err)
					continue
				}
				if !reflect.DeepEqual(tt.Shape, shape) {
					t.Errorf("tensor %q shape %v; want %v", name, tt.Shape, shape)
				}
				wantType := tensor.F32
				if len(shape) > 1 && !strings.HasSuffix(name, "ffn_gate_inp.weight") && name != "token_embd.weight" {
					wantType = tc.matType
				}
				if name == "token_embd.weight" && tc.matType == tensor.Q8_0 {
					wantType = tt.Type // llama.cpp picks the embedding's type itself
				}
				if tt.Type != wantType {
					t.Errorf("tensor %q type %s; want %s", name, tt.Type, wantType)
				}
			}
		})
	}
}

// TestRewriteReferenceIsIdentical copies the llama.cpp file through Writer:
// the bytes must come out the same, which shows Writer lays files out
// exactly as llama.cpp does.
func TestRewriteReferenceIsIdentical(t *testing.T) {
	f := openReference(t, "qwen3moe-tiny-q8_0.gguf")
	w := NewWriter()
	for _, kv := range f.KVs() {
		w.Set(kv.Key, kv.Value)
	}
	for _, info := range f.Tensors() {
		tt, err := f.Tensor(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		w.AddTensor(info.Name, info.Type, info.Shape, tt.Data)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(filepath.Join(referenceDir, "qwen3moe-tiny-q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), orig) {
		n := 0
		for n < min(len(orig), buf.Len()) && orig[n] == buf.Bytes()[n] {
			n++
		}
		t.Errorf("rewritten file (%d bytes) differs from llama.cpp's (%d bytes) from byte %d", buf.Len(), len(orig), n)
	}
}
