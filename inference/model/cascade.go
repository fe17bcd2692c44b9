package model

import (
	"fmt"
	"math"

	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/kvcache"
	"github.com/anima-rt/anima/inference/tensor"
)

// This file is shared-prefix ("cascade") attention in the batched step, the
// idea of Hydragen and FlashInfer's cascade attention. The NPCs of a world
// decode side by side over one lore, and one NPC's turns over one persona:
// their caches hold the same keys and values at the same positions. Instead
// of every sequence reading those keys and values again for each of its
// query heads, a step attends each shared run once for all the queries of
// the sequences that share it — the scores of all their query rows as one
// matrix product against the run's keys, the output as one product of
// those weights with the run's values — then each sequence's remaining
// positions on its own, and merges the two partial results exactly: each
// part returns its output normalised over its own positions and the
// log-sum-exp of its scores, and kvcache.MergeLSE reweights the parts by
// those sums. The result equals attention over the whole cache up to float
// rounding (the sums are grouped differently).
//
// The model cannot see which caches agree: the caller (the engine, which
// knows where every slot's positions came from) names the shared runs, and
// must only name positions whose keys and values are bit for bit the same
// in every member's cache; the run is read from its first member's.

// Shared is a run of cached positions [Lo, Hi) that the decode chunks
// Chunks (indices into the step's chunks) hold alike, attended once for
// all of them. Runs nest: a chunk's runs, in the order given, must tile
// its positions from 0 (the first starts at 0, each next one where the
// previous ended: the lore, then the persona); the positions after its
// last run, its own token's included, it attends alone.
type Shared struct {
	Chunks []int
	Lo, Hi int
}

// cascadeRows is about the most query rows one work item of a shared run
// takes: a run shared by more sequences is split by members into items of
// about this many rows, so that the threads of the pool each take some —
// each item rereads the run's keys and values once, which at 64 rows is
// still a small fraction of what the rows would read alone.
const cascadeRows = 64

// cascade is the Batch's state for the shared runs of the step in progress.
type cascade struct {
	groups  []Shared      // the step's runs, validated; nil when none
	items   []cascadeItem // work: (run, members m0..m1, KV head); grown, never shrunk
	n       int           // items of this step
	refs    []cascadeRef  // per chunk, the items holding its part of each run: refs[refOff[s]:refOff[s+1]]
	refOff  []int         // (chunks+1)
	covered []int         // per chunk: positions [0, covered) attended in runs
	fn      func(lo, hi int)
	l       int // the layer being attended
	inline  bool
}

// cascadeItem is the attention of some members of one shared run for one
// KV head: their query rows (the heads sharing that KV head, member after
// member) against the run, with its own scratch and single-thread pool so
// that items run in parallel without sharing anything.
type cascadeItem struct {
	grp, m0, m1, g int
	q, s, p, vg    []float32 // (rows, HeadDim) queries; (rows, L) scores; (rows, Lp) weights; (HeadDim, Lp) values
	out, lse       []float32 // (rows, HeadDim) output normalised over the run; (rows) log-sum-exp
	pool           *kernels.Pool
	kt, vw         tensor.Tensor
	shape          [2][2]int
}

// cascadeRef points a chunk at its part of one run: items[item+g] for KV
// head g, query rows from member·group.
type cascadeRef struct{ item, member int32 }

// runSplit is how many members of a run of members sequences one work
// item takes: the run split into items of about cascadeRows query rows,
// as evenly as it goes.
func runSplit(members, grp int) int {
	parts := (members*grp + cascadeRows - 1) / cascadeRows
	return (members + parts - 1) / parts
}

func growTo[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// StepShared is Step with the runs of positions in shared attended once
// for all the decode chunks that share them (see Shared). Chunks in no run
// are computed exactly as Step computes them; those in runs agree with
// Step up to float rounding. On error nothing has been computed.
func (m *Model) StepShared(b *Batch, chunks []Chunk, shared []Shared) error {
	return m.step(b, chunks, shared)
}

// planShared validates shared against the step's chunks and lays out its
// work items; nothing of the step has been computed yet.
func (b *Batch) planShared(m *Model, chunks []Chunk, shared []Shared) error {
	cs := &b.casc
	cs.groups, cs.n = nil, 0
	if len(shared) == 0 {
		return nil
	}
	c := &m.Config
	S := len(chunks)
	cs.covered = growTo(cs.covered, S)
	clear(cs.covered)
	cs.refOff = growTo(cs.refOff, S+1)
	clear(cs.refOff)
	for i, sh := range shared {
		if len(sh.Chunks) == 0 {
			return fmt.Errorf("model: step: shared run %d has no chunks", i)
		}
		for _, s := range sh.Chunks {
			if s < 0 || s >= S {
				return fmt.Errorf("model: step: shared run %d names chunk %d of %d", i, s, S)
			}
			if len(chunks[s].Tokens) != 1 {
				return fmt.Errorf("model: step: shared run %d: chunk %d has %d tokens; shared runs are for decode chunks of one", i, s, len(chunks[s].Tokens))
			}
			if cs.covered[s] != sh.Lo || sh.Hi <= sh.Lo || sh.Hi > chunks[s].State.Cache.Len {
				return fmt.Errorf("model: step: shared run %d of positions [%d, %d): chunk %d (named twice?) has %d cached, %d of them in earlier runs",
					i, sh.Lo, sh.Hi, s, chunks[s].State.Cache.Len, cs.covered[s])
			}
			cs.covered[s] = sh.Hi
			cs.refOff[s+1]++
		}
	}
	for s := range S {
		cs.refOff[s+1] += cs.refOff[s]
	}
	cs.refs = growTo(cs.refs, cs.refOff[S])
	// Items run by run, then by members, then by KV head; each chunk's
	// refs follow its runs in order (covered serves as the fill cursor,
	// then is set back to each chunk's end of runs).
	grp := c.Heads / c.KVHeads
	fill := cs.covered
	copy(fill, cs.refOff[:S])
	n := 0
	for i, sh := range shared {
		per := runSplit(len(sh.Chunks), grp)
		for j, s := range sh.Chunks {
			cs.refs[fill[s]] = cascadeRef{item: int32(n + j/per*c.KVHeads), member: int32(j % per)}
			fill[s]++
		}
		for m0 := 0; m0 < len(sh.Chunks); m0 += per {
			for g := range c.KVHeads {
				if n == len(cs.items) {
					cs.items = append(cs.items, cascadeItem{pool: kernels.NewPool(1)}) // starts no goroutine: nothing to close
				}
				it := &cs.items[n]
				it.grp, it.m0, it.m1, it.g = i, m0, min(m0+per, len(sh.Chunks)), g
				n++
			}
		}
	}
	cs.n = n
	for i := range cs.items[:n] { // views of the items' own shapes, now that the slice no longer moves
		it := &cs.items[i]
		it.kt.Shape, it.vw.Shape = it.shape[0][:], it.shape[1][:]
		it.kt.Type, it.vw.Type = tensor.F32, tensor.F32
	}
	for _, sh := range shared {
		for _, s := range sh.Chunks {
			cs.covered[s] = sh.Hi
		}
	}
	for s := range S {
		if cs.refOff[s+1] == cs.refOff[s] {
			cs.covered[s] = 0
		}
	}
	work := 0
	for _, it := range cs.items[:n] {
		sh := shared[it.grp]
		work += (it.m1 - it.m0) * grp * (sh.Hi - sh.Lo) * c.HeadDim
	}
	cs.inline = work < attendInline
	if cs.fn == nil {
		cs.fn = func(lo, hi int) {
			for i := lo; i < hi; i++ {
				b.attendRun(m, &b.casc.items[i])
			}
		}
	}
	cs.groups = shared
	return nil
}

// attendShared attends every shared run of the step in layer l, leaving
// each item's normalised output and log-sum-exp for attend to merge.
func (b *Batch) attendShared(m *Model, l int) {
	cs := &b.casc
	if cs.n == 0 {
		return
	}
	cs.l = l
	if cs.inline {
		cs.fn(0, cs.n)
	} else {
		m.pool.For(cs.n, cs.fn)
	}
}

// attendRun is one work item: the queries of the run's members m0..m1
// that share KV head g against the run's positions, read from its first
// member's cache, as two matrix products.
func (b *Batch) attendRun(m *Model, it *cascadeItem) {
	c := &m.Config
	hd, qd, grp := c.HeadDim, c.QDim(), c.Heads/c.KVHeads
	cs := &b.casc
	sh := &cs.groups[it.grp]
	src := b.chunks[sh.Chunks[0]].State.Cache
	L, R := sh.Hi-sh.Lo, (it.m1-it.m0)*grp
	scale := float32(1 / math.Sqrt(float64(hd)))

	// The members' query rows for KV head g: heads g·grp..(g+1)·grp-1 lie
	// side by side in each decode token's row of q.
	it.q = growTo(it.q, R*hd)
	for i, s := range sh.Chunks[it.m0:it.m1] {
		r := b.off[s]
		copy(it.q[i*grp*hd:(i+1)*grp*hd], b.q[r*qd+it.g*grp*hd:r*qd+(it.g+1)*grp*hd])
	}

	// Scores S = Q·Kᵀ, (R, L): the run's keys are L contiguous rows.
	keys := src.Keys(cs.l, it.g)[sh.Lo*hd : sh.Hi*hd]
	it.kt.Shape[0], it.kt.Shape[1], it.kt.Data = hd, L, f32bytes(keys)
	it.s = growTo(it.s, R*L)
	it.pool.MatMul(it.s, &it.kt, it.q, R)

	// Softmax per row, scaled after the product as attendHead does; the
	// row's largest weight is exactly e^0/Σ, which gives the log-sum-exp.
	// The weights go to rows of Lp, L rounded up to a multiple of 16 and
	// zero-padded (as are the values): the matrix kernels take their
	// inner dimension 16 at a time and a remainder one output at a time.
	Lp := (L + 15) &^ 15
	it.lse = growTo(it.lse, R)
	it.p = growTo(it.p, R*Lp)
	for r := range R {
		row := it.s[r*L : (r+1)*L]
		it.lse[r] = softmaxLSE(row, scale)
		copy(it.p[r*Lp:], row)
		clear(it.p[r*Lp+L : (r+1)*Lp])
	}

	// Output = P·V, (R, HeadDim): V is stored transposed, HeadDim rows of
	// Cap positions, so the run's columns are gathered into rows of Lp.
	vals, cp := src.Values(cs.l, it.g), src.Cap
	it.vg = growTo(it.vg, hd*Lp)
	for d := range hd {
		copy(it.vg[d*Lp:d*Lp+L], vals[d*cp+sh.Lo:d*cp+sh.Hi])
		clear(it.vg[d*Lp+L : (d+1)*Lp])
	}
	it.vw.Shape[0], it.vw.Shape[1], it.vw.Data = Lp, hd, f32bytes(it.vg)
	it.out = growTo(it.out, R*hd)
	it.pool.MatMul(it.out, &it.vw, it.p, R)
}

// softmaxLSE scales the scores x, replaces them with their softmax and
// returns the log-sum-exp of the scaled scores: the largest weight is
// exactly e^0/Σ, so log Σ = -log of it.
func softmaxLSE(x []float32, scale float32) float32 {
	kernels.Scale(x, scale) // after the product, as attendHead scales
	mx := maxOf(x)
	kernels.Softmax(x)
	return mx - float32(math.Log(float64(maxOf(x))))
}

// maxOf is the largest of x (len ≥ 1), in four independent lanes so that
// the comparisons do not wait on each other.
func maxOf(x []float32) float32 {
	m0 := x[0]
	m1, m2, m3 := m0, m0, m0
	i := 0
	for ; i+4 <= len(x); i += 4 {
		m0, m1, m2, m3 = max(m0, x[i]), max(m1, x[i+1]), max(m2, x[i+2]), max(m3, x[i+3])
	}
	for ; i < len(x); i++ {
		m0 = max(m0, x[i])
	}
	return max(m0, m1, m2, m3)
}

// attendMember is attention for query head h of decode chunk s, which
// takes part in shared runs: its own positions (after its last run, its
// new token's included) as attendHead does, then merged with its part of
// each run.
func (b *Batch) attendMember(m *Model, s, h int) {
	c := &m.Config
	hd, qd, grp := c.HeadDim, c.QDim(), c.Heads/c.KVHeads
	cs := &b.casc
	st := b.chunks[s].State
	cp, g := st.Cache.Cap, h/grp
	lo, T := cs.covered[s], st.Cache.Len+1 // Len moves only after the last layer
	scale := float32(1 / math.Sqrt(float64(hd)))
	r := b.off[s]
	q, out := b.q[r*qd+h*hd:r*qd+(h+1)*hd], b.att[r*qd+h*hd:r*qd+(h+1)*hd]

	keys, vals := st.Cache.Keys(cs.l, g), st.Cache.Values(cs.l, g)
	sc := st.scores[h*cp : h*cp+T-lo]
	kv := &st.keyView[h]
	kv.Shape[1], kv.Data = T-lo, f32bytes(keys[lo*hd:T*hd])
	st.headPool[h].MatVec(sc, kv, q)
	lse := [1]float32{softmaxLSE(sc, scale)}
	kernels.DotRows(out, vals[lo:], cp, sc)

	for _, ref := range cs.refs[cs.refOff[s]:cs.refOff[s+1]] {
		it := &cs.items[int(ref.item)+g]
		row := int(ref.member)*grp + h%grp
		kvcache.MergeLSE(out, lse[:], it.out[row*hd:(row+1)*hd], it.lse[row:row+1], 1, hd)
	}
}
