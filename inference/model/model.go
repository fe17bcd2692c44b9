// Package model runs decoder-only transformer architectures stored in GGUF
// files — qwen3moe, qwen3, and llama with or without experts (Mixtral) —
// following llama.cpp's conventions for hyper-parameter keys, tensor names
// and layouts, so that files made for llama.cpp load unchanged.
//
// The forward pass (forward.go) reads top to bottom like the papers:
// embed → per layer: norm, attention, residual, norm, feed-forward (a
// mixture of experts or a dense SwiGLU), residual → final norm → logits.
// Step (batch.go) runs the same pass over the tokens of several sequences
// at once, each against its own State's cache: the batched step of a
// continuous-batching scheduler.
package model

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/tensor"
)

// Model is a loaded model: its hyper-parameters and tensor views into the
// GGUF file, which must stay open while the model is used. A Model is
// read-only after Load and may serve many States at once.
type Model struct {
	Config Config

	pool *kernels.Pool // runs the matrix products and attention heads; not owned

	embed      *tensor.Tensor // token_embd {Dim, Vocab}
	outputNorm []float32      // (Dim)
	output     *tensor.Tensor // output {Dim, Vocab}; token_embd when tied
	layers     []layer

	ropeInv []float64 // (RopeDims/2): base^(-2i/RopeDims) / rope_freqs[i], the rotation per position
}

// layer is one transformer block's weights. Norm weights are copied to
// float32 at load (a few KiB), matrices stay views of the file.
type layer struct {
	attnNorm       []float32      // (Dim)
	wq, wk, wv, wo *tensor.Tensor // {Dim, QDim}, {Dim, KVDim} ×2, {QDim, Dim}
	qNorm, kNorm   []float32      // (HeadDim), nil unless Config.QKNorm
	ffnNorm        []float32      // (Dim)

	// dense feed-forward, nil for a mixture of experts
	gate, up, down *tensor.Tensor // {Dim, FFN} ×2, {FFN, Dim}

	// mixture of experts
	router                  *tensor.Tensor   // ffn_gate_inp {Dim, Experts}
	gateExp, upExp, downExp []*tensor.Tensor // per expert: {Dim, ExpertFFN} ×2, {ExpertFFN, Dim}
}

// arch describes one architecture: how its hyper-parameters differ from the
// common reading.
type arch struct {
	neox   bool // NeoX-style RoPE pairs (i, i+d/2)
	qkNorm bool // attn_q_norm / attn_k_norm present
	moe    bool // experts required (else optional, as llama allows both)
	dense  bool // experts not allowed
}

// archs is logically constant: the architectures this package runs, by
// general.architecture. llama.cpp's rope type for each is LLAMA_ROPE_TYPE_NEOX
// for the qwen family and LLAMA_ROPE_TYPE_NORM (interleaved pairs) for llama.
var archs = map[string]arch{
	"qwen3moe": {neox: true, qkNorm: true, moe: true},
	"qwen3":    {neox: true, qkNorm: true, dense: true},
	"llama":    {neox: false}, // dense, or Mixtral-style with experts
}

// Architectures lists the supported architecture names, sorted.
func Architectures() []string {
	names := make([]string, 0, len(archs))
	for n := range archs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Load builds a Model from an open GGUF file, computing on pool. Every tensor's type and shape
// is checked against the hyper-parameters, so the forward pass cannot index
// out of range; errors name the key or tensor at fault.
func Load(f *gguf.File, pool *kernels.Pool) (*Model, error) {
	if pool == nil {
		return nil, errors.New("model: Load needs a kernels.Pool to compute on")
	}
	name, err := f.Architecture()
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	a, ok := archs[name]
	if !ok {
		return nil, fmt.Errorf("model: unknown architecture %q (supported: %s)", name, strings.Join(Architectures(), ", "))
	}
	embed, err := f.Tensor("token_embd.weight")
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if len(embed.Shape) != 2 {
		return nil, fmt.Errorf("model: tensor %q has shape %v; want 2 dimensions", embed.Name, embed.Shape)
	}
	cfg, err := readConfig(f, name, embed.Shape[1])
	if err != nil {
		return nil, err
	}
	cfg.RopeNeoX, cfg.QKNorm = a.neox, a.qkNorm
	if name == "qwen3moe" && !f.Has(name+".expert_feed_forward_length") && cfg.ExpertsUsed > 0 {
		cfg.ExpertFFN = cfg.FFN / cfg.ExpertsUsed // llama.cpp's fallback for qwen3moe
		if cfg.ExpertFFN == 0 {
			return nil, fmt.Errorf("model: key %q is missing", name+".expert_feed_forward_length")
		}
	}
	switch {
	case a.moe && !cfg.MoE():
		return nil, fmt.Errorf("model: %s needs key %q > 0", name, name+".expert_count")
	case a.dense && cfg.MoE():
		return nil, fmt.Errorf("model: %s is dense but %q = %d", name, name+".expert_count", cfg.Experts)
	}

	m := &Model{Config: cfg, embed: embed, pool: pool}
	l := loader{f: f}
	c := &m.Config
	l.matrix(&m.embed, "token_embd.weight", c.Dim, c.Vocab)
	m.outputNorm = l.vector("output_norm.weight", c.Dim)
	if _, err := f.TensorInfo("output.weight"); err == nil {
		l.matrix(&m.output, "output.weight", c.Dim, c.Vocab)
	} else {
		m.output = m.embed // tied embeddings: llama.cpp's fallback too
	}
	m.layers = make([]layer, c.Layers)
	for i := range m.layers {
		ly := &m.layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		ly.attnNorm = l.vector(p+"attn_norm.weight", c.Dim)
		l.matrix(&ly.wq, p+"attn_q.weight", c.Dim, c.QDim())
		l.matrix(&ly.wk, p+"attn_k.weight", c.Dim, c.KVDim())
		l.matrix(&ly.wv, p+"attn_v.weight", c.Dim, c.KVDim())
		l.matrix(&ly.wo, p+"attn_output.weight", c.QDim(), c.Dim)
		if c.QKNorm {
			ly.qNorm = l.vector(p+"attn_q_norm.weight", c.HeadDim)
			ly.kNorm = l.vector(p+"attn_k_norm.weight", c.HeadDim)
		}
		ly.ffnNorm = l.vector(p+"ffn_norm.weight", c.Dim)
		if c.MoE() {
			l.matrix(&ly.router, p+"ffn_gate_inp.weight", c.Dim, c.Experts)
			ly.gateExp = l.experts(p+"ffn_gate_exps.weight", c.Dim, c.ExpertFFN, c.Experts)
			ly.upExp = l.experts(p+"ffn_up_exps.weight", c.Dim, c.ExpertFFN, c.Experts)
			ly.downExp = l.experts(p+"ffn_down_exps.weight", c.ExpertFFN, c.Dim, c.Experts)
		} else {
			l.matrix(&ly.gate, p+"ffn_gate.weight", c.Dim, c.FFN)
			l.matrix(&ly.up, p+"ffn_up.weight", c.Dim, c.FFN)
			l.matrix(&ly.down, p+"ffn_down.weight", c.FFN, c.Dim)
		}
	}
	if l.err != nil {
		return nil, l.err
	}
	// Context extension: Llama 3.1 files carry per-pair frequency factors
	// (rope_freqs.weight) that divide each pair's angle; other scaling
	// schemes are refused rather than silently run wrong.
	if t, err := f.String(name + ".rope.scaling.type"); err == nil && t != "none" {
		return nil, fmt.Errorf("model: key %q = %q: RoPE scaling is not supported", name+".rope.scaling.type", t)
	}
	var factors []float32
	if _, err := f.TensorInfo("rope_freqs.weight"); err == nil {
		factors = l.vector("rope_freqs.weight", c.RopeDims/2)
		if l.err != nil {
			return nil, l.err
		}
	}
	m.ropeInv = make([]float64, c.RopeDims/2)
	for i := range m.ropeInv {
		m.ropeInv[i] = math.Pow(c.RopeBase, -2*float64(i)/float64(c.RopeDims))
		if factors != nil {
			if !(factors[i] > 0) {
				return nil, fmt.Errorf("model: tensor %q: factor %d is %g; want > 0", "rope_freqs.weight", i, factors[i])
			}
			m.ropeInv[i] /= float64(factors[i])
		}
	}
	return m, nil
}

// supported are the weight types the kernels compute with.
var supported = map[tensor.Type]bool{tensor.F32: true, tensor.F16: true, tensor.BF16: true, tensor.Q8_0: true}

// loader fetches tensors and checks their shapes, keeping the first error.
type loader struct {
	f   *gguf.File
	err error
}

func (l *loader) get(name string, shape ...int) *tensor.Tensor {
	if l.err != nil {
		return nil
	}
	t, err := l.f.Tensor(name)
	if err != nil {
		l.err = fmt.Errorf("model: %w", err)
		return nil
	}
	if fmt.Sprint(t.Shape) != fmt.Sprint(shape) {
		l.err = fmt.Errorf("model: tensor %q has shape %v; want %v", name, t.Shape, shape)
		return nil
	}
	if !supported[t.Type] {
		l.err = fmt.Errorf("model: tensor %q has type %s; supported: F32, F16, BF16, Q8_0", name, t.Type)
		return nil
	}
	return t
}

// matrix loads a {cols, rows} weight into *dst.
func (l *loader) matrix(dst **tensor.Tensor, name string, cols, rows int) {
	if t := l.get(name, cols, rows); t != nil {
		*dst = t
	}
}

// vector loads a 1-D weight as float32.
func (l *loader) vector(name string, n int) []float32 {
	t := l.get(name, n)
	if t == nil {
		return nil
	}
	v := make([]float32, n)
	if err := tensor.DequantizeRow(v, t.Data, t.Type); err != nil {
		l.err = fmt.Errorf("model: tensor %q: %w", name, err)
		return nil
	}
	return v
}

// experts loads a stacked {cols, rows, n} expert tensor as n 2-D views.
func (l *loader) experts(name string, cols, rows, n int) []*tensor.Tensor {
	t := l.get(name, cols, rows, n)
	if t == nil {
		return nil
	}
	out := make([]*tensor.Tensor, n)
	for e := range out {
		s, err := t.Slice(e)
		if err != nil {
			l.err = fmt.Errorf("model: %w", err)
			return nil
		}
		out[e] = s
	}
	return out
}
