package engine

import (
	"fmt"
	"slices"
	"testing"
)

func TestSegCache(t *testing.T) {
	c, err := newSegCache(1 << 10)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	ids := []int32{1, 2, 3}
	c.put("Hello", false, ids)
	c.put("huge", false, make([]int32, 1<<10)) // weighs more than the whole cache
	c.c.Wait()
	for _, tc := range []struct {
		text    string
		special bool
		want    bool
	}{{"Hello", false, true}, {"Hello", true, false}, {"hello", false, false}, {"huge", false, false}} {
		got, ok := c.get(tc.text, tc.special)
		if ok != tc.want || ok && !slices.Equal(got, ids) {
			t.Errorf("get(%q, %v) = %v, %v; want found %v", tc.text, tc.special, got, ok, tc.want)
		}
	}
	if u, want := c.used(), cost(ids); u != want {
		t.Errorf("used() = %d; want %d, the one entry kept", u, want)
	}
}

// TestSegCacheKeepsWhatComesBack: requests that each repeat a lore
// segment and bring forty one-off segments (a conversation's turns), more
// than the cache's whole budget between two uses of the lore. The cache
// never weighs more than its budget; and the lore is found cached by some
// requests, where an LRU of the same size would have evicted it before
// every use. How many varies from run to run (ristretto counts lookups
// approximately, dropping some under contention): 22–99 of 100 on a quiet
// machine, 12–23 under the race detector.
func TestSegCacheKeepsWhatComesBack(t *testing.T) {
	const budget = 8 << 10
	c, err := newSegCache(budget)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	lore := make([]int32, 300)  // 1,296 bytes
	oneOff := make([]int32, 50) // 296 bytes: 40 of them weigh 11,840
	const requests, turns = 100, 40
	hits := 0
	for r := range requests {
		if _, ok := c.get("lore", false); ok {
			hits++
		} else {
			c.put("lore", false, lore)
		}
		for i := range turns {
			key := fmt.Sprintf("turn %d of %d", i, r)
			if _, ok := c.get(key, false); ok {
				t.Fatalf("get(%q) found a segment never put", key)
			}
			c.put(key, false, oneOff)
		}
		c.c.Wait()
		if u := c.used(); u > budget || u <= 0 {
			t.Fatalf("after request %d the cache weighs %d bytes; want 1..%d", r, u, budget)
		}
	}
	if hits == 0 {
		t.Errorf("the lore was never found cached by %d requests; want some", requests)
	}
	t.Logf("the lore was found cached by %d of %d requests", hits, requests)
}
