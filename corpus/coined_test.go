package corpus

import (
	"regexp"
	"strings"
	"testing"

	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/catalog"
)

// Every place type has a coined form in both languages, with the one slot.
func TestEveryPlaceTypeHasACoinedForm(t *testing.T) {
	for _, pt := range placeTypes {
		tpl, ok := coinedTemplates[pt.key]
		if !ok {
			t.Errorf("place type %s has no coined form", pt.key)
			continue
		}
		for _, s := range tpl {
			if strings.Count(s, "{A}") != 1 {
				t.Errorf("%s: coined form %q; want exactly one {A}", pt.key, s)
			}
		}
	}
	if len(coinedTemplates) != len(placeTypes) {
		t.Errorf("%d coined forms for %d place types", len(coinedTemplates), len(placeTypes))
	}
}

var placesLine = regexp.MustCompile(`\[Places\] ([^\n]*)`)

// placeNamesOf returns the names of the [Places] line of a prompt.
func placeNamesOf(prompt string) []string {
	m := placesLine.FindStringSubmatch(prompt)
	if m == nil {
		return nil
	}
	var names []string
	for _, entry := range strings.Split(m[1], "; ") {
		if i := strings.Index(entry, " ("); i > 0 {
			names = append(names, entry[:i])
		}
	}
	return names
}

// With coined names, fresh training worlds have many times as many
// distinct place names, while every example keeps its situation, world,
// persona and decision (its action and target); the held-out split refuses
// them.
func TestCoinedNamesMultiplyNamesAndKeepDecisions(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	gen := func(on bool) *Generator {
		return freshRecallGen(t, cat, func(g *Generator) error {
			if err := g.SetGroup(8); err != nil {
				return err
			}
			return g.SetCoinedNames(on)
		})
	}
	on, off := gen(true), gen(false)
	namesOn, namesOff := map[string]bool{}, map[string]bool{}
	for i := 0; i < 1600; i += 4 {
		a, err := on.Example(i)
		if err != nil {
			t.Fatal(err)
		}
		b, err := off.Example(i)
		if err != nil {
			t.Fatal(err)
		}
		if a.Kind != b.Kind || a.World != b.World || a.Persona != b.Persona {
			t.Fatalf("example %d: %s/%s/%s with coined names, %s/%s/%s without", i, a.Kind, a.World, a.Persona, b.Kind, b.World, b.Persona)
		}
		da, errA := npc.ParseDecision([]byte(strings.TrimSuffix(a.Completion, npc.ImEnd)))
		db, errB := npc.ParseDecision([]byte(strings.TrimSuffix(b.Completion, npc.ImEnd)))
		if errA == nil && errB == nil && da.Action != db.Action {
			t.Errorf("example %d (%s): action %+v with coined names, %+v without", i, a.Kind, da.Action, db.Action)
		}
		for _, n := range placeNamesOf(a.Prompt()) {
			namesOn[n] = true
		}
		for _, n := range placeNamesOf(b.Prompt()) {
			namesOff[n] = true
		}
	}
	if len(namesOn) < 3*len(namesOff) {
		t.Errorf("%d distinct place names with coined names, %d without; want at least three times as many", len(namesOn), len(namesOff))
	}
	t.Logf("distinct place names over 200 worlds: %d coined, %d not", len(namesOn), len(namesOff))

	h, err := New(cat, 1, Heldout, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.SetCoinedNames(true); err == nil || !strings.Contains(err.Error(), "heldout") {
		t.Errorf("SetCoinedNames on the held-out split: %v, want an error naming it", err)
	}
}
