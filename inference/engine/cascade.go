package engine

import (
	"math"

	"github.com/anima-rt/anima/inference/kvcache"
	"github.com/anima-rt/anima/inference/model"
)

// This file chooses, each step, the runs of cached positions that the
// step's sequences attend together (model.StepShared: cascade attention).
// The NPCs of a world decode over one lore, copied from the slot that
// computed it (catchUp) or loaded from the prefix store; attending it once
// for all of them reads its keys and values once instead of once per
// sequence — for decode tokens, and as much for the prompt chunks that
// prefill each NPC's own part after the lore.
//
// Sharing must be exact: the model reads a run from one member's cache for
// all of them, so only positions whose keys and values are bit for bit the
// same in every member's slot may be shared. Equal tokens are not enough:
// the same prefix computed by two slots in different steps went through
// differently shaped matrix products and may differ in the last bits. So
// every slot records, per position, the origin of its keys and values: a
// number naming the computation that wrote them (one per chunk of a step),
// which travels with every copy (CopyPrefix between slots, the prefix
// store's blocks and back). Equal origins at a position mean copies of
// the same bits; a computed position gets a fresh origin. Origin 0 means
// unknown and is never shared (model.State caches filled elsewhere, or
// positions the store copied from a block whose origin it cannot tell).
//
// Origins are kvcache.BlockIDs only so that kvcache.Plan, which groups
// sequences by the ids their tables share, can group slots by origins with
// blocks of one position: it only compares them.

// noOrigin is the origin of positions whose source is unknown.
const noOrigin kvcache.BlockID = 0

// cascade is the scheduler's state for shared attention.
type cascade struct {
	last    kvcache.BlockID // the latest origin handed out
	plan    kvcache.Plan
	spans   []kvcache.Span // per decode chunk: its slot's positions of known origin
	dec     []int          // per span: its chunk in the step
	covered []int          // per span: positions [0, covered) in runs taken
	runs    []model.Shared
	members []int // the runs' Chunks, one after the other
	saved   int64 // positions the step's runs spare reading: Σ (members-1)·length
}

// newOrigin returns a fresh origin for positions about to be computed.
// When the numbers run out (2³¹ chunks: weeks of serving), every origin
// held is forgotten and numbering starts again: sharing resumes with the
// next computations, and no old number can meet its reuse.
func (e *Engine) newOrigin() kvcache.BlockID {
	if e.casc.last == math.MaxInt32 {
		for _, s := range e.slots {
			clear(s.origin)
		}
		if e.store != nil {
			clear(e.store.origin)
		}
		e.casc.last = noOrigin
	}
	e.casc.last++
	return e.casc.last
}

// computed records that slot s computed positions [pos, pos+n) in one
// chunk.
func (e *Engine) computed(s *slot, pos, n int) {
	o := e.newOrigin()
	for i := range n {
		s.origin[pos+i] = o
	}
}

// sharedRuns returns the runs of positions that the step's chunks
// (e.chunks, of slots e.inStep) attend together: for each group of two or
// more slots whose first positions have the same origins, the longest such
// run, nested (all NPCs' lore, then the persona that some of them share),
// each at least SharedRun positions long — a shorter run is left to the
// members' own part, or joins the run nested in it.
func (e *Engine) sharedRuns() []model.Shared {
	cs := &e.casc
	cs.runs, cs.saved = cs.runs[:0], 0
	if e.opt.SharedRun < 0 {
		return nil
	}
	cs.spans, cs.dec = cs.spans[:0], cs.dec[:0]
	for i, ch := range e.chunks {
		if len(ch.Tokens) != 1 {
			// A prompt chunk's rows already attend over long rows at
			// full speed; split into a shared part and a short own one
			// per token, they measured slower (a 600-token lore, the
			// reference and embedded models, on CPU), though
			// model.StepShared takes them.
			continue
		}
		s := e.inStep[i]
		n := s.st.Pos()
		known := 0
		for known < n && s.origin[known] != noOrigin {
			known++
		}
		if known < e.opt.SharedRun {
			continue
		}
		cs.spans = append(cs.spans, kvcache.Span{Blocks: s.origin[:known], N: known})
		cs.dec = append(cs.dec, i)
	}
	if len(cs.spans) < 2 {
		return nil
	}
	cs.plan.Build(cs.spans, 1)
	total := 0
	for _, g := range cs.plan.Groups {
		total += len(g.Members)
	}
	if cap(cs.members) < total { // runs' Chunks alias it: it must not move below
		cs.members = make([]int, 0, total)
	}
	cs.members = cs.members[:0]
	cs.covered = growInts(cs.covered, len(cs.spans))
	clear(cs.covered)
	// Groups come parent first, and a group's members all lie in each of
	// its ancestors, so they have all covered the same positions.
	for _, g := range cs.plan.Groups {
		lo, hi := cs.covered[g.Members[0]], g.First+len(g.Blocks)
		if len(g.Members) < 2 || hi-lo < e.opt.SharedRun {
			continue
		}
		start := len(cs.members)
		for _, m := range g.Members {
			cs.covered[m] = hi
			cs.members = append(cs.members, cs.dec[m])
		}
		cs.runs = append(cs.runs, model.Shared{Chunks: cs.members[start:len(cs.members):len(cs.members)], Lo: lo, Hi: hi})
		cs.saved += int64(len(g.Members)-1) * int64(hi-lo)
	}
	if len(cs.runs) == 0 {
		return nil
	}
	return cs.runs
}

func growInts(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}
