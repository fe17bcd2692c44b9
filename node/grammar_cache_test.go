package node

import (
	"errors"
	"testing"

	"github.com/anima-rt/anima/assets"
)

// TestDecoderReusesGrammars: the decoder compiles a decision schema once
// (grammar.Cache, tested in its package, bounds the bytes) and shares its
// cache through Grammars.
func TestDecoderReusesGrammars(t *testing.T) {
	d, err := LoadDecoder("", 1)
	if errors.Is(err, assets.ErrNoModel) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a := []byte(`{"type":"object","properties":{"say":{"type":"string","maxLength":20}},"required":["say"]}`)
	ga, err := d.grammar(a)
	if err != nil {
		t.Fatal(err)
	}
	d.Grammars().Used() // waits for the cache's asynchronous writes
	if again, err := d.grammar(a); err != nil || again != ga {
		t.Errorf("grammar(a) again = %p, %v; want the Grammar compiled first, %p", again, err, ga)
	}
	if got, err := d.Grammars().Get(a); err != nil || got != ga {
		t.Errorf("Grammars().Get(a) = %p, %v; want the decoder's %p", got, err, ga)
	}
	if _, err := d.grammar([]byte(`{"type":`)); err == nil {
		t.Error("grammar(malformed) = nil error")
	}
}
