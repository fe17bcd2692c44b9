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
// What it saves is reading: the arithmetic is the same, and the scores'
// product, whose inner dimension is only HeadDim, runs no faster as a
// matrix product than as each head's matrix-vector product. So the gain
// grows with the share of a step that attention takes — long shared
// prefixes, many sequences, caches that outgrow the CPU's — and with few
// shared positions beside many of a sequence's own it can be nil (the own
// part is then attended in short, overhead-bound pieces).
//
// The model cannot see which caches agree: the caller (the engine, which
// knows where every slot's positions came from) names the shared runs, and
// must only name positions whose keys and values are bit for bit the same
// in every member's cache; the run is read from its first member's.

// Shared is a run of cached positions [Lo, Hi) that the chunks Chunks
// (indices into the step's chunks) hold alike, attended once for all of
// them: every query row of every member (each token's query heads) against
// the run. The run lies before the members' new tokens, so no causal limit
// applies within it. Runs nest: a chunk's runs, in the order given, must
// tile its positions from 0 (the first starts at 0, each next one where
// the previous ended: the lore, then the persona); the positions after its
// last run, its new tokens' included, it attends alone.
type Shared struct {
	Chunks []int
	Lo, Hi int
}

// cascadeRows is about the most query rows one work item of a shared run
// takes: a run's rows (its members' tokens' query heads, member after
// member) are split into items of about this many, so that the threads of
// the pool each take some and an item's scores fit in a core's cache —
// each item rereads the run's keys and values once, which at 64 rows is
// still a small fraction of what the rows would read alone.
const cascadeRows = 64

// cascade is the Batch's state for the shared runs of the step in progress.
type cascade struct {
	groups  []Shared          // the step's runs, validated; nil when none
	runs    []cascadeRun      // per run: how its rows are laid out and split
	mrow    []int             // per run, per member and one more: the member's first row in the run (runs[i].mrow0 on)
	items   []cascadeItem     // work: (run, rows, KV head); grown, never shrunk
	n       int               // items of this step
	scratch []*cascadeScratch // one per item running at once; grown, never shrunk
	nScr    int               // scratch sets this step: set p runs items p, p+nScr, …
	refs    []cascadeRef      // per chunk, its part of each of its runs: refs[refOff[s]:refOff[s+1]]
	refOff  []int             // (chunks+1)
	covered []int             // per chunk: positions [0, covered) attended in runs
	fn      func(lo, hi int)
	l       int // the layer being attended
	inline  bool
}

// cascadeRun is a run's layout: its members' query rows are numbered
// member after member (each token's query heads of one KV head, in order),
// and items take per rows of them at a time, for each KV head.
type cascadeRun struct {
	item0 int // index of its first item: items item0 + (row/per)·KVHeads + g
	mrow0 int // index in mrow of its first member's first row
	rows  int // all its members' rows, for one KV head
	per   int // rows per item (the last takes the rest)
}

// cascadeItem is the attention of rows r0..r1 of one shared run for one KV
// head: its result, kept until attend merges it.
type cascadeItem struct {
	run, r0, r1, g int
	out, lse       []float32 // (rows, HeadDim) output normalised over the run; (rows) log-sum-exp
}

// cascadeScratch is the working memory of one item at a time, with a
// single-thread pool, so that items run in parallel without sharing
// anything. There are only as many as items run at once — a step with
// prompt chunks in runs may have thousands of items, and the scores take
// rows × run length each.
type cascadeScratch struct {
	q, s, p, vg []float32 // (rows, HeadDim) queries; (rows, L) scores; (rows, Lp) weights; (HeadDim, Lp) values
	pool        *kernels.Pool
	kt, vw      tensor.Tensor
	shape       [2][2]int
}

// cascadeRef points a chunk at its rows of one run: row0 is its first.
type cascadeRef struct{ run, row0 int32 }

func growTo[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// StepShared is Step with the runs of positions in shared attended once
// for all the chunks that share them (see Shared). Chunks in no run are
// computed exactly as Step computes them; those in runs agree with Step up
// to float rounding. On error nothing has been computed.
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
	members := 0
	for i, sh := range shared {
		if len(sh.Chunks) == 0 {
			return fmt.Errorf("model: step: shared run %d has no chunks", i)
		}
		for _, s := range sh.Chunks {
			if s < 0 || s >= S {
				return fmt.Errorf("model: step: shared run %d names chunk %d of %d", i, s, S)
			}
			if cs.covered[s] != sh.Lo || sh.Hi <= sh.Lo || sh.Hi > chunks[s].State.Cache.Len {
				return fmt.Errorf("model: step: shared run %d of positions [%d, %d): chunk %d (named twice?) has %d cached, %d of them in earlier runs",
					i, sh.Lo, sh.Hi, s, chunks[s].State.Cache.Len, cs.covered[s])
			}
			cs.covered[s] = sh.Hi
			cs.refOff[s+1]++
		}
		members += len(sh.Chunks)
	}
	for s := range S {
		cs.refOff[s+1] += cs.refOff[s]
	}
	cs.refs = growTo(cs.refs, cs.refOff[S])
	cs.runs = growTo(cs.runs, len(shared))
	cs.mrow = growTo(cs.mrow, members+len(shared))

	// Lay out each run's rows and items; each chunk's refs follow its runs
	// in order (covered serves as the fill cursor, then is set back to
	// each chunk's end of runs).
	grp := c.Heads / c.KVHeads
	fill := cs.covered
	copy(fill, cs.refOff[:S])
	n, mr := 0, 0
	for i, sh := range shared {
		r := &cs.runs[i]
		r.item0, r.mrow0 = n, mr
		rows := 0
		for _, s := range sh.Chunks {
			cs.mrow[mr] = rows
			mr++
			cs.refs[fill[s]] = cascadeRef{run: int32(i), row0: int32(rows)}
			fill[s]++
			rows += len(chunks[s].Tokens) * grp
		}
		cs.mrow[mr] = rows
		mr++
		parts := (rows + cascadeRows - 1) / cascadeRows
		r.rows, r.per = rows, (rows+parts-1)/parts
		for r0 := 0; r0 < rows; r0 += r.per {
			for g := range c.KVHeads {
				if n == len(cs.items) {
					cs.items = append(cs.items, cascadeItem{})
				}
				it := &cs.items[n]
				it.run, it.r0, it.r1, it.g = i, r0, min(r0+r.per, rows), g
				n++
			}
		}
	}
	cs.n = n
	cs.nScr = min(n, 2*m.pool.Threads())
	for len(cs.scratch) < cs.nScr {
		sc := &cascadeScratch{pool: kernels.NewPool(1)} // starts no goroutine: nothing to close
		sc.kt.Shape, sc.vw.Shape = sc.shape[0][:], sc.shape[1][:]
		sc.kt.Type, sc.vw.Type = tensor.F32, tensor.F32
		cs.scratch = append(cs.scratch, sc)
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
	for i, sh := range shared {
		work += cs.runs[i].rows * c.KVHeads * (sh.Hi - sh.Lo) * c.HeadDim
	}
	cs.inline = work < attendInline
	if cs.fn == nil {
		cs.fn = func(lo, hi int) {
			cs := &b.casc
			for p := lo; p < hi; p++ {
				for i := p; i < cs.n; i += cs.nScr {
					b.attendRun(m, &cs.items[i], cs.scratch[p])
				}
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
		cs.fn(0, cs.nScr)
	} else {
		m.pool.For(cs.nScr, cs.fn)
	}
}

// attendRun is one work item, in scratch sc: rows r0..r1 of its run for KV
// head g against the run's positions, read from its first member's cache,
// as two matrix products.
func (b *Batch) attendRun(m *Model, it *cascadeItem, sc *cascadeScratch) {
	c := &m.Config
	hd, qd, grp := c.HeadDim, c.QDim(), c.Heads/c.KVHeads
	cs := &b.casc
	sh, run := &cs.groups[it.run], &cs.runs[it.run]
	src := b.chunks[sh.Chunks[0]].State.Cache
	L, R := sh.Hi-sh.Lo, it.r1-it.r0
	scale := float32(1 / math.Sqrt(float64(hd)))

	// The rows' queries: row k of a member is query head g·grp + k%grp of
	// its token k/grp; a token's heads of one KV head lie side by side.
	sc.q = growTo(sc.q, R*hd)
	mrow := cs.mrow[run.mrow0 : run.mrow0+len(sh.Chunks)+1]
	j := 0
	for r := it.r0; r < it.r1; {
		for mrow[j+1] <= r {
			j++
		}
		k := r - mrow[j]
		tok, h := k/grp, k%grp
		row := b.off[sh.Chunks[j]] + tok
		take := min(grp-h, it.r1-r) // the rest of this token's heads in the item
		copy(sc.q[(r-it.r0)*hd:], b.q[row*qd+(it.g*grp+h)*hd:row*qd+(it.g*grp+h+take)*hd])
		r += take
	}

	// Scores S = Q·Kᵀ, (R, L): the run's keys are L contiguous rows.
	keys := src.Keys(cs.l, it.g)[sh.Lo*hd : sh.Hi*hd]
	sc.kt.Shape[0], sc.kt.Shape[1], sc.kt.Data = hd, L, f32bytes(keys)
	sc.s = growTo(sc.s, R*L)
	sc.pool.MatMul(sc.s, &sc.kt, sc.q, R)

	// Softmax per row, scaled after the product as attendHead does, into
	// rows of Lp: L rounded up to a multiple of 16 and zero-padded (as are
	// the values), for the matrix kernels take their inner dimension 16
	// at a time and a remainder one output at a time. Every weight is
	// p_t = e^(x_t - lse), so any t gives the log-sum-exp as x_t - log p_t;
	// one with p_t ≥ 1/(2L) exists (they sum to 1) and keeps that exact to
	// float rounding — found in a few steps where attention is spread or
	// peaks early, without a pass for the maximum.
	Lp := (L + 15) &^ 15
	it.lse = growTo(it.lse, R)
	sc.p = growTo(sc.p, R*Lp)
	thr := 0.5 / float32(L)
	for r := range R {
		x, p := sc.s[r*L:(r+1)*L], sc.p[r*Lp:r*Lp+L]
		kernels.Scale(x, scale)
		copy(p, x)
		kernels.Softmax(p)
		t := 0
		for t < L-1 && p[t] < thr {
			t++
		}
		it.lse[r] = x[t] - float32(math.Log(float64(p[t])))
		clear(sc.p[r*Lp+L : (r+1)*Lp])
	}

	// Output = P·V, (R, HeadDim): V is stored transposed, HeadDim rows of
	// Cap positions, so the run's columns are gathered into rows of Lp.
	vals, cp := src.Values(cs.l, it.g), src.Cap
	sc.vg = growTo(sc.vg, hd*Lp)
	for d := range hd {
		copy(sc.vg[d*Lp:d*Lp+L], vals[d*cp+sh.Lo:d*cp+sh.Hi])
		clear(sc.vg[d*Lp+L : (d+1)*Lp])
	}
	sc.vw.Shape[0], sc.vw.Shape[1], sc.vw.Data = Lp, hd, f32bytes(sc.vg)
	it.out = growTo(it.out, R*hd)
	sc.pool.MatMul(it.out, &sc.vw, sc.p, R)
}

// softmaxLSE scales the scores x, replaces them with their softmax and
// returns the log-sum-exp of the scaled scores: the largest weight is
// exactly e^0/Σ, so log Σ = -log of it.
func softmaxLSE(x []float32, scale float32) float32 {
	kernels.Scale(x, scale) // after the product, as attendHead scales
	// The running maximum changes rarely, so this branch is well
	// predicted; the builtin max, with its NaN and signed-zero rules,
	// costs several times more.
	am, mx := 0, x[0]
	for i, v := range x {
		if v > mx {
			am, mx = i, v
		}
	}
	kernels.Softmax(x)
	return mx - float32(math.Log(float64(x[am])))
}

// attendMember is attention for query head h of chunk s, which takes part
// in shared runs: for each of its tokens, its own positions (after its
// last run, up to the token: causal) as attendHead does, then merged with
// the token's rows of each run. Where a KV head serves several query
// heads, its first head does the whole group (attendMemberGroup) and the
// others nothing.
func (b *Batch) attendMember(m *Model, s, h int) {
	c := &m.Config
	hd, qd, grp := c.HeadDim, c.QDim(), c.Heads/c.KVHeads
	if grp >= minGroupedHeads && grp <= maxGroup {
		if h%grp == 0 {
			b.attendMemberGroup(m, s, h/grp)
		}
		return
	}
	cs := &b.casc
	st := b.chunks[s].State
	cp, g := st.Cache.Cap, h/grp
	lo, pos0 := cs.covered[s], st.Cache.Len // Len moves only after the last layer
	scale := float32(1 / math.Sqrt(float64(hd)))
	keys, vals := st.Cache.Keys(cs.l, g), st.Cache.Values(cs.l, g)
	kv := &st.keyView[h]
	for i := range b.off[s+1] - b.off[s] {
		r := b.off[s] + i
		q, out := b.q[r*qd+h*hd:r*qd+(h+1)*hd], b.att[r*qd+h*hd:r*qd+(h+1)*hd]
		T := pos0 + i + 1
		sc := st.scores[h*cp : h*cp+T-lo]
		kv.Shape[1], kv.Data = T-lo, f32bytes(keys[lo*hd:T*hd])
		st.headPool[h].MatVec(sc, kv, q)
		lse := [1]float32{softmaxLSE(sc, scale)}
		kernels.DotRows(out, vals[lo:], cp, sc)
		b.mergeRuns(m, s, i, h, out, lse[0])
	}
}

// attendMemberGroup is attendMember for all the query heads of KV head g
// at once, as attendGroup does for a sequence in no run: per token, the
// group's scores over its own positions as one matrix product and the
// outputs as another, each key and value read once for the group.
func (b *Batch) attendMemberGroup(m *Model, s, g int) {
	c := &m.Config
	hd, qd, grp := c.HeadDim, c.QDim(), c.Heads/c.KVHeads
	h0 := g * grp
	cs := &b.casc
	st := b.chunks[s].State
	cp := st.Cache.Cap
	lo, pos0 := cs.covered[s], st.Cache.Len // Len moves only after the last layer
	scale := float32(1 / math.Sqrt(float64(hd)))
	keys, vals := st.Cache.Keys(cs.l, g), st.Cache.Values(cs.l, g)
	for i := range b.off[s+1] - b.off[s] {
		r := b.off[s] + i
		q, out := b.q[r*qd+h0*hd:r*qd+(h0+grp)*hd], b.att[r*qd+h0*hd:r*qd+(h0+grp)*hd]
		// Its own positions lo..pos0+i; the scores in the group's heads'
		// rows of st.scores (grp·Cap values).
		var lse [maxGroup]float32
		groupRows(out, lse[:grp], st.scores[h0*cp:(h0+grp)*cp], q, keys, vals, hd, cp, lo, pos0+i+1, scale)
		for j := range grp {
			b.mergeRuns(m, s, i, h0+j, out[j*hd:(j+1)*hd], lse[j])
		}
	}
}

// maxGroup bounds the query heads per KV head that attendMemberGroup
// takes, its log-sum-exps being on the stack; a model with more (none
// known) attends member by member, head by head.
const maxGroup = 64

// mergeRuns merges into out, token i of chunk s's attention for query
// head h over its own positions (log-sum-exp lse), the token's rows of
// each shared run.
func (b *Batch) mergeRuns(m *Model, s, i, h int, out []float32, lse float32) {
	c := &m.Config
	hd, grp := c.HeadDim, c.Heads/c.KVHeads
	cs := &b.casc
	g := h / grp
	l := [1]float32{lse}
	for _, ref := range cs.refs[cs.refOff[s]:cs.refOff[s+1]] {
		run := &cs.runs[ref.run]
		row := int(ref.row0) + i*grp + h%grp
		it := &cs.items[run.item0+row/run.per*c.KVHeads+g]
		row -= it.r0
		kvcache.MergeLSE(out, l[:], it.out[row*hd:(row+1)*hd], it.lse[row:row+1], 1, hd)
	}
}
