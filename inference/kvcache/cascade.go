package kvcache

import (
	"math"
	"slices"
)

// Group is a run of blocks that several sequences of a decode step share:
// each member's block table holds Blocks at indices First..First+len-1.
type Group struct {
	First   int       // block index, in every member's table, of Blocks[0]
	Blocks  []BlockID // the shared blocks, all full
	Members []int32   // indices of the member sequences in the spans given to Build
}

// Plan is how one step's sequences share their prefixes: a tree of groups
// (all NPCs of a world share the lore's blocks; those of one persona share
// the persona's after it) and, per sequence, where its own blocks start.
// Every position of every sequence is covered exactly once: by the groups
// on its path, in order, and then by its own blocks. A Plan is rebuilt each
// step (tables change as sequences grow) and reuses its memory.
type Plan struct {
	Groups []Group
	Own    []int // per sequence: index of its first block attended on its own

	order []int32 // sequences sorted by block table; groups' Members are runs of it
	spans []Span  // the spans of the current Build; Groups' Blocks alias their tables
}

// fullBlocks is the number of sp's blocks that are completely filled: only
// those can be shared.
func fullBlocks(sp Span, bt int) int { return sp.N / bt }

// Build computes the plan for spans (one per sequence, as Seq.Span
// returns), grouping sequences by the block ids their tables share. Two
// tables can hold the same block only through the prefix tree, so equal ids
// mean equal prefixes. bt is the cache's BlockTokens.
func (p *Plan) Build(spans []Span, bt int) {
	p.Groups = p.Groups[:0]
	p.spans = spans
	p.Own = grow(p.Own, len(spans))
	p.order = grow(p.order, len(spans))
	for i := range p.order {
		p.order[i] = int32(i)
	}
	slices.SortFunc(p.order, func(x, y int32) int {
		a, b := spans[x], spans[y]
		na, nb := fullBlocks(a, bt), fullBlocks(b, bt)
		for k := range min(na, nb) {
			if d := int(a.Blocks[k]) - int(b.Blocks[k]); d != 0 {
				return d
			}
		}
		return na - nb
	})
	if len(spans) > 0 {
		p.split(0, len(p.order), 0, bt)
	}
}

// split plans the sequences order[lo:hi], which share their first d blocks
// (already grouped).
func (p *Plan) split(lo, hi, d, bt int) {
	if hi-lo == 1 {
		p.Own[p.order[lo]] = d
		return
	}
	members := p.order[lo:hi]
	first := p.spans[members[0]]
	// The run all members share from d on.
	L := 0
	for {
		k := d + L
		if k >= fullBlocks(first, bt) {
			break
		}
		b, all := first.Blocks[k], true
		for _, m := range members[1:] {
			sp := p.spans[m]
			if k >= fullBlocks(sp, bt) || sp.Blocks[k] != b {
				all = false
				break
			}
		}
		if !all {
			break
		}
		L++
	}
	if L > 0 {
		p.Groups = append(p.Groups, Group{First: d, Blocks: first.Blocks[d : d+L], Members: members})
		d += L
	}
	// Members are sorted by table, so those sharing block d are adjacent.
	for i := lo; i < hi; {
		sp := p.spans[p.order[i]]
		if d >= fullBlocks(sp, bt) {
			p.Own[p.order[i]] = d
			i++
			continue
		}
		j := i + 1
		for j < hi {
			sq := p.spans[p.order[j]]
			if d >= fullBlocks(sq, bt) || sq.Blocks[d] != sp.Blocks[d] {
				break
			}
			j++
		}
		p.split(i, j, d, bt)
		i = j
	}
}

// Cascade computes attention for KV head g of layer l for a step of
// sequences: q holds perSeq query rows (the query heads sharing head g) of
// HeadDim for each sequence of spans, in order, and out receives the same
// shape. Each group of plan (built from spans) is attended once for all its
// members' queries — the shared keys and values read once, as one matrix
// product — then each sequence's own blocks for its own queries, and the
// parts are merged by log-sum-exp. The result equals Attend of each
// sequence's queries over its span, up to float rounding.
func (a *Attender) Cascade(out []float32, c *Cache, l, g int, q []float32, perSeq int, spans []Span, plan *Plan, scale float32) {
	hd := c.cfg.HeadDim
	rows := len(spans) * perSeq
	out = out[:rows*hd]
	clear(out)
	acc := grow(a.acc, rows)
	a.acc = acc
	for i := range acc {
		acc[i] = float32(math.Inf(-1))
	}
	for _, gr := range plan.Groups {
		n := len(gr.Members) * perSeq
		a.q = grow(a.q, n*hd)
		for i, m := range gr.Members {
			copy(a.q[i*perSeq*hd:(i+1)*perSeq*hd], q[int(m)*perSeq*hd:])
		}
		a.part = grow(a.part, n*hd)
		a.plse = grow(a.plse, n)
		a.Attend(a.part, a.plse, c, l, g, a.q, n, Span{Blocks: gr.Blocks, N: len(gr.Blocks) * c.bt}, scale)
		for i, m := range gr.Members {
			r := int(m) * perSeq
			MergeLSE(out[r*hd:(r+perSeq)*hd], acc[r:r+perSeq], a.part[i*perSeq*hd:(i+1)*perSeq*hd], a.plse[i*perSeq:(i+1)*perSeq], perSeq, hd)
		}
	}
	a.part = grow(a.part, perSeq*hd)
	a.plse = grow(a.plse, perSeq)
	for s, sp := range spans {
		own := plan.Own[s]
		if sp.N <= own*c.bt {
			continue
		}
		r := s * perSeq
		a.Attend(a.part, a.plse, c, l, g, q[r*hd:(r+perSeq)*hd], perSeq, Span{Blocks: sp.Blocks[own:], N: sp.N - own*c.bt}, scale)
		MergeLSE(out[r*hd:(r+perSeq)*hd], acc[r:r+perSeq], a.part, a.plse, perSeq, hd)
	}
}
