package corpus

import (
	"slices"
	"strings"
	"testing"
)

// A lookup boost makes the training split draw the situations that look a
// named place or person up several times as often, and every example it
// draws is as valid as without it; the held-out split's mix is fixed.
func TestLookupBoostDrawsMoreLookups(t *testing.T) {
	const n = 600
	share := func(k int) float64 {
		g := newGenerator(t, Train, 1)
		if err := g.SetLookupBoost(k); err != nil {
			t.Fatal(err)
		}
		lookups := 0
		for i := range n {
			e, err := g.Example(i)
			if err != nil {
				t.Fatalf("boost %d: Example(%d): %v", k, i, err)
			}
			if slices.Contains(lookupKinds, e.Kind) {
				lookups++
			}
		}
		return float64(lookups) / n
	}
	base, boosted := share(1), share(3)
	// As listed, 19 of 194 weight (some draws of other kinds do not fit
	// and are redrawn, so the corpus has a little more); tripled, 57 of 232.
	if base < 0.07 || base > 0.18 || boosted < 0.2 || boosted < 2*base {
		t.Errorf("lookup share %.3f without a boost, %.3f with 3; want about 0.1 and 0.25", base, boosted)
	}
	g := newGenerator(t, Train, 1)
	for _, k := range []int{0, MaxLookupBoost + 1} {
		if err := g.SetLookupBoost(k); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("SetLookupBoost(%d): %v, want an out-of-range error", k, err)
		}
	}
	h := newGenerator(t, Heldout, 1)
	if err := h.SetLookupBoost(2); err == nil || !strings.Contains(err.Error(), "heldout") {
		t.Errorf("SetLookupBoost on the held-out split: %v, want an error naming it", err)
	}
	if err := h.SetLookupBoost(1); err != nil {
		t.Errorf("SetLookupBoost(1) on the held-out split (no boost): %v", err)
	}
}
