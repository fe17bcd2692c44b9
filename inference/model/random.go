package model

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/tensor"
)

// Spec is the shape of a random-weight model: what tests and benchmarks
// build with RandomWriter. Experts 0 makes a dense model.
type Spec struct {
	Arch                    string
	Vocab, Dim, Layers      int
	Heads, KVHeads, HeadDim int
	Experts, ExpertsUsed    int
	FFN                     int // dense width, or each expert's when Experts > 0
	RopeBase, Eps           float64
	RopeDims                int // 0: all of HeadDim
	Context                 int
	Tied                    bool // no output.weight: the output reuses token_embd
	RopeFreqs               bool // add rope_freqs.weight (Llama 3.1's per-pair factors), values in [1, 8)
}

// BenchSpecs are the random-weight qwen3moe shapes of the decoder's speed
// table (issue 3), which llama.cpp's figures were measured on. Logically
// constant.
var BenchSpecs = map[string]Spec{
	"tiny":   {Arch: "qwen3moe", Vocab: 4096, Dim: 256, Layers: 4, Heads: 8, KVHeads: 2, HeadDim: 32, Experts: 8, ExpertsUsed: 2, FFN: 512, RopeBase: 1e6, Eps: 1e-6, Context: 2048},
	"small":  {Arch: "qwen3moe", Vocab: 8192, Dim: 512, Layers: 8, Heads: 8, KVHeads: 2, HeadDim: 64, Experts: 8, ExpertsUsed: 2, FFN: 1024, RopeBase: 1e6, Eps: 1e-6, Context: 2048},
	"medium": {Arch: "qwen3moe", Vocab: 16384, Dim: 1024, Layers: 16, Heads: 16, KVHeads: 4, HeadDim: 64, Experts: 16, ExpertsUsed: 2, FFN: 1024, RopeBase: 1e6, Eps: 1e-6, Context: 2048},
}

// Params counts the spec's weights: all of them, and those one token
// computes with (only ExpertsUsed experts run; the embedding is a lookup),
// as the speed table counts them.
func (s Spec) Params() (total, active int64) {
	d, q, kv := int64(s.Dim), int64(s.Heads*s.HeadDim), int64(s.KVHeads*s.HeadDim)
	attn := d*q*2 + d*kv*2 + 2*d
	if s.Arch != "llama" {
		attn += 2 * int64(s.HeadDim)
	}
	ffn := 3 * d * int64(s.FFN)
	total = int64(s.Vocab)*d + d
	if !s.Tied {
		total += int64(s.Vocab) * d
	}
	active = total - int64(s.Vocab)*d
	if s.Tied {
		active += int64(s.Vocab) * d
	}
	if s.Experts > 0 {
		router := d * int64(s.Experts)
		total += int64(s.Layers) * (attn + router + ffn*int64(s.Experts))
		active += int64(s.Layers) * (attn + router + ffn*int64(s.ExpertsUsed))
	} else {
		total += int64(s.Layers) * (attn + ffn)
		active += int64(s.Layers) * (attn + ffn)
	}
	return total, active
}

// RandomWriter returns a gguf.Writer holding a model of shape s with
// random weights from seed, its matrices encoded as typ (norms and the
// expert router stay F32, as llama.cpp's quantizer leaves them). Tensor
// data is generated while the file is written, so files larger than
// memory can be made. The same seed gives the same file.
func RandomWriter(s Spec, typ tensor.Type, seed uint64) (*gguf.Writer, error) {
	if typ != tensor.F32 && typ != tensor.F16 && typ != tensor.BF16 && typ != tensor.Q8_0 {
		return nil, fmt.Errorf("model: random model of type %s: want F32, F16, BF16 or Q8_0", typ)
	}
	w := gguf.NewWriter()
	a := s.Arch
	u := func(n int) uint32 { return uint32(n) }
	w.Set("general.architecture", a)
	w.Set("general.name", fmt.Sprintf("random-%s", a))
	w.Set(a+".context_length", u(s.Context))
	w.Set(a+".embedding_length", u(s.Dim))
	w.Set(a+".block_count", u(s.Layers))
	w.Set(a+".feed_forward_length", u(s.FFN))
	w.Set(a+".attention.head_count", u(s.Heads))
	w.Set(a+".attention.head_count_kv", u(s.KVHeads))
	w.Set(a+".attention.key_length", u(s.HeadDim))
	w.Set(a+".attention.value_length", u(s.HeadDim))
	w.Set(a+".rope.freq_base", float32(s.RopeBase))
	if s.RopeDims > 0 {
		w.Set(a+".rope.dimension_count", u(s.RopeDims))
	}
	w.Set(a+".attention.layer_norm_rms_epsilon", float32(s.Eps))
	w.Set(a+".vocab_size", u(s.Vocab))
	if s.Experts > 0 {
		w.Set(a+".expert_count", u(s.Experts))
		w.Set(a+".expert_used_count", u(s.ExpertsUsed))
		if a == "qwen3moe" {
			w.Set(a+".expert_feed_forward_length", u(s.FFN))
		}
	}

	n := uint64(0) // each tensor draws from its own stream, seeded by order
	add := func(name string, t tensor.Type, scale, offset float32, shape ...int) {
		n++
		stream := n
		w.AddTensorFunc(name, t, shape, func(out io.Writer) error {
			r := rand.New(rand.NewPCG(seed, stream))
			row := make([]float32, shape[0])
			var buf []byte
			rows := 1
			for _, d := range shape[1:] {
				rows *= d
			}
			for range rows {
				for i := range row {
					row[i] = offset + scale*(2*r.Float32()-1)
				}
				var err error
				if buf, err = tensor.EncodeRow(buf[:0], row, t); err != nil {
					return err
				}
				if _, err := out.Write(buf); err != nil {
					return err
				}
			}
			return nil
		})
	}
	// Uniform(-a, a) with a = sqrt(3/fan_in) has variance 1/fan_in, so the
	// activations keep their scale through the layers.
	fan := func(in int) float32 { return float32(math.Sqrt(3 / float64(in))) }
	q, kv := s.Heads*s.HeadDim, s.KVHeads*s.HeadDim
	add("token_embd.weight", typ, 1, 0, s.Dim, s.Vocab)
	if s.RopeFreqs {
		rd := s.RopeDims
		if rd == 0 {
			rd = s.HeadDim
		}
		add("rope_freqs.weight", tensor.F32, 3.5, 4.5, rd/2)
	}
	add("output_norm.weight", tensor.F32, 0.1, 1, s.Dim)
	if !s.Tied {
		add("output.weight", typ, fan(s.Dim), 0, s.Dim, s.Vocab)
	}
	for l := range s.Layers {
		p := fmt.Sprintf("blk.%d.", l)
		add(p+"attn_norm.weight", tensor.F32, 0.1, 1, s.Dim)
		add(p+"attn_q.weight", typ, fan(s.Dim), 0, s.Dim, q)
		add(p+"attn_k.weight", typ, fan(s.Dim), 0, s.Dim, kv)
		add(p+"attn_v.weight", typ, fan(s.Dim), 0, s.Dim, kv)
		add(p+"attn_output.weight", typ, fan(q), 0, q, s.Dim)
		if a != "llama" {
			add(p+"attn_q_norm.weight", tensor.F32, 0.1, 1, s.HeadDim)
			add(p+"attn_k_norm.weight", tensor.F32, 0.1, 1, s.HeadDim)
		}
		add(p+"ffn_norm.weight", tensor.F32, 0.1, 1, s.Dim)
		if s.Experts > 0 {
			add(p+"ffn_gate_inp.weight", tensor.F32, fan(s.Dim), 0, s.Dim, s.Experts)
			add(p+"ffn_gate_exps.weight", typ, fan(s.Dim), 0, s.Dim, s.FFN, s.Experts)
			add(p+"ffn_up_exps.weight", typ, fan(s.Dim), 0, s.Dim, s.FFN, s.Experts)
			add(p+"ffn_down_exps.weight", typ, fan(s.FFN), 0, s.FFN, s.Dim, s.Experts)
		} else {
			add(p+"ffn_gate.weight", typ, fan(s.Dim), 0, s.Dim, s.FFN)
			add(p+"ffn_up.weight", typ, fan(s.Dim), 0, s.Dim, s.FFN)
			add(p+"ffn_down.weight", typ, fan(s.FFN), 0, s.FFN, s.Dim)
		}
	}
	if err := w.Err(); err != nil {
		return nil, fmt.Errorf("model: random %s: %w", a, err)
	}
	return w, nil
}
