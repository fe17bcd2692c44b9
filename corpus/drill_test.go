package corpus

import (
	"reflect"
	"strings"
	"testing"

	"github.com/anima-rt/anima/npc"
)

// With drills on, every 8th training example lists things to find and
// answers with exactly their ids, read off the prompt it shows; the other
// examples are the decisions they are without drills; the held-out split
// refuses drills.
func TestDrillsAnswerWithThePromptsIDs(t *testing.T) {
	for _, f := range []npc.PromptFormat{npc.IDLast, npc.Names} {
		plain, drilled := newGenerator(t, Train, 8), newGenerator(t, Train, 8)
		plain.SetFreshWorlds(true)
		drilled.SetFreshWorlds(true)
		plain.SetPromptFormat(f)
		drilled.SetPromptFormat(f)
		if err := drilled.SetDrills(true); err != nil {
			t.Fatal(err)
		}
		drills := 0
		for i := range 160 {
			d, err := drilled.Example(i)
			if err != nil {
				t.Fatalf("format %v: Example(%d): %v", f, i, err)
			}
			if i%drillEvery != drillEvery-1 {
				p, err := plain.Example(i)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(p.Segments, d.Segments) || p.Completion != d.Completion {
					t.Fatalf("format %v: example %d is not a drill but differs from the corpus without drills", f, i)
				}
				continue
			}
			drills++
			if d.Kind != DrillKind {
				t.Fatalf("format %v: example %d is %q, want a drill", f, i, d.Kind)
			}
			checkDrill(t, d)
		}
		if drills != 20 {
			t.Errorf("format %v: %d drills in 160 examples, want 20", f, drills)
		}
	}
	if err := newGenerator(t, Heldout, 1).SetDrills(true); err == nil || !strings.Contains(err.Error(), "heldout") {
		t.Errorf("SetDrills on the held-out split: %v, want an error naming it", err)
	}
}

// checkDrill checks that each id a drill answers is in the prompt and that
// the entry it ends names the thing asked for, by name or, for a place, by
// its kind.
func checkDrill(t *testing.T, e *Example) {
	t.Helper()
	prompt := e.Prompt()
	i := strings.Index(prompt, "[Find] ")
	if i < 0 {
		t.Fatalf("%s: no [Find] line in %q", e.ID, prompt)
	}
	line, _, _ := strings.Cut(prompt[i+len("[Find] "):], "\n")
	finds := strings.Split(line, "; ")
	answers := strings.Split(strings.TrimSuffix(e.Completion, npc.ImEnd), "; ")
	if len(finds) < 3 || len(finds) != len(answers) {
		t.Fatalf("%s: finds %q, answers %q: want 3 or more, as many answers", e.ID, finds, answers)
	}
	if strings.Contains(prompt, "[Heard]") {
		t.Errorf("%s: a drill hears speech: %q", e.ID, prompt)
	}
	for k, a := range answers {
		id := strings.Trim(a, `"`)
		if e.Available[id] == "" {
			t.Errorf("%s: answer %s is not a target of the prompt (%v)", e.ID, a, e.Available)
			continue
		}
		// The entry an id closes starts after the id before it.
		at := strings.Index(prompt, " "+a)
		if at < 0 {
			t.Errorf("%s: answer %s is not in the prompt", e.ID, a)
			continue
		}
		start := strings.LastIndex(prompt[:at], `"`) + 1
		entry := prompt[start : at+1+len(a)] // in the names format the id is the name
		q := strings.TrimPrefix(finds[k], "the ")
		if !strings.Contains(entry, q) {
			t.Errorf("%s: find %q answered %s, whose entry is %q", e.ID, finds[k], a, entry)
		}
	}
}
