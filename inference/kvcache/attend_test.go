package kvcache

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/anima-rt/anima/inference/tensor"
)

// attendRef is plain attention in float64, one query and one position at a
// time, reading the cache through its slow accessor: the reference the
// block-wise matrix-product attention is tested against. Row r of q sees
// positions 0..lim(r)-1 of sp.
func attendRef(c *Cache, l, g int, q []float32, nQ int, sp Span, scale float64, lim func(r int) int) (out []float64, lse []float64) {
	hd, bt := c.cfg.HeadDim, c.bt
	out, lse = make([]float64, nQ*hd), make([]float64, nQ)
	for r := range nQ {
		T := lim(r)
		s := make([]float64, T)
		m := math.Inf(-1)
		for t := range T {
			b := sp.Blocks[t/bt]
			for d := range hd {
				s[t] += float64(q[r*hd+d]) * float64(c.at(b, l, g, t%bt, d, false))
			}
			s[t] *= scale
			m = math.Max(m, s[t])
		}
		sum := 0.0
		for t := range T {
			s[t] = math.Exp(s[t] - m)
			sum += s[t]
		}
		lse[r] = m + math.Log(sum)
		if T == 0 {
			lse[r] = math.Inf(-1)
		}
		for t := range T {
			b := sp.Blocks[t/bt]
			for d := range hd {
				out[r*hd+d] += s[t] / sum * float64(c.at(b, l, g, t%bt, d, true))
			}
		}
	}
	return out, lse
}

// fill starts s on prompt and stores random keys and values for the
// positions the cache did not supply, as a forward pass would, in chunks.
func fill(t testing.TB, c *Cache, s *Seq, prompt []int32, rng *rand.Rand, chunk int) {
	t.Helper()
	n := c.Start(s, prompt)
	kvDim := c.cfg.KVHeads * c.cfg.HeadDim
	for n < len(prompt) {
		m := min(chunk, len(prompt)-n)
		if err := c.Grow(s, m); err != nil {
			t.Fatal(err)
		}
		k, v := make([]float32, m*kvDim), make([]float32, m*kvDim)
		for l := range c.cfg.Layers {
			for i := range k {
				k[i], v[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			}
			if err := s.Store(l, n, k, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Advance(s, prompt[n:n+m]); err != nil {
			t.Fatal(err)
		}
		n += m
	}
}

func randVec(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// closeTo reports the first element of got that differs from want by more
// than tol (absolute plus relative).
func closeTo(got []float32, want []float64, tol float64) error {
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*(1+math.Abs(want[i])) || math.IsNaN(float64(got[i])) {
			return fmt.Errorf("element %d = %g; want %g (diff %g)", i, got[i], want[i], d)
		}
	}
	return nil
}

func TestAttendMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		typ            tensor.Type
		hd, bt, n, nQ  int
		causal, perPos bool
		tol            float64
	}{
		{tensor.F32, 32, 16, 1, 1, false, false, 1e-5},
		{tensor.F32, 32, 16, 37, 4, false, false, 1e-5},
		{tensor.F32, 64, 16, 160, 8, false, false, 1e-5},
		{tensor.F32, 24, 7, 50, 3, false, false, 1e-5},
		{tensor.F32, 64, 32, 33, 4, false, false, 1e-5},
		{tensor.F16, 64, 16, 77, 4, false, false, 2e-3},
		{tensor.F16, 40, 16, 15, 5, false, false, 2e-3},
		{tensor.F32, 32, 16, 45, 12, true, true, 1e-5},
	} {
		name := fmt.Sprintf("%s/hd%d/bt%d/n%d/q%d/causal%v", tc.typ, tc.hd, tc.bt, tc.n, tc.nQ, tc.causal)
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.n)))
			c, err := New(Config{Layers: 2, KVHeads: 2, HeadDim: tc.hd, BlockTokens: tc.bt, Type: tc.typ, Budget: 1 << 22})
			if err != nil {
				t.Fatal(err)
			}
			s := c.NewSeq()
			prompt := make([]int32, tc.n)
			for i := range prompt {
				prompt[i] = int32(rng.IntN(1000))
			}
			fill(t, c, s, prompt, rng, 13)
			q := randVec(rng, tc.nQ*tc.hd)
			out, lse := make([]float32, tc.nQ*tc.hd), make([]float32, tc.nQ)
			scale := 1 / math.Sqrt(float64(tc.hd))
			a := NewAttender()
			lim := func(int) int { return tc.n }
			if tc.causal {
				// A chunk of 4 positions ending at the last, 3 query heads each.
				perPos, pos0 := tc.nQ/4, tc.n-4
				lim = func(r int) int { return pos0 + r/perPos + 1 }
				a.AttendCausal(out, lse, c, 1, 1, q, tc.nQ, s.Span(), float32(scale), pos0, perPos)
			} else {
				a.Attend(out, lse, c, 1, 1, q, tc.nQ, s.Span(), float32(scale))
			}
			wantOut, wantLSE := attendRef(c, 1, 1, q, tc.nQ, s.Span(), scale, lim)
			if err := closeTo(out, wantOut, tc.tol); err != nil {
				t.Errorf("Attend out: %v", err)
			}
			if err := closeTo(lse, wantLSE, tc.tol); err != nil {
				t.Errorf("Attend lse: %v", err)
			}
		})
	}
}

// TestMergeLSE splits a sequence's positions at every block boundary and
// checks that merging the two halves' attention gives the whole's.
func TestMergeLSE(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	const hd, nQ = 32, 4
	c, err := New(Config{Layers: 1, KVHeads: 1, HeadDim: hd, BlockTokens: 8, Type: tensor.F32, Budget: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	s := c.NewSeq()
	prompt := make([]int32, 61)
	fill(t, c, s, prompt, rng, 61)
	q := randVec(rng, nQ*hd)
	a := NewAttender()
	want, _ := attendRef(c, 0, 0, q, nQ, s.Span(), 0.2, func(int) int { return 61 })
	for split := 0; split <= len(s.Blocks()); split++ {
		o1, l1 := make([]float32, nQ*hd), make([]float32, nQ)
		o2, l2 := make([]float32, nQ*hd), make([]float32, nQ)
		a.Attend(o1, l1, c, 0, 0, q, nQ, Span{Blocks: s.Blocks()[:split], N: min(61, split*8)}, 0.2)
		a.Attend(o2, l2, c, 0, 0, q, nQ, Span{Blocks: s.Blocks()[split:], N: 61 - min(61, split*8)}, 0.2)
		MergeLSE(o1, l1, o2, l2, nQ, hd)
		if err := closeTo(o1, want, 1e-5); err != nil {
			t.Errorf("MergeLSE of a split after block %d: %v", split, err)
		}
	}
}

// TestCascadeMatchesPerSequence builds a decode step like the NPC one: many
// sequences on one lore, some sharing a persona after it, each with its own
// odd-length suffix, and checks cascade attention against plain attention
// per sequence over its whole span.
func TestCascadeMatchesPerSequence(t *testing.T) {
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16} {
		t.Run(typ.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 3))
			const hd, bt, group = 32, 16, 4
			c, err := New(Config{Layers: 2, KVHeads: 2, HeadDim: hd, BlockTokens: bt, Type: typ, Budget: 64 << 20})
			if err != nil {
				t.Fatal(err)
			}
			lore := make([]int32, 100) // 6 full blocks and 4 tokens
			for i := range lore {
				lore[i] = int32(i)
			}
			var seqs []*Seq
			var spans []Span
			for i := range 11 {
				p := append([]int32(nil), lore...)
				if i < 6 { // two personas of 40 tokens, three NPCs each
					for j := range 40 {
						p = append(p, int32(1000+100*(i%2)+j))
					}
				}
				for range 1 + rng.IntN(40) {
					p = append(p, int32(5000+rng.IntN(1000)))
				}
				s := c.NewSeq()
				fill(t, c, s, p, rng, 1+rng.IntN(64))
				seqs = append(seqs, s)
				spans = append(spans, s.Span())
			}
			var plan Plan
			plan.Build(spans, bt)
			if len(plan.Groups) == 0 {
				t.Fatal("Build found no shared blocks")
			}
			q := randVec(rng, len(seqs)*group*hd)
			got := make([]float32, len(q))
			a := NewAttender()
			a.Cascade(got, c, 1, 0, q, group, spans, &plan, 0.17)
			for i, sp := range spans {
				want, _ := attendRef(c, 1, 0, q[i*group*hd:], group, sp, 0.17, func(int) int { return sp.N })
				tol := 1e-5
				if typ == tensor.F16 {
					tol = 2e-3
				}
				if err := closeTo(got[i*group*hd:(i+1)*group*hd], want, tol); err != nil {
					t.Errorf("sequence %d (%d tokens): cascade %v", i, sp.N, err)
				}
			}
		})
	}
}

func TestPlanGroups(t *testing.T) {
	sp := func(n int, blocks ...BlockID) Span { return Span{Blocks: blocks, N: n} }
	spans := []Span{
		sp(50, 1, 2, 3, 10), // lore 1 2, persona 3, own 10 (2 tokens)
		sp(48, 1, 2, 4),     // lore, persona 4 (full), nothing own
		sp(64, 1, 2, 3, 11), // lore, persona 3, own 11 (full)
		sp(40, 7, 8, 9),     // alone
		sp(20, 1, 12),       // lore's first block only
	}
	var plan Plan
	plan.Build(nil, 16)
	if len(plan.Groups) != 0 || len(plan.Own) != 0 {
		t.Errorf("Build(nil) = %d groups, %d own; want none", len(plan.Groups), len(plan.Own))
	}
	plan.Build(spans, 16)
	got := ""
	for _, g := range plan.Groups {
		got += fmt.Sprintf("%d%v%v ", g.First, g.Blocks, g.Members)
	}
	if want := "0[1][4 0 2 1] 1[2][0 2 1] 2[3][0 2] "; got != want {
		t.Errorf("Build groups = %q; want %q", got, want)
	}
	if want := []int{3, 2, 3, 0, 1}; fmt.Sprint(plan.Own) != fmt.Sprint(want) {
		t.Errorf("Build own = %v; want %v", plan.Own, want)
	}
}

// TestConcurrentForwardWorkers is the concurrency the package allows: the
// workers of a forward pass store into and attend over different sequences
// at once, each with its own Attender, while no Cache method runs. Run
// under -race.
func TestConcurrentForwardWorkers(t *testing.T) {
	const hd, workers = 16, 4
	c, err := New(Config{Layers: 2, KVHeads: 2, HeadDim: hd, BlockTokens: 8, Budget: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	seqs := make([]*Seq, workers)
	for i := range seqs {
		seqs[i] = c.NewSeq()
		fill(t, c, seqs[i], []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, int32(i)}, rng, 10)
		if err := c.Grow(seqs[i], 20); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error)
	for i := range workers {
		kv := randVec(rng, 20*2*hd)
		q := randVec(rng, 4*hd)
		// Each worker exits after its stores and one attention per layer.
		go func() {
			s, a := seqs[i], NewAttender()
			out := make([]float32, 4*hd)
			for l := range 2 {
				if err := s.Store(l, s.Len(), kv, kv); err != nil {
					done <- err
					return
				}
				a.Attend(out, nil, c, l, 1, q, 4, s.Span(), 0.25)
			}
			done <- nil
		}()
	}
	for range workers {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	for _, s := range seqs {
		if err := c.Advance(s, make([]int32, 20)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestPlanCoversEveryBlockOnce builds plans for random step shapes —
// sequences drawn from a random tree of shared prefixes, with partly filled
// own blocks — and checks that for every sequence the groups it belongs to
// tile its table from block 0 in order, with the table's own ids, that its
// own blocks start where they end, and that every group is shared.
func TestPlanCoversEveryBlockOnce(t *testing.T) {
	const bt = 16
	rng := rand.New(rand.NewPCG(9, 9))
	var plan Plan
	for trial := range 500 {
		next := BlockID(0)
		// A few prefixes, each extending an earlier one by 0..3 blocks.
		prefixes := [][]BlockID{nil}
		for range 1 + rng.IntN(6) {
			p := append([]BlockID(nil), prefixes[rng.IntN(len(prefixes))]...)
			for range rng.IntN(4) {
				p = append(p, next)
				next++
			}
			prefixes = append(prefixes, p)
		}
		spans := make([]Span, 1+rng.IntN(12))
		for i := range spans {
			blocks := append([]BlockID(nil), prefixes[rng.IntN(len(prefixes))]...)
			n := len(blocks) * bt
			for range rng.IntN(3) { // own blocks, the last maybe partial
				blocks = append(blocks, next)
				next++
				n += bt
			}
			if len(blocks) > 0 && rng.IntN(2) == 0 && n > len(blocks)*bt-bt {
				n -= rng.IntN(bt)
			}
			spans[i] = Span{Blocks: blocks, N: n}
		}
		plan.Build(spans, bt)
		covered := make([]int, len(spans)) // blocks tiled so far, per sequence
		for _, g := range plan.Groups {
			if len(g.Members) < 2 || len(g.Blocks) == 0 {
				t.Fatalf("trial %d: group %+v is not shared", trial, g)
			}
			for _, m := range g.Members {
				sp := spans[m]
				if covered[m] != g.First || g.First+len(g.Blocks) > sp.N/bt {
					t.Fatalf("trial %d: sequence %d (%v, %d tokens): group at %d after %d tiled", trial, m, sp.Blocks, sp.N, g.First, covered[m])
				}
				for k, b := range g.Blocks {
					if sp.Blocks[g.First+k] != b {
						t.Fatalf("trial %d: sequence %d: group block %d is %d; its table holds %d", trial, m, g.First+k, b, sp.Blocks[g.First+k])
					}
				}
				covered[m] += len(g.Blocks)
			}
		}
		for i := range spans {
			if plan.Own[i] != covered[i] {
				t.Fatalf("trial %d: sequence %d: own blocks start at %d; groups tile %d", trial, i, plan.Own[i], covered[i])
			}
			// Nothing shareable is left to a sequence's own part.
			for j := range i {
				k := plan.Own[i]
				if plan.Own[j] == k && k < spans[i].N/bt && k < spans[j].N/bt && spans[i].Blocks[k] == spans[j].Blocks[k] {
					t.Fatalf("trial %d: sequences %d and %d both attend shared block %d on their own", trial, j, i, spans[i].Blocks[k])
				}
			}
		}
	}
}
