package corpus

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
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

// varied returns a grouped training generator with augmentation and the
// extra phrasings as asked.
func varied(t *testing.T, augment, extra bool) *Generator {
	t.Helper()
	g := newGenerator(t, Train, 8)
	if err := g.SetAugment(augment); err != nil {
		t.Fatal(err)
	}
	if err := g.SetExtraPhrasings(extra); err != nil {
		t.Fatal(err)
	}
	return g
}

// Augmenting and the extra phrasings change the player's words and nothing
// else: the same index gives the same kind, persona and decision, and the
// prompts differ only in what players said.
func TestVariedPhrasingsChangeOnlyPlayerLines(t *testing.T) {
	for _, tc := range []struct {
		name           string
		augment, extra bool
	}{{"augment", true, false}, {"extra phrasings", false, true}, {"both", true, true}} {
		t.Run(tc.name, func(t *testing.T) { changesOnlyPlayerLines(t, varied(t, tc.augment, tc.extra)) })
	}
}

func changesOnlyPlayerLines(t *testing.T, aug *Generator) {
	plain := newGenerator(t, Train, 8)
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
	// Augmenting varies about 40% of lines, the extra banks more than half.
	if varied < n/5 {
		t.Errorf("%d of %d examples' lines varied; the variation is not reaching them", varied, n)
	}
}

// The extra training phrasings are drawn, and none of them gives away a
// held-out phrasing.
func TestExtraPhrasingsKeepTheHeldoutSplitUnseen(t *testing.T) {
	g := varied(t, true, true)
	train := make([]*Example, 3000)
	fromExtra := 0
	extra := map[string]bool{}
	for _, bank := range []map[string][]string{extraPlayerEN, extraPlayerKO} {
		for _, tpls := range bank {
			for _, tpl := range tpls {
				extra[longestLiteral(tpl)] = true
			}
		}
	}
	for i := range train {
		var err error
		if train[i], err = g.Example(i); err != nil {
			t.Fatal(err)
		}
		for _, h := range train[i].Heard() {
			for frag := range extra {
				if len(frag) > 12 && strings.Contains(h, frag) {
					fromExtra++
					break
				}
			}
		}
	}
	if fromExtra < len(train)/10 {
		t.Errorf("%d of %d examples heard an extra phrasing; want many", fromExtra, len(train))
	}
	heldoutDisjoint(t, train)
}

func TestVariedPhrasingsAreForTrainingOnly(t *testing.T) {
	g := newGenerator(t, Heldout, 1)
	if err := g.SetAugment(true); err == nil || !strings.Contains(err.Error(), "heldout") {
		t.Errorf("SetAugment on the held-out split: %v, want an error naming it", err)
	}
	if err := g.SetExtraPhrasings(true); err == nil || !strings.Contains(err.Error(), "heldout") {
		t.Errorf("SetExtraPhrasings on the held-out split: %v, want an error naming it", err)
	}
}

// No extra phrasing contains the fixed part of a held-out phrasing, in any
// kind: sampling might miss one that TestHeldoutDisjoint would catch.
func TestExtraPhrasingsShareNoHeldoutFragment(t *testing.T) {
	for _, banks := range [][2]map[string][]string{{playerEN, extraPlayerEN}, {playerKO, extraPlayerKO}} {
		var frags []string
		for _, tpls := range banks[0] {
			for _, tpl := range splitPool(tpls, Heldout) {
				if f := longestLiteral(tpl); utf8.RuneCountInString(f) >= 8 {
					frags = append(frags, f)
				}
			}
		}
		for kind, tpls := range banks[1] {
			for _, tpl := range tpls {
				for _, f := range frags {
					if strings.Contains(strings.ToLower(tpl), strings.ToLower(f)) {
						t.Errorf("extra %s phrasing %q contains held-out %q", kind, tpl, f)
					}
				}
			}
		}
	}
}
