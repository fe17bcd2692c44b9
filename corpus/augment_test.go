package corpus

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var slotRE = regexp.MustCompile(`\{[^}]*\}`)

// Every variation of every player line keeps all of its slots and its
// final word: what a line asks about, and how it ends, are never lost.
func TestAugmentKeepsSlotsAndEnding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for lang, bank := range map[Lang]map[string][]string{English: playerEN, Korean: playerKO} {
		for kind, tpls := range bank {
			for _, tpl := range tpls {
				for range 20 {
					got := augment(r, lang, kind, tpl)
					if noAugment[kind] && got != tpl {
						t.Fatalf("%s %s: %q varied to %q; its exact words matter", lang, kind, tpl, got)
					}
					if want, have := slotRE.FindAllString(tpl, -1), slotRE.FindAllString(got, -1); !slices.Equal(want, have) {
						t.Fatalf("%s %s: %q became %q: slots %v, want %v", lang, kind, tpl, got, have, want)
					}
					if w := strings.Fields(tpl); !strings.HasSuffix(got, w[len(w)-1]) {
						t.Fatalf("%s %s: %q became %q, which lost its last word", lang, kind, tpl, got)
					}
				}
			}
		}
	}
}

func TestDropWordKeepsNegationsAndShortLines(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		if got := dropWord(r, "Where is {place}?"); got != "Where is {place}?" {
			t.Fatalf("a three-word line lost a word: %q", got)
		}
		if got := dropWord(r, "Please don't hurt {npc} today."); !strings.Contains(got, "don't") {
			t.Fatalf("dropout removed a negation: %q", got)
		}
		got := dropWord(r, "Could you spare a {item}?")
		if len(strings.Fields(got)) != 4 {
			t.Fatalf("dropWord(%q) = %q, want one word fewer", "Could you spare a {item}?", got)
		}
	}
}

// Augmenting changes the player's words and nothing else: the same index
// gives the same kind, persona and decision, and the prompts differ only
// in what players said.
func TestAugmentChangesOnlyPlayerLines(t *testing.T) {
	plain, aug := newGenerator(t, Train, 8), newGenerator(t, Train, 8)
	if err := aug.SetAugment(true); err != nil {
		t.Fatal(err)
	}
	varied := 0
	const n = 400
	for i := range n {
		a, err := plain.Example(i)
		if err != nil {
			t.Fatal(err)
		}
		b, err := aug.Example(i)
		if err != nil {
			t.Fatal(err)
		}
		if a.Kind != b.Kind || a.Persona != b.Persona || a.Completion != b.Completion {
			t.Fatalf("example %d: augmentation changed the situation: %s/%s/%q vs %s/%s/%q", i, a.Kind, a.Persona, a.Completion, b.Kind, b.Persona, b.Completion)
		}
		ha, hb := a.input.Now.Heard, b.input.Now.Heard
		if len(ha) != len(hb) {
			t.Fatalf("example %d: %d lines heard, augmented %d", i, len(ha), len(hb))
		}
		for j := range ha {
			if ha[j].Text != hb[j].Text {
				varied++
			}
		}
	}
	// About 44% of augmentable lines vary (1 - 0.75·0.75, less the
	// short lines dropout leaves whole).
	if varied < n/5 {
		t.Errorf("%d of %d examples' lines varied; augmentation is not reaching them", varied, n)
	}
}

func TestAugmentIsForTrainingOnly(t *testing.T) {
	g := newGenerator(t, Heldout, 1)
	err := g.SetAugment(true)
	if err == nil || !strings.Contains(err.Error(), "heldout") {
		t.Fatalf("SetAugment on the held-out split: %v, want an error naming it", err)
	}
}
