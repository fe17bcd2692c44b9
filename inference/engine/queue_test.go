package engine

import (
	"slices"
	"testing"
)

func TestLRUEvictsLeastRecentlyUsed(t *testing.T) {
	c := newLRU(2)
	a, b, d := segKey{"a", false}, segKey{"b", true}, segKey{"d", false}
	c.put(a, []int32{1})
	c.put(b, []int32{2})
	if got, ok := c.get(a); !ok || !slices.Equal(got, []int32{1}) {
		t.Fatalf("get(a) = %v, %v; want [1], true", got, ok)
	}
	c.put(d, []int32{3}) // b is now the least recently used
	for _, tc := range []struct {
		k    segKey
		want bool
	}{{a, true}, {b, false}, {d, true}, {segKey{"a", true}, false}} {
		if _, ok := c.get(tc.k); ok != tc.want {
			t.Errorf("get(%v) found = %v; want %v", tc.k, ok, tc.want)
		}
	}
}
