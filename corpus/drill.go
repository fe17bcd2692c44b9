package corpus

import (
	"fmt"
	"strings"

	"github.com/anima-rt/anima/npc"
)

// Lookup drills (SetDrills) are training-only examples whose whole answer
// is looked up in the prompt: the user turn lists a few things by name or
// kind ("[Find] the inn; Talia; honey cake") and the assistant writes their
// ids in order (`"l7"; "p1"; "i3"`). Seven CPU runs of the embedded model
// (train/README.md) never learnt to find the place a player asked for on
// worlds it had not seen: a decision holds one such lookup in a two-token
// id, so copying from the prompt earns almost no gradient next to recalling
// the generator's commonest answers. A drill holds three to six lookups and
// nothing else, over the same lore, persona and perception a decision of
// its group sees, so a shared prefix costs the trainer nothing more and
// the ids it must write are shuffled with every world.

// drillEvery is how often a drill replaces an example when drills are on:
// the last of every run of 8 (with -group 8, the last of each group).
const drillEvery = 8

// DrillKind is the Kind of a lookup drill example.
const DrillKind = "drill"

// SetDrills makes every 8th example of the training split a lookup drill
// (drill.go) instead of a decision. The held-out split refuses it: it
// measures decisions.
func (g *Generator) SetDrills(on bool) error {
	if on && g.split != Train {
		return fmt.Errorf("corpus: lookup drills are for the training split, not %s", g.split)
	}
	g.drills = on
	return nil
}

// isDrill reports whether example i is a drill.
func (g *Generator) isDrill(i int) bool { return g.drills && i%drillEvery == drillEvery-1 }

// drill turns the scene a scenario set up into a lookup drill: the same
// lore, persona, memory and what the NPC sees and carries, no speech or
// events, and a [Find] line of things to look up.
func (s *scene) drill() (*Example, error) {
	s.crowd()
	e := s.e
	e.Kind = DrillKind
	now := s.now
	now.Heard, now.Events = nil, nil
	in := npc.PromptInput{Lore: s.w.lore, Persona: s.p.np, Memory: s.memory, Now: now, Format: s.g.format}
	in, _ = in.Aliased() // in the names format the answers are aliases, as targets are

	type query struct{ text, id string }
	var qs []query
	// The world's places, in the order of the lore's (aliased) entries.
	kinds := map[*placeType]int{}
	for _, wp := range s.w.places {
		kinds[wp.typ]++
	}
	for i, p := range in.Lore.Places {
		qs = append(qs, query{p.Name, p.ID})
		if t := s.w.places[i].typ; kinds[t] == 1 {
			k := "the " + t.kindEN
			if !s.en() {
				k = t.kindKO
			}
			qs = append(qs, query{k, p.ID})
		}
	}
	for _, en := range in.Now.Seen {
		if en.Name != "" {
			qs = append(qs, query{en.Name, en.ID})
		}
	}
	for _, it := range in.Now.Self.Inventory {
		qs = append(qs, query{it.Name, it.ID})
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("corpus: %s: nothing to look up for a drill", e.ID)
	}
	n := min(len(qs), 3+s.r.IntN(4))
	var find, ans []string
	for range n {
		q := qs[s.r.IntN(len(qs))]
		find = append(find, q.text)
		ans = append(ans, `"`+q.id+`"`)
	}

	segs := npc.RenderPrompt(in)
	e.Segments = make([]Segment, len(segs))
	for i, sg := range segs {
		e.Segments[i] = Segment{sg.Name, sg.Text}
	}
	last := &e.Segments[len(e.Segments)-1]
	tail := npc.ImEnd + "\n" + npc.ImStart + "assistant\n"
	if last.Name != "stimulus" || !strings.HasSuffix(last.Text, tail) {
		return nil, fmt.Errorf("corpus: %s: the stimulus segment does not end the user turn as a drill expects", e.ID)
	}
	last.Text = strings.TrimSuffix(last.Text, tail) + "[Find] " + strings.Join(find, "; ") + "\n" + tail
	e.Completion = strings.Join(ans, "; ") + npc.ImEnd
	e.Available = map[string]string{}
	for id, k := range in.Targets() {
		e.Available[id] = string(k)
	}
	e.Labels = Labels{Accept: map[string][]string{}, Actions: []string{}, Targets: []string{}}
	e.input = in
	return e, nil
}
