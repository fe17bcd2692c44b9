package grammar

import (
	"strconv"
	"testing"
)

// TestCache: a schema seen before gets its Grammar back, weighed again
// once its masks have grown; another schema gets its own; a malformed one
// is an error and is not kept.
func TestCache(t *testing.T) {
	c, err := NewCache(smallVocab(t), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a := []byte(`{"type":"object","properties":{"say":{"type":"string","maxLength":20}},"required":["say"]}`)
	b := []byte(`{"type":"object","properties":{"mood":{"enum":["calm","angry"]}},"required":["mood"]}`)
	ga, err := c.Get(a)
	if err != nil {
		t.Fatal(err)
	}
	if used, want := c.Used(), int64(len(a))+ga.Cost(); used != want {
		t.Fatalf("after Get(a) the cache weighs %d bytes; want %d, a's Grammar", used, want)
	}
	before := c.Used()

	// A generation computes masks: the next Get weighs it again.
	m := ga.NewMatcher()
	for range 4 {
		_, ids := m.Allowed()
		if len(ids) == 0 {
			break
		}
		if err := m.Accept(ids[0]); err != nil {
			t.Fatal(err)
		}
	}
	if again, err := c.Get(a); err != nil || again != ga {
		t.Fatalf("Get(a) again = %p, %v; want the cached %p", again, err, ga)
	}
	if after := c.Used(); after <= before || after != int64(len(a))+ga.Cost() {
		t.Errorf("after masks were computed the cache weighs %d (was %d); want %d", after, before, int64(len(a))+ga.Cost())
	}
	if gb, err := c.Get(b); err != nil || gb == ga {
		t.Errorf("Get(b) = %p, %v; want a Grammar of its own", gb, err)
	}
	if _, err := c.Get([]byte(`{"type":`)); err == nil {
		t.Error("Get(malformed) = nil error")
	}
	if _, err := NewCache(nil, 1); err == nil {
		t.Error("NewCache without a vocabulary = nil error")
	}
}

// TestCacheStaysWithinItsBytes: many one-off schemas never push the cache
// past its budget.
func TestCacheStaysWithinItsBytes(t *testing.T) {
	const budget = 256 << 10
	c, err := NewCache(smallVocab(t), budget)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 300 {
		s := []byte(`{"type":"object","properties":{"say":{"type":"string","maxLength":` + strconv.Itoa(i+1) + `}},"required":["say"]}`)
		if _, err := c.Get(s); err != nil {
			t.Fatal(err)
		}
		if used := c.Used(); used > budget {
			t.Fatalf("after %d schemas the cache weighs %d bytes; want at most %d", i+1, used, budget)
		}
	}
}
