// Package sample picks the next token from a model's logits: greedy,
// temperature, top-k, top-p (nucleus, Holtzman et al. 2019), min-p and a
// repetition penalty (CTRL, Keskar et al. 2019), seeded and reproducible.
//
// The filters run in a fixed order, as vLLM and Hugging Face apply them:
// repetition penalty → temperature → top-k → top-p → min-p → draw. A
// temperature of 0 means greedy: the penalised argmax, with no draw.
package sample

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/anima-rt/anima/inference/kernels"
)

// Params are the sampling settings. The zero value is greedy decoding.
type Params struct {
	Temperature float32 // 0: greedy; else logits are divided by it
	TopK        int     // keep the K most likely tokens; 0: off
	TopP        float32 // keep the smallest set whose probability reaches P; 0 or 1: off
	MinP        float32 // drop tokens below MinP × the top probability; 0: off

	// RepeatPenalty divides positive logits and multiplies negative ones of
	// every token seen in the last RepeatWindow tokens (1 or 0: off).
	RepeatPenalty float32
	RepeatWindow  int // tokens looked back for the penalty; 0: all given
}

// Greedy reports whether p picks the argmax without drawing.
func (p Params) Greedy() bool { return p.Temperature == 0 }

// Validate reports the first setting out of range.
func (p Params) Validate() error {
	bad := func(name string, v any, want string) error {
		return fmt.Errorf("sample: %s = %v; want %s", name, v, want)
	}
	switch {
	case !(p.Temperature >= 0) || math.IsInf(float64(p.Temperature), 0):
		return bad("temperature", p.Temperature, "a finite value >= 0")
	case p.TopK < 0:
		return bad("top-k", p.TopK, ">= 0")
	case !(p.TopP >= 0 && p.TopP <= 1):
		return bad("top-p", p.TopP, "0..1")
	case !(p.MinP >= 0 && p.MinP <= 1):
		return bad("min-p", p.MinP, "0..1")
	case !(p.RepeatPenalty >= 0) || math.IsInf(float64(p.RepeatPenalty), 0):
		return bad("repeat penalty", p.RepeatPenalty, "a finite value >= 0 (1: off)")
	case p.RepeatWindow < 0:
		return bad("repeat window", p.RepeatWindow, ">= 0")
	}
	return nil
}

// ErrNoLogits reports an empty logits vector.
var ErrNoLogits = errors.New("sample: no logits")

// candidate is one token still in the running, with its (scaled) logit and,
// after softmax, its probability.
type candidate struct {
	id    int32
	logit float32
	p     float32
}

// Sampler draws tokens with fixed Params from an injected random source. It
// keeps scratch space sized to the vocabulary, so after the first call it
// does not allocate. A Sampler is not safe for concurrent use.
type Sampler struct {
	p     Params
	rng   *rand.Rand // nil only when p is greedy
	cand  []candidate
	seen  map[int32]struct{} // scratch for the penalty window, cleared per call
	probs []float32          // scratch for softmax
}

// New returns a Sampler for p drawing from rng, which may be nil only for
// greedy decoding.
func New(p Params, rng *rand.Rand) (*Sampler, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if rng == nil && !p.Greedy() {
		return nil, errors.New("sample: a random source is required when temperature > 0")
	}
	return &Sampler{p: p, rng: rng, seen: make(map[int32]struct{})}, nil
}

// Params returns the settings s was made with.
func (s *Sampler) Params() Params { return s.p }

// Sample returns the next token for logits (one per vocabulary id; not
// modified), given the tokens so far in recent (oldest first) for the
// repetition penalty.
func (s *Sampler) Sample(logits []float32, recent []int32) (int32, error) {
	if len(logits) == 0 {
		return 0, ErrNoLogits
	}
	if s.p.Greedy() && !s.penalizes(recent) {
		// Greedy with no penalty to apply — every decision an NPC mind
		// decodes under its grammar's mask — is the logits' argmax: no
		// candidate list to build (the scheduler samples each sequence of
		// a step in turn, so this is on every step's critical path).
		if best := kernels.ArgMax(logits); best >= 0 {
			return int32(best), nil
		}
		return 0, nil // all NaN: what the scan below returns too
	}
	if cap(s.cand) < len(logits) {
		s.cand = make([]candidate, len(logits))
	}
	c := s.cand[:len(logits)]
	for i, l := range logits {
		c[i] = candidate{id: int32(i), logit: l}
	}
	s.penalize(c, recent)

	if s.p.Greedy() {
		best := 0
		for i := 1; i < len(c); i++ {
			if c[i].logit > c[best].logit { // first of equals wins: stable across runs
				best = i
			}
		}
		return c[best].id, nil
	}

	if s.p.TopK == 0 && (s.p.TopP <= 0 || s.p.TopP >= 1) && s.p.MinP <= 0 {
		// Temperature alone keeps every candidate: draw over them in id
		// order, as deterministic as keep's descending order, without
		// sorting the vocabulary (~1 ms for 6k tokens, four times a
		// decode step of the embedded model). OpenAI-style clients often
		// send a temperature and nothing else.
		inv := 1 / s.p.Temperature
		for i := range c {
			c[i].logit *= inv
		}
		s.softmax(c)
		return s.draw(c), nil
	}
	return s.draw(s.keep(c)), nil
}

// keep applies temperature, top-k, top-p and min-p to c (penalised logits
// in id order) and returns the candidates left, sorted by descending
// logit (ties: lower id), with their probabilities.
func (s *Sampler) keep(c []candidate) []candidate {
	inv := 1 / s.p.Temperature
	for i := range c {
		c[i].logit *= inv
	}
	if k := s.p.TopK; k > 0 && k < len(c) {
		// Partition the k best to the front: only they stay in the running.
		selectTop(c, k)
		c = c[:k]
	}
	s.softmax(c)
	// Top-p and min-p each keep a prefix of the candidates in descending
	// order (logit, then id), so both together keep the shorter prefix.
	// Sorting the whole vocabulary for it would cost more than the model's
	// step (a 6k-token sort is ~1 ms): min-p's prefix is gathered in one
	// pass, and top-p's is found by sorting only a growing head.
	if mp := s.p.MinP; mp > 0 {
		// Min-p keeps the candidates at or above its floor, which are the
		// best ones: moved to the front in one pass, so that top-p and the
		// final order select and sort among them, not the vocabulary.
		floor := mp * s.maxP(c)
		n := 0
		for i := range c {
			if c[i].p >= floor {
				c[n], c[i] = c[i], c[n]
				n++
			}
		}
		c = c[:n]
	}
	n := len(c)
	if tp := s.p.TopP; tp > 0 && tp < 1 {
		// c[:done] is sorted and holds the done best; each round selects
		// and sorts the next ones, until their probability reaches tp.
		sum := float32(0)
		for done, head := 0, min(n, 64); ; head = min(n, head*4) {
			if head < len(c) {
				selectTop(c[done:], head-done)
			}
			sortDesc(c[done:head])
			for i := done; i < head; i++ {
				sum += c[i].p
				if sum >= tp {
					return c[:i+1]
				}
			}
			if done = head; head == n {
				return c[:n]
			}
		}
	}
	// The draw walks the kept candidates in descending order, so that it
	// does not depend on the order selection left them in.
	sortDesc(c)
	return c
}

// draw picks one of c (sorted, with probabilities) by its probability.
func (s *Sampler) draw(c []candidate) int32 {
	total := float32(0)
	for i := range c {
		total += c[i].p
	}
	r := s.rng.Float32() * total
	for i := range c {
		r -= c[i].p
		if r < 0 {
			return c[i].id
		}
	}
	return c[len(c)-1].id // rounding left r just above zero
}

// sortDesc sorts c by descending logit, ties by ascending id.
func sortDesc(c []candidate) {
	slices.SortFunc(c, func(a, b candidate) int {
		if a.logit != b.logit {
			return cmp.Compare(b.logit, a.logit)
		}
		return cmp.Compare(a.id, b.id)
	})
}

// nucleus returns the length of the shortest prefix of c (sorted, with
// probabilities) whose probability reaches tp, and whether c held one; if
// not, len(c).
func nucleus(c []candidate, tp float32) (int, bool) {
	sum := float32(0)
	for i := range c {
		sum += c[i].p
		if sum >= tp {
			return i + 1, true
		}
	}
	return len(c), false
}

// maxP is the highest probability in c, just through softmax: read from
// softmax's plain row with the vector argmax (a scalar max over c was
// two thirds of a draw at the minds' settings).
func (s *Sampler) maxP(c []candidate) float32 {
	e := s.probs[:len(c)]
	if i := kernels.ArgMax(e); i >= 0 {
		return e[i]
	}
	return c[0].p // all NaN: any is as good
}

// penalizes reports whether the repetition penalty changes anything for
// recent.
func (s *Sampler) penalizes(recent []int32) bool {
	pen := s.p.RepeatPenalty
	return pen != 0 && pen != 1 && len(recent) > 0
}

// penalize applies the repetition penalty to the candidates of tokens in
// the window; ids outside the vocabulary are ignored.
func (s *Sampler) penalize(c []candidate, recent []int32) {
	pen := s.p.RepeatPenalty
	if !s.penalizes(recent) {
		return
	}
	if w := s.p.RepeatWindow; w > 0 && len(recent) > w {
		recent = recent[len(recent)-w:]
	}
	clear(s.seen)
	for _, id := range recent {
		if id < 0 || int(id) >= len(c) {
			continue
		}
		if _, dup := s.seen[id]; dup {
			continue // penalised once however often it appears
		}
		s.seen[id] = struct{}{}
		if c[id].logit > 0 {
			c[id].logit /= pen
		} else {
			c[id].logit *= pen
		}
	}
}

// softmax fills p for c, in any order.
func (s *Sampler) softmax(c []candidate) {
	// Through a plain float32 row and the vector kernels: one exponential
	// per vocabulary entry in float64 took ~80 µs for 6k tokens, most of a
	// draw at the NPC minds' temperature, and the scheduler draws each
	// sequence of a step in turn.
	if cap(s.probs) < len(c) {
		s.probs = make([]float32, len(c))
	}
	e := s.probs[:len(c)]
	for i := range c {
		e[i] = c[i].logit
	}
	kernels.Softmax(e)
	for i := range c {
		c[i].p = e[i]
	}
}

// selectTop moves the k candidates with the highest logits (ties: lower id)
// to c[:k], in no particular order (quickselect, expected linear time).
func selectTop(c []candidate, k int) {
	better := func(a, b candidate) bool {
		return a.logit > b.logit || (a.logit == b.logit && a.id < b.id)
	}
	lo, hi := 0, len(c)-1
	for lo < hi {
		// Median of three keeps sorted or constant inputs linear.
		mid := lo + (hi-lo)/2
		if better(c[mid], c[lo]) {
			c[mid], c[lo] = c[lo], c[mid]
		}
		if better(c[hi], c[lo]) {
			c[hi], c[lo] = c[lo], c[hi]
		}
		if better(c[hi], c[mid]) {
			c[hi], c[mid] = c[mid], c[hi]
		}
		pivot := c[mid]
		i, j := lo, hi
		for i <= j {
			for better(c[i], pivot) {
				i++
			}
			for better(pivot, c[j]) {
				j--
			}
			if i <= j {
				c[i], c[j] = c[j], c[i]
				i++
				j--
			}
		}
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}
