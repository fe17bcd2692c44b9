package model

import (
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/tensor"
)

// This file is an independent float64 implementation of the architectures,
// written plainly from the papers and llama.cpp's graph definitions, to
// check the real forward pass against. It shares nothing with the package
// but the GGUF reader and tensor.DequantizeRow: it reads its own
// hyper-parameters, keeps every weight as float64 matrices and recomputes
// attention over the whole sequence for every position.

type ref64 struct {
	arch                         string
	dim, heads, kvHeads, headDim int
	ropeDims                     int
	ropeBase, eps                float64
	experts, used                int
	neox                         bool
	freqs                        []float64   // rope_freqs.weight (divides each pair's angle), or nil
	embed, output                [][]float64 // (vocab, dim)
	outNorm                      []float64
	layers                       []ref64Layer
}

type ref64Layer struct {
	attnNorm, ffnNorm, qNorm, kNorm []float64
	wq, wk, wv, wo                  [][]float64   // (out, in)
	gate, up, down                  [][]float64   // dense
	router                          [][]float64   // (experts, dim)
	gateE, upE, downE               [][][]float64 // (expert, out, in)
}

func loadRef64(t *testing.T, path string) *ref64 {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	arch, _ := f.Architecture()
	geti := func(key string, def int) int {
		v, err := f.Int(arch + "." + key)
		if err != nil {
			if def < 0 {
				t.Fatalf("ref64: %v", err)
			}
			return def
		}
		return v
	}
	getf := func(key string) float64 {
		v, err := f.Float64(arch + "." + key)
		if err != nil {
			t.Fatalf("ref64: %v", err)
		}
		return v
	}
	mat := func(name string) [][]float64 {
		tt, err := f.Tensor(name)
		if err != nil {
			t.Fatalf("ref64: %v", err)
		}
		rows := make([][]float64, tt.Rows())
		buf := make([]float32, tt.Cols())
		for r := range rows {
			if err := tensor.DequantizeRow(buf, tt.Row(r), tt.Type); err != nil {
				t.Fatal(err)
			}
			rows[r] = make([]float64, len(buf))
			for i, v := range buf {
				rows[r][i] = float64(v)
			}
		}
		return rows
	}
	vec := func(name string) []float64 { return mat(name)[0] }
	experts := func(name string, n int) [][][]float64 {
		all := mat(name)
		per := len(all) / n
		out := make([][][]float64, n)
		for e := range out {
			out[e] = all[e*per : (e+1)*per]
		}
		return out
	}
	has := func(name string) bool { _, err := f.TensorInfo(name); return err == nil }

	m := &ref64{arch: arch}
	m.dim = geti("embedding_length", -1)
	m.heads = geti("attention.head_count", -1)
	m.kvHeads = geti("attention.head_count_kv", m.heads)
	m.headDim = geti("attention.key_length", m.dim/m.heads)
	m.ropeDims = geti("rope.dimension_count", m.headDim)
	m.ropeBase = getf("rope.freq_base")
	m.eps = getf("attention.layer_norm_rms_epsilon")
	m.experts = geti("expert_count", 0)
	m.used = geti("expert_used_count", 0)
	m.neox = arch == "qwen3moe" || arch == "qwen3"
	m.embed = mat("token_embd.weight")
	if has("rope_freqs.weight") {
		m.freqs = vec("rope_freqs.weight")
	}
	m.outNorm = vec("output_norm.weight")
	m.output = m.embed
	if has("output.weight") {
		m.output = mat("output.weight")
	}
	for l := range geti("block_count", -1) {
		p := fmt.Sprintf("blk.%d.", l)
		ly := ref64Layer{
			attnNorm: vec(p + "attn_norm.weight"),
			ffnNorm:  vec(p + "ffn_norm.weight"),
			wq:       mat(p + "attn_q.weight"),
			wk:       mat(p + "attn_k.weight"),
			wv:       mat(p + "attn_v.weight"),
			wo:       mat(p + "attn_output.weight"),
		}
		if has(p + "attn_q_norm.weight") {
			ly.qNorm, ly.kNorm = vec(p+"attn_q_norm.weight"), vec(p+"attn_k_norm.weight")
		}
		if m.experts > 0 {
			ly.router = mat(p + "ffn_gate_inp.weight")
			ly.gateE = experts(p+"ffn_gate_exps.weight", m.experts)
			ly.upE = experts(p+"ffn_up_exps.weight", m.experts)
			ly.downE = experts(p+"ffn_down_exps.weight", m.experts)
		} else {
			ly.gate, ly.up, ly.down = mat(p+"ffn_gate.weight"), mat(p+"ffn_up.weight"), mat(p+"ffn_down.weight")
		}
		m.layers = append(m.layers, ly)
	}
	return m
}

func mulVec(w [][]float64, x []float64) []float64 {
	y := make([]float64, len(w))
	for r, row := range w {
		for c, v := range row {
			y[r] += v * x[c]
		}
	}
	return y
}

func rmsNorm64(x, w []float64, eps float64) []float64 {
	ss := 0.0
	for _, v := range x {
		ss += v * v
	}
	s := 1 / math.Sqrt(ss/float64(len(x))+eps)
	y := make([]float64, len(x))
	for i := range x {
		y[i] = x[i] * s * w[i]
	}
	return y
}

func softmax64(x []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	y := make([]float64, len(x))
	sum := 0.0
	for i, v := range x {
		y[i] = math.Exp(v - m)
		sum += y[i]
	}
	for i := range y {
		y[i] /= sum
	}
	return y
}

func silu64(x float64) float64 { return x / (1 + math.Exp(-x)) }

// swiglu64 is W_down·(silu(W_gate·x) ⊙ W_up·x).
func swiglu64(gate, up, down [][]float64, x []float64) []float64 {
	g, u := mulVec(gate, x), mulVec(up, x)
	for i := range g {
		g[i] = silu64(g[i]) * u[i]
	}
	return mulVec(down, g)
}

// rope64 rotates one head at position pos.
func (m *ref64) rope64(v []float64, pos int) {
	d := m.ropeDims
	for i := 0; i < d/2; i++ {
		theta := float64(pos) * math.Pow(m.ropeBase, -2*float64(i)/float64(d))
		if m.freqs != nil {
			theta /= m.freqs[i]
		}
		a, b := i, i+d/2 // NeoX: first half with second half
		if !m.neox {
			a, b = 2*i, 2*i+1 // original: neighbours
		}
		x0, x1 := v[a], v[b]
		v[a] = x0*math.Cos(theta) - x1*math.Sin(theta)
		v[b] = x0*math.Sin(theta) + x1*math.Cos(theta)
	}
}

// forward returns the logits after each token of toks.
func (m *ref64) forward(toks []int32) [][]float64 {
	n, hd := len(toks), m.headDim
	xs := make([][]float64, n)
	for i, t := range toks {
		xs[i] = append([]float64(nil), m.embed[t]...)
	}
	for _, ly := range m.layers {
		// Queries, keys and values of every position, normed and rotated.
		qs, ks, vs := make([][]float64, n), make([][]float64, n), make([][]float64, n)
		for i := range n {
			h := rmsNorm64(xs[i], ly.attnNorm, m.eps)
			qs[i], ks[i], vs[i] = mulVec(ly.wq, h), mulVec(ly.wk, h), mulVec(ly.wv, h)
			for hh := 0; hh < m.heads; hh++ {
				q := qs[i][hh*hd : (hh+1)*hd]
				if ly.qNorm != nil {
					copy(q, rmsNorm64(q, ly.qNorm, m.eps))
				}
				m.rope64(q, i)
			}
			for hh := 0; hh < m.kvHeads; hh++ {
				k := ks[i][hh*hd : (hh+1)*hd]
				if ly.kNorm != nil {
					copy(k, rmsNorm64(k, ly.kNorm, m.eps))
				}
				m.rope64(k, i)
			}
		}
		for i := range n {
			att := make([]float64, m.heads*hd)
			for hh := 0; hh < m.heads; hh++ {
				g := hh / (m.heads / m.kvHeads)
				scores := make([]float64, i+1)
				for t := 0; t <= i; t++ {
					for d := range hd {
						scores[t] += qs[i][hh*hd+d] * ks[t][g*hd+d]
					}
					scores[t] /= math.Sqrt(float64(hd))
				}
				p := softmax64(scores)
				for t := 0; t <= i; t++ {
					for d := range hd {
						att[hh*hd+d] += p[t] * vs[t][g*hd+d]
					}
				}
			}
			o := mulVec(ly.wo, att)
			for d := range xs[i] {
				xs[i][d] += o[d]
			}
			h := rmsNorm64(xs[i], ly.ffnNorm, m.eps)
			var ff []float64
			if m.experts == 0 {
				ff = swiglu64(ly.gate, ly.up, ly.down, h)
			} else {
				// Mixtral: softmax over the chosen experts' logits; qwen3moe:
				// softmax over all, then the chosen renormalised. Both are
				// computed here the Mixtral way, which equals the other.
				logits := mulVec(ly.router, h)
				order := make([]int, m.experts)
				for e := range order {
					order[e] = e
				}
				sort.SliceStable(order, func(a, b int) bool { return logits[order[a]] > logits[order[b]] })
				chosen := order[:m.used]
				sel := make([]float64, m.used)
				for j, e := range chosen {
					sel[j] = logits[e]
				}
				w := softmax64(sel)
				ff = make([]float64, m.dim)
				for j, e := range chosen {
					y := swiglu64(ly.gateE[e], ly.upE[e], ly.downE[e], h)
					for d := range ff {
						ff[d] += w[j] * y[d]
					}
				}
			}
			for d := range xs[i] {
				xs[i][d] += ff[d]
			}
		}
	}
	out := make([][]float64, n)
	for i := range n {
		out[i] = mulVec(m.output, rmsNorm64(xs[i], m.outNorm, m.eps))
	}
	return out
}
