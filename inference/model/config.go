package model

import (
	"errors"
	"fmt"

	"github.com/anima-rt/anima/inference/gguf"
)

// Config holds a model's hyper-parameters, read from the GGUF keys named as
// llama.cpp names them ("{arch}.block_count", ...).
type Config struct {
	Arch     string
	Layers   int // {arch}.block_count
	Dim      int // {arch}.embedding_length: the residual stream's width
	Heads    int // {arch}.attention.head_count
	KVHeads  int // {arch}.attention.head_count_kv (grouped-query attention)
	HeadDim  int // {arch}.attention.key_length; qwen3 sets it apart from Dim/Heads
	ValueDim int // {arch}.attention.value_length; must equal HeadDim here
	RopeDims int // {arch}.rope.dimension_count: leading dims of a head that rotate

	RopeBase float64 // {arch}.rope.freq_base
	RopeNeoX bool    // rotate pairs (i, i+RopeDims/2) rather than (2i, 2i+1)
	Eps      float32 // {arch}.attention.layer_norm_rms_epsilon
	QKNorm   bool    // per-head RMSNorm of q and k before RoPE (qwen3)

	FFN         int // {arch}.feed_forward_length: dense FFN width
	Experts     int // {arch}.expert_count; 0 for a dense model
	ExpertsUsed int // {arch}.expert_used_count: top-k
	ExpertFFN   int // {arch}.expert_feed_forward_length (else FFN)

	Vocab   int // rows of token_embd
	Context int // {arch}.context_length: the longest sequence trained for
}

// KVDim is the width of one token's keys (and values) in one layer.
func (c *Config) KVDim() int { return c.KVHeads * c.HeadDim }

// QDim is the width of one token's queries.
func (c *Config) QDim() int { return c.Heads * c.HeadDim }

// MoE reports whether the feed-forward blocks are mixtures of experts.
func (c *Config) MoE() bool { return c.Experts > 0 }

// limits bound every size read from a file before anything is allocated
// from it; they are far above any model a CPU can run.
const (
	maxDim    = 1 << 16
	maxLayers = 1 << 10
	maxHeads  = 1 << 10
	maxExpert = 1 << 12
	maxFFN    = 1 << 18
	maxVocab  = 1 << 22
	maxCtx    = 1 << 24
)

// configReader reads one architecture's keys, collecting the first error so
// that reading stays a flat list of fields.
type configReader struct {
	f    *gguf.File
	arch string
	err  error
}

// int reads {arch}.key, which must lie in [lo, hi]. If the key is absent
// and def >= 0 it returns def; otherwise the absence is an error.
func (r *configReader) int(key string, lo, hi, def int) int {
	if r.err != nil {
		return 0
	}
	full := r.arch + "." + key
	n, err := r.f.Int(full)
	switch {
	case errors.Is(err, gguf.ErrKeyNotFound) && def >= 0:
		return def
	case err != nil:
		r.err = fmt.Errorf("model: %w", err)
		return 0
	case n < lo || n > hi:
		r.err = fmt.Errorf("model: key %q = %d; want %d..%d", full, n, lo, hi)
		return 0
	}
	return n
}

func (r *configReader) float(key string, def float64) float64 {
	if r.err != nil {
		return 0
	}
	full := r.arch + "." + key
	v, err := r.f.Float64(full)
	switch {
	case errors.Is(err, gguf.ErrKeyNotFound):
		return def
	case err != nil:
		r.err = fmt.Errorf("model: %w", err)
		return 0
	}
	return v
}

// readConfig reads the hyper-parameters common to every architecture here;
// the architecture's constructor then adjusts what differs (RoPE layout,
// q/k norms). vocab is the row count of token_embd.
func readConfig(f *gguf.File, arch string, vocab int) (Config, error) {
	r := &configReader{f: f, arch: arch}
	c := Config{Arch: arch, Vocab: vocab}
	c.Layers = r.int("block_count", 1, maxLayers, -1)
	c.Dim = r.int("embedding_length", 1, maxDim, -1)
	c.Heads = r.int("attention.head_count", 1, maxHeads, -1)
	c.KVHeads = r.int("attention.head_count_kv", 1, maxHeads, max(c.Heads, 0))
	defHead := 0
	if c.Heads > 0 {
		defHead = c.Dim / c.Heads
	}
	c.HeadDim = r.int("attention.key_length", 1, maxDim, defHead)
	c.ValueDim = r.int("attention.value_length", 1, maxDim, c.HeadDim)
	c.RopeDims = r.int("rope.dimension_count", 2, maxDim, c.HeadDim)
	c.RopeBase = r.float("rope.freq_base", 10000)
	c.Eps = float32(r.float("attention.layer_norm_rms_epsilon", -1))
	c.Experts = r.int("expert_count", 0, maxExpert, 0)
	c.ExpertsUsed = r.int("expert_used_count", 0, maxExpert, 0)
	c.FFN = r.int("feed_forward_length", 1, maxFFN, 0)
	c.ExpertFFN = r.int("expert_feed_forward_length", 1, maxFFN, c.FFN)
	c.Context = r.int("context_length", 1, maxCtx, 4096)
	if r.err != nil {
		return Config{}, r.err
	}
	return c, c.check()
}

// check rejects combinations the forward pass cannot run, naming the keys.
func (c *Config) check() error {
	p := c.Arch + "."
	switch {
	case c.HeadDim == 0 || c.Heads == 0:
		return fmt.Errorf("model: %sattention.key_length is missing and %sembedding_length %d does not divide by %d heads", p, p, c.Dim, c.Heads)
	case c.Heads%c.KVHeads != 0:
		return fmt.Errorf("model: %sattention.head_count %d is not a multiple of head_count_kv %d", p, c.Heads, c.KVHeads)
	case c.ValueDim != c.HeadDim:
		return fmt.Errorf("model: %sattention.value_length %d differs from key_length %d (unsupported)", p, c.ValueDim, c.HeadDim)
	case c.RopeDims > c.HeadDim || c.RopeDims%2 != 0:
		return fmt.Errorf("model: %srope.dimension_count %d must be even and at most the head size %d", p, c.RopeDims, c.HeadDim)
	case !(c.RopeBase > 0):
		return fmt.Errorf("model: %srope.freq_base %g must be positive", p, c.RopeBase)
	case !(c.Eps > 0 && c.Eps < 1):
		return fmt.Errorf("model: %sattention.layer_norm_rms_epsilon %g missing or out of range (0, 1)", p, c.Eps)
	case c.Experts > 0 && (c.ExpertsUsed < 1 || c.ExpertsUsed > c.Experts):
		return fmt.Errorf("model: %sexpert_used_count %d must be 1..expert_count %d", p, c.ExpertsUsed, c.Experts)
	case c.Experts > 0 && c.ExpertFFN == 0:
		return fmt.Errorf("model: %sexpert_feed_forward_length is missing", p)
	case c.Experts == 0 && c.FFN == 0:
		return fmt.Errorf("model: %sfeed_forward_length is missing", p)
	case c.Vocab < 1 || c.Vocab > maxVocab:
		return fmt.Errorf("model: vocabulary of %d tokens out of range 1..%d", c.Vocab, maxVocab)
	}
	return nil
}
