package village

import (
	"math"
	"slices"
	"time"
)

// Dist summarises a sample: its size, minimum, median, 99th percentile,
// maximum and mean (nearest-rank percentiles). The demo's -stats reports its figures
// this way.
type Dist struct {
	N    int     `json:"n"`
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Summarize returns the Dist of xs (xs is left unsorted).
func Summarize(xs []float64) Dist {
	if len(xs) == 0 {
		return Dist{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return Dist{N: len(s), Min: s[0], P50: rank(0.5), P99: rank(0.99), Max: s[len(s)-1], Mean: sum / float64(len(s))}
}

// Millis converts durations to milliseconds, for Summarize.
func Millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d.Nanoseconds()) / 1e6
	}
	return out
}

// Thinking counts the NPCs whose minds the game sees at work now: a line
// of the player's awaits its answer, or words are streaming into a bubble
// (an answer, or a line of its own to a neighbour).
func (w *World) Thinking() int {
	k := 0
	for _, n := range w.NPCs {
		if n.answering || n.speaking {
			k++
		}
	}
	return k
}
