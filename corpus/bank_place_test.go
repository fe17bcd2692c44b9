package corpus

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/catalog"
)

// placeBanks pairs each language's base bank with its place-naming lines.
var placeBanks = []struct {
	lang        Lang
	base, place map[string][]string
}{{English, playerEN, placeLinesEN}, {Korean, playerKO, placeLinesKO}}

// A place-naming line belongs to a kind of the base bank that asks for no
// place, names one with {there} (its only new slot) and otherwise uses the
// kind's own slots and the base bank's particles; it repeats no base
// phrasing and no held-out fragment.
func TestPlaceLinesAreWellFormed(t *testing.T) {
	for _, b := range placeBanks {
		for kind, lines := range b.place {
			if _, ok := b.base[kind]; !ok {
				t.Errorf("%s: place kind %q is no kind of the base bank", b.lang, kind)
			}
			if slices.Contains(lookupKinds, kind) {
				t.Errorf("%s: %s asks for a place; its lines are no distractor", b.lang, kind)
			}
			keys := map[string]bool{"there": true, "who": true}
			for _, tpl := range b.base[kind] {
				for _, m := range extraSlotKey.FindAllStringSubmatch(tpl, -1) {
					keys[m[1]] = true
				}
			}
			var frags []string
			for _, tpl := range splitPool(b.base[kind], Heldout) {
				if f := longestLiteral(tpl); utf8.RuneCountInString(f) >= 8 {
					frags = append(frags, strings.ToLower(f))
				}
			}
			for _, line := range lines {
				if !strings.Contains(line, "{there") && !strings.Contains(line, "{who") {
					t.Errorf("%s %s %q names no place and no one", b.lang, kind, line)
				}
				for _, m := range extraSlotKey.FindAllStringSubmatch(line, -1) {
					if !keys[m[1]] {
						t.Errorf("%s %s %q: slot {%s} is not the kind's", b.lang, kind, line, m[1])
					}
				}
				for _, m := range extraSlotParticle.FindAllStringSubmatch(line, -1) {
					if _, ok := josa[m[1]]; !ok {
						t.Errorf("%s %s %q: particle %q has no forms in josa", b.lang, kind, line, m[1])
					}
				}
				if slices.Contains(b.base[kind], line) {
					t.Errorf("%s %s %q repeats a base phrasing", b.lang, kind, line)
				}
				for _, f := range frags {
					if strings.Contains(strings.ToLower(line), f) {
						t.Errorf("%s %s %q contains held-out %q", b.lang, kind, line, f)
					}
				}
			}
		}
	}
}

var recallPlace = regexp.MustCompile(`\[Recall\][^\n]*"l\d+"`)

// With place mentions on, about a third of the distractor kinds' lines
// name a place of the world and, under id-last-recall, carry that place's
// entry in a [Recall] line, while the labels still accept only the kind's
// own actions: what teaches a model that a place recalled is not a place
// asked for. Off, the corpus is the one without them; on the held-out
// split it is refused.
func TestPlaceMentionsNamePlacesTheDecisionIgnores(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	gen := func(on bool) *Generator {
		return freshRecallGen(t, cat, func(g *Generator) error {
			if err := g.SetExtraPhrasings(true); err != nil {
				return err
			}
			return g.SetPlaceMentions(on)
		})
	}
	on, off := gen(true), gen(false)
	lines, named, changed := 0, 0, 0
	for i := range 1500 {
		a, err := on.Example(i)
		if err != nil {
			t.Fatal(err)
		}
		b, err := off.Example(i)
		if err != nil {
			t.Fatal(err)
		}
		if a.Kind != b.Kind || a.World != b.World || a.Persona != b.Persona || a.Completion != b.Completion {
			t.Fatalf("example %d: %s in %s with place mentions, %s in %s without; want the same situation and decision", i, a.Kind, a.World, b.Kind, b.World)
		}
		la, _ := json.Marshal(a.Labels)
		lb, _ := json.Marshal(b.Labels)
		if string(la) != string(lb) {
			t.Errorf("example %d (%s): labels %s with place mentions, %s without", i, a.Kind, la, lb)
		}
		if _, ok := placeLinesEN[a.Kind]; ok {
			lines++
		}
		if a.Prompt() == b.Prompt() {
			continue
		}
		changed++
		if !slices.Equal(a.Segments[:len(a.Segments)-1], b.Segments[:len(b.Segments)-1]) {
			t.Errorf("example %d (%s): more than the last turn changed", i, a.Kind)
		}
		if recallPlace.MatchString(lastUserTurn(a.Prompt())) && !recallPlace.MatchString(lastUserTurn(b.Prompt())) {
			named++
			for act := range a.Labels.Accept {
				if act == "point_to" || act == "go_to" {
					t.Errorf("example %d (%s, heard %q) accepts %s", i, a.Kind, a.Heard(), act)
				}
			}
		}
	}
	if changed < lines/5 || changed > lines/2 {
		t.Errorf("%d examples changed, of %d whose kind has place lines; want about a third", changed, lines)
	}
	if named < changed*3/4 {
		t.Errorf("%d of the %d changed examples recall a place they did not before; want most", named, changed)
	}
	t.Logf("%d examples of kinds with place lines, %d changed, %d with a place recalled", lines, changed, named)

	h, err := New(cat, 1, Heldout, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.SetPlaceMentions(true); err == nil || !strings.Contains(err.Error(), "heldout") {
		t.Errorf("SetPlaceMentions on the held-out split: %v, want an error naming it", err)
	}
}

// lastUserTurn is the prompt's last user turn, what a model answers.
func lastUserTurn(prompt string) string {
	i := strings.LastIndex(prompt, "<|im_start|>user")
	if i < 0 {
		return ""
	}
	return prompt[i:]
}

// freshRecallGen is a training-split generator of fresh worlds in the
// id-last-recall layout, as the recipe's, with setup's options on top.
func freshRecallGen(t *testing.T, cat *catalog.Catalog, setup func(*Generator) error) *Generator {
	t.Helper()
	g, err := New(cat, 1, Train, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.SetFreshWorlds(true)
	g.SetPromptFormat(npc.IDLastRecall)
	if err := setup(g); err != nil {
		t.Fatal(err)
	}
	return g
}
