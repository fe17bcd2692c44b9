package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/anima-rt/anima/inference/tensor"
)

// A prompt chunk's attention, taken attBlock tokens at a time as matrix
// products, gives every token what attending alone gives it: the same
// causal weights over the same cached positions, to float rounding. The
// chunks start at and after a cached prefix, and end with a ragged block.
func TestBlockAttentionMatchesPerToken(t *testing.T) {
	m := openModel(t, writeFixture(t, fixtures["qwen3moe"], tensor.F32, 5), 1)
	c := &m.Config
	qd := c.QDim()
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ pos0, n int }{{0, attBlock}, {0, 3*attBlock + 5}, {37, attBlock + 1}, {100, 2 * attBlock}} {
		st, err := m.NewState(160, 0)
		if err != nil {
			t.Fatal(err)
		}
		fillCache(st, rng)
		q := make([]float32, tc.n*qd)
		for i := range q {
			q[i] = float32(rng.NormFloat64()) * 2
		}
		for h := range c.Heads {
			got := make([]float32, len(q))
			st.attendHead(m, 1, tc.pos0, tc.n, h, q, got)
			want := make([]float32, len(q))
			for i := range tc.n { // one token at a time: the per-token path
				st.attendHead(m, 1, tc.pos0+i, 1, h, q[i*qd:(i+1)*qd], want[i*qd:(i+1)*qd])
			}
			for i := range tc.n {
				for d := h * c.HeadDim; d < (h+1)*c.HeadDim; d++ {
					if diff := math.Abs(float64(got[i*qd+d] - want[i*qd+d])); diff > 1e-5 {
						t.Fatalf("pos0 %d, %d tokens, head %d: token %d value %d = %g in blocks, %g alone", tc.pos0, tc.n, h, i, d, got[i*qd+d], want[i*qd+d])
					}
				}
			}
		}
	}
}

// A decode step of a model whose KV heads serve several query heads
// attends per KV head, the group's queries as one matrix product; each
// query head gets what attending alone gives it.
func TestGroupAttentionMatchesPerHead(t *testing.T) {
	for _, name := range []string{"qwen3moe", "llama-mixtral"} { // 2 and 4 query heads a KV head
		t.Run(name, func(t *testing.T) { testGroupAttention(t, fixtures[name]) })
	}
	if groupedDecode(&Config{Heads: 4, KVHeads: 4}, 1) {
		t.Error("a KV head per query head: grouped decode, want per head")
	}
}

func testGroupAttention(t *testing.T, spec Spec) {
	m := openModel(t, writeFixture(t, spec, tensor.F32, 6), 1)
	c := &m.Config
	if !groupedDecode(c, 1) || groupedDecode(c, 2) {
		t.Fatalf("%d heads on %d KV heads: grouped decode %v, for 2 tokens %v", c.Heads, c.KVHeads, groupedDecode(c, 1), groupedDecode(c, 2))
	}
	qd, G := c.QDim(), c.Heads/c.KVHeads
	rng := rand.New(rand.NewPCG(9, 10))
	st, err := m.NewState(100, 0)
	if err != nil {
		t.Fatal(err)
	}
	fillCache(st, rng)
	for _, pos0 := range []int{0, 1, 16, 63, 99} {
		q := make([]float32, qd)
		for i := range q {
			q[i] = float32(rng.NormFloat64()) * 2
		}
		for g := range c.KVHeads {
			got := make([]float32, qd)
			st.attendGroup(m, 0, pos0, g, q, got)
			want := make([]float32, qd)
			for h := g * G; h < (g+1)*G; h++ {
				st.attendHead(m, 0, pos0, 1, h, q, want)
			}
			for d := g * G * c.HeadDim; d < (g+1)*G*c.HeadDim; d++ {
				if diff := math.Abs(float64(got[d] - want[d])); diff > 1e-5 {
					t.Fatalf("position %d, KV head %d: value %d = %g as a group, %g head by head", pos0, g, d, got[d], want[d])
				}
			}
		}
	}
}

// fillCache fills every position of st's cache, filled or not, with
// random keys and values.
func fillCache(st *State, rng *rand.Rand) {
	for l := range st.Cache.K {
		for i := range st.Cache.K[l] {
			st.Cache.K[l][i] = float32(rng.NormFloat64())
			st.Cache.V[l][i] = float32(rng.NormFloat64())
		}
	}
}
