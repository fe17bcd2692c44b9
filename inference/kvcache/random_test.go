package kvcache

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/anima-rt/anima/inference/tensor"
)

// prefixValue is the key stored at a position in the randomized test: a
// function of every token up to and including it, as a real key is. A
// sequence that finds anything else at one of its positions was handed a
// block of another prefix, or one overwritten while it held it.
func prefixValue(tokens []int32, p int) float32 {
	h := uint32(17)
	for _, t := range tokens[:p+1] {
		h = h*31 + uint32(t)
	}
	return float32(h % 2039) // integers below 2048 are exact in float16
}

// TestRandomOperations runs thousands of seeded random operations — prompts
// drawn from a few shared lores and personas (so that whole and partial
// blocks are reused), chunked prefills, decode
// steps, cancellations, probes — on a pool small enough to be under
// pressure, and after each checks the whole structure, that occupancy stays
// within the budget, and that every live sequence still reads its own
// prefix's keys and values.
func TestRandomOperations(t *testing.T) {
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16} {
		t.Run(typ.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(4, uint64(typ)))
			const bt, blocks = 4, 48
			cfg := Config{Layers: 2, KVHeads: 1, HeadDim: 2, BlockTokens: bt, Type: typ}
			elem := 4
			if typ == tensor.F16 {
				elem = 2
			}
			cfg.Budget = int64(blocks*cfg.Layers*2*bt*cfg.HeadDim*elem + 100) // not a whole number of blocks
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			type live struct {
				s      *Seq
				prompt []int32
			}
			var seqs []*live
			var idle []*Seq
			lores := [][]int32{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, {20, 21, 22, 23, 24, 25, 26, 27}, {30}}
			outOfBlocks := 0
			store := func(lv *live, toks []int32) error {
				s := lv.s
				if err := c.Grow(s, len(toks)); err != nil {
					return err
				}
				all := append(append([]int32(nil), s.Tokens()...), toks...)
				k, v := make([]float32, 2*len(toks)), make([]float32, 2*len(toks))
				for i := range toks {
					p := s.Len() + i
					k[2*i], k[2*i+1] = prefixValue(all, p), float32(p)
					v[2*i], v[2*i+1] = float32(p), prefixValue(all, p)
				}
				for l := range cfg.Layers {
					if err := s.Store(l, s.Len(), k, v); err != nil {
						t.Fatal(err)
					}
				}
				return c.Advance(s, toks)
			}
			for op := range 6000 {
				switch r := rng.IntN(10); {
				case r < 3 && len(seqs) < 10: // a new request
					var s *Seq
					if n := len(idle); n > 0 {
						s, idle = idle[n-1], idle[:n-1]
					} else {
						s = c.NewSeq()
					}
					p := append([]int32(nil), lores[rng.IntN(len(lores))]...)
					if rng.IntN(2) == 0 {
						p = append(p, int32(100+rng.IntN(3)), int32(100+rng.IntN(3)), 7, 7, 7)
					}
					for range rng.IntN(12) {
						p = append(p, int32(rng.IntN(6)))
					}
					c.Start(s, p)
					seqs = append(seqs, &live{s: s, prompt: p})
				case r < 9 && len(seqs) > 0: // prefill a chunk or decode a token
					lv := seqs[rng.IntN(len(seqs))]
					s := lv.s
					var toks []int32
					if s.Len() < len(lv.prompt) {
						toks = lv.prompt[s.Len():min(len(lv.prompt), s.Len()+1+rng.IntN(9))]
					} else if s.Len() < 64 {
						toks = []int32{int32(rng.IntN(4))}
					}
					if err := store(lv, toks); err != nil {
						if !errors.Is(err, ErrOutOfBlocks) {
							t.Fatalf("op %d: %v", op, err)
						}
						outOfBlocks++
					}
				case len(seqs) > 0: // finish or cancel
					i := rng.IntN(len(seqs))
					c.Release(seqs[i].s)
					idle = append(idle, seqs[i].s)
					seqs = append(seqs[:i], seqs[i+1:]...)
				default:
					c.Match(lores[0], nil)
				}
				if err := c.Check(); err != nil {
					t.Fatalf("op %d: %v", op, err)
				}
				if st := c.Stats(); st.Bytes > cfg.Budget {
					t.Fatalf("op %d: %d bytes over the budget of %d", op, st.Bytes, cfg.Budget)
				}
				for _, lv := range seqs {
					s := lv.s
					for p := range s.Len() {
						b, tt := s.Blocks()[p/bt], p%bt
						want := prefixValue(s.Tokens(), p)
						for l := range cfg.Layers {
							if k := c.at(b, l, 0, tt, 0, false); k != want || c.at(b, l, 0, tt, 1, true) != want {
								t.Fatalf("op %d: position %d of a sequence reads key %g; want %g", op, p, k, want)
							}
						}
					}
				}
			}
			st := c.Stats()
			t.Logf("%+v, hit rate %.2f, %d out-of-blocks", st, st.HitRate(), outOfBlocks)
			if st.Evictions == 0 || outOfBlocks == 0 || st.Hits == 0 || st.Deduplicated == 0 || st.TokensCopied == 0 {
				t.Errorf("the workload did not exercise eviction (%d), backpressure (%d), hits (%d), deduplication (%d) and partial copies (%d)",
					st.Evictions, outOfBlocks, st.Hits, st.Deduplicated, st.TokensCopied)
			}
		})
	}
}
