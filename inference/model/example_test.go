package model_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/tensor"
)

// Example loads a GGUF model, prefills a prompt and decodes greedily.
func Example() {
	// A small random model stands in for a real file.
	dir, _ := os.MkdirTemp("", "model-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tiny.gguf")
	spec := model.Spec{Arch: "qwen3moe", Vocab: 64, Dim: 64, Layers: 2, Heads: 2, KVHeads: 1, HeadDim: 32,
		Experts: 4, ExpertsUsed: 2, FFN: 64, RopeBase: 1e6, Eps: 1e-6, Context: 128}
	w, _ := model.RandomWriter(spec, tensor.Q8_0, 1)
	if err := w.WriteFile(path); err != nil {
		fmt.Println(err)
		return
	}

	f, err := gguf.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	pool := kernels.NewPool(2)
	defer pool.Close()
	m, err := model.Load(f, pool)
	if err != nil {
		fmt.Println(err)
		return
	}
	st, _ := m.NewState(64, 0)
	logits, _ := m.Forward(st, []int32{1, 2, 3, 4}) // prefill
	var out []int
	for range 5 {
		next := kernels.ArgMax(logits)
		out = append(out, next)
		logits, _ = m.Forward(st, []int32{int32(next)}) // one decode step
	}
	fmt.Println(m.Config.Arch, len(out), "tokens, position", st.Pos())
	// Output: qwen3moe 5 tokens, position 9
}
