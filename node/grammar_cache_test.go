package node

import (
	"errors"
	"testing"

	"github.com/anima-rt/anima/assets"
)

// TestGrammarCache: a schema seen before gets its compiled Grammar back,
// weighed again once its masks have grown; another schema gets its own;
// a malformed one is an error and is not kept.
func TestGrammarCache(t *testing.T) {
	d, err := LoadDecoder("", 1)
	if errors.Is(err, assets.ErrNoModel) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a := []byte(`{"type":"object","properties":{"say":{"type":"string","maxLength":20}},"required":["say"]}`)
	b := []byte(`{"type":"object","properties":{"mood":{"enum":["calm","angry"]}},"required":["mood"]}`)
	ga, err := d.grammar(a)
	if err != nil {
		t.Fatal(err)
	}
	d.grammars.Wait() // Set is applied asynchronously
	c, ok := d.grammars.Get(string(a))
	if !ok || c.g != ga || c.cost.Load() != int64(len(a))+ga.Cost() {
		t.Fatalf("after grammar(a): cached %v; want a's Grammar weighed %d", ok, int64(len(a))+ga.Cost())
	}
	before := c.cost.Load()

	// A generation computes masks: the next lookup weighs it again.
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
	if again, err := d.grammar(a); err != nil || again != ga {
		t.Fatalf("grammar(a) again = %p, %v; want the cached %p", again, err, ga)
	}
	d.grammars.Wait()
	if after := c.cost.Load(); after <= before || after != int64(len(a))+ga.Cost() {
		t.Errorf("after masks were computed the Grammar is weighed %d (was %d); want %d", after, before, int64(len(a))+ga.Cost())
	}
	if used := grammarCacheBytes - d.grammars.RemainingCost(); used != c.cost.Load() {
		t.Errorf("the cache weighs %d bytes; want %d, its one Grammar", used, c.cost.Load())
	}

	if gb, err := d.grammar(b); err != nil || gb == ga {
		t.Errorf("grammar(b) = %p, %v; want a Grammar of its own", gb, err)
	}
	if _, err := d.grammar([]byte(`{"type":`)); err == nil {
		t.Error("grammar of a malformed schema: want an error")
	}
}
