package npc_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/anima-rt/anima/inference/grammar"
	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/catalog"
)

// byteVocab is a vocabulary of the 256 single bytes plus <|im_end|>, the
// end of generation: every output is reachable one byte at a time.
func byteVocab(t *testing.T) (*grammar.Vocab, int32) {
	t.Helper()
	toks := make([][]byte, 257)
	for b := range 256 {
		toks[b] = []byte{byte(b)}
	}
	v, err := grammar.NewVocab(toks, []int32{256}, 256, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v, 256
}

// walk writes one random output that g allows: a uniformly chosen allowed
// token at each step, with the string closed early (Close) after limit
// steps, as max_tokens would.
func walk(t *testing.T, g *grammar.Grammar, rng *rand.Rand, stop int32, limit int) string {
	t.Helper()
	m := g.NewMatcher()
	var out []byte
	for step := 0; !m.Done(); step++ {
		if step == limit {
			out = append(out, m.Close()...)
			break
		}
		if f := m.Forced(); len(f) > 0 {
			for _, id := range f {
				if id != stop {
					out = append(out, byte(id))
				}
				if err := m.Accept(id); err != nil {
					t.Fatalf("forced %d after %q: %v", id, out, err)
				}
			}
			continue
		}
		bits, ids := m.Allowed()
		if ids == nil {
			for id := range int32(257) {
				if bits.Has(id) {
					ids = append(ids, id)
				}
			}
		}
		if len(ids) == 0 {
			t.Fatalf("no token allowed after %q", out)
		}
		id := ids[rng.IntN(len(ids))]
		if err := m.Accept(id); err != nil {
			t.Fatalf("allowed %d rejected after %q: %v", id, out, err)
		}
		if id != stop {
			out = append(out, byte(id))
		}
	}
	return string(out)
}

// Every decision the constrained decoder can write validates against the
// catalog and the situation it was built from: actions exist, targets and
// items are present and of an allowed kind.
func TestDecisionSchemaAdmitsOnlyValidDecisions(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	vocab, stop := byteVocab(t)
	situations := []struct {
		name    string
		avail   npc.Targets
		actions []string
	}{
		{"nothing around", npc.Targets{}, nil},
		{"a player and places", npc.Targets{"p1": catalog.Entity, "l1": catalog.Place, "l2": catalog.Place}, nil},
		{"items and objects", npc.Targets{"p2": catalog.Entity, "i1": catalog.Item, "o1": catalog.Object, "l3": catalog.Place}, nil},
		{"a persona's few actions", npc.Targets{"p1": catalog.Entity, "i4": catalog.Item}, []string{"idle", "greet", "give", "flee"}},
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for _, s := range situations {
		t.Run(s.name, func(t *testing.T) {
			schema, err := npc.DecisionSchema(cat, s.avail, s.actions)
			if err != nil {
				t.Fatal(err)
			}
			g, err := grammar.Compile(schema, vocab)
			if err != nil {
				t.Fatalf("compile %s: %v", schema, err)
			}
			seen := map[string]bool{}
			for range 300 {
				out := walk(t, g, rng, stop, 80)
				d, err := npc.ParseDecision([]byte(out))
				if err != nil {
					t.Fatalf("%q: %v", out, err)
				}
				if err := d.Validate(cat, s.avail); err != nil {
					t.Fatalf("%q: %v", out, err)
				}
				if s.actions != nil && !slices.Contains(s.actions, d.Action.Name) {
					t.Fatalf("%q: action %q is not among %v", out, d.Action.Name, s.actions)
				}
				seen[d.Action.Name] = true
			}
			if len(seen) < 3 {
				t.Errorf("300 random walks reached only actions %v", seen)
			}
		})
	}
}

// An action that needs a target is offered only when one is present, and
// then with exactly the present ids of kinds it allows.
func TestDecisionSchemaOffersOnlyPresentTargets(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	empty, err := npc.DecisionSchema(cat, npc.Targets{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(empty), `"target"`) {
		t.Errorf("schema with nothing present offers a target: %s", empty)
	}
	withPlayer, err := npc.DecisionSchema(cat, npc.Targets{"p9": catalog.Entity}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(withPlayer), `"target":{"enum":["p9"]}`) {
		t.Errorf("schema with p9 present does not offer it: %s", withPlayer)
	}
	if _, err := npc.DecisionSchema(cat, npc.Targets{}, []string{"attack"}); err == nil {
		t.Error("a persona whose only action needs an absent target got a schema; want an error")
	}
}
